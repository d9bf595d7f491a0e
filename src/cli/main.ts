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
//   pnc-bench serve [suites…] --rig <file> [--port 8080] [--host 127.0.0.1] [--token t] (src/cli/serve.ts)
//
// `run` goes through the run session (src/runner/session.ts), the same one the live server uses.
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import {
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
import { exitCodeForRun, type Trigger } from '../report/record.ts';
import { isHealthSuiteFile } from '../runner/load-suites.ts';
import { formatRigIssue, RigConfigError } from '../rig/load.ts';
import { ConfigError } from '../runner/errors.ts';
import { LimitFileError } from '../runner/limits.ts';
import { DEFAULT_RIG, prepareSession, SimulatorError, type SessionResult } from '../runner/session.ts';
import { csmsCommands } from './csms.ts';
import { exiCommands } from './exi.ts';
import { pkiCommands } from './pki.ts';
import { Progress } from './progress.ts';
import { rigCheck } from './rig.ts';
import { ServerConfigError, ServerListenError } from '../server/errors.ts';
import { serveCommands } from './serve.ts';

export const EXIT = { PASS: 0, FAIL: 1, CONFIG: 2, INFRA: 3 } as const;

interface RunFlags {
  rig: string;
  influx?: string;
  reports: string;
  json?: boolean;
  trigger: Trigger['kind'];
  operator?: string;
  /** false with --no-health */
  health: boolean;
}

async function runCommand(suitePaths: string[], flags: RunFlags, io: Io): Promise<number> {
  const session = await prepareSession({
    rigFile: flags.rig,
    suitePaths,
    health: flags.health,
    reportsDir: flags.reports,
    trigger: { kind: flags.trigger, ...(flags.operator ? { operator: flags.operator } : {}), ...ciInfo() },
    ...(flags.influx ? { influxUrl: flags.influx } : {}),
    snapshotIntervalMs: 0,
    onWarning: (w) => io.err(`warning: ${w}`),
  });
  const say = flags.json ? io.err : io.out;
  const progress = new Progress(flags.json ? process.stderr : process.stdout);
  session.on((ev) => {
    if (ev.type === 'journal') progress.onEvent(ev.event);
    else if (ev.type === 'simulator.starting') say(`starting simulated hardware: ${ev.description}`);
    else if (ev.type === 'simulator.started') say(`simulated hardware up in ${(ev.startMs / 1000).toFixed(1)} s`);
    else if (ev.type === 'simulator.log' && ev.level === 'error') io.err(`simulator: ${ev.msg}`);
  });
  const onSignal = (sig: NodeJS.Signals) => {
    const did = session.abort(`received ${sig}${session.signal.aborted ? ' twice' : ''}`);
    if (did === 'cancel') io.err(`\n${sig}: cancelling the run; teardown still runs (${sig} again to cut teardown short)`);
    else if (did === 'force') io.err(`\n${sig} again: cutting teardown short; the record is still written`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let result: SessionResult;
  try {
    result = await session.run();
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const { record, runId, runDir } = result;
  say(`\n${record.outcome}${record.marginal ? ' (marginal)' : ''}${record.retried ? ' (retried)' : ''}  run ${runId}  ${(record.durationMs / 1000).toFixed(1)} s`);
  for (const d of record.outcomeDetails) say(`  ${d.code}: ${d.message}`);
  const rel = path.relative(process.cwd(), runDir);
  say(`record: ${rel && !rel.startsWith('..') ? rel : runDir}/record.json, junit.xml, report.html`);
  if (result.reportError !== undefined) io.err(`warning: ${result.reportError}`);
  if (flags.influx) {
    if (result.influxError !== undefined) throw result.influxError;
    const r = result.influx;
    if (r && 'written' in r) say(`influx: ${r.written} points written to ${redactInfluxUrl(flags.influx)}`);
    else if (r) say(`influx: server unavailable (${r.reason}); ${r.spooled} points spooled to ${r.spoolFile} — replay with: pnc-bench upload ${runDir} --influx <url>`);
  }
  if (flags.json) io.out(JSON.stringify({ runId, outcome: record.outcome, dir: runDir }));
  return exitCodeForRun(record, (s) => isHealthSuiteFile(s.file));
}

function ciInfo(): Pick<Trigger, 'ciJobUrl' | 'pipelineId'> {
  const e = process.env;
  const url = e.CI_JOB_URL ?? (e.GITHUB_SERVER_URL && e.GITHUB_REPOSITORY && e.GITHUB_RUN_ID ? `${e.GITHUB_SERVER_URL}/${e.GITHUB_REPOSITORY}/actions/runs/${e.GITHUB_RUN_ID}` : undefined);
  const pipeline = e.CI_PIPELINE_ID ?? e.GITHUB_RUN_ID;
  return { ...(url ? { ciJobUrl: url } : {}), ...(pipeline ? { pipelineId: pipeline } : {}) };
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
  if (e instanceof ConfigError || e instanceof ServerConfigError || e instanceof LimitFileError || e instanceof InfluxUrlError || e instanceof JournalError || e instanceof RunUploadError) {
    io.err(`error: ${e.message}`);
    return EXIT.CONFIG;
  }
  if (e instanceof InfluxUnavailableError || e instanceof InfluxRejectedError || e instanceof SimulatorError || e instanceof ServerListenError) {
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
    .option('--no-health', 'do not add the rig health suites (bench/health/) ahead of the chosen suites')
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
      const { record, truncatedTail, files, reportError } = rebuildRun(runDir);
      if (truncatedTail) io.err('warning: the journal\'s last line was cut short (crash mid-write); it was dropped');
      if (reportError !== undefined) io.err(`warning: ${reportError}`);
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
  serveCommands(program, io, setCode);

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
