// The live event stream of `pnc-bench serve` (GET /api/events, a WebSocket): the wire types, and
// `LiveRunTracker`, which turns one run session's events (src/runner/session.ts) into stream events
// and keeps the run's current state, so a client connecting mid-run gets it first (the `hello`).
// The JSON Schema of every message is src/server/events.schema.json (documented in docs/server.md);
// test/server/api.test.ts validates every event of a real run against it.
//
//   const tracker = new LiveRunTracker(session.runId, trigger, plan, (ev) => broadcast(ev));
//   session.on((ev) => tracker.onSessionEvent(ev));
//   ... tracker.state()  // the LiveRun a new client gets in its hello
import type { JsonObject } from '../../drivers/capabilities.ts';
import { limitsText } from '../report/html.ts';
import type { MeasuredValue, Outcome, OutcomeDetail, PhaseGroup, Trigger, ValidatorSpec } from '../report/record.ts';
import { nowMs as now } from '../../drivers/common/time.ts';
import type { SessionEvent } from '../runner/session.ts';

export const EVENTS_SCHEMA_ID = 'pnc-bench-events/1';
/** How many plot samples and log lines a run keeps for clients that connect late. */
export const KEEP_SAMPLES = 600;
export const KEEP_LOGS = 200;

export interface DriverHealth {
  ok: boolean;
  detail: string;
  /** `probe` (the server's own check) or the run's `preflight:<suite>`. */
  check: string;
  reconnects: number;
  t: number;
}

export interface RigStatus {
  id: string;
  description: string | null;
  file: string;
  features: string[];
  dut: { model: string; vendor?: string; serial?: string; firmware?: string; hardware?: string };
  simulator: { name: string; description: string } | null;
  drivers: { name: string; driver: string; provides: string[]; health: DriverHealth | null; snapshot: JsonObject | null }[];
  probe: { state: 'idle' | 'probing'; checkedAt: string | null; error: string | null };
  /** runId of the run in progress, or null. */
  busy: string | null;
}

export interface MeasurementView {
  name: string;
  value: MeasuredValue;
  unit?: string;
  /** The validators the value was checked against (the resolved limits). */
  limits: ValidatorSpec[];
  /** The limits in words, as report.html shows them (`≤ 2000 ms, marginal > 1500`; `none (recorded only)`). */
  limitText: string;
  limitSource?: string;
  outcome: 'PASS' | 'FAIL';
  marginal: boolean;
  detail?: string;
}

export interface LivePhase {
  id: number;
  suite: number;
  name: string;
  group: PhaseGroup;
  attempt: number;
  /** null while the phase runs */
  outcome: Outcome | null;
  marginal: boolean;
  reason?: string;
  measurements: MeasurementView[];
}

export interface LiveSuite {
  index: number;
  name: string;
  file: string;
  version: string | null;
  /** null until the suite ended */
  outcome: Outcome | null;
  marginal: boolean;
  details: OutcomeDetail[];
  phases: LivePhase[];
}

export type SampleQuantity = 'power' | 'current' | 'latency';

export interface Sample {
  t: number;
  quantity: SampleQuantity;
  unit: 'W' | 'A' | 'ms';
  value: number;
  /** Where it came from: `<driver>.<path>`, `measurement <name>` or `<protocol> <message> <direction>`. */
  source: string;
}

export interface LogEntry {
  t: number;
  phase: number | null;
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  source: 'run' | 'simulator' | 'server';
}

export interface LiveRun {
  runId: string;
  status: 'starting' | 'running' | 'stopping' | 'ended';
  startedAt: string;
  tStart: number;
  trigger: Trigger;
  abortRequested: boolean;
  outcome: Outcome | null;
  suites: LiveSuite[];
  /** open drivers' latest snapshot */
  snapshots: Record<string, JsonObject>;
  samples: Sample[];
  logs: LogEntry[];
  /** The run's files once it ended with a record (as in run.ended); null before, or without a record. */
  links: RunLinks | null;
}

