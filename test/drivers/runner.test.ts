// Every built-in driver through the real `pnc-bench run` (child process, rig file with HIL_*
// templating) against the test peers: the run passes, and each phase carries the transcript
// segment of the traffic it caused, in each link's native format; snapshots and throughput land
// in the record.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCandump } from '../../drivers/can/candump.ts';
import { frameText } from '../../drivers/can/frame.ts';
import { parseHexLog } from '../../drivers/common/hexlog.ts';
import { RunRecord } from '../../src/report/record.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/fake-rig.ts';
import { CarSimPeer } from './peers/carsim.ts';
import { InfyModule } from '../../rigs/virtual/infy-module.ts';
import { meterImage } from '../../rigs/virtual/meter.ts';
import { ModbusSlave } from '../../rigs/virtual/modbus-slave.ts';
import { AedesBroker } from '../../rigs/virtual/broker.ts';
import { ptyPair, type PtyPair } from '../../rigs/virtual/pty.ts';
import { SerialConsole as SeccConsolePeer } from '../../rigs/virtual/console.ts';
import { SocketcandServer } from '../../rigs/virtual/socketcand-server.ts';
import { VirtualBus } from '../../rigs/virtual/can-bus.ts';

const RIG = 'test/fixtures/rigs/drivers-bench.yaml';
const SUITE = 'test/drivers/fixtures/drivers.suite.ts';

describe('built-in drivers in a real run', () => {
  const slave = new ModbusSlave(meterImage('em340', { voltageV: [230, 230, 230], currentA: [10, 10, 10], powerW: 6900, energyWh: 1_234_500, frequencyHz: 50, serial: 'KA0042' }), 7);
  const bus = new VirtualBus();
  const module = new InfyModule(bus, 0);
  const can = new SocketcandServer(bus, 'can0');
  const broker = new AedesBroker();
  let carsim: CarSimPeer;
  let pty: PtyPair;
  let secc: SeccConsolePeer;

  beforeAll(async () => {
    bus.keepLog = false;
    await slave.serveTcp();
    await can.start();
    await broker.start();
    carsim = new CarSimPeer(broker.url);
    await carsim.start();
    pty = await ptyPair();
    secc = new SeccConsolePeer(pty.b);
    await secc.start();
  });
  afterAll(async () => {
    await secc.stop();
    await pty.close();
    await carsim.stop();
    await broker.stop();
    await can.stop();
    module.stop();
    await slave.stop();
  });

  it('passes and attaches each driver’s transcript to the phase that caused the traffic', async () => {
    const reports = tempDir();
    const env = { HIL_METER_PORT: String(slave.tcpPort), HIL_CAN_PORT: String(can.port), HIL_MQTT_URL: broker.url, HIL_SECC_TTY: pty.a };
    const r = await runCli(['run', '--no-health', '--rig', RIG, '--reports', reports, '--json', SUITE], { env });
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    const dir = path.join(reports, readdirSync(reports)[0] as string);
    const record = RunRecord.parse(JSON.parse(readFileSync(path.join(dir, 'record.json'), 'utf8')));
    const phases = record.suites[0]?.phases ?? [];
    expect(phases.map((p) => [p.name, p.outcome])).toEqual([
      ['meter_read', 'PASS'],
      ['ccu_power', 'PASS'],
      ['ev_session', 'PASS'],
      ['secc_status', 'PASS'],
      ['power_off', 'PASS'],
    ]);
    const attachment = (phase: string, name: string): string => {
      const a = phases.find((p) => p.name === phase)?.attachments.find((x) => x.name === name);
      if (!a) throw new Error(`phase ${phase} has no attachment ${name}: ${JSON.stringify(phases.find((p) => p.name === phase)?.attachments.map((x) => x.name))}`);
      return readFileSync(path.join(dir, a.path), 'utf8');
    };

    // Modbus: JSON lines of this phase's transactions only
    const meter = attachment('meter_read', 'meter.jsonl').trim().split('\n').map((l) => JSON.parse(l) as { op?: string; address?: number; unit?: number });
    expect(meter.filter((l) => l.op === 'read').map((l) => l.address)).toContain(0x5000);
    expect(meter.every((l) => l.op !== 'read' || l.unit === 7)).toBe(true);
    expect(phases[0]?.series[0]?.points?.length ?? 0).toBeGreaterThanOrEqual(3);

    // CAN: candump with the golden set-V/I frame sent during ccu_power
    const candump = parseCandump(attachment('ccu_power', 'ccu.candump'), 'ccu.candump');
    expect(candump.some((e) => frameText(e.frame) === '029C00F0#00061A800000C350' && e.dir === 'T')).toBe(true);
    expect(candump.some((e) => frameText(e.frame) === '029A00F0#0000000000000000' && e.dir === 'T')).toBe(true);
    const off = parseCandump(attachment('power_off', 'ccu.candump'));
    expect(off.some((e) => frameText(e.frame) === '029A00F0#0100000000000000')).toBe(true);
    expect(record.throughput).toHaveLength(1);
    expect(record.throughput[0]).toMatchObject({ phase: 'ccu_power', errors: 0, dropped: 0 });
    expect(record.throughput[0]?.link).toMatch(/^socketcand:127\.0\.0\.1:\d+\/can0$/);

    // MQTT: the session command and the state that came back
    const ev = attachment('ev_session', 'ev.jsonl').trim().split('\n').map((l) => JSON.parse(l) as { dir?: string; topic?: string; payload?: string });
    expect(ev.some((l) => l.dir === 'tx' && l.topic === 'everest_external/nodered/1/carsim/cmd/modify_charging_session' && l.payload?.includes('dc,contract'))).toBe(true);
    expect(ev.some((l) => l.dir === 'rx' && l.topic === 'everest/modules/iso15118_car/impl/ev/var/DC_PowerOn')).toBe(true);

    // serial: hex log with the command sent and the answer
    const hex = parseHexLog(attachment('secc_status', 'secc.hexlog'));
    expect(Buffer.concat(hex.filter((e) => e.dir === 'TX').map((e) => Buffer.from(e.bytes))).toString()).toBe('status\n');
    expect(Buffer.concat(hex.filter((e) => e.dir === 'RX').map((e) => Buffer.from(e.bytes))).toString()).toContain('cp: B2\r\n');

    // snapshots at close carry the reconnect counters
    for (const name of ['meter', 'ccu', 'ev', 'secc']) expect(record.rig.drivers[name]?.snapshotAtClose).toMatchObject({ reconnects: 0 });
    expect(record.rigHealth.map((h) => [h.resource, h.ok])).toEqual([
      ['meter', true],
      ['ccu', true],
      ['ev', true],
      ['secc', true],
    ]);
    // traffic outside phases (opening links, preflight) is kept at run level
    expect(record.attachments.some((a) => a.name.includes('ccu') && a.name.endsWith('.candump'))).toBe(true);
  });
});
