// Pure checks shared by the PnC suites: certificate hash data format (the app note's
// CertificateHashDataType rules), inRange limits turned into rule verdicts, the A02/A03 SignCertificate
// back-off analysis and small parsers. No I/O here, so test/bench/checks.test.ts covers every rule.
//
//   hashDataProblems(entry, 'iso15118CertificateHashData[0]')   // [] or one sentence per broken rule
//   outOfRange(412, { max: 300 })                                // '412 above max 300'
//   analyzeBackoff([0, 1010, 3020], { waitMinimumS: 1, repeatTimes: 2, toleranceMs: 100 })
import type { InRangeParams } from '../../src/runner/measure.ts';

const HASH_HEX_CHARS: Readonly<Record<string, number>> = { SHA256: 64, SHA384: 96, SHA512: 128 };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Format problems of one CertificateHashData / OCSPRequestData entry as the charger must send it:
 * hashAlgorithm SHA256|SHA384|SHA512, issuerNameHash and issuerKeyHash lower-case hex of the hash's
 * length, serialNumber lower-case hex without leading zeros. `where` prefixes each message.
 */
export function hashDataProblems(entry: unknown, where: string, opts: { responderUrl?: boolean } = {}): string[] {
  if (!isObject(entry)) return [`${where} is not an object`];
  const out: string[] = [];
  const alg = entry.hashAlgorithm;
  const hexLen = typeof alg === 'string' ? HASH_HEX_CHARS[alg] : undefined;
  if (hexLen === undefined) out.push(`${where}.hashAlgorithm ${JSON.stringify(alg)} is not SHA256, SHA384 or SHA512`);
  for (const f of ['issuerNameHash', 'issuerKeyHash'] as const) {
    const v = entry[f];
    if (typeof v !== 'string' || v === '') out.push(`${where}.${f} is missing`);
    else if (!/^[0-9a-f]+$/.test(v)) out.push(`${where}.${f} "${v}" is not lower-case hex${/^[0-9A-Fa-f]+$/.test(v) ? ' (upper-case digits)' : ''}`);
    else if (hexLen !== undefined && v.length !== hexLen) out.push(`${where}.${f} has ${v.length} hex digits; ${String(alg)} gives ${hexLen}`);
  }
  const s = entry.serialNumber;
  if (typeof s !== 'string' || s === '') out.push(`${where}.serialNumber is missing`);
  else if (!/^[0-9a-f]+$/.test(s)) out.push(`${where}.serialNumber "${s}" is not lower-case hex`);
  else if (s.length > 1 && s.startsWith('0')) out.push(`${where}.serialNumber "${s}" has leading zeros`);
  if (opts.responderUrl) {
    const u = entry.responderURL;
    if (typeof u !== 'string' || !/^https?:\/\/\S+$/.test(u)) out.push(`${where}.responderURL ${JSON.stringify(u)} is not an http(s) URL`);
  }
  return out;
}

/** What the bench knows about serial numbers: did this issuer (found by its hashes) issue this serial? */
export interface SerialOracle {
  /** undefined: the issuer is not one the bench knows, so the serial cannot be checked */
  isIssued(entry: { hashAlgorithm: string; issuerNameHash: string; issuerKeyHash: string }, serialHex: string): boolean | undefined;
}

/**
 * Serial numbers that name no certificate of their issuer but whose value read as a decimal number
 * does: the charger wrote the serial in decimal. Entries of issuers the oracle does not know are
 * returned in `unchecked`.
 */
