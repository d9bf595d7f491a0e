// The mock CSMS: an OCPP-J 1.6 server on `ws` (our own RPC layer, connection.ts) with the PnC
// DataTransfer extension, security profiles 1–3 per charger, scripting and evidence capture.
// Chargers connect to `<url>/<chargePointId>` offering the `ocpp1.6` subprotocol.
//
//   const csms = new MockCsms({ port: 0, tls: true, defaults: { securityProfile: 2, password: 'sixteen-chars-pw' } });
//   const { url } = await csms.listen(signal);                   // wss://127.0.0.1:<port>
//   const boot = await csms.expectCall('CP1', 'BootNotification', { timeoutMs: 60_000, signal });
//   csms.respond('CP1', 'DataTransfer.Authorize', { status: 'Blocked' });
//   const r = await csms.call('CP1', 'InstallCertificate', { certificateType: 'V2GRootCertificate', certificate }, { signal, pnc: true });
//   for (const p of csms.drainTimings()) ctx.timing(p);
//   await csms.close(2_000);
//
// Handshake order: path → charge point id (unknown ids accepted with the defaults unless
// `unknownChargers: 'reject'`) → security profile vs transport → Basic auth / client certificate →
// subprotocol (`ocpp1.6`; otherwise, as OCPP-J 1.6 says, the handshake completes without a
// subprotocol and the CSMS closes at once, or with `subprotocolMismatch: 'reject'` an HTTP 400).
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import { LinkError, type JsonObject, type TimingPoint } from '../../drivers/capabilities.ts';
import { abortReason, settleWithin } from '../../drivers/common/abort.ts';
import { nowMs, nowUs } from '../../drivers/common/time.ts';
import { generatePki, OcspResponder, type BenchPki, type OcspTransport } from '../pki/index.ts';
import { ChargePoint, keepRecent, type CallOptions, type ConnectionInfo, type CsmsServices } from './chargepoint.ts';
import { resolveChargerConfig, type ChargerSettings } from './config.ts';
import { RpcConnection, type Exchange } from './connection.ts';
import { ExchangeLog } from './exchanges.ts';
import { CsmsUsageError } from './errors.ts';
import type { Ocpp16CallAction, Ocpp16Calls, PncCallMessage, PncCallResult, PncCalls } from './messages.ts';
import { OcppSchemas } from './schemas.ts';
import { DEFAULT_INBOX_PER_ACTION, type RuleHandle, type RuleOptions } from './script.ts';
import { checkHandshake, checkRefusalStatus, peerCertificateChain, DEFAULT_REFUSAL_STATUS, REFUSAL_KINDS, serverTlsOptions, type PeerCertificateInfo, type RefusalKind, type TlsSettings } from './security.ts';
import { frameLineHeads, timingPoint, toUs, transcriptLine, writeFrameLine, type FrameLineHeads } from './transcript.ts';
import type { ChargerConfig, ExpectOptions, ReceivedCall, ResponsePlan, TranscriptEntry, TranscriptEvent, TranscriptFrame, TranscriptWriter, ViolationRecord } from './types.ts';

export { DEFAULT_CHARGER_CONFIG, resolveChargerConfig, type ChargerSettings } from './config.ts';

export const OCPP16_SUBPROTOCOL = 'ocpp1.6';

