// The executor: runs suites on a rig and journals every event as it happens. Semantics (see
// docs/event-sequence.md):
//  - a run with a suite whose role two drivers could fill is refused (ConfigError) before it starts;
//  - a suite whose `requires` features the rig lacks, or whose roles no driver provides, is SKIPPED
//    (suiteFit in src/rig/roles.ts, which the live server asks too);
//  - the drivers a suite uses are opened (once per run) and probed; a failure is INFRA;
//  - setup phases, then main phases, then teardown phases, which always run, each under its own
//    deadline and a signal that run cancellation does not abort (a cancelled run still de-energises);
//  - a phase ends PASS, FAIL (a measurement out of limits, a ProtocolViolation), ERROR (any other
//    exception), TIMEOUT (its timeoutMs passed), INFRA (a LinkError), ABORTED (the run was
//    cancelled) or SKIPPED; after ERROR/TIMEOUT/INFRA/ABORTED the remaining main phases are SKIPPED;
//  - a phase is retried only for the outcomes in its retry policy (INFRA by default), every
//    attempt recorded;
//  - whenever a phase body ends abnormally, every open ChargeController gets emergencyStop().
// Whatever happens, run.end and the record are written. This module knows nothing about Plug &
// Charge; it sees capabilities, measurements and outcomes.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isLinkError, isViolation, LinkError, ProtocolViolation } from '../../drivers/capabilities.ts';
import { nowMs as now } from '../../drivers/common/time.ts';
import { foldJournal, summarizeSuite, type PhaseSummary } from '../report/fold.ts';
import { Journal, JOURNAL_FILE, type JournalEvent } from '../report/journal.ts';
import { writeRunOutputs } from '../report/outputs.ts';
import {
  aggregateOutcome,
  lastAttempts,
  LogLine,
  RigHealthRecord,
  ThroughputRecord,
  TimingRecord,
  type DutInfo,
  type ErrorInfo,
  type MeasuredValue,
  type MeasurementRecord,
  type Outcome,
  type OutcomeDetail,
  type PhaseGroup,
  type RigInfo,
  type RunRecord,
  type SeriesRecord,
  type SoftwareInfo,
  type Trigger,
  type ValidatorSpec,
} from '../report/record.ts';
import { Rig, type RigSpec } from '../rig/rig.ts';
import { ambiguousRoles, suiteFit } from '../rig/roles.ts';
import { ConfigError } from './errors.ts';
import { isHealthSuiteFile } from './load-suites.ts';
import type { LimitSet } from './limits.ts';
import { LimitRef, toValidatorSpec, validate, type MeasureBuilder } from './measure.ts';
import { skipReasonOf, type PhaseContext, type PhaseDef, type PhaseResult, type SuiteDef } from './suite.ts';

const DEFAULT_PHASE_TIMEOUT_MS = 60_000;

export interface LoadedSuite {
  def: SuiteDef;
  /** Path shown in the record (relative to the package root when inside it). */
  file: string;
  sha256: string;
}

export interface RunnableRig extends RigSpec {
  file: string;
  configHash: string;
  config: RigSpec['config'] & {
    class?: string;
    features: string[];
    dut: DutInfo;
    timeouts: { openMs: number; closeMs: number; teardownMs: number };
  };
}

export interface RunOptions {
  runId: string;
  runDir: string;
  rig: RunnableRig;
  suites: readonly LoadedSuite[];
  limits: LimitSet;
  trigger: Trigger;
  software: SoftwareInfo;
  host: { hostname: string; platform: string };
  /** Run cancellation (SIGINT/SIGTERM): running phases end ABORTED, teardown still runs. */
  signal: AbortSignal;
  /** A second cancellation: cuts teardown short too. */
  forceSignal?: AbortSignal;
  /** Sees every journal event (progress display, live view). Must not throw. */
  onEvent?: (ev: JournalEvent) => void;
  /** Gets the run's Rig as soon as it exists (a live view of its open drivers); it is done with it when runBench settles. */
  onRig?: (rig: Rig) => void;
}

export interface BenchResult {
  record: RunRecord;
  /** report.html could not be built (a bug in the report page; writeRunOutputs in src/report/outputs.ts). */
  reportError?: string;
}

