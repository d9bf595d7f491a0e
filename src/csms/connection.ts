// One charger's OCPP-J connection: the thin RPC layer of the mock CSMS on a `ws` WebSocket.
// It frames and unframes, keeps at most one outstanding CSMS CALL (the rest queue; a fault mode
// allows more), times calls out, matches CALLRESULT/CALLERROR to their CALL, notices a second
// charger CALL while one is unanswered, answers frames it cannot parse with the right CALLERROR,
// and reports every frame (with its performance.now()-resolution timestamp) and every finished
// request/response exchange to its owner. It knows nothing about actions: the server's dispatcher
// (server.ts) decides what to answer.
//
//   const conn = new RpcConnection(ws, 'CP1', { callTimeoutMs: 30_000 }, hooks);
//   const out = await conn.call('Reset', { type: 'Soft' }, { timeoutMs: 5_000, signal });
//   if (out.kind === 'result') out.payload;
//   conn.respond(inboundCall, { currentTime });       // or respondError / sendRaw / drop
import { LinkError, ProtocolViolation, type JsonObject } from '../../drivers/capabilities.ts';
import { abortReason } from '../../drivers/common/abort.ts';
import { nowMs } from '../../drivers/common/time.ts';
import type WebSocket from 'ws';
import { RULES } from './errors.ts';
import { CALL, callText, errorText, MAX_UNIQUE_ID_LENGTH, parseFrame, resultText, type CallFrame } from './frames.ts';

export type FrameDirection = 'in' | 'out';

/** One request/response exchange, for `hil_timing` (latency from request frame to response frame). */
export interface Exchange {
  chargePointId: string;
  /** 'cp->csms' (a charger CALL answered by the CSMS) or 'csms->cp' (a CSMS CALL answered by the charger) */
  direction: 'cp->csms' | 'csms->cp';
  /** the action; PnC DataTransfer as `DataTransfer.<messageId>` */
  message: string;
  uniqueId: string;
  /** epoch ms of the request frame */
  t: number;
  latencyMs: number;
  outcome: 'result' | 'error' | 'timeout';
  /** CALLERROR code when outcome is 'error' */
  errorCode?: string;
}

export interface ConnectionHooks {
  /** every frame; `json` is false when the text is not JSON (or a binary frame); `bytes` as on the wire (unmasked payload) */
  frame(dir: FrameDirection, text: string, t: number, json: boolean, bytes: Uint8Array): void;
  /** a charger CALL; `bytes` is the frame as received, `conn` the connection it came on (answer it there) */
  call(frame: CallFrame, t: number, bytes: Buffer, conn: RpcConnection): void;
  violation(rule: string, message: string, uniqueId?: string): void;
  /** a finished exchange (positional, so the hot path allocates no object) */
  exchange(direction: Exchange['direction'], message: string, uniqueId: string, t: number, latencyMs: number, outcome: Exchange['outcome'], errorCode: string | undefined): void;
  closed(code: number, reason: string): void;
}

export interface ConnectionOptions {
  callTimeoutMs: number;
  /** outstanding CSMS CALLs allowed at once; OCPP-J says 1 (more is a fault-injection mode) */
  callConcurrency?: number;
}

export type CallOutcome =
  | { kind: 'result'; payload: JsonObject; t: number; latencyMs: number }
  | { kind: 'error'; errorCode: string; errorDescription: string; errorDetails: JsonObject; t: number; latencyMs: number };

export interface OutboundCallOptions {
  timeoutMs?: number;
  signal: AbortSignal;
  /** name for the exchange record (default the action), e.g. `DataTransfer.InstallCertificate` */
  message?: string;
  /** send this text instead of the CALL frame (malformed on purpose); the uniqueId is still awaited */
  rawText?: (uniqueId: string) => string;
}

interface Pending {
  uniqueId: string;
  action: string;
  message: string;
  payload: JsonObject;
  opts: OutboundCallOptions;
  resolve(o: CallOutcome): void;
  reject(e: Error): void;
  sentAt?: number;
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
}

/** A charger CALL being answered; `respond*` accept it once. */
export interface InboundCall {
  readonly uniqueId: string;
  readonly action: string;
  /** exchange name (PnC: DataTransfer.<messageId>) — the dispatcher may set it */
  message: string;
  readonly t: number;
  answered: boolean;
}

let idPrefixCounter = 0;
/** ws.send options for a Buffer that is sent as a text frame */
const TEXT_FRAME = { binary: false } as const;

export class RpcConnection {
  readonly chargePointId: string;
  readonly connectedAt = nowMs();
  private readonly idPrefix = `${(++idPrefixCounter).toString(36)}-`;
  private nextId = 0;
  private readonly queue: Pending[] = [];
  private readonly inflight = new Map<string, Pending>();
  /** the charger CALL not answered yet (OCPP-J: at most one) — a field, not a Map entry per call */
  private openCall: InboundCall | undefined;
  /** further unanswered charger CALLs by uniqueId (a charger breaking the one-outstanding rule) */
  private moreOpenCalls: Map<string, InboundCall> | undefined;
  private closed = false;
  /** false after a ping went out, true again on pong or any frame */
  alive = true;

