// Suites and phases: how a bench test is written (OpenHTF's model without decorators).
//
//   const uses = { meter: 'EnergyMeter' } as const;
//   type D = Drivers<typeof uses>;
//
//   const readEnergy = phase<D>({
//     name: 'read_energy', timeoutMs: 5_000, retry: { attempts: 2 },
//     measures: [measure('energy_wh').unit('Wh').inRange(limit('meter.energy_wh'))],
//   }, async ({ d, m, signal }) => {
//     m.set('energy_wh', await d.meter.readEnergyWh(signal));
//   });
//
//   export default defineSuite({ name: 'meter-smoke', version: '1.0.0', requires: ['meter'],
//                                uses, main: [readEnergy] });
//
// A suite file is `bench/<purpose>/<name>.suite.ts` and default-exports its suite. `uses` maps the
// role names a phase sees in `d` to capabilities; the runner binds each role to the rig driver of
// the same name when it provides the capability, else to the only driver that provides it.
// `requires` lists rig features; a rig without one of them SKIPS the suite.
import { CAPABILITY_NAMES, type CapabilityMap, type CapabilityName, type TimingPoint } from '../../drivers/capabilities.ts';
import { OUTCOMES, type MeasuredValue, type Outcome } from '../report/record.ts';
import { MeasureBuilder } from './measure.ts';

export type Uses = Readonly<Record<string, CapabilityName>>;
export type Drivers<U extends Uses> = { [K in keyof U]: CapabilityMap[U[K]] };

export interface SeriesHandle {
  /** Adds one point: the coordinates named by the declaration's dims, then the value. */
  add(...coordsThenValue: number[]): void;
}

export interface Measurements {
  /** Sets a declared scalar measurement; it is validated and journaled at once. */
  set(name: string, value: MeasuredValue): void;
  series(name: string): SeriesHandle;
}

export interface ThroughputPoint {
  link: string;
  window: string;
  framesPerS: number;
  bytesPerS: number;
  errors: number;
  dropped: number;
}
export interface HealthPoint {
  resource: string;
  check: string;
  ok: boolean;
  reconnects?: number;
  detail: string;
}

export interface PhaseContext<D> {
  /** The drivers this suite uses, by role. */
  d: D;
  /** Aborted on phase timeout or run cancellation; pass it to every I/O call. */
  signal: AbortSignal;
  m: Measurements;
  /** Stores a file beside the record (SHA-256 recorded) and lists it under this phase. */
  attach(name: string, data: string | Uint8Array, mime?: string): Promise<void>;
  log(msg: string): void;
  warn(msg: string): void;
  /** A protocol exchange's latency, for hil_timing. */
  timing(p: TimingPoint): void;
  throughput(p: ThroughputPoint): void;
  health(p: HealthPoint): void;
  /** Resolves after `ms`, rejects when the phase is aborted. */
  sleep(ms: number): Promise<void>;
  /** A value from the limit files (e.g. a timeout the suite waits for); throws if the key is unknown. */
  limitValue(key: string): unknown;
  phase: { name: string; attempt: number; group: 'setup' | 'main' | 'teardown' };
  suite: { name: string; version: string };
  rig: { id: string; features: readonly string[]; dut: { model: string; serial?: string; firmware?: string } };
}

/**
 * What a phase function may return: nothing (= continue), 'skip' or `{ skip: reason }` (outcome
 * SKIPPED; the reason, one line for a person, goes into the record and the progress line), 'stop'
 * (end the suite's main phases).
 */
export type PhaseResult = void | 'continue' | 'skip' | { skip: string } | 'stop';

/**
 * Why a phase result skips the phase, or undefined when it does not (`'skip'` gets a generic reason).
 * `{ skip }` without a non-empty string is the suite's bug: TypeError.
 */
export function skipReasonOf(result: unknown): string | undefined {
  if (result === 'skip') return 'the phase skipped itself';
  if (typeof result === 'object' && result !== null && 'skip' in result) {
    const why = (result as { skip: unknown }).skip;
    if (typeof why !== 'string' || why.trim() === '') throw new TypeError(`a phase returned { skip: ${JSON.stringify(why) ?? String(why)} }; the reason must be a non-empty string`);
    return why.trim();
  }
  return undefined;
}