export interface RunLinks {
  record: string;
  report: string;
  junit: string;
}

type Stamped<T> = T & { seq: number; t: number };

export type ServerEvent = Stamped<
  | { type: 'hello'; schema: typeof EVENTS_SCHEMA_ID; rig: RigStatus; run: LiveRun | null }
  | { type: 'rig.status'; rig: RigStatus }
  | { type: 'run.started'; runId: string; startedAt: string; trigger: Trigger; plan: { name: string; file: string }[] }
  | { type: 'run.abort'; runId: string; level: 'cancel' | 'force'; reason: string }
  | {
      type: 'run.ended';
      runId: string;
      outcome: Outcome;
      marginal: boolean;
      durationMs: number;
      details: OutcomeDetail[];
      /** false when the run failed before a record existed (its simulated hardware did not start) */
      recorded: boolean;
      links: RunLinks | null;
    }
  | { type: 'suite.started'; runId: string; suite: number; name: string; version: string; file: string }
  | { type: 'suite.ended'; runId: string; suite: number; outcome: Outcome; marginal: boolean; details: OutcomeDetail[] }
  | { type: 'phase.started'; runId: string; suite: number; phase: number; name: string; group: PhaseGroup; attempt: number }
  | { type: 'phase.ended'; runId: string; suite: number; phase: number; name: string; outcome: Outcome; marginal: boolean; reason?: string }
  | { type: 'measurement'; runId: string; suite: number; phase: number; measurement: MeasurementView }
  | ({ type: 'sample'; runId: string } & Omit<Sample, 't'>)
  | { type: 'driver.snapshot'; runId: string; driver: string; when: 'open' | 'periodic' | 'close'; snapshot: JsonObject }
  | ({ type: 'driver.health'; runId: string | null; driver: string } & Omit<DriverHealth, 't'>)
  | ({ type: 'log'; runId: string | null } & Omit<LogEntry, 't'>)
>;

/** A ServerEvent before the broadcaster stamps it with seq and (when missing) t. */
export type UnstampedEvent = ServerEvent extends infer E ? (E extends ServerEvent ? Omit<E, 'seq' | 't'> & { t?: number } : never) : never;

const POWER_UNITS: Record<string, number> = { W: 1, kW: 1000, MW: 1e6 };
const CURRENT_UNITS: Record<string, number> = { A: 1, mA: 0.001, kA: 1000 };

/**
 * Plot samples in a driver snapshot: numeric `powerW` fields (power) and `currentA` fields (current;
 * a per-phase array is summed), found up to three levels deep (e.g. a meter's lastReading.powerW,
 * a CCU's status.currentA).
 */
export function samplesFromSnapshot(driver: string, snapshot: unknown, t: number): Sample[] {
  const out: Sample[] = [];
  const walk = (v: unknown, where: string, depth: number): void => {
    if (depth > 3 || v === null || typeof v !== 'object' || Array.isArray(v)) return;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const p = `${where}.${k}`;
      if (k === 'powerW' && typeof x === 'number' && Number.isFinite(x)) out.push({ t, quantity: 'power', unit: 'W', value: x, source: p });
      else if (k === 'currentA') {
        const vals = (Array.isArray(x) ? x : [x]).filter((n): n is number => typeof n === 'number' && Number.isFinite(n));
        if (vals.length) out.push({ t, quantity: 'current', unit: 'A', value: vals.reduce((a, b) => a + b, 0), source: p });
      } else walk(x, p, depth + 1);
    }
  };
  walk(snapshot, driver, 1);
  return out;
}

/** A measurement in a power or current unit, as a plot sample (W or A). */
export function sampleFromMeasurement(name: string, value: MeasuredValue, unit: string | undefined, t: number): Sample | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || !unit) return null;
  const p = POWER_UNITS[unit];
  if (p !== undefined) return { t, quantity: 'power', unit: 'W', value: value * p, source: `measurement ${name}` };
  const c = CURRENT_UNITS[unit];
  if (c !== undefined) return { t, quantity: 'current', unit: 'A', value: value * c, source: `measurement ${name}` };
  return null;
}

