// The live event stream of `pnc-bench serve` (GET /api/events, a WebSocket): the wire schemas, and
// `LiveRunTracker`, which turns one run session's events (src/runner/session.ts) into stream events
// and keeps the run's current state, so a client connecting mid-run gets it first (the `hello`).
// The zod schemas below are the single source of truth of every message: the TypeScript types are
// inferred from them and `npm run schemas` (scripts/gen-schemas.ts) exports them as the JSON Schema
// src/server/events.schema.json (documented in docs/server.md); test/server/api.test.ts validates
// every event of a real run against it.
//
//   const tracker = new LiveRunTracker(session.runId, trigger, plan, (ev) => broadcast(ev));
//   session.on((ev) => tracker.onSessionEvent(ev));
//   ... tracker.state()  // the LiveRun a new client gets in its hello
import { z } from 'zod';
import type { JsonObject } from '../../drivers/capabilities.ts';
import { limitsText } from '../report/limits-text.ts';
import {
  DutInfo,
  LogLine,
  MeasurementOutcome,
  MeasurementRecord,
  Outcome,
  OutcomeDetail,
  PhaseGroup,
  Trigger,
  ValidatorSpec,
  type MeasuredValue,
} from '../report/record.ts';
import { nowMs as now } from '../../drivers/common/time.ts';
import type { SessionEvent } from '../runner/session.ts';

export const EVENTS_SCHEMA_ID = 'pnc-bench-events/1';
/** How many plot samples and log lines a run keeps for clients that connect late. */
const KEEP_SAMPLES = 600;
const KEEP_LOGS = 200;

// ---------------------------------------------------------------------------------------------
// Wire schemas. `wire` holds their JSON Schema metadata: a schema registered with an `id` becomes
// the definition `#/definitions/<id>` of events.schema.json, referenced wherever it is used.

const wire = z.registry<{ id?: string; description?: string }>();

/** Names `schema` as a definition of the JSON Schema (and describes it there). */
function def<S extends z.ZodType>(id: string, schema: S, description?: string): S {
  wire.add(schema, description === undefined ? { id } : { id, description });
  return schema;
}

const Seq = def('seq', z.number().int().min(1));
const Time = def('t', z.number(), 'epoch milliseconds (float, µs resolution)');
const RunId = def('runId', z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/));
const JsonObjectSchema = def('jsonObject', z.record(z.string(), z.unknown()));
const Details = def('details', z.array(OutcomeDetail));
const Plan = def('plan', z.array(z.strictObject({ name: z.string(), file: z.string() })));
/** A suite's index in the plan, or a phase's id (unique in the run). */
const Index = z.number().int().nonnegative();
const Attempt = z.number().int().min(1);

// The record's schemas (src/report/record.ts), named as definitions here.
def('outcome', Outcome);
def('group', PhaseGroup);
def('level', LogLine.shape.level);
def('scalar', MeasurementRecord.shape.value);
def('outcomeDetail', OutcomeDetail);
def('trigger', Trigger);
def(
  'validator',
  ValidatorSpec,
  'A resolved limit, as in the record (reports/schema): inRange {min,max,marginalMin,marginalMax}, equals {value}, oneOf {values}, matches {pattern,flags}, withinPercent {target,percent,marginalPercent}.',
);

export const DriverHealth = def(
  'driverHealth',
  z.strictObject({
    ok: z.boolean(),
    detail: z.string(),
    /** `probe` (the server's own check) or the run's `preflight:<suite>`. */
    check: z.string(),
    reconnects: z.number().int().nonnegative(),
    t: Time,
  }),
);
export type DriverHealth = z.infer<typeof DriverHealth>;

export const RigStatus = def(
  'rigStatus',
  z.strictObject({
    id: z.string(),
    description: z.string().nullable(),
    file: z.string(),
    features: z.array(z.string()),
    dut: DutInfo,
    simulator: z.strictObject({ name: z.string(), description: z.string() }).nullable(),
    drivers: z.array(
      z.strictObject({
        name: z.string(),
        driver: z.string(),
        provides: z.array(z.string()),
        health: DriverHealth.nullable(),
        snapshot: JsonObjectSchema.nullable(),
      }),
    ),
    probe: z.strictObject({ state: z.enum(['idle', 'probing']), checkedAt: z.string().nullable(), error: z.string().nullable() }),
    /** runId of the run in progress, or null. */
    busy: RunId.nullable(),
  }),
);
export type RigStatus = z.infer<typeof RigStatus>;

