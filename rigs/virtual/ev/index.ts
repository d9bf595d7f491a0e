// The virtual EV: an EV emulator that behaves like the EVerest car simulator (EvManager with an
// ISO 15118 EV module) on an MQTT broker, and that runs real ISO 15118-2 DC sessions with the
// virtual charger's SECC (evcc.ts). It takes the car-simulator commands on
//   everest_external/nodered/{connectorId}/carsim/cmd/{enable,execute_charging_session,modify_charging_session}
// (command language and semantics of shared/reference/rig-protocols.md §4.1: lower-cased, `;`
// separated, commas as spaces, a command known by name and argument count, run in a loop where a
// blocking command waits for its condition; execute_* is ignored while disabled or while a script
// runs, modify_* replaces the remaining queue) and publishes EVerest module variables
// `{everestPrefix}modules/{module}/impl/{impl}/var/{name}` with payload {"data": …}:
//   {evManagerModule}/ev_manager/bsp_event {event: A…F}, {evManagerModule}/main/enabled, {evManagerModule}/ev_manager/ev_info,
//   {evModule}/ev/{DC_PowerOn, V2G_Session_Finished, AC_StopFromCharger, ContractInstalled,
//   ContractInstallFailed, Authorized, AuthorizationFailed, V2G_Messages}.
// `iso_start_v2g_session dc,contract[,certinstall|certupdate]` starts the EVCC; with certinstall /
// certupdate it only (re)installs the contract and ends the session. The contract it installs is
// kept for later sessions. The EV draws current only through the SECC (CurrentDemandReq); it
// measures what flows on the PowerBus to charge its battery and to report DC_PowerOn.
//
//   const ev = new VirtualEv({ mqttUrl, secc: () => ({ host: '127.0.0.1', port: secc.port }), pki, bus });
//   await ev.start();  …  ev.snapshot();  await ev.stop();
import { connect, type MqttClient } from 'mqtt';
import type { PowerBus } from '../physics.ts';
import { DEFAULT_EVCC_TIMING, EvccSession, randomEvccId, type Battery, type EvccTiming, type EvContract, type SessionOutcome, type V2gDirection } from './evcc.ts';
import { settleWithin } from '../settle.ts';

export type { EvContract, EvccTiming } from './evcc.ts';

export interface VirtualEvOptions {
  mqttUrl: string;
  /** connector_id of the simulated EvManager (the {id} of the command topics); default 1 */
  connectorId?: number;
  /** default `everest/` */
  everestPrefix?: string;
  /** default `ev_manager` */
  evManagerModule?: string;
  /** default `iso15118_car` */
  evModule?: string;
  /** where the charger's SECC listens (a function when the port is known only later) */
  secc: { host: string; port: number } | (() => { host: string; port: number });
  pki: {
    /** leaf first, then the OEM sub-CAs */
    oemProvisioning: { chainDer: Buffer[]; privateKey: Uint8Array };
    /** the V2G roots the car trusts (ListOfRootCertificateIDs, CPS chain check) */
    v2gRootsDer: Buffer[];
  };
  bus: PowerBus;
  battery?: { capacityWh?: number; socPercent?: number; targetVoltageV?: number; maxCurrentA?: number };
  log?: (line: string) => void;
  /** ISO 15118-2 EVCC timeouts and loop periods (defaults: the ISO values) */
  timing?: Partial<EvccTiming>;
  /** command loop period; default 250 ms (EVerest DEFAULT_LOOP_INTERVAL_MS) */
  loopMs?: number;
  /** the PWM duty the charger shows on CP, %; default 5 (a DC charger asking for HLC) */
  pwmDutyPercent?: number;
  /** enable the simulator at start (EVerest auto_enable; HIL configs run with false); default false */
  autoEnable?: boolean;
  /** a contract the car already holds (else it installs one in its first Contract session) */
  contract?: EvContract;
}

