// Key material: RFC 6979 A.2.5 vectors, the ISO 15118-2 Annex J signature vector, raw r‖s signatures
// cross-checked with openssl both ways, PEM round trips, and the deterministic RSA key generator.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  deriveP256KeyPair,
  generateP256KeyPair,
  keyPairFromPem,
  p256KeyPairFromPrivate,
  privateKeyPem,
  signP256Der,
  signP256Raw,
  spkiDer,
  verifyP256Raw,
  signP256RawFast,
  p256UncompressedPoint,
  isValidP256Scalar,
  P256_N,
  bigintToBytes,
  parseHex,
  parseBase64,
  toHexUpper,
  sha256,
  derToPem,
  PkiInputError,
} from '../../src/pki/index.ts';
import { generateRsaKeyPair, HmacDrbg, isProbablePrime } from '../../src/pki/rsa.ts';
import { OpenSsl } from './openssl.ts';

const ossl = new OpenSsl();
afterAll(() => ossl.cleanup());
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const utf8 = (s: string) => new TextEncoder().encode(s);

/** r‖s → DER ECDSA-Sig-Value, written independently of the code under test. */
function rsToDer(sig: Uint8Array): Buffer {
  const int = (b: Uint8Array) => {
    let v = Buffer.from(b);
    while (v.length > 1 && v[0] === 0 && (v[1] as number) < 0x80) v = v.subarray(1);
    if ((v[0] as number) >= 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([int(sig.subarray(0, 32)), int(sig.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('P-256 ECDSA (RFC 6979)', () => {
  // RFC 6979 Appendix A.2.5 (P-256, SHA-256): fixed key, messages "sample" and "test".
  const rfcKey = p256KeyPairFromPrivate(hex('C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721'));

  it('derives the RFC 6979 public key', () => {
    expect(Buffer.from(rfcKey.publicKey).toString('hex').toUpperCase()).toBe(
      '0460FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB67903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299',
    );
  });

  it.each([
    ['sample', 'EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716', 'F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8'],
    ['test', 'F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367', '019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083'],
  ])('signs %j exactly as RFC 6979 A.2.5 (r‖s)', (msg, r, s) => {
    expect(Buffer.from(signP256Raw(rfcKey, utf8(msg))).toString('hex').toUpperCase()).toBe(r + s);
    expect(Buffer.from(signP256Der(rfcKey, utf8(msg))).equals(rsToDer(hex(r + s)))).toBe(true);
  });

  it('verifies the ISO 15118-2 Annex J signature vector (EVerest) and rejects a flipped bit', () => {
    const v = JSON.parse(readFileSync('/work/shared/vectors/iso15118-2/everest-annexJ-signature.json', 'utf8'));
    const pub = hex(`04${v.meta.keys.publicKeyXYHex}`);
    expect(Buffer.from(p256KeyPairFromPrivate(hex(v.meta.keys.privateKeyHex_TEST_ONLY)).publicKey).equals(Buffer.from(pub))).toBe(true);
    const signedInfo = hex(v.vectors[1].exiHex);
    const sig = hex(v.vectors[1].signatureValueRS);
    expect(verifyP256Raw(pub, signedInfo, sig)).toBe(true);
    const bad = Uint8Array.from(sig);
    bad[63] = (bad[63] as number) ^ 1;
    expect(verifyP256Raw(pub, signedInfo, bad)).toBe(false);
    expect(verifyP256Raw(pub, signedInfo, sig.subarray(0, 63))).toBe(false);
    // also with the SPKI form of the key
    expect(verifyP256Raw(spkiDer(p256KeyPairFromPrivate(hex(v.meta.keys.privateKeyHex_TEST_ONLY))), signedInfo, sig)).toBe(true);
  });

  it('openssl verifies our raw signatures (converted to DER) with our exported key', () => {
    const key = deriveP256KeyPair('keys-test', 'exi');
    const data = utf8('SignedInfo EXI bytes');
    const sig = signP256Raw(key, data);
    expect(sig).toHaveLength(64);
    ossl.write('data.bin', data);
    ossl.write('sig.der', rsToDer(sig));
    ossl.write('key.pem', privateKeyPem(key));
    ossl.write('pub.pem', derToPem(spkiDer(key), 'PUBLIC KEY'));
    expect(ossl.run(['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.der', 'data.bin']).all).toContain('Verified OK');
    expect(ossl.ok(['pkey', '-in', 'key.pem', '-pubout'])).toBe(ossl.ok(['pkey', '-pubin', '-in', 'pub.pem']));
  });

  it('our verifier accepts openssl signatures', () => {
    const key = generateP256KeyPair();
    ossl.write('k2.pem', privateKeyPem(key));
    ossl.write('msg.bin', 'hello');
    ossl.ok(['dgst', '-sha256', '-sign', 'k2.pem', '-out', 'sig2.der', 'msg.bin']);
    const der = ossl.read('sig2.der');
    // DER → r‖s
    const rLen = der[3] as number;
    const r = der.subarray(4, 4 + rLen);
    const s = der.subarray(4 + rLen + 2);
    const raw = new Uint8Array(64);
    raw.set(r.subarray(Math.max(0, r.length - 32)), 32 - Math.min(32, r.length));
    raw.set(s.subarray(Math.max(0, s.length - 32)), 64 - Math.min(32, s.length));
    expect(verifyP256Raw(key.publicKey, utf8('hello'), raw)).toBe(true);
    expect(verifyP256Raw(key.publicKey, utf8('hellO'), raw)).toBe(false);
  });

  it('derivation is deterministic per (seed, label) and the scalar is valid', () => {
    const a = deriveP256KeyPair('s', 'key:mo-root');
    expect(deriveP256KeyPair('s', 'key:mo-root').privateKey).toEqual(a.privateKey);
    expect(deriveP256KeyPair('s', 'key:mo-sub1').privateKey).not.toEqual(a.privateKey);
    expect(deriveP256KeyPair('t', 'key:mo-root').privateKey).not.toEqual(a.privateKey);
    expect(a.privateKey).toHaveLength(32);
    expect(a.publicKey).toHaveLength(65);
  });

  it('PEM round trip, and a bad key PEM is named', () => {
    const key = deriveP256KeyPair('s', 'pem');
    const back = keyPairFromPem(privateKeyPem(key));
    expect(back.type).toBe('ec-p256');
    if (back.type === 'ec-p256') expect(back.privateKey).toEqual(key.privateKey);
    expect(() => keyPairFromPem('nope', 'rig/pki/x.key.pem')).toThrow(/^rig\/pki\/x.key.pem: not a PEM private key/);
    ossl.ok(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'p384.pem']);
    expect(() => keyPairFromPem(ossl.read('p384.pem').toString(), 'k')).toThrow(new PkiInputError('k', 'EC key on curve P-384, expected P-256'));
    expect(() => p256KeyPairFromPrivate(new Uint8Array(32))).toThrow(/not a valid 32-byte P-256 private scalar/);
  });
});

describe('deterministic RSA', () => {
  it('same seed → same key; openssl rsa -check accepts it', () => {
    const seed = utf8('rsa-seed');
    const a = generateRsaKeyPair(seed, 2048);
    const b = generateRsaKeyPair(seed, 2048);
    expect(a.n).toBe(b.n);
    expect(a.d).toBe(b.d);
    expect(a.n.toString(2)).toHaveLength(2048);
    expect(generateRsaKeyPair(utf8('rsa-seed-2'), 2048).n).not.toBe(a.n);
    ossl.write('rsa.pem', privateKeyPem(a));
    expect(ossl.run(['rsa', '-in', 'rsa.pem', '-check', '-noout']).all).toContain('RSA key ok');
  });

  it('Miller–Rabin: primes, composites and Carmichael numbers', () => {
    const drbg = new HmacDrbg(utf8('mr'));
    for (const p of [2n, 3n, 5n, 7919n, 2n ** 61n - 1n, 2n ** 127n - 1n]) expect(isProbablePrime(p, 10, drbg), String(p)).toBe(true);
    for (const c of [1n, 4n, 561n, 1105n, 1729n, 2465n, 2821n, 6601n, (2n ** 61n - 1n) * (2n ** 31n - 1n)]) expect(isProbablePrime(c, 10, drbg), String(c)).toBe(false);
  });

  it('HMAC-DRBG is deterministic and seed-dependent', () => {
    expect(new HmacDrbg(utf8('a')).bytes(48)).toEqual(new HmacDrbg(utf8('a')).bytes(48));
    expect(new HmacDrbg(utf8('a')).bytes(48)).not.toEqual(new HmacDrbg(utf8('b')).bytes(48));
    const d = new HmacDrbg(utf8('a'));
    expect(d.bytes(16)).not.toEqual(d.bytes(16));
  });

  it('refuses silly sizes', () => {
    expect(() => generateRsaKeyPair(utf8('x'), 512)).toThrow(/must be an even integer ≥ 1024/);
  });
});

describe('fast raw signatures, point forms, byte helpers (shared with src/exi)', () => {
  it('signP256RawFast (key pair or bare scalar) gives r‖s that openssl and verifyP256Raw accept', () => {
    const key = deriveP256KeyPair('keys-test', 'fast');
    const data = utf8('SignedInfo EXI bytes, fast path');
    for (const [i, sig] of [signP256RawFast(key, data), signP256RawFast(key.privateKey, data)].entries()) {
      expect(sig).toHaveLength(64);
      expect(verifyP256Raw(key.publicKey, data, sig)).toBe(true);
      ossl.write(`fast${i}.bin`, data);
      ossl.write(`fast${i}.der`, rsToDer(sig));
      ossl.write(`fast${i}.pub.pem`, derToPem(spkiDer(key), 'PUBLIC KEY'));
      expect(ossl.run(['dgst', '-sha256', '-verify', `fast${i}.pub.pem`, '-signature', `fast${i}.der`, `fast${i}.bin`]).all).toContain('Verified OK');
    }
    expect(() => signP256RawFast(new Uint8Array(32), data)).toThrow(PkiInputError);
    expect(() => signP256RawFast(bigintToBytes(P256_N, 32), data)).toThrow(/not a valid 32-byte P-256 private scalar/);
    expect(isValidP256Scalar(bigintToBytes(P256_N - 1n, 32))).toBe(true);
    expect(isValidP256Scalar(new Uint8Array(31).fill(1))).toBe(false);
  });

  it('compressed points: decompressed, and accepted by verifyP256Raw; off-curve points refused', () => {
    const key = deriveP256KeyPair('keys-test', 'compressed');
    const y = key.publicKey[64] as number;
    const compressed = Uint8Array.from([y & 1 ? 0x03 : 0x02, ...key.publicKey.subarray(1, 33)]);
    expect(Buffer.from(p256UncompressedPoint(compressed)).equals(Buffer.from(key.publicKey))).toBe(true);
    const data = utf8('x');
    expect(verifyP256Raw(compressed, data, signP256RawFast(key, data))).toBe(true);
    const off = Uint8Array.from(key.publicKey);
    off[64] = (off[64] as number) ^ 1;
    expect(() => p256UncompressedPoint(off)).toThrow(PkiInputError);
    expect(verifyP256Raw(off, data, signP256RawFast(key, data))).toBe(false);
  });

  it('parseHex / parseBase64 return undefined for bad text; toHexUpper; sha256', () => {
    expect(parseHex('80 98\n02', { whitespace: true })).toEqual(Uint8Array.of(0x80, 0x98, 0x02));
    expect(parseHex('80 98')).toBeUndefined();
    expect(parseHex('809')).toBeUndefined();
    expect(parseHex('zz')).toBeUndefined();
    expect(parseBase64('gJgC')).toEqual(Uint8Array.of(0x80, 0x98, 0x02));
    expect(parseBase64('gJ gC\n')).toEqual(Uint8Array.of(0x80, 0x98, 0x02));
    expect(parseBase64('')).toBeUndefined();
    expect(parseBase64('gJg')).toBeUndefined();
    expect(parseBase64('gJ*C')).toBeUndefined();
    expect(toHexUpper(Uint8Array.of(0xab, 0x01))).toBe('AB01');
    expect(Buffer.from(sha256(utf8('abc'))).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
