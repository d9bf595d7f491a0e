// OCPP CertificateHashDataType / OCSPRequestDataType exactly as a charger computes them:
// issuerNameHash = H(DER of the certificate's issuer name), issuerKeyHash = H(issuer's
// subjectPublicKey BIT STRING contents: the EC point or the PKCS#1 RSA key), serialNumber = lower-case
// hex without leading zeros, H ∈ SHA256/384/512. These are also the fields of an OCSP CertID.
// Incoming hash data (DeleteCertificate, GetCertificateStatus, Authorize) is matched
// case-insensitively, and serials with leading zeros match.
//
//   const h = certificateHashData(pki.cert('mo-root'), pki.cert('mo-root'));   // a root is its own issuer
//   hashDataMatches(h, { ...h, issuerNameHash: h.issuerNameHash.toUpperCase() }) // true
//   const req = ocspRequestData(contract, moSub2);  // + responderURL from the certificate's AIA
import crypto from 'node:crypto';
import { PkiInputError } from './errors.ts';
import type { PkiCert } from './x509.ts';

export const HASH_ALGORITHMS = ['SHA256', 'SHA384', 'SHA512'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

/** OCPP 2.0.1 CertificateHashDataType (also the 1.6 security whitepaper's). */
export interface CertificateHashData {
  hashAlgorithm: HashAlgorithm;
  issuerNameHash: string;
  issuerKeyHash: string;
  serialNumber: string;
}

/** OCPP 2.0.1 OCSPRequestDataType. */
export interface OcspRequestData extends CertificateHashData {
  responderURL: string;
}

export const NODE_HASH: Readonly<Record<HashAlgorithm, 'sha256' | 'sha384' | 'sha512'>> = { SHA256: 'sha256', SHA384: 'sha384', SHA512: 'sha512' };

export function hashHex(alg: HashAlgorithm, data: Uint8Array): string {
  return crypto.createHash(NODE_HASH[alg]).update(data).digest('hex');
}

/** Hash data of `cert` issued by `issuer` (pass the certificate itself for a self-signed root). */
export function certificateHashData(cert: PkiCert, issuer: PkiCert, hashAlgorithm: HashAlgorithm = 'SHA256'): CertificateHashData {
  if (!HASH_ALGORITHMS.includes(hashAlgorithm)) throw new PkiInputError('hashAlgorithm', `"${hashAlgorithm}" is not one of ${HASH_ALGORITHMS.join(', ')}`);
  if (Buffer.compare(cert.issuerDer, issuer.subjectDer) !== 0) throw new PkiInputError('issuer', `"${issuer.subject}" is not the issuer of "${cert.subject}" (issuer "${cert.issuer}")`);
  return {
    hashAlgorithm,
    issuerNameHash: hashHex(hashAlgorithm, cert.issuerDer),
    issuerKeyHash: hashHex(hashAlgorithm, issuer.publicKeyBits),
    serialNumber: cert.serialHex,
  };
}

/** OCSPRequestData of `cert`: hash data plus the first OCSP URL of its authorityInfoAccess. */
export function ocspRequestData(cert: PkiCert, issuer: PkiCert, hashAlgorithm: HashAlgorithm = 'SHA256'): OcspRequestData {
  const url = cert.ocspUrls[0];
  if (!url) throw new PkiInputError('certificate', `"${cert.subject}" has no OCSP URL in authorityInfoAccess`);
  return { ...certificateHashData(cert, issuer, hashAlgorithm), responderURL: url };
}

const normHex = (s: string) => s.toLowerCase();
const normSerial = (s: string) => s.toLowerCase().replace(/^0+(?=.)/, '');

/** Same certificate? Algorithm must match; hex compared case-insensitively; serial leading zeros ignored. */
export function hashDataMatches(a: CertificateHashData, b: CertificateHashData): boolean {
  return (
    a.hashAlgorithm === b.hashAlgorithm &&
    normHex(a.issuerNameHash) === normHex(b.issuerNameHash) &&
    normHex(a.issuerKeyHash) === normHex(b.issuerKeyHash) &&
    normSerial(a.serialNumber) === normSerial(b.serialNumber)
  );
}

/** Does `hashData` identify `cert` (issued by `issuer`)? Computes with hashData's own algorithm. */
export function certificateMatchesHashData(cert: PkiCert, issuer: PkiCert, hashData: CertificateHashData): boolean {
  if (Buffer.compare(cert.issuerDer, issuer.subjectDer) !== 0) return false;
  return hashDataMatches(certificateHashData(cert, issuer, hashData.hashAlgorithm), hashData);
}

const HASH_HEX_LENGTH: Readonly<Record<HashAlgorithm, number>> = { SHA256: 64, SHA384: 96, SHA512: 128 };

/**
 * Checks a JSON value against CertificateHashDataType (and OCSPRequestDataType when
 * `withResponderUrl`): the enum, hex of the right length for the algorithm, serial ≤ 40 hex
 * characters, responderURL ≤ 512. Throws PkiInputError naming the field (`hashData.issuerKeyHash`).
 */
export function parseCertificateHashData(value: unknown, field?: string): CertificateHashData;
export function parseCertificateHashData(value: unknown, field: string, withResponderUrl: true): OcspRequestData;
export function parseCertificateHashData(value: unknown, field = 'hashData', withResponderUrl = false): CertificateHashData | OcspRequestData {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PkiInputError(field, 'must be an object');
  const v = value as Record<string, unknown>;
  const alg = v.hashAlgorithm;
  if (typeof alg !== 'string' || !(HASH_ALGORITHMS as readonly string[]).includes(alg)) throw new PkiInputError(`${field}.hashAlgorithm`, `${JSON.stringify(alg)} is not one of ${HASH_ALGORITHMS.join(', ')}`);
  const hashAlgorithm = alg as HashAlgorithm;
  for (const k of ['issuerNameHash', 'issuerKeyHash'] as const) {
    const h = v[k];
    if (typeof h !== 'string') throw new PkiInputError(`${field}.${k}`, 'must be a string');
    if (!/^[0-9a-fA-F]*$/.test(h)) throw new PkiInputError(`${field}.${k}`, `"${h}" is not hex`);
    if (h.length !== HASH_HEX_LENGTH[hashAlgorithm]) throw new PkiInputError(`${field}.${k}`, `${h.length} hex characters; ${hashAlgorithm} needs ${HASH_HEX_LENGTH[hashAlgorithm]}`);
  }
  const sn = v.serialNumber;
  if (typeof sn !== 'string' || !/^[0-9a-fA-F]{1,40}$/.test(sn)) throw new PkiInputError(`${field}.serialNumber`, `${JSON.stringify(sn)} must be 1..40 hex characters`);
  const out: CertificateHashData = { hashAlgorithm, issuerNameHash: v.issuerNameHash as string, issuerKeyHash: v.issuerKeyHash as string, serialNumber: sn };
  if (!withResponderUrl) return out;
  const url = v.responderURL;
  if (typeof url !== 'string' || url.length === 0 || url.length > 512) throw new PkiInputError(`${field}.responderURL`, 'must be a string of 1..512 characters');
  return { ...out, responderURL: url };
}
