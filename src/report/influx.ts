// InfluxDB output of a run: turns a RunRecord into points (layout: shared/reference/hil-frameworks.md
// §6.6), serialises them as line protocol, writes them with the `influx` package (InfluxDB 1.x HTTP
// API) and, when the server is down or refuses, spools them to `<runDir>/influx.lp` so that
// `pnc-bench upload <runDir>` can replay them later. The CLI calls `exportRunToInflux` at the end
// of a run and `uploadRun` for `pnc-bench upload`; tests use the lower-level functions.
//
// URL: http(s)://[user:pass@]host[:port]/<database>[?rp=<retentionPolicy>&precision=ns]
//   (port defaults to 8086; `precision` is accepted only as n/ns because points carry ns timestamps).
//   InfluxDB 2.x / 3.x / Cloud through the v1-compatibility API: put the API token in the password
//   (any user name works, e.g. http://bench:<token>@influx:8086/<db>); <db>/<rp> must map to a bucket
//   (DBRP mapping). The `CREATE DATABASE` we send first is ignored when such a server rejects it.
//
// Layout rules (all deterministic: the same record always gives byte-identical line protocol):
// - Tags are bounded values only; ids, serials, SHAs, free text go to fields. A tag whose value
//   would be empty is omitted. Tag values and keys are sanitised: control characters become a
//   space and `\` becomes `/` (line protocol cannot carry them losslessly in tags).
// - `hil_run.suite` is the suite's name when the run has exactly one suite, `multi` when it has
//   more (the sorted, comma-joined names are in the `suites` string field), absent when none.
// - `fw_line` is the first `major.minor` (or lone `major`) number found in dut.firmware, else
//   `unknown`; it tags hil_run, hil_phase, hil_measurement and hil_timing so dashboards compare
//   firmware lines side by side.
// - hil_throughput is tagged by rig and link only. The record's `window` is the measured length of
//   the window (`1.003s`), different on every point, so it is not a tag (it would make a series per
//   point): its seconds go to the float field `window_s` (from `<n>s`, `<n>ms`, `<n>min` or `<n>h`;
//   absent when the text is no such duration).
// - phases_failed / measurements_failed count the LAST attempt of each phase only (an INFRA
//   attempt that was retried and then passed is not a failure of the charger); a phase fails when
//   its outcome is not PASS or SKIPPED, a measurement or series when its outcome is FAIL.
// - hil_measurement.value: numbers as float, booleans as 1/0, strings in `value_str` instead,
//   null gives neither. limit_low/limit_high come from the first inRange (min/max) or
//   withinPercent (target ∓ |target|·percent/100) validator that gives them.
// - hil_series, one point per sample: `value` is the sample's last element, the coordinates are
//   float fields named after `dims` (a dim named time/value/run_id or like a tag gets a `dim_`
//   prefix). Timestamp: first dim named `t` → that coordinate is epoch ms; first dim ending in
//   `_ms` (t_ms, elapsed_ms) → phase tStart + coordinate ms; otherwise phase tStart + index µs.
// - Integer fields (`i` suffix, same type on every point): attempt, seq, errors, dropped,
//   reconnects, phases_failed, measurements_failed. Every other numeric field is a float.
// - Timestamps: ns = round(t_ms·1000) µs · 1000. InfluxDB keeps one point per
//   (measurement, tag set, timestamp), so a later point colliding with an earlier one of the same
//   record is moved by +1 ns (repeatedly, in generation order). Rewriting the same points
//   therefore overwrites instead of duplicating: uploads are idempotent.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InfluxDB, ResultError, type IPoint } from 'influx';
import { writeFileAtomic } from './outputs.ts';
import {
  lastAttempts,
  RunRecord,
  type MeasurementRecord,
  type PhaseRecord,
  type SeriesRecord,
  type SuiteRecord,
  type ValidatorSpec,
} from './record.ts';

// ───────────────────────────── URL ─────────────────────────────

export const INFLUX_URL_FORM = 'http(s)://[user:password@]host[:port]/<database>[?rp=<retentionPolicy>]';

export interface InfluxTarget {
  protocol: 'http' | 'https';
  host: string;
  port: number;
  database: string;
  username?: string;
  password?: string;
  retentionPolicy?: string;
}

/** A malformed InfluxDB URL; the message says what is wrong and shows the expected form. */
export class InfluxUrlError extends Error {
  constructor(url: string, problem: string) {
    super(`invalid InfluxDB URL ${JSON.stringify(redactInfluxUrl(url))}: ${problem}; expected ${INFLUX_URL_FORM}`);
    this.name = 'InfluxUrlError';
  }
}

