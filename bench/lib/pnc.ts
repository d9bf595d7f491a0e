// Shared steps of the PnC suites (bench/cert-installation, pnc-authorization, offline-validation,
// timing, throughput/pnc-sessions): the charger as the mock CSMS sees it, its configuration keys
// (changed and put back), every call it sends (recorded per phase), PnC messages sent by the CSMS,
// the SECC certificate signing steps, a contract installation, and a whole EV Contract session — plug
// in, ISO 15118 session, authorization, power, stop, unplug — with the meter polled throughout and the
// transaction it produced. Everything goes through the rig's capabilities and the MockCsms scripting
// API; nothing here knows the virtual rig.
//
//   const keeper = new ConfigKeeper();
//   await keeper.set(ctx, { CentralContractValidationAllowed: 'true' });
//   await recording(ctx, async (rec) => {                // every charger CALL while fn runs
//     const s = await runContractSession(ctx, { charge: 'energy', series: { powerW: ctx.m.series('power_w') } });
//     checkPncTraffic(rec, s.since); rec.of('DataTransfer.Authorize', s.since);
//     await checkTransaction(ctx, rec, s, emaid);
//   });
//   await keeper.restore(ctx);                          // in teardown
//
// Waits are limit values (bench/limits/pnc.yaml, `pnc.wait.*`), so a lab raises them per DUT model.
import { isLinkError, isViolation, LinkError, ProtocolViolation, type Csms, type EnergyMeter, type EvEmulator, type MeterPollSummary, type EvStateEvent, type JsonObject } from '../../drivers/capabilities.ts';
import { errorText, waitFor } from '../../drivers/common/abort.ts';
import { nowMs } from '../../drivers/common/time.ts';
import { asScriptableCsms, type ScriptableCsms } from '../../src/csms/driver.ts';
import { CsmsUsageError, PNC_CP_MESSAGES, PNC_VENDOR_ID, type ChainOptions, type ChainVariant, type ChargePoint, type PncCallMessage, type PncCalls, type ReceivedCall } from '../../src/csms/index.ts';
import type { PhaseContext, SeriesHandle } from '../../src/runner/suite.ts';
import { asInRange, asNumber, configMap, evDetailText, meterPollProblem, outOfRange } from './checks.ts';
import { limitNumber, pollUntil } from './wait.ts';

/** The drivers these helpers use (a suite's `uses` may have more). */
export interface PncDrivers {
  csms: Csms;
  ev?: EvEmulator;
  meter?: EnergyMeter;
}
export type PncContext = PhaseContext<PncDrivers>;

/**
 * Throws ProtocolViolation(rule) when `value` is outside the inRange limit `key` (after the phase
 * set the measurement of the same limit, so the record has both the number and the rule).
 */
export function enforceLimit(ctx: Pick<PncContext, 'limitValue'>, key: string, value: number, rule: string, what: string): void {
  const why = outOfRange(value, asInRange(key, ctx.limitValue(key)));
  if (why) throw new ProtocolViolation(rule, `${what}: ${why} (limit ${key})`);
}

export function scriptable(ctx: PncContext): ScriptableCsms {
  return asScriptableCsms(ctx.d.csms);
}

/** The charger under test, connected (waits up to pnc.wait.connect_ms for it). */
export async function chargePoint(ctx: PncContext): Promise<ChargePoint> {
  const csms = scriptable(ctx);
  const timeoutMs = limitNumber(ctx, 'pnc.wait.connect_ms');
  // GetConfiguration through the capability waits for the default charger to be known and connected
  let cp: ChargePoint;
  try {
    cp = csms.chargePoint();
  } catch (e) {
    // only "no charger has connected yet" is waited out; any other usage error (several chargers, …) stands
    if (!(e instanceof CsmsUsageError) || csms.server.chargePoints().length > 0) throw e;
    await ctx.d.csms.call('GetConfiguration', { key: ['NumberOfConnectors'] }, { timeoutMs, signal: ctx.signal });
    cp = csms.chargePoint();
  }
  if (!cp.connected) await cp.waitForConnection({ timeoutMs, signal: ctx.signal });
  return cp;
}

function ev(ctx: PncContext): EvEmulator {
  const e = ctx.d.ev;
  if (!e) throw new TypeError('this step needs the ev role (EvEmulator) in the suite\'s uses');
  return e;
}

