// The CI pipeline examples (ci/gitlab-ci.example.yml, ci/github-actions.example.yml): one job per rig
// on that rig's runner (runner tags/labels = rig id), the `pnc-bench run` command line, artifacts and
// the JUnit path — checked against the folder a real `pnc-bench run` writes — and a retry on exit
// code 3 (INFRA) only. The GitHub step's retry loop is executed with bash, with `npx` on PATH standing
// in for pnc-bench's exit codes, and cancelled with SIGTERM: the signal reaches pnc-bench once, the
// step ends with its exit code and does not retry. GitLab: the image only on the docker smoke job.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT, runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/fake-rig.ts';

type Json = Record<string, unknown>;
const load = (file: string): Json => parseYaml(readFileSync(path.join(ROOT, 'ci', file), 'utf8')) as Json;
const gitlab = load('gitlab-ci.example.yml');
const github = load('github-actions.example.yml');

/** A CI glob (`*` within one path segment) as a regex. */
const globRe = (glob: string): RegExp => new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+')}$`);

const RUN_CMD = /pnc-bench run --rig "?rigs\/\$\{RIG\}\.yaml"? --trigger nightly --influx "\$INFLUX_URL" --reports reports/;

describe('GitLab CI example', () => {
  const template = gitlab['.hil-nightly'] as Json;
  const rigJobs = Object.entries(gitlab).filter(([, j]) => (j as Json | undefined)?.extends === '.hil-nightly') as [string, Json][];

  it('has one nightly job per rig, on the runner tagged with the rig id, locked per rig', () => {
    expect(rigJobs.length).toBeGreaterThanOrEqual(2);
    const rigs = rigJobs.map(([, j]) => (j.variables as Json).RIG as string);
    expect(new Set(rigs).size).toBe(rigs.length);
    for (const [name, j] of rigJobs) {
      const rig = (j.variables as Json).RIG as string;
      expect(name).toBe(`nightly:${rig}`);
      expect(j.tags).toEqual(['hil', rig]);
      expect(j.resource_group).toBe(`rig-${rig}`);
    }
    expect(template.stage).toBe('nightly');
    expect(JSON.stringify(template.rules)).toContain('schedule');
  });

  it('runs pnc-bench on rigs/<id>.yaml with trigger nightly and InfluxDB, keeps the run folder and JUnit', () => {
    expect((template.script as string[]).some((l) => RUN_CMD.test(l))).toBe(true);
    const a = template.artifacts as Json;
    expect(a.when).toBe('always');
    expect(a.paths).toEqual(['reports/']);
    expect((a.reports as Json).junit).toBe('reports/*/junit.xml');
  });

  it('retries on exit code 3 (INFRA) only', () => {
    expect(template.retry).toEqual({ max: 2, exit_codes: [3] });
    for (const [, j] of rigJobs) expect(j.retry).toBeUndefined(); // inherited, not widened
  });

  it('names an image only for the docker smoke job; the rig jobs run on the rig host\'s shell executor', () => {
    expect(gitlab.default).toBeUndefined();
    const smoke = gitlab['smoke:virtual-rig'] as Json;
    expect(smoke.image).toBe('node:20-bookworm');
    expect(smoke.tags).toEqual(['docker']);
    expect('image' in template).toBe(false);
    for (const [, j] of rigJobs) expect('image' in j).toBe(false);
  });
});