const DEFAULT_INFLUX_PORT = 8086;

export function parseInfluxUrl(url: string): InfluxTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) throw new InfluxUrlError(url, 'not a URL (no scheme://)');
  if (scheme !== 'http' && scheme !== 'https') {
    throw new InfluxUrlError(url, `scheme must be http or https, not ${JSON.stringify(scheme)}`);
  }
  // URL drops a port equal to the scheme default (https://h:443 → ''), so read it from the text.
  const authority = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?/i.exec(url);
  const portText = authority?.[2];
  let port = DEFAULT_INFLUX_PORT;
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
      throw new InfluxUrlError(url, `port must be a number 1-65535, not ${JSON.stringify(portText)}`);
    }
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InfluxUrlError(url, 'not a valid URL (check the host name and percent-encoding)');
  }
  if (u.hostname === '') throw new InfluxUrlError(url, 'missing host');
  if (u.hash !== '') throw new InfluxUrlError(url, 'unexpected #fragment');
  const segments = u.pathname.split('/').filter((s, i, all) => !(s === '' && (i === 0 || i === all.length - 1)));
  if (segments.length === 0 || segments[0] === '') {
    throw new InfluxUrlError(url, 'missing database name in the path');
  }
  if (segments.length > 1) {
    throw new InfluxUrlError(
      url,
      `the path must be just the database name, got ${JSON.stringify(u.pathname)} (a retention policy goes in ?rp=)`,
    );
  }
  const database = decodeComponent(url, segments[0] as string, 'database name');
  const target: InfluxTarget = { protocol: scheme, host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port, database };
  if (u.username !== '' || u.password !== '') {
    target.username = decodeComponent(url, u.username, 'user name');
    if (u.password !== '') target.password = decodeComponent(url, u.password, 'password');
  }
  for (const [key, value] of u.searchParams) {
    if (key === 'rp') {
      if (value === '') throw new InfluxUrlError(url, 'empty retention policy in ?rp=');
      target.retentionPolicy = value;
    } else if (key === 'precision') {
      if (value !== 'n' && value !== 'ns') {
        throw new InfluxUrlError(url, `precision must be n (ns) — points carry nanosecond timestamps — not ${JSON.stringify(value)}`);
      }
    } else if (key === 'db') {
      throw new InfluxUrlError(url, 'the database goes in the path, not in ?db=');
    } else {
      throw new InfluxUrlError(url, `unknown query parameter ${JSON.stringify(key)} (accepted: rp, precision)`);
    }
  }
  return target;
}

function decodeComponent(url: string, text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new InfluxUrlError(url, `bad percent-encoding in the ${what}`);
  }
}

/** The URL without its password (for logs and influx.upload.json); unparsable text is returned masked. */
export function redactInfluxUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');
  }
}

// ──────────────────────────── points ────────────────────────────

export interface InfluxPoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, number | string | boolean>;
  timestampNs: bigint;
}

/** Fields written as integers (`…i`); every other numeric field is a float. */
export const INTEGER_FIELDS: ReadonlySet<string> = new Set([
  'attempt',
  'seq',
  'errors',
  'dropped',
  'reconnects',
  'phases_failed',
  'measurements_failed',
]);

export const INFLUX_MEASUREMENTS = [
  'hil_run',
  'hil_phase',
  'hil_measurement',
  'hil_series',
  'hil_timing',
  'hil_throughput',
  'hil_rig_health',
] as const;

/** Epoch ms (float, µs resolution) → epoch ns, rounded to the µs. */
export function msToNs(tMs: number): bigint {
  if (!Number.isFinite(tMs)) throw new RangeError(`timestamp is not a finite number: ${tMs}`);
  return BigInt(Math.round(tMs * 1000)) * 1000n;
}

function sanitizeTag(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/\\/g, '/');
}

/** Builds a tag map in sorted key order, dropping empty values. */
function tagsOf(entries: Record<string, string | undefined>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const key of Object.keys(entries).sort()) {
    const raw = entries[key];
    if (raw === undefined) continue;
    const value = sanitizeTag(raw);
    if (value !== '') tags[key] = value;
  }
  return tags;
}

function fieldsOf(entries: Record<string, number | string | boolean | undefined>): Record<string, number | string | boolean> {
  const fields: Record<string, number | string | boolean> = {};
  for (const key of Object.keys(entries).sort()) {
    const value = entries[key];
    if (value !== undefined) fields[key] = value;
  }
  return fields;
}

