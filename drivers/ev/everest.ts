// EverestCarSim: the EvEmulator capability for the EVerest car simulator (EvManager + PyEvJosev)
// over MQTT (the `mqtt` package). Commands go to the simulator's external topics
//   everest_external/nodered/{connectorId}/carsim/cmd/{enable,execute_charging_session,modify_charging_session}
// as command-language scripts (drivers/ev/commands.ts); state comes back from the EVerest module
// variables `everest/modules/{module}/impl/{impl}/var/{name}` (payload `{"data": …}`):
//   EvManager ev_manager.bsp_event   → 'A'…'F', 'PowerOn', 'PowerOff', 'Disconnected'
//   EvManager main.enabled           → 'Enabled' / 'Disabled'
//   ISO15118 EV (PyEvJosev) ev.*     → 'AC_EVPowerReady' (or 'AC_EVPowerReady:false'), 'DC_PowerOn',
//                                      'V2G_Session_Finished', 'AC_StopFromCharger', 'pause_from_charger'
//   PnC outcomes (virtual EV) ev.*   → 'ContractInstalled', 'ContractInstallFailed', 'Authorized',
//                                      'AuthorizationFailed' with their data (eMAID / reason) as detail
//   ev.V2G_Messages                  → transcript only (every ISO 15118-2 message the EV saw), no state
// Every state event is timestamped on arrival. The MQTT client reconnects with backoff when the
// broker goes away and resubscribes; commands are refused (LinkError) while it is disconnected.
// The transcript is JSON lines of every publish, message and link event.
//
//   ev: { driver: EverestCarSim, bind: { broker: ev_mqtt }, options: { connectorId: 1 } }
import { randomBytes } from 'node:crypto';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { z } from 'zod';
import { defineDriver, type DriverContext } from '../../src/rig/registry.ts';
import {
  LinkError,
  NotSupportedError,
  ProtocolViolation,
  type EvEmulator,
  type EvPaymentOption,
  type EvStateEvent,
  type HealthResult,
  type JsonObject,
} from '../capabilities.ts';
import { abortable, errorText, settleWithin, waitFor } from '../common/abort.ts';
import { ReconnectOptions } from '../common/options.ts';
import { nowMs } from '../common/time.ts';
import { fillScript, validateCarSimScript } from './commands.ts';

const PLACEHOLDERS = { payment: 'contract', mode: 'dc', acCurrentA: 16, acPhases: 3, maxSessionS: 36000 } as const;

const checkScript = (s: string, ctx: z.RefinementCtx): void => {
  let filled: string;
  try {
    filled = fillScript(s, PLACEHOLDERS);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return;
  }
  for (const p of validateCarSimScript(filled)) ctx.addIssue({ code: 'custom', message: p });
};

const Script = (what: string, dflt: string) =>
  z
    .string()
    .default(dflt)
    .superRefine(checkScript)
    .describe(`${what} (car simulator commands; placeholders {payment} {mode} {acCurrentA} {acPhases} {maxSessionS}). Default: ${dflt}`);

/** A script with no default: the call it backs is not supported until the rig file sets it. */
const OptionalScript = (what: string) =>
  z
    .string()
    .superRefine(checkScript)
    .optional()
    .describe(`${what} (car simulator commands; placeholders as above). No default: without it the call is not supported`);

