// A run session: everything one bench run does, shared by `pnc-bench run` (src/cli/main.ts) and the
// live server (src/server), so both behave the same. `prepareSession` loads what can be wrong before
// anything is touched (rig file, suites, limits: ConfigError / RigConfigError / LimitFileError); then
// `session.run()` starts the rig's simulated hardware (if any), runs the suites (runBench), writes the
// record and derived outputs, optionally exports to InfluxDB, and stops the simulator.
//
// The rig health suites (bench/health/*.suite.ts) always run first, whatever suites were chosen: a
// broken rig is then recorded INFRA before a charger suite can blame the charger. Each skips itself
// on a rig without what it checks. `health: false` (`pnc-bench run --no-health`, `"health": false`
// in the live server's POST /api/runs) leaves them out unless they were named.
//
//   const s = await prepareSession({ rigFile, suitePaths, reportsDir: 'reports', trigger: { kind: 'manual' } });
//   const off = s.on((ev) => { if (ev.type === 'journal') console.log(ev.event.type); });
//   process.once('SIGINT', () => s.abort('received SIGINT'));   // a second abort() cuts teardown short
//   const { record } = await s.run();
//
// Listeners see every journal event, the simulator's start/stop and log lines, and — every
// `snapshotIntervalMs` while drivers are open — each open driver's snapshot() (for a live view).
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JsonObject } from '../../drivers/capabilities.ts';
import { errorText } from '../../drivers/common/abort.ts';
import { nowMs as now } from '../../drivers/common/time.ts';
import { exportRunToInflux, parseInfluxUrl, type ExportResult } from '../report/influx.ts';
import type { JournalEvent } from '../report/journal.ts';
import type { RunRecord, Trigger } from '../report/record.ts';
import { hostInfo, PACKAGE_ROOT, softwareInfo } from '../report/software.ts';
import { formatRigIssue, loadRig, type LoadedRig } from '../rig/load.ts';
import type { Rig } from '../rig/rig.ts';
import { startSimulator, type RunningSimulator } from '../rig/simulator.ts';
import { runBench, type BenchResult, type LoadedSuite } from './executor.ts';
import { loadLimits, type LimitSet } from './limits.ts';
import { findSuiteFiles, loadSuites } from './load-suites.ts';

export const DEFAULT_RIG = path.join(PACKAGE_ROOT, 'rigs', 'virtual.yaml');
export const DEFAULT_SUITES = path.join(PACKAGE_ROOT, 'bench');
/** The rig health suites, added ahead of the chosen suites unless `health: false`. */
export const HEALTH_SUITES = path.join(PACKAGE_ROOT, 'bench', 'health');
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 1000;

/** The rig's simulated hardware failed to start (exit 3, like any rig fault before a record exists). */
export class SimulatorError extends Error {
  override readonly name = 'SimulatorError';
}

export interface SessionOptions {
  rigFile: string;
  /** Suite files or directories to search; default DEFAULT_SUITES (bench/). */
  suitePaths?: readonly string[];
  /** Add the rig health suites (HEALTH_SUITES) ahead of the chosen ones (default true). */
  health?: boolean;
  /** Where the run directory `<reportsDir>/<runId>/` is created. */
  reportsDir: string;
  trigger: Trigger;
  /** Also write the run's points to InfluxDB (spooled to influx.lp when unreachable). */
  influxUrl?: string;
  /** Period of the `drivers.snapshot` session events while drivers are open; 0 turns them off. */
  snapshotIntervalMs?: number;
  /** Called with each rig file warning, as soon as the rig is loaded. */
  onWarning?: (message: string) => void;
}

export type SessionEvent =
  | { type: 'simulator.starting'; t: number; name: string; description: string }
  | { type: 'simulator.started'; t: number; startMs: number }
  | { type: 'simulator.log'; t: number; level: 'debug' | 'info' | 'warn' | 'error'; msg: string }
  | { type: 'simulator.stopped'; t: number; error?: string }
  /** Every event of the run's journal, as the executor writes it. */
  | { type: 'journal'; event: JournalEvent }
  /** Periodic snapshot() of every open driver; a driver whose snapshot() throws is left out. */
  | { type: 'drivers.snapshot'; t: number; snapshots: Record<string, JsonObject> };

