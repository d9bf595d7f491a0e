// The throughput suites (bench/throughput/): the pure helpers (percentiles, a Modbus snapshot's wire
// counters), that a run of bench/throughput gets the rig health suites first (prepareSession, nothing
// started) unless --no-health, then the suites on the virtual rig through the real
// `pnc-bench run bench/throughput --no-health` (the host's event-loop check is not this test's
// subject on a busy machine): every link reports figures, and the figures agree with what else
// the record shows (OCPP frames = 2 × calls, CSMS exchanges in hil_timing, the Modbus point = the
// meter driver's own wire counters and its transcript of the window's transactions). The time the
// throughput suites take is printed and held to a generous bound (a busy CI machine is slow).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { windowSeconds } from '../../src/report/influx.ts';
import { RunRecord, type MeasurementRecord } from '../../src/report/record.ts';
import { modbusLinkStats } from '../../bench/throughput/modbus-wire.ts';
import { percentile } from '../../bench/throughput/stats.ts';
import { DEFAULT_RIG, prepareSession } from '../../src/runner/session.ts';
import { ROOT, runCli } from '../helpers/cli.ts';
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

  it('a ModbusMeter snapshot\'s wire counters as LinkStats; none without them', () => {
    const snap = { registerMap: 'sdm630', link: 'rtu /dev/ttyUSB0 9600 8N1 unit 1', txFrames: 10, txBytes: 80, rxFrames: 9, rxBytes: 300, failures: 1, timeouts: 1, transactions: 10 };
    expect(modbusLinkStats(snap, 'meter_rtu', 5)).toEqual({ link: 'modbus:meter_rtu:rtu', txFrames: 10, txBytes: 80, rxFrames: 9, rxBytes: 300, errors: 1, dropped: 1, tMs: 5 });
    expect(modbusLinkStats({ ...snap, link: 'tcp 127.0.0.1:502 unit 1' }, 'meter', 5)?.link).toBe('modbus:meter:tcp');
    expect(modbusLinkStats({ registerMap: 'sdm630', link: 'tcp x', transactions: 3 }, 'meter', 5)).toBeUndefined(); // no wire counters
    expect(modbusLinkStats({ opened: true }, 'meter', 5)).toBeUndefined();
  });
});

/** PnC sessions the virtual rig runs (bench/limits/throughput.yaml, models.virtual-charger). */
const SESSIONS = (parseYaml(readFileSync(path.join(ROOT, 'bench/limits/throughput.yaml'), 'utf8')) as { models: Record<string, Record<string, unknown>> }).models['virtual-charger']?.['throughput.pnc.sessions'];

/**
 * How many frames (or bytes) a point's rate stands for over its window: the record rounds the window
 * to the millisecond (`0.213s`), so the count lies between rate × (window ∓ 0.5 ms).
 */
const within = (t: { window: string }, perS: number): { low: number; high: number } => {
  const s = windowSeconds(t.window);
  if (s === undefined) throw new Error(`window ${t.window} is not a duration`);
  return { low: perS * (s - 0.0005), high: perS * (s + 0.0005) };
};

const value = (rec: RunRecord, suite: string, phase: string, name: string): number => {
  const m = rec.suites
    .find((s) => s.name === suite)
    ?.phases.find((p) => p.name === phase)
    ?.measurements.find((x: MeasurementRecord) => x.name === name);
  if (typeof m?.value !== 'number') throw new Error(`no numeric measurement ${suite}/${phase}/${name}`);
  return m.value;
};

describe('pnc-bench run bench/throughput: the rig health suites come first', () => {
  it('prepareSession adds bench/health/ ahead of the named suites, and leaves it out with health: false', async () => {
    const prepare = (health?: boolean) =>
      prepareSession({ rigFile: DEFAULT_RIG, suitePaths: [path.join(ROOT, 'bench/throughput')], reportsDir: tempDir(), trigger: { kind: 'manual' }, ...(health === undefined ? {} : { health }) });
    const names = (await prepare()).suites.map((s) => s.def.name);
    expect(names).toEqual(['host-health', 'rig-can', 'rig-charger', 'rig-console', 'rig-ev', 'rig-meter', 'throughput-can', 'throughput-modbus', 'throughput-ocpp', 'throughput-pnc-sessions']);
    expect((await prepare(false)).suites.map((s) => s.def.name)).toEqual(['throughput-can', 'throughput-modbus', 'throughput-ocpp', 'throughput-pnc-sessions']);
    // a health suite named explicitly runs once, still first
    const once = await prepareSession({ rigFile: DEFAULT_RIG, suitePaths: [path.join(ROOT, 'bench/throughput/can.suite.ts'), path.join(ROOT, 'bench/health/host.suite.ts')], reportsDir: tempDir(), trigger: { kind: 'manual' } });
    expect(once.suites.map((s) => s.def.name)).toEqual(['host-health', 'rig-can', 'rig-charger', 'rig-console', 'rig-ev', 'rig-meter', 'throughput-can']);
  });
});

