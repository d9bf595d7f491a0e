// A Lawicel/slcan USB-CAN adapter (CANable, CANUSB, USBtin) simulated on the device end of a pty,
// bridged to a VirtualBus. Written from the wire protocol (shared/reference/rig-protocols.md §3.1),
// never from the bench's driver: it speaks the ASCII protocol byte for byte (CR ok, BEL error,
// optional z/Z acknowledgements, S-codes, O/L/C, Z1 timestamps, F status flags, V/N info).
// Knobs for robustness tests: `refuse` answers BEL to the named commands, `bellOnFrames` refuses
// the next N frames, `mute` stops answering, `line()` injects raw text (error frames `e…`, state
// frames `s…`).
//
//   const pty = await ptyPair();
//   const adapter = new SlcanAdapter(pty.b, bus);  await adapter.start();   // the bench opens pty.a
import { SerialPort } from 'serialport';
import type { BusFrame, BusNode, VirtualBus } from './can-bus.ts';
import { settleWithin } from './settle.ts';

export interface SlcanAdapterOptions {
  /** Lawicel/CANUSB style: answer `z`/`Z` CR to transmitted frames instead of a bare CR. */
  zAck?: boolean;
}

const BITRATES = [10000, 20000, 50000, 100000, 125000, 250000, 500000, 800000, 1000000];

export class SlcanAdapter implements BusNode {
  private port: SerialPort | undefined;
  private buf = '';
  open = false;
  listenOnly = false;
  timestamps = false;
  bitrate: number | undefined;
  /** Every command line received, in order (frames included), while `keepLog` is true. */
  readonly commands: string[] = [];
  keepLog = true;
  readonly refuse = new Set<string>();
  bellOnFrames = 0;
  mute = false;
  framesFromHost = 0;
  framesToHost = 0;
  private detach: (() => void) | undefined;
  private out: string[] = [];
  private flushing = false;

  constructor(
    private readonly path: string,
    private readonly bus: VirtualBus,
    private readonly opts: SlcanAdapterOptions = {},
  ) {}

  async start(): Promise<void> {
    const port = new SerialPort({ path: this.path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on('data', (d: Buffer) => this.onData(d.toString('latin1')));
    port.on('error', () => {});
    this.port = port;
    this.detach = this.bus.attach(this);
  }

  /** Detaches from the bus and closes the pty end; settles within 1 s. */
  async stop(): Promise<void> {
    this.detach?.();
    this.detach = undefined;
    const p = this.port;
    this.port = undefined;
    this.open = false;
    if (p?.isOpen) await settleWithin(new Promise<void>((r) => p.close(() => r())), 1000);
  }

  /** Injects raw adapter output (a CR is appended). */
  line(text: string): void {
    this.write(`${text}\r`);
  }

  private write(text: string): void {
    this.out.push(text);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => {
        this.flushing = false;
        const all = this.out.join('');
        this.out = [];
        this.port?.write(Buffer.from(all, 'latin1'));
      });
    }
  }

  private ok(): void {
    if (!this.mute) this.write('\r');
  }
  private bell(): void {
    if (!this.mute) this.write('\x07');
  }

  private onData(text: string): void {
    this.buf += text;
    let i: number;
    while ((i = this.buf.indexOf('\r')) >= 0) {
      const cmd = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      if (cmd === '') continue; // leading CRs are ignored, as slcanpty does
      if (this.keepLog) this.commands.push(cmd);
      this.handle(cmd);
    }
    // a real adapter's line buffer is small; garbage without CR must not grow forever
    if (this.buf.length > 64) this.buf = this.buf.slice(-64);
  }

  private handle(cmd: string): void {
    const c = cmd[0] as string;
    if (this.refuse.has(cmd) || this.refuse.has(c)) return this.bell();
    switch (c) {
      case 'S': {
        const n = Number(cmd.slice(1));
        if (this.open || cmd.length !== 2 || !(n >= 0 && n <= 8)) return this.bell();
        this.bitrate = BITRATES[n];
        return this.ok();
      }
      case 'O':
      case 'L':
        if (this.open || this.bitrate === undefined) return this.bell();
        this.open = true;
        this.listenOnly = c === 'L';
        return this.ok();
      case 'C':
        if (!this.open) return this.bell();
        this.open = false;
        return this.ok();
      case 'Z':
        this.timestamps = cmd === 'Z1';
        return this.ok();
      case 'F':
        return this.mute ? undefined : this.write('F00\r');
      case 'V':
        return this.mute ? undefined : this.write('V1013\r');
      case 'N':
        return this.mute ? undefined : this.write('NSIM1\r');
      case 't':
      case 'T':
      case 'r':
      case 'R':
        return this.frameFromHost(cmd);
      default:
        return this.bell();
    }
  }

  private frameFromHost(cmd: string): void {
    const ext = cmd[0] === 'T' || cmd[0] === 'R';
    const rtr = cmd[0] === 'r' || cmd[0] === 'R';
    const idLen = ext ? 8 : 3;
    const idText = cmd.slice(1, 1 + idLen);
    const dlc = Number(cmd[1 + idLen]);
    const data = rtr ? '' : cmd.slice(2 + idLen);
    // the kernel and slcanpty reject anything but exactly 2×DLC hex data digits
    const hexOk = /^[0-9A-Fa-f]+$/.test(idText) && /^[0-9A-Fa-f]*$/.test(data);
    if (!this.open || this.listenOnly || !hexOk || !(dlc >= 0 && dlc <= 8) || (!rtr && data.length !== dlc * 2) || (rtr && cmd.length !== 2 + idLen)) return this.bell();
    if (this.bellOnFrames > 0) {
      this.bellOnFrames -= 1;
      return this.bell();
    }
    this.framesFromHost += 1;
    const f: BusFrame = { id: parseInt(idText, 16), ext, rtr, dlc, data: Buffer.from(data, 'hex') };
    this.bus.transmit(this, f);
    if (this.mute) return;
    this.write(this.opts.zAck ? (ext ? 'Z\r' : 'z\r') : '\r');
  }

  deliver(f: BusFrame): void {
    if (!this.open || !this.port) return;
    this.framesToHost += 1;
    const id = f.ext ? f.id.toString(16).toUpperCase().padStart(8, '0') : f.id.toString(16).toUpperCase().padStart(3, '0');
    const kind = f.rtr ? (f.ext ? 'R' : 'r') : f.ext ? 'T' : 't';
    const data = f.rtr ? '' : f.data.toString('hex').toUpperCase();
    const ts = this.timestamps ? (Date.now() % 60000).toString(16).toUpperCase().padStart(4, '0') : '';
    this.write(`${kind}${id}${f.dlc}${data}${ts}\r`);
  }
}