/** `major.minor` of a firmware version string, `unknown` when there is none. */
export function firmwareLine(firmware: string | undefined): string {
  if (firmware === undefined) return 'unknown';
  const m = /(\d+)(?:\.(\d+))?/.exec(firmware);
  if (!m) return 'unknown';
  return m[2] === undefined ? String(Number(m[1])) : `${Number(m[1])}.${Number(m[2])}`;
}

function limitsOf(validators: readonly ValidatorSpec[]): { low?: number; high?: number } {
  for (const v of validators) {
    if (v.kind === 'inRange' && (v.min !== undefined || v.max !== undefined)) {
      return { ...(v.min !== undefined ? { low: v.min } : {}), ...(v.max !== undefined ? { high: v.max } : {}) };
    }
    if (v.kind === 'withinPercent') {
      const delta = (Math.abs(v.target) * v.percent) / 100;
      return { low: v.target - delta, high: v.target + delta };
    }
  }
  return {};
}

function measurementValue(m: MeasurementRecord): { value?: number; value_str?: string } {
  const v = m.value;
  if (v === null) return {};
  if (typeof v === 'boolean') return { value: v ? 1 : 0 };
  if (typeof v === 'string') return { value_str: v };
  return Number.isFinite(v) ? { value: v } : { value_str: String(v) };
}

const SERIES_RESERVED_KEYS = new Set(['time', 'value', 'run_id', 'rig', 'suite', 'phase', 'name', 'unit', '__proto__']);

function dimFieldName(dim: string): string {
  const key = sanitizeTag(dim);
  return key === '' || SERIES_RESERVED_KEYS.has(key) ? `dim_${key}` : key;
}

function seriesPoints(
  base: { rig: string; suite: string; runId: string },
  phase: PhaseRecord,
  s: SeriesRecord,
): InfluxPoint[] {
  const tags = tagsOf({ rig: base.rig, suite: base.suite, phase: phase.name, name: s.name, unit: s.unit });
  const dimKeys = s.dims.map(dimFieldName);
  const first = s.dims[0];
  const timeRule: 'absolute' | 'offset' | 'index' =
    first === 't' ? 'absolute' : first !== undefined && first.endsWith('_ms') ? 'offset' : 'index';
  return s.points.map((p, index) => {
    if (p.length !== s.dims.length + 1) {
      throw new Error(
        `series ${JSON.stringify(s.name)} of phase ${JSON.stringify(phase.name)} (suite ${JSON.stringify(base.suite)}): ` +
          `point ${index} has ${p.length} numbers, expected ${s.dims.length + 1} (dims ${JSON.stringify(s.dims)} + value)`,
      );
    }
    const coords: Record<string, number> = {};
    dimKeys.forEach((k, i) => (coords[k] = p[i] as number));
    const t0 = p[0] as number;
    const timestampNs =
      timeRule === 'absolute' ? msToNs(t0) : timeRule === 'offset' ? msToNs(phase.tStart + t0) : msToNs(phase.tStart) + BigInt(index) * 1000n;
    return {
      measurement: 'hil_series',
      tags: { ...tags },
      fields: fieldsOf({ ...coords, value: p[s.dims.length] as number, run_id: base.runId }),
      timestampNs,
    };
  });
}

/**
 * All points of a run, in a fixed order: run, then per suite per phase attempt the phase, its
 * measurements and series, then timings, throughput, rig health. (measurement, tags, timestamp)
 * is unique within the result.
 */
