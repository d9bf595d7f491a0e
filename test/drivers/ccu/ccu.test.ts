// CcuCan end to end: the driver on real links (socketcand over TCP, slcan over a socat pty)
// against a simulated InfyPower module on a virtual bus — golden frames on the wire, status,
// limits, on/off, emergency stop, module error codes, a silent module, fault bits, addressing —
// and the generic DBC profile with its configuration errors.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LinkError, ProtocolViolation } from '../../../drivers/capabilities.ts';
import { parseCandump } from '../../../drivers/can/candump.ts';
import { frameText } from '../../../drivers/can/frame.ts';
import { CcuCan, CcuCanDriver } from '../../../drivers/ccu/driver.ts';
import { ResourceSchema } from '../../../src/rig/resources.ts';
import { Transcript } from '../../../src/rig/transcript.ts';
import { ConfigError } from '../../../src/runner/errors.ts';
import { InfyModule } from '../../../rigs/virtual/infy-module.ts';
import { ptyPair, type PtyPair } from '../../../rigs/virtual/pty.ts';
import { SlcanAdapter } from '../../../rigs/virtual/slcan-adapter.ts';
import { SocketcandServer } from '../../../rigs/virtual/socketcand-server.ts';
import { VirtualBus, type BusFrame } from '../../../rigs/virtual/can-bus.ts';

const signal = (): AbortSignal => AbortSignal.timeout(5000);
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function driver(resource: Record<string, unknown>, options: Record<string, unknown> = {}, rigDir = process.cwd()) {
  const transcript = new Transcript(CcuCan.transcript);
  const logs: string[] = [];
  const d = CcuCan.create({
    name: 'ccu',
    options: CcuCan.options.parse({ pollMs: 100, ackTimeoutMs: 300, staleAfterMs: 1000, ...options }),
    resources: { bus: ResourceSchema.parse(resource) },
    transcript,
    rigDir,
    log: (_l, m) => logs.push(m),
  }) as CcuCanDriver;
  cleanup.push(() => d.close(500));
  return { d, transcript, logs };
}

async function socketcandRig(moduleAddress = 0) {
  const bus = new VirtualBus();
  const module = new InfyModule(bus, moduleAddress, 2000);
  cleanup.push(() => module.stop());
  const server = new SocketcandServer(bus, 'can0');
  await server.start();
  cleanup.push(() => server.stop());
  return { bus, module, server, resource: { type: 'CanInterface', transport: 'socketcand', host: '127.0.0.1', port: server.port, iface: 'can0', bitrate: 125000 } };
}

/** Frames the bench sent that are not poll requests (Read V/I, status, capabilities). */
const commands = (frames: BusFrame[]): BusFrame[] => frames.filter((f) => (f.id & 0xff) >= 0xf0 && ![0x03, 0x04, 0x0a].includes((f.id >>> 16) & 0x3f));
const wire = (frames: BusFrame[]): string[] => frames.map((f) => `${f.id.toString(16).toUpperCase().padStart(8, '0')}#${f.data.toString('hex').toUpperCase()}`);

