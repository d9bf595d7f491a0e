// `pnc-bench run`, `report` and `rig check` as a user runs them: exit codes, --json, a bad rig
// file, SIGTERM mid-run (ABORTED record, teardown ran) and kill -9 mid-run (report recovers).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunRecord } from '../../src/report/record.ts';
import { tempDir } from '../helpers/fake-rig.ts';
import { runCli, startCli } from '../helpers/cli.ts';

const LONG = 'test/fixtures/suites/long.suite.ts';
const FAIL = 'test/fixtures/suites/fail.suite.ts';

function onlyRunDir(reports: string): string {
  const dirs = readdirSync(reports);
  expect(dirs).toHaveLength(1);
  return path.join(reports, dirs[0] as string);
}

/** Waits until the run's journal shows `phase.start` of `name`. */
async function waitForPhase(reports: string, name: string, timeoutMs = 20_000): Promise<string> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    for (const d of existsSync(reports) ? readdirSync(reports) : []) {
      const j = path.join(reports, d, 'journal.jsonl');
      if (existsSync(j) && readFileSync(j, 'utf8').includes(`"type":"phase.start","t":`) && readFileSync(j, 'utf8').includes(`"name":"${name}"`)) return path.join(reports, d);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`phase ${name} did not start within ${timeoutMs} ms`);
}

const readRecord = (dir: string): RunRecord => RunRecord.parse(JSON.parse(readFileSync(path.join(dir, 'record.json'), 'utf8')));

