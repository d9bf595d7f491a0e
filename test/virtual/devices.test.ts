// The virtual rig's bench hardware (rigs/virtual: ccu.ts, meter.ts, console.ts, broker.ts) driven by
// the REAL bench drivers over the real links: CcuCan through the simulated slcan adapter (socat pty)
// and socketcand daemon (TCP) on one CAN bus, ModbusMeter over Modbus TCP and RTU (socat pty),
// SeccConsole on the console pty, an MQTT client on the broker. The devices are coupled to a
// PowerBus on which the test plays the EV and the charger (setEvDemand / setContactors /
// setModule): the drivers must read what the bus carries, energy must rise with the bus energy,
// and every stop() must release its port or pty within 2 s even while a client hangs on. Also the
// simulator module's start-up (rigs/virtual/index.ts) giving up when the run's signal aborts, and its
// options checked by `rig check` (loadRig).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'mqtt';
import { SerialPort } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCandump } from '../../drivers/can/candump.ts';
import { frameText } from '../../drivers/can/frame.ts';
import { CcuCan, CcuCanDriver } from '../../drivers/ccu/driver.ts';
import { ModbusMeter, ModbusMeterDriver } from '../../drivers/meter/driver.ts';
import { SeccConsole, SeccConsoleDriver } from '../../drivers/secc/console.ts';
import { startBroker } from '../../rigs/virtual/broker.ts';
import { startCcu } from '../../rigs/virtual/ccu.ts';
import { startConsole } from '../../rigs/virtual/console.ts';
import { startMeter } from '../../rigs/virtual/meter.ts';
import virtualRig, { VirtualRigOptions } from '../../rigs/virtual/index.ts';
import { PowerBus } from '../../rigs/virtual/physics.ts';
import { loadRig, RigConfigError } from '../../src/rig/load.ts';
import { ResourceSchema } from '../../src/rig/resources.ts';
import { Transcript } from '../../src/rig/transcript.ts';

const HOST = '127.0.0.1';
const signal = (): AbortSignal => AbortSignal.timeout(5000);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function ccuDriver(resource: Record<string, unknown>, options: Record<string, unknown> = {}) {
  const transcript = new Transcript(CcuCan.transcript);
  const d = CcuCan.create({
    name: 'ccu',
    options: CcuCan.options.parse({ pollMs: 100, ackTimeoutMs: 500, staleAfterMs: 300, ...options }),
    resources: { bus: ResourceSchema.parse(resource) },
    transcript,
    rigDir: process.cwd(),
    log: () => {},
  }) as CcuCanDriver;
  cleanup.push(() => d.close(500));
  return { d, transcript };
}

function meterDriver(resource: Record<string, unknown>) {
  const d = ModbusMeter.create({
    name: 'meter',
    options: ModbusMeter.options.parse({ registerMap: 'sdm630', timeoutMs: 500, retries: 1 }),
    resources: { link: ResourceSchema.parse(resource) },
    transcript: new Transcript(ModbusMeter.transcript),
    rigDir: process.cwd(),
    log: () => {},
  }) as ModbusMeterDriver;
  cleanup.push(() => d.close(500));
  return d;
}

/** Resolves true when nothing accepts a TCP connection on the port any more. */
const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect(port, HOST);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });

/** A client that connects and then never says or closes anything. */
async function hangingClient(port: number): Promise<net.Socket> {
  const s = net.connect(port, HOST);
  s.on('error', () => {});
  await new Promise<void>((r) => s.once('connect', () => r()));
  cleanup.push(() => void s.destroy());
  return s;
}

/** Opens the bench end of a pty and keeps it open (a bench that hangs on to the port). */
async function holdPty(path: string): Promise<void> {
  const p = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  p.on('error', () => {});
  await new Promise<void>((resolve, reject) => p.open((e) => (e ? reject(e) : resolve())));
  cleanup.push(() => (p.isOpen ? new Promise<void>((r) => p.close(() => r())) : undefined));
}

/** The EV asks for `currentA` at 400 V behind closed contactors (what the charger's SECC sets). */
function evDraws(bus: PowerBus, currentA: number): void {
  bus.setEvDemand({ voltageV: 400, currentA });
  bus.setContactors(true);
}

