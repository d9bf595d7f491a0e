// EverestCarSim end to end over real MQTT brokers (in-process aedes, and Debian mosquitto) against
// a car-simulator responder: commands and scripts on the wire, state events with timestamps,
// confirmation of plug-in, waits that time out as ProtocolViolation, a disabled simulator, the
// broker restarting, and option validation of scripts.
import { getEventListeners } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LinkError, ProtocolViolation } from '../../../drivers/capabilities.ts';
import { EverestCarSim, EverestCarSimDriver } from '../../../drivers/ev/everest.ts';
import { ResourceSchema } from '../../../src/rig/resources.ts';
import { Transcript } from '../../../src/rig/transcript.ts';
import { CarSimPeer } from '../peers/carsim.ts';
import { AedesBroker } from '../../../rigs/virtual/broker.ts';
import { MosquittoBroker } from '../peers/mqtt-brokers.ts';

const signal = (): AbortSignal => AbortSignal.timeout(5000);
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function rig(url: string, options: Record<string, unknown> = {}) {
  const peer = new CarSimPeer(url, { connectorId: 2 });
  await peer.start();
  cleanup.push(() => peer.stop());
  const transcript = new Transcript(EverestCarSim.transcript);
  const d = EverestCarSim.create({
    name: 'ev',
    options: EverestCarSim.options.parse({ connectorId: 2, confirmMs: 1000, reconnect: { minMs: 50, maxMs: 200 }, ...options }),
    resources: { broker: ResourceSchema.parse({ type: 'MqttBroker', url }) },
    transcript,
    rigDir: process.cwd(),
    log: () => {},
  }) as EverestCarSimDriver;
  cleanup.push(() => d.close(500));
  return { peer, d, transcript };
}