const MeasurementView = def(
  'measurement',
  z.strictObject({
    name: z.string(),
    value: MeasurementRecord.shape.value,
    unit: z.string().optional(),
    /** The validators the value was checked against (the resolved limits). */
    limits: z.array(ValidatorSpec),
    limitText: z.string().register(wire, {
      description: 'The limits in words, as report.html shows them: `≤ 2000 ms, marginal > 1500`; `none (recorded only)` without limits.',
    }),
    limitSource: z.string().optional(),
    outcome: MeasurementOutcome,
    marginal: z.boolean(),
    detail: z.string().optional(),
  }),
);
type MeasurementView = z.infer<typeof MeasurementView>;

const LivePhase = def(
  'livePhase',
  z.strictObject({
    id: Index,
    suite: Index,
    name: z.string(),
    group: PhaseGroup,
    attempt: Attempt,
    /** null while the phase runs */
    outcome: Outcome.nullable(),
    marginal: z.boolean(),
    reason: z.string().optional(),
    measurements: z.array(MeasurementView),
  }),
);
type LivePhase = z.infer<typeof LivePhase>;

const LiveSuite = def(
  'liveSuite',
  z.strictObject({
    index: Index,
    name: z.string(),
    file: z.string(),
    version: z.string().nullable(),
    /** null until the suite ended */
    outcome: Outcome.nullable(),
    marginal: z.boolean(),
    details: Details,
    phases: z.array(LivePhase),
  }),
);

const SampleQuantity = z.enum(['power', 'current', 'latency']);

export const Sample = def(
  'sample',
  z.strictObject({
    t: Time,
    quantity: SampleQuantity,
    unit: z.enum(['W', 'A', 'ms']),
    value: z.number(),
    /** Where it came from: `<driver>.<path>`, `measurement <name>` or `<protocol> <message> <direction>`. */
    source: z.string(),
  }),
);
export type Sample = z.infer<typeof Sample>;

const LogEntry = def(
  'logEntry',
  z.strictObject({
    t: Time,
    phase: z.number().int().nullable(),
    level: LogLine.shape.level,
    msg: z.string(),
    source: z.enum(['run', 'simulator', 'server']),
  }),
);
type LogEntry = z.infer<typeof LogEntry>;

export const RunLinks = z.strictObject({ record: z.string(), report: z.string(), junit: z.string() });
export type RunLinks = z.infer<typeof RunLinks>;
const Links = def(
  'links',
  RunLinks.nullable(),
  "API paths of a run's record.json, report.html and junit.xml; null when the run has no record (yet: in liveRun, until it ended).",
);

export const LiveRun = def(
  'liveRun',
  z.strictObject({
    runId: RunId,
    status: z.enum(['starting', 'running', 'stopping', 'ended']),
    startedAt: z.string(),
    tStart: Time,
    trigger: Trigger,
    abortRequested: z.boolean(),
    outcome: Outcome.nullable(),
    suites: z.array(LiveSuite),
    /** open drivers' latest snapshot */
    snapshots: z.record(z.string(), JsonObjectSchema),
    samples: z.array(Sample).max(KEEP_SAMPLES),
    logs: z.array(LogEntry).max(KEEP_LOGS),
    /** The run's files once it ended with a record (as in run.ended); null before, or without a record. */
    links: Links,
  }),
);
export type LiveRun = z.infer<typeof LiveRun>;

/** A stream message: `type`, then `seq` and `t` (stamped by the broadcaster), then its members. */
const message = <T extends string, S extends z.core.$ZodLooseShape>(type: T, shape: S) =>
  z.strictObject({ type: z.literal(type), seq: Seq, t: Time, ...shape });

