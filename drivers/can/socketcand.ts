// socketcand CAN transport: a CAN bus on another Linux host, reached over TCP (linux-can/socketcand,
// default port 29536). The protocol is ASCII elements in angle brackets with no line framing:
//
//   server: < hi >            client: < open can0 >   server: < ok >
//   client: < rawmode >       server: < ok >
//   server: < frame 123 23.424242 1A220344 >        (3-digit id: standard, 8-digit: extended)
//   client: < send 1AAAAAAA 2 01 F1 >               (data bytes space-separated)
//   server: < error ... >                           (refusals, error frames)
//
// Raw mode cannot send remote frames; `send` refuses them with a clear error. The bit rate is set on
// the daemon's host, not from here. When the TCP connection drops (daemon restarted, network) the
// transport reports the link down, reconnects with backoff and repeats the handshake.
import net from 'node:net';
import { LinkError } from '../capabilities.ts';
import { abortable, errorText, settleWithin } from '../common/abort.ts';
import { ReconnectLoop, type BackoffOptions } from '../common/backoff.ts';
import { nowUs } from '../common/time.ts';
import { canFrame, CanFrameError, frameText, type CanFrame } from './frame.ts';
import { TransportBase, type CanTransport, type TransportContext } from './transport.ts';

export interface SocketcandOptions {
  host: string;
  port: number;
  iface: string;
  connectTimeoutMs: number;
  reconnect: BackoffOptions;
}

/** `< send … >` text for a frame. */
export function encodeSocketcandSend(f: CanFrame): string {
  if (f.rtr) throw new CanFrameError(`socketcand raw mode cannot send remote frame ${frameText(f)}`);
  const id = f.ext ? f.id.toString(16).toUpperCase().padStart(8, '0') : f.id.toString(16).toUpperCase().padStart(3, '0');
  const bytes = Array.from(f.data, (b) => b.toString(16).toUpperCase().padStart(2, '0'));
  return `< send ${id} ${f.dlc}${bytes.length ? ' ' + bytes.join(' ') : ''} >`;
}

/** Parses the words of a `< frame ID SEC.USEC DATA >` element. */
export function decodeSocketcandFrame(words: readonly string[], tsUs = nowUs()): CanFrame {
  const [kw, idText, time, data = ''] = words;
  if (kw !== 'frame' || idText === undefined || time === undefined || words.length > 4) throw new CanFrameError(`socketcand: malformed frame element "< ${words.join(' ')} >"`);
  if (!/^[0-9A-Fa-f]+$/.test(idText) || (idText.length !== 3 && idText.length !== 8)) throw new CanFrameError(`socketcand: frame id "${idText}" must have 3 or 8 hex digits`);
  if (!/^\d+\.\d+$/.test(time)) throw new CanFrameError(`socketcand: frame time "${time}" is not SECONDS.USECONDS`);
  if (!/^([0-9A-Fa-f]{2})*$/.test(data)) throw new CanFrameError(`socketcand: frame data "${data}" is not hex bytes`);
  const bytes = (data.match(/../g) ?? []).map((h) => parseInt(h, 16));
  return canFrame({ id: parseInt(idText, 16), ext: idText.length === 8, data: bytes, tsUs });
}

/** Splits a stream of `< … >` elements; keeps the incomplete tail. */
export class ElementParser {
  private buf = '';
  push(text: string): { elements: string[][]; garbage: string[] } {
    this.buf += text;
    const elements: string[][] = [];
    const garbage: string[] = [];
    for (;;) {
      const open = this.buf.indexOf('<');
      if (open < 0) {
        if (this.buf.trim()) garbage.push(this.buf.trim());
        this.buf = '';
        break;
      }
      if (open > 0 && this.buf.slice(0, open).trim()) garbage.push(this.buf.slice(0, open).trim());
      const close = this.buf.indexOf('>', open);
      if (close < 0) {
        this.buf = this.buf.slice(open);
        if (this.buf.length > 4096) {
          garbage.push(this.buf.slice(0, 40));
          this.buf = '';
        }
        break;
      }
      const words = this.buf.slice(open + 1, close).trim().split(/\s+/).filter(Boolean);
      elements.push(words);
      this.buf = this.buf.slice(close + 1);
    }
    return { elements, garbage };
  }
  reset(): void {
    this.buf = '';
  }
}

interface Waiter {
  resolve: (words: string[]) => void;
  reject: (e: Error) => void;
}

export class SocketcandTransport extends TransportBase implements CanTransport {
  readonly kind = 'socketcand' as const;
  readonly link: string;
  private sock: net.Socket | undefined;
  private up = false;
  private closing = false;
  private readonly parser = new ElementParser();
  private readonly loop: ReconnectLoop;
  /** handshake: the next element the server sends */
  private waiter: Waiter | undefined;
  private out: string[] = [];
  private outWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushScheduled = false;
  private draining = false;
  private downSince = 0;
  lastError = '';

  constructor(
    private readonly o: SocketcandOptions,
    ctx: TransportContext,
  ) {
    super(ctx);
    this.link = `socketcand:${o.host}:${o.port}/${o.iface}`;
    this.loop = new ReconnectLoop(o.reconnect, () => this.connect(AbortSignal.timeout(o.connectTimeoutMs)), (m) => ctx.log?.(m));
  }

  get isUp(): boolean {
    return this.up;
  }
  get reconnects(): number {
    return this.loop.reconnects;
  }

  async open(signal: AbortSignal): Promise<void> {
    this.closing = false;
    await this.connect(AbortSignal.any([signal, AbortSignal.timeout(this.o.connectTimeoutMs)]));
  }