/** command → accepted argument counts (EvManager's registry plus the documented extras) */
const COMMANDS: Readonly<Record<string, readonly number[]>> = {
  sleep: [1],
  iec_wait_pwr_ready: [0],
  iso_wait_pwm_is_running: [0],
  draw_power_regulated: [2],
  draw_power_fixed: [2],
  pause: [0],
  unplug: [0],
  error_e: [0],
  diode_fail: [0],
  rcd_current: [1],
  set_soc: [1],
  wait_for_real_plugin: [0],
  plugin: [0],
  iso_wait_slac_matched: [0],
  iso_start_v2g_session: [1, 2, 3, 4],
  iso_wait_pwr_ready: [0],
  iso_dc_power_on: [0],
  iso_draw_power_regulated: [2],
  iso_stop_charging: [0],
  iso_pause_charging: [0],
  iso_wait_for_stop: [1],
  iso_wait_v2g_session_stopped: [0],
  iso_wait_for_resume: [0],
  iso_start_bcb_toggle: [1],
};

interface Command {
  name: string;
  args: string[];
  text: string;
}

/** Parses a command string like EvManager; throws naming the first unknown command. */
export function parseCommands(script: string): Command[] {
  const cmds = script
    .toLowerCase()
    .replace(/\r?\n/g, ';')
    .split(';')
    .map((s) => s.replace(/,/g, ' ').trim())
    .filter((s) => s.length > 0)
    .map((text) => {
      const [name = '', ...args] = text.split(/\s+/);
      return { name, args, text };
    });
  for (const c of cmds) {
    const counts = COMMANDS[c.name];
    if (!counts) throw new Error(`unknown command "${c.name}"`);
    if (!counts.includes(c.args.length)) throw new Error(`"${c.name}" takes ${counts.join(' or ')} argument(s), got ${c.args.length}`);
  }
  return cmds;
}

function checkOptions(o: VirtualEvOptions): void {
  const bad = (what: string): never => {
    throw new TypeError(`VirtualEv: ${what}`);
  };
  if (typeof o.mqttUrl !== 'string' || !/^mqtts?:\/\/|^wss?:\/\/|^tcp:\/\//.test(o.mqttUrl)) bad(`mqttUrl must be an mqtt:// URL, got ${JSON.stringify(o.mqttUrl)}`);
  if (o.connectorId !== undefined && !(Number.isInteger(o.connectorId) && o.connectorId >= 0)) bad(`connectorId must be an integer ≥ 0, got ${o.connectorId}`);
  if (!o.pki?.oemProvisioning?.chainDer?.length) bad('pki.oemProvisioning.chainDer must hold the OEM provisioning certificate (leaf first)');
  if (!(o.pki.oemProvisioning.privateKey instanceof Uint8Array) || o.pki.oemProvisioning.privateKey.length !== 32) bad('pki.oemProvisioning.privateKey must be a 32-byte P-256 scalar');
  if (!o.pki.v2gRootsDer?.length) bad('pki.v2gRootsDer must hold at least one V2G root certificate');
  for (const [k, v] of Object.entries(o.battery ?? {})) {
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) bad(`battery.${k} must be a number ≥ 0, got ${String(v)}`);
  }
  if (o.battery?.socPercent !== undefined && o.battery.socPercent > 100) bad(`battery.socPercent must be ≤ 100, got ${o.battery.socPercent}`);
  for (const [k, v] of Object.entries(o.timing ?? {})) {
    if (!(k in DEFAULT_EVCC_TIMING)) bad(`timing.${k} is not one of ${Object.keys(DEFAULT_EVCC_TIMING).join(', ')}`);
    if (!(typeof v === 'number' && v > 0)) bad(`timing.${k} must be a number > 0, got ${String(v)}`);
  }
  if (o.loopMs !== undefined && !(o.loopMs > 0)) bad(`loopMs must be > 0, got ${o.loopMs}`);
}

type SimState = 'unplugged' | 'plugged' | 'charging-regulated' | 'charging-fixed' | 'error-e' | 'diode-fail' | 'iso-power-ready' | 'iso-charging' | 'bcb-toggle';