describe('GitHub Actions example', () => {
  const job = (github.jobs as Json).nightly as Json;
  const matrix = (job.strategy as Json).matrix as Json;
  const steps = job.steps as Json[];
  const runStep = steps.find((s) => typeof s.run === 'string' && (s.run as string).includes('pnc-bench run')) as Json;

  it('is a nightly schedule with one job per rig on the self-hosted runner labelled with the rig id', () => {
    expect(JSON.stringify((github.on as Json).schedule)).toMatch(/cron/);
    expect((matrix.rig as string[]).length).toBeGreaterThanOrEqual(2);
    expect(job['runs-on']).toEqual(['self-hosted', 'hil', '${{ matrix.rig }}']);
    expect((job.concurrency as Json).group).toBe('rig-${{ matrix.rig }}');
    expect((job.strategy as Json)['fail-fast']).toBe(false);
    expect((job.env as Json).RIG).toBe('${{ matrix.rig }}');
  });

  it('runs pnc-bench, uploads the run folders and publishes the JUnit files pnc-bench writes', () => {
    expect(runStep.run).toMatch(RUN_CMD);
    const upload = steps.find((s) => String(s.uses).startsWith('actions/upload-artifact')) as Json;
    expect(upload.if).toBe('always()');
    expect((upload.with as Json).path).toBe('reports/');
    const junit = steps.find((s) => String(s.uses).startsWith('mikepenz/action-junit-report')) as Json;
    expect(junit.if).toBe('always()');
    expect((junit.with as Json).report_paths).toBe('reports/*/junit.xml');
  });

  /** A temp dir with bin/npx (the given script) and a bin/sleep that returns at once, and the step's environment. */
  function stepDir(npx: string): { cwd: string; env: NodeJS.ProcessEnv } {
    const cwd = tempDir('pnc-bench-ci-');
    const bin = path.join(cwd, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'npx'), npx);
    writeFileSync(path.join(bin, 'sleep'), '#!/usr/bin/env bash\nexit 0\n');
    chmodSync(path.join(bin, 'npx'), 0o755);
    chmodSync(path.join(bin, 'sleep'), 0o755);
    return { cwd, env: { PATH: `${bin}:${process.env.PATH ?? ''}`, RIG: 'bench-a1', INFLUX_URL: 'http://influx:8086/pncbench', PNC_BENCH_MAX_ATTEMPTS: String((job.env as Json).PNC_BENCH_MAX_ATTEMPTS) } };
  }

  /** Runs the step's script as GitHub's bash shell does, in a temp dir, with an `npx` that exits with the given codes in turn. */
  function runStepWith(codes: number[]): { code: number; calls: number; published: string[]; infra: string[] } {
    // stands in for `npx pnc-bench run …`: writes reports/<runId>/junit.xml like pnc-bench, exits with the next code
    const { cwd, env } = stepDir(
      '#!/usr/bin/env bash\nn=$(( $(cat calls 2>/dev/null || echo 0) + 1 )); echo $n > calls\ncode=$(sed -n "${n}p" codes)\nmkdir -p "reports/run-$n"; echo "<testsuites/>" > "reports/run-$n/junit.xml"\nexit "$code"\n',
    );
    writeFileSync(path.join(cwd, 'codes'), codes.join('\n') + '\n');
    const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', runStep.run as string], { cwd, env, encoding: 'utf8' });
    const reports = path.join(cwd, 'reports');
    const published = readdirSync(reports).filter((d) => existsSync(path.join(reports, d, 'junit.xml')));
    const infraDir = path.join(reports, 'infra-attempts');
    return { code: r.status ?? -1, calls: Number(readFileSync(path.join(cwd, 'calls'), 'utf8')), published, infra: existsSync(infraDir) ? readdirSync(infraDir) : [] };
  }

  it('the step retries exit 3 up to PNC_BENCH_MAX_ATTEMPTS, moving INFRA attempts out of the JUnit glob; other codes end it at once', () => {
    expect(runStepWith([3, 0])).toEqual({ code: 0, calls: 2, published: ['run-2'], infra: ['run-1'] });
    expect(runStepWith([3, 1])).toEqual({ code: 1, calls: 2, published: ['run-2'], infra: ['run-1'] });
    expect(runStepWith([3, 3, 3, 3])).toEqual({ code: 3, calls: 3, published: ['run-3'], infra: ['run-1', 'run-2'] });
    expect(runStepWith([1])).toEqual({ code: 1, calls: 1, published: ['run-1'], infra: [] });
    expect(runStepWith([2])).toEqual({ code: 2, calls: 1, published: ['run-1'], infra: [] });
  });

  it('on cancel (SIGTERM to the step\'s shell) forwards the signal to pnc-bench once, ends with its exit code and does not retry', async () => {
    // stands in for pnc-bench: runs until SIGTERM, then takes a moment (teardown), notes the signal and exits 3 (ABORTED)
    const { cwd, env } = stepDir(
      '#!/usr/bin/env bash\nn=$(( $(cat calls 2>/dev/null || echo 0) + 1 )); echo $n > calls\ntrap \'echo TERM >> signals; /bin/sleep 0.3; exit 3\' TERM\ntrap \'echo INT >> signals\' INT\necho running > running\nwhile :; do /bin/sleep 0.05; done\n',
    );
    const step = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', runStep.run as string], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    step.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => step.on('exit', (code) => resolve(code)));
    const t0 = Date.now();
    while (!existsSync(path.join(cwd, 'running'))) {
      if (Date.now() - t0 > 10_000) throw new Error('the stand-in pnc-bench did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    step.kill('SIGTERM');
    expect(await exited).toBe(3);
    expect(readFileSync(path.join(cwd, 'signals'), 'utf8')).toBe('TERM\n');
    expect(readFileSync(path.join(cwd, 'calls'), 'utf8').trim()).toBe('1');
    expect(out).toContain('cancelled: forwarding SIGTERM to pnc-bench');
    expect(out).toContain('attempt 1: exit 3');
  });
});

describe('the JUnit path of both examples', () => {
  it('matches the junit.xml a real `pnc-bench run --reports reports` writes', async () => {
    const cwd = tempDir('pnc-bench-ci-junit-');
    // the folder layout does not depend on the rig: a rig without drivers, one host suite, no health suites
    const rig = path.join(cwd, 'rig.yaml');
    writeFileSync(rig, 'schema: pnc-bench-rig/1\nid: ci-junit\ndut: { model: x }\nresources: {}\ndrivers: {}\n');
    const r = await runCli(['run', '--no-health', '--rig', rig, 'bench/health/host.suite.ts', '--reports', path.join(cwd, 'reports'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const files = execFileSync('find', ['reports', '-name', 'junit.xml'], { cwd, encoding: 'utf8' }).trim().split('\n');
    expect(files).toHaveLength(1);
    for (const glob of ['reports/*/junit.xml', (((github.jobs as Json).nightly as Json).steps as Json[]).map((s) => (s.with as Json | undefined)?.report_paths).find(Boolean) as string]) {
      expect(files[0]).toMatch(globRe(glob));
      // retried INFRA attempts are moved to reports/infra-attempts/<run>/ and must stay out of the JUnit glob
      expect('reports/infra-attempts/x/junit.xml').not.toMatch(globRe(glob));
    }
  }, 60_000);
});
