// Suite discovery and order (health suites first), and what a broken rig does to a run: the rig
// health suites (bench/health/rig-*.suite.ts) on a rig of fake drivers where the meter is unhealthy
// or stops answering, next to a suite that FAILs — the run must be INFRA (exit 3), not FAIL, with
// the failed check in hil_rig_health.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pointsFromRecord } from '../../src/report/influx.ts';
import { exitCodeFor, exitCodeForRun } from '../../src/report/record.ts';
import { runBench } from '../../src/runner/executor.ts';
import { loadLimits } from '../../src/runner/limits.ts';
import { findSuiteFiles, isHealthSuiteFile, loadSuites } from '../../src/runner/load-suites.ts';
import { fakeRig, tempDir } from '../helpers/fake-rig.ts';
import { ROOT } from '../helpers/cli.ts';

const rel = (files: string[]): string[] => files.map((f) => path.relative(ROOT, f).split(path.sep).join('/'));
const FAIL = 'test/fixtures/suites/fail.suite.ts';

describe('findSuiteFiles order', () => {
  it('puts bench/health/ first when running all of bench/, the rest in name order', () => {
    const files = rel(findSuiteFiles([path.join(ROOT, 'bench')]));
    const health = files.filter((f) => f.startsWith('bench/health/'));
    expect(health).toContain('bench/health/host.suite.ts');
    expect(health).toContain('bench/health/rig-charger.suite.ts');
    expect(files.slice(0, health.length)).toEqual(health);
    const rest = files.slice(health.length);
    expect(rest.length).toBeGreaterThan(0);
    expect(rest).toEqual([...rest].sort());
    expect(rest.some((f) => f.startsWith('bench/throughput/'))).toBe(true);
  });

  it('moves health suites ahead of suites given before them, keeping the order given otherwise', () => {
    const files = rel(findSuiteFiles([path.join(ROOT, FAIL), path.join(ROOT, 'bench/throughput/can.suite.ts'), path.join(ROOT, 'bench/health/rig-meter.suite.ts'), path.join(ROOT, 'bench/health/host.suite.ts')]));
    expect(files).toEqual(['bench/health/rig-meter.suite.ts', 'bench/health/host.suite.ts', FAIL, 'bench/throughput/can.suite.ts']);
  });

  it('counts only a suite whose own directory is health', () => {
    expect(isHealthSuiteFile('/x/bench/health/a.suite.ts')).toBe(true);
    expect(isHealthSuiteFile('/health/bench/timing/a.suite.ts')).toBe(false);
    expect(isHealthSuiteFile('/x/bench/health-old/a.suite.ts')).toBe(false);
  });
});

async function runOnFakeRig(meterOptions: Record<string, unknown>) {
  const files = findSuiteFiles([path.join(ROOT, FAIL), path.join(ROOT, 'bench/health')]);
  const suites = await loadSuites(files, ROOT);
  const rig = fakeRig({ features: ['meter'], drivers: { meter: { driver: 'FakeMeter', options: meterOptions }, ccu: { driver: 'FakeCcu' } } });
  const limits = await loadLimits([path.join(ROOT, 'bench/limits/health.yaml')], rig.config.dut.model);
  const { record } = await runBench({
    runId: 'health-test',
    runDir: tempDir(),
    rig,
    suites,
    limits,
    trigger: { kind: 'manual' },
    software: { benchVersion: '0.0.0', node: process.version, packages: {} },
    host: { hostname: 'test', platform: 'linux' },
    signal: new AbortController().signal,
  });
  const outcome = (name: string): string | undefined => record.suites.find((s) => s.name === name)?.outcome;
  return { record, outcome };
}

