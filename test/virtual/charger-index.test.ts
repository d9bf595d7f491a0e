// VirtualCharger (rigs/virtual/charger/index.ts), the public face the rig's simulator module uses: the
// SECC listens on an ephemeral loopback port, the controller boots against the real MockCsms, snapshot()
// and the console's status lines show it, stop() settles within its deadline; bad options are clear
// errors naming the option (those of the rig file from its schema, VirtualRigOptions).
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockCsms } from '../../src/csms/index.ts';
import { generatePki, type BenchPki } from '../../src/pki/index.ts';
import { VirtualCharger, type VirtualChargerOptions } from '../../rigs/virtual/charger/index.ts';
import { VirtualRigOptions } from '../../rigs/virtual/index.ts';
import { PowerBus } from '../../rigs/virtual/physics.ts';
import { der, factorySecc, sig, until } from './charger-helpers.ts';

let pki: BenchPki;
let csms: MockCsms;
beforeAll(async () => {
  pki = generatePki({ seed: 'charger-index', organization: 'PNCBENCH', ocspUrl: 'http://127.0.0.1:1/ocsp' });
  csms = new MockCsms({ host: '127.0.0.1', port: 0, pki, pingIntervalMs: 0 });
  await csms.listen();
});
afterAll(() => csms.close(1_000));

const options = (lines: string[], o: Partial<VirtualChargerOptions> = {}): VirtualChargerOptions => ({
  csmsUrl: csms.url,
  chargePointId: 'VIRTUAL-CP1',
  faults: [],
  trust: { v2gRootsDer: [der(pki.cert('v2g-root'))], moRootsDer: [der(pki.cert('mo-root'))] },
  seccLeaf: factorySecc(pki),
  bus: new PowerBus(),
  consoleLog: (l) => lines.push(l),
  secc: { host: '127.0.0.1', port: 0 },
  reconnect: { minMs: 50, maxMs: 200 },
  ...o,
});

describe('VirtualCharger', () => {
  it('start: SECC on an ephemeral port, boots against the CSMS; snapshot; stop within the deadline', async () => {
    const lines: string[] = [];
    const charger = new VirtualCharger(options(lines, { config: { CertSigningWaitMinimum: '5' } }));
    await charger.start();
    expect(charger.seccPort).toBeGreaterThan(0);
    const sock = net.connect(charger.seccPort, '127.0.0.1');
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    sock.destroy();
    await csms.expectCall('VIRTUAL-CP1', 'BootNotification', { timeoutMs: 10_000, signal: sig() });
    await until(() => lines.some((l) => /ocpp: BootNotification Accepted interval=300/.test(l)), 5_000, 'boot line');
    const snap = charger.snapshot();
    expect(snap).toMatchObject({ chargePointId: 'VIRTUAL-CP1', online: true, bootStatus: 'Accepted', seccPort: charger.seccPort, faults: [] });
    expect((snap.config as Record<string, string>).CertSigningWaitMinimum).toBe('5');
    expect((snap.config as Record<string, string>).SecurityProfile).toBe('0');
    expect((snap.certificates as { seccLeaf: { subject: string } }).seccLeaf.subject).toBe(pki.cert('secc-leaf').subject);
    expect(charger.statusLines()).toEqual(['ocpp: online boot=Accepted', 'connector 1: Available (Operative)', 'transaction: none', 'queue: 0 message(s)']);
    const t0 = Date.now();
    await charger.stop(2_000);
    expect(Date.now() - t0).toBeLessThan(2_100);
    expect(lines.some((l) => /sys: power off/.test(l))).toBe(true);
  });

  it('bad options are errors naming the option (faults listing the valid names, chargePointId, config keys, URL, reconnect)', () => {
    const rigError = (o: Record<string, unknown>) => VirtualRigOptions.safeParse(o).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(rigError({ faults: ['no-backoff', 'bogus'] })).toEqual([expect.stringMatching(/^faults\.1: .*"regular-authorize-for-pnc"\|"offline-charging-without-validation".*"meter-stop-mismatch"/)]);
    expect(rigError({ chargePointId: 'a/b' })).toEqual(['chargePointId: must not contain "/" (it is the last segment of the CSMS URL)']);
    expect(rigError({ chargePointId: 'x'.repeat(49) })).toEqual(['chargePointId: must be 1..48 printable characters']);
    const lines: string[] = [];
    expect(() => new VirtualCharger(options(lines, { config: { HeartbeatInterval: 'often' } }))).toThrow(/virtual charger: config\.HeartbeatInterval: "often" is not an integer/);
    expect(() => new VirtualCharger(options(lines, { csmsUrl: 'http://127.0.0.1:1' }))).toThrow(/virtual charger: csmsUrl: "http:\/\/127\.0\.0\.1:1" is not a ws:\/\/ or wss:\/\/ URL/);
    expect(() => new VirtualCharger(options(lines, { reconnect: { minMs: 500, maxMs: 100 } }))).toThrow(/reconnect: need 0 < minMs <= maxMs/);
    expect(() => new VirtualCharger(options(lines, { trust: { v2gRootsDer: [der(pki.cert('cpo-sub1'))], moRootsDer: [] } }))).toThrow(/trust\.v2gRootsDer\[0\]: .* is not a self-signed CA certificate/);
  });
});