describe('virtual CCU: InfyPower module on one CAN bus, via slcan and socketcand', () => {
  async function rig(opts: { watchdogMs?: number } = {}) {
    const bus = new PowerBus();
    const lines: string[] = [];
    const ccu = await startCcu({ bus, slcan: true, socketcand: { host: HOST, port: 0, iface: 'vcan0' }, log: (l) => lines.push(l), ...opts });
    cleanup.push(() => ccu.stop());
    expect(ccu.slcanPath && existsSync(ccu.slcanPath)).toBe(true);
    expect(ccu.socketcandPort).toBeGreaterThan(0);
    const sock = ccuDriver({ type: 'CanInterface', transport: 'socketcand', host: HOST, port: ccu.socketcandPort, iface: 'vcan0', bitrate: 125000 });
    // the second bench connection uses another controller address, as two controllers on one bus would
    const slcan = ccuDriver({ type: 'CanInterface', transport: 'slcan', path: ccu.slcanPath, bitrate: 125000 }, { infypower: { controllerAddress: 0xf1, moduleAddress: 0 } });
    return { bus, ccu, lines, sock, slcan };
  }

  it('reports what the PowerBus carries through both transports; setLimits/enable/disable switch the bus module', async () => {
    const { bus, ccu, lines, sock, slcan } = await rig();
    await sock.d.open(signal());
    await slcan.d.open(signal());
    expect(await sock.d.status(signal())).toMatchObject({ state: 'off', voltageV: 0, currentA: 0, ratedMaxVoltageV: 1000, ratedMaxCurrentA: 250 });

    evDraws(bus, 80);
    await sock.d.setLimits({ maxVoltageV: 400, maxCurrentA: 100 }, signal());
    expect(bus.moduleState).toEqual({ on: false, setVoltageV: 400, setCurrentA: 100 });
    expect(bus.sample().currentA).toBe(0); // module still off
    await sock.d.enable(signal());
    expect(bus.moduleState.on).toBe(true);
    expect(bus.sample()).toMatchObject({ voltageV: 400, currentA: 80, powerW: 32000 });

    await sleep(350); // past staleAfterMs: both drivers re-poll
    for (const d of [sock.d, slcan.d]) {
      expect(await d.status(signal())).toMatchObject({ state: 'on', voltageV: 400, currentA: 80, powerW: 32000 });
    }

    // the module's current limit caps the EV's draw; the bench over slcan sees the new value
    await slcan.d.setLimits({ maxVoltageV: 400, maxCurrentA: 50 }, signal());
    expect(bus.moduleState.setCurrentA).toBe(50);
    expect(bus.sample().currentA).toBe(50);
    await sleep(350);
    expect(await sock.d.status(signal())).toMatchObject({ state: 'on', currentA: 50, powerW: 20000 });

    // the draw is on the wire: Read V/I replies in the candump of the other transport, and the
    // Set V/I sent through socketcand was seen through the slcan adapter (same bus)
    const log = parseCandump(slcan.transcript.cut().toString());
    const replies = log.filter((e) => e.dir === 'R' && frameText(e.frame).startsWith('0283F100#')).map((e) => Buffer.from(e.frame.data));
    expect(replies.some((b) => b.readFloatBE(0) === 400 && b.readFloatBE(4) === 80)).toBe(true);
    expect(replies.some((b) => b.readFloatBE(4) === 50)).toBe(true);
    expect(log.some((e) => e.dir === 'R' && frameText(e.frame) === '029C00F0#00061A80000186A0')).toBe(true);

    await sock.d.disable(signal());
    expect(bus.moduleState.on).toBe(false);
    expect(bus.sample().currentA).toBe(0);
    await sleep(350);
    expect(await slcan.d.status(signal())).toMatchObject({ state: 'off', voltageV: 0, currentA: 0 });
    expect(lines).toEqual(expect.arrayContaining(['InfyPower module 0: Set V/I 400.0 V 100.0 A (controller 0xF0)', 'InfyPower module 0: output on (controller 0xF0)', 'InfyPower module 0: output off (controller 0xF0)']));
    expect(ccu.snapshot()).toMatchObject({ moduleAddress: 0, on: false, setVoltageV: 400, setCurrentA: 50, slcan: { open: true, bitrate: 125000 }, socketcand: { iface: 'vcan0', connections: 1 } });
  });

  it('shows the charger switching the module on the bus without CAN, and its watchdog only guards CAN commands', async () => {
    const { bus, ccu, lines, sock } = await rig({ watchdogMs: 600 });
    await sock.d.open(signal());
    evDraws(bus, 30);
    bus.setModule({ on: true, setVoltageV: 400, setCurrentA: 0 }); // the charger, not the bench
    await sleep(350);
    expect(await sock.d.status(signal())).toMatchObject({ state: 'on', voltageV: 400, currentA: 30 });
    await sock.d.close(500);
    await sleep(1000); // no frames, but the charger switched it on: stays on
    expect(bus.moduleState.on).toBe(true);

    bus.setModule({ on: false });
    const again = ccuDriver({ type: 'CanInterface', transport: 'socketcand', host: HOST, port: ccu.socketcandPort, iface: 'vcan0', bitrate: 125000 });
    await again.d.open(signal());
    await again.d.enable(signal());
    expect(bus.moduleState.on).toBe(true);
    await sleep(900); // polling every 100 ms feeds the watchdog
    expect(bus.moduleState.on).toBe(true);
    await again.d.close(500);
    expect(bus.moduleState.on).toBe(true); // closing the driver sends nothing
    await sleep(1100); // switched on over CAN and then silent: the watchdog turns it off
    expect(bus.moduleState.on).toBe(false);
    expect(lines.at(-1)).toMatch(/^InfyPower module 0: watchdog, no frames for \d+ ms, output off$/);
  });

  it('refuses a CCU nobody can reach and a bad interface name', async () => {
    await expect(startCcu({ bus: new PowerBus() })).rejects.toThrow('startCcu: give slcan: true and/or socketcand: { host, port, iface }, otherwise the bench cannot reach the CAN bus');
    await expect(startCcu({ bus: new PowerBus(), socketcand: { host: HOST, port: 0, iface: 'can 0' } })).rejects.toThrow('startCcu: socketcand.iface must be an interface name like can0');
  });

  it('stops within 2 s while clients hang on, releasing the port and the pty', async () => {
    const bus = new PowerBus();
    const ccu = await startCcu({ bus, slcan: true, socketcand: { host: HOST, port: 0, iface: 'can0' } });
    const port = ccu.socketcandPort as number;
    const path = ccu.slcanPath as string;
    await hangingClient(port);
    await holdPty(path);
    const t0 = Date.now();
    await ccu.stop();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await refused(port)).toBe(true);
    expect(existsSync(path)).toBe(false);
    await ccu.stop(); // idempotent
  });
});

