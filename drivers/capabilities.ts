// Capability interfaces: what bench suites ask the rig for (an EnergyMeter, a Csms, ...), never a
// concrete driver. A driver (drivers/<family>/) implements one or more of these and registers under
// a name usable in rig files (src/rig/registry.ts). Units are in member names; every I/O call takes
// an AbortSignal; errors are typed so the runner can tell a rig fault from a charger fault:
//   LinkError          the rig failed (link down, adapter gone, timeout on the wire) -> INFRA
//   ProtocolViolation  the device under test broke a rule                           -> FAIL
//   anything else      a bug or an unexpected state                                 -> ERROR
//
// The device-specific members are the first cut; the driver issues extend them.

export type JsonObject = Record<string, unknown>;

/** Result of a cheap liveness probe. `health()` resolves with this and never rejects. */
export interface HealthResult {
  ok: boolean;
  /** One line for a person: what was checked and what was seen. */
  detail: string;
  /** Times the driver re-established its link since open. */
  reconnects?: number;
}

/** A protocol exchange's latency, as PhaseContext.timing() takes it (hil_timing). */
export interface TimingPoint {
  /** v2g, slac, ocpp, can, modbus, ... */
  protocol: string;
  /** e.g. Authorize, DataTransfer.Get15118EVCertificate */
  message: string;
  /** cp->csms, csms->cp, ev->secc, ... */
  direction: string;
  latencyMs: number;
}

/** Life cycle shared by every driver. */
export interface Lifecycle {
  /** Opens the link. Honours `signal`; rejects with LinkError when the hardware is not there. */
  open(signal: AbortSignal): Promise<void>;
  /** Idempotent; settles within `deadlineMs` even when the link is wedged (then it drops it). */
  close(deadlineMs: number): Promise<void>;
  /** Cheap probe for preflight and health suites; never throws. */
  health(signal: AbortSignal): Promise<HealthResult>;
  /** JSON-safe state for the record and the live view. */
  snapshot(): JsonObject;
  /**
   * Optional: removes and returns the timing points the driver measured since the last call. The
   * runner drains every open driver at the end of each phase attempt and records the points under
   * that phase, as if the phase had called ctx.timing() for each (docs/event-sequence.md).
   */
  timings?(): TimingPoint[];
}

export interface MeterReading {
  /** Per phase; NaN where the meter reports "not available" (e.g. L2/L3 of a single-phase meter). */
  voltageV: number[];
  currentA: number[];
  powerW: number;
  importedEnergyWh: number;
  frequencyHz?: number;
  /** epoch ms (float, µs resolution) when the reading was taken */
  t: number;
}

export interface MeterPollOptions {
  /** Time between the starts of two readings. */
  intervalMs: number;
  /** Polling stops (and poll() resolves) when this aborts. */
  signal: AbortSignal;
  /** Every reading, e.g. to add points to a series measurement. */
  onReading(r: MeterReading): void;
  /** A reading that failed (the loop goes on); without it failures are only counted. */
  onError?(e: Error): void;
  /** Consecutive failed readings after which poll() rejects with the last LinkError (default 10). */
  maxFailures?: number;
}

export interface MeterPollSummary {
  readings: number;
  failures: number;
  /** Intervals skipped because a reading took longer than intervalMs. */
  overruns: number;
}

export interface EnergyMeter extends Lifecycle {
  read(signal: AbortSignal): Promise<MeterReading>;
  readEnergyWh(signal: AbortSignal): Promise<number>;
  readPowerW(signal: AbortSignal): Promise<number>;
  serialNumber(signal: AbortSignal): Promise<string>;
  /**
   * Reads every `intervalMs` until `signal` aborts, then resolves with counts. Rejects with
   * LinkError only when `maxFailures` consecutive readings fail.
   */
  poll(opts: MeterPollOptions): Promise<MeterPollSummary>;
}

