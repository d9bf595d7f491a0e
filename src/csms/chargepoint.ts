// One charger as the mock CSMS sees it: configuration, state, the current connection, the script
// (response rules, inbox, expectations) and the dispatcher that answers each charger CALL:
//
//   frame ok → action known? (NotImplemented) → sent by a charger? (NotSupported) → after a Rejected
//   boot? (SecurityError) → 1.6 schema (its CALLERROR code) → PnC DataTransfer unwrapped and checked
//   against 2.0.1 (UnknownMessageId / Rejected) → handed to expectations → scripted plan or default
//   handler → answer checked against the schema (InternalError if the CSMS itself got it wrong) → sent
//   → commit (state, follow-ups such as CertificateSigned)
//
// Every violation is recorded (rule id + message) and attached to the ReceivedCall, so a suite's
// expectCall rejects with the charger's ProtocolViolation.
//
//   const cp = csms.chargePoint('CP1');
//   cp.respond('Authorize', { status: 'Blocked' });
//   const call = await cp.expectCall('DataTransfer.Authorize', { timeoutMs: 30_000, signal });
//   const conf = await cp.call('Reset', { type: 'Soft' }, { signal });
import { LinkError, ProtocolViolation, type JsonObject } from '../../drivers/capabilities.ts';
import { errorText, sleep, waitFor } from '../../drivers/common/abort.ts';
import { nowMs, nowUs } from '../../drivers/common/time.ts';
import type { BenchPki, OcspTransport } from '../pki/index.ts';
import type { ConnectionHooks, Exchange, InboundCall, RpcConnection } from './connection.ts';
import { certificateChainFor, type ChainOptions, type ChainVariant } from './chains.ts';
import { applyChargerSettings, authorizationKeyChange, type ChargerSettings } from './config.ts';
import { CsmsUsageError, isOcpp16ErrorCode, OcppCallError, RULES } from './errors.ts';
import { isPlainObject, parseFrame, type CallFrame } from './frames.ts';
import { DEFAULT_HANDLERS, STATUS_PATHS, withStatus, type Handler, type HandlerContext, type HandlerResult } from './handlers.ts';
import type { CertificateHashData, Ocpp16CallAction, Ocpp16Calls, PncCallMessage, PncCallResult, PncCalls } from './messages.ts';
import { fromHas2be, PNC_HANDLERS, routePnc } from './pnc.ts';
import { CP_ACTIONS, CSMS_ACTIONS, PNC_CP_MESSAGES, PNC_CSMS_MESSAGES, PNC_VENDOR_ID, type OcppSchemas, type PncCpMessage } from './schemas.ts';
import { CallScript, type InboxPacker, type PackedCall, type RuleHandle, type RuleOptions } from './script.ts';
import { checkRefusalStatus, type PeerCertificateInfo } from './security.ts';
import { ChargePointState, type StoredCertificate } from './state.ts';
import type { AnswerRecord, ChargerConfig, ExpectOptions, ReceivedCall, ResponsePlan, TranscriptEvent, ViolationRecord } from './types.ts';

/** What a ChargePoint needs from the server. */
export interface CsmsServices {
  readonly schemas: OcppSchemas;
  pki(): BenchPki;
  readonly ocspTransport: OcspTransport;
  /** aborted when the CSMS closes */
  readonly signal: AbortSignal;
  readonly callTimeoutMs: number;
  readonly callConcurrency: number;
  /** calls kept per charger and action for expectCall until consumed */
  readonly inboxLimit: number;
  /** HTTP status of handshakes refused while a charger is offline (goOffline without a status) */
  readonly offlineStatus: number;
  nextTransactionId(): number;
  entry(e: TranscriptEvent): void;
  /** a frame for the transcript (kept apart from `entry` so the hot path allocates no entry object) */
  frame(cp: string, dir: 'in' | 'out', text: string, t: number, json: boolean, bytes: Uint8Array): void;
  violation(v: ViolationRecord): void;
  exchange(cp: string, direction: Exchange['direction'], message: string, uniqueId: string, t: number, latencyMs: number, outcome: Exchange['outcome'], errorCode: string | undefined): void;
  call(call: ReceivedCall): void;
}

export interface CallOptions {
  signal: AbortSignal;
  /** default the CSMS's callTimeoutMs; also bounds the wait for a connection */
  timeoutMs?: number;
  /** send the payload even if it fails the schema (fault injection) */
  unchecked?: boolean;
  /** PnC message: wrapped in DataTransfer with the PnC vendorId */
  pnc?: boolean;
  /** PnC vendorId (default the charger's first PnC vendorId) */
  vendorId?: string;
}

/** Details of the TLS session and handshake of the current connection. */
export interface ConnectionInfo {
  remoteAddress: string | undefined;
  protocol: string;
  tls?: {
    version: string | null;
    cipher: string | undefined;
    clientCertificate?: { subject: string; fingerprint256: string };
    /** profile 3: the chain the charger presented, leaf first, up to the CSMS CA when it chains to it (PEM each) */
    clientCertificateChain?: PeerCertificateInfo[];
  };
  /** how the Basic auth password matched: 'raw' or 'hex' */
  passwordMatched?: 'raw' | 'hex';
  connectedAt: number;
}

const CP_ACTION_SET: ReadonlySet<string> = new Set(CP_ACTIONS);
const PACKED_PNC = 1;
const PACKED_INNER = 2;
const PACKED_HAS2BE = 4;