export interface RetryPolicy {
  /** Total attempts including the first. */
  attempts: number;
  /** Outcomes that trigger another attempt; INFRA only by default. */
  on?: readonly Outcome[];
}

export interface PhaseOptions {
  name: string;
  description?: string;
  /** Default 60 000. On expiry the signal aborts and the phase ends TIMEOUT. */
  timeoutMs?: number;
  retry?: RetryPolicy;
  measures?: readonly MeasureBuilder[];
  /** End the suite's main phases when this phase FAILs (by default FAIL continues, ERROR/TIMEOUT/INFRA stop). */
  stopOnFail?: boolean;
}

export interface PhaseDef<D> extends PhaseOptions {
  readonly kind: 'phase';
  fn(ctx: PhaseContext<D>): Promise<PhaseResult> | PhaseResult;
}

export function phase<D = object>(opts: PhaseOptions, fn: (ctx: PhaseContext<D>) => Promise<PhaseResult> | PhaseResult): PhaseDef<D> {
  const name = String(opts?.name);
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`phase name "${name}" must match [A-Za-z0-9_.-]+`);
  if (typeof fn !== 'function') throw new Error(`phase ${name}: the phase function is missing`);
  if (opts.timeoutMs !== undefined && !(Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0)) throw new Error(`phase ${name}: timeoutMs must be a positive number of milliseconds`);
  if (opts.retry !== undefined) {
    if (!Number.isInteger(opts.retry.attempts) || opts.retry.attempts < 1) throw new Error(`phase ${name}: retry.attempts must be a whole number >= 1`);
    for (const o of opts.retry.on ?? []) if (!OUTCOMES.includes(o)) throw new Error(`phase ${name}: retry.on has unknown outcome "${o}"`);
  }
  const names = new Set<string>();
  for (const m of opts.measures ?? []) {
    if (!(m instanceof MeasureBuilder)) throw new Error(`phase ${name}: measures must be built with measure(...)`);
    if (names.has(m.name)) throw new Error(`phase ${name}: measurement "${m.name}" declared twice`);
    names.add(m.name);
  }
  return { ...opts, kind: 'phase', fn };
}

export interface SuiteOptions<U extends Uses> {
  name: string;
  version: string;
  description?: string;
  requires?: readonly string[];
  uses?: U;
  setup?: readonly PhaseDef<Drivers<U>>[];
  main: readonly PhaseDef<Drivers<U>>[];
  /** Always runs, each phase under its own deadline, even after a failure or cancellation. */
  teardown?: readonly PhaseDef<Drivers<U>>[];
}

export interface SuiteDef<U extends Uses = Uses> extends SuiteOptions<U> {
  readonly kind: 'suite';
}

export function defineSuite<U extends Uses = Record<string, never>>(opts: SuiteOptions<U>): SuiteDef<U> {
  const name = String(opts?.name);
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(name)) throw new Error(`suite name "${name}" must match [a-z0-9][a-z0-9_.-]*`);
  if (typeof opts.version !== 'string' || opts.version === '') throw new Error(`suite ${name}: version must be a non-empty string`);
  for (const f of opts.requires ?? []) if (typeof f !== 'string') throw new Error(`suite ${name}: requires lists feature names (strings)`);
  for (const [role, cap] of Object.entries(opts.uses ?? {})) {
    if (!CAPABILITY_NAMES.includes(cap)) throw new Error(`suite ${name}: uses.${role} is "${String(cap)}", not one of ${CAPABILITY_NAMES.join(', ')}`);
  }
  const seen = new Set<string>();
  for (const [group, list] of [['setup', opts.setup ?? []], ['main', opts.main], ['teardown', opts.teardown ?? []]] as const) {
    if (!Array.isArray(list)) throw new Error(`suite ${name}: ${group} must be a list of phases`);
    for (const p of list as readonly unknown[]) {
      const ph = p as PhaseDef<unknown> | undefined;
      if (ph?.kind !== 'phase' || typeof ph.fn !== 'function') throw new Error(`suite ${name}: ${group} holds something that is not a phase(...)`);
      if (seen.has(ph.name)) throw new Error(`suite ${name}: phase "${ph.name}" appears twice`);
      seen.add(ph.name);
    }
  }
  return { ...opts, kind: 'suite' };
}

export function isSuite(v: unknown): v is SuiteDef {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'suite';
}