export class VirtualEv {
  private readonly o: VirtualEvOptions;
  private readonly timing: EvccTiming;
  private readonly loopMs: number;
  private readonly battery: Battery;
  private readonly evccId = randomEvccId();
  private client: MqttClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private enabled = false;
  private executionActive = false;
  private queue: Command[] = [];
  private state: SimState = 'unplugged';
  private cp = 'A';
  private readonly cpListeners = new Set<() => void>();
  private pwmDutyPercent: number;
  private sleepTicks: number | undefined;
  private bcbToggles = 0;
  private bcbC = false;
  private rcdCurrentMa = 0;
  private isoPwrReady = false;
  private dcPowerOn = false;
  private isoStopped = false;
  private v2gFinished = false;
  private session: EvccSession | undefined;
  private sessionDone: Promise<SessionOutcome> | undefined;
  private lastOutcome: (SessionOutcome & { payment: string }) | undefined;
  private contract: EvContract | undefined;
  private lastError = '';
  private sessions = 0;
  private v2gMessages = 0;
  private lastEvInfoT = 0;

  constructor(o: VirtualEvOptions) {
    checkOptions(o);
    this.o = o;
    this.timing = { ...DEFAULT_EVCC_TIMING, ...(o.timing ?? {}) };
    this.loopMs = o.loopMs ?? 250;
    this.pwmDutyPercent = o.pwmDutyPercent ?? 5;
    this.battery = { capacityWh: 60_000, socPercent: 30, targetVoltageV: 400, maxCurrentA: 100, ...(o.battery ?? {}) } as Battery;
    this.contract = o.contract;
  }

  private get prefix(): string {
    return this.o.everestPrefix ?? 'everest/';
  }

  private get cmdBase(): string {
    return `everest_external/nodered/${this.o.connectorId ?? 1}/carsim/cmd`;
  }

  private log(line: string): void {
    this.o.log?.(`[EV] ${line}`);
  }

