// The executor in process, on a rig of fake drivers: outcomes, limits, retries, timeouts,
// teardown, emergency stop, cancellation, attachments and the record/JUnit it writes.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LinkError, ProtocolViolation, type ChargeController, type Csms, type EnergyMeter, type HealthResult, type JsonObject, type OcppCall, type TimingPoint } from '../../drivers/capabilities.ts';
import { Progress } from '../../src/cli/progress.ts';
import { JOURNAL_FILE, type JournalEvent } from '../../src/report/journal.ts';
import { RunRecord, type PhaseRecord } from '../../src/report/record.ts';
import { defineDriver, DriverRegistry } from '../../src/rig/registry.ts';
import { ResourceSchema } from '../../src/rig/resources.ts';
import { ConfigError } from '../../src/runner/errors.ts';
import { runBench, type LoadedSuite, type RunnableRig } from '../../src/runner/executor.ts';
import { LimitSet, loadLimits } from '../../src/runner/limits.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers, type PhaseDef, type SuiteDef, type Uses } from '../../src/runner/suite.ts';
import { emergencyStops } from '../fakes/drivers.ts';
import { fakeRig, tempDir } from '../helpers/fake-rig.ts';

const uses = { meter: 'EnergyMeter', ccu: 'ChargeController' } as const;
type D = Drivers<typeof uses>;

function loaded(def: SuiteDef<Uses>): LoadedSuite {
  return { def, file: `test/${def.name}.suite.ts`, sha256: '0'.repeat(64) };
}

