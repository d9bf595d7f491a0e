// One InfyPower REG/CEG-style DC power module (protocol V1.13) on a VirtualBus, written from
// shared/reference/rig-protocols.md §2.2, never from the bench's driver: ids
// `error<<26 | device<<22 | cmd<<16 | dst<<8 | src`, device 0x0A (single module), replies with
// src/dst swapped; reads need 8 zero bytes (else error code 3 in the reply id), Read V/I (0x03)
// answers float32 volts/amps, Read status (0x04) has the alarm bits in bytes 5–7, Read
// capabilities (0x0A) u16 Vmax/Vmin (1 V), Imax (0.1 A), Prated (10 W), Read V/I after diode (0x0C)
// u16 Vext/Iavail (0.1 V / 0.1 A), Set V/I (0x1C) takes u32 mV/mA, On/Off (0x1A) byte 0 (0 on,
// 1 off), unknown commands get error code 2. The protocol has no periodic broadcasts: the module
// only answers the controller's polls. Its watchdog switches the output off after `watchdogMs`
// without frames from a controller.
//
// Two ways to run it:
// - on the virtual rig, coupled to the PowerBus (`{ power: bus }`): On/Off and Set V/I go to
//   `bus.setModule()`, Read V/I answers `bus.sample()` (what really flows to the EV), the status
//   shows the bus module's on/off state (which the charger may also switch). The watchdog only
//   switches off an output that was switched on over CAN, since the charger drives the module
//   through the PowerBus without CAN frames.
// - standalone for driver tests: its own output state, the load draws `min(setpoint, loadA)`.
// Knobs for robustness tests: `loadA`, `faultBits`, `mute`, `errorFor` (answer with an error code).
//
//   const module = new InfyModule(canBus, 0, 10_000, { power: bus, log: console.log });  …  module.stop();
import type { BusFrame, BusNode, VirtualBus } from './can-bus.ts';
import type { PowerBus } from './physics.ts';

export interface InfyRatings {
  maxVoltageV: number;
  minVoltageV: number;
  maxCurrentA: number;
  powerW: number;
}

export interface InfyModuleOptions {
  /** Couple the module to the rig's power path. */
  power?: PowerBus;
  /** What Read capabilities (0x0A) reports; defaults: the PowerBus ratings, else 1000 V / 150 V / 100 A / 30 kW. */
  ratings?: Partial<InfyRatings>;
  /** One line per command that changed the output (Set V/I, On/Off, watchdog). */
  log?: (line: string) => void;
}

const DEVICE_SINGLE = 0x0a;
const READS = new Set([0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c]);

export class InfyModule implements BusNode {
  /** current the standalone load draws at the set voltage, A (ignored when coupled to a PowerBus) */
  loadA = 1000;
  /** extra status bits: [byte5, byte6, byte7] */
  faultBits: [number, number, number] = [0, 0, 0];
  mute = false;
  /** command → error code put in the reply id */
  readonly errorFor = new Map<number, number>();
  readonly ratings: InfyRatings;
  private local = { on: false, setMv: 0, setMa: 0 };
  private onByCan = false;
  private lastFrameAt = Date.now();
  private watchdog: NodeJS.Timeout;
  private detach: () => void;
  private readonly power: PowerBus | undefined;
  private readonly log: (line: string) => void;

  constructor(
    private readonly bus: VirtualBus,
    readonly address = 0,
    readonly watchdogMs = 10_000,
    opts: InfyModuleOptions = {},
  ) {
    if (!Number.isInteger(address) || address < 0 || address > 0xff) throw new RangeError(`InfyPower module address must be an integer 0…255, got ${address}`);
    this.power = opts.power;
    this.log = opts.log ?? (() => {});
    const maxVoltageV = opts.ratings?.maxVoltageV ?? this.power?.ratedMaxVoltageV ?? 1000;
    const maxCurrentA = opts.ratings?.maxCurrentA ?? this.power?.ratedMaxCurrentA ?? 100;
    this.ratings = {
      maxVoltageV,
      minVoltageV: opts.ratings?.minVoltageV ?? 150,
      maxCurrentA,
      powerW: opts.ratings?.powerW ?? (this.power ? Math.min(maxVoltageV * maxCurrentA, 655_350) : 30_000),
    };
    this.detach = bus.attach(this);
    this.watchdog = setInterval(() => this.checkWatchdog(), 50);
    this.watchdog.unref();
  }

  stop(): void {
    clearInterval(this.watchdog);
    this.detach();
  }

