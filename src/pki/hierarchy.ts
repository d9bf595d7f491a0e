// The bench's whole Plug & Charge trust world, generated deterministically from a seed: V2G root →
// CPO Sub-CA 1/2 → SECC leaf, CPS Sub-CA 1/2 → CPS leaf, MO root → MO Sub-CA 1/2 → contract,
// OEM root → OEM Sub-CA 1/2 → OEM provisioning, and the CSMS CA with its ECDSA and RSA TLS server
// certificates. Keys come from HKDF(seed, role), serials from HKDF(seed, role), signatures are RFC 6979,
// so the same seed and not-before give byte-identical certificates.
//
// `BenchPki` also remembers every certificate it issues afterwards (contracts, CSR-signed leaves,
// negative material) so the OCSP responder can tell issued serials from unknown ones.
//
//   const pki = generatePki({ seed: 'rig-a1', notBefore: new Date('2025-01-01'), ocspUrl: 'http://127.0.0.1:8180/ocsp' });
//   pki.get('cps-leaf')            // { cert, key }
//   pki.chain('secc-leaf')         // [secc-leaf, cpo-sub2, cpo-sub1]
//   pki.root('contract')           // MO root certificate
import { toHex } from './encoding.ts';
import { generateEmaid, validateEmaid } from './emaid.ts';
import { PkiInputError } from './errors.ts';
import { addDays, deriveSerial, issueCertificate, type CertificateAuthority, type CertifiedKey, type IssueSpec } from './issue.ts';
import { deriveBytes, deriveP256KeyPair, deriveRsaKeyPair, type KeyPair, type P256KeyPair } from './keys.ts';
import { PKI_ROLES, ROLE_PROFILES, type PkiRole } from './profile.ts';
import { encodeName, keyIdentifier, type PkiCert } from './x509.ts';

export interface PkiOptions {
  /** Any non-empty string; default: 32 random hex characters (recorded in the manifest). */
  seed?: string;
  /** Start of validity of every certificate; default: today 00:00:00 UTC. */
  notBefore?: Date;
  /** OCSP responder URL written into authorityInfoAccess of the ISO 15118 non-root certificates. */
  ocspUrl?: string | undefined;
  /** Subject O of every certificate (the CPO name); default `pnc-bench`. */
  organization?: string;
  /** Subject C; default `DE`. */
  country?: string;
  /** The contract certificate's eMAID; default generated from the seed (with check digit). */
  emaid?: string;
  /** DNS names of the CSMS TLS server certificates; default `localhost`. */
  serverDnsNames?: readonly string[];
  /** IP addresses of the CSMS TLS server certificates; default 127.0.0.1 and ::1. */
  serverIpAddresses?: readonly string[];
}

export interface ResolvedPkiOptions {
  readonly seed: string;
  readonly notBefore: Date;
  readonly ocspUrl: string | undefined;
  readonly organization: string;
  readonly country: string;
  readonly emaid: string;
  readonly serverDnsNames: readonly string[];
  readonly serverIpAddresses: readonly string[];
}

export function startOfUtcDay(d: Date): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

export const MAX_OCSP_URL_CHARS = 48;
export const MAX_ORGANIZATION_CHARS = 16;

/** Validates options and fills defaults; throws PkiInputError naming the option. */
export function resolvePkiOptions(opts: PkiOptions = {}): ResolvedPkiOptions {
  const seed = opts.seed ?? toHex(crypto.getRandomValues(new Uint8Array(16)));
  if (typeof seed !== 'string' || seed.length === 0) throw new PkiInputError('seed', 'must be a non-empty string');
  const notBefore = opts.notBefore ?? startOfUtcDay(new Date());
  if (!(notBefore instanceof Date) || Number.isNaN(notBefore.getTime())) throw new PkiInputError('notBefore', 'must be a valid date');
  if (notBefore.getTime() % 1000 !== 0) throw new PkiInputError('notBefore', `${notBefore.toISOString()} has fractions of a second; X.509 times have whole seconds`);
  const y = notBefore.getUTCFullYear();
  if (y < 1950 || y > 9000) throw new PkiInputError('notBefore', `year ${y} is outside 1950..9000`);
  // Bounds keep a CertificateInstallationRes (six certificates) inside OCPP's 5,600-character
  // exiResponse (test/pki/exi-response.test.ts builds one at these limits).
  if (opts.ocspUrl !== undefined) {
    checkHttpUrl(opts.ocspUrl, 'ocspUrl');
    if (opts.ocspUrl.length > MAX_OCSP_URL_CHARS) throw new PkiInputError('ocspUrl', `is ${opts.ocspUrl.length} characters; at most ${MAX_OCSP_URL_CHARS} (every certificate carries it)`);
  }
  const organization = opts.organization ?? 'pnc-bench';
  if (organization.length < 1 || organization.length > MAX_ORGANIZATION_CHARS) throw new PkiInputError('organization', `must be 1..${MAX_ORGANIZATION_CHARS} characters`);
  const country = opts.country ?? 'DE';
  if (!/^[A-Z]{2}$/.test(country)) throw new PkiInputError('country', `"${country}" must be two upper-case letters (ISO 3166 alpha-2)`);
  let emaid: string;
  if (opts.emaid !== undefined) {
    const v = validateEmaid(opts.emaid, { requireCheckDigit: true });
    if (!v.valid) throw new PkiInputError('emaid', v.reason.replace(/^emaid: /, ''));
    emaid = v.normalized;
  } else {
    emaid = generateEmaid({ country, randomBytes: (n) => deriveBytes(seed, 'emaid', n) });
  }
  return {
    seed,
    notBefore,
    ocspUrl: opts.ocspUrl,
    organization,
    country,
    emaid,
    serverDnsNames: opts.serverDnsNames ?? ['localhost'],
    serverIpAddresses: opts.serverIpAddresses ?? ['127.0.0.1', '::1'],
  };
}

