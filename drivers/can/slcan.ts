// slcan (Lawicel ASCII) CAN transport over a serial port (`serialport`): USB-CAN adapters such as
// CANable, CANUSB or USBtin, and anything that emulates them on a pty. Every command and frame ends
// with CR; the adapter answers CR (ok), `z`/`Z` CR (frame queued, Lawicel/CANUSB) or BEL (error).
//
//   open:   C\r  S<n>\r  [Z1\r]  O\r (or L\r listen-only)      close: C\r
//   send:   t<iii><l><dd..>\r   T<iiiiiiii><l><dd..>\r   r<iii><l>\r   R<iiiiiiii><l>\r
//   rx:     the same, plus a 4-hex ms timestamp when Z1; `e..` error frames, `s..` state frames
//
// Replies are matched to requests by position (clones answer plain CR to frames), so frames are
// sent back to back without waiting for each acknowledgement; `send` resolves when the adapter's
// answer to that frame arrives and rejects with LinkError on BEL or after `ackTimeoutMs`. When the
// serial device disappears the transport reports the link down, reopens it with backoff and runs
// the open sequence again. `health` reads the status flags (`F`) as a real round trip.
import { LinkError } from '../capabilities.ts';
import { abortable, errorText, settleWithin } from '../common/abort.ts';
import type { BackoffOptions } from '../common/backoff.ts';
import { SerialLink } from '../common/serial-link.ts';
import { nowUs } from '../common/time.ts';
import { canFrame, CanFrameError, frameText, hex, type CanFrame } from './frame.ts';
import { TransportBase, type CanTransport, type TransportContext } from './transport.ts';

/** Bit rate → `S<n>` code (Lawicel table; S7 is 800 kbit/s as in the Linux driver). */
export const SLCAN_BITRATES: Readonly<Record<number, number>> = {
  10000: 0,
  20000: 1,
  50000: 2,
  100000: 3,
  125000: 4,
  250000: 5,
  500000: 6,
  800000: 7,
  1000000: 8,
};

export function slcanBitrateCode(bitrate: number): number {
  const code = SLCAN_BITRATES[bitrate];
  if (code === undefined) {
    throw new RangeError(`slcan: bit rate ${bitrate} has no S-code; use one of ${Object.keys(SLCAN_BITRATES).join(', ')}`);
  }
  return code;
}

/** The slcan text of a frame, CR included. */
export function encodeSlcan(f: CanFrame): string {
  const id = f.ext ? f.id.toString(16).toUpperCase().padStart(8, '0') : f.id.toString(16).toUpperCase().padStart(3, '0');
  if (f.rtr) return `${f.ext ? 'R' : 'r'}${id}${f.dlc}\r`;
  return `${f.ext ? 'T' : 't'}${id}${f.dlc}${hex(f.data)}\r`;
}

/**
 * Parses a received frame token (without its CR): `t1230`, `T12ABCDEF2AA55`, `r1232`, with an
 * optional 4-hex timestamp. Throws CanFrameError saying what is wrong.
 */
export function decodeSlcan(token: string, tsUs = nowUs()): { frame: CanFrame; deviceMs?: number } {
  const kind = token[0];
  const ext = kind === 'T' || kind === 'R';
  const rtr = kind === 'r' || kind === 'R';
  if (kind !== 't' && kind !== 'T' && kind !== 'r' && kind !== 'R') throw new CanFrameError(`slcan: "${token}" is not a frame`);
  const idLen = ext ? 8 : 3;
  const idText = token.slice(1, 1 + idLen);
  const dlcText = token[1 + idLen];
  if (!/^[0-9A-Fa-f]+$/.test(idText) || idText.length !== idLen) throw new CanFrameError(`slcan: bad id in "${token}"`);
  if (dlcText === undefined || !/^[0-8]$/.test(dlcText)) throw new CanFrameError(`slcan: DLC of "${token}" is not 0..8`);
  const dlc = Number(dlcText);
  let rest = token.slice(2 + idLen);
  const dataLen = rtr ? 0 : dlc * 2;
  const data = rest.slice(0, dataLen);
  rest = rest.slice(dataLen);
  if (data.length !== dataLen || !/^[0-9A-Fa-f]*$/.test(data)) throw new CanFrameError(`slcan: "${token}" needs exactly ${dataLen} data digits for DLC ${dlc}`);
  let deviceMs: number | undefined;
  if (rest.length === 4 && /^[0-9A-Fa-f]{4}$/.test(rest)) deviceMs = parseInt(rest, 16);
  else if (rest.length) throw new CanFrameError(`slcan: trailing "${rest}" in "${token}"`);
  const bytes = (data.match(/../g) ?? []).map((h) => parseInt(h, 16));
  const frame = canFrame({ id: parseInt(idText, 16), ext, rtr, ...(rtr ? { dlc } : { data: bytes }), tsUs });
  return deviceMs === undefined ? { frame } : { frame, deviceMs };
}