export const EverestCarSimOptions = z
  .object({
    connectorId: z.number().int().min(0).default(1).describe('connector_id of the EvManager module (the {id} in everest_external/nodered/{id}/carsim/...)'),
    everestPrefix: z.string().default('everest/').describe('MQTT prefix of EVerest module variables'),
    evManagerModule: z.string().min(1).default('ev_manager').describe('Module id of the EvManager (car simulator) in the EVerest config'),
    evModule: z.string().min(1).default('iso15118_car').describe('Module id of the ISO 15118 EV (PyEvJosev) in the EVerest config'),
    enableOnOpen: z.boolean().default(true).describe('Publish enable=true when the driver opens (HIL configs run with auto_enable false)'),
    acCurrentA: z.number().positive().max(80).default(16).describe('Current an AC session draws, A'),
    acPhases: z.union([z.literal(1), z.literal(3)]).default(3).describe('Phases an AC session draws on'),
    certInstallMode: z.enum(['AC', 'DC']).default('DC').describe('Session mode installCertificate() and updateCertificate() run'),
    maxSessionS: z.number().int().positive().default(36000).describe('How long a started session waits for a stop'),
    confirmMs: z.number().int().min(0).default(3000).describe('How long plugIn/unplug wait for the CP state they cause (B / A); 0 = do not wait'),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1).describe('MQTT QoS of commands'),
    commandTimeoutMs: z.number().int().positive().default(3000).describe('How long the broker may take to acknowledge a command'),
    connectTimeoutMs: z.number().int().positive().default(5000).describe('MQTT connect deadline at open'),
    reconnect: ReconnectOptions.prefault({}).describe('Backoff when the broker connection drops'),
    scripts: z
      .object({
        plugIn: Script('plugIn()', 'iso_wait_pwm_is_running'),
        acSession: Script('startSession AC', 'iso_wait_slac_matched;iso_start_v2g_session ac,{payment};iso_wait_pwr_ready;iso_draw_power_regulated {acCurrentA},{acPhases};iso_wait_for_stop {maxSessionS};iso_wait_v2g_session_stopped'),
        dcSession: Script('startSession DC', 'iso_wait_slac_matched;iso_start_v2g_session dc,{payment};iso_wait_pwr_ready;iso_dc_power_on;iso_wait_for_stop {maxSessionS};iso_wait_v2g_session_stopped'),
        installCertificate: Script(
          'installCertificate() — a Contract session; the EVCC needs is_cert_install_needed: true',
          'iso_wait_slac_matched;iso_start_v2g_session {mode},contract;iso_wait_pwr_ready;iso_wait_for_stop {maxSessionS};iso_wait_v2g_session_stopped',
        ),
        updateCertificate: OptionalScript(
          'updateCertificate() — a Contract session in which the EV sends CertificateUpdateReq (the EVerest car simulator has no command for it; the virtual EV takes `iso_start_v2g_session {mode},contract,certupdate`)',
        ),
        stopSession: Script('stopSession()', 'iso_stop_charging;iso_wait_v2g_session_stopped'),
        unplug: Script('unplug()', 'unplug'),
      })
      .strict()
      .prefault({})
      .describe('Command scripts behind each capability call'),
  })
  .strict();
export type EverestCarSimOptions = z.output<typeof EverestCarSimOptions>;

const EV_VARS = ['AC_EVPowerReady', 'DC_PowerOn', 'V2G_Session_Finished', 'AC_StopFromCharger', 'pause_from_charger'] as const;
/** Plug & Charge outcomes an EV emulator reports (the virtual EV does; rigs/virtual/README.md): state = name, detail = data */
const PNC_VARS = ['ContractInstalled', 'ContractInstallFailed', 'Authorized', 'AuthorizationFailed'] as const;
/** every ISO 15118-2 message the EV sent or received: transcript only, never a state */
const V2G_MESSAGES_VAR = 'V2G_Messages';

interface StateWaiter {
  /** any of these states satisfies the waiter */
  states: readonly string[];
  since: number;
  resolve: (e: EvStateEvent) => void;
}

export class EverestCarSimDriver implements EvEmulator {
  private client: MqttClient | undefined;
  private connected = false;
  private readonly history: EvStateEvent[] = [];
  private waiters = new Set<StateWaiter>();
  private reconnects = 0;
  private connects = 0;
  private downSince = 0;
  /** ms the link was down, total, for deciding whether a wait failed because of the link */
  private downIntervals: [number, number][] = [];
  private lastEvInfo: unknown = null;
  private published = 0;
  private received = 0;
  lastError = '';
  private readonly cmdTopic: string;
  private readonly stateTopics: Map<string, (data: unknown, t: number) => void>;