  constructor(
    readonly ws: WebSocket,
    chargePointId: string,
    private readonly opts: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    this.chargePointId = chargePointId;
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('close', (code: number, reason: Buffer) => this.onClose(code, reason.toString()));
    ws.on('error', () => {
      /* 'close' follows; the reason is reported there */
    });
  }

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === 1;
  }

  // ------------------------------------------------------------------ outbound

  /** Sends a CALL (queued behind the outstanding one). Rejects with LinkError when the connection closes, ProtocolViolation on timeout. */
  call(action: string, payload: JsonObject, opts: OutboundCallOptions): Promise<CallOutcome> {
    return new Promise<CallOutcome>((resolve, reject) => {
      if (opts.signal.aborted) return reject(abortReason(opts.signal));
      if (!this.isOpen) return reject(new LinkError(this.chargePointId, `not connected (cannot send ${action})`));
      const p: Pending = { uniqueId: `${this.idPrefix}${++this.nextId}`, action, message: opts.message ?? action, payload, opts, resolve, reject };
      p.onAbort = () => this.fail(p, abortReason(opts.signal));
      opts.signal.addEventListener('abort', p.onAbort, { once: true });
      this.queue.push(p);
      this.pump();
    });
  }

  private pump(): void {
    const limit = Math.max(1, this.opts.callConcurrency ?? 1);
    while (this.inflight.size < limit && this.queue.length > 0) {
      const p = this.queue.shift() as Pending;
      this.inflight.set(p.uniqueId, p);
      p.sentAt = nowMs();
      const timeoutMs = p.opts.timeoutMs ?? this.opts.callTimeoutMs;
      p.timer = setTimeout(() => {
        this.hooks.exchange('csms->cp', p.message, p.uniqueId, p.sentAt as number, nowMs() - (p.sentAt as number), 'timeout', undefined);
        const msg = `${p.message}: no CALLRESULT/CALLERROR within ${timeoutMs} ms (uniqueId ${p.uniqueId})`;
        this.hooks.violation(RULES.callTimeout, msg, p.uniqueId);
        this.fail(p, new ProtocolViolation(RULES.callTimeout, msg));
      }, timeoutMs);
      if (p.opts.rawText) {
        const text = p.opts.rawText(p.uniqueId);
        this.write(text, isJsonText(text));
      } else this.write(callText(p.uniqueId, p.action, p.payload));
    }
  }

  private settle(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    if (p.onAbort) p.opts.signal.removeEventListener('abort', p.onAbort);
    const wasInflight = this.inflight.delete(p.uniqueId);
    const qi = this.queue.indexOf(p);
    if (qi >= 0) this.queue.splice(qi, 1);
    if (wasInflight) this.pump();
  }

  private fail(p: Pending, e: Error): void {
    if (!this.inflight.has(p.uniqueId) && !this.queue.includes(p)) return;
    this.settle(p);
    p.reject(e);
  }

  // ------------------------------------------------------------------ inbound answers

  /** Answers a charger CALL with a CALLRESULT; returns the frame sent, UTF-8 (undefined: already answered or the socket is gone). */
  respond(call: InboundCall, payload: JsonObject): Buffer | undefined {
    return this.answer(call, resultText(call.uniqueId, payload), 'result');
  }

  respondError(call: InboundCall, code: string, description: string, details: JsonObject = {}): Buffer | undefined {
    return this.answer(call, errorText(call.uniqueId, code, description, details), 'error', code);
  }

  /** Answers with arbitrary text (a malformed answer on purpose); the exchange ends here. */
  respondRaw(call: InboundCall, text: string): Buffer | undefined {
    return this.answer(call, text, 'result', undefined, isJsonText(text));
  }

  /** Marks a call as deliberately never answered (so it no longer counts as outstanding). */
  abandon(call: InboundCall): void {
    call.answered = true;
    this.untrack(call.uniqueId);
  }

  private answer(call: InboundCall, text: string, outcome: 'result' | 'error', errorCode?: string, json = true): Buffer | undefined {
    if (call.answered) return undefined;
    call.answered = true;
    this.untrack(call.uniqueId);
    if (!this.isOpen) return undefined;
    const bytes = Buffer.from(text, 'utf8');
    const t = this.writeBytes(text, json, bytes);
    this.hooks.exchange('cp->csms', call.message, call.uniqueId, call.t, t - call.t, outcome, errorCode);
    return bytes;
  }

  /** Writes a text frame as is (fault injection); returns the timestamp. */
  sendRaw(text: string): number {
    return this.write(text, isJsonText(text));
  }

  private write(text: string, json = true): number {
    return this.writeBytes(text, json, Buffer.from(text, 'utf8'));
  }

  /** Writes `text`, encoded once as `bytes`: the same bytes go to the transcript and (as a text frame) to the socket. */
  private writeBytes(text: string, json: boolean, bytes: Buffer): number {
    const t = nowMs();
    if (!this.isOpen) return t;
    this.hooks.frame('out', text, t, json, bytes);
    this.ws.send(bytes, TEXT_FRAME);
    return t;
  }

  // ------------------------------------------------------------------ receive

  private onMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    const t = nowMs();
    this.alive = true;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const text = bytes.toString('utf8');
    if (isBinary) {
      this.hooks.frame('in', text, t, false, bytes);
      this.hooks.violation(RULES.frame, `binary WebSocket frame (${bytes.length} bytes); OCPP-J uses text frames`);
      return;
    }
    const r = parseFrame(text);
    this.hooks.frame('in', text, t, r.ok || r.value !== undefined, bytes);
    if (!r.ok) {
      const detail = `${r.message} — frame: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`;
      this.hooks.violation(r.ignore ? RULES.messageType : RULES.frame, detail, r.uniqueId);
      if (r.ignore) return;
      // a broken CALL (or something we cannot even classify) gets a CALLERROR; a broken answer cannot be answered
      if (r.messageType === CALL || r.messageType === undefined) {
        const id = r.uniqueId !== undefined && r.uniqueId.length <= MAX_UNIQUE_ID_LENGTH ? r.uniqueId : '-1';
        this.write(errorText(id, r.code, r.message));
      } else if (r.uniqueId !== undefined) {
        const p = this.inflight.get(r.uniqueId);
        if (p) this.fail(p, new ProtocolViolation(RULES.frame, `${p.message}: malformed answer: ${r.message}`));
      }
      return;
    }
    const f = r.frame;
    if (f.type === CALL) {
      if (this.openCall?.uniqueId === f.uniqueId || this.moreOpenCalls?.has(f.uniqueId) === true) {
        this.hooks.violation(RULES.uniqueId, `CALL ${f.action} reuses uniqueId ${f.uniqueId} of a CALL still being answered`, f.uniqueId);
      } else if (this.openCall !== undefined || (this.moreOpenCalls?.size ?? 0) > 0) {
        const open = [...(this.openCall ? [this.openCall] : []), ...(this.moreOpenCalls?.values() ?? [])].map((c) => `${c.action} (${c.uniqueId})`).join(', ');
        this.hooks.violation(RULES.concurrency, `CALL ${f.action} (${f.uniqueId}) sent while ${open} is unanswered; OCPP-J allows one outstanding CALL`, f.uniqueId);
      }
      this.hooks.call(f, t, bytes, this);
      return;
    }
    const p = this.inflight.get(f.uniqueId);
    if (!p) {
      this.hooks.violation(RULES.uniqueId, `${f.type === 3 ? 'CALLRESULT' : 'CALLERROR'} for uniqueId ${f.uniqueId}, which matches no outstanding CSMS CALL`, f.uniqueId);
      return;
    }
    this.settle(p);
    const latencyMs = t - (p.sentAt as number);
    if (f.type === 3) {
      this.hooks.exchange('csms->cp', p.message, p.uniqueId, p.sentAt as number, latencyMs, 'result', undefined);
      p.resolve({ kind: 'result', payload: f.payload, t, latencyMs });
    } else {
      this.hooks.exchange('csms->cp', p.message, p.uniqueId, p.sentAt as number, latencyMs, 'error', f.errorCode);
      p.resolve({ kind: 'error', errorCode: f.errorCode, errorDescription: f.errorDescription, errorDetails: f.errorDetails, t, latencyMs });
    }
  }

  /** Registers a charger CALL as outstanding (the dispatcher calls this before answering). */
  track(frame: CallFrame, t: number): InboundCall {
    const c: InboundCall = { uniqueId: frame.uniqueId, action: frame.action, message: frame.action, t, answered: false };
    if (this.moreOpenCalls?.has(frame.uniqueId) === true) this.moreOpenCalls.set(frame.uniqueId, c);
    else if (this.openCall === undefined || this.openCall.uniqueId === frame.uniqueId) this.openCall = c;
    else (this.moreOpenCalls ??= new Map()).set(frame.uniqueId, c);
    return c;
  }

  private untrack(uniqueId: string): void {
    if (this.openCall?.uniqueId === uniqueId) this.openCall = undefined;
    else this.moreOpenCalls?.delete(uniqueId);
  }

  private onClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    const err = new LinkError(this.chargePointId, `connection closed (${code}${reason ? ` ${reason}` : ''})`);
    for (const p of [...this.inflight.values(), ...this.queue]) this.fail(p, err);
    this.openCall = undefined;
    this.moreOpenCalls = undefined;
    this.hooks.closed(code, reason);
  }

  // ------------------------------------------------------------------ liveness and teardown

  /** Called by the server's ping timer: terminates a connection that did not answer the last ping. */
  pingTick(): 'pinged' | 'dead' {
    if (!this.alive) {
      this.ws.terminate();
      return 'dead';
    }
    this.alive = false;
    try {
      this.ws.ping();
    } catch {
      /* closing */
    }
    return 'pinged';
  }

  /** Closes the WebSocket (code/reason), or drops the TCP connection at once with `terminate`. */
  close(opts: { code?: number; reason?: string; terminate?: boolean } = {}): void {
    if (opts.terminate) this.ws.terminate();
    else this.ws.close(opts.code ?? 1000, opts.reason ?? '');
  }
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
