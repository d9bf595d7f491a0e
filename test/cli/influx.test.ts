// `pnc-bench run --influx` and `pnc-bench upload` end to end against a real influxd: points land;
// with the server down they are spooled to influx.lp, and `upload` replays them exactly once,
// however often it is run.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLineProtocol, pointsFromRecord } from '../../src/report/influx.ts';
import { RunRecord } from '../../src/report/record.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/fake-rig.ts';
import { closedPort, pointCounts, startInfluxd, type RunningInfluxd } from '../helpers/influxd.ts';

const FAIL = 'test/fixtures/suites/fail.suite.ts';
let influx: RunningInfluxd;

beforeAll(async () => {
  influx = await startInfluxd();
});
afterAll(async () => {
  await influx?.stop();
});

function expectedCounts(record: RunRecord): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of pointsFromRecord(record)) out[p.measurement] = (out[p.measurement] ?? 0) + 1;
  return out;
}

const onlyDir = (reports: string): string => path.join(reports, readdirSync(reports)[0] as string);
const record = (dir: string): RunRecord => RunRecord.parse(JSON.parse(readFileSync(path.join(dir, 'record.json'), 'utf8')));

describe('run --influx and upload', () => {
  // The acceptance of the main job: `./scripts/run` = `pnc-bench run` with no suites on the virtual rig.
  it('the main job: every bench suite PASSes on the virtual rig, writes record, JUnit and report, and --influx lands the points', async () => {
    const reports = tempDir();
    const t0 = Date.now();
    const r = await runCli(['run', '--reports', reports, '--influx', influx.url('live')]);
    const seconds = (Date.now() - t0) / 1000;
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const dir = onlyDir(reports);
    const rec = record(dir);
    expect(rec.outcome).toBe('PASS');
    const suites = rec.suites.map((s) => s.name);
    for (const s of ['cert-installation', 'pnc-authorization', 'offline-validation', 'pnc-timing', 'host-health']) expect(suites).toContain(s);
    // the unmodified virtual charger runs every phase: none SKIPPED for want of a feature or a driver capability
    const skipped = rec.suites.flatMap((s) => s.phases.filter((p) => p.outcome === 'SKIPPED').map((p) => `${s.name}/${p.name}: ${p.reason ?? ''}`));
    expect(skipped).toEqual([]);
    for (const f of ['record.json', 'junit.xml', 'report.html']) expect(existsSync(path.join(dir, f)), f).toBe(true);
    expect(seconds, 'the main job must finish within 2 minutes').toBeLessThan(120);
    const expected = expectedCounts(rec);
    expect(r.stdout).toContain(`influx: ${Object.values(expected).reduce((a, b) => a + b, 0)} points written`);
    expect(await pointCounts(influx, 'live')).toEqual(expected);
    expect(expected.hil_timing ?? 0).toBeGreaterThan(0);
    const runRows = await influx.query('live', 'SELECT * FROM hil_run GROUP BY *');
    expect(runRows[0]?.tags).toMatchObject({ rig: 'virtual', suite: 'multi', outcome: 'PASS', trigger: expect.any(String) });
    expect(runRows[0]?.values.run_id).toBe(rec.runId);
    expect(existsSync(path.join(dir, 'influx.lp'))).toBe(false);
  }, 180_000);

  it('spools when InfluxDB is down; upload replays every point exactly once, twice over', async () => {
    const reports = tempDir();
    const down = `http://127.0.0.1:${await closedPort()}/spooled`;
    const r = await runCli(['run', '--no-health', FAIL, '--reports', reports, '--influx', down]);
    expect(r.code).toBe(1); // the suite's own outcome; the InfluxDB outage does not change it
    expect(r.stdout).toMatch(/influx: server unavailable .* points spooled to .*influx\.lp/);
    const dir = onlyDir(reports);
    const spooled = parseLineProtocol(readFileSync(path.join(dir, 'influx.lp'), 'utf8'));
    const expected = expectedCounts(record(dir));
    expect(spooled).toHaveLength(Object.values(expected).reduce((a, b) => a + b, 0));

    const up1 = await runCli(['upload', dir, '--influx', influx.url('spooled')]);
    expect(up1.code).toBe(0);
    expect(up1.stdout).toContain(`influx: ${spooled.length} points from influx.lp written`);
    expect(await pointCounts(influx, 'spooled')).toEqual(expected);
    const m = await influx.query('spooled', 'SELECT * FROM hil_measurement GROUP BY *');
    expect(m.map((x) => [x.tags.name, x.tags.outcome, x.values.value])).toEqual([['latency_ms', 'FAIL', 250]]);

    const up2 = await runCli(['upload', dir, '--influx', influx.url('spooled')]);
    expect(up2.code).toBe(0);
    expect(await pointCounts(influx, 'spooled')).toEqual(expected);
  });

  it('upload reports a missing run directory as a usage error and an unreachable server as exit 3', async () => {
    const missing = await runCli(['upload', path.join(tempDir(), 'nope'), '--influx', influx.url('x')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/error: .*record\.json/);
    const reports = tempDir();
    expect((await runCli(['run', '--no-health', FAIL, '--reports', reports])).code).toBe(1);
    const down = await runCli(['upload', onlyDir(reports), '--influx', `http://127.0.0.1:${await closedPort()}/x`]);
    expect(down.code).toBe(3);
    expect(down.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