describe('rig health on a broken rig', () => {
  it('a healthy fake meter: health suites pass, the run is FAIL because of the failing suite', async () => {
    const { record, outcome } = await runOnFakeRig({});
    expect(record.suites[0]?.name).toBe('host-health');
    expect(record.suites.at(-1)?.name).toBe('fails');
    expect(outcome('rig-meter')).toBe('PASS');
    expect(outcome('fails')).toBe('FAIL');
    // no Csms, EvEmulator or Secc driver, no ccu/ev/console feature on this rig
    for (const s of ['rig-charger', 'rig-can', 'rig-ev', 'rig-console']) expect(outcome(s)).toBe('SKIPPED');
    expect(record.outcome).toBe('FAIL');
    const answered = record.rigHealth.find((h) => h.resource === 'meter' && h.check === 'meter_answers');
    expect(answered?.ok).toBe(true);
    // meter_rtu binds to the same (only) meter: checked once
    expect(record.rigHealth.filter((h) => h.check === 'meter_answers')).toHaveLength(1);
  }, 30_000);

  it('a meter whose health() fails: rig-meter is INFRA (preflight), the run INFRA with exit code 3, not FAIL', async () => {
    const { record, outcome } = await runOnFakeRig({ unhealthy: true });
    expect(outcome('rig-meter')).toBe('INFRA');
    // the charger suites do not run on a broken rig: SKIPPED with the reason
    expect(outcome('fails')).toBe('SKIPPED');
    expect(record.suites.find((s) => s.name === 'fails')?.outcomeDetails).toEqual([{ code: 'RIG_UNHEALTHY', message: expect.stringMatching(/failed its health suite rig-meter/) }]);
    expect(record.outcome).toBe('INFRA');
    expect(exitCodeFor(record.outcome)).toBe(3);
    const sick = record.rigHealth.filter((h) => !h.ok);
    expect(sick.map((h) => `${h.resource} ${h.check}`)).toContain('meter preflight:rig-meter');
    const points = pointsFromRecord(record).filter((p) => p.measurement === 'hil_rig_health' && p.fields.ok === false);
    expect(points.map((p) => p.tags.resource)).toContain('meter');
    const runPoint = pointsFromRecord(record).find((p) => p.measurement === 'hil_run');
    expect(runPoint?.tags.outcome).toBe('INFRA');
  }, 30_000);

  it('a meter that does not open: INFRA, and its failed open is a hil_rig_health point', async () => {
    const { record, outcome } = await runOnFakeRig({ openFails: true });
    expect(outcome('rig-meter')).toBe('INFRA');
    expect(outcome('fails')).toBe('SKIPPED');
    const open = record.rigHealth.find((h) => h.check === 'open:rig-meter');
    expect(open).toMatchObject({ resource: 'meter', ok: false, detail: expect.stringMatching(/fake link refused to open/) });
    expect(pointsFromRecord(record).some((p) => p.measurement === 'hil_rig_health' && p.tags.check === 'open:rig-meter' && p.fields.ok === false)).toBe(true);
  }, 30_000);

  it('a meter that is up but does not answer readings: the suite\'s own check records it and ends INFRA', async () => {
    const { record, outcome } = await runOnFakeRig({ failReads: 100 });
    expect(outcome('rig-meter')).toBe('INFRA');
    const check = record.rigHealth.find((h) => h.resource === 'meter' && h.check === 'meter_answers');
    expect(check?.ok).toBe(false);
    expect(check?.detail).toMatch(/fake meter read failed/);
    const phase = record.suites.find((s) => s.name === 'rig-meter')?.phases.find((p) => p.name === 'meters');
    expect(phase?.outcome).toBe('INFRA');
    expect(phase?.error?.source).toBe('meter');
    expect(record.outcome).toBe('INFRA');
  }, 30_000);

  it('a health check out of its limit is a rig fault: the health suite INFRA (RIG_HEALTH), charger suites skipped', async () => {
    const files = findSuiteFiles([path.join(ROOT, FAIL), path.join(ROOT, 'test/fixtures/suites/health/slow-rig.suite.ts')]);
    const suites = await loadSuites(files, ROOT);
    const rig = fakeRig({ features: [], drivers: {} });
    const { record } = await runBench({
      runId: 'health-limit',
      runDir: tempDir(),
      rig,
      suites,
      limits: await loadLimits([], rig.config.dut.model),
      trigger: { kind: 'manual' },
      software: { benchVersion: '0.0.0', node: process.version, packages: {} },
      host: { hostname: 'test', platform: 'linux' },
      signal: new AbortController().signal,
    });
    const slow = record.suites.find((s) => s.name === 'slow-rig');
    expect(slow?.outcome).toBe('INFRA');
    expect(slow?.outcomeDetails.map((d) => d.code)).toEqual(['RIG_HEALTH']);
    expect(record.suites.find((s) => s.name === 'fails')?.outcome).toBe('SKIPPED');
    expect(record.outcome).toBe('INFRA');
    expect(exitCodeForRun(record)).toBe(3);
  });
});

describe('exit code of a run', () => {
  it('a suite that FAILed makes the run exit 1 even when another suite was INFRA or ERROR (CI retries only 3)', () => {
    const s = (outcome: 'PASS' | 'FAIL' | 'TIMEOUT' | 'INFRA' | 'ERROR' | 'ABORTED' | 'SKIPPED', file = 'bench/x/a.suite.ts') => ({ outcome, file });
    expect(exitCodeForRun({ outcome: 'INFRA', suites: [s('FAIL'), s('INFRA')] })).toBe(1);
    expect(exitCodeForRun({ outcome: 'ERROR', suites: [s('TIMEOUT'), s('ERROR')] })).toBe(1);
    expect(exitCodeForRun({ outcome: 'INFRA', suites: [s('PASS'), s('INFRA')] })).toBe(3);
    expect(exitCodeForRun({ outcome: 'ABORTED', suites: [s('FAIL'), s('ABORTED')] })).toBe(3);
    expect(exitCodeForRun({ outcome: 'PASS', suites: [s('PASS')] })).toBe(exitCodeFor('PASS'));
  });

  it('exits 2 when every suite asked for was SKIPPED, even though the added health suites passed', () => {
    const isHealth = (x: { file: string }): boolean => isHealthSuiteFile(x.file);
    const run = { outcome: 'PASS' as const, suites: [{ outcome: 'PASS' as const, file: 'bench/health/host.suite.ts' }, { outcome: 'SKIPPED' as const, file: 'bench/x/dc.suite.ts' }] };
    expect(exitCodeForRun(run, isHealth)).toBe(2);
    expect(exitCodeForRun({ ...run, suites: [run.suites[0]!, { outcome: 'PASS', file: 'bench/x/dc.suite.ts' }] }, isHealth)).toBe(0);
  });
});