export function pointsFromRecord(record: RunRecord): InfluxPoint[] {
  const rig = record.rig.id;
  const rigClass = record.rig.class;
  const runId = record.runId;
  const points: InfluxPoint[] = [];

  const suiteNames = record.suites.map((s) => s.name).sort();
  const fwLine = firmwareLine(record.dut.firmware);
  let phasesFailed = 0;
  let measurementsFailed = 0;
  for (const suite of record.suites) {
    for (const p of lastAttempts(suite.phases)) {
      if (p.outcome !== 'PASS' && p.outcome !== 'SKIPPED') phasesFailed++;
      measurementsFailed += p.measurements.filter((m) => m.outcome === 'FAIL').length;
      measurementsFailed += p.series.filter((s) => s.outcome === 'FAIL').length;
    }
  }
  points.push({
    measurement: 'hil_run',
    tags: tagsOf({
      rig,
      rig_class: rigClass,
      suite: suiteNames.length === 0 ? undefined : suiteNames.length === 1 ? suiteNames[0] : 'multi',
      trigger: record.trigger.kind,
      outcome: record.outcome,
      dut_model: record.dut.model,
      fw_line: fwLine,
    }),
    fields: fieldsOf({
      duration_s: record.durationMs / 1000,
      phases_failed: phasesFailed,
      measurements_failed: measurementsFailed,
      marginal: record.marginal,
      retried: record.retried,
      recovered: record.recovered,
      run_id: runId,
      suites: suiteNames.length > 0 ? suiteNames.join(',') : undefined,
      git_sha: record.software.gitSha,
      dut_serial: record.dut.serial,
      fw_version: record.dut.firmware,
    }),
    timestampNs: msToNs(record.tEnd),
  });

  for (const suite of record.suites) {
    for (const phase of suite.phases) {
      points.push({
        measurement: 'hil_phase',
        tags: tagsOf({ rig, fw_line: fwLine, suite: suite.name, phase: phase.name, outcome: phase.outcome, group: phase.group }),
        fields: fieldsOf({ duration_ms: phase.durationMs, attempt: phase.attempt, run_id: runId }),
        timestampNs: msToNs(phase.tEnd),
      });
      for (const m of phase.measurements) {
        const limits = limitsOf(m.validators);
        points.push({
          measurement: 'hil_measurement',
          tags: tagsOf({
            rig,
            rig_class: rigClass,
            fw_line: fwLine,
            suite: suite.name,
            phase: phase.name,
            name: m.name,
            unit: m.unit,
            outcome: m.outcome,
          }),
          fields: fieldsOf({
            ...measurementValue(m),
            limit_low: limits.low,
            limit_high: limits.high,
            marginal: m.marginal,
            run_id: runId,
          }),
          timestampNs: msToNs(m.t),
        });
      }
      for (const s of phase.series) points.push(...seriesPoints({ rig, suite: suite.name, runId }, phase, s));
    }
  }

  for (const t of record.timings) {
    points.push({
      measurement: 'hil_timing',
      tags: tagsOf({ rig, fw_line: fwLine, protocol: t.protocol, message: t.message, direction: t.direction, suite: t.suite }),
      fields: fieldsOf({ latency_ms: t.latencyMs, run_id: runId, seq: t.seq }),
      timestampNs: msToNs(t.t),
    });
  }
  for (const w of record.throughput) {
    points.push({
      measurement: 'hil_throughput',
      tags: tagsOf({ rig, link: w.link }),
      fields: fieldsOf({
        window_s: windowSeconds(w.window),
        frames_per_s: w.framesPerS,
        bytes_per_s: w.bytesPerS,
        errors: w.errors,
        dropped: w.dropped,
        run_id: runId,
      }),
      timestampNs: msToNs(w.t),
    });
  }
  for (const h of record.rigHealth) {
    points.push({
      measurement: 'hil_rig_health',
      tags: tagsOf({ rig, rig_class: rigClass, resource: h.resource, check: h.check }),
      fields: fieldsOf({ ok: h.ok, reconnects: h.reconnects, detail: h.detail, run_id: runId }),
      timestampNs: msToNs(h.t),
    });
  }
  return makeUnique(points);
}

/**
 * Seconds of a throughput window's text: `linkThroughput` (drivers/capabilities.ts) writes
 * `${seconds.toFixed(3)}s`; a suite calling `ctx.throughput` itself may write ms, s, min or h.
 * Undefined for any other text.
 */
export function windowSeconds(window: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)\s*$/.exec(window);
  if (!m) return undefined;
  const scale: Record<string, number> = { ms: 0.001, s: 1, min: 60, h: 3600 };
  return Number(m[1]) * (scale[m[2] as string] as number);
}

/** The identity InfluxDB deduplicates on: measurement + tag set + timestamp. */
export function pointKey(p: InfluxPoint): string {
  const tags = Object.keys(p.tags)
    .sort()
    .map((k) => `${k}=${p.tags[k]}`)
    .join('\u0000');
  return `${p.measurement}\u0001${tags}\u0001${p.timestampNs}`;
}

function makeUnique(points: InfluxPoint[]): InfluxPoint[] {
  const seen = new Set<string>();
  for (const p of points) {
    while (seen.has(pointKey(p))) p.timestampNs += 1n;
    seen.add(pointKey(p));
  }
  return points;
}

// ───────────────────────── line protocol ─────────────────────────

/** A point that line protocol cannot carry exactly, or a line that is not our line protocol. */
export class InfluxLineProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InfluxLineProtocolError';
  }
}

