// The `pnc-bench` command. `main(argv)` parses the arguments, does the work and returns the exit
// code: 0 PASS, 1 FAIL (or TIMEOUT), 2 usage or configuration error, 3 INFRA / ERROR / ABORTED.
//
//   pnc-bench run [suites…] [--rig rigs/virtual.yaml] [--influx http://host:8086/db] [--reports reports] [--json]
//   pnc-bench rig check <file>
//   pnc-bench report <runDir>
//   pnc-bench upload <runDir> --influx <url>
//   pnc-bench pki init <dir> [--seed s] | pki show <dir>     (src/cli/pki.ts)
//   pnc-bench csms --port <p> [--profile 0..3] [--pki <dir>] (src/cli/csms.ts)
//   pnc-bench exi decode <hex|base64|@file> | exi encode   (src/cli/exi.ts)
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import {
  exportRunToInflux,
  InfluxRejectedError,
  InfluxUnavailableError,
  InfluxUrlError,
  parseInfluxUrl,
  redactInfluxUrl,
  RunUploadError,
  uploadRun,
} from '../report/influx.ts';
import { JournalError } from '../report/journal.ts';
import { rebuildRun } from '../report/outputs.ts';
import { exitCodeFor, type RunRecord, type Trigger } from '../report/record.ts';
import { hostInfo, PACKAGE_ROOT, softwareInfo } from '../report/software.ts';
import { formatRigIssue, loadRig, RigConfigError, type LoadedRig } from '../rig/load.ts';
import { startSimulator, type RunningSimulator } from '../rig/simulator.ts';
import { ConfigError } from '../runner/errors.ts';
import { runBench } from '../runner/executor.ts';
import { LimitFileError, loadLimits } from '../runner/limits.ts';
import { findSuiteFiles, loadSuites } from '../runner/load-suites.ts';
import { csmsCommands } from './csms.ts';
import { exiCommands } from './exi.ts';
import { pkiCommands } from './pki.ts';
import { Progress } from './progress.ts';
import { rigCheck } from './rig.ts';

export const EXIT = { PASS: 0, FAIL: 1, CONFIG: 2, INFRA: 3 } as const;

export const DEFAULT_RIG = path.join(PACKAGE_ROOT, 'rigs', 'virtual.yaml');
export const DEFAULT_SUITES = path.join(PACKAGE_ROOT, 'bench');

interface RunFlags {
  rig: string;
  influx?: string;
  reports: string;
  json?: boolean;
  trigger: Trigger['kind'];
  operator?: string;
}

function makeRunId(rigId: string): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
  return `${stamp}-${rigId}-${randomBytes(3).toString('hex')}`;
}