const pushBounded = <T>(list: T[], item: T, max: number): void => {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
};

/** Folds one run session's events into its live state and into stream events. */
export class LiveRunTracker {
  private readonly run: LiveRun;
  private readonly phases = new Map<number, LivePhase>();

  constructor(
    runId: string,
    trigger: Trigger,
    plan: readonly { name: string; file: string }[],
    private readonly send: (ev: UnstampedEvent) => void,
    /** Health seen during the run (preflight), for the rig status. */
    private readonly onHealth: (driver: string, h: DriverHealth) => void = () => {},
  ) {
    const t = now();
    this.run = {
      runId,
      status: 'starting',
      startedAt: new Date(t).toISOString(),
      tStart: t,
      trigger,
      abortRequested: false,
      outcome: null,
      suites: plan.map((p, index) => ({ index, name: p.name, file: p.file, version: null, outcome: null, marginal: false, details: [], phases: [] })),
      snapshots: {},
      samples: [],
      logs: [],
      links: null,
    };
    this.send({ type: 'run.started', t, runId, startedAt: this.run.startedAt, trigger, plan: plan.map((p) => ({ ...p })) });
  }

  get runId(): string {
    return this.run.runId;
  }

  /** A deep copy of the current state (what a client connecting now needs). */
  state(): LiveRun {
    return structuredClone(this.run);
  }

  log(level: LogEntry['level'], msg: string, source: LogEntry['source'], phase: number | null = null, t = now()): void {
    pushBounded(this.run.logs, { t, phase, level, msg, source }, KEEP_LOGS);
    this.send({ type: 'log', t, runId: this.run.runId, phase, level, msg, source });
  }

  private sample(s: Sample): void {
    pushBounded(this.run.samples, s, KEEP_SAMPLES);
    const { t, ...rest } = s;
    this.send({ type: 'sample', t, runId: this.run.runId, ...rest });
  }

  private snapshot(driver: string, when: 'open' | 'periodic' | 'close', snap: JsonObject, t: number): void {
    if (when === 'close') delete this.run.snapshots[driver];
    else this.run.snapshots[driver] = snap;
    this.send({ type: 'driver.snapshot', t, runId: this.run.runId, driver, when, snapshot: snap });
    if (when !== 'close') for (const s of samplesFromSnapshot(driver, snap, t)) this.sample(s);
  }

  abortRequested(level: 'cancel' | 'force', reason: string): void {
    this.run.abortRequested = true;
    this.send({ type: 'run.abort', runId: this.run.runId, level, reason });
  }

  ended(outcome: Outcome, marginal: boolean, details: OutcomeDetail[], links: RunLinks | null): void {
    this.run.status = 'ended';
    this.run.outcome = outcome;
    this.run.links = links;
    const t = now();
    this.send({ type: 'run.ended', t, runId: this.run.runId, outcome, marginal, durationMs: t - this.run.tStart, details, recorded: links !== null, links });
  }