// eslint-disable-next-line no-control-regex
const UNREPRESENTABLE = /[\\\u0000-\u001f\u007f]/;

function checkName(what: string, text: string): void {
  if (text === '') throw new InfluxLineProtocolError(`${what} is empty`);
  if (UNREPRESENTABLE.test(text)) {
    throw new InfluxLineProtocolError(`${what} ${JSON.stringify(text)} contains a backslash or control character`);
  }
}

const escapeMeasurement = (s: string): string => s.replace(/[, ]/g, '\\$&');
const escapeKey = (s: string): string => s.replace(/[,= ]/g, '\\$&');
const escapeString = (s: string): string => s.replace(/[\\"]/g, '\\$&');

/** The line-protocol text of one field value (`1.5`, `3i`, `true`, `"x"`). */
function formatFieldValue(measurement: string, key: string, value: number | string | boolean): string {
  if (typeof value === 'string') return `"${escapeString(value)}"`;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (INTEGER_FIELDS.has(key)) {
    if (!Number.isSafeInteger(value)) {
      throw new InfluxLineProtocolError(`${measurement}.${key} is an integer field but the value is ${value}`);
    }
    return `${value}i`;
  }
  if (!Number.isFinite(value)) throw new InfluxLineProtocolError(`${measurement}.${key} is not a finite number: ${value}`);
  return String(value);
}

function sortedKeys(o: object): string[] {
  return Object.keys(o).sort();
}

/** Same order as Array.prototype.sort() on the keys (UTF-16 code units), which node-influx uses for fields. */
function byKey(a: [string, unknown], b: [string, unknown]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** One point as [escaped measurement, sorted tags, sorted [escaped key, formatted value] pairs, timestamp]. */
function encodePoint(p: InfluxPoint): { measurement: string; tags: Array<[string, string]>; fields: Array<[string, string]>; timestamp: string } {
  checkName('measurement name', p.measurement);
  const tags = sortedKeys(p.tags).map((k): [string, string] => {
    const v = p.tags[k] as string;
    checkName(`${p.measurement} tag key`, k);
    checkName(`${p.measurement} tag ${k}`, v);
    return [k, v];
  });
  const fieldKeys = sortedKeys(p.fields);
  if (fieldKeys.length === 0) throw new InfluxLineProtocolError(`${p.measurement} point has no fields`);
  const fields = fieldKeys.map((k): [string, string] => {
    checkName(`${p.measurement} field key`, k);
    return [escapeKey(k), formatFieldValue(p.measurement, k, p.fields[k] as number | string | boolean)];
  });
  if (p.timestampNs < 0n) throw new InfluxLineProtocolError(`${p.measurement} point has a negative timestamp`);
  return { measurement: escapeMeasurement(p.measurement), tags, fields, timestamp: p.timestampNs.toString() };
}

/** Line protocol, one line per point, each ending in `\n`; tags and fields in sorted key order. */
export function toLineProtocol(points: readonly InfluxPoint[]): string {
  let out = '';
  for (const p of points) {
    const e = encodePoint(p);
    out += e.measurement;
    for (const [k, v] of e.tags) out += `,${escapeKey(k)}=${escapeKey(v)}`;
    out += ' ' + e.fields.map(([k, v]) => `${k}=${v}`).join(',') + ' ' + e.timestamp + '\n';
  }
  return out;
}

/**
 * Parses line protocol as written by `toLineProtocol` (blank lines and `#` comments skipped):
 * `parseLineProtocol(toLineProtocol(ps))` deep-equals `ps` (with tags/fields in sorted key order).
 * Anything else — a missing timestamp, an unsigned or mistyped integer, a stray backslash — is an
 * InfluxLineProtocolError naming the line and column.
 */
export function parseLineProtocol(text: string): InfluxPoint[] {
  const points: InfluxPoint[] = [];
  let pos = 0;
  let lineNo = 1;
  while (pos < text.length) {
    const lineStart = pos;
    const startLine = lineNo;
    const fail = (msg: string, at: number): never => {
      const col = at - lineStart + 1;
      throw new InfluxLineProtocolError(`line ${startLine}, column ${col}: ${msg}`);
    };
    // Skip blank lines and comments.
    if (text[pos] === '\n') {
      pos++;
      lineNo++;
      continue;
    }
    if (text[pos] === '#') {
      const nl = text.indexOf('\n', pos);
      pos = nl === -1 ? text.length : nl + 1;
      lineNo++;
      continue;
    }
    /** Reads an escaped token up to one of `stops`; `escapable` are the characters a `\` may precede. */
    const readToken = (stops: string, escapable: string, what: string): string => {
      let out = '';
      while (pos < text.length) {
        const c = text[pos] as string;
        if (c === '\\') {
          const next = text[pos + 1];
          if (next === undefined || !escapable.includes(next)) fail(`unsupported backslash escape in ${what}`, pos);
          out += next;
          pos += 2;
          continue;
        }
        if (stops.includes(c)) break;
        if (c === '\n' || c === '\r') fail(`unexpected end of line in ${what}`, pos);
        out += c;
        pos++;
      }
      if (out === '') fail(`empty ${what}`, pos);
      return out;
    };
    const expect = (c: string, what: string): void => {
      if (text[pos] !== c) fail(`expected ${JSON.stringify(c)} ${what}, found ${text[pos] === undefined ? 'end of input' : JSON.stringify(text[pos])}`, pos);
      pos++;
    };

    const measurement = readToken(', ', ', ', 'measurement name');
    const tags = new Map<string, string>();
    while (text[pos] === ',') {
      pos++;
      const key = readToken('=, ', ',= ', 'tag key');
      expect('=', 'after a tag key');
      const value = readToken(', ', ',= ', `tag ${key}`);
      if (tags.has(key)) fail(`duplicate tag ${key}`, pos);
      tags.set(key, value);
    }
    expect(' ', 'before the fields');
    const fields = new Map<string, number | string | boolean>();
    for (;;) {
      const keyAt = pos;
      const key = readToken('=, ', ',= ', 'field key');
      expect('=', 'after a field key');
      if (fields.has(key)) fail(`duplicate field ${key}`, keyAt);
      if (text[pos] === '"') {
        pos++;
        let s = '';
        for (;;) {
          const c = text[pos];
          if (c === undefined) fail(`unterminated string in field ${key}`, pos);
          if (c === '"') break;
          if (c === '\\' && (text[pos + 1] === '"' || text[pos + 1] === '\\')) {
            s += text[pos + 1];
            pos += 2;
            continue;
          }
          if (c === '\n') lineNo++;
          s += c;
          pos++;
        }
        pos++;
        fields.set(key, s);
      } else {
        const valueAt = pos;
        let raw = '';
        while (pos < text.length && text[pos] !== ',' && text[pos] !== ' ' && text[pos] !== '\n') raw += text[pos++];
        fields.set(key, parseFieldValue(raw, key, (msg) => fail(msg, valueAt)));
      }
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      break;
    }
    expect(' ', 'before the timestamp (points without a timestamp are not replayable)');
    const tsAt = pos;
    let ts = '';
    while (pos < text.length && text[pos] !== '\n') ts += text[pos++];
    if (!/^\d+$/.test(ts)) fail(`bad timestamp ${JSON.stringify(ts)} (expected integer nanoseconds)`, tsAt);
    if (pos < text.length) {
      pos++;
      lineNo++;
    }
    points.push({
      measurement,
      tags: Object.fromEntries([...tags].sort(byKey)),
      fields: Object.fromEntries([...fields].sort(byKey)),
      timestampNs: BigInt(ts),
    });
  }
  return points;
}

function parseFieldValue(raw: string, key: string, fail: (msg: string) => never): number | boolean {
  if (/^(t|T|true|True|TRUE)$/.test(raw)) return true;
  if (/^(f|F|false|False|FALSE)$/.test(raw)) return false;
  if (/^-?\d+i$/.test(raw)) {
    if (!INTEGER_FIELDS.has(key)) fail(`field ${key} is written as a float field but has the integer value ${raw}`);
    const n = Number(raw.slice(0, -1));
    if (!Number.isSafeInteger(n)) fail(`integer field ${key} = ${raw} is out of the safe range`);
    return n;
  }
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) {
    if (INTEGER_FIELDS.has(key)) fail(`field ${key} is an integer field but has the float value ${raw}`);
    return Number(raw);
  }
  return fail(`bad value ${JSON.stringify(raw)} for field ${key}`);
}

// ──────────────────────────── writing ────────────────────────────

/** The server could not be reached, timed out or answered 5xx, after all retries. */
export class InfluxUnavailableError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'InfluxUnavailableError';
  }
}