  get on(): boolean {
    return this.power ? this.power.moduleState.on : this.local.on;
  }
  set on(v: boolean) {
    if (this.power) this.power.setModule({ on: v });
    else this.local.on = v;
  }
  /** voltage setpoint, mV */
  get setMv(): number {
    return this.power ? Math.round(this.power.moduleState.setVoltageV * 1000) : this.local.setMv;
  }
  /** current setpoint, mA */
  get setMa(): number {
    return this.power ? Math.round(this.power.moduleState.setCurrentA * 1000) : this.local.setMa;
  }

  private setPoint(mv: number, ma: number): void {
    if (this.power) this.power.setModule({ setVoltageV: mv / 1000, setCurrentA: ma / 1000 });
    else this.local = { ...this.local, setMv: mv, setMa: ma };
  }

  /** What the output delivers now. */
  output(): { voltageV: number; currentA: number } {
    if (this.power) {
      const s = this.power.sample();
      return { voltageV: s.voltageV, currentA: s.currentA };
    }
    return this.local.on ? { voltageV: this.local.setMv / 1000, currentA: Math.min(this.local.setMa / 1000, this.loadA) } : { voltageV: 0, currentA: 0 };
  }

  private checkWatchdog(): void {
    if (!this.on) {
      this.onByCan = false;
      return;
    }
    const guarded = this.power ? this.onByCan : true;
    const silentMs = Date.now() - this.lastFrameAt;
    if (guarded && silentMs > this.watchdogMs) {
      this.on = false;
      this.onByCan = false;
      this.log(`InfyPower module ${this.address}: watchdog, no frames for ${silentMs} ms, output off`);
    }
  }

  deliver(f: BusFrame): void {
    if (!f.ext || f.rtr) return;
    const device = (f.id >>> 22) & 0xf;
    const cmd = (f.id >>> 16) & 0x3f;
    const dst = (f.id >>> 8) & 0xff;
    const src = f.id & 0xff;
    if (device !== DEVICE_SINGLE || dst !== this.address) return;
    this.lastFrameAt = Date.now();
    if (this.mute) return;
    const reply = (data: Buffer, error = this.errorFor.get(cmd) ?? 0): void => {
      const id = ((error & 7) << 26) | (DEVICE_SINGLE << 22) | (cmd << 16) | (src << 8) | this.address;
      setImmediate(() => this.bus.transmit(this, { id, ext: true, rtr: false, dlc: 8, data }));
    };
    const payload = Buffer.alloc(8);
    f.data.copy(payload, 0, 0, 8);
    if (READS.has(cmd) && (f.dlc !== 8 || payload.some((b) => b !== 0))) return reply(Buffer.alloc(8), 3);
    switch (cmd) {
      case 0x03: {
        const o = this.output();
        const b = Buffer.alloc(8);
        b.writeFloatBE(o.voltageV, 0);
        b.writeFloatBE(o.currentA, 4);
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
        const u16 = (x: number): number => Math.max(0, Math.min(0xffff, Math.round(x)));
        const b = Buffer.alloc(8);
        b.writeUInt16BE(u16(this.ratings.maxVoltageV), 0);
        b.writeUInt16BE(u16(this.ratings.minVoltageV), 2);
        b.writeUInt16BE(u16(this.ratings.maxCurrentA * 10), 4);
        b.writeUInt16BE(u16(this.ratings.powerW / 10), 6);
        return reply(b);
      }
      case 0x0c: {
        const o = this.output();
        const limitA = this.setMa > 0 ? Math.min(this.setMa / 1000, this.ratings.maxCurrentA) : this.ratings.maxCurrentA;
        const b = Buffer.alloc(8);
        b.writeUInt16BE(Math.min(0xffff, Math.round(o.voltageV * 10)), 0);
        b.writeUInt16BE(Math.min(0xffff, Math.round((this.on ? limitA : 0) * 10)), 2);
        return reply(b);
      }
      case 0x1c:
        if (!this.errorFor.has(cmd)) {
          const mv = payload.readUInt32BE(0);
          const ma = payload.readUInt32BE(4);
          this.setPoint(mv, ma);
          this.log(`InfyPower module ${this.address}: Set V/I ${(mv / 1000).toFixed(1)} V ${(ma / 1000).toFixed(1)} A (controller 0x${src.toString(16).toUpperCase()})`);
        }
        return reply(Buffer.from(payload));
      case 0x1a:
        if (!this.errorFor.has(cmd)) {
          const on = payload[0] === 0x00;
          this.on = on;
          this.onByCan = on;
          this.log(`InfyPower module ${this.address}: output ${on ? 'on' : 'off'} (controller 0x${src.toString(16).toUpperCase()})`);
        }
        return reply(Buffer.from(payload));
      default:
        return reply(Buffer.alloc(8), 2);
    }
  }
}