export interface SlcanOptions {
  path: string;
  bitrate: number;
  serialBaud: number;
  listenOnly: boolean;
  timestamps: boolean;
  ackTimeoutMs: number;
  reconnect: BackoffOptions;
}

interface Pending {
  what: string;
  sentAt: number;
  resolve: (reply: string) => void;
  reject: (e: Error) => void;
}

const BEL = '\x07';

export class SlcanTransport extends TransportBase implements CanTransport {
  readonly kind = 'slcan' as const;
  readonly link: string;
  private readonly serial: SerialLink;
  private pending: Pending[] = [];
  private rx = '';
  private busOpen = false;
  private watchdog: NodeJS.Timeout | undefined;
  private closing = false;
  private initializing: Promise<void> | undefined;
  lastState = '';

  constructor(
    private readonly o: SlcanOptions,
    ctx: TransportContext,
  ) {
    super(ctx);
    slcanBitrateCode(o.bitrate);
    this.link = `slcan:${o.path}`;
    this.serial = new SerialLink({ name: ctx.name, path: o.path, baudRate: o.serialBaud, reconnect: o.reconnect, ...(ctx.log ? { log: ctx.log } : {}) });
    this.serial.onData((chunk, t) => this.onBytes(chunk.toString('latin1'), t));
    this.serial.onDown((e) => {
      this.busOpen = false;
      this.rx = '';
      this.failPending(e);
      this.linkChanged(false, e.message);
    });
    this.serial.onUp(() => {
      if (this.closing || this.initializing) return;
      // reconnected: bring the bus up again
      this.initializing = this.init(AbortSignal.timeout(Math.max(2000, o.ackTimeoutMs * 4)))
        .then(() => this.linkChanged(true))
        .catch((e: unknown) => {
          // the adapter is back but refuses to open the bus: drop it and try again with backoff
          this.busError(`slcan: re-opening the bus after reconnect failed: ${errorText(e)}`);
          this.serial.drop(`bus did not open: ${errorText(e)}`);
        })
        .finally(() => (this.initializing = undefined));
    });
  }

  get isUp(): boolean {
    return this.serial.isUp && this.busOpen;
  }
  get reconnects(): number {
    return this.serial.reconnects;
  }

  async open(signal: AbortSignal): Promise<void> {
    this.closing = false;
    this.initializing = Promise.resolve();
    try {
      await this.serial.open(signal);
      await this.init(signal);
    } finally {
      this.initializing = undefined;
    }
  }

  /** C, S<n>, [Z1], O|L — each must be answered CR (C may answer BEL when the channel was closed). */
  private async init(signal: AbortSignal): Promise<void> {
    this.busOpen = false;
    await abortable(this.enqueue('C', signal), signal).catch((e: unknown) => {
      if (!(e instanceof SlcanBell)) throw e;
    });
    await this.command(`S${slcanBitrateCode(this.o.bitrate)}`, signal);
    if (this.o.timestamps) await this.command('Z1', signal);
    await this.command(this.o.listenOnly ? 'L' : 'O', signal);
    this.busOpen = true;
  }

  /** Sends a command and resolves with the adapter's reply token (`''` for a bare CR); BEL → LinkError. */
  async command(cmd: string, signal: AbortSignal): Promise<string> {
    try {
      return await abortable(this.enqueue(cmd, signal), signal);
    } catch (e) {
      if (e instanceof SlcanBell) throw new LinkError(this.ctx.name, `slcan adapter refused "${cmd}" (BEL)`, { cause: e });
      throw e;
    }
  }

  private enqueue(text: string, signal: AbortSignal): Promise<string> {
    if (!this.serial.isUp) return Promise.reject(new LinkError(this.ctx.name, `slcan adapter ${this.o.path} is not connected`));
    const p = new Promise<string>((resolve, reject) => {
      this.pending.push({ what: text, sentAt: performance.now(), resolve, reject });
    });
    this.armWatchdog();
    this.serial.write(Buffer.from(`${text}\r`, 'latin1'), signal).catch((e: unknown) => this.failPending(e instanceof Error ? e : new Error(String(e))));
    return p;
  }

  async send(frame: CanFrame, signal: AbortSignal): Promise<void> {
    if (!this.isUp) throw new LinkError(this.ctx.name, `slcan bus on ${this.o.path} is not open${this.serial.isUp ? '' : ' (adapter disconnected, reconnecting)'}`);
    if (this.o.listenOnly) throw new LinkError(this.ctx.name, 'slcan bus is open listen-only; cannot send');
    const text = encodeSlcan(frame).slice(0, -1);
    try {
      await abortable(this.enqueue(text, signal), signal);
    } catch (e) {
      if (e instanceof SlcanBell) {
        this.counters.dropped += 1;
        this.busError(`slcan adapter refused frame ${frameText(frame)} (BEL)`);
        throw new LinkError(this.ctx.name, `slcan adapter refused frame ${frameText(frame)} (BEL): bus off, TX buffer full or channel closed`);
      }
      throw e;
    }
    this.sent({ ...frame, tsUs: nowUs() });
  }

