// The throughput suites (bench/throughput/): the pure helpers (percentiles, Modbus ADU sizes), then
// the suites on the virtual rig through the real `pnc-bench run`: every link reports figures, the
// figures agree with what else the record shows (OCPP frames = 2 × calls, Modbus frames = 2 × 3
// transactions per SDM630 reading, CSMS exchanges in hil_timing), and the suites stay within 10 s.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunRecord, type MeasurementRecord } from '../../src/report/record.ts';
import { modbusWire } from '../../bench/throughput/modbus-wire.ts';
import { percentile } from '../../bench/throughput/stats.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/fake-rig.ts';

describe('throughput helpers', () => {
  it('percentile is nearest-rank', () => {
    const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(s, 50)).toBe(5);
    expect(percentile(s, 95)).toBe(10);
    expect(percentile(s, 10)).toBe(1);
    expect(percentile(s, 0)).toBe(1);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile(s, 101)).toThrow(/0\.\.100/);
  });

  it('Modbus ADU sizes of one SDM630 reading over TCP and RTU', () => {
    // blocks: FC04 0x0000×12 (V, I), 0x0034×2 (P), 0x0046×4 (f, energy)
    expect(modbusWire({ registerMap: 'sdm630', link: 'tcp 127.0.0.1:502 unit 1' })).toEqual({ transport: 'tcp', transactionsPerReading: 3, bytesPerReading: 3 * 12 + 3 * 9 + 2 * 18 });
    expect(modbusWire({ registerMap: 'sdm630', link: 'rtu /dev/ttyUSB0 9600 8N1 unit 1' })).toEqual({ transport: 'rtu', transactionsPerReading: 3, bytesPerReading: 3 * 8 + 3 * 5 + 2 * 18 });
    expect(modbusWire({ registerMap: 'no-such-map', link: 'tcp x' })).toBeUndefined();
    expect(modbusWire({ opened: true })).toBeUndefined();
  });
});

const value = (rec: RunRecord, suite: string, phase: string, name: string): number => {
  const m = rec.suites
    .find((s) => s.name === suite)
    ?.phases.find((p) => p.name === phase)
    ?.measurements.find((x: MeasurementRecord) => x.name === name);
  if (typeof m?.value !== 'number') throw new Error(`no numeric measurement ${suite}/${phase}/${name}`);
  return m.value;
};

describe('throughput suites on the virtual rig', () => {
  it('report measured figures for every link and pass their limits', async () => {
    const reports = tempDir();
    const r = await runCli(['run', 'bench/throughput', '--reports', reports, '--json']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const dir = path.join(reports, readdirSync(reports)[0] as string);
    const rec = RunRecord.parse(JSON.parse(readFileSync(path.join(dir, 'record.json'), 'utf8')));
    expect(rec.outcome).toBe('PASS');
    expect(rec.suites.map((s) => s.name).sort()).toEqual(['throughput-can', 'throughput-modbus', 'throughput-ocpp', 'throughput-pnc-sessions']);
    const suitesMs = rec.suites.reduce((n, s) => n + (s.tEnd - s.tStart), 0);
    expect(suitesMs, 'the throughput suites take at most 10 s on the virtual rig').toBeLessThan(10_000);

    const links = new Map(rec.throughput.map((t) => [`${t.suite}/${t.phase}/${t.link}`, t]));
    const at = (key: string) => {
      const t = links.get(key);
      if (!t) throw new Error(`no hil_throughput ${key}; have ${[...links.keys()].join(', ')}`);
      return t;
    };

    // OCPP: every call is a CALL out and a CALLRESULT in; the charger may add a few frames of its own
    const calls = value(rec, 'throughput-ocpp', 'get_configuration_round_trips', 'calls');
    expect(calls).toBe(500); // models.virtual-charger
    const ocpp = at('throughput-ocpp/get_configuration_round_trips/ocpp:VIRTUAL-CP1');
    const seconds = Number(ocpp.window.replace(/s$/, ''));
    const frames = ocpp.framesPerS * seconds;
    expect(frames).toBeGreaterThanOrEqual(2 * calls - 1);
    expect(frames).toBeLessThan(2 * calls + 20);
    expect(ocpp.bytesPerS).toBeGreaterThan(ocpp.framesPerS * 20); // a GetConfiguration frame is tens of bytes
    expect(ocpp.errors).toBe(0);
    expect(ocpp.dropped).toBe(0);
    expect(value(rec, 'throughput-ocpp', 'get_configuration_round_trips', 'calls_per_s')).toBeCloseTo(calls / seconds, -2);
    const p50 = value(rec, 'throughput-ocpp', 'get_configuration_round_trips', 'round_trip_p50_ms');
    const p95 = value(rec, 'throughput-ocpp', 'get_configuration_round_trips', 'round_trip_p95_ms');
    expect(p50).toBeGreaterThan(0);
    expect(p95).toBeGreaterThanOrEqual(p50);
    // the CSMS driver's own exchanges of those calls are in hil_timing
    const getConf = rec.timings.filter((t) => t.protocol === 'ocpp' && t.message === 'GetConfiguration' && t.phase === 'get_configuration_round_trips');
    expect(getConf.length).toBe(calls);
    expect(rec.timings.filter((t) => t.message === 'DataTransfer.GetInstalledCertificateIds' && t.phase === 'pnc_certificate_ids_round_trips').length).toBe(500);

    // PnC sessions: each authorized through DataTransfer Authorize
    expect(value(rec, 'throughput-pnc-sessions', 'pnc_authorizations', 'sessions')).toBe(3);
    expect(rec.timings.filter((t) => t.message === 'DataTransfer.Authorize' && t.phase === 'pnc_authorizations').length).toBe(3);
    expect(at('throughput-pnc-sessions/pnc_authorizations/ocpp:VIRTUAL-CP1').framesPerS).toBeGreaterThan(0);

    // CAN: both links of the one bus carry the drivers' polls (every 200 ms each)
    for (const [role, transport] of [['ccu', 'slcan'], ['ccu_sock', 'socketcand']] as const) {
      const t = at(`throughput-can/ccu_bus_frame_rate/can:${role}:${transport}`);
      expect(t.framesPerS).toBeGreaterThan(10);
      expect(t.bytesPerS).toBeGreaterThan(t.framesPerS); // InfyPower frames carry 8 data bytes
      expect(value(rec, 'throughput-can', 'ccu_bus_frame_rate', `${role}_frames_per_s`)).toBeCloseTo(t.framesPerS, 0);
    }

    // Modbus: 3 transactions (6 ADUs) and 99 (TCP) / 75 (RTU) bytes per SDM630 reading
    for (const [role, transport, bytes] of [['meter', 'tcp', 99], ['meter_rtu', 'rtu', 75]] as const) {
      const phase = `${role}_poll_rate`;
      const t = at(`throughput-modbus/${phase}/modbus:${role}:${transport}`);
      const perS = value(rec, 'throughput-modbus', phase, 'readings_per_s');
      expect(perS).toBeGreaterThan(20);
      expect(t.framesPerS / perS).toBeCloseTo(6, 0);
      expect(t.bytesPerS / perS).toBeCloseTo(bytes, 0);
      expect(value(rec, 'throughput-modbus', phase, 'failures')).toBe(0);
    }
  }, 120_000);
});