/** Keeps a charger's answered calls in the inbox as bytes (see InboxPacker). */
function recordPacker(chargePointId: string): InboxPacker {
  return {
    pack: (c) => (c instanceof InboundCallRecord ? c.packed() : undefined),
    unpack: (action, p) => InboundCallRecord.restore(chargePointId, action, p),
  };
}

/** Appends to a record list that keeps the most recent 10 000 (trimmed in steps of 1 000, not on every push). */
export function keepRecent<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > 11_000) list.splice(0, list.length - 10_000);
}

const STRICT = { lenientTimestamps: false } as const;
const LENIENT = { lenientTimestamps: true } as const;
const NO_VIOLATIONS: readonly ViolationRecord[] = Object.freeze([]);

/**
 * A charger CALL as suites see it (ReceivedCall). Built for a busy CSMS: `answered` is created only when
 * someone asks, and once the call is answered the parsed payloads are dropped and re-parsed from the
 * frame's bytes on the next read; a call kept in the inbox for a later expectCall goes there as the
 * bytes of its frames (`packed`, rebuilt by `restore`), not as an object the garbage collector has to copy around.
 */
class InboundCallRecord implements ReceivedCall {
  readonly chargePointId: string;
  readonly uniqueId: string;
  action: string;
  readonly t: number;
  pnc: { vendorId: string; messageId: string } | undefined = undefined;
  violations: readonly ViolationRecord[] = NO_VIOLATIONS;
  /** the inner PnC payload replaced the outer one (routing succeeded) */
  innerPayload = false;
  /** the inner payload is in the has·to·be dialect (its field names are translated on every read) */
  has2be = false;
  /** the frame's UTF-8 as received (re-parsed when the payload is read after settle) */
  private readonly bytes: Buffer;
  private readonly wireAction: string;
  private cachedFrame: CallFrame | undefined;
  private cachedPayload: JsonObject | undefined;
  /** how the call was answered (set once by settle), kept as fields: no object per call */
  private doneKind: AnswerRecord['kind'] | undefined = undefined;
  private doneT = 0;
  private doneErrorCode: string | undefined = undefined;
  /** the answer frame as sent (UTF-8) */
  private doneBytes: Buffer | undefined = undefined;
  private promise: Promise<AnswerRecord> | undefined;
  private resolve: ((a: AnswerRecord) => void) | undefined;

  constructor(chargePointId: string, frame: CallFrame, t: number, bytes: Buffer) {
    this.chargePointId = chargePointId;
    this.uniqueId = frame.uniqueId;
    this.action = frame.action;
    this.t = t;
    this.bytes = bytes;
    this.wireAction = frame.action;
    this.cachedFrame = frame;
  }

  get frame(): { action: string; payload: JsonObject } {
    if (this.cachedFrame === undefined) {
      const r = parseFrame(this.bytes.toString('utf8'));
      this.cachedFrame = r.ok && r.frame.type === 2 ? r.frame : { type: 2, uniqueId: this.uniqueId, action: this.wireAction, payload: {} };
    }
    return this.cachedFrame;
  }

  get payload(): JsonObject {
    if (this.cachedPayload === undefined) {
      const outer = this.frame.payload;
      const inner = this.innerPayload ? (JSON.parse(outer.data as string) as JsonObject) : outer;
      this.cachedPayload = this.innerPayload && this.has2be && this.pnc ? fromHas2be(this.pnc.messageId as PncCpMessage, inner) : inner;
    }
    return this.cachedPayload;
  }

  set payload(v: JsonObject) {
    this.cachedPayload = v;
  }

  get answered(): Promise<AnswerRecord> {
    if (!this.promise) this.promise = this.doneKind !== undefined ? Promise.resolve(this.answerRecord()) : new Promise<AnswerRecord>((r) => (this.resolve = r));
    return this.promise;
  }

  /** Records how the call was answered (`sent`: the frame sent) and drops the parsed payloads. */
  settle(kind: AnswerRecord['kind'], errorCode?: string, sent?: Buffer): void {
    if (this.doneKind !== undefined) return;
    this.doneKind = kind;
    this.doneT = nowMs();
    this.doneErrorCode = errorCode;
    this.doneBytes = sent;
    this.resolve?.(this.answerRecord());
    this.resolve = undefined;
    this.cachedFrame = undefined;
    this.cachedPayload = undefined;
  }

  private answerRecord(): AnswerRecord {
    const kind = this.doneKind as AnswerRecord['kind'];
    const rec: AnswerRecord = { kind, t: this.doneT };
    if (this.doneErrorCode !== undefined) rec.errorCode = this.doneErrorCode;
    if (kind === 'result' && this.doneBytes !== undefined) {
      const r = parseFrame(this.doneBytes.toString('utf8'));
      if (r.ok && r.frame.type === 3) {
        rec.payload = r.frame.payload;
        if (this.innerPayload && typeof r.frame.payload.data === 'string') {
          try {
            rec.inner = JSON.parse(r.frame.payload.data) as JsonObject;
          } catch {
            /* a scripted non-JSON data */
          }
        }
      }
    }
    return rec;
  }

  addViolation(v: ViolationRecord): void {
    this.violations = [...this.violations, v];
  }

  /** The inbox form of an answered call with nothing unusual (no violations, a CALLRESULT sent, nobody awaiting `answered`). */
  packed(): PackedCall | undefined {
    if (this.doneKind !== 'result' || this.doneBytes === undefined || this.violations.length > 0 || this.promise !== undefined) return undefined;
    const flags = (this.pnc !== undefined ? PACKED_PNC : 0) | (this.innerPayload ? PACKED_INNER : 0) | (this.has2be ? PACKED_HAS2BE : 0);
    return { inBytes: this.bytes, outBytes: this.doneBytes, t: this.t, doneT: this.doneT, flags };
  }

