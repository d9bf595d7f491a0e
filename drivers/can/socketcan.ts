// Native Linux SocketCAN transport through the `socketcan` package (a compiled addon): the bench
// host's own CAN interface (`can0`, or `vcan0` for tests). The addon is loaded when the transport
// opens, so hosts without it (macOS, a failed native build) only fail rigs that actually use it.
//
// The addon's message objects carry flags as booleans (`ext`, `rtr`, `err`) and the DLC as the
// data length; `toNativeMessage` / `fromNativeMessage` convert between them and CanFrame (an RTR
// frame's DLC travels as a zero-filled buffer of that length). When the interface goes away the
// addon reports `onStopped`; the transport then reopens it with backoff.
import { LinkError } from '../capabilities.ts';
import { errorText } from '../common/abort.ts';
import { ReconnectLoop, type BackoffOptions } from '../common/backoff.ts';
import { nowUs } from '../common/time.ts';
import { canFrame, EFF_MASK, SFF_MASK, type CanFrame } from './frame.ts';
import { TransportBase, type CanTransport, type TransportContext } from './transport.ts';

/** The message object of the `socketcan` addon (native/can.cc). */
export interface NativeCanMessage {
  id: number;
  ext?: boolean;
  rtr?: boolean;
  err?: boolean;
  data: Buffer;
  ts_sec?: number;
  ts_usec?: number;
}

interface NativeChannel {
  start(): void;
  stop(): void;
  send(m: NativeCanMessage): number;
  addListener(event: 'onMessage', fn: (m: NativeCanMessage) => void): void;
  addListener(event: 'onStopped', fn: () => void): void;
}

interface SocketcanModule {
  createRawChannelWithOptions(iface: string, o: { timestamps?: boolean; non_block_send?: boolean }): NativeChannel;
}

export function toNativeMessage(f: CanFrame): NativeCanMessage {
  return { id: f.id, ext: f.ext, rtr: f.rtr, data: f.rtr ? Buffer.alloc(f.dlc) : Buffer.from(f.data) };
}

export type NativeRx = { kind: 'frame'; frame: CanFrame } | { kind: 'error'; errorClass: number };

export function fromNativeMessage(m: NativeCanMessage, fallbackUs = nowUs()): NativeRx {
  const tsUs = m.ts_sec !== undefined && m.ts_usec !== undefined ? m.ts_sec * 1e6 + m.ts_usec : fallbackUs;
  if (m.err) return { kind: 'error', errorClass: m.id };
  const ext = m.ext === true;
  const id = m.id & (ext ? EFF_MASK : SFF_MASK);
  if (m.rtr) return { kind: 'frame', frame: canFrame({ id, ext, rtr: true, dlc: Math.min(8, m.data.length), tsUs }) };
  if (m.data.length > 8) throw new RangeError(`socketcan: ${m.data.length}-byte frame on id 0x${id.toString(16)} (CAN FD is not supported)`);
  return { kind: 'frame', frame: canFrame({ id, ext, data: m.data, tsUs }) };
}

async function loadAddon(): Promise<SocketcanModule> {
  const mod = (await import('socketcan')) as unknown as SocketcanModule & { default?: SocketcanModule };
  const api = typeof mod.createRawChannelWithOptions === 'function' ? mod : mod.default;
  if (!api || typeof api.createRawChannelWithOptions !== 'function') throw new Error('the socketcan module has no createRawChannelWithOptions');
  return api;
}

export interface SocketcanOptions {
  iface: string;
  reconnect: BackoffOptions;
}

export class SocketcanTransport extends TransportBase implements CanTransport {
  readonly kind = 'socketcan' as const;
  readonly link: string;
  private channel: NativeChannel | undefined;
  private up = false;
  private closing = false;
  private readonly loop: ReconnectLoop;
  lastError = '';

  constructor(
    private readonly o: SocketcanOptions,
    ctx: TransportContext,
  ) {
    super(ctx);
    this.link = `socketcan:${o.iface}`;
    this.loop = new ReconnectLoop(o.reconnect, () => this.connect(), (m) => ctx.log?.(m));
  }

  get isUp(): boolean {
    return this.up;
  }
  get reconnects(): number {
    return this.loop.reconnects;
  }

  async open(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.closing = false;
    await this.connect();
  }

  private async connect(): Promise<void> {
    let api: SocketcanModule;
    try {
      api = await loadAddon();
    } catch (e) {
      throw new LinkError(this.ctx.name, `the native socketcan module cannot be loaded on this host: ${errorText(e)}`, { cause: e });
    }
    let ch: NativeChannel;
    try {
      ch = api.createRawChannelWithOptions(this.o.iface, { timestamps: true, non_block_send: true });
    } catch (e) {
      throw new LinkError(this.ctx.name, `cannot open SocketCAN interface "${this.o.iface}" (${errorText(e)}): does it exist and is it up? (ip link show ${this.o.iface})`, { cause: e });
    }
    ch.addListener('onMessage', (m) => {
      if (ch !== this.channel) return;
      try {
        const rx = fromNativeMessage(m);
        if (rx.kind === 'frame') this.received(rx.frame);
        else this.busError(`socketcan: error frame, class 0x${rx.errorClass.toString(16)}`, rx.errorClass);
      } catch (e) {
        this.busError(errorText(e));
      }
    });
    ch.addListener('onStopped', () => {
      if (ch !== this.channel) return;
      this.channel = undefined;
      this.up = false;
      this.lastError = `interface ${this.o.iface} stopped`;
      this.linkChanged(false, this.lastError);
      if (!this.closing) this.loop.start(this.lastError);
    });
    ch.start();
    this.channel = ch;
    this.up = true;
    this.linkChanged(true);
  }

  async send(frame: CanFrame, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const ch = this.channel;
    if (!ch || !this.up) throw new LinkError(this.ctx.name, `SocketCAN interface ${this.o.iface} is not open`);
    const n = ch.send(toNativeMessage(frame));
    if (n < 0) {
      this.counters.dropped += 1;
      throw new LinkError(this.ctx.name, `SocketCAN ${this.o.iface}: send of ${frame.id.toString(16)} failed (TX queue full or interface down)`);
    }
    this.sent({ ...frame, tsUs: nowUs() });
  }

  describe(): string {
    if (this.up) return `socketcan ${this.o.iface} open (${this.counterText()})`;
    return `socketcan ${this.o.iface} down: ${this.lastError || 'not open'}${this.loop.active ? ', reconnecting' : ''}`;
  }

  async close(_deadlineMs: number): Promise<void> {
    this.closing = true;
    this.loop.stop();
    const ch = this.channel;
    this.channel = undefined;
    this.up = false;
    if (ch) {
      try {
        ch.stop();
      } catch {
        // already stopped
      }
    }
  }
}