/** The server answered 4xx (bad credentials, unknown database, field type conflict, ...). */
export class InfluxRejectedError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    readonly serverMessage: string,
  ) {
    super(message);
    this.name = 'InfluxRejectedError';
  }
}

export interface InfluxWriteOptions {
  /** Points per HTTP request (default 5000). */
  batchSize?: number;
  /** Extra attempts after the first for unavailable-type errors (default 3). */
  retries?: number;
  /** First backoff delay; doubles on each retry (default 500 ms). */
  backoffMs?: number;
  /** Per-request timeout (default 10 000 ms). */
  timeoutMs?: number;
}

// node-influx's serializer cannot write integer fields without a static schema (ours has dynamic
// field names: series dims) and mangles strings containing `\'` (escape.ts). So it gets each field
// value pre-formatted: for a non-string value it writes String(value) verbatim (coerceBadly), and
// it sorts field keys, escapes tag keys/values and field keys exactly as toLineProtocol does (no
// backslashes can reach it), and writes the measurement unescaped — so we pass it escaped. The
// request body is therefore byte-identical to toLineProtocol(batch) minus the final newline.
class Preformatted {
  constructor(private readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

function toClientPoint(p: InfluxPoint): IPoint {
  const e = encodePoint(p);
  const fields: Record<string, Preformatted> = {};
  for (const k of sortedKeys(p.fields)) fields[k] = new Preformatted(formatFieldValue(p.measurement, k, p.fields[k] as number | string | boolean));
  return { measurement: e.measurement, tags: Object.fromEntries(e.tags), fields, timestamp: e.timestamp };
}

const noBackoff = {
  getDelay: (): number => 0,
  next() {
    return noBackoff;
  },
  reset() {
    return noBackoff;
  },
};

function clientFor(target: InfluxTarget, timeoutMs: number): InfluxDB {
  return new InfluxDB({
    host: target.host,
    port: target.port,
    protocol: target.protocol,
    database: target.database,
    ...(target.username !== undefined ? { username: target.username, password: target.password ?? '' } : {}),
    // We retry ourselves; keep the pool from disabling the host between our attempts.
    pool: { maxRetries: 0, requestTimeout: timeoutMs, backoff: noBackoff },
  });
}

function statusOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'res' in err) {
    const res = (err as { res?: { statusCode?: unknown } }).res;
    if (typeof res?.statusCode === 'number') return res.statusCode;
  }
  return undefined;
}