  /** A call again from its inbox form (`action`: its key, e.g. DataTransfer.Authorize). */
  static restore(chargePointId: string, action: string, p: PackedCall): InboundCallRecord {
    const r = parseFrame(p.inBytes.toString('utf8'));
    const frame: CallFrame = r.ok && r.frame.type === 2 ? r.frame : { type: 2, uniqueId: '', action, payload: {} };
    const rec = new InboundCallRecord(chargePointId, frame, p.t, p.inBytes);
    rec.action = action;
    if (p.flags & PACKED_PNC) rec.pnc = { vendorId: String(frame.payload.vendorId), messageId: typeof frame.payload.messageId === 'string' ? frame.payload.messageId : '' };
    rec.innerPayload = (p.flags & PACKED_INNER) !== 0;
    rec.has2be = (p.flags & PACKED_HAS2BE) !== 0;
    rec.doneKind = 'result';
    rec.doneT = p.doneT;
    rec.doneBytes = p.outBytes;
    return rec;
  }

  toJSON(): JsonObject {
    return { chargePointId: this.chargePointId, uniqueId: this.uniqueId, action: this.action, payload: this.payload, t: this.t, ...(this.pnc ? { pnc: this.pnc } : {}), violations: [...this.violations] };
  }
}

const CSMS_ACTION_SET: ReadonlySet<string> = new Set(CSMS_ACTIONS);
/** messageId → `DataTransfer.<messageId>` for the PnC messages (one string, not one per call) */
const PNC_KEYS: ReadonlyMap<string, string> = new Map([...PNC_CP_MESSAGES, ...PNC_CSMS_MESSAGES].map((m) => [m, `DataTransfer.${m}`]));
const PNC_CSMS_SET: ReadonlySet<string> = new Set(PNC_CSMS_MESSAGES);

/** The HandlerContext of one charger: one object with prototype methods (no closures per charger). */
class ChargePointContext implements HandlerContext {
  constructor(private readonly cp: ChargePoint, private readonly services: CsmsServices) {}
  get chargePointId(): string {
    return this.cp.id;
  }
  get config(): ChargerConfig {
    return this.cp.config;
  }
  get state(): ChargePointState {
    return this.cp.state;
  }
  get ocspTransport(): OcspTransport {
    return this.services.ocspTransport;
  }
  get signal(): AbortSignal {
    return this.services.signal;
  }
  pki(): BenchPki {
    return this.services.pki();
  }
  event(name: string, detail?: JsonObject | string): void {
    this.cp.event(name, detail);
  }
  violation(rule: string, message: string): void {
    this.cp.violate(rule, message);
  }
  async sendCall(action: string, payload: JsonObject, opts: { pnc?: boolean }): Promise<JsonObject | undefined> {
    const r = await this.cp.callAny(action, payload, { signal: this.services.signal, ...(opts.pnc ? { pnc: true } : {}) });
    return r.response;
  }
  nextTransactionId(): number {
    return this.services.nextTransactionId();
  }
}

/** The RpcConnection hooks of one charger: one object with prototype methods. */
class ChargePointHooks implements ConnectionHooks {
  constructor(private readonly cp: ChargePoint, private readonly services: CsmsServices) {}
  frame(dir: 'in' | 'out', text: string, t: number, json: boolean, bytes: Uint8Array): void {
    this.services.frame(this.cp.id, dir, text, t, json, bytes);
  }
  call(frame: CallFrame, t: number, bytes: Buffer, conn: RpcConnection): void {
    this.cp.onCall(frame, t, bytes, conn);
  }
  violation(rule: string, message: string, uniqueId?: string): void {
    this.cp.violate(rule, message, uniqueId);
  }
  exchange(direction: Exchange['direction'], message: string, uniqueId: string, t: number, latencyMs: number, outcome: Exchange['outcome'], errorCode: string | undefined): void {
    this.services.exchange(this.cp.id, direction, message, uniqueId, t, latencyMs, outcome, errorCode);
  }
  closed(code: number, reason: string): void {
    this.cp.event('disconnected', { code, reason });
  }
}

export class ChargePoint {
  readonly id: string;
  config: ChargerConfig;
  readonly state = new ChargePointState();
  readonly script: CallScript;
  private conn: RpcConnection | undefined;
  private info: ConnectionInfo | undefined;
  private overrides: Map<string, Handler> | undefined;
  private recorded: ViolationRecord[] | undefined;
  private connectWaiters: (() => void)[] | undefined;
  private offlineAs: { status: number; reason: string } | undefined;
  private readonly ctx: HandlerContext;
  private readonly hooks: ConnectionHooks;

  constructor(
    id: string,
    config: ChargerConfig,
    private readonly services: CsmsServices,
  ) {
    this.id = id;
    this.config = config;
    this.script = new CallScript(services.inboxLimit, recordPacker(this.id));
    this.ctx = new ChargePointContext(this, services);
    this.hooks = new ChargePointHooks(this, services);
  }

  // ------------------------------------------------------------------ connection

  get connected(): boolean {
    return this.conn?.isOpen === true;
  }

  get connection(): ConnectionInfo | undefined {
    return this.connected ? this.info : undefined;
  }

  /** @internal the RPC connection (open or last closed) */
  rpc(): RpcConnection | undefined {
    return this.conn;
  }

