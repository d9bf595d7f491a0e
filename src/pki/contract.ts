// Contract certificates on demand, for the mock CSMS's CertificateInstallationRes /
// CertificateUpdateRes: a fresh P-256 key and a certificate with CN = eMAID under MO Sub-CA 2,
// with the chain the EXI message carries (ContractSignatureCertChain = leaf + [MO Sub-CA 2, MO Sub-CA 1])
// and the CPS leaf that signs the response. The issued serial is recorded in the BenchPki, so the
// OCSP responder answers "good" for it.
//
//   const c = issueContractCertificate(pki, { emaid: 'DEABC123456789Y' });
//   c.cert.commonName          // 'DEABC123456789Y'
//   c.subCertificates          // [mo-sub2, mo-sub1]
//   const signer = cpsSigner(pki); signP256Raw(signer.key, signedInfoExi)
import { validateEmaid, generateEmaid } from './emaid.ts';
import { PkiInputError } from './errors.ts';
import type { BenchPki } from './hierarchy.ts';
import { addDays, deriveSerial, randomSerial, type CertificateAuthority } from './issue.ts';
import { deriveP256KeyPair, generateP256KeyPair, type P256KeyPair } from './keys.ts';
import { ROLE_PROFILES } from './profile.ts';
import { encodeName, type PkiCert } from './x509.ts';

export interface ContractIssueOptions {
  /** eMAID (with or without separators); default a fresh random one with check digit. CN = normalised form. */
  emaid?: string;
  /** The contract key; default a fresh random P-256 key. */
  key?: P256KeyPair;
  /** Default: now, to the second, minus 60 s (tolerates clock skew). */
  notBefore?: Date;
  /** Default 730 (clamped to the issuer's notAfter). */
  validityDays?: number;
  /** Issuing CA: default MO Sub-CA 2 (`pki.authority('mo-sub2')`). */
  issuer?: CertificateAuthority;
  /** The chain above the contract (leaf excluded, root excluded); default [mo-sub2, mo-sub1]. Must match `issuer`. */
  subCertificates?: readonly PkiCert[];
  /** The trust anchor at the top; default the MO root. */
  root?: PkiCert;
  /** AIA OCSP URL; default the PKI's; `null` leaves AIA out. */
  ocspUrl?: string | null;
  /** Default random. */
  serialNumber?: Uint8Array;
}

export interface ContractBundle {
  /** Normalised eMAID (= certificate CN; the CertificateInstallationRes eMAID element). */
  emaid: string;
  cert: PkiCert;
  key: P256KeyPair;
  /** Sub-CAs, nearest first: the SubCertificates of ContractSignatureCertChain. */
  subCertificates: PkiCert[];
  /** [cert, ...subCertificates]. */
  chain: PkiCert[];
  root: PkiCert;
}

/** Issues a contract certificate for `emaid` under MO Sub-CA 2 (or `opts.issuer`). */
export function issueContractCertificate(pki: BenchPki, opts: ContractIssueOptions = {}): ContractBundle {
  let emaid: string;
  if (opts.emaid === undefined) emaid = generateEmaid({ country: pki.options.country });
  else {
    const v = validateEmaid(opts.emaid);
    if (!v.valid) throw new PkiInputError('emaid', v.reason.replace(/^emaid: /, ''));
    emaid = v.normalized;
  }
  const issuer = opts.issuer ?? pki.authority('mo-sub2');
  const subCertificates = opts.subCertificates ? [...opts.subCertificates] : [pki.cert('mo-sub2'), pki.cert('mo-sub1')];
  if (subCertificates.length > 0 && subCertificates[0] !== issuer.cert && Buffer.compare((subCertificates[0] as PkiCert).der, issuer.cert.der) !== 0) {
    throw new PkiInputError('subCertificates', 'the first sub-certificate must be the issuing CA');
  }
  const key = opts.key ?? generateP256KeyPair();
  const notBefore = opts.notBefore ?? new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const validityDays = opts.validityDays ?? ROLE_PROFILES.contract.validityDays;
  if (!(validityDays > 0)) throw new PkiInputError('validityDays', `${validityDays} must be > 0`);
  let notAfter = addDays(notBefore, validityDays);
  if (notAfter > issuer.cert.notAfter) notAfter = issuer.cert.notAfter;
  const o = pki.options;
  const ocspUrl = opts.ocspUrl === null ? undefined : (opts.ocspUrl ?? o.ocspUrl);
  const cert = pki.issue({
    subject: encodeName({ CN: emaid, O: o.organization, C: o.country, DC: 'MO' }),
    subjectKey: key,
    issuer,
    serialNumber: opts.serialNumber ?? randomSerial(),
    notBefore,
    notAfter,
    ca: false,
    keyUsage: ROLE_PROFILES.contract.keyUsage,
    ocspUrl,
    // a fresh random key makes the certificate unrepeatable anyway: sign it the fast way (OpenSSL)
    fastSignature: opts.key === undefined,
  });
  return { emaid, cert, key, subCertificates, chain: [cert, ...subCertificates], root: opts.root ?? pki.cert('mo-root') };
}

/** Deterministic variant: key and serial derived from (seed, eMAID, label); same inputs → same certificate. */
export function issueDeterministicContract(pki: BenchPki, emaid: string, opts: Omit<ContractIssueOptions, 'emaid' | 'key' | 'serialNumber'> & { label?: string; notBefore: Date }): ContractBundle {
  const label = `contract:${emaid.toUpperCase()}:${opts.label ?? ''}`;
  return issueContractCertificate(pki, { ...opts, emaid, key: deriveP256KeyPair(pki.seed, `key:${label}`), serialNumber: deriveSerial(pki.seed, `serial:${label}`) });
}

/** The CPS leaf (signer of CertificateInstallationRes) with its SAProvisioningCertificateChain sub-certificates. */
export interface CpsSigner {
  cert: PkiCert;
  key: P256KeyPair;
  /** [cps-sub2, cps-sub1]: SAProvisioningCertificateChain SubCertificates. */
  subCertificates: PkiCert[];
  /** The V2G root the chain ends at (what the EV must trust). */
  root: PkiCert;
}

export function cpsSigner(pki: BenchPki): CpsSigner {
  const e = pki.get('cps-leaf');
  return { cert: e.cert, key: e.key as P256KeyPair, subCertificates: [pki.cert('cps-sub2'), pki.cert('cps-sub1')], root: pki.cert('v2g-root') };
}