describe('virtual meter: SDM630 over Modbus TCP and RTU, live from the PowerBus', () => {
  it('reads the bus voltage, current, power and rising energy through both links', async () => {
    const bus = new PowerBus();
    const meter = await startMeter({ bus, tcp: { host: HOST, port: 0 }, rtu: true, unitId: 3, map: 'SDM630', serialNumber: 12345678 });
    cleanup.push(() => meter.stop());
    const tcp = meterDriver({ type: 'ModbusTcp', host: HOST, port: meter.tcpPort, unitId: 3 });
    const rtu = meterDriver({ type: 'ModbusRtu', path: meter.rtuPath, baud: 9600, unitId: 3 });
    await tcp.open(signal());
    await rtu.open(signal());
    expect(await tcp.serialNumber(signal())).toBe('12345678');
    expect(await rtu.serialNumber(signal())).toBe('12345678');

    const idle = await tcp.read(signal());
    expect(idle).toMatchObject({ voltageV: [0, 0, 0], currentA: [0, 0, 0], powerW: 0, importedEnergyWh: 0, frequencyHz: 0 });

    evDraws(bus, 80);
    bus.setModule({ on: true, setVoltageV: 400, setCurrentA: 100 });
    for (const d of [tcp, rtu]) {
      const r = await d.read(signal());
      expect(r.voltageV).toEqual([400, 0, 0]);
      expect(r.currentA).toEqual([80, 0, 0]);
      expect(r.powerW).toBe(32000);
    }

    // energy: each reading lies between the bus energy just before and just after it, within
    // float32 kWh precision, and rises between two readings
    const tol = (wh: number): number => (wh / 1000) * 2 ** -23 * 1000 * 2 + 1e-9;
    const within = async (d: ModbusMeterDriver): Promise<number> => {
      const before = bus.sample().energyWh;
      const e = await d.readEnergyWh(signal());
      const after = bus.sample().energyWh;
      expect(e).toBeGreaterThanOrEqual(before - tol(before));
      expect(e).toBeLessThanOrEqual(after + tol(after));
      return e;
    };
    const e1 = await within(tcp);
    await sleep(300);
    const e2 = await within(rtu);
    await sleep(300);
    const e3 = await within(tcp);
    expect(e2).toBeGreaterThan(e1);
    expect(e3).toBeGreaterThan(e2);
    // 32 kW for ≥ 300 ms is ≥ 2.67 Wh
    expect(e3 - e1).toBeGreaterThan(5.3);

    // the charger opens the contactors: power stops, energy stays
    bus.setContactors(false);
    const stopped = await rtu.read(signal());
    expect(stopped.powerW).toBe(0);
    expect(stopped.importedEnergyWh).toBeGreaterThanOrEqual(e3);
    expect(Math.abs(stopped.importedEnergyWh - bus.sample().energyWh)).toBeLessThanOrEqual(tol(bus.sample().energyWh));
    expect(meter.snapshot()).toMatchObject({ map: 'SDM630', unitId: 3, serialNumber: 12345678, tcp: { connections: 1 }, rtu: { path: meter.rtuPath }, powerW: 0 });
    expect(meter.snapshot().requestsAnswered).toBeGreaterThan(10);
  });

  it('stays silent for another unit id and refuses bad options', async () => {
    const bus = new PowerBus();
    const meter = await startMeter({ bus, tcp: { host: HOST, port: 0 } });
    cleanup.push(() => meter.stop());
    const d = meterDriver({ type: 'ModbusTcp', host: HOST, port: meter.tcpPort, unitId: 9 });
    await d.open(signal());
    await expect(d.readEnergyWh(signal())).rejects.toThrow(/unit 9\) gave no valid answer to FC04 0x0048×2 after 2 attempt\(s\): timed out after 500 ms$/);
    await expect(startMeter({ bus })).rejects.toThrow('startMeter: give tcp: { host, port } and/or rtu: true');
    await expect(startMeter({ bus, rtu: true, map: 'ABB' as 'SDM630' })).rejects.toThrow('startMeter: map must be "SDM630" (the only simulated register map), got "ABB"');
    await expect(startMeter({ bus, rtu: true, unitId: 0 })).rejects.toThrow('Modbus unit id must be an integer 1…247, got 0');
  });

  it('stops within 2 s while clients hang on, releasing the port and the pty', async () => {
    const meter = await startMeter({ bus: new PowerBus(), tcp: { host: HOST, port: 0 }, rtu: true });
    const port = meter.tcpPort as number;
    const path = meter.rtuPath as string;
    const s = await hangingClient(port);
    s.write(Buffer.from([0, 1, 0, 0, 0, 6, 1])); // half a request
    await holdPty(path);
    const t0 = Date.now();
    await meter.stop();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await refused(port)).toBe(true);
    expect(existsSync(path)).toBe(false);
  });
});