  /** @internal the server attaches a freshly upgraded WebSocket */
  attach(conn: RpcConnection, info: ConnectionInfo): void {
    const old = this.conn;
    if (old?.isOpen) {
      this.event('replaced', 'a new connection of this charge point replaces the open one');
      old.close({ code: 1000, reason: 'replaced by a new connection' });
    }
    this.conn = conn;
    this.info = info;
    this.state.connects++;
    const waiters = this.connectWaiters;
    this.connectWaiters = undefined;
    for (const w of waiters ?? []) w();
  }

  /** @internal hooks for the RpcConnection of this charger */
  connectionHooks(): ConnectionHooks {
    return this.hooks;
  }

  /** Resolves when the charger is connected (at once if it is). Rejects with LinkError on timeout. */
  waitForConnection(opts: { timeoutMs: number; signal: AbortSignal }): Promise<void> {
    if (this.connected) return Promise.resolve();
    return waitFor<void>(
      (connected) => {
        (this.connectWaiters ??= []).push(connected);
        return () => {
          this.connectWaiters = this.connectWaiters?.filter((w) => w !== connected);
        };
      },
      opts.timeoutMs,
      opts.signal,
      () => new LinkError(this.id, `charge point did not connect within ${opts.timeoutMs} ms`),
    );
  }

  /** True between goOffline() and goOnline(). */
  get offline(): boolean {
    return this.offlineAs !== undefined;
  }

  /**
   * Takes this charger "offline" as a network cut would: its WebSocket is dropped (terminated, no close
   * frame) and every handshake of this charger is refused with HTTP `status` (default 503, or the
   * server's `refusalStatus.offline`) and `reason` as the body, until goOnline(). Refusals are recorded
   * (`csms.refusals()`, kind 'offline'). Calling it again while offline changes status and reason.
   */
  goOffline(opts: { status?: number; reason?: string } = {}): void {
    let status: number;
    try {
      status = opts.status === undefined ? this.services.offlineStatus : checkRefusalStatus(opts.status, 'goOffline status');
    } catch (e) {
      throw new CsmsUsageError((e as Error).message);
    }
    if (opts.reason !== undefined && (typeof opts.reason !== 'string' || /[\r\n]/.test(opts.reason))) throw new CsmsUsageError('goOffline reason must be one line of text');
    const reason = opts.reason ?? `${this.id} is offline (the bench cut its link)`;
    this.offlineAs = { status, reason };
    this.event('offline', { status, reason, wasConnected: this.connected });
    if (this.conn?.isOpen) this.conn.close({ terminate: true });
  }

  /** Ends goOffline(): the charger's handshakes are accepted again (it has to reconnect by itself). */
  goOnline(): void {
    if (!this.offlineAs) return;
    this.offlineAs = undefined;
    this.event('online');
  }

  /** @internal the refusal while offline, else undefined */
  offlineRefusal(): { status: number; reason: string } | undefined {
    return this.offlineAs;
  }

  /**
   * Changes this charger's settings at run time (any subset, nested `pnc` / `security` partial too);
   * takes effect for the next calls and connections. Returns the resolved configuration.
   *   cp.configure({ pnc: { certificateSigned: 'never' } })   // SignCertificate Accepted, no CertificateSigned
   */
  configure(settings: ChargerSettings): ChargerConfig {
    this.config = applyChargerSettings(this.config, settings);
    return this.config;
  }

  /**
   * A PEM CertificateSigned chain for the key in `csrPem`, good or broken on purpose (variants in
   * src/csms/chains.ts and docs/csms.md). The CSR is checked with this charger's CpoName / serial number.
   *   const chain = await cp.certificateChainFor(call.payload.csr as string, 'expired');
   */
  certificateChainFor(csrPem: string, variant: ChainVariant, opts: ChainOptions = {}): Promise<string> {
    const pki = this.services.pki();
    const profile = opts.profile ?? 'secc';
    const cpoName = opts.cpoName ?? this.config.cpoName ?? this.state.config('CpoName') ?? (profile === 'charge-point' ? pki.options.organization : undefined);
    return certificateChainFor(pki, csrPem, variant, {
      ...opts,
      profile,
      ...(cpoName !== undefined ? { cpoName } : {}),
      chargePointSerial: opts.chargePointSerial ?? this.config.serialNumber ?? this.id,
    });
  }

  /** Closes the connection (code/reason) or drops it (`terminate`). */
  disconnect(opts: { code?: number; reason?: string; terminate?: boolean } = {}): void {
    this.conn?.close(opts);
  }

  /** Writes a text frame as is (fault injection: malformed frames, duplicate ids, unsolicited results). */
  sendRaw(text: string): void {
    if (!this.conn?.isOpen) throw new LinkError(this.id, 'not connected');
    this.conn.sendRaw(text);
  }

  // ------------------------------------------------------------------ evidence

  /** Violations this charger committed, oldest first. */
  violations(): readonly ViolationRecord[] {
    return this.recorded ?? NO_VIOLATIONS;
  }

  /** Throws the first recorded violation (since index `from`) as a ProtocolViolation. */
  assertNoViolations(from = 0): void {
    const all = this.violations();
    const v = all[from];
    if (v) throw new ProtocolViolation(v.rule, `${this.id}: ${v.message}${all.length - from > 1 ? ` (+${all.length - from - 1} more)` : ''}`);
  }

  /** @internal records a violation of this charger (dispatcher, connection layer, handlers) */
  violate(rule: string, message: string, uniqueId?: string, action?: string): ViolationRecord {
    const v: ViolationRecord = { t: nowMs(), chargePointId: this.id, rule, message, ...(uniqueId !== undefined ? { uniqueId } : {}), ...(action !== undefined ? { action } : {}) };
    keepRecent((this.recorded ??= []), v);
    this.services.violation(v);
    return v;
  }