  private onBytes(text: string, tUs: number): void {
    this.rx += text;
    let start = 0;
    for (let i = 0; i < this.rx.length; i++) {
      const c = this.rx[i];
      if (c === '\r') {
        this.onToken(this.rx.slice(start, i), tUs);
        start = i + 1;
      } else if (c === BEL) {
        if (i > start) this.onToken(this.rx.slice(start, i), tUs);
        this.onBell();
        start = i + 1;
      }
    }
    this.rx = this.rx.slice(start);
    if (this.rx.length > 256) {
      this.busError(`slcan: ${this.rx.length} bytes without CR from the adapter; discarded`);
      this.rx = '';
    }
  }

  private onToken(token: string, tUs: number): void {
    const c = token[0];
    if (token === '' || token === 'z' || token === 'Z' || c === 'F' || c === 'V' || c === 'v' || c === 'N') {
      const head = this.pending.shift();
      if (!head) {
        if (token !== '') this.busError(`slcan: unexpected reply "${token}" with nothing pending`);
        return;
      }
      if (c === 'F' && /^F[0-9A-Fa-f]{2}$/.test(token)) {
        const flags = parseInt(token.slice(1), 16);
        if (flags & 0x09) this.counters.dropped += 1; // RX FIFO full / data overrun
        if (flags & 0xa4) this.counters.errors += 1; // error warning / passive / bus error
      }
      head.resolve(token);
      return;
    }
    if (c === 't' || c === 'T' || c === 'r' || c === 'R') {
      try {
        this.received(decodeSlcan(token, tUs).frame);
      } catch (e) {
        this.busError(errorText(e));
      }
      return;
    }
    if (c === 'e') return this.busError(`slcan: error frame "${token}"`, 0);
    if (c === 's') {
      this.lastState = token;
      const st = token[1];
      if (st === 'p' || st === 'b') this.busError(`slcan: bus state ${st === 'b' ? 'bus-off' : 'error-passive'} (${token})`);
      return;
    }
    this.busError(`slcan: unexpected input "${token.slice(0, 40)}"`);
  }

  private onBell(): void {
    const head = this.pending.shift();
    if (!head) return this.busError('slcan: BEL with nothing pending');
    head.reject(new SlcanBell(head.what));
  }

  private failPending(e: Error): void {
    const err = e instanceof LinkError ? e : new LinkError(this.ctx.name, errorText(e), { cause: e });
    for (const p of this.pending.splice(0)) p.reject(err);
  }

  private armWatchdog(): void {
    if (this.watchdog) return;
    const every = Math.max(20, Math.floor(this.o.ackTimeoutMs / 4));
    this.watchdog = setInterval(() => {
      const head = this.pending[0];
      if (!head) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
        return;
      }
      if (performance.now() - head.sentAt > this.o.ackTimeoutMs) {
        const n = this.pending.length;
        this.failPending(new LinkError(this.ctx.name, `slcan adapter did not answer "${head.what}" within ${this.o.ackTimeoutMs} ms (${n} request(s) outstanding)`));
        this.counters.dropped += n;
      }
    }, every);
  }

  /** Reads and clears the adapter's status flags (`F`); a real round trip for health checks. */
  async statusFlags(signal: AbortSignal): Promise<number> {
    const reply = await this.command('F', signal);
    if (!/^F[0-9A-Fa-f]{2}$/.test(reply)) throw new LinkError(this.ctx.name, `slcan: status reply "${reply}" is not Fxx`);
    return parseInt(reply.slice(1), 16);
  }

  describe(): string {
    if (this.isUp) return `slcan ${this.o.path} open at ${this.o.bitrate} bit/s (${this.counterText()})`;
    return `slcan ${this.o.path}: ${this.serial.describe()}`;
  }

  async close(deadlineMs: number): Promise<void> {
    this.closing = true;
    const started = performance.now();
    if (this.isUp) {
      // best effort: take the adapter off the bus
      await settleWithin(this.command('C', AbortSignal.timeout(Math.max(1, Math.min(deadlineMs / 2, 500)))), deadlineMs / 2);
    }
    this.busOpen = false;
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    this.failPending(new LinkError(this.ctx.name, 'slcan transport closed'));
    await this.serial.close(Math.max(1, deadlineMs - (performance.now() - started)));
  }
}

/** The adapter answered BEL. */
class SlcanBell extends Error {
  constructor(readonly what: string) {
    super(`slcan adapter answered BEL to "${what}"`);
  }
}
