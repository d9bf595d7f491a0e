// Benchmark: how fast the run journal takes events (each appended and fdatasync'ed) on the disk
// holding the reports folder. Prints a table; run with `npx tsx scripts/perf/journal.ts [dir]`.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Journal } from '../../src/report/journal.ts';

const base = process.argv[2] ?? os.tmpdir();
const dir = mkdtempSync(path.join(base, 'pnc-bench-perf-'));
const rows: string[][] = [];
for (const n of [1_000, 5_000]) {
  const j = new Journal(path.join(dir, `j${n}.jsonl`));
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    j.append({ type: 'log', phase: 0, line: { t: performance.timeOrigin + s, level: 'info', msg: `event ${i} ${'x'.repeat(80)}` } });
    lat.push(performance.now() - s);
  }
  const total = performance.now() - t0;
  j.close();
  lat.sort((a, b) => a - b);
  const q = (p: number) => (lat[Math.floor(p * (lat.length - 1))] ?? 0).toFixed(3);
  rows.push([String(n), (n / (total / 1000)).toFixed(0), q(0.5), q(0.99), (lat.at(-1) ?? 0).toFixed(3)]);
}
rmSync(dir, { recursive: true, force: true });
console.log(`journal append + fdatasync on ${base}`);
console.log('events  events/s  p50_ms  p99_ms  max_ms');
for (const r of rows) console.log(r.map((c, i) => c.padStart([6, 8, 6, 6, 6][i] ?? 6)).join('  '));