export function decimalSerialProblems(entries: readonly unknown[], oracle: SerialOracle, where: string): { problems: string[]; unchecked: number } {
  const problems: string[] = [];
  let unchecked = 0;
  entries.forEach((e, i) => {
    if (!isObject(e)) return;
    const { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber } = e;
    if (typeof hashAlgorithm !== 'string' || typeof issuerNameHash !== 'string' || typeof issuerKeyHash !== 'string' || typeof serialNumber !== 'string') return;
    const id = { hashAlgorithm, issuerNameHash, issuerKeyHash };
    const issued = oracle.isIssued(id, serialNumber);
    if (issued === undefined) {
      unchecked++;
      return;
    }
    if (issued) return;
    if (/^\d+$/.test(serialNumber)) {
      const hex = BigInt(serialNumber).toString(16);
      if (oracle.isIssued(id, hex)) {
        problems.push(`${where}[${i}].serialNumber "${serialNumber}" is the decimal form of the certificate's serial; hex is "${hex}"`);
        return;
      }
    }
    problems.push(`${where}[${i}].serialNumber "${serialNumber}" names no certificate of that issuer`);
  });
  return { problems, unchecked };
}

/**
 * Why a meter poll did not watch a session, or undefined when it did: no reading at all, or more failed
 * readings than `maxFailedShare` (0…1) of all. The caller turns it into the meter's LinkError (INFRA).
 */
export function meterPollProblem(summary: { readings: number; failures: number } | undefined, maxFailedShare: number): string | undefined {
  const readings = summary?.readings ?? 0;
  const failures = summary?.failures ?? 0;
  if (readings === 0) return `no meter reading during the session (${failures} failed): power on the DC path was not observed`;
  const share = failures / (readings + failures);
  if (share > maxFailedShare) return `${failures} of ${readings + failures} meter readings during the session failed (more than ${maxFailedShare} of them): the session was not watched`;
  return undefined;
}

/** One entry a list must hold exactly once (e.g. the hash data of one certificate of a chain). */
export interface ExpectedEntry {
  /** names it in messages, e.g. `contract certificate` */
  label: string;
  matches(entry: unknown): boolean;
}

/**
 * Problems of a list that must hold exactly the `expected` entries, each once, and nothing else (order
 * free): missing ones, duplicates, entries that match none and entries that match several (so no
 * problems means as many entries as expected). `where` prefixes each message.
 */
export function exactEntriesProblems(entries: readonly unknown[], expected: readonly ExpectedEntry[], where: string): string[] {
  const out: string[] = [];
  const usedBy = new Map<number, string[]>();
  for (const want of expected) {
    const hits = entries.map((e, i) => (want.matches(e) ? i : -1)).filter((i) => i >= 0);
    if (hits.length === 0) out.push(`${where} has no entry for the ${want.label}`);
    else if (hits.length > 1) out.push(`${where} lists the ${want.label} ${hits.length} times`);
    for (const i of hits) usedBy.set(i, [...(usedBy.get(i) ?? []), want.label]);
  }
  entries.forEach((e, i) => {
    const labels = usedBy.get(i) ?? [];
    if (labels.length === 0) out.push(`${where}[${i}] (serial ${isObject(e) ? JSON.stringify(e.serialNumber) : JSON.stringify(e)}) is none of: ${expected.map((x) => x.label).join(', ')}`);
    else if (labels.length > 1) out.push(`${where}[${i}] stands for several entries at once: ${labels.join(', ')}`);
  });
  return out;
}

/** Why `value` fails an inRange limit, or undefined when it passes (marginal bands pass). */
export function outOfRange(value: number, p: InRangeParams): string | undefined {
  if (!Number.isFinite(value)) return `${value} is not a finite number`;
  if (p.min !== undefined && value < p.min) return `${value} below min ${p.min}`;
  if (p.max !== undefined && value > p.max) return `${value} above max ${p.max}`;
  return undefined;
}

/** Reads an inRange parameter from a raw limit value; a clear error names the key when it has the wrong shape. */
export function asInRange(key: string, raw: unknown): InRangeParams {
  if (!isObject(raw)) throw new TypeError(`limit ${key}: expected { min?, max?, marginalMin?, marginalMax? }, got ${JSON.stringify(raw)}`);
  const out: InRangeParams = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!['min', 'max', 'marginalMin', 'marginalMax'].includes(k)) throw new TypeError(`limit ${key}: unknown key "${k}"`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`limit ${key}: ${k} must be a number, got ${JSON.stringify(v)}`);
    out[k as keyof InRangeParams] = v;
  }
  if (out.min === undefined && out.max === undefined) throw new TypeError(`limit ${key}: needs min or max`);
  return out;
}

