// The virtual EV (rigs/virtual/ev/) driven by the REAL bench driver EverestCarSim (drivers/ev) over
// a real aedes broker, with the charger's SECC and a fake charge-point controller behind it: plug in,
// install a contract, a DC Plug & Charge session with power on the bus, stop, unplug — the states
// the driver reports, and the V2G messages in its transcript only. Also the car simulator's own
// command handling: disabled, execute while a script runs, modify, unknown commands, sleep.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolViolation } from '../../drivers/capabilities.ts';
import { EverestCarSim, type EverestCarSimDriver } from '../../drivers/ev/everest.ts';
import { startBroker } from '../../rigs/virtual/broker.ts';
import { SeccServer } from '../../rigs/virtual/charger/secc.ts';
import { parseCommands, VirtualEv } from '../../rigs/virtual/ev/index.ts';
import { PowerBus } from '../../rigs/virtual/physics.ts';
import { generatePki } from '../../src/pki/index.ts';
import { ResourceSchema } from '../../src/rig/resources.ts';
import { Transcript } from '../../src/rig/transcript.ts';
import { evCredentials, FakeBackend, Observer } from './v2g-fixtures.ts';

const pki = generatePki({ seed: 'ev-carsim-test' });
const signal = (): AbortSignal => AbortSignal.timeout(15_000);
const INSTALL_SCRIPT = 'iso_wait_slac_matched;iso_start_v2g_session {mode},contract,certinstall;iso_wait_v2g_session_stopped';

