// The whole Plug & Charge chain with the REAL peers: the virtual EV (MQTT commands on aedes) talks
// ISO 15118-2 to the SECC of the real simulated charger (rigs/virtual/charger), whose OCPP 1.6J
// controller talks to the real MockCsms (src/csms): Get15118EVCertificate answered with a
// CertificateInstallationRes from the CSMS's PKI, DataTransfer Authorize, StartTransaction with the
// eMAID, power on the bus, StopTransaction.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../../rigs/virtual/broker.ts';
import { VirtualCharger } from '../../rigs/virtual/charger/index.ts';
import { VirtualEv } from '../../rigs/virtual/ev/index.ts';
import { PowerBus } from '../../rigs/virtual/physics.ts';
import { MockCsms } from '../../src/csms/index.ts';
import { generatePki, pemToDer, privateKeyPem } from '../../src/pki/index.ts';
import { evCredentials, Observer } from './v2g-fixtures.ts';

const CP = 'VIRTUAL-CP1';
const sig = (): AbortSignal => AbortSignal.timeout(15_000);
const pki = generatePki({ seed: 'v2g-charger-test', organization: 'PNCBENCH', ocspUrl: 'http://127.0.0.1:1/ocsp' });
const der = (c: { der: Uint8Array }): Buffer => Buffer.from(c.der);

describe('virtual EV ↔ simulated charger ↔ MockCsms', () => {
  let broker: Awaited<ReturnType<typeof startBroker>>;
  let csms: MockCsms;
  let charger: VirtualCharger;
  let ev: VirtualEv;
  let obs: Observer;
  const bus = new PowerBus();
  const consoleLines: string[] = [];

  beforeAll(async () => {
    broker = await startBroker({ host: '127.0.0.1', port: 0 });
    csms = new MockCsms({ host: '127.0.0.1', port: 0, pki, pingIntervalMs: 0 });
    await csms.listen();
    charger = new VirtualCharger({
      csmsUrl: csms.url,
      chargePointId: CP,
      faults: [],
      trust: { v2gRootsDer: [der(pki.cert('v2g-root'))], moRootsDer: [der(pki.cert('mo-root'))] },
      seccLeaf: { chainDer: pki.chain('secc-leaf').map(der), privateKeyPkcs8Der: Buffer.from(pemToDer(privateKeyPem(pki.get('secc-leaf').key), 'PRIVATE KEY', 'key')) },
      bus,
      consoleLog: (l) => consoleLines.push(l),
      secc: { host: '127.0.0.1', port: 0 },
      reconnect: { minMs: 50, maxMs: 200 },
    });
    await charger.start();
    await csms.expectCall(CP, 'BootNotification', { timeoutMs: 10_000, signal: sig() });
    ev = new VirtualEv({
      mqttUrl: broker.url,
      secc: () => ({ host: '127.0.0.1', port: charger.seccPort }),
      pki: evCredentials(pki),
      bus,
      loopMs: 50,
      timing: { currentDemandTimeoutMs: 2000, loopIntervalMs: 50, currentDemandIntervalMs: 100 },
    });
    await ev.start();
    obs = new Observer();
    await obs.start(broker.url);
    await obs.cmd('enable', 'true');
    await obs.waitFor('enabled', 0);
  });
  afterAll(async () => {
    await obs?.stop();
    await ev?.stop();
    await charger?.stop(2_000);
    await csms?.close(1_000);
    await broker?.stop();
  });

  it('installs the contract through Get15118EVCertificate, authorizes through DataTransfer Authorize and charges', async () => {
    let i = obs.vars.length;
    await obs.cmd('execute_charging_session', 'iso_wait_slac_matched;iso_start_v2g_session dc,contract,certinstall;iso_wait_v2g_session_stopped');
    const get = await csms.expectCall(CP, 'DataTransfer.Get15118EVCertificate', { timeoutMs: 10_000, signal: sig() });
    expect(get.payload).toMatchObject({ action: 'Install', iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef' });
    expect((await obs.waitFor('ContractInstalled', i)).data).toBe(pki.emaid);
    await obs.waitFor('V2G_Session_Finished', i);

    i = obs.vars.length;
    const e0 = bus.sample().energyWh;
    await obs.cmd('modify_charging_session', 'iso_wait_slac_matched;iso_start_v2g_session dc,contract;iso_wait_pwr_ready;iso_dc_power_on;iso_wait_for_stop 36000;iso_wait_v2g_session_stopped');
    const auth = await csms.expectCall(CP, 'DataTransfer.Authorize', { timeoutMs: 10_000, signal: sig() });
    expect(auth.payload).toMatchObject({ idToken: { idToken: pki.emaid, type: 'eMAID' } });
    expect((await obs.waitFor('Authorized', i, 10_000)).data).toBe(pki.emaid);
    const start = await csms.expectCall(CP, 'StartTransaction', { timeoutMs: 10_000, signal: sig() });
    expect(start.payload.idTag).toBe(pki.emaid);
    await obs.waitFor('DC_PowerOn', i);
    await new Promise((r) => setTimeout(r, 400));
    expect(bus.sample().energyWh).toBeGreaterThan(e0 + 1);

    await obs.cmd('modify_charging_session', 'iso_stop_charging;iso_wait_v2g_session_stopped');
    await obs.waitFor('V2G_Session_Finished', i);
    const stop = await csms.expectCall(CP, 'StopTransaction', { timeoutMs: 10_000, signal: sig() });
    expect(stop.payload.meterStop).toBe(Math.round(bus.sample().energyWh));
    expect(bus.contactorsClosed).toBe(false);
    expect(consoleLines.some((l) => l.includes('<- CurrentDemandReq'))).toBe(true);
  });
});
