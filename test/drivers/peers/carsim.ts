// Test peer: an MQTT responder that behaves like the EVerest car simulator (EvManager) with an
// ISO 15118 EV (PyEvJosev), written from shared/reference/rig-protocols.md §4.1: it listens on
// everest_external/nodered/{id}/carsim/cmd/{enable,execute_charging_session,modify_charging_session},
// parses command strings the way the simulator does, runs them in a loop where blocking commands
// wait for their condition, and publishes what a real one would as module variables
// (`everest/modules/<module>/impl/<impl>/var/<name>`, payload {"data": …}). The charger side is
// simulated by two knobs: `pwmDutyPercent` and `slacMatched`. execute_* is ignored while disabled
// or while a script runs, as in EVerest; unknown commands make the whole script rejected.
import { connect, type MqttClient } from 'mqtt';

interface Cmd {
  name: string;
  args: string[];
}

const ARGS: Record<string, number[]> = {
  sleep: [1],
  iec_wait_pwr_ready: [0],
  iso_wait_pwm_is_running: [0],
  draw_power_regulated: [2],
  draw_power_fixed: [2],
  pause: [0],
  unplug: [0],
  iso_wait_slac_matched: [0],
  iso_start_v2g_session: [1, 2, 3, 4],
  iso_wait_pwr_ready: [0],
  iso_dc_power_on: [0],
  iso_draw_power_regulated: [2],
  iso_stop_charging: [0],
  iso_wait_for_stop: [1],
  iso_wait_v2g_session_stopped: [0],
};

export class CarSimPeer {
  private client: MqttClient | undefined;
  enabled = false;
  queue: Cmd[] = [];
  cp = 'A';
  pwmDutyPercent = 5;
  slacMatched = true;
  session: { mode: string; payment: string } | undefined;
  stopRequested = false;
  private sleepUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  /** every command string received, by kind */
  readonly received: { kind: string; payload: string }[] = [];
  readonly ignored: string[] = [];
  readonly rejected: string[] = [];

  constructor(
    private readonly url: string,
    private readonly o: { connectorId?: number; evManager?: string; ev?: string; loopMs?: number } = {},
  ) {}

  private get base(): string {
    return `everest_external/nodered/${this.o.connectorId ?? 1}/carsim/cmd`;
  }

  async start(): Promise<void> {
    const client = connect(this.url, { clientId: `carsim-peer-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 50 });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    client.on('message', (topic, payload) => this.onCommand(topic.slice(this.base.length + 1), payload.toString()));
    await client.subscribeAsync(`${this.base}/#`, { qos: 1 });
    this.client = client;
    this.timer = setInterval(() => this.step(), this.o.loopMs ?? 20);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.client?.endAsync(true);
  }

  private publishVar(module: string, impl: string, name: string, data: unknown): void {
    void this.client?.publishAsync(`everest/modules/${module}/impl/${impl}/var/${name}`, JSON.stringify({ data }), { qos: 1 });
  }
  private setCp(state: string): void {
    if (this.cp === state) return;
    this.cp = state;
    this.publishVar(this.o.evManager ?? 'ev_manager', 'ev_manager', 'bsp_event', { event: state });
  }
  private evVar(name: string, data: unknown = null): void {
    this.publishVar(this.o.ev ?? 'iso15118_car', 'ev', name, data);
  }

  private parse(s: string): Cmd[] | undefined {
    const cmds = s
      .toLowerCase()
      .replace(/\n/g, ';')
      .split(';')
      .map((x) => x.replace(/,/g, ' ').trim())
      .filter(Boolean)
      .map((x) => {
        const [name = '', ...args] = x.split(/\s+/);
        return { name, args };
      });
    return cmds.every((c) => ARGS[c.name]?.includes(c.args.length)) ? cmds : undefined;
  }

  private onCommand(kind: string, payload: string): void {
    this.received.push({ kind, payload });
    if (kind === 'enable') {
      const on = payload === 'true';
      if (on !== this.enabled) {
        this.enabled = on;
        this.publishVar(this.o.evManager ?? 'ev_manager', 'main', 'enabled', on);
      }
      return;
    }
    if (!this.enabled) return void this.ignored.push(payload);
    if (kind === 'execute_charging_session' && this.queue.length) return void this.ignored.push(payload);
    const cmds = this.parse(payload);
    if (!cmds) return void this.rejected.push(payload);
    if (kind === 'execute_charging_session') {
      this.session = undefined;
      this.stopRequested = false;
    }
    this.queue = cmds;
    this.sleepUntil = 0;
  }

  /** Runs commands until one blocks (the simulator's loop). */
  private step(): void {
    while (this.enabled && this.queue.length) {
      const c = this.queue[0] as Cmd;
      if (!this.run(c)) return;
      this.queue.shift();
      this.sleepUntil = 0;
    }
  }

  private run(c: Cmd): boolean {
    switch (c.name) {
      case 'sleep':
        if (!this.sleepUntil) this.sleepUntil = Date.now() + Number(c.args[0]) * 1000;
        return Date.now() >= this.sleepUntil;
      case 'iso_wait_pwm_is_running':
        this.setCp('B');
        return this.pwmDutyPercent > 4 && this.pwmDutyPercent < 97;
      case 'iec_wait_pwr_ready':
        this.setCp('B');
        return this.pwmDutyPercent > 7 && this.pwmDutyPercent < 97;
      case 'iso_wait_slac_matched':
        this.setCp('B');
        return this.slacMatched;
      case 'iso_start_v2g_session':
        this.session = { mode: c.args[0] ?? '', payment: c.args[1] ?? 'auto' };
        return true;
      case 'iso_wait_pwr_ready':
        if (this.session?.mode === 'ac') this.evVar('AC_EVPowerReady', true);
        this.setCp('C');
        return true;
      case 'iso_dc_power_on':
        this.evVar('DC_PowerOn');
        return true;
      case 'draw_power_regulated':
      case 'draw_power_fixed':
      case 'iso_draw_power_regulated':
        this.setCp('C');
        return true;
      case 'pause':
        this.setCp('B');
        return true;
      case 'iso_stop_charging':
        this.stopRequested = true;
        this.setCp('B');
        return true;
      case 'iso_wait_for_stop':
        if (!this.sleepUntil) this.sleepUntil = Date.now() + Number(c.args[0]) * 1000;
        return this.stopRequested || Date.now() >= this.sleepUntil;
      case 'iso_wait_v2g_session_stopped':
        this.evVar('V2G_Session_Finished');
        this.session = undefined;
        return true;
      case 'unplug':
        this.setCp('A');
        this.session = undefined;
        return true;
      default:
        return true;
    }
  }
}