export interface MockCsmsOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** default 0 (an ephemeral port) */
  port?: number;
  /** the bench PKI (TLS certificates, CSR signing, contracts, OCSP); default generated from `pkiSeed` on first use */
  pki?: BenchPki;
  pkiSeed?: string;
  /** serve wss:// with the PKI's ECDSA and RSA server certificates */
  tls?: boolean | TlsSettings;
  /** settings for every charger, below `chargers[id]` */
  defaults?: ChargerSettings;
  chargers?: Record<string, ChargerSettings>;
  /** charge point ids not in `chargers`: accepted with `defaults` (default) or refused with 404 */
  unknownChargers?: 'accept' | 'reject';
  /** default timeout of CSMS CALLs (default 30 000) */
  callTimeoutMs?: number;
  /** outstanding CSMS CALLs per charger; OCPP-J says 1 (default); more is a fault-injection mode */
  callConcurrency?: number;
  /** WebSocket ping interval; a charger that misses a pong by the next ping is dropped (default 30 000; 0 = off) */
  pingIntervalMs?: number;
  /** largest accepted frame (default 1 MiB) */
  maxPayloadBytes?: number;
  /** a charger not offering ocpp1.6: complete and close at once ('close', OCPP-J 1.6) or refuse (HTTP 400, `refusalStatus.subprotocol`) */
  subprotocolMismatch?: 'close' | 'reject';
  /**
   * HTTP status per kind of handshake refusal (400–599), e.g. `{ wrongPassword: 403, unknownCharger: 401 }`.
   * Defaults: badPath 400, unknownCharger 404, transport 400, noCredentials 401, wrongPassword 401,
   * badCertificate 401, subprotocol 400, offline 503 (the default of ChargePoint.goOffline).
   */
  refusalStatus?: Partial<Record<RefusalKind, number>>;
  /** where transcript lines go (the driver's ctx.transcript) */
  transcript?: TranscriptWriter;
  /** how OCSP responders are reached (default: the in-process responder `csms.ocsp`) */
  ocspTransport?: OcspTransport;
  /** calls kept per charger and action for a later expectCall until consumed (default 16; the oldest go first; 0 = none) */
  inboxLimit?: number;
  /** exchanges kept for timings until drained, at most (default 100 000; the oldest go first) */
  maxExchanges?: number;
}

export interface Refusal {
  t: number;
  chargePointId: string | undefined;
  /** what was wrong; 'subprotocol' with status 101 when the handshake completed and was closed at once */
  kind: RefusalKind;
  status: number;
  /** profile 3: the client certificate chain presented (leaf first) */
  clientCertificateChain?: PeerCertificateInfo[];
  reason: string;
  remoteAddress: string | undefined;
}

type Listener<T> = (v: T) => void;
/**
 * What `MockCsms.on` delivers. Frames and events are separate channels, so a listener of events (the
 * driver logs connects) does not make the CSMS build an entry object for every frame; `entry` is both
 * channels, in the order things happened (the standalone command prints them all).
 */
export interface CsmsEvents {
  /** every frame in and out (built only while someone listens) */
  frame: TranscriptFrame;
  /** every transcript event: connected, disconnected, violation, handshake-refused, ... */
  event: TranscriptEvent;
  /** frames and events */
  entry: TranscriptEntry;
  violation: ViolationRecord;
  call: ReceivedCall;
  exchange: Exchange;
  refusal: Refusal;
}
type Channel = Exclude<keyof CsmsEvents, 'entry'>;

export class MockCsms {
  readonly schemas = OcppSchemas.shared();
  private readonly opts: MockCsmsOptions;
  private server: http.Server | https.Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly cps = new Map<string, ChargePoint>();
  private readonly allViolations: ViolationRecord[] = [];
  private readonly allRefusals: Refusal[] = [];
  private readonly exchangeLog: ExchangeLog;
  private readonly listeners: { [K in Channel]: Listener<CsmsEvents[K]>[] } = { frame: [], event: [], violation: [], call: [], exchange: [], refusal: [] };
  private readonly life = new AbortController();
  private pingTimer: NodeJS.Timeout | undefined;
  private transactionSeq = 0;
  private bound: { host: string; port: number } | undefined;
  private pkiValue: BenchPki | undefined;
  private responder: OcspResponder | undefined;
  private readonly services: CsmsServices;
  private readonly sockets = new Set<Duplex>();
  private readonly refusalStatus: Readonly<Record<RefusalKind, number>>;

  constructor(opts: MockCsmsOptions = {}) {
    this.opts = opts;
    const statuses = { ...DEFAULT_REFUSAL_STATUS };
    for (const [k, v] of Object.entries(opts.refusalStatus ?? {})) {
      if (!(REFUSAL_KINDS as readonly string[]).includes(k)) throw new CsmsUsageError(`refusalStatus.${k}: not a kind of refusal (${REFUSAL_KINDS.join(', ')})`);
      if (v === undefined) continue;
      try {
        statuses[k as RefusalKind] = checkRefusalStatus(v, `refusalStatus.${k}`);
      } catch (e) {
        throw new CsmsUsageError((e as Error).message);
      }
    }
    this.refusalStatus = statuses;
    this.exchangeLog = new ExchangeLog(opts.maxExchanges ?? 100_000);
    this.services = this.makeServices();
    resolveChargerConfig(opts.defaults); // bad defaults fail here, not at the first connection
    for (const [id, s] of Object.entries(opts.chargers ?? {})) this.cps.set(id, new ChargePoint(id, resolveChargerConfig(opts.defaults, s), this.services));
  }