/** A number from a raw limit value (waits, durations, thresholds the suite itself uses). */
export function asNumber(key: string, raw: unknown, opts: { min?: number; max?: number } = {}): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw)) throw new TypeError(`limit ${key}: expected a number, got ${JSON.stringify(raw)}`);
  if (opts.min !== undefined && raw < opts.min) throw new TypeError(`limit ${key}: must be >= ${opts.min}, got ${raw}`);
  if (opts.max !== undefined && raw > opts.max) throw new TypeError(`limit ${key}: must be <= ${opts.max}, got ${raw}`);
  return raw;
}

export interface BackoffExpectation {
  /** CertSigningWaitMinimum, s */
  waitMinimumS: number;
  /** CertSigningRepeatTimes */
  repeatTimes: number;
  /** a resend may come this much earlier than its due time (timer granularity), ms */
  toleranceMs: number;
}

export interface BackoffAnalysis {
  /** gaps between consecutive sends, s */
  gapsS: number[];
  /** the gaps A02.FR.17–19 ask for: WaitMinimum × 2^(k-1) */
  expectedGapsS: number[];
  /** each gap divided by its expected gap (1.0 = on time) */
  ratios: number[];
  problems: string[];
}

/**
 * SignCertificate resend times (ms, any origin, in order of arrival) against the back-off rule: the
 * k-th resend comes WaitMinimum × 2^(k-1) s after the previous send, never earlier than that minus the
 * tolerance; 1 + RepeatTimes sends in total, none after. Lateness is not judged here (measurements
 * with limits do that); `problems` lists rule breaks only.
 */
export function analyzeBackoff(sendTimesMs: readonly number[], e: BackoffExpectation): BackoffAnalysis {
  const gapsS: number[] = [];
  const expectedGapsS: number[] = [];
  const ratios: number[] = [];
  const problems: string[] = [];
  for (let i = 1; i < sendTimesMs.length; i++) {
    const gap = ((sendTimesMs[i] as number) - (sendTimesMs[i - 1] as number)) / 1000;
    const expected = e.waitMinimumS * 2 ** (i - 1);
    gapsS.push(gap);
    expectedGapsS.push(expected);
    ratios.push(expected > 0 ? gap / expected : Infinity);
    if (i <= e.repeatTimes && gap * 1000 < expected * 1000 - e.toleranceMs) {
      problems.push(`resend ${i} came ${gap.toFixed(3)} s after the previous SignCertificate; CertSigningWaitMinimum=${e.waitMinimumS} asks for ${expected} s`);
    }
  }
  const want = 1 + e.repeatTimes;
  if (sendTimesMs.length > want) problems.push(`${sendTimesMs.length} SignCertificate sends; CertSigningRepeatTimes=${e.repeatTimes} allows ${want}`);
  else if (sendTimesMs.length < want) problems.push(`${sendTimesMs.length} SignCertificate send(s); CertSigningRepeatTimes=${e.repeatTimes} asks for ${want} when no CertificateSigned comes`);
  return { gapsS, expectedGapsS, ratios, problems };
}

/** The data of an EV state event (`detail` is the JSON text of the MQTT variable's data). */
export function evDetailText(detail: string | undefined): string | undefined {
  if (detail === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(detail);
    return typeof v === 'string' ? v : detail;
  } catch {
    return detail;
  }
}

/** `[{ key, value }]` of GetConfiguration.conf as a map (keys the charger did not report are absent). */
export function configMap(conf: { configurationKey?: { key: string; value?: string }[] }): Map<string, string | undefined> {
  return new Map((conf.configurationKey ?? []).map((k) => [k.key, k.value]));
}
