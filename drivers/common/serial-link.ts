// A serial port that survives being unplugged: SerialLink opens a `serialport` device, reports every
// chunk it reads, coalesces writes (one OS write per event-loop turn, with backpressure), and when
// the device disappears (USB adapter pulled, pty closed) fails pending writes with a LinkError,
// tells its owner, and reopens the same path with exponential backoff. Used by the slcan CAN
// transport and the SECC console driver:
//
//   const link = new SerialLink({ name: 'secc', path, baudRate: 115200, reconnect: { minMs: 100, maxMs: 5000 } });
//   link.onData((chunk, tUs) => ...); link.onDown((e) => ...); link.onUp(() => ...);
//   await link.open(signal); await link.write(Buffer.from('status\r\n'), signal); await link.close(1000);
//
// With `transcript`, it writes the hex log of drivers/common/hexlog.ts.
import { SerialPort } from 'serialport';
import { LinkError } from '../capabilities.ts';
import type { Transcript } from '../../src/rig/transcript.ts';
import { abortable, errorText, settleWithin } from './abort.ts';
import { ReconnectLoop, type BackoffOptions } from './backoff.ts';
import { hexLine, hexNote } from './hexlog.ts';
import { nowUs } from './time.ts';

export interface SerialSettings {
  path: string;
  baudRate: number;
  dataBits?: 5 | 6 | 7 | 8;
  parity?: 'none' | 'even' | 'odd';
  stopBits?: 1 | 2;
}

export interface SerialLinkOptions extends SerialSettings {
  /** Rig name used in LinkError messages (`secc`, `ccu_bus`). */
  name: string;
  reconnect: BackoffOptions;
  transcript?: Transcript;
  log?: (msg: string) => void;
}