  event(name: string, detail?: JsonObject | string): void {
    this.services.entry({ tUs: nowUs(), cp: this.id, event: name, ...(detail !== undefined ? { detail } : {}) });
  }

  // ------------------------------------------------------------------ scripting

  /** Answers the next `times` calls matching `key` (action, `DataTransfer.<messageId>` or `*`) with `plan`. */
  respond(key: string, plan: ResponsePlan, opts: RuleOptions = {}): RuleHandle {
    if (plan.status !== undefined && key !== '*' && !STATUS_PATHS[key]) {
      throw new CsmsUsageError(`respond(${key}): this answer has no status; give payload instead (status works for ${Object.keys(STATUS_PATHS).join(', ')})`);
    }
    return this.script.addRule(key, plan, opts);
  }

  /** Replaces the default handler of `key` for this charger (until removed with `handle(key, undefined)`). */
  handle(key: string, handler: Handler | undefined): void {
    if (handler) (this.overrides ??= new Map()).set(key, handler);
    else this.overrides?.delete(key);
  }

  /** Waits for a call from this charger (see ExpectOptions). */
  expectCall(key: string, opts: ExpectOptions): Promise<ReceivedCall> {
    const start = nowMs();
    const connectsBefore = this.state.connects;
    return this.script.expect(key, opts, () => {
      const wasConnected = this.connected || this.state.connects > connectsBefore || (this.conn !== undefined && this.conn.connectedAt < start);
      return wasConnected
        ? new ProtocolViolation(RULES.expectTimeout, `${this.id} did not send ${key} within ${opts.timeoutMs} ms`)
        : new LinkError(this.id, `not connected: waited ${opts.timeoutMs} ms for ${key}`);
    });
  }

  // ------------------------------------------------------------------ dispatch of charger CALLs
  // The hot path: no closures per call, and when the handler answers synchronously (most do) the
  // answer is written in the same tick the CALL was read.

  /**
   * @internal a charger CALL from `conn`, answered on that connection (a replaced connection's CALL is
   * not answered on its successor)
   */
  onCall(frame: CallFrame, t: number, bytes: Buffer, conn: RpcConnection): void {
    const inbound = conn.track(frame, t);
    const call = new InboundCallRecord(this.id, frame, t, bytes);
    const schemas = this.services.schemas;
    const action = frame.action;
    if (!schemas.has16(action)) return this.refuse(call, inbound, conn, RULES.unknownAction, 'NotImplemented', `action ${action} is not an OCPP 1.6 action`);
    if (!CP_ACTION_SET.has(action)) return this.refuse(call, inbound, conn, RULES.direction, 'NotSupported', `${action} is a Central System to charge point message`);
    if (this.state.boot?.status === 'Rejected' && action !== 'BootNotification') {
      return this.refuse(call, inbound, conn, RULES.bootRejected, 'SecurityError', `${action} refused: this charge point's BootNotification was Rejected`);
    }
    const f = schemas.validate16(action, 'req', frame.payload, this.config.lenientTimestamps ? LENIENT : STRICT);
    if (f !== null && !f.tolerated) {
      return this.refuse(call, inbound, conn, `${RULES.schema16}.${action}.req`, f.code, f.message, { issues: f.issues.slice(0, 5).map((i) => ({ ...i })) });
    }
    if (f?.tolerated) this.event('warning', { rule: `${RULES.schema16}.${action}.req`, message: `tolerated: ${f.message}` });

    let pncId: PncCpMessage | undefined;
    if (action === 'DataTransfer') {
      const route = routePnc(frame.payload, this.config, schemas);
      if (route.kind !== 'not-pnc') {
        if (route.messageId !== undefined) call.action = PNC_KEYS.get(route.messageId) ?? `DataTransfer.${route.messageId}`;
        call.pnc = { vendorId: frame.payload.vendorId as string, messageId: route.messageId ?? '' };
        inbound.message = call.action;
        if (route.kind === 'refuse') {
          if (route.violation) call.addViolation(this.violate(route.violation.rule, route.violation.message, frame.uniqueId, call.action));
          this.services.call(call);
          this.script.deliver(call);
          call.settle('result', undefined, conn.respond(inbound, route.outer));
          return;
        }
        call.payload = route.inner;
        call.innerPayload = true;
        call.has2be = this.config.pnc.dialects[frame.payload.vendorId as string] === 'has2be';
        pncId = route.messageId;
        if (route.tolerated) this.event('warning', { rule: `${RULES.schemaPnc}.${pncId}.req`, message: `tolerated: ${route.tolerated}` });
      }
    }
    this.services.call(call);
    const taken = this.script.takeRule(call);
    if (taken === undefined || !taken.consumed) this.script.deliver(call);
    const plan = taken?.plan;
    if (plan?.delayMs) {
      // the answer goes out when the delay is over or the CSMS closes (then onto a closed connection: settled, not sent)
      const go = (): void => this.act(call, inbound, conn, plan, pncId);
      void sleep(plan.delayMs, this.services.signal).then(go, go);
    } else this.act(call, inbound, conn, plan, pncId);
  }

  /** Answers a call that breaks a rule with the CALLERROR the spec names, recording the violation. */
  private refuse(call: InboundCallRecord, inbound: InboundCall, conn: RpcConnection, rule: string, code: string, message: string, details: JsonObject = {}): void {
    call.addViolation(this.violate(rule, message, call.uniqueId, call.action));
    this.services.call(call);
    this.script.deliver(call);
    conn.respondError(inbound, code, message.slice(0, 255), details);
    call.settle('error', code);
  }

