// The simulated charger's PnC certificate stores: installed V2G roots and MO roots (trust anchors for
// CertificateSigned and contract validation) and the SECC certificate chain with its private key.
// Implements the M03 / M04 / M05 semantics of rigs/virtual/README.md (GetInstalledCertificateIds,
// DeleteCertificate, InstallCertificate). Hash data is computed exactly as src/pki certificateHashData
// does (issuer name / issuer key hashes lower-case hex, serial lower-case hex without leading zeros; a
// root is its own issuer); the SECC chain's issuers come from its path, built once when it is installed.
//
//   const store = new CertificateStores({ v2gRootsDer, moRootsDer }, seccLeaf);
//   store.install('MORootCertificate', pem, { maxLength: 20, allowNonRoot: false })  // { status, reason }
//   store.installedIds(undefined)        // { status: 'Accepted', certificateHashDataChain: [...] }
import type { CertificateHashData, CertificateHashDataChain, GetCertificateIdUse, InstallCertificateUse } from '../../../src/csms/messages.ts';
import {
  buildPath,
  bytesEqual,
  certificateHashData,
  certificateMatchesHashData,
  parseCertificateChainPem,
  parseCertificateDer,
  PkiInputError,
  verifyCertificateSignature,
  type HashAlgorithm,
  type PkiCert,
} from '../../../src/pki/index.ts';

export const ROOT_TYPES = ['V2GRootCertificate', 'MORootCertificate'] as const satisfies readonly InstallCertificateUse[];
export type RootType = (typeof ROOT_TYPES)[number];
/** GetInstalledCertificateIds types the charger has stores for. */
export const LISTED_TYPES = ['V2GRootCertificate', 'MORootCertificate', 'V2GCertificateChain'] as const satisfies readonly GetCertificateIdUse[];

export interface SeccCredentials {
  /** leaf first, then its sub-CAs (no root) */
  chain: PkiCert[];
  /** leaf → sub-CAs → the V2G root it chains to, as far as it could be built: made once, at installation */
  path: PkiCert[];
  privateKeyPkcs8Der: Buffer;
}

/** The issuer of a certificate of the SECC chain (the next one up its path); undefined when unknown. */
export function seccIssuer(secc: SeccCredentials, c: PkiCert): PkiCert | undefined {
  const i = secc.path.indexOf(c);
  return i < 0 ? undefined : secc.path[i + 1];
}

/** Self-signed CA whose signature verifies with its own key. */
export function isRoot(c: PkiCert): boolean {
  return c.isSelfIssued && c.basicConstraints?.ca === true && verifyCertificateSignature(c, c.spki);
}

export class CertificateStores {
  private readonly roots: Record<RootType, PkiCert[]> = { V2GRootCertificate: [], MORootCertificate: [] };
  private seccValue: SeccCredentials | undefined;

  constructor(trust: { v2gRootsDer: readonly Buffer[]; moRootsDer: readonly Buffer[] }, secc?: { chainDer: readonly Buffer[]; privateKeyPkcs8Der: Buffer }) {
    const load = (ders: readonly Buffer[], field: string): PkiCert[] =>
      ders.map((d, i) => {
        const c = parseCertificateDer(new Uint8Array(d), `${field}[${i}]`);
        if (!isRoot(c)) throw new PkiInputError(`${field}[${i}]`, `"${c.subject}" is not a self-signed CA certificate`);
        return c;
      });
    this.roots.V2GRootCertificate = load(trust.v2gRootsDer, 'trust.v2gRootsDer');
    this.roots.MORootCertificate = load(trust.moRootsDer, 'trust.moRootsDer');
    if (secc) {
      if (secc.chainDer.length === 0) throw new PkiInputError('seccLeaf.chainDer', 'empty; give the leaf first, then its sub-CAs');
      const chain = secc.chainDer.map((d, i) => parseCertificateDer(new Uint8Array(d), `seccLeaf.chainDer[${i}]`)).filter((c, i) => i === 0 || !c.isSelfIssued);
      this.setSecc(chain, buildPath(chain, this.roots.V2GRootCertificate).path, Buffer.from(secc.privateKeyPkcs8Der));
    }
  }

  get v2gRoots(): readonly PkiCert[] {
    return this.roots.V2GRootCertificate;
  }

  get moRoots(): readonly PkiCert[] {
    return this.roots.MORootCertificate;
  }

  /** MO roots and V2G roots: the anchors a contract chain may end at. */
  contractAnchors(): PkiCert[] {
    return [...this.roots.MORootCertificate, ...this.roots.V2GRootCertificate];
  }

  get secc(): SeccCredentials | undefined {
    return this.seccValue;
  }

  /** Installs the SECC certificate: `chain` leaf first without the root, `path` as validation built it (leaf → … → V2G root). */
  setSecc(chain: PkiCert[], path: PkiCert[], privateKeyPkcs8Der: Buffer): void {
    this.seccValue = { chain, path, privateKeyPkcs8Der };
  }

  /** Certificates counted against CertificateStoreMaxLength: the installed roots. */
  get installedCount(): number {
    return this.roots.V2GRootCertificate.length + this.roots.MORootCertificate.length;
  }

