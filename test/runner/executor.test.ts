// The executor in process, on a rig of fake drivers: outcomes, limits, retries, timeouts,
// teardown, emergency stop, cancellation, attachments and the record/JUnit it writes.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LinkError, ProtocolViolation, type ChargeController, type EnergyMeter } from '../../drivers/capabilities.ts';
import { RunRecord, type PhaseRecord } from '../../src/report/record.ts';
import { ConfigError, runBench, type LoadedSuite, type RunnableRig } from '../../src/runner/executor.ts';
import { LimitSet, loadLimits } from '../../src/runner/limits.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers, type SuiteDef, type Uses } from '../../src/runner/suite.ts';
import { emergencyStops } from '../fakes/drivers.ts';
import { fakeRig, tempDir } from '../helpers/fake-rig.ts';

const uses = { meter: 'EnergyMeter', ccu: 'ChargeController' } as const;
type D = Drivers<typeof uses>;

function loaded(def: SuiteDef<Uses>): LoadedSuite {
  return { def, file: `test/${def.name}.suite.ts`, sha256: '0'.repeat(64) };
}

async function run(suites: SuiteDef<Uses>[], o: { rig?: RunnableRig; limits?: LimitSet; signal?: AbortSignal } = {}) {
  const runDir = tempDir();
  const record = await runBench({
    runId: 'test-run',
    runDir,
    rig: o.rig ?? fakeRig(),
    suites: suites.map(loaded),
    limits: o.limits ?? new LimitSet(),
    trigger: { kind: 'manual' },
    software: { benchVersion: '0.0.0', node: process.version, packages: {} },
    host: { hostname: 'test', platform: 'linux' },
    signal: o.signal ?? new AbortController().signal,
  });
  return { record, runDir };
}

const phaseNamed = (r: RunRecord, name: string, attempt = 1): PhaseRecord => {
  const p = r.suites.flatMap((s) => s.phases).find((x) => x.name === name && x.attempt === attempt);
  if (!p) throw new Error(`no phase ${name} attempt ${attempt}`);
  return p;
};

beforeEach(() => {
  emergencyStops.length = 0;
});