describe('virtual serial console', () => {
  async function rig() {
    const con = await startConsole({ status: () => ['ocpp: connected', 'cp: B2'] });
    cleanup.push(() => con.stop());
    const d = SeccConsole.create({
      name: 'secc',
      options: SeccConsole.options.parse({ lineEnding: 'crlf', events: { boot: '^\\[\\s*[\\d.]+\\] ocpp: BootNotification (\\w+)$' } }),
      resources: { console: ResourceSchema.parse({ type: 'SerialPort', path: con.path, baud: 115200 }) },
      transcript: new Transcript(SeccConsole.transcript),
      rigDir: process.cwd(),
      log: () => {},
    }) as SeccConsoleDriver;
    cleanup.push(() => d.close(500));
    await d.open(signal());
    return { con, d };
  }

  it('shows the firmware log lines to the SeccConsole driver and answers its commands', async () => {
    const { con, d } = await rig();
    const since = Date.now();
    con.writeLine('[   1.250] ocpp: BootNotification Accepted');
    expect((await d.waitForEvent('boot', { timeoutMs: 2000, signal: signal(), since })).groups).toEqual(['Accepted']);

    await d.send('version', signal());
    expect((await d.expect(/^pnc-bench virtual charger fw /, { timeoutMs: 2000, signal: signal() })).line).toBe('pnc-bench virtual charger fw 1.0.0 (build 1)');
    await d.send('status', signal());
    expect((await d.expect(/^cp: (\w+)$/, { timeoutMs: 2000, signal: signal() })).groups).toEqual(['B2']);
    await d.send('help', signal());
    await d.expect('status   charger state', { timeoutMs: 2000, signal: signal() });
    await d.send('frobnicate', signal());
    await d.expect('unknown command: frobnicate', { timeoutMs: 2000, signal: signal() });

    // a log line while the prompt shows starts a line of its own, so anchored patterns still match
    const t1 = Date.now();
    con.writeLine('[   9.000] ocpp: BootNotification Pending');
    expect((await d.waitForEvent('boot', { timeoutMs: 2000, signal: signal(), since: t1 })).line).toBe('[   9.000] ocpp: BootNotification Pending');
    await d.send('reboot', signal());
    await d.expect('unknown command: reboot', { timeoutMs: 2000, signal: signal() });
    expect(con.snapshot()).toMatchObject({ path: con.path, baud: 115200, commands: 5 });
  });

  it('stops within 2 s while the bench still holds the pty, and the pty disappears', async () => {
    const con = await startConsole();
    await holdPty(con.path);
    con.writeLine('x'.repeat(1000));
    const t0 = Date.now();
    await con.stop();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(existsSync(con.path)).toBe(false);
    con.writeLine('after stop'); // no throw, goes nowhere
  });
});