  constructor(private readonly ctx: DriverContext<EverestCarSimOptions>) {
    const o = ctx.options;
    const res = ctx.resources.broker;
    if (!res || res.type !== 'MqttBroker') throw new TypeError(`driver ${ctx.name} (EverestCarSim): binding "broker" must be an MqttBroker resource`);
    this.cmdTopic = `everest_external/nodered/${o.connectorId}/carsim/cmd`;
    const v = (module: string, impl: string, name: string): string => `${o.everestPrefix}modules/${module}/impl/${impl}/var/${name}`;
    this.stateTopics = new Map<string, (data: unknown, t: number) => void>([
      [
        v(o.evManagerModule, 'ev_manager', 'bsp_event'),
        (d, t) => {
          const ev = typeof d === 'object' && d !== null && 'event' in d ? (d as { event: unknown }).event : d;
          this.push({ state: String(ev), t });
        },
      ],
      [v(o.evManagerModule, 'main', 'enabled'), (d, t) => this.push({ state: d === true || d === 'true' ? 'Enabled' : 'Disabled', t })],
      [
        v(o.evManagerModule, 'ev_manager', 'ev_info'),
        (d) => {
          this.lastEvInfo = d;
        },
      ],
      ...EV_VARS.map((name): [string, (data: unknown, t: number) => void] => [
        v(o.evModule, 'ev', name),
        (d, t) => this.push(d === false || d === 'false' ? { state: `${name}:false`, t } : { state: name, t, ...(d === null || d === undefined || d === true ? {} : { detail: JSON.stringify(d) }) }),
      ]),
      ...PNC_VARS.map((name): [string, (data: unknown, t: number) => void] => [
        v(o.evModule, 'ev', name),
        (d, t) => this.push({ state: name, t, ...(d === null || d === undefined ? {} : { detail: typeof d === 'string' ? d : JSON.stringify(d) }) }),
      ]),
      // recorded in the transcript by onMessage (as every received message); the report draws the sequence chart from it
      [v(o.evModule, 'ev', V2G_MESSAGES_VAR), () => undefined],
    ]);
  }

  private get url(): string {
    return (this.ctx.resources.broker as { url: string }).url;
  }

  private log(entry: Record<string, unknown>): void {
    this.ctx.transcript.writeJson({ t: nowMs(), ...entry });
  }