// ------------------------------------------------------------------ CSMS-initiated PnC messages

/** A PnC message to the charger; resolves with the inner 2.0.1 answer, or a violation when there is none. */
export async function pncCall<M extends PncCallMessage>(ctx: PncContext, message: M, payload: PncCalls[M]['req'], rule = 'pnc.data'): Promise<PncCalls[M]['conf']> {
  const cp = await chargePoint(ctx);
  const r = await cp.call(message, payload, { pnc: true, signal: ctx.signal, timeoutMs: limitNumber(ctx, 'pnc.wait.call_ms') });
  if (r.status !== 'Accepted' || r.response === undefined) {
    throw new ProtocolViolation(rule, `DataTransfer.${message}: the charger answered DataTransfer ${r.status}${r.data !== undefined ? ` with data ${JSON.stringify(r.data).slice(0, 120)}` : ' without data'}; a well-formed PnC request is answered Accepted with the 2.0.1 response`);
  }
  return r.response;
}

// ------------------------------------------------------------------ configuration keys

/**
 * Changes configuration keys and remembers the values they had, so teardown puts them back. Every
 * change must be Accepted (a documented read-write key refused is the charger's fault).
 */
export class ConfigKeeper {
  private readonly saved = new Map<string, string>();

  /** The values of `keys` as GetConfiguration reports them; a key the charger does not report maps to undefined. */
  async get(ctx: PncContext, keys: readonly string[]): Promise<Map<string, string | undefined>> {
    const cp = await chargePoint(ctx);
    const conf = await cp.call('GetConfiguration', { key: [...keys] }, { signal: ctx.signal, timeoutMs: limitNumber(ctx, 'pnc.wait.call_ms') });
    return configMap(conf);
  }

  /**
   * Sets each key (original values read first, once per key). A key GetConfiguration does not report is
   * a `pnc.config` violation: call this only for keys the suite needs. Keys a real charger may lack
   * (AuthorizationCacheEnabled, LocalAuthListEnabled, CentralContractValidationAllowed — libocpp answers
   * NotSupported for the last) are read with get() first and what needs a missing one is SKIPPED.
   */
  async set(ctx: PncContext, values: Readonly<Record<string, string>>): Promise<void> {
    const keys = Object.keys(values);
    const unknown = keys.filter((k) => !this.saved.has(k));
    if (unknown.length) {
      const before = await this.get(ctx, unknown);
      for (const k of unknown) {
        const v = before.get(k);
        if (v === undefined) throw new ProtocolViolation('pnc.config', `GetConfiguration does not report ${k}, a configuration key of the PnC application note`);
        this.saved.set(k, v);
      }
    }
    const cp = await chargePoint(ctx);
    for (const [key, value] of Object.entries(values)) {
      const r = await cp.call('ChangeConfiguration', { key, value }, { signal: ctx.signal, timeoutMs: limitNumber(ctx, 'pnc.wait.call_ms') });
      if (r.status !== 'Accepted') throw new ProtocolViolation('pnc.config', `ChangeConfiguration ${key}=${value} answered ${r.status}; the key is read-write`);
    }
  }

  /**
   * Tries to change a key that may be read-only or absent (e.g. CertificateSignedMaxChainSize, R in the
   * 1.6 security whitepaper): resolves with the ChangeConfiguration status; only an Accepted change is
   * remembered for restore().
   */
  async trySet(ctx: PncContext, key: string, value: string): Promise<string> {
    const before = this.saved.has(key) ? undefined : (await this.get(ctx, [key])).get(key);
    if (!this.saved.has(key) && before === undefined) return 'NotSupported';
    const cp = await chargePoint(ctx);
    const r = await cp.call('ChangeConfiguration', { key, value }, { signal: ctx.signal, timeoutMs: limitNumber(ctx, 'pnc.wait.call_ms') });
    if (r.status === 'Accepted' && before !== undefined) this.saved.set(key, before);
    return r.status;
  }

