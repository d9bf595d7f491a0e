// Tests of the InfluxDB writer's HTTP behaviour against a scripted HTTP server (a real socket, not
// a mocked client): the exact request body, batching, query parameters and credentials, retries on
// 5xx / refused connections / timeouts, immediate failure on 4xx, spooling on refusal, and the
// errors of `uploadRun` for a broken run directory.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  InfluxRejectedError,
  InfluxUnavailableError,
  RunUploadError,
  exportRunToInflux,
  pointsFromRecord,
  toLineProtocol,
  uploadRun,
  writeInflux,
} from '../../src/report/influx.ts';
import { sampleRecord } from '../helpers/sample-record.ts';

interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  auth: string | undefined;
  body: string;
}
type Reply = { status: number; body?: string } | 'hang';

let server: http.Server;
let port = 0;
let seen: Seen[] = [];
/** Decides the answer to each request; default: /query → empty result, /write → 204. */
let script: (req: Seen, index: number) => Reply = () => ({ status: 204 });

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const entry: Seen = {
        method: req.method ?? '',
        path: u.pathname,
        query: Object.fromEntries(u.searchParams),
        auth: req.headers.authorization,
        body,
      };
      seen.push(entry);
      const reply = entry.path === '/query' && !isScriptedQuery ? { status: 200, body: '{"results":[{"statement_id":0}]}' } : script(entry, seen.length - 1);
      if (reply === 'hang') return;
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
let isScriptedQuery = false;
afterEach(() => {
  seen = [];
  script = () => ({ status: 204 });
  isScriptedQuery = false;
});

const points = pointsFromRecord(sampleRecord());
const writes = (): Seen[] => seen.filter((s) => s.path === '/write');

