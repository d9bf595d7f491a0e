// Key material for the bench PKI: deterministic P-256 keys derived from a seed, the deterministic
// RSA key for the CSMS TLS server, SPKI/PKCS#8 encodings, and the signature primitives.
//
// Certificates are signed with RFC 6979 deterministic ECDSA (@noble/curves), so the same seed and
// not-before give byte-identical certificates. Hot paths that need no determinism (OCSP responses,
// verification) use Node's OpenSSL through cached KeyObjects, which is ~20× faster.
//
// These are also the ECDSA primitives of src/exi (xmldsig SignatureValue is raw r‖s): src/exi
// re-exports them under its own historical names (ecdsaSignP256, ecdsaVerifyP256).
//
//   const key = deriveP256KeyPair('rig-a1', 'key:mo-root');
//   const sig = signP256Raw(key, bytes);           // 64-byte r‖s over SHA-256(bytes), deterministic
//   const sig2 = signP256RawFast(key, bytes);      // same format, OpenSSL, random k (~25× faster)
//   verifyP256Raw(key.publicKey, bytes, sig);      // true
import crypto, { type KeyObject } from 'node:crypto';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { p256 } from '@noble/curves/nist.js';
import { bigintToBytes, bytesToBigint, toHex } from './encoding.ts';
import { PkiInputError } from './errors.ts';
import { generateRsaKeyPair, type RsaKeyPair } from './rsa.ts';

export type { RsaKeyPair } from './rsa.ts';

