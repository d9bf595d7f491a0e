// The `simulator:` section of a rig file: checked without starting (placeholders for the values it
// provides), path-precise errors for its module and options, and `pnc-bench run` starts it before
// the drivers, resolves the file with its real values (they land in the record) and stops it after.
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRig, RigConfigError, formatRigIssue } from '../../src/rig/load.ts';
import { runCli, ROOT } from '../helpers/cli.ts';

const FIX = path.join(ROOT, 'test/fixtures/rigs');

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'pnc-sim-test-'));
}

async function issuesOf(file: string, env: Record<string, string>): Promise<string[]> {
  try {
    await loadRig(file, { env });
  } catch (e) {
    if (e instanceof RigConfigError) return e.issues.map(formatRigIssue);
    throw e;
  }
  return [];
}

describe('rig simulator section', () => {
  it('checks the file with placeholders and does not start the simulator', async () => {
    const dir = tmp();
    const marker = path.join(dir, 'marker');
    const rig = await loadRig(path.join(FIX, 'simulated.yaml'), { env: { HIL_SIM_MARKER: marker } });
    expect(rig.simulator?.def.name).toBe('tcp-sim');
    expect(rig.simulator?.options).toEqual({ marker, failStart: false });
    expect(rig.config.resources.meter_link).toMatchObject({ host: 'simulated', port: 1 });
    expect(existsSync(marker)).toBe(false);
  });

  it('uses the running simulator values over the environment', async () => {
    const rig = await loadRig(path.join(FIX, 'simulated.yaml'), { env: { HIL_SIM_MARKER: '/x', HIL_SIM_PORT: '9' }, simulatorEnv: { HIL_SIM_PORT: '40123', HIL_SIM_HOST: '127.0.0.1' } });
    expect(rig.config.resources.meter_link).toMatchObject({ host: '127.0.0.1', port: 40123 });
  });

  it('finds the module through a YAML alias, as the rest of the file is read', async () => {
    const sim = path.join(FIX, 'sim/tcp-sim.ts');
    const text = readFileSync(path.join(FIX, 'simulated.yaml'), 'utf8')
      .replace('plugins: [../../fakes/drivers.ts]', `plugins: [${path.join(ROOT, 'test/fakes/drivers.ts')}]`)
      .replace('dut: { model: sim-dut }', `dut: { model: &m ${sim} }`)
      .replace('module: ./sim/tcp-sim.ts', 'module: *m');
    expect(text).toContain('module: *m');
    const file = path.join(tmp(), 'alias.yaml');
    writeFileSync(file, text);
    const rig = await loadRig(file, { env: { HIL_SIM_MARKER: '/x' } });
    expect(rig.simulator?.def.name).toBe('tcp-sim');
    expect(rig.config.resources.meter_link).toMatchObject({ host: 'simulated', port: 1 });
  });

  it('reports a bad option and a missing module at their keys', async () => {
    const dir = tmp();
    const bad = path.join(dir, 'bad.yaml');
    const text = readFileSync(path.join(FIX, 'simulated.yaml'), 'utf8')
      .replace('plugins: [../../fakes/drivers.ts]', `plugins: [${path.join(ROOT, 'test/fakes/drivers.ts')}]`)
      .replace('./sim/tcp-sim.ts', path.join(FIX, 'sim/tcp-sim.ts'))
      .replace('options: { marker: "${HIL_SIM_MARKER}" }', 'options: { marker: "${HIL_SIM_MARKER}", failstart: true }');
    writeFileSync(bad, text);
    const issues = await issuesOf(bad, { HIL_SIM_MARKER: '/x' });
    expect(issues.some((i) => /bad\.yaml:\d+:\d+: simulator\.options\.failstart: .*failStart/.test(i))).toBe(true);

    const missing = path.join(dir, 'missing.yaml');
    writeFileSync(missing, text.replace(path.join(FIX, 'sim/tcp-sim.ts'), './nowhere.ts'));
    const issues2 = await issuesOf(missing, { HIL_SIM_MARKER: '/x' });
    expect(issues2.some((i) => /missing\.yaml:\d+:\d+: simulator\.module: cannot load simulator "\.\/nowhere\.ts": no such file/.test(i))).toBe(true);
  });

  it('rejects a module whose default export lacks the required description', async () => {
    const dir = tmp();
    const sim = path.join(dir, 'no-description.ts');
    // everything but the description (options: just enough of a zod schema to pass the shape check)
    writeFileSync(sim, 'export default { name: "nameless", options: { safeParse: (v) => ({ success: true, data: v }) }, provides: {}, start: async () => ({ env: {}, stop: async () => {}, snapshot: () => ({}) }) };\n');
    const file = path.join(dir, 'rig.yaml');
    writeFileSync(
      file,
      readFileSync(path.join(FIX, 'simulated.yaml'), 'utf8')
        .replace('plugins: [../../fakes/drivers.ts]', `plugins: [${path.join(ROOT, 'test/fakes/drivers.ts')}]`)
        .replace('./sim/tcp-sim.ts', sim),
    );
    const issues = await issuesOf(file, { HIL_SIM_MARKER: '/x', HIL_SIM_PORT: '9', HIL_SIM_HOST: '127.0.0.1' });
    expect(issues.some((i) => /rig\.yaml:\d+:\d+: simulator\.module: simulator ".*no-description\.ts": its default export is not a simulator definition \(needs name, description/.test(i)), issues.join('\n')).toBe(true);
  });

  it('pnc-bench run starts the simulator, records its values and stops it', async () => {
    const dir = tmp();
    const marker = path.join(dir, 'marker');
    const r = await runCli(['run', '--rig', path.join(FIX, 'simulated.yaml'), '--reports', dir, '--json', 'bench/health/host.suite.ts'], { env: { HIL_SIM_MARKER: marker } });
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(marker, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    const port = Number(/^started (\d+)$/.exec(lines[0] ?? '')?.[1]);
    expect(lines[1]).toBe('stopped');
    const { dir: runDir } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { dir: string };
    const record = JSON.parse(readFileSync(path.join(runDir, 'record.json'), 'utf8')) as { rig: { resolvedConfig: { resources: { meter_link: { port: number } } } } };
    expect(record.rig.resolvedConfig.resources.meter_link.port).toBe(port);
    expect(readFileSync(path.join(runDir, 'simulator.log'), 'utf8')).toContain(`final state: {"port":${port}}`);
  });

  it('a simulator that fails to start is a rig fault (exit 3) with its reason', async () => {
    const dir = tmp();
    const file = path.join(dir, 'fail.yaml');
    writeFileSync(
      file,
      readFileSync(path.join(FIX, 'simulated.yaml'), 'utf8')
        .replace('plugins: [../../fakes/drivers.ts]', `plugins: [${path.join(ROOT, 'test/fakes/drivers.ts')}]`)
        .replace('./sim/tcp-sim.ts', path.join(FIX, 'sim/tcp-sim.ts'))
        .replace('options: { marker: "${HIL_SIM_MARKER}" }', 'options: { marker: "${HIL_SIM_MARKER}", failStart: true }'),
    );
    const r = await runCli(['run', '--rig', file, '--reports', dir, 'bench/health/host.suite.ts'], { env: { HIL_SIM_MARKER: path.join(dir, 'm') } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/simulated hardware \(tcp-sim\) did not start: the simulated device would not power up/);
    expect(r.stderr).toMatch(/simulator log \(last 1 of 1 lines\):\n  \S+ info powering up the simulated device/);
  });
});