  private handlerFor(call: ReceivedCall, pncId: PncCpMessage | undefined): Handler {
    const o = this.overrides?.get(call.action);
    if (o) return o;
    if (pncId) return PNC_HANDLERS[pncId];
    return DEFAULT_HANDLERS[call.action as keyof typeof DEFAULT_HANDLERS];
  }

  private act(call: InboundCallRecord, inbound: InboundCall, conn: RpcConnection, plan: ResponsePlan | undefined, pncId: PncCpMessage | undefined): void {
    const kind = plan?.action ?? 'answer';
    if (kind === 'never') {
      conn.abandon(inbound);
      this.event('not-answered', { action: call.action, uniqueId: call.uniqueId });
      return call.settle('never');
    }
    if (kind === 'drop') {
      conn.abandon(inbound);
      this.event('dropping', { action: call.action, uniqueId: call.uniqueId });
      conn.close(plan?.drop ?? {});
      return call.settle('dropped');
    }
    if (kind === 'error') {
      const e = plan?.error as { code: string; description?: string; details?: JsonObject };
      conn.respondError(inbound, e.code, e.description ?? '', e.details ?? {});
      return call.settle('error', e.code);
    }
    let result: HandlerResult | Promise<HandlerResult>;
    try {
      result = this.handlerFor(call, pncId)(call, this.ctx);
    } catch (e) {
      return this.handlerFailed(call, inbound, conn, e);
    }
    if (result instanceof Promise) {
      result.then(
        (r) => this.answerWith(call, inbound, conn, plan, pncId, r),
        (e: unknown) => this.handlerFailed(call, inbound, conn, e),
      );
    } else this.answerWith(call, inbound, conn, plan, pncId, result);
  }

  private handlerFailed(call: InboundCallRecord, inbound: InboundCall, conn: RpcConnection, e: unknown): void {
    const msg = errorText(e);
    this.event('handler-error', { action: call.action, error: msg });
    conn.respondError(inbound, 'InternalError', `the CSMS failed to handle ${call.action}: ${msg}`.slice(0, 255));
    call.settle('error', 'InternalError');
  }

  private answerWith(call: InboundCallRecord, inbound: InboundCall, conn: RpcConnection, plan: ResponsePlan | undefined, pncId: PncCpMessage | undefined, result: HandlerResult): void {
    let inner: JsonObject | Promise<JsonObject> = result.payload;
    if (plan !== undefined) {
      try {
        if (typeof plan.payload === 'function') inner = plan.payload(call, result.payload);
        else if (plan.payload !== undefined) inner = plan.payload;
      } catch (e) {
        return this.scriptFailed(call, inbound, conn, e);
      }
    }
    if (inner instanceof Promise) {
      inner.then(
        (v) => this.send(call, inbound, conn, plan, pncId, result, v),
        (e: unknown) => this.scriptFailed(call, inbound, conn, e),
      );
    } else this.send(call, inbound, conn, plan, pncId, result, inner);
  }

  private scriptFailed(call: InboundCallRecord, inbound: InboundCall, conn: RpcConnection, e: unknown): void {
    const msg = errorText(e);
    this.event('script-error', { action: call.action, error: msg });
    conn.respondError(inbound, 'InternalError', `scripted answer to ${call.action} failed: ${msg}`.slice(0, 255));
    call.settle('error', 'InternalError');
  }

  private send(call: InboundCallRecord, inbound: InboundCall, conn: RpcConnection, plan: ResponsePlan | undefined, pncId: PncCpMessage | undefined, result: HandlerResult, payload: JsonObject): void {
    let inner = payload;
    if (plan?.status !== undefined) {
      const path = STATUS_PATHS[call.action];
      if (!path) return this.scriptFailed(call, inbound, conn, new CsmsUsageError(`a status cannot be set on the answer to ${call.action}`));
      inner = withStatus(inner, path, plan.status);
    }
    let outer: JsonObject = inner;
    if (pncId) {
      const outerStatus = plan?.outerStatus ?? 'Accepted';
      outer = outerStatus === 'Accepted' || plan?.payload !== undefined ? { status: outerStatus, data: JSON.stringify(inner) } : { status: outerStatus };
    }
    if (plan?.action === 'malformed') {
      conn.respondRaw(inbound, malformedText(plan.malformed as NonNullable<ResponsePlan['malformed']>, inbound.uniqueId, outer));
      return call.settle('raw');
    }
    if (plan?.unchecked !== true) {
      const schemas = this.services.schemas;
      const bad = (pncId && outer.data !== undefined ? schemas.validate201(pncId, 'conf', inner) : null) ?? schemas.validate16(pncId ? 'DataTransfer' : call.action, 'conf', outer);
      if (bad) {
        this.event('csms-error', { action: call.action, message: `the CSMS's own answer fails the schema: ${bad.message}` });
        conn.respondError(inbound, 'InternalError', `the CSMS's answer to ${call.action} failed its own schema check: ${bad.message}`.slice(0, 255));
        return call.settle('error', 'InternalError');
      }
    }
    const frameSent = conn.respond(inbound, outer);
    // commit before settle: commits read the call's payload, which settle releases
    if (frameSent !== undefined && result.commit) {
      const sent = pncId ? (outer.status === 'Accepted' && outer.data !== undefined ? inner : undefined) : outer;
      try {
        result.commit({ sent, plan });
      } catch (e) {
        this.event('handler-error', { action: call.action, error: `commit: ${errorText(e)}` });
      }
    }
    call.settle('result', undefined, frameSent);
  }

  // ------------------------------------------------------------------ CSMS-initiated calls