describe('pnc-bench run', () => {
  // (every suite on the virtual rig — the main job — is checked in influx.test.ts, with --influx)
  it('runs a suite on the default (virtual) rig: exit 0, --json gives runId, outcome and dir', async () => {
    const reports = tempDir();
    const r = await runCli(['run', '--reports', reports, '--json', 'bench/health/host.suite.ts']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as { runId: string; outcome: string; dir: string };
    expect(out.outcome).toBe('PASS');
    expect(out.dir).toBe(path.join(reports, out.runId));
    expect(r.stderr).toContain('suite host-health');
    const rec = readRecord(out.dir);
    expect(rec.rig.id).toBe('virtual');
    expect(rec.rig.configHash).toMatch(/^[0-9a-f]{64}$/);
    expect(rec.suites.map((s) => s.name)).toContain('host-health');
    expect(existsSync(path.join(out.dir, 'junit.xml'))).toBe(true);
  });

  it('exits 1 when a measurement fails and prints the failure', async () => {
    const reports = tempDir();
    const r = await runCli(['run', '--no-health', FAIL, '--reports', reports]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('x latency_ms = 250 ms: 250 above max 100');
    expect(readRecord(onlyRunDir(reports)).outcome).toBe('FAIL');
  });

  it('exits 2 with file:line:col and key path for an unknown rig key, before creating a run', async () => {
    const dir = tempDir();
    const rig = path.join(dir, 'bad.yaml');
    writeFileSync(rig, ['schema: pnc-bench-rig/1', 'id: bad', 'featurez: [pnc]', 'dut: { model: x }', 'resources: {}', 'drivers: {}', ''].join('\n'));
    const reports = path.join(dir, 'reports');
    const r = await runCli(['run', '--no-health', FAIL, '--rig', rig, '--reports', reports]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:3:1: featurez: unknown key "featurez"/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace for a user mistake
    expect(existsSync(reports)).toBe(false);
  });

  it('exits 2 for usage errors: unknown option, missing suite path, bad InfluxDB URL', async () => {
    expect((await runCli(['run', '--nope'])).code).toBe(2);
    const missing = await runCli(['run', 'no/such/dir']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no/such/dir: no such suite file or directory');
    const influx = await runCli(['run', FAIL, '--influx', 'ftp://x/db']);
    expect(influx.code).toBe(2);
    expect(influx.stderr).toMatch(/error: .*ftp/);
  });

  it('exits when the run ends even if a phase body ignored its cancellation and left a timer running', async () => {
    const reports = tempDir();
    const t0 = Date.now();
    const r = await runCli(['run', '--no-health', 'test/fixtures/suites/zombie.suite.ts', '--reports', reports]);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.code).toBe(1);
    expect(readRecord(onlyRunDir(reports)).suites[0]?.phases[0]).toMatchObject({ name: 'ignores_signal', outcome: 'TIMEOUT' });
  });

  it('exits 2 when every suite was skipped: the rig cannot run what was asked', async () => {
    const reports = tempDir();
    const r = await runCli(['run', 'test/fixtures/suites/needs-dc.suite.ts', '--reports', reports]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('MISSING_FEATURE: rig virtual lacks feature(s) dc');
    // the rig health suites added ahead of it ran (and passed); what was asked for could not run
    const rec = readRecord(onlyRunDir(reports));
    expect(rec.suites.find((x) => x.name === 'needs-dc')?.outcome).toBe('SKIPPED');
    expect(rec.suites[0]?.file).toMatch(/bench\/health\//);
  });

  it('rejects a suite file whose default export is not a well-formed suite, without a stack trace', async () => {
    const dir = tempDir();
    const f = path.join(dir, 'bad.suite.mts');
    writeFileSync(f, "export default { kind: 'suite', name: 'x' };\n");
    const r = await runCli(['run', '--no-health', f, '--reports', path.join(dir, 'r')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.suite\.mts: suite x: version must be a non-empty string/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('SIGTERM mid-run ends the run ABORTED with the record written and teardown run', async () => {
    const reports = tempDir();
    const { child, done } = startCli(['run', '--no-health', LONG, '--reports', reports]);
    await waitForPhase(reports, 'hang');
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('SIGTERM: cancelling the run');
    const rec = readRecord(onlyRunDir(reports));
    expect(rec.outcome).toBe('ABORTED');
    expect(rec.recovered).toBe(false);
    const phases = rec.suites[0]?.phases ?? [];
    expect(phases.map((p) => [p.name, p.outcome])).toEqual([
      ['first', 'PASS'],
      ['second', 'PASS'],
      ['hang', 'ABORTED'],
      ['tidy', 'PASS'],
    ]);
    expect(phases[3]?.measurements[0]).toMatchObject({ name: 'teardown_ran', value: true });
  });

  it('after kill -9 mid-run, `pnc-bench report` recovers every finished phase', async () => {
    const reports = tempDir();
    const { child, done } = startCli(['run', '--no-health', LONG, '--reports', reports]);
    const runDir = await waitForPhase(reports, 'hang');
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    expect(existsSync(path.join(runDir, 'record.json'))).toBe(false);

    const r = await runCli(['report', runDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ABORTED (recovered from an unfinished journal)');
    const rec = readRecord(runDir);
    expect(rec.recovered).toBe(true);
    expect(rec.outcome).toBe('ABORTED');
    const phases = rec.suites[0]?.phases ?? [];
    expect(phases.map((p) => [p.name, p.outcome])).toEqual([
      ['first', 'PASS'],
      ['second', 'PASS'],
      ['hang', 'ABORTED'],
    ]);
    expect(phases[0]?.measurements[0]).toMatchObject({ name: 'value', value: 1, outcome: 'PASS' });
    expect(phases[1]?.measurements[0]).toMatchObject({ name: 'value', value: 2, outcome: 'PASS' });
    expect(phases[2]?.logs.map((l) => l.msg)).toEqual(['waiting to be cancelled']);
    expect(readFileSync(path.join(runDir, 'junit.xml'), 'utf8')).toContain('<error type="ABORTED"');
  });

  it('report tolerates a journal whose last line was cut short, and rejects a corrupt one with its line number', async () => {
    const reports = tempDir();
    const r = await runCli(['run', '--no-health', FAIL, '--reports', reports]);
    expect(r.code).toBe(1);
    const dir = onlyRunDir(reports);
    const journal = path.join(dir, 'journal.jsonl');
    const lines = readFileSync(journal, 'utf8').split('\n').filter(Boolean);
    // cut the run.end line in half: as if the process died mid-write
    writeFileSync(journal, lines.slice(0, -1).join('\n') + '\n' + (lines.at(-1) ?? '').slice(0, 10));
    const cut = await runCli(['report', dir]);
    expect(cut.code).toBe(0);
    expect(cut.stderr).toContain('last line was cut short');
    expect(readRecord(dir)).toMatchObject({ recovered: true, outcome: 'ABORTED' });
    expect(readRecord(dir).suites[0]?.phases[0]).toMatchObject({ name: 'too_high', outcome: 'FAIL' });

    writeFileSync(journal, [lines[0], '{"type": broken', ...lines.slice(1)].join('\n') + '\n');
    const bad = await runCli(['report', dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/journal\.jsonl:2: corrupt journal line/);
  });
});
