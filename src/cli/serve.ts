// `pnc-bench serve`: the live bench server (src/server/server.ts) for one rig, until SIGINT/SIGTERM.
// A run in progress when the signal arrives is aborted (ABORTED, record written) before the server
// stops; a second signal cuts its teardown short. Exit 0 after a clean stop, 2 for a usage error
// (e.g. a non-loopback --host without a token), 3 when the port cannot be bound. Behind a TLS proxy:
// --token on 127.0.0.1, and the proxy keeps the browser's Host header (docs/server.md).
//
//   pnc-bench serve [suites…] --rig rigs/virtual.yaml [--port 8080] [--host 127.0.0.1] [--reports reports]
//                   [--token <t> | PNC_BENCH_TOKEN=<t>] [--influx <url>] [--no-probe]
import type { Command } from 'commander';
import { DEFAULT_RIG } from '../runner/session.ts';
import { DEFAULT_HOST, DEFAULT_PORT, LOOPBACK_HOSTS } from '../server/defaults.ts';
import { ServerConfigError } from '../server/errors.ts';
import type { Io } from './main.ts';

interface ServeFlags {
  rig: string;
  port: string;
  host: string;
  reports: string;
  token?: string;
  influx?: string;
  operator?: string;
  probe: boolean;
}

function parsePort(s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n > 65535) throw new ServerConfigError(`--port must be a port number from 0 to 65535, not "${s}"`);
  return n;
}

export function serveCommands(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('serve')
    .description('live bench server for one rig: HTTP API, WebSocket event stream and web view (docs/server.md)')
    .argument('[suites...]', 'suite files (*.suite.ts) or directories offered for runs (default: bench/)', [])
    .option('--rig <file>', 'rig file', DEFAULT_RIG)
    .option('--port <n>', 'TCP port (0: any free port)', String(DEFAULT_PORT))
    .option('--host <addr>', `address to bind; anything but ${LOOPBACK_HOSTS.join(', ')} needs a token`, DEFAULT_HOST)
    .option('--reports <dir>', 'where run directories are written and read', 'reports')
    .option('--token <t>', 'bearer token every API and WebSocket request must carry (default: $PNC_BENCH_TOKEN); also on loopback behind a TLS proxy (docs/server.md)')
    .option('--influx <url>', 'also write each run\'s points to InfluxDB: http(s)://[user:pass@]host:port/<db>[?rp=<policy>]')
    .option('--operator <name>', 'recorded as the operator of runs started without one', process.env.USER)
    .option('--no-probe', 'do not check the drivers\' health when the server starts')
    .action(async (suites: string[], flags: ServeFlags) => {
      const token = flags.token ?? process.env.PNC_BENCH_TOKEN;
      const port = parsePort(flags.port);
      const { startBenchServer } = await import('../server/server.ts'); // fastify loads only here
      const server = await startBenchServer({
        rigFile: flags.rig,
        suitePaths: suites,
        reportsDir: flags.reports,
        host: flags.host,
        port,
        ...(token ? { token } : {}),
        ...(flags.influx ? { influxUrl: flags.influx } : {}),
        ...(flags.operator ? { operator: flags.operator } : {}),
        probeOnStart: flags.probe,
        log: (line) => io.err(line),
      });
      io.out(`listening on ${server.url}`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const onSignal = (sig: NodeJS.Signals): void => {
          const cur = server.current();
          if (!stopping) {
            stopping = true;
            io.err(`${sig}: stopping the server${cur ? `; aborting run ${cur.runId} (its record is still written; ${sig} again to cut teardown short)` : ''}`);
            void server.close().then(() => {
              process.off('SIGINT', onSignal);
              process.off('SIGTERM', onSignal);
              resolve();
            });
          } else if (cur) {
            io.err(`${sig} again: cutting the teardown of run ${cur.runId} short`);
            server.abortCurrent(`received ${sig} twice`);
          }
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      io.err('server stopped');
      setCode(0);
    });
}
