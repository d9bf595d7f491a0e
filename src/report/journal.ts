// The run journal (reports/<runId>/journal.jsonl): one JSON event per line, written with a
// synchronous write() the moment it happens, so a crash or `kill -9` loses nothing that had
// finished (the kernel holds the data). Durability against a power cut: boundary events (run,
// suite and phase start/end) are fdatasync'ed before append() returns; the events in between are
// fdatasync'ed by a background group commit at most `groupCommitMs` later, so a busy phase does not
// stall the event loop on the disk for every measurement (scripts/perf/journal.ts). The record is a
// fold over these events (src/report/fold.ts) — at the normal end of a run and when
// `pnc-bench report` rebuilds a run after a crash — so both paths give the same record.
import { closeSync, fdatasync, fdatasyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type {
  AttachmentRecord,
  DutInfo,
  EmergencyStopRecord,
  ErrorInfo,
  LogLine,
  MeasurementRecord,
  Outcome,
  OutcomeDetail,
  PhaseGroup,
  RigHealthRecord,
  RigInfo,
  SeriesRecord,
  SoftwareInfo,
  ThroughputRecord,
  TimingRecord,
  Trigger,
} from './record.ts';

export const JOURNAL_FILE = 'journal.jsonl';

export type JournalEvent =
  | {
      type: 'run.start';
      t: number;
      runId: string;
      trigger: Trigger;
      software: SoftwareInfo;
      host: { hostname: string; platform: string };
      rig: RigInfo;
      dut: DutInfo;
      /** suites the run intends to execute, in order */
      plan: { name: string; file: string }[];
    }
  | {
      type: 'suite.start';
      t: number;
      suite: number;
      name: string;
      version: string;
      file: string;
      sha256: string;
      requires: string[];
    }
  | { type: 'suite.bind'; suite: number; uses: Record<string, string> }
  | { type: 'phase.start'; t: number; suite: number; phase: number; name: string; group: PhaseGroup; attempt: number }
  | { type: 'measurement'; phase: number; m: MeasurementRecord }
  /** phase null: driver traffic outside any phase, listed at run level */
  | { type: 'attachment'; phase: number | null; a: AttachmentRecord }
  | { type: 'log'; phase: number; line: LogLine }
  | {
      type: 'phase.end';
      t: number;
      phase: number;
      outcome: Outcome;
      marginal: boolean;
      reason?: string;
      error?: ErrorInfo;
      series: SeriesRecord[];
    }
  | { type: 'suite.end'; t: number; suite: number; outcome: Outcome; marginal: boolean; retried: boolean; details: OutcomeDetail[] }
  | ({ type: 'timing' } & TimingRecord)
  | ({ type: 'throughput' } & ThroughputRecord)
  | ({ type: 'health' } & RigHealthRecord)
  | ({ type: 'emergency-stop' } & EmergencyStopRecord)
  | { type: 'driver.snapshot'; driver: string; when: 'open' | 'close'; snapshot: Record<string, unknown> }
  | { type: 'run.end'; t: number; outcome: Outcome; details: OutcomeDetail[] };

const BOUNDARY = new Set<JournalEvent['type']>(['run.start', 'suite.start', 'phase.start', 'phase.end', 'suite.end', 'run.end']);

export class Journal {
  private fd: number | null;
  private pending: NodeJS.Timeout | undefined;
  private syncing = false;
  readonly file: string;

  constructor(
    file: string,
    private readonly groupCommitMs = 20,
  ) {
    this.file = file;
    this.fd = openSync(file, 'a');
  }

  /**
   * Appends one event; boundary events are durable before this returns, others within
   * groupCommitMs. Returns the line written (without the newline).
   */
  append(ev: JournalEvent): string {
    if (this.fd === null) throw new Error(`journal ${this.file} is closed`);
    const line = JSON.stringify(ev);
    writeSync(this.fd, line + '\n');
    if (BOUNDARY.has(ev.type)) {
      clearTimeout(this.pending);
      this.pending = undefined;
      fdatasyncSync(this.fd);
    } else if (!this.pending) {
      this.pending = setTimeout(() => this.backgroundSync(), this.groupCommitMs);
    }
    return line;
  }

  private backgroundSync(): void {
    this.pending = undefined;
    const fd = this.fd;
    if (fd === null || this.syncing) return;
    this.syncing = true;
    fdatasync(fd, () => {
      this.syncing = false;
    });
  }

  /** Makes everything durable and closes the file. */
  close(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
    if (this.fd !== null) {
      fdatasyncSync(this.fd);
      // an in-flight background fdatasync on this fd finishes harmlessly (EBADF is ignored)
      closeSync(this.fd);
    }
    this.fd = null;
  }
}

export class JournalError extends Error {
  override readonly name = 'JournalError';
}

/**
 * Reads a journal. A last line cut short by a crash is dropped and reported in `truncatedTail`;
 * a bad line anywhere else is corruption and throws with its line number.
 */
export function readJournal(file: string): { events: JournalEvent[]; truncatedTail: boolean } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new JournalError(`${file}: cannot read journal (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lines = text.split('\n');
  const endsClean = text.endsWith('\n') || text.length === 0;
  if (lines.at(-1) === '') lines.pop();
  const events: JournalEvent[] = [];
  let truncatedTail = false;
  lines.forEach((line, i) => {
    const last = i === lines.length - 1;
    try {
      const ev = JSON.parse(line) as JournalEvent;
      if (typeof ev !== 'object' || ev === null || typeof ev.type !== 'string') throw new Error('not an event object');
      events.push(ev);
    } catch (e) {
      if (last && !endsClean) {
        truncatedTail = true;
        return;
      }
      throw new JournalError(`${file}:${i + 1}: corrupt journal line (${(e as Error).message}): ${line.slice(0, 80)}`);
    }
  });
  if (events.length === 0 || events[0]?.type !== 'run.start') throw new JournalError(`${file}: the journal does not start with a run.start event`);
  return { events, truncatedTail };
}
