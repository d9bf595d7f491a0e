// Benchmark: how long report.html takes to render and how big it gets, for synthetic records of
// growing size (the sample run of test/helpers/sample-record.ts with more timing points, longer
// series and more busy phases) and for real run folders given as arguments. Prints a table; run
// with `npx tsx scripts/perf/report.ts [reports/<runId> …]`. The size limit itself is a unit test
// (test/report/html-units.test.ts); the time is only printed here.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderReport } from '../../src/report/html.ts';
import type { RunRecord } from '../../src/report/record.ts';
import { writeSampleRun, type SampleRunOptions } from '../../test/helpers/sample-record.ts';

/** Best and median of `rounds` renders after one warm-up, in ms, and the page size in bytes. */
function measure(record: RunRecord, runDir: string, rounds = 5): { bestMs: number; medianMs: number; bytes: number } {
  let html = renderReport(record, { runDir }); // warm-up (module JIT)
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    html = renderReport(record, { runDir });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { bestMs: times[0] ?? 0, medianMs: times[Math.floor(times.length / 2)] ?? 0, bytes: Buffer.byteLength(html) };
}

const rows: string[][] = [];
const cases: Array<[string, SampleRunOptions]> = [
  ['sample', {}],
  ['8k timings, 20k-point series', { timingPoints: 8000, seriesPoints: 20_000, currentDemandLoops: 2000 }],
  ['… and 40 busy phases', { timingPoints: 8000, seriesPoints: 20_000, currentDemandLoops: 2000, busyPhases: 40 }],
  ['50k timings, 100k-point series, 100 phases', { timingPoints: 50_000, seriesPoints: 100_000, currentDemandLoops: 5000, busyPhases: 100 }],
];
for (const [name, opts] of cases) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pnc-bench-perf-report-'));
  try {
    const { record } = writeSampleRun(dir, opts);
    const r = measure(record, dir);
    rows.push([name, r.bestMs.toFixed(1), r.medianMs.toFixed(1), (r.bytes / 1e6).toFixed(3)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
for (const runDir of process.argv.slice(2)) {
  const record = JSON.parse(readFileSync(path.join(runDir, 'record.json'), 'utf8')) as RunRecord;
  const r = measure(record, runDir);
  rows.push([path.basename(path.resolve(runDir)), r.bestMs.toFixed(1), r.medianMs.toFixed(1), (r.bytes / 1e6).toFixed(3)]);
}

const widths = [Math.max(6, ...rows.map((r) => (r[0] ?? '').length)), 8, 9, 7];
const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[0] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
console.log('report.html render time (best and median of 5 after a warm-up) and size');
console.log(line(['record', 'best_ms', 'median_ms', 'size_MB']));
for (const r of rows) console.log(line(r));