async function run(suites: SuiteDef<Uses>[], o: { rig?: RunnableRig; limits?: LimitSet; signal?: AbortSignal; onEvent?: (ev: JournalEvent) => void } = {}) {
  const runDir = tempDir();
  const { record } = await runBench({
    runId: 'test-run',
    runDir,
    rig: o.rig ?? fakeRig(),
    suites: suites.map(loaded),
    limits: o.limits ?? new LimitSet(),
    trigger: { kind: 'manual' },
    software: { benchVersion: '0.0.0', node: process.version, packages: {} },
    host: { hostname: 'test', platform: 'linux' },
    signal: o.signal ?? new AbortController().signal,
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
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
    // a phase's transcript holds exactly its own traffic; opening the links is listed at run level
    expect(atts.map((a) => a.name).sort()).toEqual(['meter.log', 'note.txt']);
    expect(record.attachments.map((a) => a.name)).toEqual(['000-meter-before_att_io.log', '001-ccu-before_att_io.log']);
    expect(readFileSync(path.join(runDir, record.attachments[0]?.path ?? ''), 'utf8')).toMatch(/ open\n$/);
    for (const a of atts) {
      const data = readFileSync(path.join(runDir, a.path));
      expect(a.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      expect(a.bytes).toBe(data.length);
    }
    const transcript = readFileSync(path.join(runDir, atts.find((a) => a.name === 'meter.log')?.path ?? ''), 'utf8');
    expect(transcript).toMatch(/^\S+ read meter\n$/);
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

describe('executor: control flow and bad input', () => {
  it("a teardown phase that fails after cancellation keeps its own outcome (a contactor that did not open is INFRA, not ABORTED)", async () => {
    const ctl = new AbortController();
    const waiting = phase<D>({ name: 'waiting' }, async ({ sleep }) => {
      setTimeout(() => ctl.abort(new Error('received SIGINT')), 30);
      await sleep(10_000);
    });
    let signalAbortedInTeardown: boolean | undefined;
    const open = phase<D>({ name: 'open_contactor' }, ({ signal }) => {
      signalAbortedInTeardown = signal.aborted;
      throw new LinkError('ccu', 'contactor did not open');
    });
    const { record } = await run([defineSuite({ name: 'td', version: '1', uses, main: [waiting], teardown: [open] })], { signal: ctl.signal });
    expect(signalAbortedInTeardown).toBe(false);
    expect(phaseNamed(record, 'open_contactor')).toMatchObject({ outcome: 'INFRA', error: { type: 'LinkError', message: 'ccu: contactor did not open' } });
    expect(record.outcome).toBe('ABORTED');
  });

  it('a second cancellation cuts teardown short: the running teardown phase is ABORTED, the rest SKIPPED, the record written', async () => {
    const ctl = new AbortController();
    const force = new AbortController();
    const waiting = phase<D>({ name: 'waiting' }, async ({ sleep }) => {
      setTimeout(() => ctl.abort(new Error('received SIGINT')), 30);
      await sleep(10_000);
    });
    const slowTidy = phase<D>({ name: 'slow_tidy' }, async ({ sleep }) => {
      setTimeout(() => force.abort(new Error('received SIGINT twice')), 30);
      await sleep(10_000);
    });
    const never = phase<D>({ name: 'never' }, () => {});
    const runDir = tempDir();
    const t0 = Date.now();
    const { record } = await runBench({
      runId: 'force',
      runDir,
      rig: fakeRig(),
      suites: [loaded(defineSuite({ name: 'force', version: '1', uses, main: [waiting], teardown: [slowTidy, never] }))],
      limits: new LimitSet(),
      trigger: { kind: 'manual' },
      software: { benchVersion: '0', node: process.version, packages: {} },
      host: { hostname: 'h', platform: 'p' },
      signal: ctl.signal,
      forceSignal: force.signal,
    });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(phaseNamed(record, 'slow_tidy')).toMatchObject({ outcome: 'ABORTED', reason: 'run cancelled: received SIGINT twice' });
    expect(phaseNamed(record, 'never')).toMatchObject({ outcome: 'SKIPPED', reason: 'cancelled a second time: teardown cut short' });
    expect(readFileSync(path.join(runDir, 'record.json'), 'utf8')).toContain('"outcome": "ABORTED"');
  });

  it("'skip', 'stop', stopOnFail and a failing setup phase", async () => {
    const skipper = phase<D>({ name: 'skipper', measures: [measure('x')] }, () => 'skip');
    const stopper = phase<D>({ name: 'stopper' }, () => 'stop');
    const afterStop = phase<D>({ name: 'after_stop' }, () => {});
    const r1 = await run([defineSuite({ name: 's1', version: '1', main: [skipper, stopper, afterStop] })]);
    expect(r1.record.suites[0]?.phases.map((p) => [p.name, p.outcome, p.reason])).toEqual([
      ['skipper', 'SKIPPED', 'the phase skipped itself'],
      ['stopper', 'PASS', undefined],
      ['after_stop', 'SKIPPED', 'phase stopper ended the suite'],
    ]);
    expect(r1.record.outcome).toBe('PASS');

    const failing = phase<D>({ name: 'failing', stopOnFail: true, measures: [measure('v').equals(1)] }, ({ m }) => m.set('v', 2));
    const r2 = await run([defineSuite({ name: 's2', version: '1', main: [failing, afterStop] })]);
    expect(phaseNamed(r2.record, 'after_stop')).toMatchObject({ outcome: 'SKIPPED', reason: 'phase failing failed and stops the suite on failure' });

    const badSetup = phase<D>({ name: 'bad_setup' }, () => {
      throw new ProtocolViolation('x', 'no');
    });
    const main = phase<D>({ name: 'main_phase' }, () => {});
    const tidy = phase<D>({ name: 'tidy' }, () => {});
    const r3 = await run([defineSuite({ name: 's3', version: '1', setup: [badSetup], main: [main], teardown: [tidy] })]);
    expect(r3.record.suites[0]?.phases.map((p) => [p.name, p.outcome])).toEqual([
      ['bad_setup', 'FAIL'],
      ['main_phase', 'SKIPPED'],
      ['tidy', 'PASS'],
    ]);
  });

  it("a phase that records a failed measurement and then returns 'skip' is FAIL", async () => {
    const p = phase<D>({ name: 'sneaky', measures: [measure('v').equals(1)] }, ({ m }) => {
      m.set('v', 2);
      return 'skip';
    });
    const { record } = await run([defineSuite({ name: 'sneak', version: '1', main: [p] })]);
    expect(phaseNamed(record, 'sneaky')).toMatchObject({ outcome: 'FAIL', reason: 'v: 2 is not 1' });
  });


  it('{ skip: reason } ends SKIPPED with that reason (record, journal, progress line); a skip without a reason is the suite\'s ERROR', async () => {
    const why = phase<D>({ name: 'why', measures: [measure('x'), measure('s').series(['t'])] }, () => ({ skip: '  the EV emulator cannot update a contract (set scripts.updateCertificate)  ' }));
    const blank = phase<D>({ name: 'blank' }, () => ({ skip: '' }) as unknown as { skip: string });
    const after = phase<D>({ name: 'after_blank' }, () => {});
    const lines: string[] = [];
    const progress = new Progress({ isTTY: false, write: (s: string) => lines.push(s) });
    const { record, runDir } = await run([defineSuite({ name: 'why', version: '1', main: [why, blank, after] })], { onEvent: (ev) => progress.onEvent(ev) });
    expect(phaseNamed(record, 'why')).toMatchObject({ outcome: 'SKIPPED', reason: 'the EV emulator cannot update a contract (set scripts.updateCertificate)' });
    expect(phaseNamed(record, 'blank')).toMatchObject({ outcome: 'ERROR' });
    expect(phaseNamed(record, 'blank')?.reason).toMatch(/returned \{ skip: "" \}; the reason must be a non-empty string/);
    expect(phaseNamed(record, 'after_blank')).toMatchObject({ outcome: 'SKIPPED', reason: 'phase blank ended ERROR' });
    expect(readFileSync(path.join(runDir, JOURNAL_FILE), 'utf8')).toContain('"reason":"the EV emulator cannot update a contract (set scripts.updateCertificate)"');
    expect(lines.join('')).toMatch(/SKIPPED why {2}\d+ ms — the EV emulator cannot update a contract \(set scripts\.updateCertificate\)\n/);
    expect(readFileSync(path.join(runDir, 'junit.xml'), 'utf8')).toContain('the EV emulator cannot update a contract');
  });
  it('an unhealthy driver at preflight makes the suite INFRA, skips its main phases, still runs teardown and emergency-stops', async () => {
    const rig = fakeRig({ drivers: { meter: { driver: 'FakeMeter', options: { unhealthy: true } }, ccu: { driver: 'FakeCcu' } } });
    const main = phase<D>({ name: 'main_phase' }, () => {});
    const tidy = phase<D>({ name: 'tidy' }, () => {});
    const { record } = await run([defineSuite({ name: 'pre', version: '1', uses, main: [main], teardown: [tidy] })], { rig });
    expect(record.suites[0]).toMatchObject({ outcome: 'INFRA', outcomeDetails: [{ code: 'PREFLIGHT', message: 'unhealthy driver(s): meter: fake link reports no answer' }] });
    expect(record.suites[0]?.phases.map((p) => [p.name, p.outcome])).toEqual([
      ['main_phase', 'SKIPPED'],
      ['tidy', 'PASS'],
    ]);
    expect(record.rigHealth.find((h) => h.resource === 'meter')).toMatchObject({ ok: false, reconnects: 2, check: 'preflight:pre' });
    expect(record.emergencyStops[0]).toMatchObject({ reason: 'suite pre: preflight failed', results: { ccu: 'ok' } });
  });

  it('a role two drivers could fill is a configuration error before the run starts', async () => {
    const rig = fakeRig({ drivers: { meter_a: { driver: 'FakeMeter' }, meter_b: { driver: 'FakeMeter' } } });
    const p = defineSuite({ name: 'amb', version: '1', uses: { meter: 'EnergyMeter' }, main: [phase({ name: 'p' }, () => {})] });
    await expect(run([p], { rig })).rejects.toThrow(/role "meter" needs EnergyMeter, which meter_a, meter_b all provide/);
  });

  it('bad values handed in by a suite end the phase ERROR with a clear message, and the record is still written', async () => {
    const cases: [string, (ctx: Parameters<PhaseDef<D>['fn']>[0]) => void, RegExp][] = [
      ['undef', ({ m }) => m.set('v', undefined as unknown as number), /measurement v: undefined is not a finite number, string, boolean or null/],
      ['nan', ({ m }) => m.set('v', Number.NaN), /measurement v: NaN is not a finite number/],
      ['timing', ({ timing }) => timing({ protocol: 'ocpp', message: 'Authorize', direction: 'cp->csms', latencyMs: Number.NaN }), /^timing: /],
      ['throughput', ({ throughput }) => throughput({ link: 'can0', window: '1s', framesPerS: 1, bytesPerS: 1, errors: 0.5, dropped: 0 }), /^throughput: /],
      ['health', ({ health }) => health({ resource: 'x', check: 'y', ok: true } as never), /^health: /],
      ['series', ({ m }) => m.series('s').add(1, Number.POSITIVE_INFINITY), /series s takes 1 coordinate\(s\) and a value/],
      [
        'weird-throw',
        () => {
          throw Object.create(null);
        },
        /.*/,
      ],
    ];
    const phases = cases.map(([name, fn]) => phase<D>({ name, measures: [measure('v').optional(), measure('s').series(['t']).optional()] }, fn));
    const { record, runDir } = await run([defineSuite({ name: 'bad', version: '1', main: phases.slice(0, 1) }), ...phases.slice(1).map((p, i) => defineSuite({ name: `bad${i}`, version: '1', main: [p] }))]);
    const all = record.suites.flatMap((s) => s.phases);
    cases.forEach(([name, , re]) => {
      const p = all.find((x) => x.name === name);
      expect(p?.outcome, name).toBe('ERROR');
      expect(p?.error?.message, name).toMatch(re);
    });
    expect(RunRecord.parse(JSON.parse(readFileSync(path.join(runDir, 'record.json'), 'utf8'))).outcome).toBe('ERROR');
  });

  it('rejects bad phase and suite declarations', () => {
    expect(() => phase({ name: 'p', retry: { attempts: Number.NaN } }, () => {})).toThrow('retry.attempts must be a whole number >= 1');
    expect(() => phase({ name: 'p', timeoutMs: -1 }, () => {})).toThrow('timeoutMs must be a positive number');
    expect(() => defineSuite({ name: 'x', version: '1', uses: { a: 'Toaster' as 'Csms' }, main: [] })).toThrow('uses.a is "Toaster"');
    expect(() => defineSuite({ name: 'x', version: '1', main: [{ kind: 'phase' } as unknown as PhaseDef<object>] })).toThrow('not a phase(...)');
    expect(() => defineSuite({ name: 'x', version: '', main: [] })).toThrow('version must be a non-empty string');
  });

  it('the record rebuilt from the journal equals the live one (retries, series, attachments, marginal)', async () => {
    const rig = fakeRig({ drivers: { meter: { driver: 'FakeMeter', options: { failReads: 1 } }, ccu: { driver: 'FakeCcu' } } });
    const p = phase<D>(
      { name: 'rich', retry: { attempts: 2 }, measures: [measure('p').inRange({ max: 8000, marginalMax: 7000 }), measure('s').series(['t_ms']).inRange({ min: 0 })] },
      async ({ d, m, signal, attach, timing, log }) => {
        m.set('p', await d.meter.readPowerW(signal));
        m.series('s').add(0, 1);
        m.series('s').add(10, 2);
        timing({ protocol: 'modbus', message: 'Read', direction: 'bench->meter', latencyMs: 1.25 });
        log('hello');
        await attach('a.bin', new Uint8Array([1, 2, 3]));
      },
    );
    const { record, runDir } = await run([defineSuite({ name: 'rich', version: '1', uses, main: [p] })], { rig });
    expect(record.suites[0]?.phases.map((x) => x.outcome)).toEqual(['INFRA', 'PASS']);
    const { rebuildRun } = await import('../../src/report/outputs.ts');
    expect(rebuildRun(runDir).record).toEqual(record);
  });
});

// ------------------------------------------------------------------ Lifecycle.timings() (drained by the runner)

/** A Csms that measures its own exchanges: every call() queues a timing point; health() queues one outside phases. */
class TimedCsms implements Csms {
  private points: unknown[] = [];
  /** 'throw': timings() throws once; 'bad': the next drain holds a malformed point too */
  fault: 'none' | 'throw' | 'bad' = 'none';
  static last: TimedCsms | undefined;
  constructor() {
    TimedCsms.last = this;
  }
  async open(): Promise<void> {}
  async close(): Promise<void> {}
  async health(): Promise<HealthResult> {
    this.points.push({ protocol: 'ocpp', message: 'preflight', direction: 'csms->cp', latencyMs: 0.5 });
    return { ok: true, detail: 'fake csms' };
  }
  snapshot(): JsonObject {
    return {};
  }
  async expectCall(action: string): Promise<OcppCall> {
    return { uniqueId: '1', action, payload: {}, t: Date.now() };
  }
  async call(action: string, _payload: JsonObject): Promise<JsonObject> {
    this.points.push({ protocol: 'ocpp', message: action, direction: 'csms->cp', latencyMs: 1.25 });
    return {};
  }
  timings(): TimingPoint[] {
    if (this.fault === 'throw') {
      this.fault = 'none';
      this.points = [];
      throw new Error('wedged exchange log');
    }
    if (this.fault === 'bad') {
      this.fault = 'none';
      this.points.push({ protocol: 'ocpp', message: 'Bad', direction: 'cp->csms', latencyMs: 'slow' });
    }
    const out = this.points as TimingPoint[];
    this.points = [];
    return out;
  }
}

const TimedCsmsDriver = defineDriver({
  name: 'TimedCsms',
  description: 'test: a Csms with timings()',
  provides: ['Csms'],
  bindings: { listen: 'ListenPort' },
  options: z.object({}).strict(),
  transcript: { ext: 'log', mime: 'text/plain' },
  create: () => new TimedCsms(),
});

function timedRig(): RunnableRig {
  const rig = fakeRig({ drivers: {} });
  return {
    ...rig,
    registry: new DriverRegistry([TimedCsmsDriver]),
    config: {
      ...rig.config,
      resources: { ...rig.config.resources, csms_port: ResourceSchema.parse({ type: 'ListenPort', port: 0 }) },
      drivers: { csms: { driver: 'TimedCsms', bind: { listen: 'csms_port' }, options: {} } },
    },
  };
}

describe('executor: driver timings()', () => {
  const csmsUses = { csms: 'Csms' } as const;
  type C = Drivers<typeof csmsUses>;

  it('records each open driver\'s timings under the phase (each attempt its own), and those outside phases at run level', async () => {
    let attempt = 0;
    const first = phase<C>({ name: 'two_calls' }, async ({ d, signal }) => {
      await d.csms.call('Reset', { type: 'Soft' }, { timeoutMs: 1000, signal });
      await d.csms.call('ClearCache', {}, { timeoutMs: 1000, signal });
    });
    const flaky = phase<C>({ name: 'flaky', retry: { attempts: 2 } }, async ({ d, signal, timing }) => {
      attempt++;
      await d.csms.call(`Attempt${attempt}`, {}, { timeoutMs: 1000, signal });
      timing({ protocol: 'v2g', message: 'ByHand', direction: 'ev->secc', latencyMs: 3 });
      if (attempt === 1) throw new LinkError('csms', 'link dropped');
    });
    const { record } = await run([defineSuite({ name: 'timed', version: '1', uses: csmsUses, main: [first, flaky] })], { rig: timedRig() });
    expect(record.outcome).toBe('PASS');
    const rows = record.timings.map((t) => [t.phase ?? null, t.message, t.seq]);
    expect(rows).toEqual([
      [null, 'preflight', 0],
      ['two_calls', 'Reset', 1],
      ['two_calls', 'ClearCache', 2],
      ['flaky', 'ByHand', 3],
      ['flaky', 'Attempt1', 4],
      ['flaky', 'ByHand', 5],
      ['flaky', 'Attempt2', 6],
    ]);
    expect(record.timings[0]?.suite).toBeUndefined();
    expect(record.timings[1]).toMatchObject({ suite: 'timed', protocol: 'ocpp', direction: 'csms->cp', latencyMs: 1.25 });
    // each attempt's points carry the time of that attempt's end
    const a1 = phaseNamed(record, 'flaky', 1);
    const a2 = phaseNamed(record, 'flaky', 2);
    const t4 = record.timings[4]?.t ?? 0;
    const t6 = record.timings[6]?.t ?? 0;
    expect(t4).toBeGreaterThanOrEqual(a1.tStart);
    expect(t4).toBeLessThanOrEqual(a1.tEnd);
    expect(t6).toBeGreaterThanOrEqual(a2.tStart);
    expect(t6).toBeLessThanOrEqual(a2.tEnd);
  });

  it('a driver whose timings() throws or hands back a malformed point: a warning in the phase log, the good points kept, the phase outcome unchanged', async () => {
    const throwing = phase<C>({ name: 'throwing' }, async ({ d, signal }) => {
      await d.csms.call('Lost', {}, { timeoutMs: 1000, signal });
      (TimedCsms.last as TimedCsms).fault = 'throw';
    });
    const bad = phase<C>({ name: 'bad' }, async ({ d, signal }) => {
      await d.csms.call('Kept', {}, { timeoutMs: 1000, signal });
      (TimedCsms.last as TimedCsms).fault = 'bad';
    });
    const { record } = await run([defineSuite({ name: 'timed-bad', version: '1', uses: csmsUses, main: [throwing, bad] })], { rig: timedRig() });
    expect(record.outcome).toBe('PASS');
    expect(phaseNamed(record, 'throwing').logs.map((l) => [l.level, l.msg])).toEqual([['warn', 'driver csms: timings() failed: wedged exchange log']]);
    expect(phaseNamed(record, 'bad').logs[0]?.msg).toMatch(/^driver csms: bad timing point .*"Bad".*latencyMs/);
    expect(record.timings.filter((t) => t.phase !== undefined).map((t) => t.message)).toEqual(['Kept']);
  });
});
