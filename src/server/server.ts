// The live bench server behind `pnc-bench serve` (src/cli/serve.ts): a fastify HTTP API to list
// suites, check the rig, start and abort runs (one at a time per rig) and fetch past runs' records
// and reports; a WebSocket event stream (GET /api/events, schema in events.schema.json); and the web
// view (static files in src/server/web/) at `/`. Runs go through the same run session as
// `pnc-bench run` (src/runner/session.ts). API reference: docs/server.md.
//
//   const srv = await startBenchServer({ rigFile: 'rigs/virtual.yaml', reportsDir: 'reports', port: 0 });
//   console.log(srv.url);       // http://127.0.0.1:40123/
//   await srv.close();          // aborts a running run (its record is still written), then stops
//
// Security: bound to 127.0.0.1 by default. Any other host needs a token (startBenchServer refuses to
// start without one), checked as `Authorization: Bearer <token>` on every request but those of the
// web view's static files (the WebSocket also takes `?token=`, since browsers cannot set its
// headers). Which check applies is decided by the route the request matched, never by the raw URL
// text (the router decodes `%61pi`); unknown paths are checked like the API. Without a token,
// requests must name a loopback Host (no DNS rebinding); a cross-origin browser request is refused
// either way (Origin must be http(s)://<Host>, so a TLS proxy in front must keep the Host header).
// While the server is shutting down, starting a run or a probe gets 503.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { InfluxUrlError, parseInfluxUrl } from '../report/influx.ts';
import { RECORD_FILE } from '../report/outputs.ts';
import type { OutcomeDetail, Trigger } from '../report/record.ts';
import { PACKAGE_ROOT, softwareInfo } from '../report/software.ts';
import { formatRigIssue, loadRig, RigConfigError } from '../rig/load.ts';
import { ambiguousRoles, rigCapabilities, suiteFit } from '../rig/roles.ts';
import { ConfigError } from '../runner/errors.ts';
import { nowMs as now } from '../../drivers/common/time.ts';
import type { LoadedSuite } from '../runner/executor.ts';
import { LimitFileError } from '../runner/limits.ts';
import { loadSuites } from '../runner/load-suites.ts';
import { DEFAULT_SUITES, prepareSession, sessionSuiteFiles, SimulatorError, type RunSession } from '../runner/session.ts';
import { EVENTS_SCHEMA_ID, LiveRunTracker, type DriverHealth, type LiveRun, type RigStatus, type RunLinks, type ServerEvent, type UnstampedEvent } from './events.ts';
import { DEFAULT_HOST, DEFAULT_PORT, LOOPBACK_HOSTS } from './defaults.ts';
import { ServerConfigError, ServerListenError } from './errors.ts';
import { probeRig, type ProbeResult } from './health.ts';
import { RUN_FILES, RunIdError, RunNotFoundError, RunStore, type RunFileName } from './runs.ts';

export { ServerConfigError, ServerListenError };

/** The web view's static files. */
export const WEB_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'web');

export interface BenchServerOptions {
  rigFile: string;
  /** Suite files or directories offered by GET /api/suites (default bench/). */
  suitePaths?: readonly string[];
  reportsDir: string;
  host?: string;
  port?: number;
  /** Required unless `host` is a loopback name; when set, always checked. */
  token?: string;
  /** Also write each run's points to InfluxDB. */
  influxUrl?: string;
  /** Recorded as the operator of runs started without one. */
  operator?: string;
  /** Check every driver's health when the server starts (default true). */
  probeOnStart?: boolean;
  /** Period of driver snapshots on the event stream while a run has drivers open (default: the session's, DEFAULT_SNAPSHOT_INTERVAL_MS). */
  snapshotIntervalMs?: number;
  /** Server messages (started, run started/ended, unexpected errors), one line each. */
  log?: (line: string) => void;
}

export interface BenchServer {
  /** http://host:port/ as bound (the real port when 0 was asked). */
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  /** The run in progress: its id and the promise of its end. */
  current(): { runId: string; done: Promise<void> } | null;
  /** Aborts the run in progress (a second call cuts its teardown short); 'none' when nothing runs. */
  abortCurrent(reason: string): 'cancel' | 'force' | 'none';
  /**
   * Refuses new runs and probes (503), waits for a run being prepared, aborts a running run (record
   * still written) and waits for it and for a probe, then closes connections and the port.
   */
  close(): Promise<void>;
}

