// The fault matrix of the virtual rig: for every fault in rigs/virtual/README.md's "Fault
// injections" table, a copy of rigs/virtual.yaml with `simulator.options.faults: [<fault>]` runs the
// suite named in that row through the real `pnc-bench run` command, and the suite must FAIL with a
// phase whose error names the row's rule (a ProtocolViolation). (That every suite PASSes on the
// unmodified charger with no phase SKIPPED is the main job's acceptance test, test/cli/influx.test.ts.)
// Every run starts its own simulated rig; they go LANES at a time, longest first.
//
// Speed without weakening (about 80 s on a shared 2-core machine instead of 3 minutes; each run costs
// some 3 s of CPU just to start — module loading, schema compilation, the bench PKI — so the number
// of runs matters as much as their length):
//   - bench/limits/pnc.yaml `models: virtual-charger` shortens the windows that only watch for
//     something that must not happen (the virtual charger answers in milliseconds) — for every run,
//     the main job too;
//   - rigs/virtual.yaml itself lets the virtual EV draw 250 A (the module's rating; the EV emulator's
//     own default is 100 A), so the 50 Wh a charging session needs (a 5 % meterStop error must exceed
//     the deviation limit) flow in under 2 s — the rig copies keep that;
//   - a cert-installation run for any fault but `no-backoff` gets a rig limit file with
//     CertSigningRepeatTimes 1 (one resend instead of two: 3 s instead of 7 s); the `no-backoff` run
//     (and the main job) keep the full back-off check.
// One cert-installation fault run also drops the EV driver's `scripts.updateCertificate`: M02 must then
// be SKIPPED with the driver's reason instead of failing.
// `pnc-bench run` runs the health suites first (bench/health); three lanes on a shared 2-core host make
// timers late, so every rig copy raises the host-health timer-lateness limits (HOST_LOAD_LIMITS): the
// matrix judges rule names, not latencies, and a late timer must not turn a run INFRA.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { FAULT_NAMES } from '../../rigs/virtual/charger/faults.ts';
import { runCli, ROOT, type CliResult } from '../helpers/cli.ts';

interface FaultRow {
  fault: string;
  suite: string;
  rule: string;
}

/** The README's fault table: | `fault` | what | suite | `rule` | */
function faultTable(): FaultRow[] {
  const text = readFileSync(path.join(ROOT, 'rigs/virtual/README.md'), 'utf8');
  const section = text.split(/^## Fault injections$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows: FaultRow[] = [];
  for (const line of section.split('\n')) {
    const m = /^\|\s*`([a-z0-9-]+)`\s*\|[^|]*\|\s*([a-z0-9-]+)\s*\|\s*`([^`]+)`\s*\|\s*$/.exec(line);
    if (m) rows.push({ fault: m[1] as string, suite: m[2] as string, rule: m[3] as string });
  }
  return rows;
}

const ROWS = faultTable();
const SUITE_DIRS: Readonly<Record<string, string>> = {
  'cert-installation': 'bench/cert-installation',
  'pnc-authorization': 'bench/pnc-authorization',
  'offline-validation': 'bench/offline-validation',
  'pnc-timing': 'bench/timing',
};
/** runs at the same time (each is mostly waiting on its own simulated rig) */
const LANES = 3;
/** rough duration of a run, s: longest first keeps the lanes even */
const WEIGHT: Readonly<Record<string, number>> = { 'offline-validation': 19, 'cert-installation': 11, 'pnc-authorization': 10, 'pnc-timing': 4 };
/** the fault whose run needs the full back-off phase */
const BACKOFF_FAULT = 'no-backoff';
/** host-health limits for a host loaded by the matrix itself (bench/limits/health.yaml has 5 / 20 ms) */
const HOST_LOAD_LIMITS: Readonly<Record<string, unknown>> = {
  'health.timer_lateness_p50_ms': { max: 100, marginalMax: 50 },
  'health.timer_lateness_p99_ms': { max: 500, marginalMax: 250 },
};
/** the run that also checks M02's skip without scripts.updateCertificate */
const NO_UPDATE_SCRIPT_FAULT = 'delete-last-root';

interface RunOutcome {
  cli: CliResult;
  ms: number;
  record?: RecordShape;
}
interface PhaseShape {
  name: string;
  outcome: string;
  reason?: string;
  error?: { type: string; source?: string; message: string };
}
interface RecordShape {
  outcome: string;
  suites: { name: string; outcome: string; phases: PhaseShape[] }[];
}

interface Job {
  key: string;
  faults: string[];
  suites: string[];
  /** rig limit file entries (overriding bench/limits) */
  limits?: Record<string, unknown>;
  noUpdateScript?: boolean;
  weight: number;
}

let dir = '';
const results = new Map<string, RunOutcome>();
let matrixMs = 0;

/** A copy of rigs/virtual.yaml (EV at 250 A as there): the faults set, paths made absolute, optional limits. */
function rigWith(job: Job): string {
  const src = path.join(ROOT, 'rigs/virtual.yaml');
  const doc = parseDocument(readFileSync(src, 'utf8'));
  const mod = String(doc.getIn(['simulator', 'module']));
  doc.setIn(['simulator', 'module'], path.resolve(path.dirname(src), mod));
  doc.setIn(['simulator', 'options', 'faults'], [...job.faults]);
  if (job.noUpdateScript) doc.deleteIn(['drivers', 'ev', 'options', 'scripts', 'updateCertificate']);
  const name = job.key.replace(/[^a-z0-9-]+/g, '_');
  const limits = { ...HOST_LOAD_LIMITS, ...(job.limits ?? {}) };
  const limitsFile = path.join(dir, `${name}.limits.yaml`);
  writeFileSync(limitsFile, `schema: pnc-bench-limits/1\nlimits:\n${Object.entries(limits).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}\n`).join('')}`);
  doc.set('limits', [limitsFile]);
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, doc.toString());
  return file;
}

