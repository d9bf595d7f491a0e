// The simulated charger's OCPP-J 1.6 client: a WebSocket (`ws`, subprotocol ocpp1.6) to
// `<csmsUrl>/<chargePointId>`, HTTP Basic auth when a password is set, reconnect with exponential
// back-off while the link is down (minMs doubling up to maxMs, reset after a successful handshake),
// and a small RPC layer of its own on the OCPP-J framing of src/csms/frames.ts: at most one
// outstanding CALL per direction (outgoing CALLs queue; incoming CALLs are handled one after the
// other), a call timeout, and only as much validation of incoming frames as a real charger does
// (frame shape; payload checks are the handlers' business — they throw OcppRpcError for a CALLERROR).
//
//   const c = new OcppClient({ url, identity: 'CP1', callTimeoutMs: 30_000, reconnect: { minMs: 200, maxMs: 5_000 },
//                              handleCall: async (action, payload) => ({ status: 'Accepted' }), onOpen, onClose });
//   c.start();
//   const conf = await c.call('Heartbeat', {});     // rejects NotConnectedError / CallTimeoutError / CallErrorReceived
import WebSocket from 'ws';
import type { Ocpp16ErrorCode } from '../../../src/csms/errors.ts';
import { callText, errorText, parseFrame, resultText, type CallFrame } from '../../../src/csms/frames.ts';
import { settleWithin } from '../settle.ts';

/** An OCPP-J payload (a JSON object). */
export type JsonObject = CallFrame['payload'];

/** A CALLERROR to send: thrown by a handler. */
export class OcppRpcError extends Error {
  override readonly name = 'OcppRpcError';
  constructor(
    readonly code: Ocpp16ErrorCode,
    readonly description: string,
  ) {
    super(`${code}: ${description}`);
  }
}

/** The CSMS answered a CALL with a CALLERROR (or with a frame that is not a valid answer). */
class CallErrorReceived extends Error {
  override readonly name = 'CallErrorReceived';
}

export class NotConnectedError extends Error {
  override readonly name = 'NotConnectedError';
}

export class CallTimeoutError extends Error {
  override readonly name = 'CallTimeoutError';
}

export interface OcppClientOptions {
  /** ws://host:port/<chargePointId> */
  url: string;
  identity: string;
  /** HTTP Basic auth (security profile 1) */
  password?: string;
  callTimeoutMs: number;
  reconnect: { minMs: number; maxMs: number };
  /** handles a CSMS CALL; resolve with the CALLRESULT payload or throw OcppRpcError */
  handleCall: (action: string, payload: JsonObject) => Promise<JsonObject>;
  onOpen: () => void;
  /** the link went down (or a connection attempt failed): `code`/`reason` of the close, next attempt in `retryInMs` */
  onClose: (info: { code: number; reason: string; wasOpen: boolean; retryInMs: number | undefined }) => void;
}

interface Pending {
  action: string;
  payload: JsonObject;
  timeoutMs: number;
  resolve: (v: JsonObject) => void;
  reject: (e: Error) => void;
  signal: AbortSignal | undefined;
  onAbort?: () => void;
}

