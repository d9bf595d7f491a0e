// PKCS#10 certificate signing requests (RFC 2986) for a P-256 key, as a charger builds them for the
// PnC SignCertificate (V2GCertificate): subject CN (the SECC id), O (the CPO name), C and DC=CPO,
// signed ecdsa-with-SHA256 with the key itself (proof of possession), no requested attributes.
// Built with the DER writer of src/pki/der.ts; `signCsr` (csr.ts) and `openssl req -verify` accept it.
//
//   const key = generateP256KeyPair();
//   const pem = buildCsrPem(key, { CN: 'DEPNB1VIRTUAL1', O: 'PNCBENCH', C: 'DE', DC: 'CPO' });
//   // → "-----BEGIN CERTIFICATE REQUEST-----\n..."
import { ctx, derBitString, derOid, seq, tlv, TAG } from './der.ts';
import { derToPem } from './encoding.ts';
import { PkiInputError } from './errors.ts';
import { signP256Der, spkiDer, type P256KeyPair } from './keys.ts';
import { encodeName, OID, type NameSpec } from './x509.ts';

const MAX_ATTRIBUTE_CHARS = 64;

/** Subject attributes of a CSR: at least one; values 1..64 characters; C two upper-case letters; DC printable ASCII. */
function checkSubject(subject: NameSpec): void {
  const entries = Object.entries(subject).filter(([, v]) => v !== undefined) as [keyof NameSpec, string][];
  if (entries.length === 0) throw new PkiInputError('csr.subject', 'needs at least one attribute (CN, O, C, DC, ...)');
  for (const [k, v] of entries) {
    if (typeof v !== 'string' || v.length === 0) throw new PkiInputError(`csr.subject.${k}`, 'must be a non-empty string');
    if (v.length > MAX_ATTRIBUTE_CHARS) throw new PkiInputError(`csr.subject.${k}`, `"${v}" is ${v.length} characters; at most ${MAX_ATTRIBUTE_CHARS}`);
  }
  if (subject.C !== undefined && !/^[A-Z]{2}$/.test(subject.C)) throw new PkiInputError('csr.subject.C', `"${subject.C}" is not two upper-case letters (ISO 3166 alpha-2)`);
  if (subject.DC !== undefined && !/^[\x20-\x7e]+$/.test(subject.DC)) throw new PkiInputError('csr.subject.DC', `"${subject.DC}" is not printable ASCII (IA5String)`);
}

/** DER of a PKCS#10 request for `key` with `subject`, signed ecdsa-with-SHA256 (RFC 6979). */
export function buildCsrDer(key: P256KeyPair, subject: NameSpec): Uint8Array {
  if (key?.type !== 'ec-p256') throw new PkiInputError('csr.key', 'must be a P-256 key pair (generateP256KeyPair)');
  checkSubject(subject);
  const info = seq(
    tlv(TAG.INTEGER, Uint8Array.of(0)), // version v1
    encodeName(subject),
    spkiDer(key),
    ctx(0, true), // attributes [0] IMPLICIT SET OF Attribute: none
  );
  const signature = signP256Der(key, info);
  return seq(info, seq(derOid(OID.ecdsaWithSha256)), derBitString(signature));
}

/** PEM ("CERTIFICATE REQUEST") of `buildCsrDer`, as OCPP SignCertificate.csr carries it. */
export function buildCsrPem(key: P256KeyPair, subject: NameSpec): string {
  return derToPem(buildCsrDer(key, subject), 'CERTIFICATE REQUEST');
}
