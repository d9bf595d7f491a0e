// eMAID (e-mobility account identifier, ISO 15118-2 Annex H / DIN SPEC 91286): parse, validate,
// normalise and generate, with the check digit of the eMI3 "EVCO ID check digit" algorithm.
// A contract certificate's CN is the eMAID; the bench compares eMAIDs after normalising
// (upper case, separators removed).
//
// Syntax: country (2 letters) [-] provider (3 alphanumerics) [-] instance (9 alphanumerics)
// [[-] check digit (1 alphanumeric)]; e.g. `DE-ABC-123456789-Y`, `DEABC123456789Y`.
//
// Check digit over the 14 normalised characters: each character's value v (0–9, A–Z = 0..35) is split
// as v = 18a + 9b + 3c + d; (a, b) is a vector over GF(2), (c, d) over GF(3). Position i (1-based)
// multiplies them by P1^i = [[0,1],[1,1]]^i (mod 2) and P2^i = [[0,1],[1,2]]^i (mod 3); the sums give
// (c1, c2) mod 2 and (c3, c4) mod 3; then q1 = c1, q2 = c2, r1 = −c4 mod 3, r2 = −(c3 + r1) mod 3 and the
// check character has value 18·q1 + 9·q2 + 3·r1 + r2. `DEABC123456789` → `Y`.
//
//   emaidCheckDigit('DEABC123456789')          // 'Y'
//   validateEmaid('DE-ABC-123456789-Y')        // { valid: true, normalized: 'DEABC123456789Y', ... }
//   generateEmaid({ country: 'DE', providerId: 'PNB', instance: 'C12345678' }) // 'DEPNBC12345678' + check digit
import { PkiInputError } from './errors.ts';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const EMAID_RE = /^([A-Z]{2})-?([A-Z0-9]{3})-?([A-Z0-9]{9})(?:-?([A-Z0-9]))?$/;

// P1^i mod 2 and P2^i mod 3 for i = 1..14 (the powers cycle with period 3 and 8, precomputed anyway).
type M2 = readonly [number, number, number, number];
const mul = (x: M2, y: M2, m: number): M2 => [
  (x[0] * y[0] + x[1] * y[2]) % m,
  (x[0] * y[1] + x[1] * y[3]) % m,
  (x[2] * y[0] + x[3] * y[2]) % m,
  (x[2] * y[1] + x[3] * y[3]) % m,
];
const powers = (p: M2, m: number): M2[] => {
  const out: M2[] = [p];
  for (let i = 1; i < 14; i++) out.push(mul(out[i - 1] as M2, p, m));
  return out;
};
const P1_POWERS = powers([0, 1, 1, 1], 2);
const P2_POWERS = powers([0, 1, 1, 2], 3);

/** The check character for 14 normalised eMAID characters (country, provider, instance). */
export function emaidCheckDigit(base: string): string {
  const s = base.toUpperCase();
  if (!/^[A-Z]{2}[A-Z0-9]{12}$/.test(s)) throw new PkiInputError('emaid', `"${base}" must be 2 letters + 12 alphanumerics (no separators) to compute a check digit`);
  let c1 = 0;
  let c2 = 0;
  let c3 = 0;
  let c4 = 0;
  for (let i = 0; i < 14; i++) {
    const v = ALPHABET.indexOf(s[i] as string);
    const a = Math.floor(v / 18);
    const b = Math.floor((v % 18) / 9);
    const c = Math.floor((v % 9) / 3);
    const d = v % 3;
    const p1 = P1_POWERS[i] as M2;
    const p2 = P2_POWERS[i] as M2;
    // row vector × matrix
    c1 += a * p1[0] + b * p1[2];
    c2 += a * p1[1] + b * p1[3];
    c3 += c * p2[0] + d * p2[2];
    c4 += c * p2[1] + d * p2[3];
  }
  const q1 = c1 % 2;
  const q2 = c2 % 2;
  const r1 = (3 - (c4 % 3)) % 3;
  const r2 = (6 - ((c3 % 3) + r1)) % 3;
  return ALPHABET[18 * q1 + 9 * q2 + 3 * r1 + r2] as string;
}

export interface EmaidParts {
  country: string;
  providerId: string;
  instance: string;
  /** The check digit as written, if any. */
  checkDigit: string | undefined;
  /** The check digit the algorithm gives for this eMAID. */
  expectedCheckDigit: string;
  /** Upper case, no separators, with the check digit if one was written (14 or 15 characters). */
  normalized: string;
}

export type EmaidValidation =
  | ({ valid: true } & EmaidParts)
  | { valid: false; reason: string; parts?: EmaidParts };