export interface SessionResult {
  runId: string;
  runDir: string;
  record: RunRecord;
  /** Only with `influxUrl`: what the export did. */
  influx?: ExportResult;
  /** Only with `influxUrl`: the export threw (the record is written regardless). */
  influxError?: unknown;
  /** report.html could not be built: why, and what that means (a bug; record.json and junit.xml are complete). */
  reportError?: string;
}

export type SessionState = 'prepared' | 'starting-simulator' | 'running' | 'stopping' | 'done';

export function makeRunId(rigId: string): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
  return `${stamp}-${rigId}-${randomBytes(3).toString('hex')}`;
}

export function benchLimitFiles(): string[] {
  const dir = path.join(PACKAGE_ROOT, 'bench', 'limits');
  try {
    return readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/**
 * The suite files a session runs, in run order: the given files and directories (default bench/),
 * plus — unless `health` is false — every rig health suite, which findSuiteFiles puts first.
 */
export function sessionSuiteFiles(suitePaths: readonly string[] | undefined, health: boolean): string[] {
  const chosen = suitePaths?.length ? [...suitePaths] : [DEFAULT_SUITES];
  return findSuiteFiles(health ? [HEALTH_SUITES, ...chosen] : chosen);
}

/**
 * Loads and checks everything a run needs, touching no hardware and creating no run directory.
 * Throws InfluxUrlError, RigConfigError, ConfigError or LimitFileError for a user mistake.
 */
export async function prepareSession(opts: SessionOptions): Promise<RunSession> {
  if (opts.influxUrl) parseInfluxUrl(opts.influxUrl); // a bad URL is a usage error before anything runs
  const rig = await loadRig(opts.rigFile);
  for (const w of rig.warnings) opts.onWarning?.(formatRigIssue(w));
  const files = sessionSuiteFiles(opts.suitePaths, opts.health ?? true);
  const suites = await loadSuites(files, PACKAGE_ROOT);
  const limits = await loadLimits([...benchLimitFiles(), ...rig.limitFiles], rig.config.dut.model);
  return new RunSession(opts, rig, suites, limits);
}

export class RunSession {
  readonly runId: string;
  readonly runDir: string;
  private readonly listeners = new Set<(ev: SessionEvent) => void>();
  private readonly cancel = new AbortController();
  private readonly force = new AbortController();
  /** the running Rig (runBench's), while the suites run: its open drivers are snapshotted */
  private liveRig: Rig | undefined;
  private stateNow: SessionState = 'prepared';

  constructor(
    private readonly opts: SessionOptions,
    /** The rig as loaded before the simulator started (placeholders for simulator values). */
    readonly rig: LoadedRig,
    readonly suites: readonly LoadedSuite[],
    private readonly limits: LimitSet,
  ) {
    this.runId = makeRunId(rig.config.id);
    this.runDir = path.resolve(opts.reportsDir, this.runId);
  }

  get state(): SessionState {
    return this.stateNow;
  }

  /** Aborted once abort() was called (the run ends ABORTED). */
  get signal(): AbortSignal {
    return this.cancel.signal;
  }

  /** Adds a listener (it must not throw; errors are swallowed); returns its removal. */
  on(listener: (ev: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(ev: SessionEvent): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch {
        // a broken display must not break the run
      }
    }
  }

  /**
   * First call: cancels the run (running phases end ABORTED, teardown still runs, the record is
   * written). Second call: cuts teardown short too. Returns what this call did.
   */
  abort(reason: string): 'cancel' | 'force' | 'none' {
    if (!this.cancel.signal.aborted) {
      this.cancel.abort(new Error(reason));
      return 'cancel';
    }
    if (!this.force.signal.aborted) {
      this.force.abort(new Error(reason));
      return 'force';
    }
    return 'none';
  }

  private snapshotTick(): void {
    const open = this.liveRig?.openSlots() ?? [];
    if (open.length === 0 || this.listeners.size === 0) return;
    const snapshots: Record<string, JsonObject> = {};
    for (const slot of open) {
      try {
        const s = slot.instance.snapshot();
        if (s !== null && typeof s === 'object') snapshots[slot.name] = JSON.parse(JSON.stringify(s)) as JsonObject;
      } catch {
        // snapshot() of a broken driver: nothing to show
      }
    }
    if (Object.keys(snapshots).length) this.emit({ type: 'drivers.snapshot', t: now(), snapshots });
  }

  /** Runs the session once. Throws SimulatorError when the simulated hardware does not start. */
  async run(): Promise<SessionResult> {
    if (this.stateNow !== 'prepared') throw new Error(`session ${this.runId} was already run`);
    const simLog: string[] = [];
    let sim: RunningSimulator | undefined;
    let rig = this.rig;
    const simulator = rig.simulator;
    try {
      if (simulator) {
        this.stateNow = 'starting-simulator';
        this.emit({ type: 'simulator.starting', t: now(), name: simulator.def.name, description: simulator.def.description });
        const t0 = performance.now();
        try {
          sim = await startSimulator(simulator, rig.dir, AbortSignal.any([AbortSignal.timeout(rig.config.timeouts.openMs), this.cancel.signal]), (level, msg) => {
            simLog.push(`${new Date().toISOString()} ${level} ${msg}`);
            this.emit({ type: 'simulator.log', t: now(), level, msg });
          });
          rig = await loadRig(this.opts.rigFile, { simulatorEnv: sim.env });
          this.emit({ type: 'simulator.started', t: now(), startMs: performance.now() - t0 });
        } catch (e) {
          await sim?.stop(rig.config.timeouts.closeMs).catch(() => {});
          sim = undefined;
          // Cancelled while starting: the run below records ABORTED with every suite not started.
          // No run folder exists yet: the simulator's own lines go into the error, so nothing it said is lost.
          const tail = simLog.slice(-20);
          const said = tail.length ? `\nsimulator log (last ${tail.length} of ${simLog.length} lines):\n  ${tail.join('\n  ')}` : '';
          if (!this.cancel.signal.aborted) throw new SimulatorError(`the rig's simulated hardware (${simulator.def.name}) did not start: ${errorText(e)}${said}`);
        }
      }
      this.stateNow = 'running';
      const interval = this.opts.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS;
      const timer = interval > 0 ? setInterval(() => this.snapshotTick(), interval) : undefined;
      timer?.unref();
      let bench: BenchResult;
      try {
        bench = await runBench({
          runId: this.runId,
          runDir: this.runDir,
          rig,
          suites: this.suites,
          limits: this.limits,
          trigger: this.opts.trigger,
          software: softwareInfo(),
          host: hostInfo(),
          signal: this.cancel.signal,
          forceSignal: this.force.signal,
          onEvent: (ev) => {
            // the drivers' final snapshots: they are being closed, no periodic one after these
            if (ev.type === 'driver.snapshot' && ev.when === 'close') this.liveRig = undefined;
            this.emit({ type: 'journal', event: ev });
          },
          onRig: (r) => (this.liveRig = r),
        });
      } finally {
        clearInterval(timer);
        this.liveRig = undefined;
      }
      this.stateNow = 'stopping';
      const result: SessionResult = { runId: this.runId, runDir: this.runDir, ...bench };
      if (this.opts.influxUrl) {
        try {
          result.influx = await exportRunToInflux(this.runDir, bench.record, this.opts.influxUrl);
        } catch (e) {
          result.influxError = e;
        }
      }
      return result;
    } finally {
      this.stateNow = 'stopping';
      if (sim) {
        let error: string | undefined;
        // the simulated devices' state at the end (what the charger holds, energy delivered) closes the log
        try {
          simLog.push(`${new Date().toISOString()} info final state: ${JSON.stringify(sim.snapshot())}`);
        } catch (e) {
          simLog.push(`snapshot failed: ${errorText(e)}`);
        }
        await sim.stop(rig.config.timeouts.closeMs).catch((e: unknown) => {
          error = errorText(e);
          simLog.push(`stop failed: ${error}`);
        });
        if (existsSync(this.runDir)) writeFileSync(path.join(this.runDir, 'simulator.log'), simLog.join('\n') + '\n');
        this.emit({ type: 'simulator.stopped', t: now(), ...(error !== undefined ? { error } : {}) });
      }
      this.stateNow = 'done';
    }
  }
}