const OCPP16 = 'ocpp1.6';
/** The message type id at the start of a frame that is not JSON (`[3,"5",{` cut short). */
const LEADING_TYPE = /^\s*\[\s*(\d+)\s*,/;

export class OcppClient {
  private ws: WebSocket | undefined;
  private open = false;
  private running = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private readonly queue: Pending[] = [];
  private inFlight: { id: string; p: Pending; timer: NodeJS.Timeout } | undefined;
  private incoming: Promise<void> = Promise.resolve();
  private lastError = '';
  /** the delay before the next connection attempt when set by reconnectNow() */
  private nextDelayOverride: number | undefined;

  constructor(private readonly o: OcppClientOptions) {
    // the one check of the reconnect option (VirtualCharger passes it through)
    if (!(o.reconnect.minMs > 0) || !(o.reconnect.maxMs >= o.reconnect.minMs)) throw new RangeError(`reconnect: need 0 < minMs <= maxMs, got ${o.reconnect.minMs}/${o.reconnect.maxMs}`);
  }

  get connected(): boolean {
    return this.open;
  }

  /** Starts connecting (and keeps reconnecting until stop()). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  /** Closes the link and stops reconnecting; pending calls reject with NotConnectedError. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise<void>((r) => ws.once('close', () => r()));
      ws.terminate();
      await settleWithin(closed, 500);
    }
    this.linkDown();
  }

  /** Drops the link (e.g. for a Reset); reconnects after `delayMs`. */
  reconnectNow(delayMs: number): void {
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      this.nextDelayOverride = delayMs;
      ws.close(1000, 'reset');
      setTimeout(() => ws.terminate(), 1_000).unref();
    }
  }

  /** Sends a CALL (queued behind the outstanding one). */
  call(action: string, payload: JsonObject, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<JsonObject> {
    if (!this.open) return Promise.reject(new NotConnectedError(`${action}: not connected to the CSMS`));
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason instanceof Error ? opts.signal.reason : new Error(`${action}: aborted`));
    return new Promise<JsonObject>((resolve, reject) => {
      const p: Pending = { action, payload, timeoutMs: opts.timeoutMs ?? this.o.callTimeoutMs, resolve, reject, signal: opts.signal };
      if (opts.signal) {
        p.onAbort = () => {
          const i = this.queue.indexOf(p);
          if (i >= 0) this.queue.splice(i, 1);
          reject(opts.signal?.reason instanceof Error ? opts.signal.reason : new Error(`${action}: aborted`));
        };
        opts.signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.queue.push(p);
      this.pump();
    });
  }

  private settle(p: Pending): void {
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
  }

  private pump(): void {
    if (this.inFlight || !this.open || !this.ws) return;
    const p = this.queue.shift();
    if (!p) return;
    const id = String(++this.seq);
    const text = callText(id, p.action, p.payload);
    const timer = setTimeout(() => {
      if (this.inFlight?.id !== id) return;
      this.inFlight = undefined;
      this.settle(p);
      p.reject(new CallTimeoutError(`${p.action}: no answer from the CSMS within ${p.timeoutMs} ms`));
      this.pump();
    }, p.timeoutMs);
    this.inFlight = { id, p, timer };
    this.send(text);
  }

  private send(text: string): void {
    this.ws?.send(text);
  }

  private connect(): void {
    if (!this.running) return;
    const headers: Record<string, string> = {};
    if (this.o.password !== undefined) headers.authorization = `Basic ${Buffer.from(`${this.o.identity}:${this.o.password}`).toString('base64')}`;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.o.url, [OCPP16], { headers, handshakeTimeout: 10_000 });
    } catch (e) {
      this.lastError = (e as Error).message;
      this.scheduleReconnect(false, 1006, this.lastError);
      return;
    }
    this.ws = ws;
    this.lastError = '';
    ws.on('unexpected-response', (_req, res) => {
      this.lastError = `HTTP ${res.statusCode ?? '?'} ${res.statusMessage ?? ''}`.trim();
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      if (ws.protocol !== OCPP16) {
        this.lastError = `the CSMS did not agree to subprotocol ${OCPP16} (got "${ws.protocol}")`;
        ws.close(1002, 'subprotocol ocpp1.6 required');
        return;
      }
      this.open = true;
      this.attempt = 0;
      this.o.onOpen();
      this.pump();
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      this.onText(data.toString());
    });
    ws.on('error', (e) => {
      if (!this.lastError) this.lastError = e.message;
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      const wasOpen = this.open;
      this.ws = undefined;
      this.linkDown();
      this.scheduleReconnect(wasOpen, code, reason.toString() || this.lastError);
    });
  }

  private linkDown(): void {
    this.open = false;
    if (this.inFlight) {
      clearTimeout(this.inFlight.timer);
      const p = this.inFlight.p;
      this.inFlight = undefined;
      this.settle(p);
      p.reject(new NotConnectedError(`${p.action}: the link to the CSMS dropped before the answer`));
    }
    for (const p of this.queue.splice(0)) {
      this.settle(p);
      p.reject(new NotConnectedError(`${p.action}: the link to the CSMS dropped`));
    }
  }

  private scheduleReconnect(wasOpen: boolean, code: number, reason: string): void {
    let retryInMs: number | undefined;
    if (this.running) {
      const { minMs, maxMs } = this.o.reconnect;
      retryInMs = this.nextDelayOverride ?? Math.min(maxMs, minMs * 2 ** Math.min(this.attempt, 30));
      this.nextDelayOverride = undefined;
      this.attempt++;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.connect(), retryInMs);
    }
    this.o.onClose({ code, reason, wasOpen, retryInMs });
  }

  private onText(text: string): void {
    const r = parseFrame(text);
    if (!r.ok) {
      if (r.ignore) return; // an unknown message type id is ignored (OCPP-J 1.6 §4.1.3)
      // not JSON: parseFrame recovers the uniqueId, the message type id is read here
      const type = r.messageType ?? Number(LEADING_TYPE.exec(text)?.[1]);
      if (type === 3 || type === 4) {
        // a broken answer: fails the CALL it answers (a charger does not CALLERROR an answer)
        const p = r.uniqueId === undefined ? undefined : this.answered(r.uniqueId);
        if (p) {
          p.reject(new CallErrorReceived(`${p.action}: the CSMS's answer is broken (${r.code}: ${r.message})`));
          this.pump();
        }
        return;
      }
      this.sendError(r.uniqueId ?? '-1', r.code, r.message);
      return;
    }
    const f = r.frame;
    if (f.type === 2) {
      // one at a time, in order of arrival
      this.incoming = this.incoming.then(() => this.answer(f.uniqueId, f.action, f.payload));
      return;
    }
    const p = this.answered(f.uniqueId);
    if (!p) return; // late answer to a timed-out call, or noise: a charger ignores it
    if (f.type === 3) p.resolve(f.payload);
    else p.reject(new CallErrorReceived(`${p.action}: the CSMS answered CALLERROR ${f.errorCode}${f.errorDescription ? ` "${f.errorDescription}"` : ''}`));
    this.pump();
  }

  /** The outstanding CALL whose uniqueId is `id`, no longer outstanding; undefined when none has it. */
  private answered(id: string): Pending | undefined {
    const f = this.inFlight;
    if (!f || f.id !== id) return undefined;
    clearTimeout(f.timer);
    this.inFlight = undefined;
    this.settle(f.p);
    return f.p;
  }

  private async answer(id: string, action: string, payload: JsonObject): Promise<void> {
    const ws = this.ws;
    try {
      const result = await this.o.handleCall(action, payload);
      if (this.ws === ws && this.open) this.send(resultText(id, result));
    } catch (e) {
      const err = e instanceof OcppRpcError ? e : new OcppRpcError('InternalError', e instanceof Error ? e.message : String(e));
      if (this.ws === ws && this.open) this.sendError(id, err.code, err.description);
    }
  }

  private sendError(id: string, code: Ocpp16ErrorCode, description: string): void {
    if (!this.open) return;
    this.send(errorText(id, code, description, {}));
  }
}