interface ResolvedMeasure {
  decl: MeasureBuilder;
  specs: ValidatorSpec[];
  limitSource?: string;
}

const phasesOf = (def: SuiteDef): PhaseDef<unknown>[] => [...(def.setup ?? []), ...def.main, ...(def.teardown ?? [])] as PhaseDef<unknown>[];

/**
 * Resolves every `limit(key)` of every phase before anything runs; a missing key or a limit of the
 * wrong shape is a ConfigError that lists all problems at once.
 */
export function resolveLimits(suites: readonly LoadedSuite[], limits: LimitSet): Map<MeasureBuilder, ResolvedMeasure> {
  const out = new Map<MeasureBuilder, ResolvedMeasure>();
  const problems: string[] = [];
  for (const s of suites) {
    for (const p of phasesOf(s.def)) {
      for (const decl of p.measures ?? []) {
        const specs: ValidatorSpec[] = [];
        const sources: string[] = [];
        for (const v of decl.validators) {
          const where = `${s.file}: phase ${p.name}, measurement ${decl.name}`;
          try {
            if (v.param instanceof LimitRef) {
              const entry = limits.get(v.param.key);
              if (!entry) {
                problems.push(`${where}: limit "${v.param.key}" is not defined in any limit file`);
                continue;
              }
              specs.push(toValidatorSpec(v.kind, entry.value, `${entry.source} (used by ${where})`));
              sources.push(entry.source);
            } else {
              specs.push(toValidatorSpec(v.kind, v.param, where));
            }
          } catch (e) {
            problems.push((e as Error).message);
          }
        }
        out.set(decl, { decl, specs, ...(sources.length ? { limitSource: sources.join('; ') } : {}) });
      }
    }
  }
  if (problems.length) throw new ConfigError(problems.join('\n'));
  return out;
}

/** JSON of a value for a message (never throws: cycles, BigInt and the like fall back to text()). */
function jsonText(v: unknown): string {
  try {
    return JSON.stringify(v) ?? text(v);
  } catch {
    return text(v);
  }
}

/** Text of anything thrown, without ever throwing itself. */
function text(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

function errorInfo(e: unknown, withStack: boolean): ErrorInfo {
  if (e instanceof Error) {
    const info: ErrorInfo = { type: text(e.name) || 'Error', message: text(e.message) };
    if (e instanceof LinkError) info.source = e.resource;
    if (e instanceof ProtocolViolation) info.source = e.rule;
    if (withStack && typeof e.stack === 'string') info.stack = e.stack;
    return info;
  }
  return { type: e === null ? 'null' : typeof e, message: text(e) };
}

const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);

/** Parses what a suite hands in; a bad value is the suite's bug, thrown into its phase (ERROR). */
function checked<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new TypeError(`${what}: ${z.prettifyError(r.error).replace(/\n+/g, '; ')}`);
  return r.data;
}

interface PhaseOutcome extends PhaseSummary {
  result: PhaseResult;
  abnormal: boolean;
}

