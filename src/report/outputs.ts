// Writing a run's files: record.json (atomically: temp file, fsync, rename, fsync of the folder)
// and the outputs derived from it (junit.xml, report.html). `rebuildRun` re-derives everything from
// the journal, which is what `pnc-bench report <runDir>` does after a crash or to refresh outputs.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { foldJournal } from './fold.ts';
import { JOURNAL_FILE, readJournal } from './journal.ts';
import { renderReport, renderReportFailure, REPORT_FILE } from './html.ts';
import { toJUnit } from './junit.ts';
import { RunRecord } from './record.ts';

export const RECORD_FILE = 'record.json';
export const JUNIT_FILE = 'junit.xml';
export { REPORT_FILE };

/** Writes `data` to `file` so that a reader sees either the old or the whole new content. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * Validates the record against its schema, then writes record.json, junit.xml and report.html (in
 * that order: the record is never held up by a derived output). report.html reads the run's
 * attachments; it does not throw for missing or corrupt ones (the page lists them), and should
 * building it fail anyway, a page saying why is written and the error returned in `reportError`, a
 * sentence that explains itself (callers print it as `warning: ${reportError}`).
 */
export function writeRunOutputs(runDir: string, record: RunRecord): { files: string[]; reportError?: string } {
  const checked = RunRecord.parse(record);
  writeFileAtomic(path.join(runDir, RECORD_FILE), JSON.stringify(checked, null, 2) + '\n');
  writeFileAtomic(path.join(runDir, JUNIT_FILE), toJUnit(checked));
  let html: string;
  let reportError: string | undefined;
  try {
    html = renderReport(checked, { runDir });
  } catch (e) {
    reportError = `report.html could not be built: ${e instanceof Error ? e.message : String(e)} (a bug: the page written says so; record.json and junit.xml are complete)`;
    html = renderReportFailure(checked, e);
  }
  writeFileAtomic(path.join(runDir, REPORT_FILE), html);
  return reportError === undefined ? { files: [RECORD_FILE, JUNIT_FILE, REPORT_FILE] } : { files: [RECORD_FILE, JUNIT_FILE, REPORT_FILE], reportError };
}

/** Rebuilds record.json and every derived output of a run directory from its journal. */
export function rebuildRun(runDir: string): { record: RunRecord; truncatedTail: boolean; files: string[]; reportError?: string } {
  const { events, truncatedTail } = readJournal(path.join(runDir, JOURNAL_FILE));
  const record = foldJournal(events, { truncatedTail });
  return { record, truncatedTail, ...writeRunOutputs(runDir, record) };
}