  /** Sends a CSMS-initiated OCPP 1.6 call; resolves with the charger's CALLRESULT payload. */
  call<A extends Ocpp16CallAction>(action: A, payload: Ocpp16Calls[A]['req'], opts: CallOptions & { pnc?: false }): Promise<Ocpp16Calls[A]['conf']>;
  /** Sends a PnC message in DataTransfer; resolves with the outer status and the checked inner response. */
  call<M extends PncCallMessage>(action: M, payload: PncCalls[M]['req'], opts: CallOptions & { pnc: true }): Promise<PncCallResult<PncCalls[M]['conf']>>;
  async call(action: string, payload: JsonObject, opts: CallOptions): Promise<JsonObject | PncCallResult<JsonObject>> {
    const r = await this.callAny(action, payload, opts);
    return opts.pnc ? r : (r.response as JsonObject);
  }

  /**
   * Untyped form of `call` (any action). Throws CsmsUsageError for a payload that fails the schema
   * (unless `unchecked`), LinkError when the charger is not connected within the timeout or the
   * connection drops, OcppCallError for a CALLERROR, ProtocolViolation for a late or invalid answer.
   */
  async callAny(action: string, payload: JsonObject, opts: CallOptions): Promise<PncCallResult<JsonObject>> {
    const schemas = this.services.schemas;
    if (!isPlainObject(payload)) throw new CsmsUsageError(`${action}: payload must be an object`);
    let wireAction = action;
    let wirePayload = payload;
    let message = action;
    if (opts.pnc) {
      if (!PNC_CSMS_SET.has(action) && !opts.unchecked) throw new CsmsUsageError(`${action} is not a CSMS-initiated PnC message (${PNC_CSMS_MESSAGES.join(', ')})`);
      if (!opts.unchecked && schemas.has201(action)) {
        const bad = schemas.validate201(action, 'req', payload);
        if (bad) throw new CsmsUsageError(`PnC ${action} payload fails the OCPP 2.0.1 schema: ${bad.message}`);
      }
      wireAction = 'DataTransfer';
      wirePayload = { vendorId: opts.vendorId ?? this.config.pnc.vendorIds[0] ?? PNC_VENDOR_ID, messageId: action, data: JSON.stringify(payload) };
      message = `DataTransfer.${action}`;
    } else if (!opts.unchecked) {
      if (!schemas.has16(action)) throw new CsmsUsageError(`${action} is not an OCPP 1.6 action`);
      if (!CSMS_ACTION_SET.has(action)) throw new CsmsUsageError(`${action} is sent by charge points, not by the CSMS`);
      const bad = schemas.validate16(action, 'req', payload);
      if (bad) throw new CsmsUsageError(`${action} payload fails the OCPP 1.6 schema: ${bad.message}`);
      if (action === 'ChangeConfiguration' && payload.key === 'AuthorizationKey') {
        const change = authorizationKeyChange(this.config.passwordRule, String(payload.value));
        if (!change.ok) throw new CsmsUsageError(`${change.problem} (passwordRule '${this.config.passwordRule}'; unchecked: true sends it anyway)`);
      }
    }
    const timeoutMs = opts.timeoutMs ?? this.services.callTimeoutMs;
    const start = nowMs();
    if (!this.connected) await this.waitForConnection({ timeoutMs, signal: opts.signal });
    const conn = this.conn as RpcConnection;
    const remaining = Math.max(1, timeoutMs - (nowMs() - start));
    const out = await conn.call(wireAction, wirePayload, { timeoutMs: remaining, signal: opts.signal, message });
    if (out.kind === 'error') {
      if (!isOcpp16ErrorCode(out.errorCode)) this.violate(RULES.errorCode, `${message}: CALLERROR code "${out.errorCode}" is not an OCPP-J 1.6 error code`);
      throw new OcppCallError(message, out.errorCode, out.errorDescription, out.errorDetails);
    }
    const conf = out.payload;
    if (schemas.has16(wireAction)) {
      const bad = schemas.validate16(wireAction, 'conf', conf, { lenientTimestamps: this.config.lenientTimestamps });
      if (bad && !bad.tolerated) {
        const v = this.violate(`${RULES.schema16}.${wireAction}.conf`, `${message}: ${bad.message}`);
        throw new ProtocolViolation(v.rule, `${this.id} ${v.message}`);
      }
    }
    if (!opts.pnc) {
      this.applyResult(action, payload, conf);
      return { status: 'Accepted', data: undefined, response: conf };
    }
    const status = conf.status as PncCallResult<JsonObject>['status'];
    const data = typeof conf.data === 'string' ? conf.data : undefined;
    if (status !== 'Accepted' || data === undefined) return { status, data, response: undefined };
    let inner: unknown;
    try {
      inner = JSON.parse(data);
    } catch (e) {
      const v = this.violate(RULES.pncData, `${message}: answer data is not JSON: ${(e as Error).message}`);
      throw new ProtocolViolation(v.rule, `${this.id} ${v.message}`);
    }
    if (!isPlainObject(inner)) {
      const v = this.violate(RULES.pncData, `${message}: answer data must be a JSON object text`);
      throw new ProtocolViolation(v.rule, `${this.id} ${v.message}`);
    }
    if (schemas.has201(action)) {
      const bad = schemas.validate201(action, 'conf', inner);
      if (bad) {
        const v = this.violate(`${RULES.schemaPnc}.${action}.conf`, `${message}: ${bad.code201}: ${bad.message}`);
        throw new ProtocolViolation(v.rule, `${this.id} ${v.message}`);
      }
    }
    this.applyPncResult(action, payload, inner);
    return { status, data, response: inner };
  }

