// Shared by the live server tests: a real server (port 0, 127.0.0.1 unless asked) on the simulated
// test rig (test/fixtures/rigs/simulated.yaml: tcp-sim simulator + FakeMeter) with fixture suites,
// and a WebSocket client that collects every stream message and can wait for one.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { startBenchServer, type BenchServer, type BenchServerOptions } from '../../src/server/server.ts';
import type { ServerEvent } from '../../src/server/events.ts';
import { ROOT } from '../helpers/cli.ts';
import { tempDir } from '../helpers/fake-rig.ts';

export const SIM_RIG = path.join(ROOT, 'test/fixtures/rigs/simulated.yaml');

/** A copy of the simulated rig in a temp folder (its relative paths made absolute), changed by `edit`; returns its path. */
export function simRigVariant(name: string, edit: (yaml: string) => string): string {
  const file = path.join(tempDir(), name);
  const yaml = readFileSync(SIM_RIG, 'utf8')
    .replace('plugins: [../../fakes/drivers.ts]', `plugins: [${path.join(ROOT, 'test/fakes/drivers.ts')}]`)
    .replace('./sim/tcp-sim.ts', path.join(ROOT, 'test/fixtures/rigs/sim/tcp-sim.ts'));
  writeFileSync(file, edit(yaml));
  return file;
}
export const SUITES = {
  host: 'bench/health/host.suite.ts',
  long: 'test/fixtures/suites/long.suite.ts',
  fail: 'test/fixtures/suites/fail.suite.ts',
  meter: 'test/server/fixtures/meter.suite.ts',
} as const;

export async function startTestServer(over: Partial<BenchServerOptions> = {}): Promise<{ server: BenchServer; reports: string }> {
  process.env.HIL_SIM_MARKER ??= path.join(tempDir('pnc-server-marker-'), 'marker');
  const reports = over.reportsDir ?? tempDir('pnc-server-reports-');
  const server = await startBenchServer({
    rigFile: SIM_RIG,
    suitePaths: Object.values(SUITES).map((s) => path.join(ROOT, s)),
    reportsDir: reports,
    port: 0,
    snapshotIntervalMs: 200,
    ...over,
  });
  return { server, reports };
}

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A stream client: every message parsed, in order. */
export class StreamClient {
  readonly messages: ServerEvent[] = [];
  readonly raw: unknown[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const v = JSON.parse(String(data)) as unknown;
      this.raw.push(v);
      this.messages.push(v as ServerEvent);
    });
  }

  static open(url: string, opts: { token?: string; header?: string; origin?: string } = {}): Promise<StreamClient> {
    const u = new URL('/api/events', url.replace(/^http/, 'ws'));
    if (opts.token) u.searchParams.set('token', opts.token);
    const ws = new WebSocket(u, { ...(opts.header ? { headers: { authorization: opts.header } } : {}), ...(opts.origin ? { origin: opts.origin } : {}) });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new StreamClient(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  find<T extends ServerEvent['type']>(type: T, pred: (e: Extract<ServerEvent, { type: T }>) => boolean = () => true): Extract<ServerEvent, { type: T }> | undefined {
    return this.messages.find((m): m is Extract<ServerEvent, { type: T }> => m.type === type && pred(m as Extract<ServerEvent, { type: T }>));
  }

  wait<T extends ServerEvent['type']>(type: T, pred: (e: Extract<ServerEvent, { type: T }>) => boolean = () => true, timeoutMs = 20_000): Promise<Extract<ServerEvent, { type: T }>> {
    return until(`stream event ${type}`, () => this.find(type, pred), timeoutMs);
  }

  close(): void {
    this.ws.close();
  }
}
