// The fault matrix of the virtual rig: for every fault in rigs/virtual/README.md's "Fault
// injections" table, a copy of rigs/virtual.yaml with `simulator.options.faults: [<fault>]` runs the
// suite named in that row through the real `pnc-bench run` command, and the suite must FAIL with a
// phase whose error names the row's rule (a ProtocolViolation). One clean run of every PnC suite on
// the unmodified charger must PASS. Runs go two at a time (each starts its own simulated rig).
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
const CLEAN_SUITES = ['bench/cert-installation', 'bench/pnc-authorization', 'bench/offline-validation', 'bench/timing'];

interface RunOutcome {
  cli: CliResult;
  record?: RecordShape;
}
interface RecordShape {
  outcome: string;
  suites: { name: string; outcome: string; phases: { name: string; outcome: string; reason?: string; error?: { type: string; source?: string; message: string } }[] }[];
}

let dir = '';
const results = new Map<string, RunOutcome>();

/** A copy of rigs/virtual.yaml with the faults set and the simulator module path made absolute. */
function rigWith(faults: readonly string[], name: string): string {
  const src = path.join(ROOT, 'rigs/virtual.yaml');
  const doc = parseDocument(readFileSync(src, 'utf8'));
  const mod = String(doc.getIn(['simulator', 'module']));
  doc.setIn(['simulator', 'module'], path.resolve(path.dirname(src), mod));
  doc.setIn(['simulator', 'options', 'faults'], [...faults]);
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, doc.toString());
  return file;
}

async function run(key: string, faults: readonly string[], suites: readonly string[]): Promise<void> {
  const rig = rigWith(faults, key);
  const cli = await runCli(['run', '--rig', rig, '--reports', path.join(dir, 'reports'), '--json', ...suites]);
  let record: RecordShape | undefined;
  try {
    const out = JSON.parse(cli.stdout.trim().split('\n').at(-1) ?? '') as { dir: string };
    record = JSON.parse(readFileSync(path.join(out.dir, 'record.json'), 'utf8')) as RecordShape;
  } catch {
    record = undefined;
  }
  results.set(key, { cli, ...(record ? { record } : {}) });
}

/** Runs jobs `width` at a time. */
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

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pnc-fault-matrix-'));
  // the longest runs first, so the two lanes end together
  const jobs = [
    () => run('clean', [], CLEAN_SUITES),
    ...ROWS.map((r) => () => run(r.fault, [r.fault], [`bench/${r.suite}`])),
  ];
  await pool(jobs, 2);
}, 420_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('virtual rig fault matrix', () => {
  it('the README table names every fault the charger implements, each with a suite and a rule', () => {
    expect(ROWS.map((r) => r.fault).sort()).toEqual([...FAULT_NAMES].sort());
    expect(ROWS.length).toBeGreaterThanOrEqual(10);
  });

  it('the clean charger passes every PnC suite', () => {
    const r = results.get('clean');
    expect(r?.record?.outcome, explain(r)).toBe('PASS');
    expect(r?.cli.code).toBe(0);
    expect(r?.record?.suites.map((s) => s.name).sort()).toEqual(['cert-installation', 'offline-validation', 'pnc-authorization', 'pnc-timing']);
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
});
