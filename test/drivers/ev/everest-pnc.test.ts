// EverestCarSim and the Plug & Charge variables an EV emulator (the virtual EV) publishes besides the
// EVerest ones: ContractInstalled / ContractInstallFailed / Authorized / AuthorizationFailed become
// states with their data as detail; V2G_Messages go to the transcript only. Published here by a
// plain MQTT client on a real aedes broker, so the mapping is tested apart from any simulator.
// updateCertificate (M02) exists only with scripts.updateCertificate: without it NotSupportedError and
// nothing on the wire; with it the filled script on modify_charging_session.
import { connect, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotSupportedError, ProtocolViolation } from '../../../drivers/capabilities.ts';
import { EverestCarSim, type EverestCarSimDriver } from '../../../drivers/ev/everest.ts';
import { startBroker, type RunningBroker } from '../../../rigs/virtual/broker.ts';
import { ResourceSchema } from '../../../src/rig/resources.ts';
import { Transcript } from '../../../src/rig/transcript.ts';

const signal = (): AbortSignal => AbortSignal.timeout(5000);

describe('EverestCarSim PnC variables', () => {
  let broker: RunningBroker;
  let url = '';
  let pub: MqttClient;
  beforeAll(async () => {
    broker = await startBroker({ host: '127.0.0.1', port: 0 });
    url = broker.url;
    pub = connect(url);
    await new Promise<void>((r) => pub.once('connect', () => r()));
  });
  afterAll(async () => {
    await pub.endAsync(true);
    await broker.stop();
  });

  it('maps the PnC outcomes to states with detail and keeps V2G_Messages out of the states', async () => {
    const transcript = new Transcript(EverestCarSim.transcript);
    const d = EverestCarSim.create({
      name: 'ev',
      options: EverestCarSim.options.parse({ evModule: 'car', everestPrefix: 'x/', enableOnOpen: false }),
      resources: { broker: ResourceSchema.parse({ type: 'MqttBroker', url }) },
      transcript,
      rigDir: process.cwd(),
      log: () => {},
    }) as EverestCarSimDriver;
    try {
      await d.open(signal());
      const v = (name: string, data: unknown) => pub.publishAsync(`x/modules/car/impl/ev/var/${name}`, JSON.stringify({ data }), { qos: 1 });
      const t0 = Date.now();
      await d.installCertificate(signal()); // only sends the script; the outcome is a state
      await v('V2G_Messages', { dir: 'EV->SECC', message: 'CertificateInstallationReq', t: 1700000000000.5 });
      await v('ContractInstallFailed', 'session-id');
      const failed = await d.waitForState('ContractInstallFailed', { timeoutMs: 2000, signal: signal(), since: t0 });
      expect(failed.detail).toBe('session-id');
      const e = await d.waitForState('ContractInstalled', { timeoutMs: 200, signal: signal(), since: t0 }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ProtocolViolation);

      await v('ContractInstalled', 'DEPNB1234567890');
      await v('Authorized', 'DEPNB1234567890');
      await v('AuthorizationFailed', { reason: 'timeout' });
      await d.waitForState('AuthorizationFailed', { timeoutMs: 2000, signal: signal(), since: t0 });
      expect(d.events().map((x) => [x.state, x.detail])).toEqual([
        ['ContractInstallFailed', 'session-id'],
        ['ContractInstalled', 'DEPNB1234567890'],
        ['Authorized', 'DEPNB1234567890'],
        ['AuthorizationFailed', '{"reason":"timeout"}'],
      ]);
      const lines = transcript
        .cut()
        .toString()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { dir?: string; topic?: string; payload?: string });
      const v2g = lines.filter((l) => l.dir === 'rx' && l.topic === 'x/modules/car/impl/ev/var/V2G_Messages');
      expect(v2g.map((l) => l.payload)).toEqual(['{"data":{"dir":"EV->SECC","message":"CertificateInstallationReq","t":1700000000000.5}}']);
    } finally {
      await d.close(1000);
    }
  });

  it('updateCertificate: NotSupportedError naming the option without scripts.updateCertificate, the filled script with it', async () => {
    const seen: { topic: string; payload: string }[] = [];
    const cmdTopic = 'everest_external/nodered/3/carsim/cmd/#';
    await pub.subscribeAsync(cmdTopic, { qos: 1 });
    const onMessage = (topic: string, payload: Buffer): void => void seen.push({ topic, payload: payload.toString() });
    pub.on('message', onMessage);
    const make = (scripts: Record<string, string>): EverestCarSimDriver =>
      EverestCarSim.create({
        name: 'car',
        options: EverestCarSim.options.parse({ connectorId: 3, enableOnOpen: false, certInstallMode: 'DC', scripts }),
        resources: { broker: ResourceSchema.parse({ type: 'MqttBroker', url }) },
        transcript: new Transcript(EverestCarSim.transcript),
        rigDir: process.cwd(),
        log: () => {},
      }) as EverestCarSimDriver;
    const plain = make({});
    const virtual = make({ updateCertificate: 'iso_wait_slac_matched;iso_start_v2g_session {mode},contract,certupdate;iso_wait_v2g_session_stopped' });
    try {
      await plain.open(signal());
      const e = await plain.updateCertificate(signal()).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(NotSupportedError);
      expect((e as Error).message).toBe("updateCertificate() is not supported by this rig's EV emulator (set options.scripts.updateCertificate of driver car)");
      await virtual.open(signal());
      await virtual.updateCertificate(signal());
      const end = Date.now() + 2000;
      while (seen.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(seen).toEqual([{ topic: 'everest_external/nodered/3/carsim/cmd/modify_charging_session', payload: 'iso_wait_slac_matched;iso_start_v2g_session dc,contract,certupdate;iso_wait_v2g_session_stopped' }]);
    } finally {
      pub.off('message', onMessage);
      await pub.unsubscribeAsync(cmdTopic);
      await plain.close(1000);
      await virtual.close(1000);
    }
  });

  it('scripts.updateCertificate is checked like the other scripts', () => {
    const r = EverestCarSim.options.safeParse({ scripts: { updateCertificate: 'iso_start_v2g_session dc,contract,certupdate;iso_update_contract' } });
    expect(r.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['scripts.updateCertificate', 'unknown command "iso_update_contract"']]);
    expect(EverestCarSim.options.parse({}).scripts.updateCertificate).toBeUndefined();
  });
});
