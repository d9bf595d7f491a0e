// The simulated charger's PnC certificate stores: installed V2G roots and MO roots (trust anchors for
// CertificateSigned and contract validation) and the SECC certificate chain with its private key.
// Implements the M03 / M04 / M05 semantics of rigs/virtual/README.md (GetInstalledCertificateIds,
// DeleteCertificate, InstallCertificate). Hash data is computed exactly as src/pki certificateHashData
// does (issuer name / issuer key hashes lower-case hex, serial lower-case hex without leading zeros; a
// root is its own issuer).
//
//   const store = new CertificateStores({ v2gRootsDer, moRootsDer }, seccLeaf);
//   store.install('MORootCertificate', pem, { maxLength: 20, allowNonRoot: false })  // { status, reason }
//   store.installedIds(undefined)        // { status: 'Accepted', certificateHashDataChain: [...] }
import {
  certificateHashData,
  hashDataMatches,
  parseCertificateChainPem,
  parseCertificateDer,
  parseCertificateHashData,
  PkiInputError,
  verifyCertificateSignature,
  type CertificateHashData,
  type HashAlgorithm,
  type PkiCert,
} from '../../../src/pki/index.ts';

export const ROOT_TYPES = ['V2GRootCertificate', 'MORootCertificate'] as const;
export type RootType = (typeof ROOT_TYPES)[number];
/** GetInstalledCertificateIds types the charger has stores for. */
export const LISTED_TYPES = ['V2GRootCertificate', 'MORootCertificate', 'V2GCertificateChain'] as const;
export type ListedType = (typeof LISTED_TYPES)[number];

export interface CertificateHashDataChain {
  certificateType: string;
  certificateHashData: CertificateHashData;
  childCertificateHashData?: CertificateHashData[];
}

export interface SeccCredentials {
  /** leaf first, then its sub-CAs (no root) */
  chain: PkiCert[];
  privateKeyPkcs8Der: Buffer;
}

/** Self-signed CA whose signature verifies with its own key. */
export function isRoot(c: PkiCert): boolean {
  return c.isSelfIssued && c.basicConstraints?.ca === true && verifyCertificateSignature(c, c.spki);
}