describe('writeInflux', () => {
  it('creates the database, then sends exactly toLineProtocol(batch) per batch with ns precision, rp and credentials', async () => {
    const result = await writeInflux(`http://bench:s3cr%40t@127.0.0.1:${port}/hil%20db?rp=weeks`, points, { batchSize: 10 });
    expect(result).toEqual({ written: 28 });
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/query', query: { q: 'create database "hil db"' } });
    const auth = `Basic ${Buffer.from('bench:s3cr@t').toString('base64')}`;
    expect(seen[0]!.auth).toBe(auth);
    expect(writes()).toHaveLength(3);
    expect(writes().map((w) => w.body + '\n')).toEqual([
      toLineProtocol(points.slice(0, 10)),
      toLineProtocol(points.slice(10, 20)),
      toLineProtocol(points.slice(20)),
    ]);
    for (const w of writes()) {
      expect(w.query).toEqual({ db: 'hil db', precision: 'n', rp: 'weeks' });
      expect(w.auth).toBe(auth);
    }
  });

  it('sends strings containing \\\' and quotes exactly as toLineProtocol escapes them', async () => {
    const p = { measurement: 'hil_rig_health', tags: { rig: 'a b,c=d' }, fields: { detail: 'it\\\'s "x"\n\\', reconnects: 2 }, timestampNs: 5n };
    await writeInflux(`http://127.0.0.1:${port}/db`, [p]);
    expect(writes()[0]!.body).toBe('hil_rig_health,rig=a\\ b\\,c\\=d detail="it\\\\\'s \\"x\\"\n\\\\",reconnects=2i 5');
  });

  it('retries a 503 with backoff and succeeds', async () => {
    script = () => (writes().length <= 2 ? { status: 503, body: '{"error":"busy"}' } : { status: 204 });
    const t0 = Date.now();
    await expect(writeInflux(`http://127.0.0.1:${port}/db`, points, { backoffMs: 20 })).resolves.toEqual({ written: 28 });
    expect(writes()).toHaveLength(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(20 + 40 - 5);
  });

  it('gives up after `retries` retries of a 500 with InfluxUnavailableError', async () => {
    script = () => ({ status: 500, body: '{"error":"engine down"}' });
    const err = await writeInflux(`http://127.0.0.1:${port}/db`, points, { retries: 2, backoffMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfluxUnavailableError);
    expect((err as Error).message).toMatch(new RegExp(`InfluxDB at http://127.0.0.1:${port}/db is unavailable after 3 attempt\\(s\\)`));
    expect((err as Error).cause).toBeInstanceOf(Error);
    expect(writes()).toHaveLength(3);
  });

  it('fails at once on a 4xx with the server message', async () => {
    script = () => ({ status: 400, body: '{"error":"partial write: field type conflict: input field \\"attempt\\" on measurement \\"hil_phase\\" is type float, already exists as type integer dropped=1"}' });
    const err = await writeInflux(`http://127.0.0.1:${port}/db`, points, { backoffMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfluxRejectedError);
    expect(err).toMatchObject({
      statusCode: 400,
      serverMessage: 'partial write: field type conflict: input field "attempt" on measurement "hil_phase" is type float, already exists as type integer dropped=1',
    });
    expect((err as Error).message).toMatch(/refused the write \(HTTP 400\): partial write: field type conflict/);
    expect(writes()).toHaveLength(1);
  });

  it('carries on when CREATE DATABASE is refused (non-admin user, InfluxDB 2.x)', async () => {
    isScriptedQuery = true;
    script = (req) => (req.path === '/query' ? { status: 403, body: '{"error":"error authorizing query: bench not authorized to execute statement \'CREATE DATABASE db\', requires admin privilege"}' } : { status: 204 });
    await expect(writeInflux(`http://127.0.0.1:${port}/db`, points.slice(0, 3))).resolves.toEqual({ written: 3 });
    expect(seen.map((s) => s.path)).toEqual(['/query', '/write']);
  });

  it('treats a refused connection as unavailable, with the cause', async () => {
    const closed = await closedPort();
    const err = await writeInflux(`http://127.0.0.1:${closed}/db`, points, { retries: 1, backoffMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfluxUnavailableError);
    expect((err as Error).message).toMatch(/unavailable after 2 attempt\(s\): .*ECONNREFUSED/);
    expect(((err as Error).cause as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('treats a server that never answers as unavailable after the timeout', async () => {
    script = () => 'hang';
    const t0 = Date.now();
    const err = await writeInflux(`http://127.0.0.1:${port}/db`, points, { retries: 1, backoffMs: 1, timeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfluxUnavailableError);
    expect((err as Error).message).toMatch(/timed out/);
    expect(writes()).toHaveLength(2);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('exportRunToInflux / uploadRun on a broken setup', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pnc-influx-write-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('spools every point when the server refuses the write, and says why', async () => {
    const runDir = await mkdtemp(path.join(dir, 'run-'));
    script = () => ({ status: 401, body: '{"error":"authorization failed"}' });
    const result = await exportRunToInflux(runDir, sampleRecord(), `http://bench:wrong@127.0.0.1:${port}/db`);
    expect(result).toEqual({
      spooled: 28,
      spoolFile: path.join(runDir, 'influx.lp'),
      reason: `InfluxDB at http://127.0.0.1:${port}/db refused the write (HTTP 401): authorization failed`,
    });
    expect(await readFile(path.join(runDir, 'influx.lp'), 'utf8')).toBe(toLineProtocol(points));
  });

  it('spools on a malformed URL instead of losing the run', async () => {
    const runDir = await mkdtemp(path.join(dir, 'run-'));
    const result = await exportRunToInflux(runDir, sampleRecord(), 'influx.lab:8086/hil');
    expect(result).toMatchObject({ spooled: 28, reason: expect.stringMatching(/invalid InfluxDB URL/) });
  });

  it('uploadRun names record.json when it is missing, not JSON, or not a run record', async () => {
    const url = `http://127.0.0.1:${port}/db`;
    const runDir = await mkdtemp(path.join(dir, 'run-'));
    const file = path.join(runDir, 'record.json');
    await expect(uploadRun(runDir, url)).rejects.toThrow(new RunUploadError(`${file} does not exist (and there is no influx.lp to replay)`));
    await writeFile(file, '{"schema": ');
    await expect(uploadRun(runDir, url)).rejects.toThrow(new RegExp(`^${escapeRe(file)} is not valid JSON: `));
    const bad = sampleRecord() as unknown as { suites: Array<{ phases: Array<{ tStart: unknown }> }> };
    bad.suites[0]!.phases[1]!.tStart = 'yesterday';
    await writeFile(file, JSON.stringify(bad));
    await expect(uploadRun(runDir, url)).rejects.toThrow(new RegExp(`^${escapeRe(file)} is not a valid run record: suites\\.0\\.phases\\.1\\.tStart: `));
    expect(writes()).toHaveLength(0);
  });

  it('uploadRun names influx.lp and the line when the spool file is corrupt', async () => {
    const runDir = await mkdtemp(path.join(dir, 'run-'));
    const lp = toLineProtocol(points.slice(0, 2)) + 'hil_run,rig=x run_id="01J" \n';
    await writeFile(path.join(runDir, 'influx.lp'), lp);
    await expect(uploadRun(runDir, `http://127.0.0.1:${port}/db`)).rejects.toThrow(
      `${path.join(runDir, 'influx.lp')}: line 3, column 28: bad timestamp "" (expected integer nanoseconds)`,
    );
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const p = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return p;
}