export const ServerEvent = z
  .discriminatedUnion('type', [
    def(
      'hello',
      message('hello', { schema: z.literal(EVENTS_SCHEMA_ID), rig: RigStatus, run: LiveRun.nullable() }),
      'First message of every connection: the rig status and the run in progress (or the last run this server ran; null if none).',
    ),
    def('rigStatusEvent', message('rig.status', { rig: RigStatus }), 'The rig status changed: a health probe started or ended, a run took or released the rig.'),
    def('runStarted', message('run.started', { runId: RunId, startedAt: z.string(), trigger: Trigger, plan: Plan })),
    def(
      'runAbort',
      message('run.abort', { runId: RunId, level: z.enum(['cancel', 'force']), reason: z.string() }),
      'An abort was requested: cancel (running phases end ABORTED, teardown runs) or force (teardown cut short).',
    ),
    def(
      'runEnded',
      message('run.ended', {
        runId: RunId,
        outcome: Outcome,
        marginal: z.boolean(),
        durationMs: z.number().nonnegative(),
        details: Details,
        /** false when the run failed before a record existed (its simulated hardware did not start) */
        recorded: z.boolean(),
        links: Links,
      }),
      'The run is over and its files are written (links), or it failed before a record existed (recorded false, links null).',
    ),
    def('suiteStarted', message('suite.started', { runId: RunId, suite: Index, name: z.string(), version: z.string(), file: z.string() })),
    def('suiteEnded', message('suite.ended', { runId: RunId, suite: Index, outcome: Outcome, marginal: z.boolean(), details: Details })),
    def('phaseStarted', message('phase.started', { runId: RunId, suite: Index, phase: Index, name: z.string(), group: PhaseGroup, attempt: Attempt })),
    def(
      'phaseEnded',
      message('phase.ended', { runId: RunId, suite: Index, phase: Index, name: z.string(), outcome: Outcome, marginal: z.boolean(), reason: z.string().optional() }),
    ),
    def(
      'measurementEvent',
      message('measurement', { runId: RunId, suite: Index, phase: Index, measurement: MeasurementView }),
      'A measurement was set and validated against its limits.',
    ),
    def(
      'sampleEvent',
      message('sample', { runId: RunId, ...Sample.omit({ t: true }).shape }),
      'A point for the live plots: power (W) and current (A) from driver snapshots (powerW/currentA fields) and from measurements in W/kW/A/mA; latency (ms) from timing points.',
    ),
    def(
      'driverSnapshot',
      message('driver.snapshot', { runId: RunId, driver: z.string(), when: z.enum(['open', 'periodic', 'close']), snapshot: JsonObjectSchema }),
      "A driver's snapshot(): when it opened, every snapshot interval while open (periodic), and before it closed.",
    ),
    def(
      'driverHealthEvent',
      message('driver.health', { runId: RunId.nullable(), driver: z.string(), ...DriverHealth.omit({ t: true }).shape }),
      "A driver's health: from a run's preflight (runId set, check preflight:<suite>) or the server's own probe (runId null, check probe).",
    ),
    def(
      'logEvent',
      message('log', { runId: RunId.nullable(), ...LogEntry.omit({ t: true }).shape }),
      "A log line: a phase's log (source run, phase set; driver lines prefixed [driver]), the simulated hardware (source simulator) or the server (source server).",
    ),
  ])
  .register(wire, {
    description:
      'One message of the live event stream of `pnc-bench serve` (GET /api/events, WebSocket, JSON text frames). Every message has `type`, `seq` (increasing per server) and `t` (epoch ms, float). The first message of every connection is `hello` with the current state. Documented in docs/server.md; the TypeScript types are in src/server/events.ts.',
  });
export type ServerEvent = z.infer<typeof ServerEvent>;

/** A ServerEvent before the broadcaster stamps it with seq and (when missing) t. */
export type UnstampedEvent = ServerEvent extends infer E ? (E extends ServerEvent ? Omit<E, 'seq' | 't'> & { t?: number } : never) : never;

/** The JSON Schema (draft-07) of every stream message; scripts/gen-schemas.ts writes it to src/server/events.schema.json. */
export function eventsJsonSchema(): Record<string, unknown> {
  const { $schema, description, ...rest } = z.toJSONSchema(ServerEvent, { target: 'draft-7', metadata: wire });
  return { $schema, $id: 'https://pnc-bench.local/schema/events-1.schema.json', title: EVENTS_SCHEMA_ID, description, ...rest };
}

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