  onSessionEvent(ev: SessionEvent): void {
    const runId = this.run.runId;
    switch (ev.type) {
      case 'simulator.starting':
        this.log('info', `starting simulated hardware: ${ev.description}`, 'server', null, ev.t);
        return;
      case 'simulator.started':
        this.log('info', `simulated hardware up in ${(ev.startMs / 1000).toFixed(1)} s`, 'server', null, ev.t);
        return;
      case 'simulator.log':
        if (ev.level !== 'debug') this.log(ev.level, ev.msg, 'simulator', null, ev.t);
        return;
      case 'simulator.stopped':
        this.log(ev.error ? 'warn' : 'info', ev.error ? `simulated hardware stop failed: ${ev.error}` : 'simulated hardware stopped', 'server', null, ev.t);
        return;
      case 'drivers.snapshot':
        for (const [d, s] of Object.entries(ev.snapshots)) this.snapshot(d, 'periodic', s, ev.t);
        return;
      case 'journal':
        break;
    }
    const j = ev.event;
    switch (j.type) {
      case 'run.start':
        this.run.status = 'running';
        return;
      case 'suite.start': {
        const s = this.run.suites[j.suite];
        if (s) {
          s.version = j.version;
          s.name = j.name;
        }
        this.send({ type: 'suite.started', t: j.t, runId, suite: j.suite, name: j.name, version: j.version, file: j.file });
        return;
      }
      case 'suite.end': {
        const s = this.run.suites[j.suite];
        if (s) Object.assign(s, { outcome: j.outcome, marginal: j.marginal, details: j.details });
        this.send({ type: 'suite.ended', t: j.t, runId, suite: j.suite, outcome: j.outcome, marginal: j.marginal, details: j.details });
        return;
      }
      case 'phase.start': {
        const p: LivePhase = { id: j.phase, suite: j.suite, name: j.name, group: j.group, attempt: j.attempt, outcome: null, marginal: false, measurements: [] };
        this.phases.set(j.phase, p);
        this.run.suites[j.suite]?.phases.push(p);
        this.send({ type: 'phase.started', t: j.t, runId, suite: j.suite, phase: j.phase, name: j.name, group: j.group, attempt: j.attempt });
        return;
      }
      case 'phase.end': {
        const p = this.phases.get(j.phase);
        if (!p) return;
        p.outcome = j.outcome;
        p.marginal = j.marginal;
        if (j.reason !== undefined) p.reason = j.reason;
        this.send({ type: 'phase.ended', t: j.t, runId, suite: p.suite, phase: j.phase, name: p.name, outcome: j.outcome, marginal: j.marginal, ...(j.reason !== undefined ? { reason: j.reason } : {}) });
        return;
      }
      case 'measurement': {
        const p = this.phases.get(j.phase);
        const m = j.m;
        const view: MeasurementView = {
          name: m.name,
          value: m.value,
          ...(m.unit !== undefined ? { unit: m.unit } : {}),
          limits: m.validators,
          limitText: limitsText(m.validators, m.unit),
          ...(m.limitSource !== undefined ? { limitSource: m.limitSource } : {}),
          outcome: m.outcome,
          marginal: m.marginal,
          ...(m.detail !== undefined ? { detail: m.detail } : {}),
        };
        if (!p) return; // the executor journals measurements only inside a phase it announced
        p.measurements.push(view);
        this.send({ type: 'measurement', t: m.t, runId, suite: p.suite, phase: j.phase, measurement: view });
        const s = sampleFromMeasurement(m.name, m.value, m.unit, m.t);
        if (s) this.sample(s);
        return;
      }
      case 'timing':
        this.sample({ t: j.t, quantity: 'latency', unit: 'ms', value: j.latencyMs, source: `${j.protocol} ${j.message} ${j.direction}` });
        return;
      case 'log':
        this.log(j.line.level, j.line.msg, 'run', j.phase, j.line.t);
        return;
      case 'health': {
        const h: DriverHealth = { ok: j.ok, detail: j.detail, check: j.check, reconnects: j.reconnects, t: j.t };
        this.onHealth(j.resource, h);
        this.send({ type: 'driver.health', t: j.t, runId, driver: j.resource, ok: j.ok, detail: j.detail, check: j.check, reconnects: j.reconnects });
        return;
      }
      case 'driver.snapshot':
        this.snapshot(j.driver, j.when, JSON.parse(JSON.stringify(j.snapshot)) as JsonObject, now());
        return;
      case 'emergency-stop':
        this.log('warn', `emergency stop (${j.reason}): ${Object.entries(j.results).map(([k, v]) => `${k} ${v}`).join(', ')}`, 'run', null, j.t);
        return;
      case 'run.end':
        this.run.status = 'stopping';
        return;
      default:
        return;
    }
  }
}