describe('executor', () => {
  it('passes a suite whose measurements are in limits and writes a valid record and JUnit', async () => {
    const read = phase<D>(
      { name: 'read_energy', measures: [measure('energy_wh').unit('Wh').inRange({ min: 0, max: 1e6 }), measure('serial').matches(/^FAKE-/)] },
      async ({ d, m, signal }) => {
        m.set('energy_wh', await d.meter.readEnergyWh(signal));
        m.set('serial', await d.meter.serialNumber(signal));
      },
    );
    const { record, runDir } = await run([defineSuite({ name: 'smoke', version: '1.0.0', requires: ['meter'], uses, main: [read] })]);
    expect(record.outcome).toBe('PASS');
    expect(record.suites[0]?.uses).toEqual({ meter: 'meter', ccu: 'ccu' });
    const p = phaseNamed(record, 'read_energy');
    expect(p.measurements.map((m) => [m.name, m.outcome])).toEqual([
      ['energy_wh', 'PASS'],
      ['serial', 'PASS'],
    ]);
    expect(p.measurements[0]?.value).toBeGreaterThan(1000);
    const onDisk = RunRecord.parse(JSON.parse(readFileSync(path.join(runDir, 'record.json'), 'utf8')));
    expect(onDisk).toEqual(record);
    const junit = readFileSync(path.join(runDir, 'junit.xml'), 'utf8');
    expect(junit).toContain('<testcase classname="smoke.main" name="read_energy"');
    expect(junit).toContain('tests="1" failures="0" errors="0" skipped="0"');
    expect(record.rigHealth.map((h) => [h.resource, h.ok])).toEqual([
      ['meter', true],
      ['ccu', true],
    ]);
  });

  it('fails a measurement out of its limit from a limit file, records the source, and JUnit names value and limit', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'limits.yaml');
    writeFileSync(
      file,
      ['schema: pnc-bench-limits/1', 'limits:', '  meter.power_w: { max: 5000 }', 'models:', '  fake-charger:', '    meter.power_w: { max: 7000, marginalMax: 6000 }', ''].join('\n'),
    );
    const limits = await loadLimits([file], 'fake-charger');
    const p = phase<D>({ name: 'power', measures: [measure('power_w').unit('W').inRange(limit('meter.power_w'))] }, async ({ d, m, signal }) => {
      m.set('power_w', await d.meter.readPowerW(signal));
    });
    const { record, runDir } = await run([defineSuite({ name: 'limits', version: '1', uses, main: [p] })], { limits });
    expect(record.outcome).toBe('FAIL');
    const mm = phaseNamed(record, 'power').measurements[0];
    expect(mm).toMatchObject({ value: 7400, outcome: 'FAIL', validators: [{ kind: 'inRange', max: 7000, marginalMax: 6000 }] });
    expect(mm?.limitSource).toMatch(/limits\.yaml#models\.fake-charger\.meter\.power_w$/);
    const junit = readFileSync(path.join(runDir, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/<failure type="FAIL" message="power_w: 7400 above max 7000">/);
    expect(junit).toContain('measurement power_w = 7400 W violates inRange(max 7000, marginalMax 6000)');
  });

  it('marks a value inside the marginal band as a marginal PASS', async () => {
    const p = phase<D>({ name: 'power', measures: [measure('power_w').inRange({ max: 8000, marginalMax: 7000 })] }, async ({ d, m, signal }) => {
      m.set('power_w', await d.meter.readPowerW(signal));
    });
    const { record } = await run([defineSuite({ name: 'marginal', version: '1', uses, main: [p] })]);
    expect(record.outcome).toBe('PASS');
    expect(record.marginal).toBe(true);
    expect(phaseNamed(record, 'power').measurements[0]?.detail).toBe('7400 above marginalMax 7000');
  });

  it('rejects a run whose limit key is undefined before anything runs', async () => {
    const p = phase<D>({ name: 'x', measures: [measure('v').inRange(limit('nope.key'))] }, () => {});
    await expect(run([defineSuite({ name: 'nolimit', version: '1', main: [p] })])).rejects.toThrow(ConfigError);
    await expect(run([defineSuite({ name: 'nolimit', version: '1', main: [p] })])).rejects.toThrow(/limit "nope.key" is not defined/);
  });

  it('ends a phase over its timeoutMs as TIMEOUT, skips the rest, still runs teardown and emergency-stops the CCU', async () => {
    const slow = phase<D>({ name: 'slow', timeoutMs: 100 }, async ({ sleep }) => {
      await sleep(5_000);
    });
    const after = phase<D>({ name: 'after', measures: [measure('x')] }, ({ m }) => m.set('x', 1));
    const tidy = phase<D>({ name: 'tidy', measures: [measure('ccu_state').equals('idle')] }, async ({ d, m, signal }) => {
      m.set('ccu_state', (await d.ccu.status(signal)).state);
    });
    const t0 = Date.now();
    const { record } = await run([defineSuite({ name: 'timeout', version: '1', uses, main: [slow, after], teardown: [tidy] })]);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(record.outcome).toBe('TIMEOUT');
    expect(phaseNamed(record, 'slow')).toMatchObject({ outcome: 'TIMEOUT', reason: 'exceeded its timeoutMs of 100 ms' });
    expect(phaseNamed(record, 'after')).toMatchObject({ outcome: 'SKIPPED', reason: 'phase slow ended TIMEOUT' });
    expect(phaseNamed(record, 'tidy')).toMatchObject({ outcome: 'PASS', group: 'teardown' });
    expect(record.emergencyStops).toHaveLength(1);
    expect(record.emergencyStops[0]).toMatchObject({ reason: 'phase timeout/slow ended TIMEOUT', results: { ccu: 'ok' } });
    expect(emergencyStops.map((e) => e.driver)).toEqual(['ccu']);
  });

  it('retries only on INFRA and records every attempt', async () => {
    const rig = fakeRig({ drivers: { meter: { driver: 'FakeMeter', options: { failReads: 1 } }, ccu: { driver: 'FakeCcu' } } });
    const p = phase<D>({ name: 'flaky', retry: { attempts: 3 }, measures: [measure('e').inRange({ min: 0 })] }, async ({ d, m, signal }) => {
      m.set('e', await d.meter.readEnergyWh(signal));
    });
    const { record } = await run([defineSuite({ name: 'retry', version: '1', uses, main: [p] })], { rig });
    expect(record.suites[0]?.phases.map((x) => [x.attempt, x.outcome])).toEqual([
      [1, 'INFRA'],
      [2, 'PASS'],
    ]);
    expect(phaseNamed(record, 'flaky', 1).error).toMatchObject({ type: 'LinkError', source: 'meter' });
    expect(record.outcome).toBe('PASS');
    expect(record.retried).toBe(true);

    let calls = 0;
    const buggy = phase<D>({ name: 'buggy', retry: { attempts: 3 } }, () => {
      calls++;
      throw new TypeError('suite bug');
    });
    const r2 = await run([defineSuite({ name: 'noretry', version: '1', main: [buggy] })]);
    expect(calls).toBe(1);
    expect(r2.record.outcome).toBe('ERROR');
    expect(phaseNamed(r2.record, 'buggy').error).toMatchObject({ type: 'TypeError', message: 'suite bug' });
  });

  it('maps a ProtocolViolation to FAIL and a LinkError to INFRA', async () => {
    const v = phase<D>({ name: 'violation' }, () => {
      throw new ProtocolViolation('ocpp16.schema.Authorize', 'idTag missing');
    });
    const { record } = await run([defineSuite({ name: 'pv', version: '1', main: [v] })]);
    expect(record.outcome).toBe('FAIL');
    expect(phaseNamed(record, 'violation')).toMatchObject({ outcome: 'FAIL', error: { type: 'ProtocolViolation', source: 'ocpp16.schema.Authorize' } });
    const l = phase<D>({ name: 'link' }, () => {
      throw new LinkError('ccu_bus', 'adapter gone');
    });
    const r2 = await run([defineSuite({ name: 'le', version: '1', main: [l] })]);
    expect(r2.record.outcome).toBe('INFRA');
  });

  it('skips a suite whose required features the rig lacks, without opening drivers', async () => {
    const p = phase<D>({ name: 'never' }, () => {
      throw new Error('must not run');
    });
    const { record, runDir } = await run([defineSuite({ name: 'needs-dc', version: '1', requires: ['dc', 'pnc'], uses, main: [p] })]);
    expect(record.outcome).toBe('SKIPPED');
    expect(record.suites[0]?.outcomeDetails).toEqual([{ code: 'MISSING_FEATURE', message: 'rig fake-rig lacks feature(s) dc, pnc' }]);
    expect(record.suites[0]?.phases).toEqual([]);
    expect(record.rig.drivers.meter?.snapshotAtOpen).toBeUndefined();
    expect(readFileSync(path.join(runDir, 'junit.xml'), 'utf8')).toContain('<skipped message="MISSING_FEATURE: rig fake-rig lacks feature(s) dc, pnc"/>');
  });

  it('ends a suite INFRA when a driver fails to open, and runs the next suite', async () => {
    const rig = fakeRig({ drivers: { meter: { driver: 'FakeMeter', options: { openFails: true } } } });
    const a = defineSuite({ name: 'a', version: '1', uses: { meter: 'EnergyMeter' }, main: [phase({ name: 'p' }, () => {})] });
    const b = defineSuite({ name: 'b', version: '1', main: [phase({ name: 'q' }, () => {})] });
    const { record } = await run([a, b], { rig });
    expect(record.suites.map((s) => s.outcome)).toEqual(['INFRA', 'PASS']);
    expect(record.suites[0]?.outcomeDetails[0]).toEqual({ code: 'DRIVER_OPEN', message: 'meter: fake link refused to open' });
    expect(record.outcome).toBe('INFRA');
  });

  it('cancellation ends the running phase ABORTED, skips later suites and still runs teardown', async () => {
    const ctl = new AbortController();
    const waiting = phase<D>({ name: 'waiting' }, async ({ sleep }) => {
      setTimeout(() => ctl.abort(new Error('received SIGTERM')), 50);
      await sleep(10_000);
    });
    const tidy = phase<D>({ name: 'tidy' }, ({ signal }) => {
      expect(signal.aborted).toBe(false);
    });
    const later = defineSuite({ name: 'later', version: '1', main: [phase({ name: 'z' }, () => {})] });
    const { record } = await run([defineSuite({ name: 'cancel', version: '1', uses, main: [waiting], teardown: [tidy] }), later], { signal: ctl.signal });
    expect(record.outcome).toBe('ABORTED');
    expect(phaseNamed(record, 'waiting')).toMatchObject({ outcome: 'ABORTED', reason: 'run cancelled: received SIGTERM' });
    expect(phaseNamed(record, 'tidy').outcome).toBe('PASS');
    expect(record.suites[1]).toMatchObject({ name: 'later', outcome: 'SKIPPED', outcomeDetails: [{ code: 'NOT_STARTED' }] });
    expect(record.emergencyStops).toHaveLength(1);
  });

  it('fails a phase that never sets a declared measurement, validates series point by point', async () => {
    const unset = phase<D>({ name: 'unset', measures: [measure('a'), measure('b').optional()] }, () => {});
    const series = phase<D>({ name: 'series', measures: [measure('v').unit('V').series(['t_ms']).inRange({ min: 0, max: 500 })] }, ({ m }) => {
      const s = m.series('v');
      s.add(0, 400);
      s.add(100, 501);
      s.add(200, 400);
    });
    const { record } = await run([defineSuite({ name: 'checks', version: '1', main: [unset, series] })]);
    expect(phaseNamed(record, 'unset')).toMatchObject({ outcome: 'FAIL', reason: 'never measured: a' });
    expect(phaseNamed(record, 'series').series[0]).toMatchObject({ outcome: 'FAIL', detail: 'at t_ms=100: 501 above max 500', points: [[0, 400], [100, 501], [200, 400]] });
  });

  it('attaches files and per-phase driver transcripts with their SHA-256', async () => {
    const p = phase<D>({ name: 'io' }, async ({ d, attach, signal }) => {
      await d.meter.readPowerW(signal);
      await attach('note.txt', 'hello', 'text/plain');
    });
    const { record, runDir } = await run([defineSuite({ name: 'att', version: '1', uses, main: [p] })]);
    const atts = phaseNamed(record, 'io').attachments;
    // a phase's transcript holds the traffic since the previous phase: here the links' opening too
    expect(atts.map((a) => a.name).sort()).toEqual(['ccu.log', 'meter.log', 'note.txt']);
    for (const a of atts) {
      const data = readFileSync(path.join(runDir, a.path));
      expect(a.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      expect(a.bytes).toBe(data.length);
    }
    const transcript = readFileSync(path.join(runDir, atts.find((a) => a.name === 'meter.log')?.path ?? ''), 'utf8');
    expect(transcript).toMatch(/ open\n.* read meter\n$/);
  });

  it('finishes within the close deadline when a driver wedges on close', async () => {
    const rig = fakeRig({ drivers: { meter: { driver: 'FakeMeter', options: { closeHangs: true } } }, timeouts: { closeMs: 200 } });
    const t0 = Date.now();
    const { record } = await run([defineSuite({ name: 'wedge', version: '1', uses: { meter: 'EnergyMeter' }, main: [phase({ name: 'p' }, () => {})] })], { rig });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(record.outcomeDetails).toContainEqual({ code: 'DRIVER_CLOSE', message: 'meter: close did not settle within 200 ms; dropped' });
  });
});

// Keep the capability types in use so a change to them breaks this file at compile time.
export type _Check = [EnergyMeter, ChargeController];
