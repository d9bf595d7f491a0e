// One function that issues a certificate from a compact spec: subject, key, issuer, validity and
// the V2G-profile extensions (basicConstraints, keyUsage, SKI/AKI, EKU, SAN, AIA OCSP). Used for the
// hierarchy roles, contracts, CSR signing and negative material; `omit`/override fields exist so
// negative material can break exactly one rule.
//
//   const cert = issueCertificate({ subject: encodeName({ CN: 'X', DC: 'MO' }), subjectKey: spki, issuer: { cert, key }, ... });
import { deriveBytes, spkiDer, type KeyPair, type P256KeyPair } from './keys.ts';
import {
  authorityInfoAccessExt,
  authorityKeyIdExt,
  basicConstraintsExt,
  buildCertificate,
  extKeyUsageExt,
  keyIdentifier,
  keyUsageExt,
  PkiCert,
  subjectAltNameExt,
  subjectKeyIdExt,
  type CertExtension,
  type KeyUsageType,
} from './x509.ts';

/** A certificate and its private key. */
export interface CertifiedKey {
  readonly cert: PkiCert;
  readonly key: KeyPair;
}

/** A CA certificate with its P-256 signing key. */
export interface CertificateAuthority {
  readonly cert: PkiCert;
  readonly key: P256KeyPair;
}

export interface IssueSpec {
  /** DER subject name. */
  subject: Uint8Array;
  /** The subject's key: a key pair or an SPKI DER (CSR signing). */
  subjectKey: KeyPair | Uint8Array;
  /** The issuing CA, or `{ self: key }` for a self-signed root. */
  issuer: CertificateAuthority | { self: P256KeyPair };
  serialNumber: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  pathLen?: number | undefined;
  /** `null` leaves the keyUsage extension out (negative material). */
  keyUsage: readonly KeyUsageType[] | null;
  keyUsageCritical?: boolean;
  extKeyUsage?: readonly string[] | undefined;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  ocspUrl?: string | undefined;
  /** OpenSSL signature with a random k instead of RFC 6979 (only where the certificate is random anyway) */
  fastSignature?: boolean;
}

/** A positive 16-byte serial (first byte 0x40–0x7f: no sign bit, no leading zero) derived from (seed, label). */
export function deriveSerial(seed: string, label: string): Uint8Array {
  const b = deriveBytes(seed, label, 16);
  b[0] = ((b[0] as number) & 0x3f) | 0x40;
  return b;
}

/** A random serial with the same shape as `deriveSerial`. */
export function randomSerial(): Uint8Array {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = ((b[0] as number) & 0x3f) | 0x40;
  return b;
}

export const DAY_MS = 86_400_000;

export function addDays(d: Date, days: number): Date {
  return new Date(d.getTime() + days * DAY_MS);
}

export function issueCertificate(spec: IssueSpec): PkiCert {
  const subjectSpki = spec.subjectKey instanceof Uint8Array ? spec.subjectKey : spkiDer(spec.subjectKey);
  const selfSigned = 'self' in spec.issuer;
  const issuerKey = 'self' in spec.issuer ? spec.issuer.self : spec.issuer.key;
  const issuerName = 'self' in spec.issuer ? spec.subject : spec.issuer.cert.subjectDer;
  const issuerSpki = 'self' in spec.issuer ? subjectSpki : spec.issuer.cert.spki;

  const exts: CertExtension[] = [basicConstraintsExt(spec.ca, spec.ca ? spec.pathLen : undefined)];
  if (spec.keyUsage) exts.push(keyUsageExt(spec.keyUsage, spec.keyUsageCritical ?? true));
  if (spec.extKeyUsage && spec.extKeyUsage.length > 0) exts.push(extKeyUsageExt(spec.extKeyUsage));
  exts.push(subjectKeyIdExt(keyIdentifier(subjectSpki)));
  if (!selfSigned) exts.push(authorityKeyIdExt(keyIdentifier(issuerSpki)));
  if ((spec.dnsNames?.length ?? 0) + (spec.ipAddresses?.length ?? 0) > 0) exts.push(subjectAltNameExt(spec.dnsNames ?? [], spec.ipAddresses ?? []));
  if (spec.ocspUrl) exts.push(authorityInfoAccessExt(spec.ocspUrl));

  const der = buildCertificate({
    serialNumber: spec.serialNumber,
    subject: spec.subject,
    issuer: issuerName,
    subjectPublicKeyInfo: subjectSpki,
    issuerKey,
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    extensions: exts,
    ...(spec.fastSignature ? { fastSignature: true } : {}),
  });
  return new PkiCert(der);
}

