// Test helper: starts a real, throw-away InfluxDB 1.x server (`influxd`) for integration tests.
// Use once per test file:
//   let influx: RunningInfluxd;
//   beforeAll(async () => { influx = await startInfluxd(); });
//   afterAll(() => influx?.stop());
// It writes a temporary config (data/meta/wal under a mkdtemp dir, HTTP and RPC bound to free
// 127.0.0.1 ports, usage reporting and self-monitoring off, quiet logs), waits for GET /ping → 204,
// and `stop()` kills the server and deletes the directory. `query()` returns rows with exact
// nanosecond timestamps (InfluxDB's JSON epoch numbers would lose precision, so it reads the
// RFC 3339 times instead).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { INFLUX_MEASUREMENTS } from '../../src/report/influx.ts';

export interface InfluxRow {
  /** The measurement (series name). */
  measurement: string;
  /** Tags, when the query has GROUP BY * (or GROUP BY tags); tags the series lacks are left out. */
  tags: Record<string, string>;
  timeNs: bigint;
  /** Non-null columns other than time. */
  values: Record<string, number | string | boolean>;
}

export interface RunningInfluxd {
  host: string;
  port: number;
  /** http://127.0.0.1:<port>/<db> */
  url(db: string): string;
  /** Runs InfluxQL against db; throws on an HTTP or statement error. */
  query(db: string, influxql: string): Promise<InfluxRow[]>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 20_000;

function findInfluxd(): string {
  const candidates = ['/usr/bin/influxd', ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'influxd'))];
  const found = candidates.find((c) => c !== path.sep + 'influxd' && existsSync(c));
  if (found === undefined) {
    throw new Error(
      'influxd (InfluxDB 1.x) is not installed: looked at /usr/bin/influxd and on $PATH. ' +
        'Run the test setup command from the README (it installs the Debian `influxdb` package), then run the tests again.',
    );
  }
  return found;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function config(dir: string, httpPort: number, rpcPort: number): string {
  // Upstream 1.x names the key `reporting-disabled`, Debian's build `reporting-enabled`; influxd
  // ignores keys it does not know, so both are set.
  return `reporting-disabled = true
reporting-enabled = false
bind-address = "${HOST}:${rpcPort}"

[meta]
  dir = "${path.join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${path.join(dir, 'data')}"
  wal-dir = "${path.join(dir, 'wal')}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  bind-address = "${HOST}:${httpPort}"
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
`;
}

async function ping(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://${HOST}:${port}/ping`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 204;
  } catch {
    return false;
  }
}

/** RFC 3339 with up to 9 fractional digits → epoch ns. */
function rfc3339ToNs(text: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) throw new Error(`unexpected time ${JSON.stringify(text)} from influxd`);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

interface QueryResponse {
  error?: string;
  results?: Array<{
    error?: string;
    series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }>;
  }>;
}

async function runQuery(port: number, db: string, influxql: string): Promise<InfluxRow[]> {
  const res = await fetch(`http://${HOST}:${port}/query?${new URLSearchParams({ db, q: influxql })}`);
  const body = (await res.json()) as QueryResponse;
  if (!res.ok || body.error) throw new Error(`influxd query ${JSON.stringify(influxql)}: HTTP ${res.status} ${body.error ?? ''}`);
  const rows: InfluxRow[] = [];
  for (const result of body.results ?? []) {
    if (result.error) throw new Error(`influxd query ${JSON.stringify(influxql)}: ${result.error}`);
    for (const series of result.series ?? []) {
      for (const row of series.values) {
        const values: Record<string, number | string | boolean> = {};
        let timeNs: bigint | undefined;
        series.columns.forEach((col, i) => {
          const v = row[i];
          if (col === 'time') timeNs = typeof v === 'string' ? rfc3339ToNs(v) : undefined;
          else if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') values[col] = v;
        });
        if (timeNs === undefined) throw new Error(`influxd query ${JSON.stringify(influxql)}: row without an RFC 3339 time`);
        // GROUP BY * lists every tag key of the measurement; "" means the series lacks that tag.
        const tags = Object.fromEntries(Object.entries(series.tags ?? {}).filter(([, v]) => v !== ''));
        rows.push({ measurement: series.name, tags, timeNs, values });
      }
    }
  }
  return rows;
}

async function startOnce(binary: string): Promise<RunningInfluxd | { retry: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pnc-influxd-'));
  const [httpPort, rpcPort] = [await freePort(), await freePort()];
  const configFile = path.join(dir, 'influxdb.conf');
  await fs.writeFile(configFile, config(dir, httpPort, rpcPort));
  const child: ChildProcess = spawn(binary, ['run', '-config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: string | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = `exited with ${signal ?? `code ${code}`}`;
      resolve();
    });
    child.on('error', (err) => {
      exited = `failed to start: ${err.message}`;
      resolve();
    });
  });
  const cleanup = async (): Promise<void> => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitedPromise;
      clearTimeout(killTimer);
    }
    await fs.rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited !== undefined) {
      await cleanup();
      if (/address already in use/i.test(output)) return { retry: output };
      throw new Error(`influxd ${exited} before answering /ping. Last output:\n${output.trim()}`);
    }
    if (await ping(httpPort)) break;
    if (Date.now() > deadline) {
      await cleanup();
      throw new Error(`influxd did not answer GET /ping with 204 within ${READY_TIMEOUT_MS} ms. Last output:\n${output.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    host: HOST,
    port: httpPort,
    url: (db) => `http://${HOST}:${httpPort}/${encodeURIComponent(db)}`,
    query: (db, influxql) => runQuery(httpPort, db, influxql),
    stop: cleanup,
  };
}

export async function startInfluxd(): Promise<RunningInfluxd> {
  const binary = findInfluxd();
  let last = '';
  for (let i = 0; i < 3; i++) {
    const started = await startOnce(binary);
    if (!('retry' in started)) return started;
    last = started.retry; // a free port was taken between probing and binding: try new ports
  }
  throw new Error(`influxd could not bind its ports after 3 attempts. Last output:\n${last.trim()}`);
}

/** A loopback TCP port nothing listens on (an InfluxDB that is down). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Points stored per measurement in `db` (measurements with none are left out). */
export async function pointCounts(influx: RunningInfluxd, db: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const m of INFLUX_MEASUREMENTS) {
    const rows = await influx.query(db, `SELECT count("run_id") FROM "${m}"`);
    const n = rows[0]?.values.count;
    if (typeof n === 'number' && n > 0) counts[m] = n;
  }
  return counts;
}
