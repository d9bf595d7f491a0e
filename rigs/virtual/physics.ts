// The physical world the simulated devices share: one DC power path from the CCU power module
// through the contactors and the energy meter to the EV. Devices never call each other; they set
// and read this object, as real devices share wires. The SECC sets the EV's demand (from
// CurrentDemandReq) and the contactors; the CCU module (switched on by the charger or by the bench
// over CAN) sets its own setpoint and limit; the meter reads what flows and integrates energy.
//
//   const bus = new PowerBus();
//   bus.setEvDemand({ voltageV: 400, currentA: 100 }); bus.setContactors(true); bus.setModule({ on: true, ... });
//   bus.sample().powerW   // 40 000 while all three agree
export interface PowerSample {
  /** epoch ms */
  t: number;
  voltageV: number;
  currentA: number;
  powerW: number;
  /** energy delivered to the EV since the rig started, Wh (never decreases) */
  energyWh: number;
}

export interface ModuleState {
  /** the module's output stage is on */
  on: boolean;
  /** voltage setpoint, V */
  setVoltageV: number;
  /** current limit set by whoever commands the module (charger or bench), A */
  setCurrentA: number;
}

type Listener = (s: PowerSample) => void;

export class PowerBus {
  /** rated limits of the simulated module */
  readonly ratedMaxVoltageV: number;
  readonly ratedMaxCurrentA: number;
  private ev = { voltageV: 0, currentA: 0 };
  private contactors = false;
  private module: ModuleState = { on: false, setVoltageV: 0, setCurrentA: 0 };
  private energyWh = 0;
  private lastT = Date.now();
  private lastPowerW = 0;
  private readonly listeners = new Set<Listener>();

  constructor(opts: { ratedMaxVoltageV?: number; ratedMaxCurrentA?: number } = {}) {
    this.ratedMaxVoltageV = opts.ratedMaxVoltageV ?? 1000;
    this.ratedMaxCurrentA = opts.ratedMaxCurrentA ?? 250;
  }

  /** Integrates energy up to now with the power that flowed since the last change. */
  private advance(now = Date.now()): void {
    if (now > this.lastT) {
      this.energyWh += (this.lastPowerW * (now - this.lastT)) / 3_600_000;
      this.lastT = now;
    }
  }

  private changed(): void {
    this.advance();
    const s = this.compute(this.lastT);
    this.lastPowerW = s.powerW;
    for (const l of this.listeners) l(s);
  }

  private compute(t: number): PowerSample {
    const flowing = this.contactors && this.module.on && this.ev.currentA > 0;
    const voltageV = this.contactors && this.module.on ? Math.min(this.module.setVoltageV || this.ev.voltageV, this.ratedMaxVoltageV) : 0;
    const limitA = this.module.setCurrentA > 0 ? this.module.setCurrentA : this.ratedMaxCurrentA;
    const currentA = flowing ? Math.max(0, Math.min(this.ev.currentA, limitA, this.ratedMaxCurrentA)) : 0;
    return { t, voltageV, currentA, powerW: voltageV * currentA, energyWh: this.energyWh };
  }

  /** What flows now (energy integrated up to this instant). */
  sample(): PowerSample {
    this.advance();
    return this.compute(this.lastT);
  }

  /** The EV's request (CurrentDemandReq EVTargetVoltage/EVTargetCurrent); 0 A = no demand. */
  setEvDemand(d: { voltageV: number; currentA: number }): void {
    this.ev = { voltageV: Math.max(0, d.voltageV), currentA: Math.max(0, d.currentA) };
    this.changed();
  }

  /** The charger's DC contactors (closed by the SECC at PowerDelivery Start, opened at Stop). */
  setContactors(closed: boolean): void {
    this.contactors = closed;
    this.changed();
  }

  get contactorsClosed(): boolean {
    return this.contactors;
  }

  /** The power module's output stage (the CCU simulation applies commands from CAN here). */
  setModule(m: Partial<ModuleState>): void {
    this.module = { ...this.module, ...m };
    this.changed();
  }

  get moduleState(): Readonly<ModuleState> {
    return this.module;
  }

  get evDemand(): Readonly<{ voltageV: number; currentA: number }> {
    return this.ev;
  }

  /** Called on every change of what flows (not periodically). Returns an unsubscribe function. */
  onChange(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