  async open(signal: AbortSignal): Promise<void> {
    const o = this.ctx.options;
    const opts: IClientOptions = {
      clientId: `pnc-bench-${this.ctx.name}-${randomBytes(4).toString('hex')}`,
      clean: true,
      resubscribe: true,
      reconnectPeriod: o.reconnect.minMs,
      connectTimeout: o.connectTimeoutMs,
      queueQoSZero: false,
      keepalive: 10,
    };
    const client = connect(this.url, opts);
    this.client = client;
    client.on('connect', () => {
      this.connects += 1;
      if (this.connects > 1) this.reconnects += 1;
      this.connected = true;
      if (this.downSince) this.downIntervals.push([this.downSince, nowMs()]);
      this.downSince = 0;
      client.options.reconnectPeriod = o.reconnect.minMs;
      this.log({ event: 'connect', url: redact(this.url), reconnects: this.reconnects });
    });
    client.on('reconnect', () => {
      // exponential backoff: mqtt.js reads reconnectPeriod each time it schedules the next attempt
      client.options.reconnectPeriod = Math.min(o.reconnect.maxMs, (client.options.reconnectPeriod ?? o.reconnect.minMs) * 2);
    });
    client.on('close', () => {
      if (this.connected) {
        this.connected = false;
        this.downSince = nowMs();
        this.log({ event: 'close' });
        this.ctx.log('warn', `MQTT connection to ${redact(this.url)} lost; reconnecting`);
      }
    });
    client.on('error', (e) => {
      this.lastError = e.message;
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));

    try {
      await abortable(
        new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no CONNACK within ${o.connectTimeoutMs} ms${this.lastError ? ` (${this.lastError})` : ''}`)), o.connectTimeoutMs);
          client.once('connect', () => {
            clearTimeout(t);
            resolve();
          });
        }),
        signal,
      );
      await abortable(client.subscribeAsync([...this.stateTopics.keys()], { qos: 1 }), signal);
      this.log({ event: 'subscribe', topics: [...this.stateTopics.keys()] });
      if (o.enableOnOpen) await this.publish('enable', 'true', signal);
    } catch (e) {
      // no background reconnecting for a driver that never opened
      this.client = undefined;
      client.end(true);
      throw new LinkError(this.ctx.name, `MQTT broker ${redact(this.url)}: ${errorText(e)}`, { cause: e });
    }
  }

  private onMessage(topic: string, payload: Buffer): void {
    const t = nowMs();
    this.received += 1;
    const text = payload.toString('utf8');
    this.log({ dir: 'rx', topic, payload: text });
    const handler = this.stateTopics.get(topic);
    if (!handler) return;
    let data: unknown = text;
    try {
      const parsed: unknown = text === '' ? null : JSON.parse(text);
      data = typeof parsed === 'object' && parsed !== null && 'data' in parsed ? (parsed as { data: unknown }).data : parsed;
    } catch {
      // EVerest wraps vars as JSON; a bare string is taken as it is
    }
    handler(data, t);
  }

  private push(e: EvStateEvent): void {
    this.history.push(e);
    if (this.history.length > 10_000) this.history.splice(0, this.history.length - 10_000);
    for (const w of [...this.waiters]) if (w.states.includes(e.state) && e.t >= w.since) w.resolve(e);
  }

  private async publish(cmd: 'enable' | 'execute_charging_session' | 'modify_charging_session', payload: string, signal: AbortSignal): Promise<void> {
    const client = this.client;
    const o = this.ctx.options;
    if (!client) throw new LinkError(this.ctx.name, 'the EV driver is not open');
    if (!this.connected) throw new LinkError(this.ctx.name, `MQTT broker ${redact(this.url)} is not connected (down for ${Math.round(nowMs() - this.downSince)} ms, reconnecting)`);
    const topic = `${this.cmdTopic}/${cmd}`;
    this.log({ dir: 'tx', topic, payload, qos: o.qos });
    this.published += 1;
    const acked = client.publishAsync(topic, payload, { qos: o.qos });
    const r = await abortable(settleWithin(acked, o.commandTimeoutMs), signal);
    if (r === 'timeout') throw new LinkError(this.ctx.name, `MQTT broker did not acknowledge ${cmd} within ${o.commandTimeoutMs} ms`);
    if (r === 'failed') throw new LinkError(this.ctx.name, `MQTT publish of ${cmd} failed: ${await acked.then(() => '', (e: unknown) => errorText(e))}`);
  }

  private script(name: keyof EverestCarSimOptions['scripts'], values: Partial<Record<keyof typeof PLACEHOLDERS, string | number>> = {}): string {
    const o = this.ctx.options;
    const script = o.scripts[name];
    if (script === undefined) throw new NotSupportedError(`${name}() is not supported by this rig's EV emulator (set options.scripts.${name} of driver ${this.ctx.name})`);
    return fillScript(script, { ...PLACEHOLDERS, acCurrentA: o.acCurrentA, acPhases: o.acPhases, maxSessionS: o.maxSessionS, mode: o.certInstallMode.toLowerCase(), ...values });
  }

  /** Waits for a state the command itself causes; the EV emulator not getting there is a rig fault. */
  private async confirm(states: readonly string[], since: number, what: string, signal: AbortSignal): Promise<void> {
    const ms = this.ctx.options.confirmMs;
    if (ms === 0) return;
    try {
      // one waiter for all states: nothing stays subscribed (or listening on `signal`) once one came
      await this.waitInternal(states, since, ms, signal);
    } catch (e) {
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : e;
      const seen = this.history.filter((x) => x.t >= since).map((x) => x.state);
      throw new LinkError(
        this.ctx.name,
        `EV emulator did not report ${states.join(' or ')} within ${ms} ms after ${what} (states since: ${seen.join(', ') || 'none'}); is the car simulator enabled, with no other session still executing?`,
      );
    }
  }

  async plugIn(signal: AbortSignal): Promise<void> {
    const since = nowMs();
    await this.publish('execute_charging_session', this.script('plugIn'), signal);
    await this.confirm(['B', 'C', 'D'], since, 'plugIn', signal);
  }

  async unplug(signal: AbortSignal): Promise<void> {
    const since = nowMs();
    await this.publish('modify_charging_session', this.script('unplug'), signal);
    await this.confirm(['A', 'Disconnected'], since, 'unplug', signal);
  }

  async startSession(session: { mode: 'AC' | 'DC'; payment: EvPaymentOption }, signal: AbortSignal): Promise<void> {
    if (session.mode !== 'AC' && session.mode !== 'DC') throw new RangeError(`startSession: mode must be AC or DC, got ${String(session.mode)}`);
    if (session.payment !== 'Contract' && session.payment !== 'ExternalPayment') throw new RangeError(`startSession: payment must be Contract or ExternalPayment, got ${String(session.payment)}`);
    const payment = session.payment === 'Contract' ? 'contract' : 'externalpayment';
    await this.publish('modify_charging_session', this.script(session.mode === 'AC' ? 'acSession' : 'dcSession', { payment }), signal);
  }

  async stopSession(signal: AbortSignal): Promise<void> {
    await this.publish('modify_charging_session', this.script('stopSession'), signal);
  }

  async installCertificate(signal: AbortSignal): Promise<void> {
    await this.publish('modify_charging_session', this.script('installCertificate'), signal);
  }

  /** M02: only with `scripts.updateCertificate` (NotSupportedError otherwise, before anything is sent). */
  async updateCertificate(signal: AbortSignal): Promise<void> {
    await this.publish('modify_charging_session', this.script('updateCertificate'), signal);
  }

  private waitInternal(states: readonly string[], since: number, timeoutMs: number, signal: AbortSignal): Promise<EvStateEvent> {
    const hit = this.history.find((e) => states.includes(e.state) && e.t >= since);
    if (hit) return Promise.resolve(hit);
    return waitFor<EvStateEvent>(
      (deliver) => {
        const w: StateWaiter = { states, since, resolve: deliver };
        this.waiters.add(w);
        return () => this.waiters.delete(w);
      },
      timeoutMs,
      signal,
      () => new Error('timeout'),
    );
  }

  async waitForState(state: string | readonly string[], opts: { timeoutMs: number; signal: AbortSignal; since?: number }): Promise<EvStateEvent> {
    const states: readonly string[] = typeof state === 'string' ? [state] : [...state];
    if (states.length === 0) throw new RangeError('waitForState: no state to wait for');
    const started = nowMs();
    const last = this.history.at(-1);
    const since = opts.since ?? (last && states.includes(last.state) ? last.t : started);
    try {
      return await this.waitInternal(states, since, opts.timeoutMs, opts.signal);
    } catch (e) {
      if (opts.signal.aborted) throw e;
      const what = states.length === 1 ? `state "${states[0]}"` : `any of the states ${states.map((x) => `"${x}"`).join(', ')}`;
      const seen = this.history.filter((x) => x.t >= since).map((x) => `${x.state}@+${Math.round(x.t - since)}ms`);
      const down = this.downMsSince(started);
      if (down > 0) throw new LinkError(this.ctx.name, `waiting for EV ${what}: the MQTT link was down for ${Math.round(down)} ms of the ${opts.timeoutMs} ms wait`);
      throw new ProtocolViolation('ev.state.timeout', `EV did not reach ${what} within ${opts.timeoutMs} ms; states seen: ${seen.join(', ') || 'none'}`);
    }
  }

  private downMsSince(t0: number): number {
    let ms = 0;
    for (const [a, b] of this.downIntervals) ms += Math.max(0, b - Math.max(a, t0));
    if (!this.connected && this.downSince) ms += nowMs() - Math.max(this.downSince, t0);
    return ms;
  }

  events(): readonly EvStateEvent[] {
    return [...this.history];
  }

  async health(_signal: AbortSignal): Promise<HealthResult> {
    const last = this.history.at(-1);
    const state = last ? `last state ${last.state} ${Math.round(nowMs() - last.t)} ms ago` : 'no state seen yet';
    if (!this.client) return { ok: false, detail: 'EV emulator driver not open', reconnects: this.reconnects };
    if (!this.connected) return { ok: false, detail: `MQTT ${redact(this.url)} disconnected${this.lastError ? ` (${this.lastError})` : ''}, reconnecting; ${state}`, reconnects: this.reconnects };
    return { ok: true, detail: `MQTT ${redact(this.url)} connected, car simulator connector ${this.ctx.options.connectorId}; ${state}`, reconnects: this.reconnects };
  }

  snapshot(): JsonObject {
    const last = this.history.at(-1);
    return {
      broker: redact(this.url),
      connectorId: this.ctx.options.connectorId,
      connected: this.connected,
      reconnects: this.reconnects,
      published: this.published,
      received: this.received,
      state: last ? { ...last } : null,
      events: this.history.length,
      evInfo: this.lastEvInfo === undefined ? null : (JSON.parse(JSON.stringify(this.lastEvInfo ?? null)) as unknown),
      lastError: this.lastError || null,
    };
  }

  async close(deadlineMs: number): Promise<void> {
    const client = this.client;
    this.client = undefined;
    for (const w of [...this.waiters]) this.waiters.delete(w);
    if (!client) return;
    const r = await settleWithin(client.endAsync(false), deadlineMs);
    if (r !== undefined) client.end(true);
    this.connected = false;
    this.log({ event: 'closed' });
  }
}

/** The broker URL without a password. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}

export const EverestCarSim = defineDriver({
  name: 'EverestCarSim',
  description: 'EV emulator: the EVerest car simulator (EvManager + PyEvJosev) driven over MQTT.',
  provides: ['EvEmulator'],
  bindings: { broker: 'MqttBroker' },
  options: EverestCarSimOptions,
  transcript: { ext: 'jsonl', mime: 'application/jsonl' },
  create: (ctx) => new EverestCarSimDriver(ctx),
});