export async function runBench(opts: RunOptions): Promise<BenchResult> {
  const resolved = resolveLimits(opts.suites, opts.limits);
  const { rig: spec, runDir } = opts;

  let currentPhase: number | null = null;
  let emit: (ev: JournalEvent) => void = () => {};
  const rig = new Rig(spec, (driver, level, msg) => {
    if (currentPhase !== null) emit({ type: 'log', phase: currentPhase, line: { t: now(), level, msg: `[${driver}] ${msg}` } });
  });
  // A role two drivers could fill is a rig/suite mismatch the user must resolve before running.
  const ambiguous = ambiguousRoles(rig.capabilities, spec.config.features, opts.suites);
  if (ambiguous.length) throw new ConfigError(ambiguous.join('\n'));
  opts.onRig?.(rig);

  mkdirSync(runDir, { recursive: true });
  const journal = new Journal(path.join(runDir, JOURNAL_FILE));
  const events: JournalEvent[] = [];
  emit = (ev: JournalEvent): void => {
    // The record is folded from the events as written, so a live record and one rebuilt from the
    // journal are the same.
    events.push(JSON.parse(journal.append(ev)) as JournalEvent);
    try {
      opts.onEvent?.(ev);
    } catch {
      // a broken progress display must not break the run
    }
  };

  const rigInfo: RigInfo = {
    id: spec.config.id,
    ...(spec.config.class ? { class: spec.config.class } : {}),
    file: spec.file,
    features: spec.config.features,
    configHash: spec.configHash,
    resolvedConfig: JSON.parse(JSON.stringify(spec.config)) as Record<string, unknown>,
    drivers: Object.fromEntries(
      rig.names().map((n) => {
        const s = rig.slot(n);
        return [n, { driver: s.def.name, provides: [...s.def.provides] }];
      }),
    ),
  };
  emit({
    type: 'run.start',
    t: now(),
    runId: opts.runId,
    trigger: opts.trigger,
    software: opts.software,
    host: opts.host,
    rig: rigInfo,
    dut: spec.config.dut,
    plan: opts.suites.map((s) => ({ name: s.def.name, file: s.file })),
  });

  const { timeouts } = spec.config;
  const runSignal = opts.signal;
  const force = opts.forceSignal ?? new AbortController().signal;
  let phaseSeq = 0;
  let timingSeq = 0;
  let rigAttachSeq = 0;

  /** Writes a file beside the record and journals it under a phase, or at run level (null). */
  const writeAttachment = (phase: number | null, dir: string, taken: Set<string>, name: string, data: Uint8Array, mime: string): void => {
    let fname = safeName(name) || 'attachment';
    for (let i = 2; taken.has(fname); i++) fname = `${safeName(name)}.${i}`;
    taken.add(fname);
    const rel = path.join(dir, fname);
    mkdirSync(path.join(runDir, dir), { recursive: true });
    writeFileSync(path.join(runDir, rel), data, { flush: true });
    const sha256 = createHash('sha256').update(data).digest('hex');
    emit({ type: 'attachment', phase, a: { name, mime, sha256, bytes: data.length, path: rel.split(path.sep).join('/') } });
  };

  /** Driver traffic outside phases (opening, preflight, emergency stops, closing) goes to run level. */
  const flushRigTranscripts = (when: string, slots = rig.openSlots()): void => {
    for (const s of slots) {
      const seg = s.transcript.cut();
      if (!seg.length) continue;
      const seq = String(rigAttachSeq++).padStart(3, '0');
      writeAttachment(null, path.join('attachments', 'rig'), new Set(), `${seq}-${s.name}-${safeName(when)}.${s.def.transcript.ext}`, seg, s.def.transcript.mime);
    }
  };

  /**
   * Timing points drivers measured themselves (optional Lifecycle.timings()): drained at the end of
   * every phase attempt into that phase, and before each phase and at the end of the run into the run
   * level (no suite/phase), like transcripts. A driver whose timings() throws or returns a bad point
   * loses those points, with a warning (in the phase's log when inside one).
   */
  const drainDriverTimings = (where: { suite: string; phase: string; id: number } | null, slots = rig.openSlots()): void => {
    for (const s of slots) {
      const inst = s.instance;
      if (typeof inst.timings !== 'function') continue;
      let problem: string | undefined;
      try {
        const points: unknown = inst.timings();
        if (!Array.isArray(points)) throw new TypeError(`timings() returned ${text(points)}, not an array`);
        for (const tp of points as Record<string, unknown>[]) {
          const r = TimingRecord.safeParse({ t: now(), ...(where ? { suite: where.suite, phase: where.phase } : {}), seq: timingSeq, ...tp });
          if (!r.success) {
            problem ??= `bad timing point ${jsonText(tp)}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
            continue;
          }
          timingSeq++;
          emit({ type: 'timing', ...r.data });
        }
      } catch (e) {
        problem = `timings() failed: ${e instanceof Error ? e.message : String(e)}`;
      }
      if (problem === undefined) continue;
      const msg = `driver ${s.name}: ${problem}`;
      if (where) emit({ type: 'log', phase: where.id, line: checked(LogLine, { t: now(), level: 'warn', msg }, 'warn') });
      else process.emitWarning(msg);
    }
  };

  const emergencyStop = async (reason: string): Promise<void> => {
    const results = await rig.emergencyStop(timeouts.closeMs);
    if (Object.keys(results).length) emit({ type: 'emergency-stop', t: now(), reason, results });
  };

  /** Journals a phase that was not run. */
  const skipPhase = (suite: number, p: PhaseDef<unknown>, group: PhaseGroup, reason: string): PhaseOutcome => {
    const id = phaseSeq++;
    const t = now();
    emit({ type: 'phase.start', t, suite, phase: id, name: p.name, group, attempt: 1 });
    emit({ type: 'phase.end', t, phase: id, outcome: 'SKIPPED', marginal: false, reason, series: [] });
    return { name: p.name, attempt: 1, outcome: 'SKIPPED', marginal: false, result: 'skip', abnormal: false };
  };

  const runPhaseOnce = async (
    suiteIdx: number,
    suite: LoadedSuite,
    p: PhaseDef<unknown>,
    group: PhaseGroup,
    attempt: number,
    drivers: Record<string, unknown>,
  ): Promise<PhaseOutcome> => {
    flushRigTranscripts(`before ${suite.def.name} ${p.name}`);
    drainDriverTimings(null);
    const id = phaseSeq++;
    const tStart = now();
    emit({ type: 'phase.start', t: tStart, suite: suiteIdx, phase: id, name: p.name, group, attempt });
    currentPhase = id;
    const timeoutMs = p.timeoutMs ?? (group === 'teardown' ? timeouts.teardownMs : DEFAULT_PHASE_TIMEOUT_MS);
    const timeoutCtl = new AbortController();
    const timer = setTimeout(() => timeoutCtl.abort(new Error(`phase ${p.name} exceeded its timeoutMs of ${timeoutMs} ms`)), timeoutMs);
    // Teardown is not cancelled by the run's cancellation, only by a second one.
    const cancel = group === 'teardown' ? force : AbortSignal.any([runSignal, force]);
    const signal = AbortSignal.any([timeoutCtl.signal, cancel]);

    const decls = new Map((p.measures ?? []).map((d) => [d.name, resolved.get(d) as ResolvedMeasure]));
    const set = new Map<string, MeasurementRecord>();
    const points = new Map<string, number[][]>();
    let closed = false;
    const late = (what: string): void => {
      // the body ignored its signal and kept going after the phase ended
      process.emitWarning(`phase ${p.name} ${what} after it ended; ignored`);
    };
    const taken = new Set<string>();
    const attachDir = path.join('attachments', `s${suiteIdx}-${safeName(suite.def.name)}`, `p${id}-${safeName(p.name)}-a${attempt}`);

    const ctx: PhaseContext<Record<string, unknown>> = {
      d: drivers,
      signal,
      m: {
        set: (name: string, value: MeasuredValue) => {
          if (closed) return late(`set measurement ${name}`);
          const r = decls.get(name);
          if (!r) throw new Error(`phase ${p.name} sets measurement "${name}", which it does not declare in measures`);
          if (r.decl.dims) throw new Error(`measurement "${name}" is a series: use m.series("${name}").add(...)`);
          const ok = value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
          if (!ok) throw new TypeError(`measurement ${name}: ${text(value)} is not a finite number, string, boolean or null`);
          const v = validate(r.specs, value);
          const rec: MeasurementRecord = {
            name,
            value,
            t: now(),
            validators: r.specs,
            outcome: v.outcome,
            marginal: v.marginal,
            ...(r.decl.unitName ? { unit: r.decl.unitName } : {}),
            ...(r.limitSource ? { limitSource: r.limitSource } : {}),
            ...(v.detail ? { detail: v.detail } : {}),
            ...(r.decl.description ? { description: r.decl.description } : {}),
          };
          set.set(name, rec);
          emit({ type: 'measurement', phase: id, m: rec });
        },
        series: (name: string) => {
          const r = decls.get(name);
          if (!r?.decl.dims) throw new Error(`phase ${p.name} has no series measurement "${name}" declared (use measure("${name}").series([...]))`);
          const dims = r.decl.dims.length;
          return {
            add: (...nums: number[]) => {
              if (closed) return late(`added to series ${name}`);
              if (nums.length !== dims + 1 || nums.some((n) => typeof n !== 'number' || !Number.isFinite(n)))
                throw new TypeError(`series ${name} takes ${dims} coordinate(s) and a value, all finite numbers; got ${text(nums)}`);
              const list = points.get(name) ?? [];
              list.push(nums);
              points.set(name, list);
            },
          };
        },
      },
      attach: async (name, data, mime = 'application/octet-stream') => {
        if (closed) return late(`attached ${name}`);
        if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new TypeError(`attach ${name}: data must be a string or bytes`);
        writeAttachment(id, attachDir, taken, name, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, mime);
      },
      log: (msg) => {
        if (!closed) emit({ type: 'log', phase: id, line: checked(LogLine, { t: now(), level: 'info', msg }, 'log') });
      },
      warn: (msg) => {
        if (!closed) emit({ type: 'log', phase: id, line: checked(LogLine, { t: now(), level: 'warn', msg }, 'warn') });
      },
      timing: (tp) => {
        if (closed) return late('recorded a timing');
        const r = checked(TimingRecord, { t: now(), suite: suite.def.name, phase: p.name, seq: timingSeq, ...tp }, 'timing');
        timingSeq++;
        emit({ type: 'timing', ...r });
      },
      throughput: (tp) => {
        if (closed) return late('recorded throughput');
        emit({ type: 'throughput', ...checked(ThroughputRecord, { t: now(), suite: suite.def.name, phase: p.name, ...tp }, 'throughput') });
      },
      health: (h) => {
        if (closed) return late('recorded a health check');
        emit({ type: 'health', ...checked(RigHealthRecord, { t: now(), reconnects: 0, ...h }, 'health') });
      },
      sleep: (ms) =>
        new Promise<void>((resolve, reject) => {
          if (signal.aborted) return reject(signal.reason);
          const tm = setTimeout(() => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          }, ms);
          const onAbort = () => {
            clearTimeout(tm);
            reject(signal.reason);
          };
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      limitValue: (key) => {
        const e = opts.limits.get(key);
        if (!e) throw new Error(`limit "${key}" is not defined in any limit file`);
        return e.value;
      },
      phase: { name: p.name, attempt, group },
      suite: { name: suite.def.name, version: suite.def.version },
      rig: { id: spec.config.id, features: spec.config.features, dut: spec.config.dut },
    };

    let outcome: Outcome;
    let reason: string | undefined;
    let error: ErrorInfo | undefined;
    let result: PhaseResult;
    /** set when the body returned 'skip' or { skip: reason } */
    let skipReason: string | undefined;
    let abnormal = false;
    let onAbort: (() => void) | undefined;
    try {
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
      aborted.catch(() => {}); // settled by the race below; never unhandled
      signal.throwIfAborted(); // a phase that starts after cancellation does not run its body
      result = await Promise.race([Promise.resolve().then(() => p.fn(ctx)), aborted]);
      skipReason = skipReasonOf(result);
      outcome = 'PASS';
    } catch (e) {
      abnormal = true;
      result = undefined;
      if (timeoutCtl.signal.aborted) {
        outcome = 'TIMEOUT';
        reason = `exceeded its timeoutMs of ${timeoutMs} ms`;
      } else if (cancel.aborted) {
        outcome = 'ABORTED';
        const why = force.aborted ? force.reason : runSignal.reason;
        reason = `run cancelled: ${text(why instanceof Error ? why.message : why)}`;
      } else if (isLinkError(e)) {
        outcome = 'INFRA';
        error = errorInfo(e, false);
        reason = `rig fault: ${error.message}`;
      } else if (isViolation(e)) {
        outcome = 'FAIL';
        error = errorInfo(e, false);
        reason = `protocol violation: ${error.message}`;
      } else {
        outcome = 'ERROR';
        error = errorInfo(e, true);
        reason = `unexpected ${error.type}: ${error.message}`;
      }
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
      closed = true;
    }

    // Series are validated point by point at the end of the phase.
    const series: SeriesRecord[] = [];
    let marginal = [...set.values()].some((m) => m.marginal);
    for (const [name, r] of decls) {
      if (!r.decl.dims) continue;
      const pts = points.get(name) ?? [];
      let verdict: { outcome: 'PASS' | 'FAIL'; marginal: boolean; detail?: string } = { outcome: 'PASS', marginal: false };
      for (const pt of pts) {
        const v = validate(r.specs, pt[pt.length - 1] as number);
        if (v.outcome === 'FAIL') {
          verdict = { outcome: 'FAIL', marginal: false, detail: `at ${r.decl.dims.map((d, i) => `${d}=${pt[i]}`).join(', ')}: ${v.detail}` };
          break;
        }
        if (v.marginal && !verdict.marginal) verdict = { outcome: 'PASS', marginal: true, ...(v.detail ? { detail: v.detail } : {}) };
      }
      if (pts.length === 0 && !r.decl.isOptional && outcome === 'PASS' && skipReason === undefined) verdict = { outcome: 'FAIL', marginal: false, detail: 'no points were recorded' };
      marginal ||= verdict.marginal;
      series.push({
        name,
        dims: r.decl.dims,
        points: pts,
        validators: r.specs,
        outcome: verdict.outcome,
        marginal: verdict.marginal,
        ...(r.decl.unitName ? { unit: r.decl.unitName } : {}),
        ...(r.limitSource ? { limitSource: r.limitSource } : {}),
        ...(verdict.detail ? { detail: verdict.detail } : {}),
        ...(r.decl.description ? { description: r.decl.description } : {}),
      });
    }

    if (outcome === 'PASS') {
      const unset = [...decls.values()].filter((r) => !r.decl.dims && !r.decl.isOptional && !set.has(r.decl.name)).map((r) => r.decl.name);
      const failed = [...set.values()].filter((m) => m.outcome === 'FAIL');
      const failedSeries = series.filter((s) => s.outcome === 'FAIL');
      // A failed measurement is a finding even when the phase then skips itself.
      if (failed.length || failedSeries.length) {
        outcome = 'FAIL';
        reason = [...failed.map((m) => `${m.name}: ${m.detail ?? 'out of limits'}`), ...failedSeries.map((s) => `${s.name}: ${s.detail ?? 'out of limits'}`)].join('; ');
      } else if (skipReason !== undefined) {
        outcome = 'SKIPPED';
        reason = skipReason;
      } else if (unset.length) {
        outcome = 'FAIL';
        reason = `never measured: ${unset.join(', ')}`;
      }
    }
    if (outcome !== 'PASS') marginal = false;

    // Each open driver's timings and traffic during this phase go with the phase.
    drainDriverTimings({ suite: suite.def.name, phase: p.name, id });
    for (const s of rig.openSlots()) {
      const seg = s.transcript.cut();
      if (seg.length) writeAttachment(id, attachDir, taken, `${s.name}.${s.def.transcript.ext}`, seg, s.def.transcript.mime);
    }
    emit({
      type: 'phase.end',
      t: now(),
      phase: id,
      outcome,
      marginal,
      series,
      ...(reason !== undefined ? { reason } : {}),
      ...(error ? { error } : {}),
    });
    currentPhase = null;
    if (abnormal) await emergencyStop(`phase ${suite.def.name}/${p.name} ended ${outcome}`);
    return { name: p.name, attempt, outcome, marginal, result, abnormal };
  };

  const runPhase = async (suiteIdx: number, suite: LoadedSuite, p: PhaseDef<unknown>, group: PhaseGroup, drivers: Record<string, unknown>): Promise<PhaseOutcome[]> => {
    const attempts = p.retry?.attempts ?? 1;
    const on = p.retry?.on ?? ['INFRA'];
    const all: PhaseOutcome[] = [];
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const r = await runPhaseOnce(suiteIdx, suite, p, group, attempt, drivers);
      all.push(r);
      const cancelled = group === 'teardown' ? force.aborted : runSignal.aborted;
      if (!on.includes(r.outcome) || cancelled) break;
    }
    return all;
  };

  /** A suite that does not run at all (cancelled run, missing feature or driver, unhealthy rig): SKIPPED with one detail. */
  const skipSuite = (suiteIdx: number, suite: LoadedSuite, code: string, message: string): Outcome => {
    const def = suite.def;
    emit({ type: 'suite.start', t: now(), suite: suiteIdx, name: def.name, version: def.version, file: suite.file, sha256: suite.sha256, requires: [...(def.requires ?? [])] });
    const sum = summarizeSuite([], ['SKIPPED']);
    emit({ type: 'suite.end', t: now(), suite: suiteIdx, ...sum, details: [{ code, message }] });
    return sum.outcome;
  };

  const runSuite = async (suiteIdx: number, suite: LoadedSuite): Promise<Outcome> => {
    const def = suite.def;
    if (runSignal.aborted) return skipSuite(suiteIdx, suite, 'NOT_STARTED', 'the run was cancelled before this suite started');
    const uses = suiteFit(rig.capabilities, spec.config.features, def); // never 'ambiguous' here: refused above
    if (!uses.ok) return skipSuite(suiteIdx, suite, uses.kind === 'feature' ? 'MISSING_FEATURE' : 'MISSING_DRIVER', uses.message);
    emit({ type: 'suite.start', t: now(), suite: suiteIdx, name: def.name, version: def.version, file: suite.file, sha256: suite.sha256, requires: [...(def.requires ?? [])] });
    const phases: PhaseSummary[] = [];
    const extra: Outcome[] = [];
    const details: OutcomeDetail[] = [];
    const end = (): Outcome => {
      const sum = summarizeSuite(phases, extra);
      emit({ type: 'suite.end', t: now(), suite: suiteIdx, ...sum, details });
      return sum.outcome;
    };

    try {
      emit({ type: 'suite.bind', suite: suiteIdx, uses: uses.bound });
      const names = [...new Set(Object.values(uses.bound))];
      try {
        const opened = await rig.open(names, runSignal, timeouts.openMs);
        for (const n of opened) emit({ type: 'driver.snapshot', driver: n, when: 'open', snapshot: rig.slot(n).instance.snapshot() });
      } catch (e) {
        const aborted = runSignal.aborted;
        // the rig health dashboards see a driver that would not open like any failed check
        if (!aborted) emit({ type: 'health', t: now(), resource: e instanceof LinkError ? e.resource : names.join(','), check: `open:${def.name}`, ok: false, reconnects: 0, detail: errorInfo(e, false).message });
        extra.push(aborted ? 'ABORTED' : 'INFRA');
        details.push({ code: aborted ? 'ABORTED' : 'DRIVER_OPEN', message: aborted ? 'run cancelled while opening drivers' : errorInfo(e, false).message });
        await emergencyStop(`suite ${def.name}: drivers failed to open`);
        return end();
      }

      const drivers: Record<string, unknown> = {};
      for (const [role, n] of Object.entries(uses.bound)) drivers[role] = rig.slot(n).instance;

      let stopReason: string | undefined;
      const health = await rig.health(names, runSignal, timeouts.openMs);
      const sick: string[] = [];
      for (const [n, h] of Object.entries(health)) {
        emit({ type: 'health', t: now(), resource: n, check: `preflight:${def.name}`, ok: h.ok, reconnects: h.reconnects ?? 0, detail: h.detail });
        if (!h.ok) sick.push(`${n}: ${h.detail}`);
      }
      if (sick.length) {
        extra.push('INFRA');
        details.push({ code: 'PREFLIGHT', message: `unhealthy driver(s): ${sick.join('; ')}` });
        stopReason = 'preflight found unhealthy drivers';
        await emergencyStop(`suite ${def.name}: preflight failed`);
      }

      for (const [group, list] of [['setup', def.setup ?? []], ['main', def.main]] as const) {
        for (const p of list as readonly PhaseDef<unknown>[]) {
          if (stopReason) {
            phases.push(skipPhase(suiteIdx, p, group, stopReason));
            continue;
          }
          const rs = await runPhase(suiteIdx, suite, p, group, drivers);
          phases.push(...rs);
          const last = rs[rs.length - 1] as PhaseOutcome;
          if (group === 'setup' && !['PASS', 'SKIPPED'].includes(last.outcome)) stopReason = `setup phase ${p.name} ended ${last.outcome}`;
          else if (['ERROR', 'TIMEOUT', 'INFRA', 'ABORTED'].includes(last.outcome)) stopReason = `phase ${p.name} ended ${last.outcome}`;
          else if (last.outcome === 'FAIL' && p.stopOnFail) stopReason = `phase ${p.name} failed and stops the suite on failure`;
          else if (last.result === 'stop') stopReason = `phase ${p.name} ended the suite`;
        }
      }
      for (const p of (def.teardown ?? []) as readonly PhaseDef<unknown>[]) {
        if (force.aborted) {
          phases.push(skipPhase(suiteIdx, p, 'teardown', 'cancelled a second time: teardown cut short'));
          continue;
        }
        phases.push(...(await runPhase(suiteIdx, suite, p, 'teardown', drivers)));
      }
      if (runSignal.aborted) extra.push('ABORTED');
      // A rig health suite judges the rig, never the charger: any check that did not pass is INFRA.
      if (isHealthSuiteFile(suite.file) && !runSignal.aborted) {
        const bad = lastAttempts(phases).filter((p) => p.outcome === 'FAIL' || p.outcome === 'TIMEOUT');
        if (bad.length) {
          extra.push('INFRA');
          details.push({ code: 'RIG_HEALTH', message: `rig health check(s) not passed: ${bad.map((p) => `${p.name} ${p.outcome}`).join(', ')}` });
        }
      }
      return end();
    } catch (e) {
      // A fault of the runner itself (or of a driver's snapshot()): the suite is ERROR, the run goes on.
      if (currentPhase !== null) {
        emit({ type: 'phase.end', t: now(), phase: currentPhase, outcome: 'ERROR', marginal: false, reason: `runner fault: ${errorInfo(e, false).message}`, series: [] });
        currentPhase = null;
      }
      extra.push('ERROR');
      details.push({ code: 'RUNNER', message: `runner fault: ${errorInfo(e, false).message}` });
      await emergencyStop(`suite ${def.name}: runner fault`);
      return end();
    }
  };

  const outcomes: Outcome[] = [];
  const runDetails: OutcomeDetail[] = [];
  try {
    // A rig that failed a health suite (INFRA) runs no other suite: its results would say nothing
    // about the charger. They are SKIPPED with the reason, and the run is INFRA.
    let unhealthy: string | undefined;
    for (const [i, s] of opts.suites.entries()) {
      const health = isHealthSuiteFile(s.file);
      if (unhealthy && !health) {
        outcomes.push(skipSuite(i, s, 'RIG_UNHEALTHY', unhealthy));
        continue;
      }
      const o = await runSuite(i, s);
      outcomes.push(o);
      if (health && o !== 'PASS' && o !== 'SKIPPED' && o !== 'ABORTED') unhealthy ??= `the rig failed its health suite ${s.def.name}: not running the charger suites on a broken rig`;
    }
  } finally {
    for (const n of rig.openSlots().map((s) => s.name)) {
      try {
        emit({ type: 'driver.snapshot', driver: n, when: 'close', snapshot: rig.slot(n).instance.snapshot() });
      } catch {
        // snapshot() of a broken driver: nothing to record
      }
    }
    const open = rig.openSlots();
    drainDriverTimings(null, open);
    const closed = await rig.closeAll(timeouts.closeMs);
    for (const [n, r] of Object.entries(closed)) if (r !== 'ok') runDetails.push({ code: 'DRIVER_CLOSE', message: `${n}: ${r}` });
    flushRigTranscripts('close', open);
  }
  if (runSignal.aborted) {
    outcomes.push('ABORTED');
    const why = runSignal.reason as unknown;
    runDetails.push({ code: 'ABORTED', message: `run cancelled: ${text(why instanceof Error ? why.message : why)}` });
  }
  emit({ type: 'run.end', t: now(), outcome: outcomes.length ? aggregateOutcome(outcomes) : 'SKIPPED', details: runDetails });
  journal.close();
  const record = foldJournal(events);
  const { reportError } = writeRunOutputs(runDir, record);
  return reportError === undefined ? { record } : { record, reportError };
}