export interface CcuStatus {
  voltageV: number;
  currentA: number;
  state: string;
  faults: string[];
  t: number;
  /** Output power as the controller reports it (or voltage × current). */
  powerW?: number;
  /** The last limits this driver commanded, if any. */
  setpoint?: { voltageV: number; currentA: number };
  /** The controller's own limits, when it reports them. */
  ratedMaxVoltageV?: number;
  ratedMaxCurrentA?: number;
  ratedPowerW?: number;
  /** How old the measured values are, ms (time since the controller last reported them). */
  ageMs?: number;
}

/** Traffic counters of a driver's link since open, for hil_throughput (two samples give a rate). */
export interface LinkStats {
  /** e.g. `slcan:/dev/ttyACM0`, `socketcand:10.0.0.5:29536/can0` */
  link: string;
  rxFrames: number;
  txFrames: number;
  rxBytes: number;
  txBytes: number;
  errors: number;
  dropped: number;
  /** epoch ms of the sample */
  tMs: number;
}

/**
 * The hil_throughput point (a suite's ThroughputPoint) between two LinkStats samples. `window` is
 * the measured time between the samples (`1.003s`): it differs on every point, so InfluxDB gets it
 * as the field `window_s`, never as a tag (src/report/influx.ts).
 */
export function linkThroughput(a: LinkStats, b: LinkStats): { link: string; window: string; framesPerS: number; bytesPerS: number; errors: number; dropped: number } {
  const s = Math.max(1e-6, (b.tMs - a.tMs) / 1000);
  return {
    link: b.link,
    window: `${s.toFixed(3)}s`,
    framesPerS: (b.rxFrames + b.txFrames - a.rxFrames - a.txFrames) / s,
    bytesPerS: (b.rxBytes + b.txBytes - a.rxBytes - a.txBytes) / s,
    errors: Math.max(0, b.errors - a.errors),
    dropped: Math.max(0, b.dropped - a.dropped),
  };
}

export interface ChargeController extends Lifecycle {
  status(signal: AbortSignal): Promise<CcuStatus>;
  setLimits(limits: { maxVoltageV: number; maxCurrentA: number; maxPowerW?: number }, signal: AbortSignal): Promise<void>;
  enable(signal: AbortSignal): Promise<void>;
  disable(signal: AbortSignal): Promise<void>;
  /** De-energise now. Takes no signal: it must run even when the run was cancelled. Never rejects
   * for a rig that is already safe; rejects with LinkError when it could not reach the hardware. */
  emergencyStop(): Promise<void>;
  /** Bus traffic counters (frames/s, errors, drops via linkThroughput). */
  linkStats(): LinkStats;
}

export type EvPaymentOption = 'ExternalPayment' | 'Contract';

export interface EvStateEvent {
  state: string;
  t: number;
  detail?: string;
}

export interface EvEmulator extends Lifecycle {
  plugIn(signal: AbortSignal): Promise<void>;
  unplug(signal: AbortSignal): Promise<void>;
  startSession(session: { mode: 'AC' | 'DC'; payment: EvPaymentOption }, signal: AbortSignal): Promise<void>;
  stopSession(signal: AbortSignal): Promise<void>;
  installCertificate(signal: AbortSignal): Promise<void>;
  /**
   * Optional (M02): has the plugged-in EV ask for an update of the contract it holds (ISO 15118-2
   * CertificateUpdateReq); like installCertificate it only starts it — the outcome is a state
   * (ContractInstalled / ContractInstallFailed). A driver that has the member but cannot do it as
   * configured rejects with NotSupportedError (suites then SKIP, giving its message as the reason).
   */
  updateCertificate?(signal: AbortSignal): Promise<void>;
  /**
   * Resolves with the first event of `state` (or of any of the states given) at or after `since`
   * (epoch ms; default: now, except that the latest event counts when it already is one of them).
   * Timeout → ProtocolViolation (the charger did not get the EV there); link down → LinkError.
   */
  waitForState(state: string | readonly string[], opts: { timeoutMs: number; signal: AbortSignal; since?: number }): Promise<EvStateEvent>;
  /** Every state event since open, oldest first. */
  events(): readonly EvStateEvent[];
}

export interface ConsoleMatch {
  line: string;
  groups: string[];
  t: number;
}

export interface ConsoleLine {
  line: string;
  t: number;
}