describe('CcuCan with the InfyPower profile over socketcand', () => {
  it('puts the golden frames on the bus and reports status, limits, on/off and emergency stop', async () => {
    const { bus, module, resource } = await socketcandRig();
    const { d, transcript } = driver(resource);
    await d.open(signal());
    const s0 = await d.status(signal());
    expect(s0).toMatchObject({ state: 'off', voltageV: 0, currentA: 0, faults: [], ratedMaxVoltageV: 1000, ratedMaxCurrentA: 100, ratedPowerW: 30000 });
    expect(wire(bus.log.filter((f) => (f.id & 0xff) === 0xf0).slice(0, 3))).toEqual(['028A00F0#0000000000000000', '028300F0#0000000000000000', '028400F0#0000000000000000']);

    bus.log.length = 0;
    module.loadA = 32;
    await d.setLimits({ maxVoltageV: 400, maxCurrentA: 50 }, signal());
    await d.enable(signal());
    const sent = wire(commands(bus.log));
    expect(sent.slice(0, 2)).toEqual(['029C00F0#00061A800000C350', '029A00F0#0000000000000000']);
    expect(module.on).toBe(true);
    await new Promise((r) => setTimeout(r, 250));
    const s1 = await d.status(signal());
    expect(s1).toMatchObject({ state: 'on', voltageV: 400, currentA: 32, powerW: 12800, setpoint: { voltageV: 400, currentA: 50 } });
    expect(s1.ageMs).toBeLessThan(1000);

    // a power limit lowers the current: 400 V × 25 A = 10 kW
    await d.setLimits({ maxVoltageV: 400, maxCurrentA: 50, maxPowerW: 10000 }, signal());
    expect(module.setMa).toBe(25000);

    bus.log.length = 0;
    await d.emergencyStop();
    expect(wire(commands(bus.log)).slice(0, 2)).toEqual(['029A00F0#0100000000000000', '029C00F0#0000000000000000']);
    expect(module.on).toBe(false);
    expect(d.snapshot()).toMatchObject({ profile: 'infypower', up: true, reconnects: 0, enabled: false, emergencyStops: 1 });

    const log = parseCandump(transcript.cut().toString());
    expect(log.some((e) => frameText(e.frame) === '029C00F0#00061A800000C350' && e.dir === 'T')).toBe(true);
    expect(log.some((e) => frameText(e.frame).startsWith('0283F000#') && e.dir === 'R')).toBe(true);
    const stats = d.linkStats();
    expect(stats.link).toBe(`socketcand:127.0.0.1:${resource.port}/can0`);
    expect(stats.txFrames).toBeGreaterThan(5);
    expect(stats.rxFrames).toBeGreaterThan(5);
    const h = await d.health(signal());
    expect(h).toMatchObject({ ok: true, reconnects: 0 });
    expect(h.detail).toMatch(/^InfyPower module 0 \(controller 0xF0\): off, 0\.0 V 0\.0 A; socketcand/);
  });

  it('reports fault bits as faults and state "fault"', async () => {
    const { module, resource } = await socketcandRig();
    const { d } = driver(resource);
    await d.open(signal());
    module.faultBits = [0x08, 0x10, 0x00]; // input phase lost, over-temperature
    await new Promise((r) => setTimeout(r, 250));
    const s = await d.status(signal());
    expect(s.state).toBe('fault');
    expect(s.faults.sort()).toEqual(['InputPhaseLost', 'OverTemperature']);
  });

  it('turns an error code in the module’s reply id into a ProtocolViolation', async () => {
    const { module, resource } = await socketcandRig();
    const { d } = driver(resource);
    await d.open(signal());
    module.errorFor.set(0x1c, 3);
    const e = await d.setLimits({ maxVoltageV: 400, maxCurrentA: 10 }, signal()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProtocolViolation);
    expect((e as ProtocolViolation).rule).toBe('ccu.infypower.error');
    expect((e as Error).message).toBe('[ccu.infypower.error] InfyPower module 0 (controller 0xF0) answered Infy_SetVI_Ack with error code 3 in the reply id (data invalid): 0E9CF000#00061A8000002710');
  });

  it('reports a silent module as LinkError and health not ok; the emergency stop cannot be confirmed', async () => {
    const { module, resource } = await socketcandRig();
    const { d } = driver(resource, { staleAfterMs: 200 });
    await d.open(signal());
    module.mute = true;
    await new Promise((r) => setTimeout(r, 300));
    const e = await d.status(signal()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((e as Error).message).toMatch(/^ccu: InfyPower module 0 \(controller 0xF0\) sent no status within 300 ms of a poll \(last values \d+ ms ago\)$/);
    const h = await d.health(signal());
    expect(h.ok).toBe(false);
    expect(h.detail).toContain('sent no status');
    await expect(d.enable(signal())).rejects.toThrow('ccu: InfyPower module 0 (controller 0xF0) did not acknowledge Infy_OnOff (enable) within 300 ms');
    await expect(d.emergencyStop()).rejects.toThrow(LinkError);
  });

  it('fails an emergency stop it cannot send with LinkError, and recovers when socketcand comes back', async () => {
    const { module, server, resource } = await socketcandRig();
    const { d } = driver(resource, { can: { reconnect: { minMs: 50, maxMs: 200 } } });
    await d.open(signal());
    await d.setLimits({ maxVoltageV: 300, maxCurrentA: 10 }, signal());
    await d.enable(signal());
    const port = server.port;
    await server.stop();
    const t0 = Date.now();
    while ((d.snapshot().up as boolean) && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
    const e = await d.emergencyStop().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((e as Error).message).toMatch(/^ccu: emergency stop could not be sent: socketcand 127\.0\.0\.1:\d+ can0 down: /);
    expect((await d.health(signal())).ok).toBe(false);
    await server.start(port);
    const t1 = Date.now();
    while (!(d.snapshot().up as boolean) && Date.now() - t1 < 3000) await new Promise((r) => setTimeout(r, 10));
    await d.emergencyStop();
    expect(module.on).toBe(false);
    expect(await d.health(signal())).toMatchObject({ ok: true, reconnects: 1 });
  });

  it('addresses another module from another controller address', async () => {
    const { bus, module, resource } = await socketcandRig(3);
    const { d } = driver(resource, { infypower: { controllerAddress: 0xf1, moduleAddress: 3 } });
    await d.open(signal());
    await d.setLimits({ maxVoltageV: 200, maxCurrentA: 1 }, signal());
    expect(wire(bus.log).filter((w) => w.startsWith('029C'))).toEqual(['029C03F1#00030D40000003E8', '029CF103#00030D40000003E8']);
    expect(module.setMv).toBe(200000);
  });
});

describe('CcuCan over slcan on a pty', () => {
  let pty: PtyPair;
  beforeAll(async () => {
    pty = await ptyPair();
  });
  afterAll(async () => {
    await pty.close();
  });

  it('drives the module through a USB-CAN adapter and stops it; the module watchdog is fed by polling', async () => {
    const bus = new VirtualBus();
    const adapter = new SlcanAdapter(pty.b, bus);
    await adapter.start();
    cleanup.push(() => adapter.stop());
    const module = new InfyModule(bus, 0, 400);
    cleanup.push(() => module.stop());
    const { d } = driver({ type: 'CanInterface', transport: 'slcan', path: pty.a, bitrate: 125000 });
    await d.open(signal());
    expect(adapter.commands.slice(0, 3)).toEqual(['C', 'S4', 'O']);
    await d.setLimits({ maxVoltageV: 400, maxCurrentA: 50 }, signal());
    await d.enable(signal());
    expect(adapter.commands).toContain('T029C00F0800061A800000C350');
    // longer than the module's 400 ms watchdog: the 100 ms poll keeps it on
    await new Promise((r) => setTimeout(r, 700));
    expect(module.on).toBe(true);
    expect((await d.status(signal())).state).toBe('on');
    await d.emergencyStop();
    expect(module.on).toBe(false);
    expect(adapter.commands).toContain('T029A00F080100000000000000');
  });
});

describe('CcuCan with a DBC file of your own', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pnc-ccu-dbc-'));
  writeFileSync(
    path.join(dir, 'ccu.dbc'),
    `VERSION ""

BU_: BENCH CCU

BO_ 256 Ccu_Status: 8 CCU
 SG_ Voltage : 0|16@1+ (0.1,0) [0|0] "V" BENCH
 SG_ Current : 16|16@1+ (0.1,0) [0|0] "A" BENCH
 SG_ State : 32|4@1+ (1,0) [0|0] "" BENCH
 SG_ OverTemp : 36|1@1+ (1,0) [0|0] "" BENCH

BO_ 512 Ccu_Limits: 8 BENCH
 SG_ MaxVoltage : 0|16@1+ (0.1,0) [0|1000] "V" CCU
 SG_ MaxCurrent : 16|16@1+ (0.1,0) [0|500] "A" CCU

BO_ 513 Ccu_Control: 1 BENCH
 SG_ Enable : 0|1@1+ (1,0) [0|1] "" CCU
 SG_ EStop : 1|1@1+ (1,0) [0|1] "" CCU

VAL_ 256 State 0 "Off" 1 "On" 2 "Fault" ;
`,
  );
  const mapping = {
    file: 'ccu.dbc',
    status: { voltageV: { message: 'Ccu_Status', signal: 'Voltage' }, currentA: { message: 'Ccu_Status', signal: 'Current' }, state: { message: 'Ccu_Status', signal: 'State' }, faults: [{ message: 'Ccu_Status', signal: 'OverTemp', name: 'over-temperature' }] },
    setLimits: { message: 'Ccu_Limits', voltageSignal: 'MaxVoltage', currentSignal: 'MaxCurrent' },
    enable: { message: 'Ccu_Control', values: { Enable: 1 } },
    disable: { message: 'Ccu_Control', values: { Enable: 0 } },
    emergencyStop: { message: 'Ccu_Control', values: { Enable: 0, EStop: 1 } },
    offState: 'Off',
  };

  it('decodes a broadcasting controller and encodes limits and control frames', async () => {
    const bus = new VirtualBus();
    const server = new SocketcandServer(bus, 'can0');
    await server.start();
    cleanup.push(() => server.stop());
    const heard: BusFrame[] = [];
    bus.attach({ deliver: (f) => heard.push(f) });
    const broadcast = setInterval(() => bus.transmit(undefined, { id: 0x100, ext: false, rtr: false, dlc: 8, data: Buffer.from('A00FD00711000000', 'hex') }), 50);
    cleanup.push(() => clearInterval(broadcast));
    const { d } = driver({ type: 'CanInterface', transport: 'socketcand', host: '127.0.0.1', port: server.port, iface: 'can0' }, { profile: 'dbc', dbc: mapping }, dir);
    await d.open(signal());
    await new Promise((r) => setTimeout(r, 120));
    expect(await d.status(signal())).toMatchObject({ voltageV: 400, currentA: 200, state: 'On', faults: ['over-temperature'] });
    await d.setLimits({ maxVoltageV: 400, maxCurrentA: 125 }, signal());
    await d.enable(signal());
    await expect(d.setLimits({ maxVoltageV: 2000, maxCurrentA: 1 }, signal())).rejects.toThrow('setLimits: ');
    await d.emergencyStop().catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    expect(heard.filter((f) => f.id !== 0x100).map((f) => `${f.id.toString(16)}#${f.data.toString('hex')}`)).toEqual(['200#a00fe20400000000', '201#01', '201#02']);
  });

  it('lists every mapping mistake at once, naming the driver and key', () => {
    const bad = { ...mapping, status: { ...mapping.status, currentA: { message: 'Ccu_Status', signal: 'Amps' } }, enable: { message: 'Ccu_Ctrl', values: {} } };
    let err: Error | undefined;
    try {
      driver({ type: 'CanInterface', transport: 'socketcan', iface: 'can0' }, { profile: 'dbc', dbc: bad }, dir);
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message.split('\n')).toEqual([
      'driver ccu (CcuCan) options.dbc: status.currentA: message Ccu_Status has no signal "Amps"; signals: Voltage, Current, State, OverTemp',
      'driver ccu (CcuCan) options.dbc: enable: no message "Ccu_Ctrl"; messages: Ccu_Status, Ccu_Limits, Ccu_Control',
    ]);
  });

  it('names a missing DBC file and a missing dbc: block', () => {
    expect(() => driver({ type: 'CanInterface', transport: 'socketcan', iface: 'can0' }, { profile: 'dbc', dbc: { ...mapping, file: 'nope.dbc' } }, dir)).toThrow(
      `driver ccu (CcuCan): cannot read DBC file ${path.join(dir, 'nope.dbc')}: ENOENT`,
    );
    const r = CcuCan.options.safeParse({ profile: 'dbc' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ path: ['dbc'], message: 'profile dbc needs a "dbc:" block (file, status, setLimits, enable, disable)' });
    expect(() => driver({ type: 'CanInterface', transport: 'slcan', path: '/dev/null', bitrate: 83333 })).toThrow('driver ccu (CcuCan): slcan: bit rate 83333 has no S-code');
  });
});