/** An API error with its HTTP status and extra JSON members. */
class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

interface SuiteInfo {
  /** The suite file relative to the package root: what POST /api/runs takes (the name works too). */
  id: string;
  name: string;
  version: string;
  description: string | null;
  requires: string[];
  uses: Record<string, string>;
  phases: { name: string; group: 'setup' | 'main' | 'teardown'; description: string | null }[];
  /**
   * false when the rig lacks a required feature or a used capability (the run would SKIP it) or a
   * run of it with the rig health suites would be refused: two drivers could fill a role of it or
   * of a health suite (until the rig file names one after the role).
   */
  runnable: boolean;
  skipReason: string | null;
}

const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const FILE_TYPES: Record<RunFileName, string> = {
  'record.json': 'application/json; charset=utf-8',
  'report.html': 'text/html; charset=utf-8',
  'junit.xml': 'application/xml; charset=utf-8',
};

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** `why`: why the rig cannot run it (null: it can). */
function suiteInfo(s: LoadedSuite, why: string | null): SuiteInfo {
  const phases = (group: 'setup' | 'main' | 'teardown', list: readonly { name: string; description?: string }[] | undefined) =>
    (list ?? []).map((p) => ({ name: p.name, group, description: p.description ?? null }));
  return {
    id: s.file,
    name: s.def.name,
    version: s.def.version,
    description: s.def.description ?? null,
    requires: [...(s.def.requires ?? [])],
    uses: { ...(s.def.uses ?? {}) },
    phases: [...phases('setup', s.def.setup), ...phases('main', s.def.main), ...phases('teardown', s.def.teardown)],
    runnable: why === null,
    skipReason: why,
  };
}

function staticFiles(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(WEB_DIR)) if (/^[a-z0-9-]+\.(html|js|css|svg)$/.test(f)) out.set(f, path.join(WEB_DIR, f));
  if (!out.has('index.html')) throw new Error(`the web view is missing: no index.html in ${WEB_DIR}`);
  return out;
}

const isLoopback = (host: string): boolean => (LOOPBACK_HOSTS as readonly string[]).includes(host);

/** Routes (as registered) that load without a token or an Origin check: the web view's static files, which hold no data. */
const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/', '/:file']);

