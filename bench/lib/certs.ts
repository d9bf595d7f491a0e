// Certificate bookkeeping of the PnC suites against the bench PKI (the one the mock CSMS uses):
// the hash data of the roots the charger should hold, what GetInstalledCertificateIds reports, and
// putting removed roots back. The charger's certificate store is part of its configuration, so a
// suite that deletes a root re-installs it before it ends.
//
//   const mo = rootHashData(ctx, 'mo-root');
//   const listed = await installedIds(ctx, ['MORootCertificate']);     // CertificateHashDataChain[]
//   await ensureRootInstalled(ctx, 'mo-root');                          // InstallCertificate if missing
import { createHash } from 'node:crypto';
import { ProtocolViolation } from '../../drivers/capabilities.ts';
import type { CertificateHashDataChain, GetCertificateIdUse } from '../../src/csms/index.ts';
import { certificateHashData, encodeName, generateP256KeyPair, hashDataMatches, issueCertificate, randomSerial, type BenchPki, type CertificateHashData, type PkiCert } from '../../src/pki/index.ts';
import type { SerialOracle } from './checks.ts';
import { pncCall, scriptable, type PncContext } from './pnc.ts';

export type RootRole = 'v2g-root' | 'mo-root';

export const ROOT_TYPE: Readonly<Record<RootRole, 'V2GRootCertificate' | 'MORootCertificate'>> = { 'v2g-root': 'V2GRootCertificate', 'mo-root': 'MORootCertificate' };

export function benchPki(ctx: PncContext): BenchPki {
  return scriptable(ctx).server.pki;
}

/** Hash data of a certificate of the bench PKI as the charger must report it (a root is its own issuer). */
export function hashDataOf(cert: PkiCert, issuer: PkiCert = cert): CertificateHashData {
  return certificateHashData(cert, issuer, 'SHA256');
}

export function rootHashData(ctx: PncContext, role: RootRole): CertificateHashData {
  return hashDataOf(benchPki(ctx).cert(role));
}

/**
 * GetInstalledCertificateIds for `types` (omitted: all); NotFound gives []. Anything but
 * Accepted/NotFound is a violation of `rule`.
 */
export async function installedIds(ctx: PncContext, types: readonly GetCertificateIdUse[] | undefined, rule = 'pnc.M03.list'): Promise<{ status: string; chains: CertificateHashDataChain[] }> {
  const conf = await pncCall(ctx, 'GetInstalledCertificateIds', types === undefined ? {} : { certificateType: [...types] }, rule);
  if (conf.status !== 'Accepted' && conf.status !== 'NotFound') throw new ProtocolViolation(rule, `GetInstalledCertificateIds answered status ${String(conf.status)}`);
  return { status: conf.status, chains: conf.status === 'Accepted' ? (conf.certificateHashDataChain ?? []) : [] };
}

/** Whether `chains` lists `h` (hex case and serial leading zeros ignored). */
export function lists(chains: readonly CertificateHashDataChain[], h: CertificateHashData, type?: string): boolean {
  return chains.some((c) => (type === undefined || c.certificateType === type) && hashDataMatches(c.certificateHashData, h));
}

/** Installs the bench root of `role` when the charger does not list it; returns true when it had to. */
export async function ensureRootInstalled(ctx: PncContext, role: RootRole): Promise<boolean> {
  const type = ROOT_TYPE[role];
  const h = rootHashData(ctx, role);
  const { chains } = await installedIds(ctx, [type]);
  if (lists(chains, h, type)) return false;
  const r = await pncCall(ctx, 'InstallCertificate', { certificateType: type, certificate: benchPki(ctx).cert(role).pem }, 'pnc.M05.install');
  if (r.status !== 'Accepted') throw new ProtocolViolation('pnc.M05.install', `re-installing the bench ${type}: InstallCertificate answered ${r.status}`);
  ctx.log(`re-installed the bench ${type}`);
  return true;
}

/** Deletes a certificate by hash data; resolves with the inner status. */
export async function deleteCertificate(ctx: PncContext, h: CertificateHashData, rule = 'pnc.M04.delete'): Promise<string> {
  const r = await pncCall(ctx, 'DeleteCertificate', { certificateHashData: h }, rule);
  return r.status;
}

/** Serial numbers against the bench PKI: its CAs (found by name and key hash) and what each issued. */
export function pkiSerialOracle(pki: BenchPki): SerialOracle {
  const alg = (a: string): string | undefined => ({ SHA256: 'sha256', SHA384: 'sha384', SHA512: 'sha512' })[a];
  return {
    isIssued: (id, serialHex) => {
      const h = alg(id.hashAlgorithm);
      if (!h) return undefined;
      const name = id.issuerNameHash.toLowerCase();
      const key = id.issuerKeyHash.toLowerCase();
      const ca = pki.authorities().find((a) => createHash(h).update(a.cert.subjectDer).digest('hex') === name && createHash(h).update(a.cert.publicKeyBits).digest('hex') === key);
      if (!ca) return undefined;
      return pki.isIssued(ca.cert, serialHex);
    },
  };
}

/**
 * A fresh self-signed V2G root (random key and serial, valid from yesterday for a year), e.g. to fill
 * the charger's certificate store; `n` only makes the subject readable in the charger's log.
 */
export function freshV2gRoot(n: number): PkiCert {
  const key = generateP256KeyPair();
  const dayMs = 86_400_000;
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - dayMs);
  return issueCertificate({
    subject: encodeName({ CN: `PNCBENCH Fill Root ${n}`, O: 'PNCBENCH', DC: 'V2G' }),
    subjectKey: key,
    issuer: { self: key },
    serialNumber: randomSerial(),
    notBefore,
    notAfter: new Date(notBefore.getTime() + 365 * dayMs),
    ca: true,
    keyUsage: ['keyCertSign', 'crlSign'],
    fastSignature: true,
  });
}
