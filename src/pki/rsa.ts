// Deterministic RSA key generation for the CSMS TLS server certificate (`csms-server-rsa`).
// OpenSSL cannot be seeded, so the key comes from a seeded HMAC-DRBG (NIST SP 800-90A, SHA-256)
// and probable-prime search with BigInt: small-prime sieve, then Miller–Rabin with DRBG bases
// (FIPS 186-5 B.3.1-style: top two bits set so n has exactly `modulusBits` bits, gcd(p−1, e) = 1,
// |p − q| > 2^(bits/2 − 100)). Same seed bytes → same key.
//
//   const key = generateRsaKeyPair(seedBytes, 2048); // { n, e, d, p, q, dp, dq, qi }
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToBigint } from './encoding.ts';

export interface RsaKeyPair {
  readonly type: 'rsa';
  readonly modulusBits: number;
  readonly n: bigint;
  readonly e: bigint;
  readonly d: bigint;
  readonly p: bigint;
  readonly q: bigint;
  readonly dp: bigint;
  readonly dq: bigint;
  readonly qi: bigint;
}

/** HMAC_DRBG (SP 800-90A §10.1.2) with SHA-256, no reseeding, no additional input. */
export class HmacDrbg {
  #k = new Uint8Array(32);
  #v = new Uint8Array(32).fill(1);

  constructor(seedMaterial: Uint8Array) {
    this.#update(seedMaterial);
  }

  #update(data?: Uint8Array): void {
    const withByte = (b: number) => {
      const parts = [this.#v, Uint8Array.of(b), ...(data ? [data] : [])];
      const buf = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        buf.set(p, o);
        o += p.length;
      }
      return buf;
    };
    this.#k = hmac(sha256, this.#k, withByte(0));
    this.#v = hmac(sha256, this.#k, this.#v);
    if (data && data.length > 0) {
      this.#k = hmac(sha256, this.#k, withByte(1));
      this.#v = hmac(sha256, this.#k, this.#v);
    }
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    let o = 0;
    while (o < length) {
      this.#v = hmac(sha256, this.#k, this.#v);
      const take = Math.min(32, length - o);
      out.set(this.#v.subarray(0, take), o);
      o += take;
    }
    this.#update();
    return out;
  }
}

export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    e >>= 1n;
    if (e > 0n) b = (b * b) % modulus;
  }
  return result;
}

/** Modular inverse by the extended Euclidean algorithm; throws if gcd(a, m) ≠ 1. */
export function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [((a % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new RangeError('not invertible');
  return ((oldS % m) + m) % m;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

const SMALL_PRIMES: number[] = (() => {
  const limit = 20_000;
  const sieve = new Uint8Array(limit + 1);
  const out: number[] = [];
  for (let i = 2; i <= limit; i++) {
    if (sieve[i]) continue;
    out.push(i);
    for (let j = i * i; j <= limit; j += i) sieve[j] = 1;
  }
  return out;
})();

function randomBigint(drbg: HmacDrbg, bits: number): bigint {
  const bytes = drbg.bytes(Math.ceil(bits / 8));
  const excess = bytes.length * 8 - bits;
  return bytesToBigint(bytes) >> BigInt(excess);
}

/** Miller–Rabin with `rounds` DRBG-chosen bases in [2, n−2]. */
export function isProbablePrime(n: bigint, rounds: number, drbg: HmacDrbg): boolean {
  if (n < 2n) return false;
  for (const p of SMALL_PRIMES.slice(0, 50)) {
    const bp = BigInt(p);
    if (n === bp) return true;
    if (n % bp === 0n) return false;
  }
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  const bits = n.toString(2).length;
  next: for (let i = 0; i < rounds; i++) {
    let a: bigint;
    do a = randomBigint(drbg, bits);
    while (a < 2n || a > n - 2n);
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let r = 1; r < s; r++) {
      x = (x * x) % n;
      if (x === n - 1n) continue next;
    }
    return false;
  }
  return true;
}

function generatePrime(drbg: HmacDrbg, bits: number, e: bigint): bigint {
  const top2 = 3n << BigInt(bits - 2);
  for (;;) {
    let candidate = randomBigint(drbg, bits) | top2 | 1n;
    // Incremental search: residues modulo the small primes, step by 2 until none is zero.
    const residues = SMALL_PRIMES.map((p) => Number(candidate % BigInt(p)));
    for (let delta = 0; delta < 1 << 16; delta += 2) {
      let divisible = false;
      for (let i = 0; i < SMALL_PRIMES.length; i++) {
        if (((residues[i] as number) + delta) % (SMALL_PRIMES[i] as number) === 0) {
          divisible = true;
          break;
        }
      }
      if (divisible) continue;
      const c = candidate + BigInt(delta);
      if (c.toString(2).length !== bits) break;
      if (modPow(2n, c - 1n, c) !== 1n) continue; // cheap Fermat filter first
      if (gcd(c - 1n, e) !== 1n) continue;
      if (isProbablePrime(c, 5, drbg)) return c;
    }
    candidate = 0n; // start over from a fresh random point
  }
}

/** A deterministic RSA key of `modulusBits` bits (≥ 1024, multiple of 2) with e = 65537. */
export function generateRsaKeyPair(seed: Uint8Array, modulusBits = 2048): RsaKeyPair {
  if (!Number.isInteger(modulusBits) || modulusBits < 1024 || modulusBits % 2) throw new RangeError(`modulusBits ${modulusBits}: must be an even integer ≥ 1024`);
  const drbg = new HmacDrbg(seed);
  const e = 65537n;
  const half = modulusBits / 2;
  const minDiff = 1n << BigInt(half - 100);
  for (;;) {
    const p = generatePrime(drbg, half, e);
    const q = generatePrime(drbg, half, e);
    const diff = p > q ? p - q : q - p;
    if (diff <= minDiff) continue;
    const [P, Q] = p > q ? [p, q] : [q, p];
    const n = P * Q;
    if (n.toString(2).length !== modulusBits) continue;
    const lambda = ((P - 1n) * (Q - 1n)) / gcd(P - 1n, Q - 1n);
    const d = modInverse(e, lambda);
    return { type: 'rsa', modulusBits, n, e, d, p: P, q: Q, dp: d % (P - 1n), dq: d % (Q - 1n), qi: modInverse(Q, P) };
  }
}