describe('throughput suites on the virtual rig', () => {
  it('report measured figures for every link and pass their limits', async () => {
    const reports = tempDir();
    const r = await runCli(['run', 'bench/throughput', '--no-health', '--reports', reports, '--json']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const dir = path.join(reports, readdirSync(reports)[0] as string);
    const rec = RunRecord.parse(JSON.parse(readFileSync(path.join(dir, 'record.json'), 'utf8')));
    expect(rec.outcome).toBe('PASS');
    expect(rec.suites.map((s) => s.name)).toEqual(['throughput-can', 'throughput-modbus', 'throughput-ocpp', 'throughput-pnc-sessions']);
    const throughputSuites = rec.suites;
    const suitesMs = throughputSuites.reduce((n, s) => n + (s.tEnd - s.tStart), 0);
    console.log(`throughput suites on the virtual rig: ${(suitesMs / 1000).toFixed(1)} s (${throughputSuites.map((s) => `${s.name} ${((s.tEnd - s.tStart) / 1000).toFixed(1)} s`).join(', ')})`);
    expect(suitesMs, 'the throughput suites take at most 30 s on the virtual rig').toBeLessThan(30_000);

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
    const seconds = windowSeconds(ocpp.window) as number;
    const frames = within(ocpp, ocpp.framesPerS);
    expect(frames.high).toBeGreaterThanOrEqual(2 * calls - 1);
    expect(frames.low).toBeLessThan(2 * calls + 20);
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

    // PnC sessions: each authorized through DataTransfer Authorize, and timed from there to the EV's authorization
    const sessions = value(rec, 'throughput-pnc-sessions', 'pnc_authorizations', 'sessions');
    expect(sessions).toBe(SESSIONS); // models.virtual-charger
    expect(rec.timings.filter((t) => t.message === 'DataTransfer.Authorize' && t.phase === 'pnc_authorizations').length).toBe(sessions);
    expect(rec.timings.filter((t) => t.protocol === 'pnc' && t.message === 'AuthorizeToEvAuthorized' && t.direction === 'csms->ev').length).toBe(sessions);
    expect(at('throughput-pnc-sessions/pnc_authorizations/ocpp:VIRTUAL-CP1').framesPerS).toBeGreaterThan(0);

    // CAN: both links of the one bus carry the drivers' polls (every 200 ms each)
    for (const [role, transport] of [['ccu', 'slcan'], ['ccu_sock', 'socketcand']] as const) {
      const t = at(`throughput-can/ccu_bus_frame_rate/can:${role}:${transport}`);
      expect(t.framesPerS).toBeGreaterThan(10);
      expect(t.bytesPerS).toBeGreaterThan(t.framesPerS); // InfyPower frames carry 8 data bytes
      expect(value(rec, 'throughput-can', 'ccu_bus_frame_rate', `${role}_frames_per_s`)).toBeCloseTo(t.framesPerS, 0);
    }

    // Modbus: the point is the driver's own wire counters over the window. Cross-checked against the
    // driver's transcript of the phase (one line per transaction: its registers give each response's
    // size) and its counters at close (which include the window's traffic).
    for (const [role, transport] of [['meter', 'tcp'], ['meter_rtu', 'rtu']] as const) {
      const phase = `${role}_poll_rate`;
      const t = at(`throughput-modbus/${phase}/modbus:${role}:${transport}`);
      expect(windowSeconds(t.window)).toBeGreaterThan(0.5);
      const perS = value(rec, 'throughput-modbus', phase, 'readings_per_s');
      expect(perS).toBeGreaterThan(20);
      expect(value(rec, 'throughput-modbus', phase, 'failures')).toBe(0);
      expect([t.errors, t.dropped]).toEqual([0, 0]);
      const p = rec.suites.find((s) => s.name === 'throughput-modbus')?.phases.find((x) => x.name === phase);
      const transcript = p?.attachments.find((a) => a.name === `${role}.jsonl`);
      if (!transcript) throw new Error(`no ${role}.jsonl transcript in ${phase}`);
      const reads = readFileSync(path.join(dir, transcript.path), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { op?: string; count?: number; error?: string })
        .filter((l) => l.op === 'read');
      expect(reads.length).toBeGreaterThan(20);
      // a request and a response per transaction: the few of the phase outside the window less, and
      // at most one request more (the window closed while its answer was on the way)
      const frames = within(t, t.framesPerS);
      expect(frames.high).toBeGreaterThan(2 * reads.length - 8);
      expect(frames.low).toBeLessThanOrEqual(2 * reads.length + 1);
      // request + response ADU bytes of those transactions (TCP: MBAP 7 + PDU 5, then 9 + 2·registers; RTU: 8, then 5 + 2·registers)
      const adu = (n: number): number => (transport === 'tcp' ? 12 + 9 + 2 * n : 8 + 5 + 2 * n);
      const expected = reads.reduce((sum, l) => sum + adu(l.count as number), 0);
      const bytes = within(t, t.bytesPerS);
      expect(bytes.high).toBeGreaterThan(expected - 4 * adu(12));
      expect(bytes.low).toBeLessThanOrEqual(expected + (transport === 'tcp' ? 12 : 8));
      // the counters the driver reported when it closed hold at least the window's traffic, in the same proportions
      const closed = rec.rig.drivers[role]?.snapshotAtClose as { txFrames: number; rxFrames: number; txBytes: number; rxBytes: number; timeouts: number } | undefined;
      if (!closed) throw new Error(`no snapshot of ${role} at close`);
      expect(closed.txFrames + closed.rxFrames).toBeGreaterThanOrEqual(Math.floor(frames.low));
      expect(closed.txBytes + closed.rxBytes).toBeGreaterThanOrEqual(Math.floor(bytes.low));
      expect(closed.txBytes).toBe(closed.txFrames * (transport === 'tcp' ? 12 : 8)); // every request a register read
      // every request answered once, except those that timed out (whose answer may still come late on a loaded machine)
      expect(closed.rxFrames).toBeLessThanOrEqual(closed.txFrames);
      expect(closed.rxFrames).toBeGreaterThanOrEqual(closed.txFrames - closed.timeouts);
    }
  }, 120_000);
});