function sameCert(a: PkiCert, b: PkiCert): boolean {
  return Buffer.compare(Buffer.from(a.der), Buffer.from(b.der)) === 0;
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
      const chain = secc.chainDer.map((d, i) => parseCertificateDer(new Uint8Array(d), `seccLeaf.chainDer[${i}]`));
      this.seccValue = { chain: chain.filter((c, i) => i === 0 || !c.isSelfIssued), privateKeyPkcs8Der: Buffer.from(secc.privateKeyPkcs8Der) };
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

  setSecc(chain: PkiCert[], privateKeyPkcs8Der: Buffer): void {
    this.seccValue = { chain, privateKeyPkcs8Der };
  }

  /** Certificates counted against CertificateStoreMaxLength: the installed roots. */
  get installedCount(): number {
    return this.roots.V2GRootCertificate.length + this.roots.MORootCertificate.length;
  }

  /** The issuer of `c` among the given certificates and the installed roots (by name and signature). */
  findIssuer(c: PkiCert, among: readonly PkiCert[] = []): PkiCert | undefined {
    const pool = [...among, ...this.roots.V2GRootCertificate, ...this.roots.MORootCertificate];
    return pool.find((p) => Buffer.compare(Buffer.from(c.issuerDer), Buffer.from(p.subjectDer)) === 0 && verifyCertificateSignature(c, p.spki));
  }

  /** M05: install a root of `type` from PEM. */
  install(type: string, pem: unknown, opts: { maxLength: number; allowNonRoot: boolean }): { status: 'Accepted' | 'Rejected' | 'Failed'; reason: string; cert?: PkiCert } {
    if (!(ROOT_TYPES as readonly string[]).includes(type)) return { status: 'Rejected', reason: `certificateType ${type} is not handled by the PnC store (only ${ROOT_TYPES.join(', ')})` };
    let certs: PkiCert[];
    try {
      certs = parseCertificateChainPem(typeof pem === 'string' ? pem : '', 'certificate');
    } catch (e) {
      return { status: 'Rejected', reason: e instanceof Error ? e.message : String(e) };
    }
    if (certs.length !== 1) return { status: 'Rejected', reason: `expected exactly one certificate, got ${certs.length}` };
    const cert = certs[0] as PkiCert;
    if (!opts.allowNonRoot && !isRoot(cert)) return { status: 'Rejected', reason: `"${cert.subject}" is not a self-signed root CA certificate` };
    const now = Date.now();
    if (cert.notAfter.getTime() < now || cert.notBefore.getTime() > now + 60_000) return { status: 'Rejected', reason: `"${cert.subject}" is not valid now (${cert.notBefore.toISOString()} .. ${cert.notAfter.toISOString()})` };
    const list = this.roots[type as RootType];
    if (list.some((c) => sameCert(c, cert))) return { status: 'Accepted', reason: 'already installed', cert };
    if (this.installedCount >= opts.maxLength) return { status: 'Failed', reason: `certificate store full (${this.installedCount} of CertificateStoreMaxLength ${opts.maxLength})` };
    list.push(cert);
    return { status: 'Accepted', reason: 'installed', cert };
  }

  /** M04: delete the certificate identified by `hashData`. */
  delete(hashDataValue: unknown, opts: { allowLastV2GRoot: boolean }): { status: 'Accepted' | 'Failed' | 'NotFound'; reason: string; cert?: PkiCert; type?: string } {
    let h: CertificateHashData;
    try {
      h = parseCertificateHashData(hashDataValue, 'certificateHashData');
    } catch (e) {
      return { status: 'NotFound', reason: e instanceof Error ? e.message : String(e) };
    }
    for (const type of ROOT_TYPES) {
      const list = this.roots[type];
      const i = list.findIndex((c) => hashDataMatches(certificateHashData(c, c, h.hashAlgorithm), h));
      if (i < 0) continue;
      const cert = list[i] as PkiCert;
      if (type === 'V2GRootCertificate' && list.length === 1 && !opts.allowLastV2GRoot) return { status: 'Failed', reason: `"${cert.subject}" is the last V2G root`, cert, type };
      list.splice(i, 1);
      return { status: 'Accepted', reason: 'deleted', cert, type };
    }
    const secc = this.seccValue;
    if (secc) {
      const leaf = secc.chain[0] as PkiCert;
      const issuer = this.findIssuer(leaf, secc.chain.slice(1));
      if (issuer && hashDataMatches(certificateHashData(leaf, issuer, h.hashAlgorithm), h)) {
        this.seccValue = undefined;
        return { status: 'Accepted', reason: 'deleted', cert: leaf, type: 'V2GCertificateChain' };
      }
    }
    return { status: 'NotFound', reason: 'no installed certificate matches the hash data' };
  }

  /** M03: hash data of the installed certificates of `types` (absent → all listed types). */
  installedIds(types: readonly string[] | undefined, alg: HashAlgorithm = 'SHA256'): { status: 'Accepted' | 'NotFound'; certificateHashDataChain: CertificateHashDataChain[] } {
    const wanted = types ?? LISTED_TYPES;
    const out: CertificateHashDataChain[] = [];
    for (const type of wanted) {
      if (type === 'V2GRootCertificate' || type === 'MORootCertificate') {
        for (const c of this.roots[type]) out.push({ certificateType: type, certificateHashData: certificateHashData(c, c, alg) });
      } else if (type === 'V2GCertificateChain' && this.seccValue) {
        const chain = this.seccValue.chain;
        const leaf = chain[0] as PkiCert;
        const issuer = this.findIssuer(leaf, chain.slice(1));
        if (!issuer) continue;
        const children: CertificateHashData[] = [];
        for (const sub of chain.slice(1)) {
          const subIssuer = this.findIssuer(sub, chain.slice(1).filter((x) => x !== sub));
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
