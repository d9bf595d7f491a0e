// Fake drivers for the project's own tests only (never registered as built-ins, never used by a
// shipped rig). A test rig file loads them with `plugins: [<path to this file>]`. They implement
// the real capability interfaces with in-memory state and let a test inject the faults the runner
// must handle: an open that fails, a link that drops, a wedged close.
import { z } from 'zod';
import {
  LinkError,
  type CcuStatus,
  type ChargeController,
  type EnergyMeter,
  type HealthResult,
  type LinkStats,
  type MeterPollOptions,
  type MeterPollSummary,
  type MeterReading,
} from '../../drivers/capabilities.ts';
import { defineDriver, type DriverContext } from '../../src/rig/registry.ts';

const faults = z
  .object({
    /** open() rejects with a LinkError */
    openFails: z.boolean().default(false),
    /** close() never settles (the runner must still finish within its deadline) */
    closeHangs: z.boolean().default(false),
    /** the first N reads reject with a LinkError, then reads work */
    failReads: z.number().int().nonnegative().default(0),
    /** health() reports the link as not ok */
    unhealthy: z.boolean().default(false),
  })
  .strict();

abstract class FakeBase {
  protected opened = false;
  protected reads = 0;
  constructor(protected readonly ctx: DriverContext<z.output<typeof faults>>) {}

  async open(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.ctx.options.openFails) throw new LinkError(this.ctx.name, 'fake link refused to open');
    this.opened = true;
    this.ctx.transcript.write(`${new Date().toISOString()} open\n`);
  }

  async close(_deadlineMs: number): Promise<void> {
    if (this.ctx.options.closeHangs) return new Promise(() => {});
    this.opened = false;
  }

  async health(_signal: AbortSignal): Promise<HealthResult> {
    if (this.ctx.options.unhealthy) return { ok: false, detail: 'fake link reports no answer', reconnects: 2 };
    return { ok: this.opened, detail: this.opened ? 'fake link open' : 'fake link closed', reconnects: 0 };
  }

  protected beforeRead(what: string): void {
    if (!this.opened) throw new LinkError(this.ctx.name, 'not open');
    this.reads += 1;
    if (this.reads <= this.ctx.options.failReads) throw new LinkError(this.ctx.name, `fake ${what} read failed (${this.reads})`);
    this.ctx.transcript.write(`${new Date().toISOString()} read ${what}\n`);
  }
}

class FakeMeterImpl extends FakeBase implements EnergyMeter {
  private energyWh: number;
  constructor(ctx: DriverContext<z.output<typeof FakeMeterOptions>>) {
    super(ctx);
    this.energyWh = ctx.options.energyWh;
  }
  private get o(): z.output<typeof FakeMeterOptions> {
    return this.ctx.options as z.output<typeof FakeMeterOptions>;
  }
  async read(signal: AbortSignal): Promise<MeterReading> {
    signal.throwIfAborted();
    this.beforeRead('meter');
    this.energyWh += this.o.powerW / 3600;
    return { voltageV: [230, 230, 230], currentA: [0, 0, 0], powerW: this.o.powerW, importedEnergyWh: this.energyWh, t: performance.timeOrigin + performance.now() };
  }
  async readEnergyWh(signal: AbortSignal): Promise<number> {
    return (await this.read(signal)).importedEnergyWh;
  }
  async readPowerW(signal: AbortSignal): Promise<number> {
    return (await this.read(signal)).powerW;
  }
  async serialNumber(_signal: AbortSignal): Promise<string> {
    return this.o.serial;
  }
  async poll(opts: MeterPollOptions): Promise<MeterPollSummary> {
    const summary = { readings: 0, failures: 0, overruns: 0 };
    while (!opts.signal.aborted) {
      try {
        opts.onReading(await this.read(opts.signal));
        summary.readings += 1;
      } catch (e) {
        if (opts.signal.aborted) break;
        summary.failures += 1;
        opts.onError?.(e as Error);
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs));
    }
    return summary;
  }
  snapshot(): Record<string, unknown> {
    return { opened: this.opened, reads: this.reads, energyWh: this.energyWh };
  }
}

const FakeMeterOptions = faults.extend({
  energyWh: z.number().default(1000),
  powerW: z.number().default(7400),
  serial: z.string().default('FAKE-0001'),
});

export const FakeMeter = defineDriver({
  name: 'FakeMeter',
  description: 'In-memory energy meter for the project tests.',
  provides: ['EnergyMeter'],
  bindings: { link: ['ModbusTcp', 'ModbusRtu'] },
  options: FakeMeterOptions,
  transcript: { ext: 'log', mime: 'text/plain' },
  create: (ctx) => new FakeMeterImpl(ctx),
});

/** Every emergency stop any FakeCcu received, so in-process tests can assert on them. */
export const emergencyStops: { driver: string; t: number }[] = [];

class FakeCcuImpl extends FakeBase implements ChargeController {
  private enabled = false;
  private stops = 0;
  async status(signal: AbortSignal): Promise<CcuStatus> {
    signal.throwIfAborted();
    this.beforeRead('status');
    return { voltageV: this.enabled ? 400 : 0, currentA: 0, state: this.enabled ? 'enabled' : 'idle', faults: [], t: performance.timeOrigin + performance.now() };
  }
  async setLimits(): Promise<void> {}
  async enable(): Promise<void> {
    this.enabled = true;
  }
  async disable(): Promise<void> {
    this.enabled = false;
  }
  async emergencyStop(): Promise<void> {
    this.enabled = false;
    this.stops += 1;
    emergencyStops.push({ driver: this.ctx.name, t: Date.now() });
    this.ctx.transcript.write(`${new Date().toISOString()} EMERGENCY STOP\n`);
  }
  linkStats(): LinkStats {
    return { link: 'fake', rxFrames: this.reads, txFrames: 0, rxBytes: 0, txBytes: 0, errors: 0, dropped: 0, tMs: Date.now() };
  }
  snapshot(): Record<string, unknown> {
    return { opened: this.opened, enabled: this.enabled, emergencyStops: this.stops };
  }
}

export const FakeCcu = defineDriver({
  name: 'FakeCcu',
  description: 'In-memory charge controller for the project tests.',
  provides: ['ChargeController'],
  bindings: { bus: 'CanInterface' },
  options: faults,
  transcript: { ext: 'log', mime: 'text/plain' },
  create: (ctx) => new FakeCcuImpl(ctx),
});

export default [FakeMeter, FakeCcu];