  async start(): Promise<void> {
    if (this.client) return;
    const client = connect(this.o.mqttUrl, { clientId: `virtual-ev-${Buffer.from(this.evccId).toString('hex')}`, clean: true, reconnectPeriod: 200, connectTimeout: 5000 });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`VirtualEv: no CONNACK from ${this.o.mqttUrl} within 5000 ms`)), 5000);
      client.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      client.once('error', (e) => {
        clearTimeout(t);
        reject(new Error(`VirtualEv: MQTT ${this.o.mqttUrl}: ${e.message}`));
      });
    }).catch((e: unknown) => {
      client.end(true);
      throw e;
    });
    client.on('error', (e) => (this.lastError = `MQTT: ${e.message}`));
    client.on('message', (topic, payload) => this.onCommand(topic.slice(this.cmdBase.length + 1), payload.toString('utf8')));
    try {
      await client.subscribeAsync(['enable', 'execute_charging_session', 'modify_charging_session'].map((c) => `${this.cmdBase}/${c}`), { qos: 1 });
    } catch (e) {
      // no half-started EV: the client would keep reconnecting with nobody to end it
      client.end(true);
      throw new Error(`VirtualEv: subscribing to ${this.cmdBase}/# on ${this.o.mqttUrl} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    this.client = client;
    this.timer = setInterval(() => this.tick(), this.loopMs);
    this.log(`car simulator on ${this.o.mqttUrl}, connector ${this.o.connectorId ?? 1}; EVCCID ${Buffer.from(this.evccId).toString('hex')}`);
    if (this.o.autoEnable) this.setEnabled(true);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.session?.abort('the EV emulator stops');
    if (this.sessionDone) await settleWithin(this.sessionDone, 1000);
    const client = this.client;
    this.client = undefined;
    if (client) await settleWithin(client.endAsync(false), 1000).finally(() => client.end(true));
  }

  // ------------------------------------------------------------------ MQTT

  private publishVar(module: string, impl: string, name: string, data: unknown): void {
    const c = this.client;
    if (!c) return;
    c.publish(`${this.prefix}modules/${module}/impl/${impl}/var/${name}`, JSON.stringify({ data: data ?? null }), { qos: 1 }, (e) => {
      if (e) this.lastError = `publish ${name}: ${e.message}`;
    });
  }

  private evVar(name: string, data?: unknown): void {
    this.publishVar(this.o.evModule ?? 'iso15118_car', 'ev', name, data);
  }

  private managerVar(impl: 'ev_manager' | 'main', name: string, data: unknown): void {
    this.publishVar(this.o.evManagerModule ?? 'ev_manager', impl, name, data);
  }

  private setCp(state: string): void {
    if (this.cp === state) return;
    this.cp = state;
    this.managerVar('ev_manager', 'bsp_event', { event: state });
    for (const l of [...this.cpListeners]) l();
  }

  private setEnabled(on: boolean): void {
    if (on === this.enabled) {
      this.log(`enable ${on}: unchanged, ignored`);
      return;
    }
    this.resetSimulation();
    this.queue = [];
    this.executionActive = false;
    this.enabled = on;
    this.managerVar('main', 'enabled', on);
    this.log(on ? 'enabled' : 'disabled');
  }

  private resetSimulation(): void {
    this.sleepTicks = undefined;
    this.bcbToggles = 0;
  }

  private onCommand(kind: string, payload: string): void {
    if (kind === 'enable') return this.setEnabled(payload.trim() === 'true');
    if (kind !== 'execute_charging_session' && kind !== 'modify_charging_session') return;
    if (!this.enabled) {
      this.log(`${kind} ignored: the simulator is disabled (${payload})`);
      return;
    }
    if (kind === 'execute_charging_session' && this.executionActive) {
      this.log(`execute_charging_session ignored: a session script is still running (${this.queue.map((c) => c.text).join(';')}); use modify_charging_session`);
      return;
    }
    let cmds: Command[];
    try {
      cmds = parseCommands(payload);
    } catch (e) {
      this.lastError = `${kind} rejected: ${(e as Error).message} in ${JSON.stringify(payload)}`;
      this.log(this.lastError);
      return;
    }
    if (kind === 'execute_charging_session') this.resetSimulation();
    this.sleepTicks = undefined;
    this.queue = cmds;
    this.executionActive = cmds.length > 0;
    this.log(`${kind}: ${cmds.map((c) => c.text).join(';')}`);
    // run at once rather than up to one loop period later
    this.tick();
  }

  // ------------------------------------------------------------------ the simulation loop

  private tick(): void {
    if (this.enabled && this.executionActive) {
      while (this.queue.length) {
        const c = this.queue[0]!;
        let done: boolean;
        try {
          done = this.run(c);
        } catch (e) {
          this.lastError = `${c.text}: ${(e as Error).message}`;
          this.log(this.lastError);
          done = true;
        }
        if (!done) break;
        this.queue.shift();
      }
      if (this.queue.length === 0) {
        this.executionActive = false;
        this.log('script finished');
      }
    }
    this.stateMachine();
  }

  private stateMachine(): void {
    switch (this.state) {
      case 'unplugged':
        this.setCp('A');
        break;
      case 'plugged':
        this.setCp('B');
        break;
      case 'charging-regulated':
        this.setCp(this.pwmDutyPercent > 7 && this.pwmDutyPercent < 97 ? 'C' : 'B');
        break;
      case 'charging-fixed':
      case 'iso-power-ready':
      case 'iso-charging':
        this.setCp('C');
        break;
      case 'error-e':
        this.setCp('E');
        break;
      case 'diode-fail':
        this.setCp('F');
        break;
      case 'bcb-toggle':
        this.setCp(this.bcbC ? 'C' : 'B');
        break;
    }
    if (this.session && this.state === 'iso-charging' && Date.now() - this.lastEvInfoT >= 1000) {
      this.lastEvInfoT = Date.now();
      const b = this.battery;
      this.managerVar('ev_manager', 'ev_info', { soc: Math.round(b.socPercent * 100) / 100, battery_capacity: b.capacityWh, battery_full_soc: 100, target_voltage: b.targetVoltageV, target_current: b.maxCurrentA });
    }
  }

  private ticks(seconds: string): number {
    const s = Number(seconds);
    if (!Number.isFinite(s) || s < 0) throw new Error(`not a number of seconds: ${seconds}`);
    return Math.floor((s * 1000) / this.loopMs) + 1;
  }

  /** One command; true when it is done (false: it blocks, try again next loop). */
  private run(c: Command): boolean {
    const a = c.args;
    switch (c.name) {
      case 'sleep': {
        if (this.sleepTicks === undefined) this.sleepTicks = this.ticks(a[0]!);
        this.sleepTicks -= 1;
        if (this.sleepTicks > 0) return false;
        this.sleepTicks = undefined;
        return true;
      }
      case 'iec_wait_pwr_ready':
        this.state = 'plugged';
        this.stateMachine();
        return this.pwmDutyPercent > 7 && this.pwmDutyPercent < 97;
      case 'iso_wait_pwm_is_running':
      case 'wait_for_real_plugin':
      case 'plugin':
        this.state = 'plugged';
        this.stateMachine();
        return this.pwmDutyPercent > 4 && this.pwmDutyPercent < 97;
      case 'draw_power_regulated':
        this.state = 'charging-regulated';
        return true;
      case 'draw_power_fixed':
        this.state = 'charging-fixed';
        return true;
      case 'pause':
        this.state = 'plugged';
        return true;
      case 'unplug':
        this.state = 'unplugged';
        this.stateMachine();
        this.session?.abort('unplugged');
        return true;
      case 'error_e':
        this.state = 'error-e';
        return true;
      case 'diode_fail':
        this.state = 'diode-fail';
        return true;
      case 'rcd_current':
        this.rcdCurrentMa = Number(a[0]);
        return true;
      case 'set_soc': {
        const soc = Number(a[0]);
        if (!(soc >= 0 && soc <= 100)) throw new Error(`SoC must be 0…100, got ${a[0]}`);
        this.battery.socPercent = soc;
        return true;
      }
      case 'iso_wait_slac_matched':
        // no PLC modem in the virtual rig: the link is matched as soon as the cable is in
        this.state = 'plugged';
        this.stateMachine();
        return true;
      case 'iso_start_v2g_session':
        return this.startSession(a);
      case 'iso_wait_pwr_ready':
        if (!this.isoPwrReady) return false;
        this.state = 'iso-power-ready';
        this.stateMachine();
        return true;
      case 'iso_dc_power_on':
        this.state = 'iso-power-ready';
        if (!this.dcPowerOn) return false;
        this.state = 'iso-charging';
        return true;
      case 'iso_draw_power_regulated':
        this.state = 'iso-charging';
        return true;
      case 'iso_stop_charging':
        this.session?.requestStop();
        this.state = 'plugged';
        return true;
      case 'iso_pause_charging':
        this.session?.requestStop(true);
        this.state = 'plugged';
        this.isoPwrReady = false;
        return true;
      case 'iso_wait_for_stop': {
        if (this.sleepTicks === undefined) this.sleepTicks = this.ticks(a[0]!);
        this.sleepTicks -= 1;
        if (this.sleepTicks <= 0) {
          this.session?.requestStop();
          this.state = 'plugged';
          this.sleepTicks = undefined;
          return true;
        }
        if (this.isoStopped) {
          this.state = 'plugged';
          this.sleepTicks = undefined;
          return true;
        }
        return false;
      }
      case 'iso_wait_v2g_session_stopped':
        if (!this.v2gFinished) return false;
        this.v2gFinished = false;
        return true;
      case 'iso_wait_for_resume':
        return false;
      case 'iso_start_bcb_toggle': {
        this.v2gFinished = false;
        this.state = 'bcb-toggle';
        this.bcbC = !this.bcbC;
        if (!this.bcbC) this.bcbToggles += 1;
        if (this.bcbToggles >= Number(a[0]) || this.bcbToggles === 3) {
          this.bcbToggles = 0;
          this.state = 'plugged';
          return true;
        }
        return false;
      }
      default:
        throw new Error(`unknown command "${c.name}"`);
    }
  }

  /** iso_start_v2g_session mode[,payment][,certinstall|certupdate | ,departure_s,eamount_wh] */
  private startSession(a: string[]): boolean {
    const [mode = '', pay = 'auto', third] = a;
    if (mode !== 'dc') {
      const why = mode === 'ac' ? 'AC sessions are not simulated: the virtual EV charges DC only' : `unknown energy mode "${mode}" (dc or ac)`;
      if (this.lastError !== why) this.log(`iso_start_v2g_session: ${why}`);
      this.lastError = why;
      return false; // as EvManager: an unusable mode blocks the script
    }
    const payment = pay === 'contract' || pay === 'auto' ? 'Contract' : pay === 'externalpayment' ? 'ExternalPayment' : undefined;
    if (!payment) {
      const why = `unknown payment option "${pay}" (contract, externalpayment or auto)`;
      if (this.lastError !== why) this.log(`iso_start_v2g_session: ${why}`);
      this.lastError = why;
      return false;
    }
    const certAction = third === 'certinstall' || third === 'certupdate' ? third : undefined;
    if (this.session) {
      this.log('iso_start_v2g_session: a V2G session is already running; ignored');
      return true;
    }
    this.isoPwrReady = false;
    this.dcPowerOn = false;
    this.isoStopped = false;
    this.v2gFinished = false;
    const addr = typeof this.o.secc === 'function' ? this.o.secc() : this.o.secc;
    this.sessions += 1;
    this.log(`starting an ISO 15118-2 DC session (${payment}${certAction ? `, ${certAction}` : ''}) with the SECC at ${addr.host}:${addr.port}`);
    const session = new EvccSession({
      secc: addr,
      payment,
      ...(certAction ? { certAction } : {}),
      timing: this.timing,
      credentials: this.o.pki,
      battery: this.battery,
      bus: this.o.bus,
      evccId: this.evccId,
      hooks: {
        log: (l) => this.o.log?.(l),
        emit: (name, data) => this.onEvcc(name, data),
        message: (dir, message, responseCode) => this.onV2gMessage(dir, message, responseCode),
        powerReady: (timeoutMs, signal) => this.powerReady(timeoutMs, signal),
        contract: () => this.contract,
        setContract: (c) => {
          this.contract = c;
        },
      },
    });
    this.session = session;
    this.sessionDone = session.run().then((outcome) => {
      this.session = undefined;
      this.lastOutcome = { ...outcome, payment };
      this.isoStopped = true;
      this.v2gFinished = true;
      this.isoPwrReady = false;
      this.log(`V2G session finished: ${outcome.result} (${outcome.reason}), ${outcome.energyWh.toFixed(2)} Wh`);
      this.evVar('V2G_Session_Finished');
      return outcome;
    });
    return true;
  }

  private onEvcc(name: string, data: unknown): void {
    if (name === 'DC_PowerOn') this.dcPowerOn = true;
    this.log(`${name}${data !== undefined && data !== null ? ` ${String(data)}` : ''}`);
    this.evVar(name, data);
  }

  private onV2gMessage(dir: V2gDirection, message: string, responseCode?: string): void {
    this.v2gMessages += 1;
    this.evVar('V2G_Messages', { dir, message, ...(responseCode ? { responseCode } : {}), t: performance.timeOrigin + performance.now() });
  }

  private powerReady(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    this.isoPwrReady = true;
    if (this.cp === 'C') return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(t);
        this.cpListeners.delete(check);
        signal.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const check = (): void => {
        if (this.cp === 'C') done(true);
      };
      const onAbort = (): void => done(false);
      const t = setTimeout(() => done(false), timeoutMs);
      this.cpListeners.add(check);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The contract the car holds (undefined before the first installation). */
  get installedContract(): EvContract | undefined {
    return this.contract;
  }

  snapshot(): Record<string, unknown> {
    const b = this.battery;
    return {
      mqttUrl: this.o.mqttUrl,
      connectorId: this.o.connectorId ?? 1,
      enabled: this.enabled,
      cp: this.cp,
      executing: this.executionActive,
      queue: this.queue.map((c) => c.text),
      session: this.session ? 'running' : null,
      sessions: this.sessions,
      lastSession: this.lastOutcome ? { ...this.lastOutcome } : null,
      contract: this.contract ? this.contract.emaid : null,
      battery: { capacityWh: b.capacityWh, socPercent: Math.round(b.socPercent * 100) / 100, targetVoltageV: b.targetVoltageV, maxCurrentA: b.maxCurrentA },
      rcdCurrentMa: this.rcdCurrentMa,
      v2gMessages: this.v2gMessages,
      lastError: this.lastError || null,
    };
  }
}