/** A P-256 (secp256r1) key: 32-byte private scalar and 65-byte uncompressed public point 04‖X‖Y. */
export interface P256KeyPair {
  readonly type: 'ec-p256';
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export type KeyPair = P256KeyPair | RsaKeyPair;

/** Order n of the P-256 group. */
export const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HKDF_SALT = new TextEncoder().encode('pnc-bench pki v1');

/** `length` pseudo-random bytes bound to (seed, label): HKDF-SHA-256 with a fixed salt. */
export function deriveBytes(seed: string, label: string, length: number): Uint8Array {
  return hkdf(sha256, new TextEncoder().encode(seed), HKDF_SALT, new TextEncoder().encode(label), length);
}

/** The P-256 key for (seed, label): 48 HKDF bytes reduced mod n−1, plus one (never zero). */
export function deriveP256KeyPair(seed: string, label: string): P256KeyPair {
  const scalar = (bytesToBigint(deriveBytes(seed, label, 48)) % (P256_N - 1n)) + 1n;
  return p256KeyPairFromPrivate(bigintToBytes(scalar, 32));
}

/** True when `scalar` is 32 bytes and 0 < scalar < n. */
export function isValidP256Scalar(scalar: Uint8Array): boolean {
  return scalar.length === 32 && p256.utils.isValidSecretKey(scalar);
}

export function p256KeyPairFromPrivate(privateKey: Uint8Array): P256KeyPair {
  if (!isValidP256Scalar(privateKey)) throw new PkiInputError('privateKey', 'not a valid 32-byte P-256 private scalar');
  return { type: 'ec-p256', privateKey: Uint8Array.from(privateKey), publicKey: p256.getPublicKey(privateKey, false) };
}

/** A fresh random P-256 key (for contract certificates issued on demand); OpenSSL generates it. */
export function generateP256KeyPair(): P256KeyPair {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = privateKey.export({ format: 'jwk' });
  const b = (s: string | undefined) => new Uint8Array(Buffer.from(s ?? '', 'base64url'));
  const d = b(jwk.d);
  const x = b(jwk.x);
  const y = b(jwk.y);
  if (d.length !== 32 || x.length !== 32 || y.length !== 32) throw new Error(`OpenSSL exported a P-256 JWK with ${d.length}/${x.length}/${y.length}-byte fields (RFC 7518 says 32)`);
  const pair: P256KeyPair = { type: 'ec-p256', privateKey: d, publicKey: Uint8Array.from([0x04, ...x, ...y]) };
  privateKeyObjects.set(pair, privateKey);
  return pair;
}

/** The deterministic 2048-bit RSA key for (seed, label). */
export function deriveRsaKeyPair(seed: string, label: string, modulusBits = 2048): RsaKeyPair {
  return generateRsaKeyPair(deriveBytes(seed, label, 48), modulusBits);
}

const b64u = (n: bigint | Uint8Array) => Buffer.from(typeof n === 'bigint' ? bigintToBytes(n) : n).toString('base64url');

function jwkOf(key: KeyPair, withPrivate: boolean): crypto.JsonWebKey {
  if (key.type === 'ec-p256') {
    const x = key.publicKey.subarray(1, 33);
    const y = key.publicKey.subarray(33, 65);
    return { kty: 'EC', crv: 'P-256', x: b64u(x), y: b64u(y), ...(withPrivate ? { d: b64u(key.privateKey) } : {}) };
  }
  const pub = { kty: 'RSA', n: b64u(key.n), e: b64u(key.e) };
  if (!withPrivate) return pub;
  return { ...pub, d: b64u(key.d), p: b64u(key.p), q: b64u(key.q), dp: b64u(key.dp), dq: b64u(key.dq), qi: b64u(key.qi) };
}

const privateKeyObjects = new WeakMap<KeyPair, KeyObject>();

/** Node KeyObject for a key pair (cached per object). */
export function privateKeyObject(key: KeyPair): KeyObject {
  let ko = privateKeyObjects.get(key);
  if (!ko) {
    ko = crypto.createPrivateKey({ key: jwkOf(key, true), format: 'jwk' });
    privateKeyObjects.set(key, ko);
  }
  return ko;
}

const publicKeyObjects = new Map<string, KeyObject>();

/** Node public KeyObject for an SPKI DER (cached by content; bounded). */
export function publicKeyObjectFromSpki(spki: Uint8Array): KeyObject {
  const id = toHex(sha256(spki));
  let ko = publicKeyObjects.get(id);
  if (!ko) {
    ko = crypto.createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    if (publicKeyObjects.size > 1000) publicKeyObjects.clear();
    publicKeyObjects.set(id, ko);
  }
  return ko;
}

/** SubjectPublicKeyInfo DER of a key pair's public half. */
export function spkiDer(key: KeyPair): Uint8Array {
  return new Uint8Array(crypto.createPublicKey({ key: jwkOf(key, false), format: 'jwk' }).export({ type: 'spki', format: 'der' }));
}

/** PKCS#8 PEM ("PRIVATE KEY") of a key pair. */
export function privateKeyPem(key: KeyPair): string {
  return privateKeyObject(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Reads a PKCS#8 / SEC1 / PKCS#1 private key PEM back into a KeyPair (P-256 or RSA). */
export function keyPairFromPem(pem: string, field = 'key'): KeyPair {
  let ko: KeyObject;
  try {
    ko = crypto.createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new PkiInputError(field, `not a PEM private key (${(e as Error).message})`);
  }
  const jwk = ko.export({ format: 'jwk' });
  const big = (s: string | undefined) => bytesToBigint(Buffer.from(s ?? '', 'base64url'));
  if (jwk.kty === 'EC') {
    if (jwk.crv !== 'P-256') throw new PkiInputError(field, `EC key on curve ${jwk.crv}, expected P-256`);
    const pair = p256KeyPairFromPrivate(new Uint8Array(Buffer.from(jwk.d ?? '', 'base64url')));
    privateKeyObjects.set(pair, ko);
    return pair;
  }
  if (jwk.kty === 'RSA') {
    const n = big(jwk.n);
    const pair: RsaKeyPair = { type: 'rsa', modulusBits: n.toString(2).length, n, e: big(jwk.e), d: big(jwk.d), p: big(jwk.p), q: big(jwk.q), dp: big(jwk.dp), dq: big(jwk.dq), qi: big(jwk.qi) };
    privateKeyObjects.set(pair, ko);
    return pair;
  }
  throw new PkiInputError(field, `unsupported key type ${jwk.kty}`);
}

/** RFC 6979 deterministic ECDSA-P256-SHA256 over `data`, DER-encoded (X.509 / OCSP signature). */
export function signP256Der(key: P256KeyPair, data: Uint8Array): Uint8Array {
  return p256.sign(data, key.privateKey, { prehash: true, lowS: false, format: 'der' });
}

/** RFC 6979 deterministic ECDSA-P256-SHA256 over `data`: 64 bytes r‖s (xmldsig SignatureValue). */
export function signP256Raw(key: P256KeyPair, data: Uint8Array): Uint8Array {
  return p256.sign(data, key.privateKey, { prehash: true, lowS: false, format: 'compact' });
}

/** Fast (randomised k, OpenSSL) ECDSA-P256-SHA256, DER-encoded. For OCSP responses. */
export function signP256DerFast(key: P256KeyPair, data: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.sign('sha256', data, privateKeyObject(key)));
}

const SEC1_P256_PREFIX = Buffer.from('30310201010420', 'hex');
const SEC1_P256_SUFFIX = Buffer.from('a00a06082a8648ce3d030107', 'hex');
const scalarKeyObjects = new Map<string, KeyObject>();

/** Node KeyObject for a bare P-256 private scalar (OpenSSL derives the public half); cached, bounded. */
function scalarKeyObject(scalar: Uint8Array): KeyObject {
  if (!isValidP256Scalar(scalar)) throw new PkiInputError('privateKey', `not a valid 32-byte P-256 private scalar (${scalar.length} bytes)`);
  const id = toHex(scalar);
  let ko = scalarKeyObjects.get(id);
  if (!ko) {
    ko = crypto.createPrivateKey({ key: Buffer.concat([SEC1_P256_PREFIX, scalar, SEC1_P256_SUFFIX]), format: 'der', type: 'sec1' });
    if (scalarKeyObjects.size >= 256) scalarKeyObjects.clear();
    scalarKeyObjects.set(id, ko);
  }
  return ko;
}

/**
 * Fast (OpenSSL, random k) ECDSA-P256-SHA256 over `data`: 64 bytes r‖s, the xmldsig SignatureValue.
 * `key` is a key pair or a bare 32-byte private scalar. Use it where nothing needs to be
 * reproducible (signing a CertificateInstallationRes); signP256Raw is the deterministic one.
 */
export function signP256RawFast(key: P256KeyPair | Uint8Array, data: Uint8Array): Uint8Array {
  const ko = key instanceof Uint8Array ? scalarKeyObject(key) : privateKeyObject(key);
  return new Uint8Array(crypto.sign('sha256', data, { key: ko, dsaEncoding: 'ieee-p1363' }));
}

/** An SPKI DER for a raw 65-byte uncompressed P-256 point. */
export function p256SpkiFromPoint(point: Uint8Array): Uint8Array {
  if (point.length !== 65 || point[0] !== 0x04) throw new PkiInputError('publicKey', `expected a 65-byte uncompressed P-256 point (04‖X‖Y), got ${point.length} bytes`);
  const prefix = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
  return new Uint8Array(Buffer.concat([prefix, point]));
}

/** A SEC1 P-256 point, compressed (33 bytes) or uncompressed (65), as the 65-byte uncompressed form; throws if it is not on the curve. */
export function p256UncompressedPoint(point: Uint8Array): Uint8Array {
  try {
    return p256.Point.fromBytes(point).toBytes(false);
  } catch (e) {
    throw new PkiInputError('publicKey', `not a P-256 public point (${point.length} bytes): ${(e as Error).message}`);
  }
}

/**
 * Verifies a 64-byte r‖s ECDSA-P256-SHA256 signature over `data`. `publicKey` is a SEC1 point
 * (65 bytes uncompressed, 33 compressed) or an SPKI DER. High-S signatures are accepted (OpenSSL
 * and Java produce them). Returns false for a wrong signature or a malformed key/signature; never throws.
 */
export function verifyP256Raw(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    const spki = publicKey.length === 65 ? p256SpkiFromPoint(publicKey) : publicKey.length === 33 ? p256SpkiFromPoint(p256UncompressedPoint(publicKey)) : publicKey;
    return crypto.verify('sha256', data, { key: publicKeyObjectFromSpki(spki), dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}