describe('EverestCarSim on aedes', () => {
  const broker = new AedesBroker();
  beforeAll(async () => {
    await broker.start();
  });
  afterAll(async () => {
    await broker.stop();
  });

  it('enables the simulator, plugs in, runs a DC Plug & Charge session, stops and unplugs', async () => {
    const { peer, d, transcript } = await rig(broker.url);
    await d.open(signal());
    await d.waitForState('Enabled', { timeoutMs: 1000, signal: signal() });
    expect(peer.enabled).toBe(true);

    const caller = AbortSignal.timeout(5000);
    await d.plugIn(caller);
    expect(peer.cp).toBe('B');
    // plugIn waited for B, C or D: once B came nothing may stay listening on the caller's signal
    expect(getEventListeners(caller, 'abort')).toHaveLength(0);
    const t0 = Date.now();
    await d.startSession({ mode: 'DC', payment: 'Contract' }, signal());
    const c = await d.waitForState('C', { timeoutMs: 2000, signal: signal() });
    await d.waitForState('DC_PowerOn', { timeoutMs: 2000, signal: signal() });
    expect(c.t).toBeGreaterThanOrEqual(t0 - 5);
    expect(peer.session).toEqual({ mode: 'dc', payment: 'contract' });

    await d.stopSession(signal());
    await d.waitForState('V2G_Session_Finished', { timeoutMs: 2000, signal: signal() });
    await d.unplug(caller);
    expect(peer.cp).toBe('A');
    expect(getEventListeners(caller, 'abort')).toHaveLength(0);
    // a list of states: the first event of any of them; by default the latest event counts when it is one of them
    expect(await d.waitForState(['DC_PowerOn', 'C'], { timeoutMs: 100, signal: signal(), since: c.t })).toEqual(c);
    expect((await d.waitForState(['Disconnected', 'A'], { timeoutMs: 100, signal: signal() })).state).toBe('A');

    expect(peer.received.map((r) => r.kind)).toEqual(['enable', 'execute_charging_session', 'modify_charging_session', 'modify_charging_session', 'modify_charging_session']);
    expect(peer.received[2]?.payload).toBe('iso_wait_slac_matched;iso_start_v2g_session dc,contract;iso_wait_pwr_ready;iso_dc_power_on;iso_wait_for_stop 36000;iso_wait_v2g_session_stopped');
    const states = d.events().map((e) => e.state);
    expect(states).toEqual(['Enabled', 'B', 'C', 'DC_PowerOn', 'B', 'V2G_Session_Finished', 'A']);
    const times = d.events().map((e) => e.t);
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    const lines = transcript
      .cut()
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { dir?: string; event?: string; topic?: string; payload?: string });
    expect(lines[0]?.event).toBe('connect');
    expect(lines.filter((l) => l.dir === 'tx').map((l) => l.topic)).toEqual([
      'everest_external/nodered/2/carsim/cmd/enable',
      'everest_external/nodered/2/carsim/cmd/execute_charging_session',
      'everest_external/nodered/2/carsim/cmd/modify_charging_session',
      'everest_external/nodered/2/carsim/cmd/modify_charging_session',
      'everest_external/nodered/2/carsim/cmd/modify_charging_session',
    ]);
    expect(lines.some((l) => l.dir === 'rx' && l.topic === 'everest/modules/ev_manager/impl/ev_manager/var/bsp_event' && l.payload === '{"data":{"event":"B"}}')).toBe(true);
    expect(d.snapshot()).toMatchObject({ connected: true, reconnects: 0, connectorId: 2, state: { state: 'A' } });
    expect(await d.health(signal())).toMatchObject({ ok: true, reconnects: 0 });
  });

  it('runs an AC session with external payment and the configured current', async () => {
    const { peer, d } = await rig(broker.url, { acCurrentA: 32, acPhases: 1 });
    await d.open(signal());
    await d.plugIn(signal());
    await d.startSession({ mode: 'AC', payment: 'ExternalPayment' }, signal());
    await d.waitForState('AC_EVPowerReady', { timeoutMs: 2000, signal: signal() });
    expect(peer.received.at(-1)?.payload).toBe('iso_wait_slac_matched;iso_start_v2g_session ac,externalpayment;iso_wait_pwr_ready;iso_draw_power_regulated 32,1;iso_wait_for_stop 36000;iso_wait_v2g_session_stopped');
    expect(peer.session).toEqual({ mode: 'ac', payment: 'externalpayment' });
    await d.installCertificate(signal());
    const t0 = Date.now();
    while (peer.received.length < 4 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
    expect(peer.received.at(-1)?.payload).toBe('iso_wait_slac_matched;iso_start_v2g_session dc,contract;iso_wait_pwr_ready;iso_wait_for_stop 36000;iso_wait_v2g_session_stopped');
    await expect(d.startSession({ mode: 'XX' as 'AC', payment: 'Contract' }, signal())).rejects.toThrow('startSession: mode must be AC or DC, got XX');
  });

  it('times out waiting for a state the charger never brings as ProtocolViolation, listing what it saw', async () => {
    const { peer, d } = await rig(broker.url);
    peer.slacMatched = false;
    await d.open(signal());
    await d.plugIn(signal());
    await d.startSession({ mode: 'DC', payment: 'Contract' }, signal());
    const e = await d.waitForState('C', { timeoutMs: 300, signal: signal(), since: Date.now() - 5000 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProtocolViolation);
    expect((e as ProtocolViolation).rule).toBe('ev.state.timeout');
    expect((e as Error).message).toMatch(/^\[ev\.state\.timeout\] EV did not reach state "C" within 300 ms; states seen: Enabled@\+\d+ms, B@\+\d+ms$/);
    const any = await d.waitForState(['C', 'DC_PowerOn'], { timeoutMs: 100, signal: signal() }).catch((x: unknown) => x);
    expect(any).toBeInstanceOf(ProtocolViolation);
    expect((any as Error).message).toBe('[ev.state.timeout] EV did not reach any of the states "C", "DC_PowerOn" within 100 ms; states seen: none');
    await expect(d.waitForState([], { timeoutMs: 100, signal: signal() })).rejects.toThrow(RangeError);
  });

  it('reports a plug-in the simulator ignores (disabled) as LinkError with a hint', async () => {
    const { peer, d } = await rig(broker.url, { enableOnOpen: false, confirmMs: 300 });
    await d.open(signal());
    const e = await d.plugIn(signal()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((e as Error).message).toBe('ev: EV emulator did not report B or C or D within 300 ms after plugIn (states since: none); is the car simulator enabled, with no other session still executing?');
    expect(peer.ignored).toEqual(['iso_wait_pwm_is_running']);
  });

  it('survives the broker restarting: commands fail while it is down, then it reconnects and resubscribes', async () => {
    const { peer, d } = await rig(broker.url);
    await d.open(signal());
    await d.plugIn(signal());
    await broker.stop();
    const t0 = Date.now();
    while ((d.snapshot().connected as boolean) && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
    const e = await d.startSession({ mode: 'DC', payment: 'Contract' }, signal()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((e as Error).message).toMatch(/^ev: MQTT broker mqtt:\/\/127\.0\.0\.1:\d+ is not connected \(down for \d+ ms, reconnecting\)$/);
    expect((await d.health(signal())).ok).toBe(false);
    await broker.start();
    const t1 = Date.now();
    while (!(d.snapshot().connected as boolean) && Date.now() - t1 < 3000) await new Promise((r) => setTimeout(r, 10));
    expect(d.snapshot()).toMatchObject({ connected: true, reconnects: 1 });
    // the peer reconnects too; once it has resubscribed the session runs end to end again
    const t2 = Date.now();
    while (Date.now() - t2 < 3000) {
      await d.startSession({ mode: 'DC', payment: 'Contract' }, signal());
      const ok = await d.waitForState('DC_PowerOn', { timeoutMs: 200, signal: signal() }).then(() => true, () => false);
      if (ok) break;
    }
    expect(d.events().some((x) => x.state === 'DC_PowerOn')).toBe(true);
    expect((await d.health(signal())).reconnects).toBe(1);
  });

  it('validates scripts in the options, naming the bad command', () => {
    const r = EverestCarSim.options.safeParse({ scripts: { dcSession: 'iso_wait_slac_match;iso_start_v2g_session' } });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['scripts.dcSession', 'unknown command "iso_wait_slac_match"'],
      ['scripts.dcSession', '"iso_start_v2g_session" takes 1 or 2 or 3 or 4 argument(s), got 0'],
    ]);
    const p = EverestCarSim.options.safeParse({ scripts: { plugIn: 'sleep {seconds}' } });
    expect(p.error?.issues[0]?.message).toBe('script placeholder {seconds} is not one of {payment}, {mode}, {acCurrentA}, {acPhases}, {maxSessionS}');
  });
});

describe('EverestCarSim on mosquitto', () => {
  const broker = new MosquittoBroker();
  beforeAll(async () => {
    await broker.start();
  });
  afterAll(async () => {
    await broker.close();
  });

  it('runs a Plug & Charge session through a separate broker process', async () => {
    const { peer, d } = await rig(broker.url);
    await d.open(signal());
    await d.plugIn(signal());
    await d.startSession({ mode: 'DC', payment: 'Contract' }, signal());
    await d.waitForState('DC_PowerOn', { timeoutMs: 2000, signal: signal() });
    await d.stopSession(signal());
    await d.waitForState('V2G_Session_Finished', { timeoutMs: 2000, signal: signal() });
    expect(peer.received.map((r) => r.kind)).toEqual(['enable', 'execute_charging_session', 'modify_charging_session', 'modify_charging_session']);
  });
});
