// When building report.html throws (a bug: bad attachments never make it throw), writeRunOutputs
// writes a page saying so and returns `reportError`; `pnc-bench report <runDir>` must tell the user
// instead of printing the file list as if all were well. renderReport is made to throw here.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { JOURNAL_FILE, type JournalEvent } from '../../src/report/journal.ts';
import { sampleRecord } from '../helpers/sample-record.ts';
import { brokenReport } from '../helpers/broken-report.ts';

vi.mock('../../src/report/html.ts', (importOriginal) => import('../helpers/broken-report.ts').then((m) => m.brokenHtmlModule(importOriginal)));

const dirs: string[] = [];
afterEach(() => {
  brokenReport.on = false;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function runDirWithJournal(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pnc-report-error-'));
  dirs.push(dir);
  const rec = sampleRecord();
  const ev: JournalEvent[] = [
    { type: 'run.start', t: rec.tStart, runId: rec.runId, trigger: rec.trigger, software: rec.software, host: rec.host, rig: rec.rig, dut: rec.dut, plan: [{ name: 'x', file: 'x.suite.ts' }] },
    { type: 'suite.start', t: rec.tStart, suite: 0, name: 'x', version: '1', file: 'x.suite.ts', sha256: 'e'.repeat(64), requires: [] },
    { type: 'phase.start', t: rec.tStart, suite: 0, phase: 0, name: 'p', group: 'main', attempt: 1 },
    { type: 'phase.end', t: rec.tStart + 5, phase: 0, outcome: 'PASS', marginal: false, series: [] },
    { type: 'suite.end', t: rec.tStart + 5, suite: 0, outcome: 'PASS', marginal: false, retried: false, details: [] },
    { type: 'run.end', t: rec.tStart + 5, outcome: 'PASS', details: [] },
  ];
  writeFileSync(path.join(dir, JOURNAL_FILE), ev.map((e) => JSON.stringify(e)).join('\n') + '\n');
  return dir;
}

async function report(dir: string): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['report', dir], { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out, err };
}

describe('pnc-bench report when report.html cannot be built', () => {
  it('warns on stderr with the error, and still writes the record and a page saying so', async () => {
    const dir = runDirWithJournal();
    brokenReport.on = true;
    const r = await report(dir);
    expect(r.code).toBe(0);
    expect(r.err.join('\n')).toMatch(/^warning: report\.html could not be built: boom in the page/m);
    expect(readFileSync(path.join(dir, 'report.html'), 'utf8')).toContain('The HTML report could not be built');
    expect(JSON.parse(readFileSync(path.join(dir, 'record.json'), 'utf8')).outcome).toBe('PASS');
  });

  it('says nothing of the kind when the page was built', async () => {
    const r = await report(runDirWithJournal());
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.out.join('\n')).toContain('report.html');
  });

  it('pnc-bench run warns too (the run result is unchanged)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pnc-report-error-run-'));
    dirs.push(dir);
    const rig = path.join(dir, 'rig.yaml');
    writeFileSync(rig, 'schema: pnc-bench-rig/1\nid: no-hardware\ndut: { model: x }\nresources: {}\ndrivers: {}\n');
    brokenReport.on = true;
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['run', '--no-health', '--rig', rig, '--reports', path.join(dir, 'reports'), 'test/fixtures/suites/fail.suite.ts'], { out: (s) => out.push(s), err: (s) => err.push(s) });
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/^warning: report\.html could not be built: boom in the page/m);
  });
});