  /** State updates from CSMS-initiated 1.6 calls. */
  private applyResult(action: string, req: JsonObject, conf: JsonObject): void {
    const t = nowMs();
    const s = this.state;
    switch (action) {
      case 'ChangeConfiguration':
        if (conf.status === 'Accepted' || conf.status === 'RebootRequired') {
          s.configuration.set(String(req.key), { value: String(req.value), source: 'ChangeConfiguration', t });
          if (req.key === 'AuthorizationKey') this.adoptAuthorizationKey(String(req.value));
        }
        break;
      case 'GetConfiguration':
        for (const k of (conf.configurationKey as { key: string; readonly: boolean; value?: string }[] | undefined) ?? []) {
          s.configuration.set(k.key, { value: k.value, readonly: k.readonly, source: 'GetConfiguration', t });
        }
        break;
      case 'SendLocalList':
        if (conf.status === 'Accepted') {
          if (req.updateType === 'Full') s.localList.entries.clear();
          for (const e of (req.localAuthorizationList as { idTag: string; idTagInfo?: never }[] | undefined) ?? []) {
            if (e.idTagInfo === undefined && req.updateType === 'Differential') s.localList.entries.delete(e.idTag);
            else s.localList.entries.set(e.idTag, e.idTagInfo);
          }
          s.localList.version = req.listVersion as number;
        }
        break;
      case 'GetLocalListVersion':
        s.localList.version = conf.listVersion as number;
        break;
      case 'InstallCertificate':
        if (conf.status === 'Accepted') s.certificates.security.add({ certificateType: String(req.certificateType), pem: String(req.certificate), source: 'installed', t });
        break;
      case 'DeleteCertificate':
        if (conf.status === 'Accepted') s.certificates.security.removeByHash(req.certificateHashData as CertificateHashData);
        break;
      case 'GetInstalledCertificateIds': {
        const list = (conf.certificateHashData as CertificateHashData[] | undefined) ?? [];
        s.certificates.security.replaceReported(
          [String(req.certificateType)],
          list.map((h): StoredCertificate => ({ certificateType: String(req.certificateType), hashData: h, source: 'reported', t })),
        );
        break;
      }
      case 'CertificateSigned':
        if (conf.status === 'Accepted') s.certificates.security.add({ certificateType: 'ChargePointCertificate', pem: String(req.certificateChain), source: 'installed', t });
        break;
      default:
        break;
    }
  }

  /**
   * The charger accepted a new AuthorizationKey: from now on the CSMS expects it (the charger reconnects
   * with it, whitepaper A02). A value the rule does not allow (sent `unchecked`) is taken as is.
   */
  private adoptAuthorizationKey(value: string): void {
    const change = authorizationKeyChange(this.config.passwordRule, value);
    const key = change.ok ? change.key : { password: value };
    const rule = change.ok ? this.config.passwordRule : 'any';
    this.config = { ...this.config, passwordRule: rule, passwordHex: undefined, password: undefined, ...key };
    this.event('authorization-key-changed', { encoding: 'passwordHex' in key ? 'hex' : 'text', bytes: 'passwordHex' in key ? key.passwordHex.length / 2 : Buffer.byteLength(key.password), rule });
  }

  /** State updates from CSMS-initiated PnC calls (the PnC store only). */
  private applyPncResult(action: string, req: JsonObject, conf: JsonObject): void {
    const t = nowMs();
    const store = this.state.certificates.pnc;
    if (action === 'InstallCertificate' && conf.status === 'Accepted') store.add({ certificateType: String(req.certificateType), pem: String(req.certificate), source: 'installed', t });
    else if (action === 'DeleteCertificate' && conf.status === 'Accepted') store.removeByHash(req.certificateHashData as CertificateHashData);
    else if (action === 'CertificateSigned' && conf.status === 'Accepted') store.add({ certificateType: String(req.certificateType ?? 'V2GCertificate'), pem: String(req.certificateChain), source: 'installed', t });
    else if (action === 'GetInstalledCertificateIds') {
      const requested = (req.certificateType as string[] | undefined) ?? [];
      const chains = (conf.certificateHashDataChain as { certificateType: string; certificateHashData: CertificateHashData }[] | undefined) ?? [];
      store.replaceReported(
        requested,
        chains.map((c): StoredCertificate => ({ certificateType: c.certificateType, hashData: c.certificateHashData, source: 'reported', t })),
      );
    }
  }

  snapshot(): JsonObject {
    return {
      id: this.id,
      connected: this.connected,
      securityProfile: this.config.securityProfile,
      connection: this.connection ? { ...this.connection } : null,
      violations: this.violations().length,
      inbox: this.script.pendingCount(),
      state: this.state.toJSON(),
    };
  }
}

/** The text of a deliberately malformed answer. */
export function malformedText(kind: NonNullable<ResponsePlan['malformed']>, uniqueId: string, payload: JsonObject): string {
  const id = JSON.stringify(uniqueId);
  switch (kind) {
    case 'not-json':
      return `[3,${id},{`;
    case 'not-array':
      return JSON.stringify({ messageTypeId: 3, uniqueId, payload });
    case 'wrong-unique-id':
      return JSON.stringify([3, `${uniqueId}-x`, payload]);
    case 'missing-payload':
      return `[3,${id}]`;
    case 'schema':
      return JSON.stringify([3, uniqueId, { ...payload, benchUnexpectedProperty: true }]);
    default:
      return kind.raw.split('{uniqueId}').join(uniqueId);
  }
}
