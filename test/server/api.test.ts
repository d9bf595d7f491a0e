// The live server's HTTP API and event stream over real HTTP and WebSocket on 127.0.0.1 (port 0):
// suites, rig health, start (202) and a second start (409 with the running id), abort → ABORTED
// record, runs list, record / report / junit, bad ids (400/404 JSON, never a stack trace), token
// auth when bound elsewhere (decided by the matched route: a percent-encoded /%61pi path is the API),
// the Host/Origin rules a TLS proxy must meet, the rig health suites added ahead of every run unless
// "health": false, two simultaneous starts (one 202, one 409), 503 while shutting down, and every
// stream message of real runs validated against src/server/events.schema.json with ajv and against
// the zod schema it is generated from. Suites the rig cannot run (a role two drivers could fill, in
// the suite or in a rig health suite: not runnable, a start refused with 400) and a run whose
// report.html cannot be built (a warning on the stream and in the log). Also RunStore reading only
// the newest runs, and `pnc-bench serve` as a command.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Ajv } from 'ajv';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serveCommands } from '../../src/cli/serve.ts';
import { RunRecord } from '../../src/report/record.ts';
import { samplesFromSnapshot, ServerEvent } from '../../src/server/events.ts';
import { RunStore } from '../../src/server/runs.ts';
import { ServerConfigError, startBenchServer, type BenchServer } from '../../src/server/server.ts';
import { ROOT, startCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/fake-rig.ts';
import { SIM_RIG, simRigVariant, startTestServer, StreamClient, SUITES, until } from './helpers.ts';
import { brokenReport } from '../helpers/broken-report.ts';

vi.mock('../../src/report/html.ts', (importOriginal) => import('../helpers/broken-report.ts').then((m) => m.brokenHtmlModule(importOriginal)));

const schema = JSON.parse(readFileSync(path.join(ROOT, 'src/server/events.schema.json'), 'utf8')) as Record<string, unknown>;
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);

function expectValid(messages: readonly unknown[]): void {
  const bad = messages.flatMap((m) => {
    const parsed = ServerEvent.safeParse(m);
    if (validate(m) && parsed.success) return [];
    return [`${JSON.stringify(m).slice(0, 300)}\n  ${JSON.stringify(validate.errors?.slice(0, 3) ?? parsed.error?.issues.slice(0, 3))}`];
  });
  expect(bad, bad.join('\n')).toEqual([]);
}

interface Res {
  status: number;
  json: Record<string, unknown>;
  text: string;
  type: string;
}