/** A server answer 3xx/4xx (node-influx RequestError) → rejected; anything else (network, 5xx, timeout) → unavailable. */
function classify(err: unknown): { kind: 'rejected'; status: number; serverMessage: string } | { kind: 'unavailable' } {
  const status = statusOf(err);
  if (status === undefined || status >= 500) return { kind: 'unavailable' };
  const message = err instanceof Error ? err.message : String(err);
  const body = message.replace(/^A \d+ .*? error occurred: /, '');
  let serverMessage = body.trim();
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { error?: unknown }).error === 'string') {
      serverMessage = (parsed as { error: string }).error;
    }
  } catch {
    /* not JSON: keep the text */
  }
  return { kind: 'rejected', status, serverMessage };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return err.message || (typeof code === 'string' ? code : err.name);
  }
  return String(err);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Writes points (nanosecond precision) in batches. Creates the database first when the server
 * allows it. Throws InfluxUnavailableError after `retries` retries with exponential backoff, or
 * InfluxRejectedError at once on a 4xx. Batches before a failing one stay written; rewriting them
 * is harmless (same points overwrite).
 */
export async function writeInflux(url: string, points: readonly InfluxPoint[], opts: InfluxWriteOptions = {}): Promise<{ written: number }> {
  const target = parseInfluxUrl(url);
  const batchSize = opts.batchSize ?? 5000;
  const retries = opts.retries ?? 3;
  const backoffMs = opts.backoffMs ?? 500;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, not ${batchSize}`);
  const clientPoints = points.map(toClientPoint); // validates every point before anything is sent
  const where = `${target.protocol}://${target.host}:${target.port}/${target.database}`;

  let databaseChecked = false;
  const attempt = async (step: () => Promise<void>): Promise<void> => {
    for (let n = 0; ; n++) {
      try {
        await step();
        return;
      } catch (err) {
        const c = classify(err);
        if (c.kind === 'rejected') {
          throw new InfluxRejectedError(`InfluxDB at ${where} refused the write (HTTP ${c.status}): ${c.serverMessage}`, c.status, c.serverMessage);
        }
        if (n >= retries) {
          throw new InfluxUnavailableError(`InfluxDB at ${where} is unavailable after ${n + 1} attempt(s): ${describe(err)}`, { cause: err });
        }
        await sleep(backoffMs * 2 ** n);
      }
    }
  };

  for (let i = 0; i < clientPoints.length; i += batchSize) {
    const batch = clientPoints.slice(i, i + batchSize);
    await attempt(async () => {
      const client = clientFor(target, timeoutMs);
      if (!databaseChecked) {
        try {
          await client.createDatabase(target.database); // idempotent on 1.x
        } catch (err) {
          // Unreachable / 5xx → retry the whole step; refused (2.x, non-admin user) → carry on,
          // the write itself reports what matters (unknown database, bad credentials).
          if (!(err instanceof ResultError) && classify(err).kind === 'unavailable') throw err;
        }
        databaseChecked = true;
      }
      await client.writePoints(batch, {
        precision: 'n',
        database: target.database,
        ...(target.retentionPolicy !== undefined ? { retentionPolicy: target.retentionPolicy } : {}),
      });
    });
  }
  return { written: clientPoints.length };
}