  /** Puts every changed key back; tries all of them, then throws the first failure. */
  async restore(ctx: PncContext): Promise<string[]> {
    const done: string[] = [];
    let first: unknown;
    if (this.saved.size === 0) return done;
    const cp = await chargePoint(ctx);
    for (const [key, value] of this.saved) {
      try {
        const r = await cp.call('ChangeConfiguration', { key, value }, { signal: ctx.signal, timeoutMs: limitNumber(ctx, 'pnc.wait.call_ms') });
        if (r.status !== 'Accepted') throw new ProtocolViolation('pnc.config', `restoring ${key}=${value}: ChangeConfiguration answered ${r.status}`);
        done.push(`${key}=${value}`);
        this.saved.delete(key);
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
    return done;
  }

  get changed(): readonly string[] {
    return [...this.saved.keys()];
  }
}

// ------------------------------------------------------------------ charger calls

export interface CallRecorder {
  /** every call of the charger since recording started, in order of arrival */
  readonly calls: readonly ReceivedCall[];
  /** calls of one action key (`StartTransaction`, `DataTransfer.Authorize`, `DataTransfer` for other vendors) at or after `since` */
  of(action: string, since?: number): ReceivedCall[];
  /** calls `fn` with every call recorded from now on; returns its removal */
  listen(fn: (c: ReceivedCall) => void): () => void;
  stop(): void;
}

/** Records every CALL the charger under test sends from now on (the CSMS's `call` events). */
export function recordCalls(ctx: PncContext, cp: ChargePoint): CallRecorder {
  const calls: ReceivedCall[] = [];
  const listeners = new Set<(c: ReceivedCall) => void>();
  const off = scriptable(ctx).server.on('call', (c) => {
    if (c.chargePointId !== cp.id) return;
    calls.push(c);
    for (const fn of listeners) fn(c);
  });
  return {
    calls,
    of: (action, since = 0) => calls.filter((c) => c.action === action && c.t >= since),
    listen: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stop: () => {
      off();
      listeners.clear();
    },
  };
}

/** Runs `fn` with a recorder of the charger's calls (recordCalls), stopped however `fn` ends. */
export async function recording<T>(ctx: PncContext, fn: (rec: CallRecorder, cp: ChargePoint) => Promise<T>): Promise<T> {
  const cp = await chargePoint(ctx);
  const rec = recordCalls(ctx, cp);
  try {
    return await fn(rec, cp);
  } finally {
    rec.stop();
  }
}

/** waitForRecorded's wait ran out (not an error: the caller judges "nothing came"). */
class NothingCame extends Error {}

/** The first recorded call of `action` at or after `since` (and matching `match`), waiting up to `timeoutMs` for it; undefined when none came. */
export async function waitForRecorded(ctx: PncContext, rec: CallRecorder, action: string, since: number, timeoutMs: number, match?: (c: ReceivedCall) => boolean): Promise<ReceivedCall | undefined> {
  const fits = (c: ReceivedCall): boolean => c.action === action && c.t >= since && (match === undefined || match(c));
  const hit = rec.calls.find(fits);
  if (hit) return hit;
  try {
    const subscribe = (deliver: (c: ReceivedCall) => void): (() => void) =>
      rec.listen((c) => {
        if (fits(c)) deliver(c);
      });
    return await waitFor(subscribe, timeoutMs, ctx.signal, () => new NothingCame());
  } catch (e) {
    if (e instanceof NothingCame) return undefined;
    throw e;
  }
}

/**
 * Rules every PnC session is held to, checked on what the charger sent since `since`: no OCPP 1.6
 * Authorize for a contract (pnc.C07.regular-authorize), PnC messages only with the app note's vendorId
 * (pnc.vendorId).
 */
export function checkPncTraffic(rec: CallRecorder, since: number): void {
  const regular = rec.of('Authorize', since);
  if (regular.length) {
    throw new ProtocolViolation('pnc.C07.regular-authorize', `the charger sent OCPP 1.6 Authorize (idTag ${JSON.stringify(regular[0]?.payload.idTag)}) during a Plug & Charge session; PnC authorization uses DataTransfer Authorize`);
  }
  // a PnC message under another vendorId is recorded as plain `DataTransfer`
  const foreign = rec.of('DataTransfer', since).filter((c) => (PNC_CP_MESSAGES as readonly string[]).includes(String(c.frame.payload.messageId)));
  if (foreign.length) {
    const f = foreign[0] as ReceivedCall;
    throw new ProtocolViolation('pnc.vendorId', `DataTransfer ${String(f.frame.payload.messageId)} with vendorId ${JSON.stringify(f.frame.payload.vendorId)}; PnC messages use exactly ${PNC_VENDOR_ID}`);
  }
}

// ------------------------------------------------------------------ EV states

/**
 * The first EV event of one of `states` at or after `since`, waiting up to `timeoutMs` for it
 * (EvEmulator.waitForState); undefined when none came. The EV link going down meanwhile is the
 * driver's LinkError (the rig's fault), not "nothing came".
 */
export async function waitForEv(ctx: PncContext, states: readonly string[], since: number, timeoutMs: number): Promise<EvStateEvent | undefined> {
  if (states.length === 0) return undefined;
  try {
    return await ev(ctx).waitForState(states, { since, timeoutMs, signal: ctx.signal });
  } catch (err) {
    // waitForState's timeout is a ProtocolViolation: here it only means none of the states came
    if (!ctx.signal.aborted && isViolation(err)) return undefined;
    throw err;
  }
}

/** EV states since `since`, for messages: `B@+12ms, Authorized@+340ms, …`. */
export function evTrail(ctx: PncContext, since: number): string {
  const list = ev(ctx)
    .events()
    .filter((x) => x.t >= since)
    .map((x) => `${x.state}${x.detail ? `(${evDetailText(x.detail)})` : ''}@+${Math.round(x.t - since)}ms`);
  return list.length ? list.join(', ') : 'none';
}

const CP_STATES = new Set(['A', 'B', 'C', 'D', 'E', 'F', 'Disconnected']);

/** Unplugs the EV when its last control-pilot state says it is plugged in (a previous phase may have ended early). */
export async function ensureUnplugged(ctx: PncContext): Promise<void> {
  const last = [...ev(ctx).events()].reverse().find((x) => CP_STATES.has(x.state));
  if (last && last.state !== 'A' && last.state !== 'Disconnected') {
    ctx.log(`EV still plugged in (control pilot ${last.state}): unplugging first`);
    await ev(ctx).unplug(ctx.signal);
  }
}

/** The eMAID the EV holds: from its latest ContractInstalled (or Authorized) report. */
export function evEmaid(ctx: PncContext): string | undefined {
  const list = [...ev(ctx).events()].reverse();
  const hit = list.find((x) => x.state === 'ContractInstalled' || x.state === 'Authorized');
  return evDetailText(hit?.detail);
}

export interface InstallResult {
  since: number;
  /** the Get15118EVCertificate the charger forwarded, if any */
  request?: ReceivedCall;
  installed?: EvStateEvent;
  failed?: EvStateEvent;
  /** with `installed`: the eMAID the EV reported */
  emaid?: string;
}

/**
 * Has the EV install a contract (M01) or update the one it holds (M02): plug in, `request` — the EV's
 * installCertificate (default) or its updateCertificate (the caller SKIPs M02 when the EV emulator has
 * none; one that cannot, as configured, rejects with NotSupportedError) —, wait for ContractInstalled
 * or ContractInstallFailed, unplug. Does not judge: the caller checks the result (checkInstalled).
 */
export async function installContract(ctx: PncContext, rec: CallRecorder, request?: (signal: AbortSignal) => Promise<void>): Promise<InstallResult> {
  const e = ev(ctx);
  await ensureUnplugged(ctx);
  const since = nowMs();
  let result: InstallResult = { since };
  try {
    await e.plugIn(ctx.signal);
    await (request ?? e.installCertificate.bind(e))(ctx.signal);
    const end = await waitForEv(ctx, ['ContractInstalled', 'ContractInstallFailed'], since, limitNumber(ctx, 'pnc.wait.contract_install_ms'));
    const forwarded = rec.of('DataTransfer.Get15118EVCertificate', since)[0];
    result = {
      since,
      ...(forwarded ? { request: forwarded } : {}),
      ...(end?.state === 'ContractInstalled' ? { installed: end, emaid: evDetailText(end.detail) ?? '' } : {}),
      ...(end?.state === 'ContractInstallFailed' ? { failed: end } : {}),
    };
    await waitForEv(ctx, ['V2G_Session_Finished'], since, limitNumber(ctx, 'pnc.wait.session_end_ms'));
  } finally {
    await e.unplug(ctx.signal).catch((err: unknown) => ctx.warn(`unplug after certificate installation failed: ${errorText(err)}`));
  }
  return result;
}

/**
 * Throws the violation of a contract installation (M01) or update (M02) the EV did not complete:
 * ContractInstallFailed `session-id` (the SessionID in the exiResponse the charger forwarded is not the
 * session's) breaks pnc.<use>.session-id; any other failure, or no outcome at all, pnc.<use>.install.
 */
export function checkInstalled(ctx: PncContext, r: InstallResult, use: 'M01' | 'M02' = 'M01'): asserts r is InstallResult & { installed: EvStateEvent; emaid: string } {
  if (r.installed) return;
  const trail = evTrail(ctx, r.since);
  if (!r.failed) throw new ProtocolViolation(`pnc.${use}.install`, `the EV reported neither ContractInstalled nor ContractInstallFailed; EV: ${trail}`);
  const reason = evDetailText(r.failed.detail) ?? '';
  if (reason === 'session-id') {
    throw new ProtocolViolation(`pnc.${use}.session-id`, `the EV refused the ${use === 'M01' ? 'CertificateInstallationRes' : 'CertificateUpdateRes'}: the SessionID in the forwarded exiResponse is not the session's (the charger must forward it unchanged); EV: ${trail}`);
  }
  throw new ProtocolViolation(`pnc.${use}.install`, `the EV could not install the ${use === 'M01' ? 'contract' : 'updated contract'}${reason ? `: ${reason}` : ''}; EV: ${trail}`);
}

/** The EV's eMAID, installing a contract first when the EV has reported none during this run. */
export async function ensureContract(ctx: PncContext, rec: CallRecorder): Promise<string> {
  const known = evEmaid(ctx);
  if (known) return known;
  ctx.log('the EV has reported no contract in this run: installing one (M01) first');
  const r = await installContract(ctx, rec);
  if (!r.installed) checkPncTraffic(rec, r.since);
  checkInstalled(ctx, r);
  if (!r.emaid) throw new ProtocolViolation('pnc.M01.install', `the EV reported ContractInstalled without an eMAID; EV: ${evTrail(ctx, r.since)}`);
  return r.emaid;
}

// ------------------------------------------------------------------ certificate signing (A02)

/** TriggerMessage(SignV2GCertificate), which the charger must accept; resolves with the epoch ms of its answer. */
export async function triggerSignV2gCertificate(ctx: PncContext): Promise<number> {
  const trig = await pncCall(ctx, 'TriggerMessage', { requestedMessage: 'SignV2GCertificate' }, 'pnc.A02.trigger');
  const answeredAt = nowMs();
  if (trig.status !== 'Accepted') throw new ProtocolViolation('pnc.A02.trigger', `TriggerMessage SignV2GCertificate answered ${trig.status}`);
  return answeredAt;
}

/**
 * TriggerMessage(SignV2GCertificate) → the charger's SignCertificate, answered by the CSMS (CSR checked:
 * a refusal is pnc.A02.csr) without its automatic CertificateSigned, so the caller sends the chain it
 * wants. Resolves with the SignCertificate call and the epoch ms the TriggerMessage was answered.
 */
export async function triggerSignCertificate(ctx: PncContext, cp: ChargePoint): Promise<{ sign: ReceivedCall; triggeredAt: number }> {
  const since = nowMs();
  const rule = cp.respond('DataTransfer.SignCertificate', { followUp: 'none' });
  try {
    const triggeredAt = await triggerSignV2gCertificate(ctx);
    const sign = await cp.expectCall('DataTransfer.SignCertificate', { since, timeoutMs: limitNumber(ctx, 'pnc.wait.sign_certificate_ms'), signal: ctx.signal });
    const inner = (await sign.answered).inner ?? {};
    if (inner.status !== 'Accepted') throw new ProtocolViolation('pnc.A02.csr', `the CSMS refused the charger's CSR: ${String(inner.status)} ${JSON.stringify(inner.statusInfo ?? {})}`);
    return { sign, triggeredAt };
  } finally {
    rule.remove();
  }
}

/** The bench CSMS's chain of `variant` for the CSR of `sign` (a CSR it cannot issue for is the charger's pnc.A02.csr). */
export async function chainFor(cp: ChargePoint, sign: ReceivedCall, variant: ChainVariant, opts: ChainOptions = {}): Promise<string> {
  try {
    return await cp.certificateChainFor(String(sign.payload.csr), variant, opts);
  } catch (e) {
    if (e instanceof CsmsUsageError) throw new ProtocolViolation('pnc.A02.csr', e.message);
    throw e;
  }
}

/**
 * CertificateSigned (V2GCertificate) with a valid chain for the charger's own CSR, which it must accept
 * (pnc.A02.chain). `statusMeasure` names a measurement set to the status before it is judged. Resolves
 * with how long the charger took to answer, ms.
 */
export async function sendValidChain(ctx: PncContext, chain: string, statusMeasure?: string): Promise<number> {
  const t0 = nowMs();
  const r = await pncCall(ctx, 'CertificateSigned', { certificateChain: chain, certificateType: 'V2GCertificate' }, 'pnc.A02.chain');
  const tookMs = nowMs() - t0;
  if (statusMeasure !== undefined) ctx.m.set(statusMeasure, r.status);
  if (r.status !== 'Accepted') throw new ProtocolViolation('pnc.A02.chain', `CertificateSigned with a valid chain for the charger's own CSR answered ${r.status}`);
  return tookMs;
}

// ------------------------------------------------------------------ a Contract session

export interface SessionPlan {
  /**
   * What to do once power flows: 'energy' charges until the meter counted `pnc.charge_energy_wh`
   * (at most `pnc.charge_max_ms`); 'power' stops as soon as the meter shows power.
   */
  charge: 'energy' | 'power';
  /** meter series to fill (t_ms since the session started) */
  series?: { powerW?: SeriesHandle; energyWh?: SeriesHandle };
}

export interface SessionResult {
  /** epoch ms just before plug-in */
  since: number;
  /** Authorized / AuthorizationFailed, or undefined when the EV reported neither in time */
  decision: EvStateEvent | undefined;
  powerOn: EvStateEvent | undefined;
  /** highest meter power during the session, W (NaN without a meter) */
  maxPowerW: number;
  /** meter energy register before plug-in and after unplug, Wh (NaN without a meter) */
  energyBeforeWh: number;
  energyAfterWh: number;
  /** the EV reported V2G_Session_Finished */
  finished: boolean;
  /** epoch ms after unplug */
  endedAt: number;
}

/**
 * One DC Contract session: plug in, start, wait for the EV's authorization outcome, then either charge
 * (plan) or watch `pnc.no_charge_window_ms` for power that must not flow, stop, unplug. The meter is
 * polled all along. Rig faults (LinkError) propagate; what the charger did is returned for the caller
 * to judge, so each suite decides which rule a difference breaks.
 */
export async function runContractSession(ctx: PncContext, plan: SessionPlan): Promise<SessionResult> {
  const e = ev(ctx);
  const meter = ctx.d.meter;
  await ensureUnplugged(ctx);
  const since = nowMs();
  const energyBeforeWh = meter ? await meter.readEnergyWh(ctx.signal) : NaN;
  let maxPowerW = meter ? 0 : NaN;
  let lastEnergyWh = energyBeforeWh;
  let pollError: unknown;
  const polling = new AbortController();
  const stopPolling = (): void => polling.abort();
  ctx.signal.addEventListener('abort', stopPolling, { once: true });
  const poll = meter
    ?.poll({
      intervalMs: limitNumber(ctx, 'pnc.meter_poll_ms'),
      signal: polling.signal,
      onReading: (r) => {
        maxPowerW = Math.max(maxPowerW, r.powerW);
        lastEnergyWh = r.importedEnergyWh;
        const tMs = Math.round(r.t - since);
        plan.series?.powerW?.add(tMs, r.powerW);
        plan.series?.energyWh?.add(tMs, Number((r.importedEnergyWh - energyBeforeWh).toFixed(4)));
      },
      onError: (err) => ctx.warn(`meter reading failed: ${err.message}`),
    })
    .catch((err: unknown) => {
      // the meter's LinkError is the rig's fault: kept and rethrown after the session (INFRA), never a charger FAIL
      pollError = err;
      return undefined;
    });
  let summary: MeterPollSummary | undefined;
  let decision: EvStateEvent | undefined;
  let powerOn: EvStateEvent | undefined;
  let finished = false;
  let unplugged = false;
  try {
    await e.plugIn(ctx.signal);
    await e.startSession({ mode: 'DC', payment: 'Contract' }, ctx.signal);
    decision = await waitForEv(ctx, ['Authorized', 'AuthorizationFailed'], since, limitNumber(ctx, 'pnc.wait.authorization_ms'));
    const thresholdW = limitNumber(ctx, 'pnc.power_threshold_w');
    if (decision?.state === 'Authorized') {
      powerOn = await waitForEv(ctx, ['DC_PowerOn'], since, limitNumber(ctx, 'pnc.wait.power_on_ms'));
      if (powerOn) {
        const targetWh = plan.charge === 'energy' ? limitNumber(ctx, 'pnc.charge_energy_wh') : 0;
        const forMs = plan.charge === 'energy' ? limitNumber(ctx, 'pnc.charge_max_ms') : limitNumber(ctx, 'pnc.wait.power_on_ms');
        // no meter: charge for the fixed time only
        await pollUntil(ctx, forMs, () => (meter && maxPowerW >= thresholdW && lastEnergyWh - energyBeforeWh >= targetWh ? true : undefined), 25);
      }
    } else {
      // power must not flow: watch for a while even when the EV reported the failure at once
      await ctx.sleep(limitNumber(ctx, 'pnc.no_charge_window_ms'));
      powerOn = e.events().find((x) => x.t >= since && x.state === 'DC_PowerOn');
    }
    const stopAt = nowMs();
    await e.stopSession(ctx.signal);
    finished = (await waitForEv(ctx, ['V2G_Session_Finished'], Math.min(stopAt, decision?.t ?? stopAt), limitNumber(ctx, 'pnc.wait.session_end_ms'))) !== undefined;
    await e.unplug(ctx.signal);
    unplugged = true;
  } finally {
    if (!unplugged) await e.unplug(ctx.signal).catch(() => undefined);
    polling.abort();
    ctx.signal.removeEventListener('abort', stopPolling);
    summary = await poll;
  }
  if (meter) checkMeterPoll(ctx, summary, pollError);
  const energyAfterWh = meter ? await meter.readEnergyWh(ctx.signal) : NaN;
  return { since, decision, powerOn, maxPowerW, energyBeforeWh, energyAfterWh, finished, endedAt: nowMs() };
}

/**
 * The meter must have watched the session: a poll that gave up (its LinkError), no reading at all, or
 * more failed readings than `pnc.meter_max_failed_share` of all is the rig's fault (LinkError → INFRA),
 * so a dead meter never turns into "the charger did not charge" or hides power that must not flow.
 */
export function checkMeterPoll(ctx: Pick<PncContext, 'limitValue'>, summary: MeterPollSummary | undefined, pollError: unknown): void {
  if (pollError !== undefined) {
    if (isLinkError(pollError)) throw pollError;
    throw new LinkError('meter', `polling during the session failed: ${errorText(pollError)}`, { cause: pollError });
  }
  const why = meterPollProblem(summary, asNumber('pnc.meter_max_failed_share', ctx.limitValue('pnc.meter_max_failed_share'), { min: 0, max: 1 }));
  if (why) throw new LinkError('meter', `${why} (limit pnc.meter_max_failed_share)`);
}

/** The session charged: EV Authorized, DC_PowerOn and (with a meter) power above the threshold. */
export function charged(ctx: PncContext, s: SessionResult): boolean {
  const thresholdW = limitNumber(ctx, 'pnc.power_threshold_w');
  return s.decision?.state === 'Authorized' && s.powerOn !== undefined && (Number.isNaN(s.maxPowerW) || s.maxPowerW >= thresholdW);
}

/** Any sign of charging: the EV authorized, power on, or the meter saw power. */
export function anyCharging(ctx: PncContext, s: SessionResult): string | undefined {
  const thresholdW = limitNumber(ctx, 'pnc.power_threshold_w');
  const signs: string[] = [];
  if (s.decision?.state === 'Authorized') signs.push('the EV was Authorized');
  if (s.powerOn) signs.push('the EV reported DC_PowerOn');
  if (s.maxPowerW >= thresholdW) signs.push(`the meter saw ${Math.round(s.maxPowerW)} W`);
  return signs.length ? signs.join(', ') : undefined;
}

/** StartTransaction / StopTransaction of one session, as the CSMS received them. */
export interface TransactionPair {
  start: ReceivedCall;
  /** the transactionId the CSMS gave */
  transactionId: number | undefined;
  stop: ReceivedCall | undefined;
}

/** The StartTransaction at or after `since` and its StopTransaction (waiting up to pnc.wait.transaction_ms for each). */
async function transactionOf(ctx: PncContext, rec: CallRecorder, since: number): Promise<TransactionPair | undefined> {
  const waitMs = limitNumber(ctx, 'pnc.wait.transaction_ms');
  const start = await waitForRecorded(ctx, rec, 'StartTransaction', since, waitMs);
  if (!start) return undefined;
  const answer = await start.answered;
  const idTagInfo = answer.payload?.idTagInfo as JsonObject | undefined;
  const transactionId = typeof answer.payload?.transactionId === 'number' ? answer.payload.transactionId : undefined;
  if (idTagInfo === undefined) ctx.warn('StartTransaction was not answered with an idTagInfo');
  const stop = await waitForRecorded(ctx, rec, 'StopTransaction', start.t, waitMs, (c) => transactionId === undefined || c.payload.transactionId === transactionId);
  return { start, transactionId, stop };
}

export interface TransactionCheckOptions {
  /**
   * The transaction was queued while offline and sent after reconnecting: messages call it queued, and a
   * missing StartTransaction or StopTransaction breaks pnc.offline.queue (else pnc.C07.start-transaction
   * / pnc.C07.stop-transaction).
   */
  queued?: boolean;
  /** a measurement set to meterStop − meterStart, Wh */
  energyMeasure?: string;
}

/**
 * The transaction of a session that charged, as the CSMS received it: a StartTransaction with idTag =
 * `emaid`, its StopTransaction, and meterStop − meterStart within pnc.meter_stop_deviation_wh of the
 * bench meter's energy delta (measurement `meter_stop_deviation_wh`, set before it is judged).
 * Resolves with the pair, for checks of the caller's own.
 */
export async function checkTransaction(ctx: PncContext, rec: CallRecorder, s: SessionResult, emaid: string, opts: TransactionCheckOptions = {}): Promise<TransactionPair> {
  const queued = opts.queued ? 'queued ' : '';
  const tx = await transactionOf(ctx, rec, s.since);
  if (!tx) throw new ProtocolViolation(opts.queued ? 'pnc.offline.queue' : 'pnc.C07.start-transaction', `no ${queued}StartTransaction reached the CSMS within ${limitNumber(ctx, 'pnc.wait.transaction_ms')} ms for a session that charged; EV: ${evTrail(ctx, s.since)}`);
  const idTag = tx.start.payload.idTag;
  if (idTag !== emaid) throw new ProtocolViolation('pnc.C07.start-idtag', `${queued}StartTransaction idTag ${JSON.stringify(idTag)} is not the eMAID ${JSON.stringify(emaid)} the session was authorized with`);
  if (!tx.stop) throw new ProtocolViolation(opts.queued ? 'pnc.offline.queue' : 'pnc.C07.stop-transaction', `no ${queued}StopTransaction for transaction ${String(tx.transactionId)} after the session ended`);
  const txWh = Number(tx.stop.payload.meterStop) - Number(tx.start.payload.meterStart);
  const meterWh = s.energyAfterWh - s.energyBeforeWh;
  const deviation = Math.abs(txWh - meterWh);
  ctx.log(`${queued}transaction ${String(tx.transactionId)}: meterStart ${String(tx.start.payload.meterStart)} Wh, meterStop ${String(tx.stop.payload.meterStop)} Wh (${txWh} Wh); meter delta ${meterWh.toFixed(3)} Wh`);
  if (opts.energyMeasure !== undefined) ctx.m.set(opts.energyMeasure, txWh);
  ctx.m.set('meter_stop_deviation_wh', Number(deviation.toFixed(3)));
  enforceLimit(ctx, 'pnc.meter_stop_deviation_wh', deviation, 'pnc.meter-stop', `${queued}StopTransaction meterStop − meterStart is ${txWh} Wh, the bench meter counted ${meterWh.toFixed(3)} Wh`);
  return tx;
}