  private makeServices(): CsmsServices {
    const self = this; // for the getter below
    return {
      schemas: this.schemas,
      pki: () => this.pki,
      get ocspTransport(): OcspTransport {
        return self.opts.ocspTransport ?? ((req, url, signal) => self.ocsp.transport(req, url, signal));
      },
      signal: this.life.signal,
      callTimeoutMs: this.opts.callTimeoutMs ?? 30_000,
      callConcurrency: this.opts.callConcurrency ?? 1,
      inboxLimit: this.opts.inboxLimit ?? DEFAULT_INBOX_PER_ACTION,
      offlineStatus: this.refusalStatus.offline,
      nextTransactionId: () => ++this.transactionSeq,
      entry: (e) => this.entry(e),
      frame: (cp, dir, text, t, json, bytes) => {
        const w = this.opts.transcript;
        if (w) {
          let heads = this.lineHeads.get(cp);
          if (heads === undefined) this.lineHeads.set(cp, (heads = frameLineHeads(cp)));
          writeFrameLine(w, toUs(t), heads, dir, text, json, bytes);
        }
        if (this.listeners.frame.length) this.emit('frame', { tUs: toUs(t), cp, dir, text, json });
      },
      violation: (v) => {
        keepRecent(this.allViolations, v);
        this.entry({ tUs: toUs(v.t), cp: v.chargePointId, event: 'violation', detail: { rule: v.rule, message: v.message, ...(v.uniqueId !== undefined ? { uniqueId: v.uniqueId } : {}) } });
        this.emit('violation', v);
      },
      exchange: (cp, direction, message, uniqueId, t, latencyMs, outcome, errorCode) => {
        this.exchangeLog.push(cp, direction, message, uniqueId, t, latencyMs, outcome, errorCode);
        if (this.listeners.exchange.length) {
          this.emit('exchange', { chargePointId: cp, direction, message, uniqueId, t, latencyMs, outcome, ...(errorCode !== undefined ? { errorCode } : {}) });
        }
      },
      call: (c) => this.emit('call', c),
    };
  }

  // ------------------------------------------------------------------ PKI

  /** The bench PKI (generated from `pkiSeed` on first use when none was given). */
  get pki(): BenchPki {
    this.pkiValue ??= this.opts.pki ?? generatePki({ seed: this.opts.pkiSeed ?? 'pnc-bench mock csms' });
    return this.pkiValue;
  }

  /** The in-process OCSP responder over the PKI (revoke certificates here for negative tests). */
  get ocsp(): OcspResponder {
    this.responder ??= new OcspResponder(this.pki);
    return this.responder;
  }

  /**
   * Does now what would otherwise happen on first use: compiles the schemas and generates (or checks)
   * the PKI. The driver calls it in open(), so the first SignCertificate of a phase is not 0.5 s slower.
   */
  warmUp(): void {
    this.schemas.warmUp();
    void this.pki;
    void this.ocsp;
  }

  // ------------------------------------------------------------------ events

  /** Subscribes to a channel (CsmsEvents); returns the unsubscribe function. */
  on<K extends keyof CsmsEvents>(event: K, fn: Listener<CsmsEvents[K]>): () => void {
    if (event === 'entry') {
      const offFrames = this.on('frame', fn as Listener<TranscriptEntry>);
      const offEvents = this.on('event', fn as Listener<TranscriptEntry>);
      return () => {
        offFrames();
        offEvents();
      };
    }
    // copy on write: a listener that unsubscribes (or subscribes) while being called does not make emit skip the next one
    const lists = this.listeners as unknown as Record<Channel, Listener<CsmsEvents[K]>[]>;
    const ch = event as Channel;
    lists[ch] = [...lists[ch], fn];
    return () => {
      const i = lists[ch].indexOf(fn);
      if (i >= 0) lists[ch] = [...lists[ch].slice(0, i), ...lists[ch].slice(i + 1)];
    };
  }

  private emit<K extends Channel>(event: K, v: CsmsEvents[K]): void {
    for (const fn of this.listeners[event] as Listener<CsmsEvents[K]>[]) {
      try {
        fn(v);
      } catch {
        /* a listener's bug must not break the CSMS */
      }
    }
  }