describe('virtual MQTT broker', () => {
  it('relays messages between clients and stops within 2 s while a client hangs', async () => {
    const broker = await startBroker({ host: HOST, port: 0 });
    expect(broker.url).toBe(`mqtt://${HOST}:${broker.port}`);
    const a = connect(broker.url, { reconnectPeriod: 0 });
    const b = connect(broker.url, { reconnectPeriod: 0 });
    cleanup.push(async () => {
      await a.endAsync(true);
      await b.endAsync(true);
    });
    await Promise.all([a, b].map((c) => new Promise<void>((r, j) => (c.once('connect', () => r()), c.once('error', j)))));
    await b.subscribeAsync('everest_external/nodered/1/carsim/cmd/#', { qos: 1 });
    const got = new Promise<string>((r) => b.once('message', (topic, payload) => r(`${topic} ${payload.toString()}`)));
    await a.publishAsync('everest_external/nodered/1/carsim/cmd/enable', 'true', { qos: 1 });
    expect(await got).toBe('everest_external/nodered/1/carsim/cmd/enable true');
    expect(broker.snapshot()).toMatchObject({ connections: 2 });

    await hangingClient(broker.port);
    const t0 = Date.now();
    await broker.stop();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await refused(broker.port)).toBe(true);
  });

  it('reports a port already in use', async () => {
    const first = await startBroker({ host: HOST, port: 0 });
    cleanup.push(() => first.stop());
    await expect(startBroker({ host: HOST, port: first.port })).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('virtual rig simulator module', () => {
  it('rig check reports a bad chargerConfig key or value at its key, with the charger\'s own rules', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'pnc-virtual-rig-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const text = readFileSync(join(root, 'rigs/virtual.yaml'), 'utf8').replace('module: ./virtual/index.ts', `module: ${join(root, 'rigs/virtual/index.ts')}`);
    const issues = async (chargerConfig: string): Promise<string[]> => {
      const file = join(dir, 'virtual.yaml');
      const variant = text.replace('    chargePointId: VIRTUAL-CP1\n', `    chargePointId: VIRTUAL-CP1\n    chargerConfig: ${chargerConfig}\n`);
      expect(variant).not.toBe(text);
      writeFileSync(file, variant);
      try {
        await loadRig(file, { env: {} });
        return [];
      } catch (e) {
        if (e instanceof RigConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
        throw e;
      }
    };
    expect(await issues('{ HeartbeatInterval: "60", NumberOfConnectors: "1" }')).toEqual([]);
    expect(await issues('{ NoSuchKey: "1" }')).toEqual([expect.stringMatching(/^simulator\.options\.chargerConfig\.NoSuchKey: unknown configuration key; known keys: .*HeartbeatInterval/)]);
    expect(await issues('{ HeartbeatInterval: "soon" }')).toEqual(['simulator.options.chargerConfig.HeartbeatInterval: "soon" is not an integer']);
  });

  /** listening sockets and child processes (socat) of this process */
  const held = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'ProcessWrap').length;
  const start = (signal: AbortSignal, onLog: (msg: string) => void = () => {}) =>
    virtualRig.start({ options: VirtualRigOptions.parse({}), rigDir: process.cwd(), signal, log: (_level, msg) => onLog(msg) });
  const pkiDirOf = (logged: string[]): string => /in (\S+)$/.exec(logged.find((l) => l.startsWith('bench PKI')) ?? '')?.[1] ?? '';

  it('an aborted signal (timeouts.openMs, SIGINT) ends start-up: it rejects with the reason and leaves nothing behind', async () => {
    const before = held();
    const logged: string[] = [];
    await expect(start(AbortSignal.abort(new Error('open timeout')), (m) => logged.push(m))).rejects.toThrow('open timeout');
    expect(logged).toEqual([]); // given up before the start: not even the bench PKI is made
    // aborted while the devices start (just after the PKI): those already listening are stopped again
    const ctl = new AbortController();
    const later: string[] = [];
    await expect(start(ctl.signal, (m) => (later.push(m), setImmediate(() => ctl.abort(new Error('SIGINT')))))).rejects.toThrow('SIGINT');
    expect(later.some((l) => l.startsWith('up:'))).toBe(false);
    expect(existsSync(pkiDirOf(later))).toBe(false);
    const t0 = Date.now();
    while (held() > before && Date.now() - t0 < 2_000) await sleep(20); // closed handles leave the list a tick later
    expect(held()).toBe(before);
  }, 20_000);
});