async function call(base: string, method: string, p: string, opts: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  } else if (opts.rawBody !== undefined) {
    headers['content-type'] = 'application/json';
    body = opts.rawBody;
  }
  const r = await fetch(new URL(p, base), { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await r.text();
  const type = r.headers.get('content-type') ?? '';
  let json: Record<string, unknown> = {};
  if (type.includes('json')) json = JSON.parse(text) as Record<string, unknown>;
  return { status: r.status, json, text, type };
}

/** The rig health suites every run starts with (bench/health/, in name order). */
const HEALTH = ['host-health', 'rig-can', 'rig-charger', 'rig-console', 'rig-ev', 'rig-meter'];

/** A request exactly as written (fetch would normalise `..` and `%61` and refuses to set Host). */
function raw(base: string, method: string, p: string, headers: Record<string, string> = {}): Promise<Res> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: p, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        const type = res.headers['content-type'] ?? '';
        resolve({ status: res.statusCode ?? 0, text, type, json: type.includes('json') ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const readRecord = (reports: string, runId: string): RunRecord => RunRecord.parse(JSON.parse(readFileSync(path.join(reports, runId, 'record.json'), 'utf8')));

describe('pnc-bench serve: API and event stream', () => {
  let server: BenchServer;
  let reports: string;
  let base: string;

  beforeAll(async () => {
    ({ server, reports } = await startTestServer());
    base = server.url;
    // the start-up health probe (simulator started, each driver opened, probed, closed)
    await until('the start-up health probe', async () => {
      const r = await call(base, 'GET', '/api/rig');
      return r.json.probe && (r.json.probe as { checkedAt: string | null }).checkedAt !== null ? r : undefined;
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves the web view and refuses unknown static files', async () => {
    const page = await call(base, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.type).toContain('text/html');
    expect(page.text).toContain('<script type="module" src="app.js">');
    const js = await call(base, 'GET', '/app.js');
    expect(js.type).toContain('text/javascript');
    const missing = await call(base, 'GET', '/nope.js');
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatch(/no such resource/);
  });

  it('lists the suites with their phases and whether the rig can run them', async () => {
    const r = await call(base, 'GET', '/api/suites');
    expect(r.status).toBe(200);
    const suites = r.json.suites as { id: string; name: string; phases: { name: string; group: string }[]; runnable: boolean; skipReason: string | null }[];
    expect(suites.map((s) => s.id)).toEqual(Object.values(SUITES));
    const long = suites.find((s) => s.name === 'long');
    expect(long?.phases.map((p) => [p.name, p.group])).toEqual([
      ['first', 'main'],
      ['second', 'main'],
      ['hang', 'main'],
      ['tidy', 'teardown'],
    ]);
    expect(suites.every((s) => s.runnable && s.skipReason === null)).toBe(true);
  });

  it('reports the rig and each driver\'s health from its own probe', async () => {
    const r = await call(base, 'GET', '/api/rig');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: 'simulated', busy: null, simulator: { name: 'tcp-sim' }, probe: { state: 'idle', error: null } });
    const drivers = r.json.drivers as { name: string; driver: string; health: { ok: boolean; detail: string; check: string } | null; snapshot: Record<string, unknown> | null }[];
    expect(drivers).toHaveLength(1);
    expect(drivers[0]).toMatchObject({ name: 'meter', driver: 'FakeMeter', health: { ok: true, detail: 'fake link open', check: 'probe' }, snapshot: { opened: true } });
    // the probe started the simulator and stopped it again
    expect(readFileSync(process.env.HIL_SIM_MARKER as string, 'utf8')).toMatch(/^started \d+\nstopped\n/);
  });

  it('runs suites: 202, a second start gets 409 with the running id, every stream event matches the schema', async () => {
    const ws = await StreamClient.open(base);
    const start = await call(base, 'POST', '/api/runs', { body: { suites: ['host-health', SUITES.meter] } });
    expect(start.status).toBe(202);
    const runId = start.json.runId as string;
    expect(runId).toMatch(/^\d{8}-\d{6}-simulated-[0-9a-f]{6}$/);
    // the rig health suites come first (each SKIPS itself on this rig but host-health)
    const started = await ws.wait('run.started', (e) => e.runId === runId);
    expect(started.plan.map((p) => p.name)).toEqual([...HEALTH, 'live-meter']);

    const second = await call(base, 'POST', '/api/runs', { body: { suites: ['long'] } });
    expect(second.status).toBe(409);
    expect(second.json.runId).toBe(runId);
    expect(second.json.error).toContain(`run ${runId} is in progress`);
    expect((await call(base, 'GET', '/api/rig')).json.busy).toBe(runId);

    const ended = await ws.wait('run.ended', (e) => e.runId === runId, 30_000);
    expect(ended).toMatchObject({ outcome: 'PASS', recorded: true, links: { report: `/api/runs/${runId}/report.html` } });
    await ws.wait('rig.status', (e) => e.rig.busy === null);
    ws.close();

    expectValid(ws.raw);
    const m = ws.messages;
    expect(m[0]?.type).toBe('hello');
    const seqs = m.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const types = new Set(m.map((e) => e.type));
    for (const t of ['run.started', 'suite.started', 'phase.started', 'measurement', 'phase.ended', 'suite.ended', 'sample', 'driver.snapshot', 'driver.health', 'log', 'run.ended'])
      expect(types, `no ${t} event`).toContain(t);
    // phases with outcomes, measurements with values, limits and outcomes
    expect(m.filter((e) => e.type === 'phase.ended').map((e) => (e.type === 'phase.ended' ? [e.name, e.outcome] : []))).toEqual([
      ['clock', 'PASS'],
      ['event_loop', 'PASS'],
      ['charge', 'PASS'],
    ]);
    expect(ws.find('measurement', (e) => e.measurement.name === 'power_w')?.measurement).toMatchObject({ value: 7000, unit: 'W', outcome: 'PASS', limits: [{ kind: 'inRange', min: 1000, max: 22000 }] });
    // the limits in words are report.html's (one formatter for both)
    expect(ws.find('measurement', (e) => e.measurement.name === 'power_w')?.measurement.limitText).toBe('1000 … 22000 W');
    expect(ws.find('measurement', (e) => e.measurement.name === 'reads')?.measurement.limitText).toBe('≥ 5');
    // plots: power and current from measurements, latency from timing points
    expect(ws.find('sample', (e) => e.quantity === 'power')).toMatchObject({ value: 7000, unit: 'W', source: 'measurement power_w' });
    expect(ws.find('sample', (e) => e.quantity === 'current')).toMatchObject({ unit: 'A', source: 'measurement current_a' });
    expect(m.filter((e) => e.type === 'sample' && e.quantity === 'latency' && e.source === 'modbus ReadPower bench->meter')).toHaveLength(8);
    // driver snapshots: at open, periodic while the phase runs, at close
    const snaps = m.filter((e) => e.type === 'driver.snapshot');
    expect(snaps[0]).toMatchObject({ driver: 'meter', when: 'open' });
    expect(snaps.filter((e) => e.type === 'driver.snapshot' && e.when === 'periodic').length).toBeGreaterThanOrEqual(3);
    expect(snaps.at(-1)).toMatchObject({ when: 'close' });
    expect(ws.find('driver.health', (e) => e.runId === runId)).toMatchObject({ driver: 'meter', ok: true, check: 'preflight:live-meter' });
    expect(ws.find('log', (e) => e.msg === 'read the meter 8 times')).toMatchObject({ source: 'run', level: 'info' });

    // the record and its outputs
    const rec = await call(base, 'GET', `/api/runs/${runId}`);
    expect(rec.status).toBe(200);
    expect(RunRecord.parse(rec.json)).toMatchObject({ runId, outcome: 'PASS', trigger: { kind: 'manual' } });
    expect(RunRecord.parse(rec.json).suites.map((x) => [x.name, x.outcome])).toEqual([...HEALTH.map((n) => [n, n === 'host-health' ? 'PASS' : 'SKIPPED']), ['live-meter', 'PASS']]);
    const report = await call(base, 'GET', `/api/runs/${runId}/report.html`);
    expect(report.status).toBe(200);
    expect(report.type).toContain('text/html');
    expect(report.text).toContain(runId);
    const junit = await call(base, 'GET', `/api/runs/${runId}/junit.xml`);
    expect(junit.type).toContain('application/xml');
    expect(junit.text).toContain('<testsuite');
    expect(existsSync(path.join(reports, runId, 'simulator.log'))).toBe(true);
  });

  it('a client connecting mid-run gets the current state first; abort ends the run ABORTED with its record written', async () => {
    const first = await StreamClient.open(base);
    const start = await call(base, 'POST', '/api/runs', { body: { suites: ['long'], health: false } });
    expect(start.status).toBe(202);
    const runId = start.json.runId as string;
    expect((await first.wait('run.started', (e) => e.runId === runId)).plan.map((p) => p.name)).toEqual(['long']);
    await first.wait('phase.started', (e) => e.runId === runId && e.name === 'hang');

    const late = await StreamClient.open(base);
    const hello = await late.wait('hello');
    expect(hello.rig.busy).toBe(runId);
    expect(hello.run?.runId).toBe(runId);
    expect(hello.run?.status).toBe('running');
    expect(hello.run?.suites[0]?.phases.map((p) => [p.name, p.outcome])).toEqual([
      ['first', 'PASS'],
      ['second', 'PASS'],
      ['hang', null],
    ]);
    expect(hello.run?.suites[0]?.phases[0]?.measurements[0]).toMatchObject({ name: 'value', value: 1, outcome: 'PASS' });
    expect(hello.run?.logs.map((l) => l.msg)).toContain('waiting to be cancelled');
    expect(hello.run?.links).toBeNull(); // no files until the run ended

    const abort = await call(base, 'POST', `/api/runs/${runId}/abort`);
    expect(abort.status).toBe(202);
    expect(abort.json).toEqual({ runId, abort: 'cancel' });
    const ended = await late.wait('run.ended', (e) => e.runId === runId);
    expect(ended.outcome).toBe('ABORTED');
    expect(late.find('run.abort')).toMatchObject({ runId, level: 'cancel' });
    expect(late.find('phase.ended', (e) => e.name === 'tidy')?.outcome).toBe('PASS');
    first.close();
    late.close();
    expectValid([...first.raw, ...late.raw]);

    const rec = readRecord(reports, runId);
    expect(rec.outcome).toBe('ABORTED');
    expect(rec.outcomeDetails).toContainEqual({ code: 'ABORTED', message: 'run cancelled: aborted from the live server' });
    expect(rec.suites[0]?.phases.map((p) => [p.name, p.outcome])).toEqual([
      ['first', 'PASS'],
      ['second', 'PASS'],
      ['hang', 'ABORTED'],
      ['tidy', 'PASS'],
    ]);
    await until('the rig to be free', async () => (await call(base, 'GET', '/api/rig')).json.busy === null);
    // a client connecting after the end gets the run's links in its hello, as run.ended gave them
    const after = await StreamClient.open(base);
    const helloAfter = await after.wait('hello');
    after.close();
    expectValid(after.raw);
    expect(helloAfter.run).toMatchObject({ runId, status: 'ended', outcome: 'ABORTED' });
    expect(helloAfter.run?.links).toEqual(ended.links);
    expect(helloAfter.run?.links).toEqual({ record: `/api/runs/${runId}`, report: `/api/runs/${runId}/report.html`, junit: `/api/runs/${runId}/junit.xml` });
    const again = await call(base, 'POST', `/api/runs/${runId}/abort`);
    expect(again.status).toBe(409);
    expect(again.json.error).toBe(`run ${runId} is not running`);
  });

  it('lists runs newest first with their outcome and files', async () => {
    const r = await call(base, 'GET', '/api/runs');
    expect(r.status).toBe(200);
    const runs = r.json.runs as { runId: string; outcome: string; status: string; files: string[]; suites: string[] }[];
    expect(runs).toHaveLength(2);
    expect(runs.map((x) => x.outcome)).toEqual(['ABORTED', 'PASS']);
    expect(runs[0]?.suites).toEqual(['long']);
    expect(runs[1]).toMatchObject({ status: 'done', suites: [...HEALTH, 'live-meter'], files: ['record.json', 'report.html', 'junit.xml'] });
    expect(r.json.running).toBeNull();
    expect((await call(base, 'GET', '/api/runs?limit=1')).json.runs).toHaveLength(1);
    expect((await call(base, 'GET', '/api/runs?limit=abc')).status).toBe(400);
  });

  it('answers bad ids and bad bodies with 400/404 and a message, never a stack trace', async () => {
    const cases: [string, string, number, RegExp][] = [
      ['GET', '/api/runs/..%2F..%2Fetc%2Fpasswd', 400, /is not a run id/],
      ['GET', '/api/runs/..', 400, /is not a run id/],
      ['GET', '/api/runs/a.b/report.html', 400, /is not a run id/],
      ['GET', '/api/runs/20990101-000000-nope-abcdef', 404, /no run 20990101-000000-nope-abcdef/],
      ['GET', '/api/runs/20990101-000000-nope-abcdef/junit.xml', 404, /no run/],
      ['POST', '/api/runs/..%2Fx/abort', 400, /is not a run id/],
      ['POST', '/api/runs/20990101-000000-nope-abcdef/abort', 404, /no run/],
      ['GET', '/api/nothing', 404, /no such resource: GET \/api\/nothing/],
    ];
    for (const [method, p, status, text] of cases) {
      const r = await raw(base, method, p);
      expect(r.status, `${method} ${p}`).toBe(status);
      expect(r.json.error, `${method} ${p}`).toMatch(text);
      expect(r.text).not.toMatch(/\n\s+at /);
    }
    const bodies: [unknown, RegExp][] = [
      [{ suites: ['nope'] }, /unknown suite "nope"; known: host-health, long, fails, live-meter/],
      [{ suites: 'long' }, /"suites" must be an array/],
      [{ suite: ['long'] }, /unknown key\(s\) "suite": the body takes "suites", "operator" and "health"/],
      [{ suites: ['long'], health: 'no' }, /"health" must be true or false/],
      [[1, 2], /the body must be a JSON object/],
    ];
    for (const [body, text] of bodies) {
      const r = await call(base, 'POST', '/api/runs', { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error).toMatch(text);
    }
    const broken = await call(base, 'POST', '/api/runs', { rawBody: '{"suites": [' });
    expect(broken.status).toBe(400);
    expect(broken.text).not.toMatch(/\n\s+at /);
  });

  it('refuses foreign Host headers and cross-origin requests (DNS rebinding, CSRF)', async () => {
    const foreign = await raw(base, 'GET', '/api/suites', { host: 'evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.json.error).toMatch(/Host "evil.example" is not this server's loopback address/);
    expect((await raw(base, 'GET', '/api/suites', { host: `localhost:${new URL(base).port}` })).status).toBe(200);
    const cross = await call(base, 'POST', '/api/runs', { body: { suites: ['long'] }, headers: { origin: 'http://evil.example' } });
    expect(cross.status).toBe(403);
    expect(cross.json.error).toMatch(/cross-origin/);
    await expect(StreamClient.open(base, { origin: 'http://evil.example' })).rejects.toThrow('HTTP 403');
    // the router decodes %61: /%61pi/… IS the API, and gets the API's checks
    expect((await raw(base, 'GET', '/%61pi/suites')).json.rig).toBe('simulated');
    const encoded = await raw(base, 'POST', '/%61pi/runs', { origin: 'http://evil.example', 'content-type': 'application/json' });
    expect(encoded.status).toBe(403);
    expect(encoded.json.error).toMatch(/cross-origin request from http:\/\/evil\.example refused/);
    expect((await raw(base, 'POST', '/%61pi/rig/probe', { origin: 'http://evil.example' })).status).toBe(403);
    expect((await call(base, 'GET', '/api/rig')).json.busy).toBeNull();
  });

  it('behind a TLS proxy, loopback without a token refuses the proxy\'s Host: token mode is needed', async () => {
    const proxied = await raw(base, 'GET', '/api/suites', { host: 'bench.lab.example', origin: 'https://bench.lab.example' });
    expect(proxied.status).toBe(403);
    expect(proxied.json.error).toMatch(/Host "bench\.lab\.example" is not this server's loopback address/);
  });

  it('turns snapshot fields powerW and currentA into plot samples', () => {
    const s = samplesFromSnapshot('meter', { up: true, lastReading: { powerW: 7400, currentA: [10, 11, Number.NaN], voltageV: [230] }, status: { currentA: 3 } }, 5);
    expect(s).toEqual([
      { t: 5, quantity: 'power', unit: 'W', value: 7400, source: 'meter.lastReading.powerW' },
      { t: 5, quantity: 'current', unit: 'A', value: 21, source: 'meter.lastReading.currentA' },
      { t: 5, quantity: 'current', unit: 'A', value: 3, source: 'meter.status.currentA' },
    ]);
  });
});

describe('pnc-bench serve: token auth when bound elsewhere', () => {
  const TOKEN = 'correct-horse-battery-staple';
  let server: BenchServer | undefined;
  afterAll(async () => {
    await server?.close();
  });

  it('refuses to bind anything but loopback without a token', async () => {
    await expect(startBenchServer({ rigFile: SIM_RIG, reportsDir: tempDir(), host: '127.0.0.2', port: 0, probeOnStart: false })).rejects.toThrow(ServerConfigError);
    await expect(startBenchServer({ rigFile: SIM_RIG, reportsDir: tempDir(), host: '127.0.0.2', port: 0, probeOnStart: false })).rejects.toThrow(/binding to 127\.0\.0\.2 needs a token/);
    await expect(startBenchServer({ rigFile: SIM_RIG, reportsDir: tempDir(), host: '127.0.0.2', port: 0, token: 'short', probeOnStart: false })).rejects.toThrow(/at least 16 characters/);
  });

  it('checks Authorization: Bearer on every API request and the token on the WebSocket', async () => {
    ({ server } = await startTestServer({ host: '127.0.0.2', token: TOKEN, probeOnStart: false }));
    const base = server.url;
    expect(base).toMatch(/^http:\/\/127\.0\.0\.2:\d+\/$/);
    const none = await call(base, 'GET', '/api/suites');
    expect(none.status).toBe(401);
    expect(none.json.error).toMatch(/needs a token/);
    const wrong = await call(base, 'GET', '/api/suites', { headers: { authorization: 'Bearer wrong-token-wrong-token' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('wrong token');
    expect((await call(base, 'POST', '/api/runs', { body: {} })).status).toBe(401);
    expect((await call(base, 'GET', '/api/runs/x/report.html')).status).toBe(401);
    const ok = await call(base, 'GET', '/api/suites', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    // the page itself holds no data and loads without the token
    expect((await call(base, 'GET', '/')).status).toBe(200);

    await expect(StreamClient.open(base)).rejects.toThrow('HTTP 401');
    await expect(StreamClient.open(base, { token: 'wrong-token-wrong-token' })).rejects.toThrow('HTTP 401');
    const byQuery = await StreamClient.open(base, { token: TOKEN });
    expect((await byQuery.wait('hello')).rig.id).toBe('simulated');
    byQuery.close();
    const byHeader = await StreamClient.open(base, { header: `Bearer ${TOKEN}` });
    expectValid([await byHeader.wait('hello')]);
    byHeader.close();
  });

  it('decides by the matched route, not the raw URL: /%61pi/… needs the token, unknown paths too', async () => {
    const base = (server as BenchServer).url;
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const [method, p] of [
      ['GET', '/%61pi/suites'],
      ['GET', '/%61pi/runs'],
      ['POST', '/%61pi/runs'],
      ['POST', '/%61pi/rig/probe'],
      ['GET', '/api/nothing'],
      ['GET', '/a/b/c'],
    ] as const) {
      const r = await raw(base, method, p);
      expect(r.status, `${method} ${p}`).toBe(401);
      expect(r.json.error).toMatch(/needs a token/);
    }
    const ok = await raw(base, 'GET', '/%61pi/suites', auth);
    expect(ok.status).toBe(200);
    expect(ok.json.rig).toBe('simulated');
    expect((await raw(base, 'GET', '/api/nothing', auth)).status).toBe(404);
    // nothing was started by the refused POSTs
    expect((await raw(base, 'GET', '/api/runs', auth)).json).toEqual({ running: null, runs: [] });
    // static files stay public; an unknown one is a plain 404
    expect((await raw(base, 'GET', '/%61pp.js')).status).toBe(200);
    expect((await raw(base, 'GET', '/nope.js')).status).toBe(404);
  });

  it('behind a TLS proxy that keeps the Host header, the browser\'s https Origin is accepted; a rewritten Host is refused', async () => {
    const base = (server as BenchServer).url;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const kept = await raw(base, 'GET', '/api/suites', { ...auth, host: 'bench.lab.example:8443', origin: 'https://bench.lab.example:8443' });
    expect(kept.status).toBe(200);
    const rewritten = await raw(base, 'GET', '/api/suites', { ...auth, origin: 'https://bench.lab.example:8443' });
    expect(rewritten.status).toBe(403);
    expect(rewritten.json.error).toMatch(/cross-origin request from https:\/\/bench\.lab\.example:8443 refused/);
  });
});

describe('pnc-bench serve: one run at a time, and shutting down', () => {
  it('two simultaneous starts: exactly one 202 and one 409 naming the running run', async () => {
    const { server } = await startTestServer({ probeOnStart: false });
    try {
      const ws = await StreamClient.open(server.url);
      const both = await Promise.all([0, 1].map(() => call(server.url, 'POST', '/api/runs', { body: { suites: ['long'], health: false } })));
      const statuses = both.map((r) => r.status).sort();
      expect(statuses).toEqual([202, 409]);
      const accepted = both.find((r) => r.status === 202) as Res;
      const refused = both.find((r) => r.status === 409) as Res;
      expect(refused.json.runId).toBe(accepted.json.runId);
      await ws.wait('phase.started', (e) => e.name === 'hang');
      expect((await call(server.url, 'POST', `/api/runs/${accepted.json.runId as string}/abort`)).status).toBe(202);
      expect((await ws.wait('run.ended')).outcome).toBe('ABORTED');
      expect(ws.messages.filter((e) => e.type === 'run.started').map((e) => (e.type === 'run.started' ? e.runId : ''))).toEqual([accepted.json.runId]);
      ws.close();
    } finally {
      await server.close();
    }
  });

  it('while close() runs, a start or a probe gets 503; close() waits for the aborted run', async () => {
    const { server, reports } = await startTestServer({ probeOnStart: false, suitePaths: [path.join(ROOT, 'test/server/fixtures/slow-teardown.suite.ts')] });
    const ws = await StreamClient.open(server.url);
    const start = await call(server.url, 'POST', '/api/runs', { body: { health: false } });
    expect(start.status).toBe(202);
    await ws.wait('phase.started', (e) => e.name === 'hang');
    const closed = server.close();
    await ws.wait('phase.started', (e) => e.name === 'slow_tidy'); // close() is waiting for the teardown
    const again = await call(server.url, 'POST', '/api/runs', { body: { health: false } });
    expect(again.status).toBe(503);
    expect(again.json.error).toBe('the live server is shutting down: no new run');
    const probe = await call(server.url, 'POST', '/api/rig/probe');
    expect(probe.status).toBe(503);
    await closed;
    expect(server.current()).toBeNull();
    const rec = readRecord(reports, start.json.runId as string);
    expect(rec.outcome).toBe('ABORTED');
    expect(rec.suites[0]?.phases.map((p) => [p.name, p.outcome])).toEqual([
      ['hang', 'ABORTED'],
      ['slow_tidy', 'PASS'],
    ]);
    ws.close();
  });

  it('a start racing close() is either refused (503) or run and aborted with its record: never left running', async () => {
    const { server, reports } = await startTestServer({ probeOnStart: false });
    const start = call(server.url, 'POST', '/api/runs', { body: { suites: ['long'], health: false } });
    await new Promise((r) => setTimeout(r, 5));
    await server.close();
    const r = await start.catch(() => null); // the port may already be closed
    expect(server.current()).toBeNull();
    if (r?.status === 202) expect(readRecord(reports, r.json.runId as string).outcome).toBe('ABORTED');
    else if (r) expect(r.status).toBe(503);
  });
});

describe('RunStore: past runs', () => {
  const record = (runId: string, startedAt: string) => JSON.stringify({ runId, outcome: 'PASS', marginal: false, startedAt, durationMs: 1000, rig: { id: 'r' }, suites: [{ name: 's' }], trigger: { kind: 'manual' } });

  it('reads only the newest `limit` run folders (an older one that would block a read is never opened)', async () => {
    const dir = tempDir();
    const mk = (runId: string, startedAt: string): void => {
      mkdirSync(path.join(dir, runId));
      writeFileSync(path.join(dir, runId, 'record.json'), record(runId, startedAt));
    };
    mk('20260101-100000-r-aaaaaa', '2026-01-01T10:00:00.000Z');
    mk('20260101-110000-r-bbbbbb', '2026-01-01T11:00:00.000Z');
    // same second, hex order opposite to start order: ordered by the recorded start
    mk('20260101-120000-r-000000', '2026-01-01T12:00:00.900Z');
    mk('20260101-120000-r-ffffff', '2026-01-01T12:00:00.100Z');
    // the oldest run's record.json is a FIFO nobody writes: reading it would never finish
    mkdirSync(path.join(dir, '20250101-000000-r-cccccc'));
    execFileSync('mkfifo', [path.join(dir, '20250101-000000-r-cccccc', 'record.json')]);
    mkdirSync(path.join(dir, 'not-a-run-folder'));
    const store = new RunStore(dir);
    expect((await store.list(1)).map((r) => r.runId)).toEqual(['20260101-120000-r-000000']);
    expect((await store.list(3)).map((r) => r.runId)).toEqual(['20260101-120000-r-000000', '20260101-120000-r-ffffff', '20260101-110000-r-bbbbbb']);
    expect((await store.list(4)).map((r) => r.runId)).toHaveLength(4);
  });

  it('summarises a run without a record from the first line of its journal', async () => {
    const dir = tempDir();
    const id = '20260101-100000-r-abcdef';
    mkdirSync(path.join(dir, id));
    writeFileSync(path.join(dir, id, 'journal.jsonl'), `${JSON.stringify({ type: 'run.start', t: Date.parse('2026-01-01T10:00:00Z'), rig: { id: 'bench-a1' } })}\n${'x'.repeat(200_000)}\n`);
    expect(await new RunStore(dir).list()).toEqual([
      { runId: id, status: 'incomplete', outcome: null, marginal: false, startedAt: '2026-01-01T10:00:00.000Z', durationMs: null, rig: 'bench-a1', suites: [], trigger: null, files: [] },
    ]);
  });
});

describe('pnc-bench serve: a rig whose simulated hardware does not start', () => {
  it('the probe marks every driver unhealthy and a run ends INFRA without a record', async () => {
    const rigFile = simRigVariant('fail.yaml', (y) => y.replace('options: { marker: "${HIL_SIM_MARKER}" }', 'options: { marker: "${HIL_SIM_MARKER}", failStart: true }'));
    const { server, reports } = await startTestServer({ rigFile });
    try {
      const rig = await until('the probe', async () => {
        const r = await call(server.url, 'GET', '/api/rig');
        return (r.json.probe as { checkedAt: string | null }).checkedAt ? r.json : undefined;
      });
      expect((rig.probe as { error: string }).error).toMatch(/simulated hardware \(tcp-sim\) did not start: the simulated device would not power up/);
      expect(rig.drivers).toMatchObject([{ name: 'meter', health: { ok: false, check: 'probe' } }]);

      const ws = await StreamClient.open(server.url);
      const start = await call(server.url, 'POST', '/api/runs', { body: { suites: ['host-health'] } });
      expect(start.status).toBe(202);
      const ended = await ws.wait('run.ended');
      expect(ended).toMatchObject({ runId: start.json.runId, outcome: 'INFRA', recorded: false, links: null, details: [{ code: 'SIMULATOR' }] });
      expect(ended.details[0]?.message).toMatch(/did not start: the simulated device would not power up/);
      expectValid(ws.raw);
      ws.close();
      // after a reload the page must not offer links to files that were never written
      await until('the rig to be free', async () => (await call(server.url, 'GET', '/api/rig')).json.busy === null);
      const later = await StreamClient.open(server.url);
      const hello = await later.wait('hello');
      later.close();
      expectValid(later.raw);
      expect(hello.run).toMatchObject({ runId: start.json.runId, status: 'ended', outcome: 'INFRA', links: null });
      expect((await call(server.url, 'GET', '/api/runs')).json.runs).toEqual([]);
      expect(existsSync(path.join(reports, start.json.runId as string))).toBe(false);
    } finally {
      await server.close();
    }
  });
});

describe('pnc-bench serve: suites the rig cannot run', () => {
  const twoMeters = (): string => simRigVariant('two-meters.yaml', (y) => y.replace(/^ {2}meter: (.*)$/m, '  meter_a: $1\n  meter_b: $1'));
  const why = 'role "meter" needs EnergyMeter, which meter_a, meter_b all provide: name one of them "meter" in the rig file';

  it('says a suite is not runnable when two drivers could fill its role, and refuses to start it, as the executor decides', async () => {
    const { server, reports } = await startTestServer({ rigFile: twoMeters(), probeOnStart: false });
    try {
      const suites = (await call(server.url, 'GET', '/api/suites')).json.suites as { name: string; runnable: boolean; skipReason: string | null }[];
      expect(suites.find((s) => s.name === 'live-meter')).toMatchObject({ runnable: false, skipReason: why });
      // the executor would refuse the run (ConfigError): the start is refused with its reason, no run is made
      const start = await call(server.url, 'POST', '/api/runs', { body: { suites: ['live-meter'], health: false } });
      expect(start.status).toBe(400);
      expect(start.json.error).toBe(`${SUITES.meter}: ${why}`);
      expect((await call(server.url, 'GET', '/api/rig')).json.busy).toBeNull();
      expect(readdirSync(reports)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('with the rig health suites (the default), a health suite with such a role makes every suite not runnable', async () => {
    const { server, reports } = await startTestServer({ rigFile: twoMeters(), probeOnStart: false });
    try {
      const healthWhy = `bench/health/rig-meter.suite.ts: ${why}`;
      const suites = (await call(server.url, 'GET', '/api/suites')).json.suites as { name: string; runnable: boolean; skipReason: string | null }[];
      for (const s of suites.filter((x) => x.name !== 'live-meter')) {
        expect(s.runnable, s.name).toBe(false);
        expect(s.skipReason, s.name).toBe(`a run with the rig health suites is refused ("health": false leaves them out): ${healthWhy}`);
      }
      const start = await call(server.url, 'POST', '/api/runs', { body: { suites: ['long'] } });
      expect(start.status).toBe(400);
      expect(start.json.error).toBe(healthWhy);
      expect((await call(server.url, 'GET', '/api/rig')).json.busy).toBeNull();
      expect(readdirSync(reports)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe('pnc-bench serve: report.html cannot be built', () => {
  it('the run ends as usual, with a warning on the stream and in the server log', async () => {
    const lines: string[] = [];
    const { server } = await startTestServer({ probeOnStart: false, log: (l) => lines.push(l) });
    try {
      const ws = await StreamClient.open(server.url);
      brokenReport.on = true;
      const start = await call(server.url, 'POST', '/api/runs', { body: { suites: ['fails'], health: false } });
      expect(start.status).toBe(202);
      const runId = start.json.runId as string;
      const ended = await ws.wait('run.ended', (e) => e.runId === runId, 30_000);
      expect(ended).toMatchObject({ outcome: 'FAIL', recorded: true });
      const warning = /^report\.html could not be built: boom in the page \(a bug: the page written says so; record\.json and junit\.xml are complete\)$/;
      expect(ws.find('log', (e) => e.runId === runId && e.source === 'server' && e.level === 'warn' && warning.test(e.msg))).toBeDefined();
      expect(lines).toContain(`run ${runId}: warning: report.html could not be built: boom in the page (a bug: the page written says so; record.json and junit.xml are complete)`);
      expectValid(ws.raw);
      ws.close();
    } finally {
      brokenReport.on = false;
      await server.close();
    }
  });
});

describe('pnc-bench serve: suite files edited while it runs', () => {
  it('refuses to run a suite whose file changed since the server loaded it', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'edited.suite.mts');
    const text = readFileSync(path.join(ROOT, SUITES.fail), 'utf8').replaceAll("'../../../src/", `'${ROOT}/src/`);
    writeFileSync(file, text);
    const { server } = await startTestServer({ suitePaths: [file], probeOnStart: false });
    try {
      writeFileSync(file, text + '// edited\n');
      const r = await call(server.url, 'POST', '/api/runs', { body: { suites: ['fails'] } });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatch(/edited\.suite\.mts changed on disk since the server started; restart pnc-bench serve/);
      expect((await call(server.url, 'GET', '/api/rig')).json.busy).toBeNull();
    } finally {
      await server.close();
    }
  });
});

describe('pnc-bench serve as a command', () => {
  it('docs/server.md lists exactly the options of the command', () => {
    const program = new Command('pnc-bench');
    serveCommands(program, { out: () => {}, err: () => {} }, () => {});
    const serve = program.commands.find((c) => c.name() === 'serve');
    const fromCommand = (serve?.options ?? []).map((o) => o.long as string).sort();
    const doc = readFileSync(path.join(ROOT, 'docs/server.md'), 'utf8');
    const fromDoc = [...doc.matchAll(/^\| `(--[a-z-]+)[ `]/gm)].map((m) => m[1] as string).sort();
    expect(fromDoc).toEqual(fromCommand);
  });

  it('exits 2 when asked to bind elsewhere without a token', async () => {
    const { done } = startCli(['serve', '--rig', SIM_RIG, '--host', '0.0.0.0', '--port', '0'], { env: { PNC_BENCH_TOKEN: '', HIL_SIM_MARKER: path.join(tempDir(), 'm') } });
    const r = await done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: binding to 0\.0\.0\.0 needs a token: pass --token <t> or set PNC_BENCH_TOKEN/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('serves until SIGTERM, then stops with exit 0', async () => {
    const reports = tempDir();
    const { child, done } = startCli(['serve', SUITES.host, '--rig', SIM_RIG, '--port', '0', '--reports', reports, '--no-probe'], { env: { HIL_SIM_MARKER: path.join(reports, 'm') } });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const url = await until('the listening line', () => /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1], 20_000);
    const suites = await call(url, 'GET', '/api/suites');
    expect((suites.json.suites as { name: string }[]).map((s) => s.name)).toEqual(['host-health']);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('SIGTERM: stopping the server');
  });
});
