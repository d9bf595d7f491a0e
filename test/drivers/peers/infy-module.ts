// Test peer: one InfyPower REG/CEG-style DC module (protocol V1.13) on a VirtualBus, written from
// shared/reference/rig-protocols.md §2.2 independently of the driver: ids
// `error<<26 | device<<22 | cmd<<16 | dst<<8 | src`, reads need 8 zero bytes, Read V/I answers
// float32 volts/amps, Set V/I takes u32 mV/mA, On/Off byte 0 (0 on, 1 off), status bits in bytes
// 5–7, and the module switches itself off after `watchdogMs` without frames. Knobs for tests:
// `loadA` (what the load would draw), `faultBits`, `mute`, `errorFor` (answer with an error code).
import type { BusFrame, BusNode, VirtualBus } from './virtual-bus.ts';

export class InfyModule implements BusNode {
  on = false;
  setMv = 0;
  setMa = 0;
  /** current the simulated load draws at the set voltage, A */
  loadA = 1000;
  /** extra status bits: [byte5, byte6, byte7] */
  faultBits: [number, number, number] = [0, 0, 0];
  mute = false;
  /** command → error code put in the reply id */
  readonly errorFor = new Map<number, number>();
  readonly received: BusFrame[] = [];
  private lastFrameAt = Date.now();
  private watchdog: NodeJS.Timeout;
  private detach: () => void;

  constructor(
    private readonly bus: VirtualBus,
    readonly address = 0,
    readonly watchdogMs = 10_000,
  ) {
    this.detach = bus.attach(this);
    this.watchdog = setInterval(() => {
      if (this.on && Date.now() - this.lastFrameAt > this.watchdogMs) this.on = false;
    }, 50);
  }

  stop(): void {
    clearInterval(this.watchdog);
    this.detach();
  }

  get outputV(): number {
    return this.on ? this.setMv / 1000 : 0;
  }
  get outputA(): number {
    return this.on ? Math.min(this.setMa / 1000, this.loadA) : 0;
  }

  deliver(f: BusFrame): void {
    if (!f.ext) return;
    const device = (f.id >>> 22) & 0xf;
    const cmd = (f.id >>> 16) & 0x3f;
    const dst = (f.id >>> 8) & 0xff;
    const src = f.id & 0xff;
    if (device !== 0x0a || dst !== this.address) return;
    this.lastFrameAt = Date.now();
    this.received.push(f);
    if (this.mute) return;
    const reply = (data: Buffer, error = this.errorFor.get(cmd) ?? 0): void => {
      const id = ((error & 7) << 26) | (0x0a << 22) | (cmd << 16) | (src << 8) | this.address;
      setImmediate(() => this.bus.transmit(this, { id, ext: true, rtr: false, dlc: 8, data }));
    };
    const isRead = cmd === 0x02 || cmd === 0x03 || cmd === 0x04 || cmd === 0x0a || cmd === 0x0b || cmd === 0x0c;
    if (isRead && f.data.some((b) => b !== 0)) return reply(Buffer.alloc(8), 3);
    switch (cmd) {
      case 0x03: {
        const b = Buffer.alloc(8);
        b.writeFloatBE(this.outputV, 0);
        b.writeFloatBE(this.outputA, 4);
        return reply(b);
      }
      case 0x04: {
        const b = Buffer.alloc(8);
        b[5] = this.faultBits[0];
        b[6] = this.faultBits[1] | (this.on ? 0 : 0x01);
        b[7] = this.faultBits[2];
        return reply(b);
      }
      case 0x0a: {
        const b = Buffer.alloc(8);
        b.writeUInt16BE(1000, 0);
        b.writeUInt16BE(150, 2);
        b.writeUInt16BE(1000, 4); // 100.0 A
        b.writeUInt16BE(3000, 6); // 30 kW
        return reply(b);
      }
      case 0x1c:
        if (!this.errorFor.has(cmd)) {
          this.setMv = f.data.readUInt32BE(0);
          this.setMa = f.data.readUInt32BE(4);
        }
        return reply(Buffer.from(f.data));
      case 0x1a:
        if (!this.errorFor.has(cmd)) this.on = f.data[0] === 0x00;
        return reply(Buffer.from(f.data));
      default:
        return reply(Buffer.alloc(8), 2);
    }
  }
}