function benchLimitFiles(): string[] {
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

async function runCommand(suitePaths: string[], flags: RunFlags, io: Io): Promise<number> {
  if (flags.influx) parseInfluxUrl(flags.influx); // a bad URL is a usage error before anything runs
  let rig = await loadRig(flags.rig);
  const progressOut = flags.json ? process.stderr : process.stdout;
  for (const w of rig.warnings) io.err(`warning: ${formatRigIssue(w)}`);
  const files = findSuiteFiles(suitePaths.length ? suitePaths : [DEFAULT_SUITES]);
  const suites = await loadSuites(files, PACKAGE_ROOT);
  const limits = await loadLimits([...benchLimitFiles(), ...rig.limitFiles], rig.config.dut.model);

  const runId = makeRunId(rig.config.id);
  const runDir = path.resolve(flags.reports, runId);
  // A rig with simulated hardware: start it, then resolve the file again with the values it provides.
  const simLog: string[] = [];
  let sim: RunningSimulator | undefined;
  const simulator = rig.simulator;
  if (simulator) {
    const say = flags.json ? io.err : io.out;
    say(`starting simulated hardware: ${simulator.def.description}`);
    const t0 = performance.now();
    try {
      sim = await startSimulator(simulator, rig.dir, AbortSignal.timeout(rig.config.timeouts.openMs), (level, msg) => {
        simLog.push(`${new Date().toISOString()} ${level} ${msg}`);
        if (level === 'error') io.err(`simulator: ${msg}`);
      });
      rig = await loadRig(flags.rig, { simulatorEnv: sim.env });
    } catch (e) {
      await sim?.stop(rig.config.timeouts.closeMs).catch(() => {});
      throw new SimulatorError(`the rig's simulated hardware (${simulator.def.name}) did not start: ${e instanceof Error ? e.message : String(e)}`);
    }
    say(`simulated hardware up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  try {
    return await runLoadedRig(rig, suites, limits, runId, runDir, flags, io, progressOut);
  } finally {
    if (sim) {
      await sim.stop(rig.config.timeouts.closeMs).catch((e: unknown) => simLog.push(`stop failed: ${e instanceof Error ? e.message : String(e)}`));
      if (existsSync(runDir)) writeFileSync(path.join(runDir, 'simulator.log'), simLog.join('\n') + '\n');
    }
  }
}

async function runLoadedRig(
  rig: LoadedRig,
  suites: Awaited<ReturnType<typeof loadSuites>>,
  limits: Awaited<ReturnType<typeof loadLimits>>,
  runId: string,
  runDir: string,
  flags: RunFlags,
  io: Io,
  progressOut: NodeJS.WriteStream,
): Promise<number> {
  const cancel = new AbortController();
  const force = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!cancel.signal.aborted) {
      io.err(`\n${sig}: cancelling the run; teardown still runs (${sig} again to cut teardown short)`);
      cancel.abort(new Error(`received ${sig}`));
    } else if (!force.signal.aborted) {
      io.err(`\n${sig} again: cutting teardown short; the record is still written`);
      force.abort(new Error(`received ${sig} twice`));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const progress = new Progress(progressOut);
  let record: RunRecord;
  try {
    record = await runBench({
      runId,
      runDir,
      rig: rig as Parameters<typeof runBench>[0]['rig'],
      suites,
      limits,
      trigger: { kind: flags.trigger, ...(flags.operator ? { operator: flags.operator } : {}), ...ciInfo() },
      software: softwareInfo(),
      host: hostInfo(),
      signal: cancel.signal,
      forceSignal: force.signal,
      onEvent: (ev) => progress.onEvent(ev),
    });
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const say = flags.json ? io.err : io.out;
  say(`\n${record.outcome}${record.marginal ? ' (marginal)' : ''}${record.retried ? ' (retried)' : ''}  run ${runId}  ${(record.durationMs / 1000).toFixed(1)} s`);
  for (const d of record.outcomeDetails) say(`  ${d.code}: ${d.message}`);
  const rel = path.relative(process.cwd(), runDir);
  say(`record: ${rel && !rel.startsWith('..') ? rel : runDir}/record.json, junit.xml`);
  if (flags.influx) {
    const r = await exportRunToInflux(runDir, record, flags.influx);
    if ('written' in r) say(`influx: ${r.written} points written to ${redactInfluxUrl(flags.influx)}`);
    else say(`influx: server unavailable (${r.reason}); ${r.spooled} points spooled to ${r.spoolFile} — replay with: pnc-bench upload ${runDir} --influx <url>`);
  }
  if (flags.json) io.out(JSON.stringify({ runId, outcome: record.outcome, dir: runDir }));
  return exitCodeFor(record.outcome);
}

function ciInfo(): Pick<Trigger, 'ciJobUrl' | 'pipelineId'> {
  const e = process.env;
  const url = e.CI_JOB_URL ?? (e.GITHUB_SERVER_URL && e.GITHUB_REPOSITORY && e.GITHUB_RUN_ID ? `${e.GITHUB_SERVER_URL}/${e.GITHUB_REPOSITORY}/actions/runs/${e.GITHUB_RUN_ID}` : undefined);
  const pipeline = e.CI_PIPELINE_ID ?? e.GITHUB_RUN_ID;
  return { ...(url ? { ciJobUrl: url } : {}), ...(pipeline ? { pipelineId: pipeline } : {}) };
}

/** The rig's simulated hardware failed to start (exit 3, like any rig fault before a record exists). */
class SimulatorError extends Error {
  override readonly name = 'SimulatorError';
}

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

const defaultIo: Io = {
  out: (s) => void process.stdout.write(s + '\n'),
  err: (s) => void process.stderr.write(s + '\n'),
};

/** Maps a thrown error to its exit code and message. */
function report(e: unknown, io: Io): number {
  if (e instanceof RigConfigError) {
    for (const i of e.issues) io.err(formatRigIssue(i));
    return EXIT.CONFIG;
  }
  if (e instanceof ConfigError || e instanceof LimitFileError || e instanceof InfluxUrlError || e instanceof JournalError || e instanceof RunUploadError) {
    io.err(`error: ${e.message}`);
    return EXIT.CONFIG;
  }
  if (e instanceof InfluxUnavailableError || e instanceof InfluxRejectedError || e instanceof SimulatorError) {
    io.err(`error: ${e.message}`);
    return EXIT.INFRA;
  }
  io.err(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return EXIT.INFRA;
}

export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  let code = 0;
  const program = new Command('pnc-bench')
    .description('Hardware-in-the-loop test bench for ISO 15118 Plug & Charge over OCPP 1.6J')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError('(pnc-bench --help for usage)');

  program
    .command('run')
    .description('run bench suites on a rig and write the run record (default: every suite under bench/ on the virtual rig)')
    .argument('[suites...]', 'suite files (*.suite.ts) or directories to search', [])
    .option('--rig <file>', 'rig file', DEFAULT_RIG)
    .option('--influx <url>', 'also write points to InfluxDB: http(s)://[user:pass@]host:port/<db>[?rp=<policy>]')
    .option('--reports <dir>', 'where run directories are written', 'reports')
    .option('--json', 'print {runId, outcome, dir} as JSON on stdout (progress goes to stderr)')
    .addOption(new Option('--trigger <kind>', 'why this run happened').choices(['manual', 'ci', 'nightly', 'precert']).default(process.env.CI ? 'ci' : 'manual'))
    .option('--operator <name>', 'who started the run (recorded)', process.env.USER)
    .action(async (suites: string[], flags: RunFlags) => {
      code = await runCommand(suites, flags, io);
    });

  program
    .command('rig')
    .description('rig files')
    .command('check')
    .description('validate a rig file without touching hardware (exit 0 valid, 2 invalid)')
    .argument('<file>', 'rig file')
    .action(async (file: string) => {
      code = await rigCheck(file, io);
    });

  program
    .command('report')
    .description('rebuild record.json and every derived output of a run from its journal (after a crash or kill -9)')
    .argument('<runDir>', 'run directory (reports/<runId>)')
    .action(async (runDir: string) => {
      const { record, truncatedTail, files } = rebuildRun(runDir);
      if (truncatedTail) io.err('warning: the journal\'s last line was cut short (crash mid-write); it was dropped');
      const phases = record.suites.reduce((n, s) => n + s.phases.length, 0);
      io.out(`${record.outcome}${record.recovered ? ' (recovered from an unfinished journal)' : ''}  run ${record.runId}: ${record.suites.length} suite(s), ${phases} phase(s)`);
      io.out(`wrote ${files.map((f) => path.join(runDir, f)).join(', ')}`);
      code = 0;
    });

  program
    .command('upload')
    .description('write a run\'s points to InfluxDB: replays influx.lp if the run spooled, else derives them from record.json; uploading twice writes no duplicates')
    .argument('<runDir>', 'run directory (reports/<runId>)')
    .requiredOption('--influx <url>', 'http(s)://[user:pass@]host:port/<db>[?rp=<policy>]')
    .action(async (runDir: string, flags: { influx: string }) => {
      parseInfluxUrl(flags.influx);
      const r = await uploadRun(runDir, flags.influx);
      io.out(`influx: ${r.written} points from ${r.source === 'spool' ? 'influx.lp' : 'record.json'} written to ${redactInfluxUrl(flags.influx)}`);
      code = 0;
    });

  const setCode = (c: number): void => {
    code = c;
  };
  pkiCommands(program, io, setCode);
  csmsCommands(program, io, setCode);
  exiCommands(program, io, setCode);

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return EXIT.CONFIG;
    }
    return report(e, io);
  }
  return code;
}