  /** An event: its transcript line (one write; src/rig/transcript.ts copies lines into large blocks) and the `event` channel. */
  private entry(e: TranscriptEvent): void {
    this.opts.transcript?.write(transcriptLine(e));
    if (this.listeners.event.length) this.emit('event', e);
  }

  /** per charger: the constant parts of its frame lines */
  private readonly lineHeads = new Map<string, FrameLineHeads>();

  private event(cp: string, name: string, detail?: JsonObject | string): void {
    this.entry({ tUs: nowUs(), cp, event: name, ...(detail !== undefined ? { detail } : {}) });
  }

  // ------------------------------------------------------------------ chargers

  private defaultConfig: ChargerConfig | undefined;

  /** The charger `id` (created with the defaults when new). */
  chargePoint(id: string): ChargePoint {
    let cp = this.cps.get(id);
    if (!cp) {
      const own = this.opts.chargers?.[id];
      // chargers without settings of their own share one (never mutated) config object
      const config = own ? resolveChargerConfig(this.opts.defaults, own) : (this.defaultConfig ??= resolveChargerConfig(this.opts.defaults));
      cp = new ChargePoint(id, config, this.services);
      this.cps.set(id, cp);
    }
    return cp;
  }

  chargePoints(): ChargePoint[] {
    return [...this.cps.values()];
  }

  /** Changes a charger's settings (takes effect for new connections and the next calls). */
  configure(id: string, settings: ChargerSettings): ChargerConfig {
    return this.chargePoint(id).configure(settings);
  }

  call<A extends Ocpp16CallAction>(id: string, action: A, payload: Ocpp16Calls[A]['req'], opts: CallOptions & { pnc?: false }): Promise<Ocpp16Calls[A]['conf']>;
  call<M extends PncCallMessage>(id: string, action: M, payload: PncCalls[M]['req'], opts: CallOptions & { pnc: true }): Promise<PncCallResult<PncCalls[M]['conf']>>;
  call(id: string, action: string, payload: JsonObject, opts: CallOptions): Promise<unknown> {
    const cp = this.chargePoint(id);
    return (cp.call as (a: string, p: JsonObject, o: CallOptions) => Promise<unknown>)(action, payload, opts);
  }

  expectCall(id: string, key: string, opts: ExpectOptions): Promise<ReceivedCall> {
    return this.chargePoint(id).expectCall(key, opts);
  }

  respond(id: string, key: string, plan: ResponsePlan, opts?: RuleOptions): RuleHandle {
    return this.chargePoint(id).respond(key, plan, opts);
  }

  // ------------------------------------------------------------------ evidence

  violations(): readonly ViolationRecord[] {
    return this.allViolations;
  }

  refusals(): readonly Refusal[] {
    return this.allRefusals;
  }

  /** Exchanges recorded and not yet drained, oldest first. */
  exchanges(): Exchange[] {
    return this.exchangeLog.list();
  }

  /** Removes and returns the recorded exchanges. */
  drainExchanges(): Exchange[] {
    return this.exchangeLog.drain();
  }

  /** Removes the recorded exchanges and returns them as timing points for PhaseContext.timing(). */
  drainTimings(): TimingPoint[] {
    return this.drainExchanges().map(timingPoint);
  }

  snapshot(): JsonObject {
    return {
      listening: this.bound !== undefined,
      url: this.bound ? this.url : null,
      tls: Boolean(this.opts.tls),
      chargers: this.chargePoints().map((c) => c.snapshot()),
      violations: this.allViolations.length,
      refusals: this.allRefusals.length,
      exchangesPending: this.exchangeLog.length,
      exchangesDropped: this.exchangeLog.dropped,
    };
  }

  // ------------------------------------------------------------------ server

  get listening(): boolean {
    return this.bound !== undefined;
  }

  get port(): number {
    if (!this.bound) throw new CsmsUsageError('the CSMS is not listening');
    return this.bound.port;
  }

  /** Base URL; a charger connects to `${url}/<chargePointId>`. */
  get url(): string {
    if (!this.bound) throw new CsmsUsageError('the CSMS is not listening');
    const host = this.bound.host.includes(':') ? `[${this.bound.host}]` : this.bound.host;
    return `${this.opts.tls ? 'wss' : 'ws'}://${host}:${this.bound.port}`;
  }

