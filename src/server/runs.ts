// Past runs for the live server: lists `<reports>/<runId>/` folders newest first (reading only as
// many as asked for, asynchronously) and resolves a run's files. A run id from a URL is checked against RUN_ID_PATTERN before it is joined to a path,
// and the joined path must stay inside the reports folder, so `..`, slashes and NUL cannot escape.
//
//   const runs = new RunStore('reports');
//   await runs.list(50)           // [{ runId, status: 'done', outcome: 'PASS', ... }, ...]
//   runs.file(id, 'report.html')  // absolute path, or throws RunIdError / RunNotFoundError
import { existsSync, promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import { JOURNAL_FILE } from '../report/journal.ts';
import { JUNIT_FILE, RECORD_FILE, REPORT_FILE } from '../report/outputs.ts';
import type { Outcome } from '../report/record.ts';

/** What makeRunId produces (`20261121-113719-<rig>-<hex>`), and only safe characters in any case. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$/;

/** The files of a run the API serves, by the name used in the URL. */
export const RUN_FILES = { 'record.json': RECORD_FILE, 'report.html': REPORT_FILE, 'junit.xml': JUNIT_FILE } as const;
export type RunFileName = keyof typeof RUN_FILES;

export class RunIdError extends Error {
  override readonly name = 'RunIdError';
}
export class RunNotFoundError extends Error {
  override readonly name = 'RunNotFoundError';
}

export interface RunSummary {
  runId: string;
  /** done: record.json written; incomplete: journal only (running now, or crashed — `pnc-bench report` rebuilds it) */
  status: 'done' | 'incomplete';
  outcome: Outcome | null;
  marginal: boolean;
  startedAt: string | null;
  durationMs: number | null;
  rig: string | null;
  suites: string[];
  trigger: string | null;
  files: RunFileName[];
}

interface CacheEntry {
  mtimeMs: number;
  summary: RunSummary;
}

export class RunStore {
  readonly dir: string;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(reportsDir: string) {
    this.dir = path.resolve(reportsDir);
  }

  /** The run's folder; throws RunIdError for a malformed id, RunNotFoundError when there is none. */
  runDir(runId: string): string {
    if (!RUN_ID_PATTERN.test(runId)) throw new RunIdError(`"${runId.slice(0, 80)}" is not a run id (letters, digits, "-" and "_")`);
    const dir = path.join(this.dir, runId);
    if (path.dirname(dir) !== this.dir) throw new RunIdError(`"${runId}" is not a run id`);
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir || !(existsSync(path.join(dir, RECORD_FILE)) || existsSync(path.join(dir, JOURNAL_FILE)))) throw new RunNotFoundError(`no run ${runId} in ${this.dir}`);
    return dir;
  }

  /** Absolute path of one of the run's files; RunNotFoundError when the run does not have it (yet). */
  file(runId: string, name: RunFileName): string {
    const dir = this.runDir(runId);
    const f = path.join(dir, RUN_FILES[name]);
    if (!existsSync(f)) throw new RunNotFoundError(existsSync(path.join(dir, RECORD_FILE)) ? `run ${runId} has no ${name}` : `run ${runId} has no ${name} yet (it is running, or it crashed: pnc-bench report rebuilds it)`);
    return f;
  }

  /** The run's summary, from its record (done) or the first line of its journal (incomplete); null when it has neither. */
  private async summarize(runId: string, dir: string): Promise<RunSummary | null> {
    const recordFile = path.join(dir, RECORD_FILE);
    const journalFile = path.join(dir, JOURNAL_FILE);
    let probe = recordFile;
    let mtimeMs: number;
    try {
      mtimeMs = (await fsp.stat(recordFile)).mtimeMs;
    } catch {
      try {
        probe = journalFile;
        mtimeMs = (await fsp.stat(journalFile)).mtimeMs;
      } catch {
        return null;
      }
    }
    const hit = this.cache.get(runId);
    if (hit && hit.mtimeMs === mtimeMs && hit.summary.status === (probe === recordFile ? 'done' : 'incomplete')) return hit.summary;
    const files: RunFileName[] = [];
    for (const n of Object.keys(RUN_FILES) as RunFileName[]) if (await exists(path.join(dir, RUN_FILES[n]))) files.push(n);
    let summary: RunSummary;
    if (probe === recordFile) {
      try {
        const r = JSON.parse(await fsp.readFile(recordFile, 'utf8')) as {
          outcome?: Outcome;
          marginal?: boolean;
          startedAt?: string;
          durationMs?: number;
          rig?: { id?: string };
          suites?: { name?: string }[];
          trigger?: { kind?: string };
        };
        summary = {
          runId,
          status: 'done',
          outcome: r.outcome ?? null,
          marginal: r.marginal === true,
          startedAt: r.startedAt ?? null,
          durationMs: typeof r.durationMs === 'number' ? r.durationMs : null,
          rig: r.rig?.id ?? null,
          suites: (r.suites ?? []).map((s) => String(s.name)),
          trigger: r.trigger?.kind ?? null,
          files,
        };
      } catch {
        return null; // an unreadable record is not listed (record.json is written atomically, so this is damage)
      }
    } else {
      let startedAt: string | null = null;
      let rig: string | null = null;
      try {
        const first = JSON.parse(await firstLine(journalFile)) as { t?: number; rig?: { id?: string } };
        if (typeof first.t === 'number') startedAt = new Date(first.t).toISOString();
        rig = first.rig?.id ?? null;
      } catch {
        // a journal cut short in its first line: listed without details
      }
      summary = { runId, status: 'incomplete', outcome: null, marginal: false, startedAt, durationMs: null, rig, suites: [], trigger: null, files };
    }
    this.cache.set(runId, { mtimeMs, summary });
    return summary;
  }

  /**
   * Up to `limit` runs of the reports folder, newest first. Run ids start with their UTC start time
   * to the second, so the folders are sorted by name and only the newest are read (plus any others
   * started in the same second as the last one taken, to order those by their recorded start); a
   * folder that is not a run is passed over. Nothing blocks the server while the files are read.
   */
  async list(limit = 100): Promise<RunSummary[]> {
    let names: string[];
    try {
      names = (await fsp.readdir(this.dir, { withFileTypes: true })).filter((e) => e.isDirectory() && RUN_ID_PATTERN.test(e.name)).map((e) => e.name);
    } catch {
      return [];
    }
    names.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    const second = (name: string): string => /^\d{8}-\d{6}/.exec(name)?.[0] ?? name;
    const out: RunSummary[] = [];
    let lastSecond: string | undefined;
    for (const n of names) {
      if (out.length >= limit && second(n) !== lastSecond) break;
      const s = await this.summarize(n, path.join(this.dir, n));
      if (!s) continue;
      out.push(s);
      lastSecond = second(n);
    }
    out.sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? '') || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0));
    return out.slice(0, limit);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

/** The first line of a file, reading at most its first 64 KiB (a journal can be large). */
async function firstLine(file: string): Promise<string> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8').split('\n', 1)[0] ?? '';
  } finally {
    await fh.close();
  }
}