/** Splits an eMAID into its parts; throws PkiInputError (field `emaid`) if the syntax is wrong. */
export function parseEmaid(emaid: string, field = 'emaid'): EmaidParts {
  if (typeof emaid !== 'string') throw new PkiInputError(field, 'expected a string');
  const m = EMAID_RE.exec(emaid.toUpperCase());
  if (!m) {
    throw new PkiInputError(field, `"${emaid}" is not an eMAID: expected country (2 letters) [-] provider (3 alphanumerics) [-] instance (9 alphanumerics) [[-] check digit]`);
  }
  const [, country = '', providerId = '', instance = '', checkDigit] = m;
  const base = `${country}${providerId}${instance}`;
  return { country, providerId, instance, checkDigit, expectedCheckDigit: emaidCheckDigit(base), normalized: `${base}${checkDigit ?? ''}` };
}

/**
 * Validates syntax and, when present (or when `requireCheckDigit`), the check digit.
 * Never throws for a string input.
 */
export function validateEmaid(emaid: string, opts: { requireCheckDigit?: boolean } = {}): EmaidValidation {
  let parts: EmaidParts;
  try {
    parts = parseEmaid(emaid);
  } catch (e) {
    if (e instanceof PkiInputError) return { valid: false, reason: e.message };
    throw e;
  }
  if (parts.checkDigit === undefined) {
    if (opts.requireCheckDigit) return { valid: false, reason: `emaid: "${emaid}" has no check digit (expected ${parts.expectedCheckDigit})`, parts };
    return { valid: true, ...parts };
  }
  if (parts.checkDigit !== parts.expectedCheckDigit) {
    return { valid: false, reason: `emaid: "${emaid}" has check digit ${parts.checkDigit}, expected ${parts.expectedCheckDigit}`, parts };
  }
  return { valid: true, ...parts };
}

/** Upper case without separators; throws PkiInputError on bad syntax. */
export function normalizeEmaid(emaid: string, field = 'emaid'): string {
  return parseEmaid(emaid, field).normalized;
}

/**
 * Two eMAIDs name the same account: equal after normalisation, where a missing check digit on
 * either side is ignored (an idToken may carry the 14-character form).
 */
export function emaidEquals(a: string, b: string): boolean {
  let pa: EmaidParts;
  let pb: EmaidParts;
  try {
    pa = parseEmaid(a);
    pb = parseEmaid(b);
  } catch {
    return false;
  }
  if (pa.normalized.slice(0, 14) !== pb.normalized.slice(0, 14)) return false;
  return pa.checkDigit === undefined || pb.checkDigit === undefined || pa.checkDigit === pb.checkDigit;
}

export interface GenerateEmaidOptions {
  /** ISO 3166 alpha-2 country, default `DE`. */
  country?: string;
  /** 3 alphanumerics, default `PNB`. */
  providerId?: string;
  /** 9 alphanumerics; default: `C` + 8 characters from `randomBytes`. */
  instance?: string;
  /** Source of the instance characters when `instance` is not given (default: crypto random). */
  randomBytes?: (n: number) => Uint8Array;
  /** `-` between the parts (`DE-PNB-C12345678-X`), default none. */
  separator?: '' | '-';
  /** Write a wrong check digit on purpose (negative test material). */
  wrongCheckDigit?: boolean;
}

/** A syntactically valid eMAID with its correct check digit (15 characters without separators). */
export function generateEmaid(opts: GenerateEmaidOptions = {}): string {
  const country = (opts.country ?? 'DE').toUpperCase();
  const providerId = (opts.providerId ?? 'PNB').toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) throw new PkiInputError('emaid.country', `"${opts.country}" must be 2 letters`);
  if (!/^[A-Z0-9]{3}$/.test(providerId)) throw new PkiInputError('emaid.providerId', `"${opts.providerId}" must be 3 alphanumerics`);
  let instance = opts.instance?.toUpperCase();
  if (instance === undefined) {
    const bytes = (opts.randomBytes ?? defaultRandomBytes)(8);
    instance = `C${Array.from(bytes, (b) => ALPHABET[b % 36]).join('')}`;
  }
  if (!/^[A-Z0-9]{9}$/.test(instance)) throw new PkiInputError('emaid.instance', `"${opts.instance}" must be 9 alphanumerics`);
  const correct = emaidCheckDigit(`${country}${providerId}${instance}`);
  const check = opts.wrongCheckDigit ? (ALPHABET[(ALPHABET.indexOf(correct) + 1) % 36] as string) : correct;
  const sep = opts.separator ?? '';
  return [country, providerId, instance, check].join(sep);
}

function defaultRandomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
