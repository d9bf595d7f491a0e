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
}

export interface MeterReading {
  voltageV: number[];
  currentA: number[];
  powerW: number;
  importedEnergyWh: number;
  frequencyHz?: number;
  /** epoch ms (float, µs resolution) when the reading was taken */
  t: number;
}

export interface EnergyMeter extends Lifecycle {
  read(signal: AbortSignal): Promise<MeterReading>;
  readEnergyWh(signal: AbortSignal): Promise<number>;
  readPowerW(signal: AbortSignal): Promise<number>;
  serialNumber(signal: AbortSignal): Promise<string>;
}

export interface CcuStatus {
  voltageV: number;
  currentA: number;
  state: string;
  faults: string[];
  t: number;
}

export interface ChargeController extends Lifecycle {
  status(signal: AbortSignal): Promise<CcuStatus>;
  setLimits(limits: { maxVoltageV: number; maxCurrentA: number; maxPowerW?: number }, signal: AbortSignal): Promise<void>;
  enable(signal: AbortSignal): Promise<void>;
  disable(signal: AbortSignal): Promise<void>;
  /** De-energise now. Takes no signal: it must run even when the run was cancelled. Never rejects
   * for a rig that is already safe; rejects with LinkError when it could not reach the hardware. */
  emergencyStop(): Promise<void>;
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
  waitForState(state: string, opts: { timeoutMs: number; signal: AbortSignal }): Promise<EvStateEvent>;
}

export interface ConsoleMatch {
  line: string;
  groups: string[];
  t: number;
}

export interface Secc extends Lifecycle {
  send(line: string, signal: AbortSignal): Promise<void>;
  expect(pattern: RegExp | string, opts: { timeoutMs: number; signal: AbortSignal }): Promise<ConsoleMatch>;
}

export interface OcppCall {
  uniqueId: string;
  action: string;
  payload: JsonObject;
  t: number;
}

export interface Csms extends Lifecycle {
  /** Waits for the charger to send `action` (for PnC DataTransfer: `DataTransfer.<messageId>`). */
  expectCall(action: string, opts: { timeoutMs: number; signal: AbortSignal }): Promise<OcppCall>;
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