  /** Connects and runs the handshake: hi, open <iface>, rawmode. */
  private async connect(signal: AbortSignal): Promise<void> {
    const where = `${this.o.host}:${this.o.port}`;
    this.parser.reset();
    const sock = net.connect({ host: this.o.host, port: this.o.port });
    sock.setNoDelay(true);
    sock.setEncoding('latin1');
    this.sock = sock;
    sock.on('data', (t: string) => this.onText(sock, t));
    sock.on('error', (e) => {
      this.lastError = e.message;
    });
    sock.on('close', () => this.lost(sock, this.lastError || 'connection closed by the server'));
    try {
      await abortable(
        new Promise<void>((resolve, reject) => {
          sock.once('connect', resolve);
          sock.once('close', () => reject(new Error(this.lastError || 'connection closed')));
        }),
        signal,
      );
      const hi = await this.next(signal);
      if (hi[0] !== 'hi') throw new Error(`expected "< hi >", got "< ${hi.join(' ')} >"`);
      sock.write(`< open ${this.o.iface} >`);
      const opened = await this.next(signal);
      if (opened[0] !== 'ok') throw new Error(`"< open ${this.o.iface} >" answered "< ${opened.join(' ')} >"`);
      sock.write('< rawmode >');
      const raw = await this.next(signal);
      if (raw[0] !== 'ok') throw new Error(`"< rawmode >" answered "< ${raw.join(' ')} >"`);
    } catch (e) {
      this.waiter = undefined;
      this.sock = undefined;
      sock.removeAllListeners('close');
      sock.destroy();
      const why = signal.aborted && !(e instanceof Error && e.message.startsWith('"')) ? `no handshake within the connect timeout (${errorText(e)})` : errorText(e);
      throw new LinkError(this.ctx.name, `socketcand ${where}: ${why}`, { cause: e });
    }
    this.up = true;
    this.linkChanged(true);
  }

  private next(signal: AbortSignal): Promise<string[]> {
    return abortable(new Promise<string[]>((resolve, reject) => (this.waiter = { resolve, reject })), signal);
  }

  private onText(sock: net.Socket, text: string): void {
    if (sock !== this.sock) return;
    const tUs = nowUs();
    const { elements, garbage } = this.parser.push(text);
    for (const g of garbage) this.busError(`socketcand: text outside < > ignored: "${g.slice(0, 40)}"`);
    for (const words of elements) {
      if (!this.up) {
        const w = this.waiter;
        this.waiter = undefined;
        if (w) w.resolve(words);
        continue;
      }
      const kw = words[0];
      if (kw === 'frame') {
        try {
          this.received(decodeSocketcandFrame(words, tUs));
        } catch (e) {
          this.busError(errorText(e));
        }
      } else if (kw === 'error') {
        this.busError(`socketcand: < ${words.join(' ')} >`);
      } else if (kw === 'ok' || kw === 'echo') {
        // acknowledgements of mode commands; nothing to do
      } else {
        this.busError(`socketcand: unexpected element "< ${words.join(' ')} >"`);
      }
    }
  }

  private lost(sock: net.Socket, why: string): void {
    if (sock !== this.sock) return;
    this.sock = undefined;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(new Error(why));
    const wasUp = this.up;
    this.up = false;
    this.downSince = Date.now();
    const err = new LinkError(this.ctx.name, `socketcand ${this.o.host}:${this.o.port} lost: ${why}`);
    this.out = [];
    for (const o of this.outWaiters.splice(0)) o.reject(err);
    if (wasUp) {
      this.linkChanged(false, why);
      if (!this.closing) this.loop.start(why);
    }
  }

  async send(frame: CanFrame, signal: AbortSignal): Promise<void> {
    if (!this.up || !this.sock) {
      throw new LinkError(this.ctx.name, `socketcand ${this.o.host}:${this.o.port} is not connected${this.downSince ? ` (down for ${Date.now() - this.downSince} ms, reconnecting)` : ''}`);
    }
    const text = encodeSocketcandSend(frame);
    const p = new Promise<void>((resolve, reject) => {
      this.out.push(text);
      this.outWaiters.push({ resolve, reject });
    });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    await abortable(p, signal);
    this.sent({ ...frame, tsUs: nowUs() });
  }

  private flush(): void {
    this.flushScheduled = false;
    const sock = this.sock;
    if (this.draining || !sock || !this.out.length) return;
    const text = this.out.join('');
    const waiters = this.outWaiters;
    this.out = [];
    this.outWaiters = [];
    const ok = sock.write(text, 'latin1', (err) => {
      if (err) {
        this.counters.dropped += waiters.length;
        const e = new LinkError(this.ctx.name, `socketcand write failed: ${err.message}`);
        for (const w of waiters) w.reject(e);
      } else for (const w of waiters) w.resolve();
    });
    if (!ok) {
      this.draining = true;
      sock.once('drain', () => {
        this.draining = false;
        this.flush();
      });
    }
  }

  describe(): string {
    if (this.up) return `socketcand ${this.o.host}:${this.o.port} ${this.o.iface} connected (${this.counterText()})`;
    return `socketcand ${this.o.host}:${this.o.port} ${this.o.iface} down: ${this.lastError || 'not connected'}${this.loop.active ? `, reconnecting (${this.loop.failures} failed attempts)` : ''}`;
  }

  async close(deadlineMs: number): Promise<void> {
    this.closing = true;
    this.loop.stop();
    const sock = this.sock;
    this.sock = undefined;
    this.up = false;
    const err = new LinkError(this.ctx.name, 'socketcand transport closed');
    for (const o of this.outWaiters.splice(0)) o.reject(err);
    if (!sock) return;
    sock.removeAllListeners('close');
    const done = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.end();
    if ((await settleWithin(done, deadlineMs)) === 'timeout') sock.destroy();
  }
}