  /** Starts listening. Rejects with LinkError when the port cannot be bound. */
  async listen(signal?: AbortSignal): Promise<{ url: string; port: number }> {
    if (this.server) throw new CsmsUsageError('listen() was already called');
    signal?.throwIfAborted();
    const tls = this.opts.tls;
    const server = tls ? https.createServer(serverTlsOptions(this.pki, typeof tls === 'object' ? tls : {})) : http.createServer();
    this.server = server;
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: this.opts.maxPayloadBytes ?? 1024 * 1024,
      handleProtocols: (protocols: Set<string>) => (protocols.has(OCPP16_SUBPROTOCOL) ? OCPP16_SUBPROTOCOL : false),
    });
    server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('This is an OCPP-J 1.6 endpoint: connect with a WebSocket to /<chargePointId> offering the ocpp1.6 subprotocol.\n');
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on('connection', (s: Duplex) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('secureConnection', (s: Duplex) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('tlsClientError', (err: Error, s: TLSSocket) => {
      this.event('-', 'tls-handshake-failed', { error: err.message, remoteAddress: s.remoteAddress ?? null });
    });
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        server.off('listening', onListening);
        server.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
        if (!err) return resolve();
        this.server = undefined;
        server.close();
        reject(err);
      };
      const onError = (e: NodeJS.ErrnoException): void => done(new LinkError('csms', `cannot listen on ${host}:${this.opts.port ?? 0}: ${e.code ?? e.message}`, { cause: e }));
      const onListening = (): void => done();
      const onAbort = (): void => done(abortReason(signal as AbortSignal));
      server.once('error', onError);
      server.once('listening', onListening);
      signal?.addEventListener('abort', onAbort, { once: true });
      server.listen(this.opts.port ?? 0, host);
    });
    const addr = server.address();
    this.bound = { host, port: typeof addr === 'object' && addr ? addr.port : (this.opts.port ?? 0) };
    const ping = this.opts.pingIntervalMs ?? 30_000;
    if (ping > 0) {
      this.pingTimer = setInterval(() => this.pingAll(), ping);
      this.pingTimer.unref();
    }
    this.event('-', 'listening', { url: this.url });
    return { url: this.url, port: this.bound.port };
  }

  private pingAll(): void {
    for (const cp of this.cps.values()) {
      const c = cp.rpc();
      if (c?.isOpen && c.pingTick() === 'dead') cp.event('ping-timeout', 'no pong to the last ping: connection dropped');
    }
  }

  /** The HTTP status this CSMS answers a refusal of `kind` with (MockCsmsOptions.refusalStatus). */
  statusFor(kind: RefusalKind): number {
    return this.refusalStatus[kind];
  }

  /** Keeps a refusal (the most recent 10 000, as violations) and tells the `refusal` listeners. */
  private recordRefusal(r: Refusal): void {
    keepRecent(this.allRefusals, r);
    this.emit('refusal', r);
  }

  private refuse(
    socket: Duplex,
    kind: RefusalKind,
    status: number,
    reason: string,
    chargePointId: string | undefined,
    remoteAddress: string | undefined,
    headers: Record<string, string> = {},
    chain: PeerCertificateInfo[] = [],
  ): void {
    this.recordRefusal({ t: nowMs(), chargePointId, kind, status, reason, remoteAddress, ...(chain.length ? { clientCertificateChain: chain } : {}) });
    this.event(chargePointId ?? '-', 'handshake-refused', { kind, status, reason, remoteAddress: remoteAddress ?? null, ...(chain.length ? { clientCertificateChain: chain } : {}) });
    const body = `${reason}\n`;
    const text = http.STATUS_CODES[status] ?? 'Refused';
    const head = [`HTTP/1.1 ${status} ${text}`, 'Connection: close', 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${Buffer.byteLength(body)}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const remoteAddress = req.socket.remoteAddress;
    socket.on('error', () => {
      /* a client that vanishes mid-handshake is not our problem */
    });
    const st = this.refusalStatus;
    let id: string | undefined;
    try {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const last = path.split('/').filter((s) => s.length > 0).pop();
      id = last === undefined ? undefined : decodeURIComponent(last);
    } catch {
      return this.refuse(socket, 'badPath', st.badPath, `cannot read a charge point id from the path "${req.url ?? ''}"`, undefined, remoteAddress);
    }
    if (!id || /[\u0000-\u001f]/.test(id)) return this.refuse(socket, 'badPath', st.badPath, `the path "${req.url ?? ''}" names no charge point (connect to /<chargePointId>)`, undefined, remoteAddress);
    const known = this.cps.get(id);
    const offline = known?.offlineRefusal();
    if (offline) return this.refuse(socket, 'offline', offline.status, offline.reason, id, remoteAddress);
    if (this.opts.unknownChargers === 'reject' && !known) return this.refuse(socket, 'unknownCharger', st.unknownCharger, `unknown charge point "${id}"`, id, remoteAddress);
    const cp = known ?? this.chargePoint(id);
    const tls = req.socket instanceof TLSSocket ? req.socket : undefined;
    const verdict = checkHandshake({ chargePointId: id, config: cp.config, authorization: req.headers.authorization, tls });
    const chain = tls && cp.config.securityProfile === 3 ? peerCertificateChain(tls) : [];
    if (!verdict.ok) {
      const status = st[verdict.kind];
      const headers: Record<string, string> = status === 401 && cp.config.securityProfile !== 3 ? { 'WWW-Authenticate': 'Basic realm="pnc-bench CSMS", charset="UTF-8"' } : {};
      return this.refuse(socket, verdict.kind, status, verdict.reason, id, remoteAddress, headers, chain);
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const mismatch = !offered.includes(OCPP16_SUBPROTOCOL);
    const mismatchReason = `this CSMS speaks ${OCPP16_SUBPROTOCOL}; offered: ${offered.length ? offered.join(', ') : 'no subprotocol'}`;
    if (mismatch && this.opts.subprotocolMismatch === 'reject') return this.refuse(socket, 'subprotocol', st.subprotocol, mismatchReason, id, remoteAddress);
    const wss = this.wss as WebSocketServer;
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      if (mismatch) {
        this.recordRefusal({ t: nowMs(), chargePointId: id, kind: 'subprotocol', status: 101, reason: mismatchReason, remoteAddress });
        this.event(id as string, 'subprotocol-mismatch', { reason: mismatchReason, action: 'completed without subprotocol, closing (1002)' });
        ws.close(1002, mismatchReason.slice(0, 120));
        return;
      }
      const info: ConnectionInfo = {
        remoteAddress,
        protocol: ws.protocol,
        connectedAt: nowMs(),
        ...(verdict.passwordMatched ? { passwordMatched: verdict.passwordMatched } : {}),
        ...(tls
          ? {
              tls: {
                version: tls.getProtocol(),
                cipher: tls.getCipher()?.name,
                ...(verdict.clientCertificate ? { clientCertificate: verdict.clientCertificate } : {}),
                ...(chain.length ? { clientCertificateChain: chain } : {}),
              },
            }
          : {}),
      };
      const conn = new RpcConnection(ws, cp.id, { callTimeoutMs: this.services.callTimeoutMs, callConcurrency: this.services.callConcurrency }, cp.connectionHooks());
      cp.attach(conn, info);
      cp.event('connected', {
        remoteAddress: remoteAddress ?? null,
        protocol: ws.protocol,
        securityProfile: cp.config.securityProfile,
        ...(info.passwordMatched ? { passwordMatched: info.passwordMatched } : {}),
        ...(info.tls ? { tlsVersion: info.tls.version, cipher: info.tls.cipher ?? null, clientCertificate: info.tls.clientCertificate?.subject ?? null } : {}),
        ...(chain.length ? { clientCertificateChain: chain } : {}),
      });
    });
  }

  /** Stops listening and closes every connection; settles within `deadlineMs` (then drops what is left). */
  async close(deadlineMs = 2_000): Promise<void> {
    if (!this.life.signal.aborted) this.life.abort(new Error('the CSMS closed'));
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const cp of this.cps.values()) cp.disconnect({ code: 1001, reason: 'CSMS shutting down' });
    await settleWithin(closed, Math.min(deadlineMs, 500));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if ('closeAllConnections' in server) server.closeAllConnections();
    await settleWithin(closed, deadlineMs - 500);
    this.wss?.close();
    this.bound = undefined;
  }
}