export interface Secc extends Lifecycle {
  send(line: string, signal: AbortSignal): Promise<void>;
  expect(pattern: RegExp | string, opts: { timeoutMs: number; signal: AbortSignal }): Promise<ConsoleMatch>;
  /**
   * Waits for a named event pattern from the rig file (`options.events`); lines at or after `since`
   * (epoch ms, default: now) count. Timeout → ProtocolViolation showing the lines seen meanwhile.
   */
  waitForEvent(name: string, opts: { timeoutMs: number; signal: AbortSignal; since?: number }): Promise<ConsoleMatch & { event: string }>;
  /** Received lines at or after `since` (epoch ms), oldest first (bounded history). */
  lines(since?: number): readonly ConsoleLine[];
}

export interface OcppCall {
  uniqueId: string;
  action: string;
  payload: JsonObject;
  /** epoch ms when the CSMS received it */
  t: number;
  /** the charger that sent it, when the CSMS knows several */
  chargePointId?: string;
}

export interface ExpectCallOptions {
  timeoutMs: number;
  signal: AbortSignal;
  /** only calls whose payload (PnC: the inner 2.0.1 payload) satisfies this count */
  match?: (call: OcppCall) => boolean;
  /** only calls received at or after this epoch ms count (default: any not yet taken by an earlier expectCall) */
  since?: number;
}

export interface Csms extends Lifecycle {
  /** Waits for the charger to send `action` (for PnC DataTransfer: `DataTransfer.<messageId>`). */
  expectCall(action: string, opts: ExpectCallOptions): Promise<OcppCall>;
  /** Sends a CSMS-initiated call and resolves with the charger's CALLRESULT payload. */
  call(action: string, payload: JsonObject, opts: { timeoutMs: number; signal: AbortSignal }): Promise<JsonObject>;
}

/** Name → interface, for typed `uses:` declarations in suites. */
export interface CapabilityMap {
  EvEmulator: EvEmulator;
  Secc: Secc;
  ChargeController: ChargeController;
  EnergyMeter: EnergyMeter;
  Csms: Csms;
}
export type CapabilityName = keyof CapabilityMap;
export const CAPABILITY_NAMES: readonly CapabilityName[] = ['EvEmulator', 'Secc', 'ChargeController', 'EnergyMeter', 'Csms'];

/** The rig failed: link down, adapter unplugged, no answer on the wire. Outcome INFRA. */
export class LinkError extends Error {
  override readonly name = 'LinkError';
  /** The rig resource or driver that failed, e.g. `meter` or `ccu_bus`. */
  readonly resource: string;
  constructor(resource: string, message: string, options?: { cause?: unknown }) {
    super(`${resource}: ${message}`, options);
    this.resource = resource;
  }
}

/**
 * The rig's driver cannot do what an optional capability member asks, as configured (e.g. no script
 * for it). Not a fault of the rig or the charger: a suite turns it into SKIPPED with this message.
 */
export class NotSupportedError extends Error {
  override readonly name = 'NotSupportedError';
}

/** The device under test broke a rule. Outcome FAIL; `rule` names the rule it broke. */
export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';
  /** A short rule id, e.g. `ocpp16.schema.DataTransfer` or `pnc.A03.backoff`. */
  readonly rule: string;
  constructor(rule: string, message: string, options?: { cause?: unknown }) {
    super(`[${rule}] ${message}`, options);
    this.rule = rule;
  }
}

// The guards below also match an error of the same name from another copy of this module (a lab
// driver package bundling its own): what counts is the kind, not the class object.

/** A LinkError (the rig failed). */
export function isLinkError(e: unknown): e is Error {
  return e instanceof LinkError || (e instanceof Error && e.name === 'LinkError');
}

/** A ProtocolViolation (the device under test broke a rule). */
export function isViolation(e: unknown): e is Error {
  return e instanceof ProtocolViolation || (e instanceof Error && e.name === 'ProtocolViolation');
}

/** A NotSupportedError (an optional capability member the rig cannot do as configured). */
export function isNotSupported(e: unknown): e is Error {
  return e instanceof NotSupportedError || (e instanceof Error && e.name === 'NotSupportedError');
}