async function run(job: Job): Promise<void> {
  const rig = rigWith(job);
  const t0 = performance.now();
  const cli = await runCli(['run', '--rig', rig, '--reports', path.join(dir, 'reports'), '--json', ...job.suites.map((s) => SUITE_DIRS[s] as string)]);
  const ms = performance.now() - t0;
  let record: RecordShape | undefined;
  try {
    const out = JSON.parse(cli.stdout.trim().split('\n').at(-1) ?? '') as { dir: string };
    record = JSON.parse(readFileSync(path.join(out.dir, 'record.json'), 'utf8')) as RecordShape;
  } catch {
    record = undefined;
  }
  results.set(job.key, { cli, ms, ...(record ? { record } : {}) });
}

/** Runs jobs `width` at a time, in the order given. */
async function pool(jobs: (() => Promise<void>)[], width: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++] as () => Promise<void>;
      await job();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
}

function explain(r: RunOutcome | undefined): string {
  if (!r) return 'the run did not happen';
  const phases = r.record?.suites.flatMap((s) => s.phases.map((p) => `${s.name}/${p.name} ${p.outcome}${p.error?.source ? ` [${p.error.source}]` : ''}${p.reason ? `: ${p.reason.slice(0, 200)}` : ''}`)) ?? [];
  return `exit ${String(r.cli.code)}; ${phases.join('\n') || r.cli.stderr.slice(-2_000)}`;
}

function jobs(): Job[] {
  const list = ROWS.map((r): Job => {
    const fastBackoff = r.suite === 'cert-installation' && r.fault !== BACKOFF_FAULT;
    return {
      key: r.fault,
      faults: [r.fault],
      suites: [r.suite],
      ...(fastBackoff ? { limits: { 'pnc.backoff.repeat_times': 1 } } : {}),
      ...(r.fault === NO_UPDATE_SCRIPT_FAULT ? { noUpdateScript: true } : {}),
      weight: (WEIGHT[r.suite] as number) - (fastBackoff ? 4 : 0),
    };
  });
  return list.sort((a, b) => b.weight - a.weight);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pnc-fault-matrix-'));
  const t0 = performance.now();
  await pool(
    jobs().map((j) => () => run(j)),
    LANES,
  );
  matrixMs = performance.now() - t0;
  console.info(`fault matrix: ${results.size} runs in ${(matrixMs / 1000).toFixed(1)} s (${LANES} lanes): ${[...results].map(([k, r]) => `${k} ${(r.ms / 1000).toFixed(1)} s`).join(', ')}`);
}, 400_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('virtual rig fault matrix', () => {
  it('the README table names every fault the charger implements, each with a suite and a rule', () => {
    expect(ROWS.map((r) => r.fault).sort()).toEqual([...FAULT_NAMES].sort());
    for (const r of ROWS) expect(Object.keys(SUITE_DIRS)).toContain(r.suite);
  });

  for (const row of ROWS) {
    it(`${row.fault}: ${row.suite} FAILS naming ${row.rule}`, () => {
      const r = results.get(row.fault);
      const suite = r?.record?.suites.find((s) => s.name === row.suite);
      expect(suite?.outcome, explain(r)).toBe('FAIL');
      expect(r?.cli.code, explain(r)).toBe(1);
      const hit = suite?.phases.find((p) => p.outcome === 'FAIL' && p.error?.type === 'ProtocolViolation' && p.error.source === row.rule);
      expect(hit, `no FAIL phase names ${row.rule}:\n${explain(r)}`).toBeDefined();
    });
  }

  it('without scripts.updateCertificate the EV emulator cannot update a contract: M02 is SKIPPED saying so', () => {
    const r = results.get(NO_UPDATE_SCRIPT_FAULT);
    const m02 = r?.record?.suites.flatMap((s) => s.phases).find((p) => p.name === 'm02_contract_update');
    expect(m02?.outcome, explain(r)).toBe('SKIPPED');
    expect(m02?.reason).toBe("updateCertificate() is not supported by this rig's EV emulator (set options.scripts.updateCertificate of driver ev): M02 not exercised");
  });
});