let broker: { url: string; stop: () => Promise<void> };
beforeAll(async () => {
  broker = await startBroker({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await broker.stop();
});
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function rig(connectorId = 1, driverOptions: Record<string, unknown> = {}) {
  const bus = new PowerBus();
  const backend = new FakeBackend(pki);
  const evLog: string[] = [];
  const secc = new SeccServer({ host: '127.0.0.1', port: 0, backend, bus, log: () => {}, timing: { cableCheckMs: 50 } });
  await secc.start();
  cleanup.push(() => secc.stop());
  const ev = new VirtualEv({
    mqttUrl: broker.url,
    connectorId,
    secc: () => ({ host: '127.0.0.1', port: secc.port }),
    pki: evCredentials(pki),
    bus,
    loopMs: 50,
    timing: { currentDemandTimeoutMs: 2000, loopIntervalMs: 50, currentDemandIntervalMs: 100 },
    log: (l) => evLog.push(l),
  });
  await ev.start();
  cleanup.push(() => ev.stop());
  const transcript = new Transcript(EverestCarSim.transcript);
  const d = EverestCarSim.create({
    name: 'ev',
    options: EverestCarSim.options.parse({ connectorId, confirmMs: 2000, scripts: { installCertificate: INSTALL_SCRIPT }, ...driverOptions }),
    resources: { broker: ResourceSchema.parse({ type: 'MqttBroker', url: broker.url }) },
    transcript,
    rigDir: process.cwd(),
    log: () => {},
  }) as EverestCarSimDriver;
  cleanup.push(() => d.close(1000));
  return { bus, backend, ev, evLog, d, transcript };
}

describe('virtual EV under the EverestCarSim driver', () => {
  it('plugIn, installCertificate → ContractInstalled, startSession DC Contract → power, stopSession, unplug', async () => {
    const { bus, backend, ev, d, transcript } = await rig(3);
    await d.open(signal());
    await d.waitForState('Enabled', { timeoutMs: 2000, signal: signal() });
    await d.plugIn(signal());

    const t0 = Date.now();
    await d.installCertificate(signal());
    const installed = await d.waitForState('ContractInstalled', { timeoutMs: 8000, signal: signal(), since: t0 });
    expect(installed.detail).toBe(pki.emaid);
    await d.waitForState('V2G_Session_Finished', { timeoutMs: 5000, signal: signal(), since: t0 });
    expect(backend.exchanges.map((x) => x.action)).toEqual(['Install']);

    const t1 = Date.now();
    const e0 = bus.sample().energyWh;
    await d.startSession({ mode: 'DC', payment: 'Contract' }, signal());
    expect((await d.waitForState('Authorized', { timeoutMs: 8000, signal: signal(), since: t1 })).detail).toBe(pki.emaid);
    await d.waitForState('C', { timeoutMs: 5000, signal: signal(), since: t1 });
    await d.waitForState('DC_PowerOn', { timeoutMs: 5000, signal: signal(), since: t1 });
    expect(bus.sample().powerW).toBe(40_000);
    await new Promise((r) => setTimeout(r, 400));
    expect(bus.sample().energyWh).toBeGreaterThan(e0 + 1);
    expect(backend.started).toEqual([{ idTag: pki.emaid, connectorId: 1 }]);

    const t2 = Date.now();
    await d.stopSession(signal());
    await d.waitForState('V2G_Session_Finished', { timeoutMs: 5000, signal: signal(), since: t2 });
    expect(bus.sample().currentA).toBe(0);
    expect(backend.stopped).toEqual(['Local']);
    await d.unplug(signal());

    const states = d.events().map((e) => e.state);
    expect(states).toEqual(['Enabled', 'B', 'ContractInstalled', 'V2G_Session_Finished', 'Authorized', 'C', 'DC_PowerOn', 'B', 'V2G_Session_Finished', 'A']);
    // V2G messages: in the transcript as received messages, never as states
    const lines = transcript
      .cut()
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { dir?: string; topic?: string; payload?: string });
    const v2g = lines.filter((l) => l.dir === 'rx' && l.topic === 'everest/modules/iso15118_car/impl/ev/var/V2G_Messages').map((l) => (JSON.parse(l.payload!) as { data: { dir: string; message: string; responseCode?: string; t: number } }).data);
    expect(v2g.length).toBeGreaterThan(20);
    expect(v2g.slice(0, 4).map((m) => `${m.dir} ${m.message}`)).toEqual(['EV->SECC supportedAppProtocolReq', 'SECC->EV supportedAppProtocolRes', 'EV->SECC SessionSetupReq', 'SECC->EV SessionSetupRes']);
    expect(v2g.find((m) => m.message === 'CertificateInstallationRes')?.responseCode).toBe('OK');
    expect(v2g.every((m, i) => i === 0 || m.t >= v2g[i - 1]!.t)).toBe(true);
    expect(ev.snapshot()).toMatchObject({ enabled: true, cp: 'A', contract: pki.emaid, lastSession: { result: 'charged', payment: 'Contract' } });
  });

  it('a broken installation reaches ContractInstallFailed with its reason, never ContractInstalled', async () => {
    const { backend, d } = await rig(4);
    backend.exchangeMode = 'session-id';
    await d.open(signal());
    await d.plugIn(signal());
    const t0 = Date.now();
    await d.installCertificate(signal());
    const failed = await d.waitForState('ContractInstallFailed', { timeoutMs: 8000, signal: signal(), since: t0 });
    expect(failed.detail).toBe('session-id');
    const e = await d.waitForState('ContractInstalled', { timeoutMs: 300, signal: signal(), since: t0 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProtocolViolation);
    expect((e as Error).message).toMatch(/EV did not reach state "ContractInstalled" within 300 ms; states seen: .*ContractInstallFailed@/);
  });

  it('the default installCertificate script on a fresh EV installs the contract in its first Contract session', async () => {
    const { d, backend } = await rig(5, { scripts: {} });
    await d.open(signal());
    await d.plugIn(signal());
    const t0 = Date.now();
    await d.installCertificate(signal());
    expect((await d.waitForState('ContractInstalled', { timeoutMs: 8000, signal: signal(), since: t0 })).detail).toBe(pki.emaid);
    // the session goes on to authorize (it is a full Contract session), then the driver stops it
    await d.waitForState('Authorized', { timeoutMs: 8000, signal: signal(), since: t0 });
    await d.stopSession(signal());
    await d.waitForState('V2G_Session_Finished', { timeoutMs: 5000, signal: signal(), since: t0 });
    expect(backend.exchanges).toHaveLength(1);
  });
});

describe('virtual EV command handling (EvManager semantics)', () => {
  it('ignores commands while disabled and execute while a script runs; modify replaces the queue; unknown commands reject the script', async () => {
    const { ev, evLog } = await rig(6);
    const obs = new Observer();
    await obs.start(broker.url);
    cleanup.push(() => obs.stop());
    const cmd = (kind: 'enable' | 'execute_charging_session' | 'modify_charging_session', p: string) => obs.cmd(kind, p, 6);
    const until = async (pred: () => boolean, what: string) => {
      const t0 = Date.now();
      while (!pred()) {
        if (Date.now() - t0 > 3000) throw new Error(`timed out waiting for ${what}; EV log: ${evLog.join(' | ')}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await cmd('execute_charging_session', 'iso_wait_pwm_is_running');
    await until(() => evLog.some((l) => l.includes('execute_charging_session ignored: the simulator is disabled')), 'disabled notice');
    expect(ev.snapshot().cp).toBe('A');

    await cmd('enable', 'true');
    await obs.waitFor('enabled', 0);
    await cmd('execute_charging_session', 'iso_wait_pwm_is_running;sleep 0.3;pause');
    await until(() => ev.snapshot().cp === 'B', 'CP B');
    await cmd('execute_charging_session', 'unplug');
    await until(() => evLog.some((l) => l.startsWith('[EV] execute_charging_session ignored: a session script is still running (sleep 0.3;pause)')), 'busy notice');
    await until(() => ev.snapshot().executing === false, 'script end');
    expect(ev.snapshot().cp).toBe('B');

    await cmd('execute_charging_session', 'sleep 10;unplug');
    await until(() => ev.snapshot().executing === true, 'sleep running');
    await cmd('modify_charging_session', 'unplug');
    await until(() => ev.snapshot().cp === 'A', 'CP A after modify');

    await cmd('modify_charging_session', 'iso_wait_pwm_is_running;iso_wait_slac_match');
    await until(() => /modify_charging_session rejected: unknown command "iso_wait_slac_match"/.test(String(ev.snapshot().lastError)), 'rejection');
    expect(ev.snapshot().cp).toBe('A');

    await cmd('modify_charging_session', 'iso_start_v2g_session ac,externalpayment');
    await until(() => ev.snapshot().lastError === 'AC sessions are not simulated: the virtual EV charges DC only', 'AC refusal');
    expect(ev.snapshot().session).toBeNull();
    expect(obs.vars.filter((v) => v.name === 'bsp_event').map((v) => (v.data as { event: string }).event)).toEqual(['B', 'A']);
  });

  it('parses like EvManager: lower case, newlines and commas, name and argument count', () => {
    expect(parseCommands('ISO_Start_V2G_Session DC,Contract,CertInstall\nsleep 1;;').map((c) => [c.name, c.args])).toEqual([
      ['iso_start_v2g_session', ['dc', 'contract', 'certinstall']],
      ['sleep', ['1']],
    ]);
    expect(() => parseCommands('sleep')).toThrow('"sleep" takes 1 argument(s), got 0');
    expect(() => parseCommands('fly 1')).toThrow('unknown command "fly"');
  });

  it('refuses bad options with a clear message', () => {
    const base = { mqttUrl: 'mqtt://127.0.0.1:1', secc: { host: '127.0.0.1', port: 1 }, pki: evCredentials(pki), bus: new PowerBus() };
    expect(() => new VirtualEv({ ...base, mqttUrl: 'http://x' })).toThrow('VirtualEv: mqttUrl must be an mqtt:// URL, got "http://x"');
    expect(() => new VirtualEv({ ...base, pki: { ...base.pki, v2gRootsDer: [] } })).toThrow('VirtualEv: pki.v2gRootsDer must hold at least one V2G root certificate');
    expect(() => new VirtualEv({ ...base, battery: { socPercent: 120 } })).toThrow('VirtualEv: battery.socPercent must be ≤ 100, got 120');
    expect(() => new VirtualEv({ ...base, timing: { msgTimeout: 5 } as never })).toThrow('VirtualEv: timing.msgTimeout is not one of communicationSetupTimeoutMs, msgTimeoutMs');
  });
});