interface PendingWrite {
  data: Buffer;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class SerialLink {
  private port: SerialPort | undefined;
  private up = false;
  private closing = false;
  private readonly loop: ReconnectLoop;
  private queue: PendingWrite[] = [];
  private flushing = false;
  private flushScheduled = false;
  private dataFns: ((chunk: Buffer, tUs: number) => void)[] = [];
  private downFns: ((e: LinkError) => void)[] = [];
  private upFns: (() => void)[] = [];
  private downSince: number | undefined;
  lastError = '';
  bytesRx = 0;
  bytesTx = 0;

  constructor(private readonly opts: SerialLinkOptions) {
    this.loop = new ReconnectLoop(opts.reconnect, () => this.connect(), (m) => this.note(m));
  }

  get isUp(): boolean {
    return this.up;
  }
  get reconnects(): number {
    return this.loop.reconnects;
  }
  get path(): string {
    return this.opts.path;
  }

  onData(fn: (chunk: Buffer, tUs: number) => void): void {
    this.dataFns.push(fn);
  }
  onDown(fn: (e: LinkError) => void): void {
    this.downFns.push(fn);
  }
  onUp(fn: () => void): void {
    this.upFns.push(fn);
  }

  private note(text: string): void {
    this.opts.log?.(text);
    this.opts.transcript?.write(hexNote(nowUs(), text));
  }

  async open(signal: AbortSignal): Promise<void> {
    this.closing = false;
    await abortable(this.connect(), signal);
  }

  /** One attempt to open the device. */
  private connect(): Promise<void> {
    const o = this.opts;
    return new Promise<void>((resolve, reject) => {
      const port = new SerialPort({
        path: o.path,
        baudRate: o.baudRate,
        dataBits: o.dataBits ?? 8,
        parity: o.parity ?? 'none',
        stopBits: o.stopBits ?? 1,
        autoOpen: false,
      });
      port.open((err) => {
        if (err) {
          reject(new LinkError(o.name, `cannot open serial port ${o.path}: ${err.message}`, { cause: err }));
          return;
        }
        if (this.closing) {
          port.close(() => {});
          reject(new LinkError(o.name, 'closed while opening'));
          return;
        }
        this.port = port;
        this.up = true;
        this.downSince = undefined;
        port.on('data', (chunk: Buffer) => {
          const t = nowUs();
          this.bytesRx += chunk.length;
          o.transcript?.write(hexLine(t, 'RX', chunk));
          for (const fn of this.dataFns) fn(chunk, t);
        });
        port.on('error', (e: Error) => this.lost(port, e.message));
        port.on('close', (e: Error | null) => this.lost(port, e?.message ?? 'port closed'));
        this.note(`opened ${o.path} at ${o.baudRate} baud`);
        for (const fn of this.upFns) fn();
        resolve();
      });
    });
  }

  private lost(port: SerialPort, why: string): void {
    if (port !== this.port || !this.up) return;
    this.up = false;
    this.port = undefined;
    this.downSince = Date.now();
    this.lastError = why;
    port.removeAllListeners('data');
    if (port.isOpen) port.close(() => {});
    const err = new LinkError(this.opts.name, `serial port ${this.opts.path} lost: ${why}`);
    for (const w of this.queue.splice(0)) w.reject(err);
    for (const fn of this.downFns) fn(err);
    if (!this.closing) this.loop.start(why);
  }

  /** Gives up on the open port (its device answers nonsense): close it and reconnect with backoff. */
  drop(reason: string): void {
    if (this.port) this.lost(this.port, reason);
  }

  /** Queues bytes; resolves when the OS took them. Writes in the same event-loop turn become one write. */
  write(data: Uint8Array, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (!this.up || !this.port) {
      const since = this.downSince ? ` (down for ${Date.now() - this.downSince} ms, reconnecting)` : '';
      return Promise.reject(new LinkError(this.opts.name, `serial port ${this.opts.path} is not open${since}`));
    }
    const p = new Promise<void>((resolve, reject) => this.queue.push({ data: Buffer.from(data), resolve, reject }));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => void this.flush());
    }
    return abortable(p, signal);
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length && this.port && this.up) {
        const batch = this.queue.splice(0);
        const buf = Buffer.concat(batch.map((w) => w.data));
        const port = this.port;
        this.opts.transcript?.write(hexLine(nowUs(), 'TX', buf));
        try {
          // the callback fires once the bytes were handed to the OS; awaiting it is the backpressure
          await new Promise<void>((resolve, reject) => {
            port.write(buf, (err) => (err ? reject(err) : resolve()));
          });
          this.bytesTx += buf.length;
          for (const w of batch) w.resolve();
        } catch (e) {
          const err = new LinkError(this.opts.name, `write to ${this.opts.path} failed: ${errorText(e)}`, { cause: e });
          for (const w of batch) w.reject(err);
          this.lost(port, errorText(e));
        }
      }
    } finally {
      this.flushing = false;
    }
    if (this.queue.length && this.up) void this.flush();
  }

  /** Waits until the link is up again (or rejects when it is closed). */
  whenUp(signal: AbortSignal): Promise<void> {
    return abortable(this.loop.whenUp(), signal);
  }

  describe(): string {
    if (this.up) return `serial ${this.opts.path} open (${this.bytesRx} B in, ${this.bytesTx} B out)`;
    return `serial ${this.opts.path} down: ${this.lastError || 'not open'}${this.loop.active ? `, reconnecting (${this.loop.failures} failed attempts: ${this.loop.lastError})` : ''}`;
  }

  async close(deadlineMs: number): Promise<void> {
    this.closing = true;
    this.loop.stop();
    const port = this.port;
    this.port = undefined;
    this.up = false;
    const err = new LinkError(this.opts.name, 'serial link closed');
    for (const w of this.queue.splice(0)) w.reject(err);
    if (!port) return;
    port.removeAllListeners('data');
    port.removeAllListeners('close');
    port.on('error', () => {});
    if (!port.isOpen) return;
    const r = await settleWithin(new Promise<void>((resolve, reject) => port.close((e) => (e ? reject(e) : resolve()))), deadlineMs);
    if (r === 'timeout') this.opts.log?.(`close of ${this.opts.path} did not finish within ${deadlineMs} ms; dropped`);
    this.opts.transcript?.write(hexNote(nowUs(), `closed ${this.opts.path}`));
  }
}
