// The mock CSMS as a rig driver, loaded the way the runner does it: a rig file (the built-in driver
// registry of drivers/index.ts) is validated, the Rig creates
// and opens the driver, a strict ocpp-rpc charger talks to it through the Csms capability, and the
// transcript segment the runner cuts is JSON lines with µs timestamps; exchanges become timing points.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LinkError, type Csms } from '../../drivers/capabilities.ts';
import { asScriptableCsms, MockCsmsDriver } from '../../src/csms/driver.ts';
import { loadRig, RigConfigError } from '../../src/rig/load.ts';
import { Rig } from '../../src/rig/rig.ts';
import { Transcript } from '../../src/rig/transcript.ts';
import { cleanup, rawCharger, refusedWith, rpcClient, sig } from './helpers.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'csms-rig-'));
afterAll(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function rigFile(name: string, driverOptions: string, port = 0): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `schema: pnc-bench-rig/1
id: ${name}
class: lab
location: test
dut: { model: test-charger }
resources:
  csms_port: { type: ListenPort, host: 127.0.0.1, port: ${port} }
drivers:
  csms:
    driver: MockCsms
    bind: { listen: csms_port }
    options: ${driverOptions}
`,
  );
  return file;
}

describe('MockCsms driver', () => {
  it('rejects unknown and ill-typed options with their path', async () => {
    const file = rigFile('bad', '{ colour: red, defaults: { securityProfile: 5 } }');
    const e = await loadRig(file).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RigConfigError);
    const msg = (e as Error).message;
    expect(msg).toMatch(/drivers\.csms\.options.*colour/);
    expect(msg).toMatch(/drivers\.csms\.options\.defaults\.securityProfile/);
  });

  it('opens through the Rig, serves a charger through the Csms capability, and records transcript and timings', async () => {
    const loaded = await loadRig(rigFile('ok', '{ chargePointId: CP1, pkiSeed: rig-test, defaults: { securityProfile: 1, password: "0123456789abcdef" } }'));
    const logs: string[] = [];
    const rig = new Rig(loaded, (d, level, msg) => logs.push(`${d} ${level} ${msg}`));
    await rig.open(['csms'], sig(), 5_000);
    const slot = rig.slot('csms');
    const csms = slot.instance as Csms;
    const script = asScriptableCsms(csms);
    expect(await csms.health(sig())).toMatchObject({ ok: true, detail: expect.stringMatching(/^listening on ws:\/\/127\.0\.0\.1:\d+; connected: none$/) });
    slot.transcript.cut(); // the runner attaches what was before the phase at rig level

    const bootSeen = csms.expectCall('BootNotification', { timeoutMs: 5_000, signal: sig() });
    const client = await rpcClient(script.server, 'CP1', { password: '0123456789abcdef' });
    client.handle('Reset', async () => ({ status: 'Accepted' }));
    client.handle('DataTransfer', async ({ params }) => {
      expect((params as { messageId: string }).messageId).toBe('TriggerMessage');
      return { status: 'Accepted', data: JSON.stringify({ status: 'Accepted' }) };
    });
    await client.call('BootNotification', { chargePointVendor: 'ACME', chargePointModel: 'X1' });
    const boot = await bootSeen;
    expect(boot.payload).toEqual({ chargePointVendor: 'ACME', chargePointModel: 'X1' });
    expect(boot.t).toBeGreaterThan(Date.now() - 5_000);
    expect(await csms.call('Reset', { type: 'Soft' }, { timeoutMs: 5_000, signal: sig() })).toEqual({ status: 'Accepted' });
    expect(await csms.call('DataTransfer.TriggerMessage', { requestedMessage: 'SignV2GCertificate' }, { timeoutMs: 5_000, signal: sig() })).toEqual({
      status: 'Accepted',
      data: '{"status":"Accepted"}',
      response: { status: 'Accepted' },
    });
    script.server.chargePoint('CP1').sendRaw('not json at all');

    const lines = slot.transcript.cut().toString().trimEnd().split('\n');
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const frames = entries.filter((e) => 'dir' in e);
    expect(frames.map((f) => [f.dir, (f.frame as unknown[] | undefined)?.[0] ?? 'raw'])).toEqual([
      ['in', 2],
      ['out', 3],
      ['out', 2],
      ['in', 3],
      ['out', 2],
      ['in', 3],
      ['out', 'raw'],
    ]);
    expect(frames.at(-1)).toMatchObject({ raw: 'not json at all', cp: 'CP1' });
    for (const e of entries) {
      expect(Number.isInteger(e.tUs)).toBe(true);
      expect(Math.abs((e.tUs as number) / 1000 - Date.now())).toBeLessThan(10_000);
    }
    expect(entries.find((e) => e.event === 'connected')).toMatchObject({ cp: 'CP1', detail: { protocol: 'ocpp1.6', securityProfile: 1, passwordMatched: 'raw' } });

    const timings = script.drainTimings();
    expect(timings.map((t) => `${t.direction} ${t.message}`)).toEqual(['cp->csms BootNotification', 'csms->cp Reset', 'csms->cp DataTransfer.TriggerMessage']);
    for (const t of timings) expect(t.latencyMs).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(JSON.stringify(csms.snapshot()))).toMatchObject({ listening: true, chargers: [{ id: 'CP1', connected: true }] });
    expect(logs.some((l) => /csms info CP1 connected/.test(l))).toBe(true);

    await rig.closeAll(2_000);
    expect(await csms.health(sig())).toMatchObject({ ok: false });
    await csms.close(100); // idempotent
  });

  it('expectCall without chargePointId binds to the first charger that connects', async () => {
    const csms = MockCsmsDriver.create({
      name: 'csms',
      options: MockCsmsDriver.options.parse({}),
      resources: { listen: { type: 'ListenPort', host: '127.0.0.1', port: 0 } },
      transcript: new Transcript(MockCsmsDriver.transcript),
      rigDir: dir,
      log: () => {},
    }) as Csms;
    await csms.open(sig());
    const seen = asScriptableCsms(csms).expectCall('Heartbeat', { timeoutMs: 5_000, signal: sig() });
    const client = await rpcClient(asScriptableCsms(csms).server, 'ANY');
    await client.call('Heartbeat', {});
    expect((await seen).chargePointId).toBe('ANY');
    await csms.close(1_000);
  });

  it('Csms.expectCall takes match and since; timings() drains the exchanges for the runner; refusalStatus from the rig file', async () => {
    const csms = MockCsmsDriver.create({
      name: 'csms',
      options: MockCsmsDriver.options.parse({ chargePointId: 'M1', refusalStatus: { unknownCharger: 403 }, unknownChargers: 'reject', chargers: { M1: {} } }),
      resources: { listen: { type: 'ListenPort', host: '127.0.0.1', port: 0 } },
      transcript: new Transcript(MockCsmsDriver.transcript),
      rigDir: dir,
      log: () => {},
    }) as Csms;
    await csms.open(sig());
    const server = asScriptableCsms(csms).server;
    const client = await rpcClient(server, 'M1');
    const status = (connectorId: number, s: string) => client.call('StatusNotification', { connectorId, errorCode: 'NoError', status: s });
    await status(1, 'Available');
    const mark = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    await status(1, 'Preparing');
    await status(2, 'Charging');
    const c2 = await csms.expectCall('StatusNotification', { timeoutMs: 1_000, signal: sig(), match: (c) => c.payload.connectorId === 2 });
    expect(c2).toMatchObject({ chargePointId: 'M1', payload: { status: 'Charging' } });
    const after = await csms.expectCall('StatusNotification', { timeoutMs: 1_000, signal: sig(), since: mark });
    expect(after.payload.status).toBe('Preparing');
    await expect(csms.expectCall('StatusNotification', { timeoutMs: 100, signal: sig(), since: Date.now() + 1 })).rejects.toThrow(/did not send StatusNotification/);
    const t = csms.timings?.() ?? [];
    expect(t.map((p) => `${p.protocol} ${p.direction} ${p.message}`)).toEqual(Array(3).fill('ocpp cp->csms StatusNotification'));
    expect(csms.timings?.()).toEqual([]);
    expect(server.statusFor('unknownCharger')).toBe(403);
    expect(await refusedWith(rawCharger(server, 'STRANGER'))).toEqual({ status: 403, body: 'unknown charge point "STRANGER"' });
    await csms.close(1_000);
  });

  it('a port that is taken → LinkError at open; a missing PKI directory → LinkError naming it', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const rig = new Rig(await loadRig(rigFile('busy', '{}', port)), () => {});
    await expect(rig.open(['csms'], sig(), 5_000)).rejects.toBeInstanceOf(LinkError);
    await new Promise<void>((r) => blocker.close(() => r()));
    const rig2 = new Rig(await loadRig(rigFile('nopki', '{ pki: no-such-dir }')), () => {});
    await expect(rig2.open(['csms'], sig(), 5_000)).rejects.toThrow(/no-such-dir/);
  });
});