export async function startBenchServer(opts: BenchServerOptions): Promise<BenchServer> {
  const host = opts.host ?? DEFAULT_HOST;
  const token = opts.token && opts.token.length > 0 ? opts.token : undefined;
  if (!token && !isLoopback(host)) throw new ServerConfigError(`binding to ${host} needs a token: pass --token <t> or set PNC_BENCH_TOKEN (without one, only ${LOOPBACK_HOSTS.join(', ')} may be bound)`);
  if (token && token.length < 16) throw new ServerConfigError('the token must be at least 16 characters long');
  if (opts.influxUrl) parseInfluxUrl(opts.influxUrl);
  const log = opts.log ?? (() => {});
  const rig = await loadRig(opts.rigFile);
  for (const w of rig.warnings) log(`warning: ${formatRigIssue(w)}`);
  const suitePaths = opts.suitePaths?.length ? [...opts.suitePaths] : [DEFAULT_SUITES];
  // Every suite a run may import, loaded once: the rig health suites each run adds first and the
  // offered ones, listed as a session lists them. A run is refused when one of them changed on disk
  // since (its hash would not be the code that runs).
  const allFiles = sessionSuiteFiles(suitePaths, true);
  const loaded = await loadSuites(allFiles, PACKAGE_ROOT);
  const byFile = new Map(allFiles.map((f, i) => [f, loaded[i] as LoadedSuite]));
  const files = sessionSuiteFiles(suitePaths, false);
  const suites = files.map((f) => byFile.get(f) as LoadedSuite);
  const caps = rigCapabilities(rig);
  /**
   * Why the rig cannot run a suite started alone with the rig health suites first (the default), as
   * runBench decides (null: it can): a role two drivers could fill in it or in a health suite refuses
   * the run; a missing feature or capability SKIPS it.
   */
  const whyNot = (file: string, s: LoadedSuite): string | null => {
    const fit = suiteFit(caps, rig.config.features, s.def);
    if (!fit.ok && fit.kind === 'ambiguous') return fit.message;
    const refused = ambiguousRoles(caps, rig.config.features, sessionSuiteFiles([file], true).map((f) => byFile.get(f) as LoadedSuite));
    if (refused.length) return `a run with the rig health suites is refused ("health": false leaves them out): ${refused.join('; ')}`;
    return fit.ok ? null : fit.message;
  };
  const catalogue = suites.map((s, i) => suiteInfo(s, whyNot(files[i] as string, s)));
  /** suite id (its recorded path) → the file to run */
  const suiteFiles = new Map(suites.map((s, i) => [s.file, files[i] as string]));
  const loadedHashes = new Map(loaded.map((s) => [s.file, s.sha256]));
  const web = staticFiles();
  const store = new RunStore(opts.reportsDir);
  const tokenDigest = token ? digest(token) : undefined;

  // ── state: the rig status, the one run in progress, the stream's clients ──
  const rigStatus: RigStatus = {
    id: rig.config.id,
    description: rig.config.description ?? null,
    file: rig.file,
    features: [...rig.config.features],
    dut: { ...rig.config.dut },
    simulator: rig.simulator ? { name: rig.simulator.def.name, description: rig.simulator.def.description } : null,
    drivers: Object.entries(rig.config.drivers).map(([name, d]) => ({ name, driver: d.driver, provides: [...(rig.registry.get(d.driver)?.provides ?? [])], health: null, snapshot: null })),
    probe: { state: 'idle', checkedAt: null, error: null },
    busy: null,
  };
  let seq = 0;
  const clients = new Set<WebSocket>();
  const broadcast = (ev: UnstampedEvent): void => {
    const full = { ...ev, seq: ++seq, t: ev.t ?? now() } as ServerEvent;
    const text = JSON.stringify(full);
    for (const ws of clients) {
      if (ws.readyState !== ws.OPEN) continue;
      // a client that stopped reading does not get to hold the server's memory
      if (ws.bufferedAmount > 8 * 1024 * 1024) ws.terminate();
      else ws.send(text);
    }
  };
  const rigChanged = (): void => broadcast({ type: 'rig.status', rig: structuredClone(rigStatus) });
  const setHealth = (driver: string, h: DriverHealth, snapshot?: RigStatus['drivers'][number]['snapshot']): void => {
    const d = rigStatus.drivers.find((x) => x.name === driver);
    if (!d) return;
    d.health = h;
    if (snapshot !== undefined) d.snapshot = snapshot;
  };

  let active: { session: RunSession; tracker: LiveRunTracker; done: Promise<void> } | null = null;
  let lastRun: LiveRun | null = null;
  let preparing: Promise<unknown> | null = null;
  let probing: Promise<void> | null = null;
  /** set by close(): no new run or probe */
  let shuttingDown = false;
  const refuseWhileClosing = (what: string): void => {
    if (shuttingDown) throw new HttpError(503, `the live server is shutting down: no ${what}`);
  };

  const probe = (): Promise<void> => {
    if (probing) return probing;
    rigStatus.probe = { state: 'probing', checkedAt: rigStatus.probe.checkedAt, error: null };
    rigChanged();
    probing = (async () => {
      const r = await probeRig(opts.rigFile, rig).catch((e: unknown): ProbeResult => ({ drivers: {}, error: `the probe failed: ${msg(e)}` }));
      for (const [name, x] of Object.entries(r.drivers)) {
        setHealth(name, x.health, x.snapshot);
        broadcast({ type: 'driver.health', t: x.health.t, runId: null, driver: name, ok: x.health.ok, detail: x.health.detail, check: x.health.check, reconnects: x.health.reconnects });
      }
      rigStatus.probe = { state: 'idle', checkedAt: new Date().toISOString(), error: r.error };
      if (r.error) log(`rig probe: ${r.error}`);
    })().finally(() => {
      probing = null;
      rigChanged();
    });
    return probing;
  };

  const abortCurrent = (reason: string): 'cancel' | 'force' | 'none' => {
    if (!active) return 'none';
    const level = active.session.abort(reason);
    if (level !== 'none') {
      active.tracker.abortRequested(level, reason);
      log(`run ${active.session.runId}: ${level === 'cancel' ? 'aborting' : 'cutting teardown short'} (${reason})`);
    }
    return level;
  };

  const links = (runId: string): RunLinks => ({ record: `/api/runs/${runId}`, report: `/api/runs/${runId}/report.html`, junit: `/api/runs/${runId}/junit.xml` });

  const startRun = async (body: unknown): Promise<string> => {
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) throw new HttpError(400, 'the body must be a JSON object: {"suites": ["<suite id or name>", ...], "operator": "<name>", "health": true|false}');
    const b = (body ?? {}) as Record<string, unknown>;
    const unknownKeys = Object.keys(b).filter((k) => k !== 'suites' && k !== 'operator' && k !== 'health');
    if (unknownKeys.length) throw new HttpError(400, `unknown key(s) ${unknownKeys.map((k) => `"${k}"`).join(', ')}: the body takes "suites", "operator" and "health"`);
    if (b.health !== undefined && typeof b.health !== 'boolean') throw new HttpError(400, '"health" must be true or false (false: do not add the rig health suites ahead of the chosen ones)');
    if (b.suites !== undefined && (!Array.isArray(b.suites) || b.suites.some((s) => typeof s !== 'string'))) throw new HttpError(400, '"suites" must be an array of suite ids or names (GET /api/suites)');
    if (b.operator !== undefined && (typeof b.operator !== 'string' || b.operator.length > 100)) throw new HttpError(400, '"operator" must be a string of at most 100 characters');
    const wanted = (b.suites as string[] | undefined) ?? [];
    const chosen: string[] = [];
    for (const w of wanted) {
      const hit = catalogue.find((s) => s.id === w || s.name === w);
      if (!hit) throw new HttpError(400, `unknown suite "${w.slice(0, 200)}"; known: ${catalogue.map((s) => s.name).join(', ')}`);
      if (!chosen.includes(hit.id)) chosen.push(hit.id);
    }
    if (wanted.length && !chosen.length) throw new HttpError(400, 'no suites chosen');
    const files = (chosen.length ? chosen : catalogue.map((s) => s.id)).map((id) => suiteFiles.get(id) as string);

    refuseWhileClosing('new run');
    while (preparing) await preparing.catch(() => {});
    refuseWhileClosing('new run');
    if (active) throw new HttpError(409, `run ${active.session.runId} is in progress on rig ${rig.config.id} (one run at a time)`, { runId: active.session.runId });
    const operator = (b.operator as string | undefined) ?? opts.operator;
    const trigger: Trigger = { kind: 'manual', ...(operator ? { operator } : {}) };
    const p = prepareSession({
      rigFile: opts.rigFile,
      suitePaths: files,
      health: b.health !== false,
      reportsDir: opts.reportsDir,
      trigger,
      ...(opts.influxUrl ? { influxUrl: opts.influxUrl } : {}),
      snapshotIntervalMs: opts.snapshotIntervalMs, // undefined: the session's default
    });
    preparing = p;
    let session: RunSession;
    try {
      session = await p;
    } catch (e) {
      if (e instanceof RigConfigError) throw new HttpError(400, `the rig file is invalid now: ${e.message}`);
      if (e instanceof ConfigError || e instanceof LimitFileError || e instanceof InfluxUrlError) throw new HttpError(400, e.message);
      throw e;
    } finally {
      preparing = null;
    }
    // runBench would refuse it (ConfigError) once started: say so now, not with a run that ends ERROR
    const refused = ambiguousRoles(rigCapabilities(session.rig), session.rig.config.features, session.suites);
    if (refused.length) throw new HttpError(400, refused.join('\n'));
    // Suite modules stay as the server first imported them: a suite file edited since would be
    // recorded with a hash that is not the code that runs.
    const changed = session.suites.filter((x) => loadedHashes.get(x.file) !== x.sha256).map((x) => x.file);
    if (changed.length) throw new HttpError(400, `suite file(s) ${changed.join(', ')} changed on disk since the server started; restart pnc-bench serve to run the edited version`);
    refuseWhileClosing('new run'); // close() began while the session was prepared: it is dropped unrun
    const runId = session.runId;
    const tracker = new LiveRunTracker(runId, trigger, session.suites.map((s) => ({ name: s.def.name, file: s.file })), broadcast, (d, h) => setHealth(d, h));
    session.on((ev) => tracker.onSessionEvent(ev));
    rigStatus.busy = runId;
    rigChanged();
    log(`run ${runId} started: ${session.suites.map((s) => s.def.name).join(', ')}`);
    const done = (async () => {
      try {
        if (probing) await probing;
        const r = await session.run();
        if (r.influx) tracker.log('info', 'written' in r.influx ? `influx: ${r.influx.written} points written` : `influx: server unavailable (${r.influx.reason}); ${r.influx.spooled} points spooled to ${r.influx.spoolFile}`, 'server');
        if (r.influxError !== undefined) tracker.log('error', `influx export failed: ${msg(r.influxError)}`, 'server');
        if (r.reportError !== undefined) {
          tracker.log('warn', r.reportError, 'server');
          log(`run ${runId}: warning: ${r.reportError}`);
        }
        tracker.ended(r.record.outcome, r.record.marginal, r.record.outcomeDetails, links(runId));
        log(`run ${runId} ended ${r.record.outcome}`);
      } catch (e) {
        const detail: OutcomeDetail =
          e instanceof SimulatorError ? { code: 'SIMULATOR', message: e.message } : e instanceof ConfigError ? { code: 'CONFIG', message: e.message } : { code: 'RUNNER', message: `runner fault: ${msg(e)}` };
        tracker.log('error', detail.message, 'server');
        const recorded = existsSync(path.join(session.runDir, RECORD_FILE));
        tracker.ended(e instanceof SimulatorError ? 'INFRA' : 'ERROR', false, [detail], recorded ? links(runId) : null);
        log(`run ${runId} failed: ${detail.message}`);
        if (!(e instanceof SimulatorError || e instanceof ConfigError)) log(e instanceof Error ? (e.stack ?? e.message) : String(e));
      } finally {
        lastRun = tracker.state();
        active = null;
        rigStatus.busy = null;
        rigChanged();
      }
    })();
    active = { session, tracker, done };
    return runId;
  };

  // ── HTTP ──
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  const port = opts.port ?? DEFAULT_PORT;

  const hostAllowed = (hostHeader: string | undefined): boolean => {
    if (token) return true;
    if (!hostHeader) return false;
    const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(hostHeader);
    const name = (m?.[1] ?? '').replace(/^\[|\]$/g, '').toLowerCase();
    return isLoopback(name);
  };
  const sameOrigin = (origin: string | undefined, hostHeader: string | undefined): boolean =>
    origin === undefined || origin === `http://${hostHeader}` || origin === `https://${hostHeader}`;
  const tokenOk = (given: string | undefined): boolean => !tokenDigest || (given !== undefined && timingSafeEqual(digest(given), tokenDigest));
  const bearer = (auth: string | undefined): string | undefined => (auth && /^Bearer /i.test(auth) ? auth.slice(7).trim() : undefined);

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!hostAllowed(req.headers.host)) return reply.code(403).send({ error: `Host "${req.headers.host ?? ''}" is not this server's loopback address` });
    // decided by the route the router matched (it decodes the path), not by the URL's raw text
    if ((req.method === 'GET' || req.method === 'HEAD') && PUBLIC_ROUTES.has(req.routeOptions.url ?? '')) return;
    if (!sameOrigin(req.headers.origin, req.headers.host)) return reply.code(403).send({ error: `cross-origin request from ${req.headers.origin} refused` });
    if (!tokenOk(bearer(req.headers.authorization))) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="pnc-bench"')
        .send({ error: req.headers.authorization ? 'wrong token' : 'this server needs a token: Authorization: Bearer <token>' });
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; extra?: Record<string, unknown> }, _req, reply) => {
    if (err instanceof HttpError) return reply.code(err.statusCode).send({ error: err.message, ...err.extra });
    if (err instanceof RunIdError) return reply.code(400).send({ error: err.message });
    if (err instanceof RunNotFoundError) return reply.code(404).send({ error: err.message });
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log(`internal error: ${err.stack ?? err.message}`);
    return reply.code(status).send({ error: status === 500 ? `internal error: ${err.message}` : err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no such resource: ${req.method} ${req.url.split('?')[0]}` }));

  const sendStatic = (reply: FastifyReply, file: string): FastifyReply =>
    reply
      .type(STATIC_TYPES[path.extname(file)] ?? 'application/octet-stream')
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .send(readFileSync(file));
  app.get('/', async (_req, reply) => sendStatic(reply, web.get('index.html') as string));
  app.get<{ Params: { file: string } }>('/:file', async (req, reply) => {
    const f = web.get(req.params.file);
    if (!f) return reply.code(404).send({ error: `no such resource: GET /${req.params.file.slice(0, 100)}` });
    return sendStatic(reply, f);
  });

  app.get('/api/suites', async () => ({ rig: rig.config.id, suites: catalogue }));
  app.get('/api/rig', async () => rigStatus);
  app.post('/api/rig/probe', async (_req, reply) => {
    refuseWhileClosing('probe');
    if (active) throw new HttpError(409, `run ${active.session.runId} is in progress: the rig is busy (its preflight health is on the event stream)`, { runId: active.session.runId });
    probe().catch((e: unknown) => log(`rig probe failed: ${msg(e)}`));
    return reply.code(202).send({ probing: true });
  });
  app.post('/api/runs', async (req, reply) => {
    const runId = await startRun(req.body);
    return reply.code(202).send({ runId, events: '/api/events', ...links(runId) });
  });
  app.get<{ Querystring: { limit?: string } }>('/api/runs', async (req) => {
    const raw = req.query.limit;
    const limit = raw === undefined ? 100 : Number(raw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new HttpError(400, `limit must be an integer from 1 to 10000, not "${String(raw).slice(0, 40)}"`);
    return { running: active?.session.runId ?? null, runs: await store.list(limit) };
  });
  app.post<{ Params: { id: string } }>('/api/runs/:id/abort', async (req, reply) => {
    const id = req.params.id;
    if (active && active.session.runId === id) {
      const level = abortCurrent('aborted from the live server');
      return reply.code(202).send({ runId: id, abort: level });
    }
    store.runDir(id); // 400 for a malformed id, 404 for an unknown one
    throw new HttpError(409, `run ${id} is not running`, { runId: id });
  });
  const sendRunFile = (name: RunFileName) => async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const f = store.file(req.params.id, name);
    return reply.type(FILE_TYPES[name]).header('x-content-type-options', 'nosniff').send(createReadStream(f));
  };
  app.get('/api/runs/:id', sendRunFile('record.json'));
  for (const name of Object.keys(RUN_FILES) as RunFileName[]) app.get(`/api/runs/:id/${name}`, sendRunFile(name));
  app.get('/api/events', async (_req, reply) => reply.code(426).header('upgrade', 'websocket').send({ error: 'GET /api/events is a WebSocket: connect with Upgrade: websocket' }));

  // ── the event stream ──
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const refuse = (socket: Duplex, status: number, text: string): void => {
    const body = JSON.stringify({ error: text });
    socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Not Found'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  };
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/api/events') return refuse(socket, 404, `no WebSocket at ${url.pathname}`);
    if (!hostAllowed(req.headers.host)) return refuse(socket, 403, 'Host is not this server\'s loopback address');
    if (!sameOrigin(req.headers.origin, req.headers.host)) return refuse(socket, 403, `cross-origin connection from ${req.headers.origin} refused`);
    const given = bearer(req.headers.authorization) ?? url.searchParams.get('token') ?? undefined;
    if (!tokenOk(given)) return refuse(socket, 401, given ? 'wrong token' : 'this server needs a token: Authorization: Bearer <token> or ?token=');
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.on('close', () => clients.delete(ws));
      ws.on('error', () => clients.delete(ws));
      ws.on('message', () => {}); // the stream is one-way; the API is HTTP
      const hello: ServerEvent = { type: 'hello', seq: ++seq, t: now(), schema: EVENTS_SCHEMA_ID, rig: structuredClone(rigStatus), run: active ? active.tracker.state() : lastRun };
      ws.send(JSON.stringify(hello));
    });
  });

  try {
    await app.listen({ host, port });
  } catch (e) {
    wss.close();
    await app.close().catch(() => {});
    const code = (e as NodeJS.ErrnoException).code;
    throw new ServerListenError(`cannot listen on ${host}:${port}: ${code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'permission denied' : code === 'EADDRNOTAVAIL' ? 'no such local address' : msg(e)}`);
  }
  const addr = app.server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${shownHost}:${addr.port}/`;
  log(`pnc-bench ${softwareInfo().benchVersion} serving rig ${rig.config.id} at ${url}${token ? ' (token required)' : ''}`);
  if (opts.probeOnStart ?? true) probe().catch((e: unknown) => log(`rig probe failed: ${msg(e)}`));

  let closing: Promise<void> | null = null;
  return {
    url,
    port: addr.port,
    app,
    current: () => (active ? { runId: active.session.runId, done: active.done } : null),
    abortCurrent,
    close: () =>
      (closing ??= (async () => {
        shuttingDown = true;
        while (preparing) await preparing.catch(() => {});
        if (active) {
          const { done } = active;
          abortCurrent('the live server is shutting down');
          await done;
        }
        if (probing) await probing;
        for (const ws of clients) ws.terminate();
        wss.close();
        await app.close();
      })()),
  };
}