export function checkHttpUrl(url: string, field: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PkiInputError(field, `"${url}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PkiInputError(field, `"${url}" must be an http:// or https:// URL`);
  if (url.length > 512) throw new PkiInputError(field, 'longer than 512 characters (OCPP responderURL limit)');
}

interface IssuedRecord {
  readonly cert: PkiCert;
  authority: CertificateAuthority | undefined;
  readonly serials: Set<string>;
}

/** A generated (or loaded) bench PKI. */
export class BenchPki {
  readonly options: ResolvedPkiOptions;
  readonly #entries: Map<PkiRole, CertifiedKey>;
  /** keyed by the CA's key identifier (hex) */
  readonly #issued = new Map<string, IssuedRecord>();
  readonly #keyIds = new WeakMap<PkiCert, string>();

  #keyId(cert: PkiCert): string {
    let id = this.#keyIds.get(cert);
    if (id === undefined) {
      id = toHex(keyIdentifier(cert.spki));
      this.#keyIds.set(cert, id);
    }
    return id;
  }

  constructor(options: ResolvedPkiOptions, entries: ReadonlyMap<PkiRole, CertifiedKey>) {
    this.options = options;
    for (const role of PKI_ROLES) if (!entries.has(role)) throw new PkiInputError('pki', `role ${role} is missing`);
    this.#entries = new Map(entries);
    for (const role of PKI_ROLES) {
      const e = this.get(role);
      const prof = ROLE_PROFILES[role];
      if (prof.ca) this.registerAuthority({ cert: e.cert, key: e.key as P256KeyPair });
    }
    for (const role of PKI_ROLES) {
      const prof = ROLE_PROFILES[role];
      this.recordIssued(prof.issuer ? this.get(prof.issuer).cert : this.get(role).cert, this.get(role).cert);
    }
  }

  get seed(): string {
    return this.options.seed;
  }

  get emaid(): string {
    return this.options.emaid;
  }

  get ocspUrl(): string | undefined {
    return this.options.ocspUrl;
  }

  get(role: PkiRole): CertifiedKey {
    const e = this.#entries.get(role);
    if (!e) throw new PkiInputError('role', `unknown role "${role}"`);
    return e;
  }

  cert(role: PkiRole): PkiCert {
    return this.get(role).cert;
  }

  /** A CA role's certificate and P-256 key (every CA of the bench is P-256). */
  authority(role: PkiRole): CertificateAuthority {
    if (!ROLE_PROFILES[role].ca) throw new PkiInputError('role', `${role} is not a CA`);
    const e = this.get(role);
    return { cert: e.cert, key: e.key as P256KeyPair };
  }

  /** The chain of `role` leaf first, up to (and by default excluding) its root. */
  chain(role: PkiRole, opts: { includeRoot?: boolean } = {}): PkiCert[] {
    const out: PkiCert[] = [];
    let r: PkiRole | null = role;
    while (r) {
      const issuer: PkiRole | null = ROLE_PROFILES[r].issuer;
      if (issuer !== null || opts.includeRoot) out.push(this.cert(r));
      r = issuer;
    }
    return out;
  }

  /** The root role above `role`. */
  rootRole(role: PkiRole): PkiRole {
    let r = role;
    for (let issuer = ROLE_PROFILES[r].issuer; issuer !== null; issuer = ROLE_PROFILES[r].issuer) r = issuer;
    return r;
  }

  root(role: PkiRole): PkiCert {
    return this.cert(this.rootRole(role));
  }

  /** The roots a CSMS trusts for contract validation: MO root and V2G root. */
  contractTrustAnchors(): PkiCert[] {
    return [this.cert('mo-root'), this.cert('v2g-root')];
  }

  /** Issues a certificate and records it (and, for a CA with a key, the new authority) for OCSP. */
  issue(spec: IssueSpec): PkiCert {
    const cert = issueCertificate(spec);
    const issuerCert = 'self' in spec.issuer ? cert : spec.issuer.cert;
    if (spec.ca && !(spec.subjectKey instanceof Uint8Array) && spec.subjectKey.type === 'ec-p256') {
      this.registerAuthority({ cert, key: spec.subjectKey });
    }
    this.recordIssued(issuerCert, cert);
    return cert;
  }

  /** Makes a CA known to the OCSP responder (its key signs the responses about its certificates). */
  registerAuthority(ca: CertificateAuthority): void {
    const id = this.#keyId(ca.cert);
    const rec = this.#issued.get(id);
    if (rec) rec.authority = ca;
    else this.#issued.set(id, { cert: ca.cert, authority: ca, serials: new Set() });
  }

  /** Records that `issuer` issued `cert` (so OCSP answers "good" rather than "unknown"). */
  recordIssued(issuer: PkiCert, cert: PkiCert): void {
    const id = this.#keyId(issuer);
    let rec = this.#issued.get(id);
    if (!rec) {
      rec = { cert: issuer, authority: undefined, serials: new Set() };
      this.#issued.set(id, rec);
    }
    rec.serials.add(cert.serialHex);
  }

  /** Every CA whose key the bench holds. */
  authorities(): CertificateAuthority[] {
    return [...this.#issued.values()].flatMap((r) => (r.authority ? [r.authority] : []));
  }

  isIssued(issuer: PkiCert, serialHex: string): boolean {
    return this.#issued.get(this.#keyId(issuer))?.serials.has(serialHex.toLowerCase().replace(/^0+(?=.)/, '')) ?? false;
  }

  /** Roles sorted in issuing order with their certificate and key. */
  entries(): [PkiRole, CertifiedKey][] {
    return PKI_ROLES.map((r) => [r, this.get(r)]);
  }
}

/** The issue spec of a hierarchy role (shared by generation and negative material). */
export function roleIssueSpec(role: PkiRole, o: ResolvedPkiOptions, key: KeyPair, issuer: CertificateAuthority | null): IssueSpec {
  const prof = ROLE_PROFILES[role];
  const cn = role === 'contract' ? o.emaid : prof.commonName;
  const subject = encodeName({ CN: cn, O: o.organization, C: o.country, ...(prof.domainComponent ? { DC: prof.domainComponent } : {}) });
  let notAfter = addDays(o.notBefore, prof.validityDays);
  if (issuer && notAfter > issuer.cert.notAfter) notAfter = issuer.cert.notAfter;
  return {
    subject,
    subjectKey: key,
    issuer: issuer ?? { self: key as P256KeyPair },
    serialNumber: deriveSerial(o.seed, `serial:${role}`),
    notBefore: o.notBefore,
    notAfter,
    ca: prof.ca,
    pathLen: prof.pathLen,
    keyUsage: prof.keyUsage,
    extKeyUsage: prof.extKeyUsage,
    ...(prof.serverNames ? { dnsNames: o.serverDnsNames, ipAddresses: o.serverIpAddresses } : {}),
    ocspUrl: prof.ocsp ? o.ocspUrl : undefined,
  };
}

export function roleKey(role: PkiRole, seed: string): KeyPair {
  return ROLE_PROFILES[role].keyType === 'rsa-2048' ? deriveRsaKeyPair(seed, `key:${role}`, 2048) : deriveP256KeyPair(seed, `key:${role}`);
}

/** Generates the whole PKI. Deterministic in (seed, notBefore, ocspUrl, organization, country, emaid). */
export function generatePki(opts: PkiOptions = {}): BenchPki {
  const o = resolvePkiOptions(opts);
  const entries = new Map<PkiRole, CertifiedKey>();
  for (const role of PKI_ROLES) {
    const key = roleKey(role, o.seed);
    const issuerRole = ROLE_PROFILES[role].issuer;
    const issuer = issuerRole ? { cert: (entries.get(issuerRole) as CertifiedKey).cert, key: (entries.get(issuerRole) as CertifiedKey).key as P256KeyPair } : null;
    entries.set(role, { cert: issueCertificate(roleIssueSpec(role, o, key, issuer)), key });
  }
  return new BenchPki(o, entries);
}

