// EverestCarSim and the Plug & Charge variables an EV emulator (the virtual EV) publishes besides the
// EVerest ones: ContractInstalled / ContractInstallFailed / Authorized / AuthorizationFailed become
// states with their data as detail; V2G_Messages go to the transcript only. Published here by a
// plain MQTT client on a real aedes broker, so the mapping is tested apart from any simulator.
import net from 'node:net';
import { Aedes } from 'aedes';
import { connect, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolViolation } from '../../../drivers/capabilities.ts';
import { EverestCarSim, type EverestCarSimDriver } from '../../../drivers/ev/everest.ts';
import { ResourceSchema } from '../../../src/rig/resources.ts';
import { Transcript } from '../../../src/rig/transcript.ts';

const signal = (): AbortSignal => AbortSignal.timeout(5000);

describe('EverestCarSim PnC variables', () => {
  let broker: Aedes;
  let server: net.Server;
  let url = '';
  let pub: MqttClient;
  beforeAll(async () => {
    broker = await Aedes.createBroker();
    server = net.createServer((s) => broker.handle(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    pub = connect(url);
    await new Promise<void>((r) => pub.once('connect', () => r()));
  });
  afterAll(async () => {
    await pub.endAsync(true);
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
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
});