  /** M05: install a root of `type` from PEM. */
  install(type: InstallCertificateUse, pem: string, opts: { maxLength: number; allowNonRoot: boolean }): { status: 'Accepted' | 'Rejected' | 'Failed'; reason: string; cert?: PkiCert } {
    if (!(ROOT_TYPES as readonly string[]).includes(type)) return { status: 'Rejected', reason: `certificateType ${type} is not handled by the PnC store (only ${ROOT_TYPES.join(', ')})` };
    let certs: PkiCert[];
    try {
      certs = parseCertificateChainPem(pem, 'certificate');
    } catch (e) {
      return { status: 'Rejected', reason: e instanceof Error ? e.message : String(e) };
    }
    if (certs.length !== 1) return { status: 'Rejected', reason: `expected exactly one certificate, got ${certs.length}` };
    const cert = certs[0] as PkiCert;
    if (!opts.allowNonRoot && !isRoot(cert)) return { status: 'Rejected', reason: `"${cert.subject}" is not a self-signed root CA certificate` };
    const now = Date.now();
    if (cert.notAfter.getTime() < now || cert.notBefore.getTime() > now + 60_000) return { status: 'Rejected', reason: `"${cert.subject}" is not valid now (${cert.notBefore.toISOString()} .. ${cert.notAfter.toISOString()})` };
    const list = this.roots[type as RootType];
    if (list.some((c) => bytesEqual(c.der, cert.der))) return { status: 'Accepted', reason: 'already installed', cert };
    if (this.installedCount >= opts.maxLength) return { status: 'Failed', reason: `certificate store full (${this.installedCount} of CertificateStoreMaxLength ${opts.maxLength})` };
    list.push(cert);
    return { status: 'Accepted', reason: 'installed', cert };
  }

  /** M04: delete the certificate identified by `h` (hash comparison case-insensitive, serial without leading zeros). */
  delete(h: CertificateHashData, opts: { allowLastV2GRoot: boolean }): { status: 'Accepted' | 'Failed' | 'NotFound'; reason: string; cert?: PkiCert; type?: string } {
    for (const type of ROOT_TYPES) {
      const list = this.roots[type];
      const i = list.findIndex((c) => certificateMatchesHashData(c, c, h));
      if (i < 0) continue;
      const cert = list[i] as PkiCert;
      if (type === 'V2GRootCertificate' && list.length === 1 && !opts.allowLastV2GRoot) return { status: 'Failed', reason: `"${cert.subject}" is the last V2G root`, cert, type };
      list.splice(i, 1);
      return { status: 'Accepted', reason: 'deleted', cert, type };
    }
    const secc = this.seccValue;
    const leaf = secc?.chain[0];
    const issuer = secc && leaf ? seccIssuer(secc, leaf) : undefined;
    if (leaf && issuer && certificateMatchesHashData(leaf, issuer, h)) {
      this.seccValue = undefined;
      return { status: 'Accepted', reason: 'deleted', cert: leaf, type: 'V2GCertificateChain' };
    }
    return { status: 'NotFound', reason: 'no installed certificate matches the hash data' };
  }

  /** M03: hash data of the installed certificates of `types` (absent → all listed types). */
  installedIds(types: readonly GetCertificateIdUse[] | undefined, alg: HashAlgorithm = 'SHA256'): { status: 'Accepted' | 'NotFound'; certificateHashDataChain: CertificateHashDataChain[] } {
    const out: CertificateHashDataChain[] = [];
    for (const type of types ?? LISTED_TYPES) {
      if (type === 'V2GRootCertificate' || type === 'MORootCertificate') {
        for (const c of this.roots[type]) out.push({ certificateType: type, certificateHashData: certificateHashData(c, c, alg) });
      } else if (type === 'V2GCertificateChain' && this.seccValue) {
        const secc = this.seccValue;
        const [leaf, ...subs] = secc.chain as [PkiCert, ...PkiCert[]];
        const issuer = seccIssuer(secc, leaf);
        if (!issuer) continue;
        const children: CertificateHashData[] = [];
        for (const sub of subs) {
          const subIssuer = seccIssuer(secc, sub);
          if (subIssuer) children.push(certificateHashData(sub, subIssuer, alg));
        }
        out.push({ certificateType: type, certificateHashData: certificateHashData(leaf, issuer, alg), ...(children.length ? { childCertificateHashData: children } : {}) });
      }
    }
    return { status: out.length ? 'Accepted' : 'NotFound', certificateHashDataChain: out };
  }

  snapshot(): Record<string, unknown> {
    return {
      v2gRoots: this.roots.V2GRootCertificate.map((c) => c.subject),
      moRoots: this.roots.MORootCertificate.map((c) => c.subject),
      seccLeaf: this.seccValue ? { subject: this.seccValue.chain[0]?.subject, serial: this.seccValue.chain[0]?.serialHex, notAfter: this.seccValue.chain[0]?.notAfter.toISOString(), chainLength: this.seccValue.chain.length } : null,
    };
  }
}