// ──────────────────────── run directory API ────────────────────────

export const SPOOL_FILE = 'influx.lp';
export const UPLOAD_MARKER_FILE = 'influx.upload.json';


export type ExportResult = { written: number } | { spooled: number; spoolFile: string; reason: string };

/**
 * Writes a run's points to InfluxDB; when the server is unreachable or refuses, spools them all to
 * `<runDir>/influx.lp` for `uploadRun` instead. Never throws for a server problem; a URL error
 * is spooled too (the points are not lost, and the reason says what to fix). Throws only when the
 * spool file itself cannot be written.
 */
export async function exportRunToInflux(runDir: string, record: RunRecord, url: string, opts: InfluxWriteOptions = {}): Promise<ExportResult> {
  const points = pointsFromRecord(record);
  try {
    return await writeInflux(url, points, opts);
  } catch (err) {
    if (!(err instanceof InfluxUnavailableError || err instanceof InfluxRejectedError || err instanceof InfluxUrlError)) throw err;
    const spoolFile = path.join(runDir, SPOOL_FILE);
    writeFileAtomic(spoolFile, toLineProtocol(points));
    return { spooled: points.length, spoolFile, reason: err.message };
  }
}

/** A run directory that cannot be uploaded (no record, unreadable or invalid record.json or influx.lp). */
export class RunUploadError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'RunUploadError';
  }
}

/** Reads and validates `<runDir>/record.json`; errors name the file and the offending key. */
export async function readRunRecord(runDir: string): Promise<RunRecord> {
  const file = path.join(runDir, 'record.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new RunUploadError(
      code === 'ENOENT' ? `${file} does not exist (and there is no ${SPOOL_FILE} to replay)` : `cannot read ${file}: ${describe(err)}`,
      { cause: err },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new RunUploadError(`${file} is not valid JSON: ${describe(err)}`, { cause: err });
  }
  const parsed = RunRecord.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
      .join('; ');
    throw new RunUploadError(`${file} is not a valid run record: ${issues}`);
  }
  return parsed.data;
}

/**
 * Uploads a finished run: replays `<runDir>/influx.lp` when present, else recomputes the points
 * from `<runDir>/record.json`. Server problems throw (InfluxUnavailableError / InfluxRejectedError).
 * On success writes `<runDir>/influx.upload.json` and keeps influx.lp; uploading again writes the
 * same points, which InfluxDB overwrites (no duplicates).
 */
export async function uploadRun(runDir: string, url: string, opts: InfluxWriteOptions = {}): Promise<{ written: number; source: 'spool' | 'record' }> {
  parseInfluxUrl(url);
  const spoolFile = path.join(runDir, SPOOL_FILE);
  let points: InfluxPoint[];
  let source: 'spool' | 'record';
  let spoolText: string | undefined;
  try {
    spoolText = await fs.readFile(spoolFile, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ENOENT') throw new RunUploadError(`cannot read ${spoolFile}: ${describe(err)}`, { cause: err });
  }
  if (spoolText !== undefined) {
    try {
      points = parseLineProtocol(spoolText);
    } catch (err) {
      throw new RunUploadError(`${spoolFile}: ${describe(err)}`, { cause: err });
    }
    source = 'spool';
  } else {
    points = pointsFromRecord(await readRunRecord(runDir));
    source = 'record';
  }
  const { written } = await writeInflux(url, points, opts);
  const marker = { url: redactInfluxUrl(url), at: new Date().toISOString(), points: written, source };
  writeFileAtomic(path.join(runDir, UPLOAD_MARKER_FILE), JSON.stringify(marker, null, 2) + '\n');
  return { written, source };
}
