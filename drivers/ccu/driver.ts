// CcuCan: the ChargeController capability over CAN. It polls the charger's power controller (the
// CCU or its DC modules) on any CAN transport (socketcan, slcan, socketcand), decodes the answers
// with a DBC, and sends limits, on/off and the emergency stop. The protocol comes from a profile
// (drivers/ccu/profile.ts): the built-in InfyPower V1.13 one, or a DBC file of your own with a
// signal mapping in the rig file. See drivers/ccu/README.md for the options.
//
//   ccu: { driver: CcuCan, bind: { bus: ccu_bus }, options: { profile: infypower } }
//
// Errors: no answer from the controller (or the bus link down) → LinkError; the controller
// answering a command with an error code → ProtocolViolation.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError } from '../../src/runner/errors.ts';
import { defineDriver, type DriverContext } from '../../src/rig/registry.ts';
import {
  LinkError,
  ProtocolViolation,
  type CcuStatus,
  type ChargeController,
  type HealthResult,
  type JsonObject,
  type LinkStats,
} from '../capabilities.ts';
import { abortable, errorText } from '../common/abort.ts';
import { nowMs } from '../common/time.ts';
import { CanTransportOptions, createCanTransport } from '../can/index.ts';
import { canFrame, frameText, type CanFrame } from '../can/frame.ts';
import type { CanTransport } from '../can/transport.ts';
import { DbcDatabase, DbcError } from './dbc.ts';
import { dbcProfile, infyPowerProfile, type CcuCommand, type CcuProfile, type StatusAccumulator } from './profile.ts';

export const INFYPOWER_DBC = fileURLToPath(new URL('./profiles/infypower-v1.13.dbc', import.meta.url));

const SignalRef = z.object({ message: z.string().min(1).describe('DBC message name'), signal: z.string().min(1).describe('Signal of that message') }).strict();
const Values = z.record(z.string(), z.union([z.number(), z.string()])).default({}).describe('Signal values (physical, or value-table labels); unspecified signals are 0');
const Command = z.object({ message: z.string().min(1).describe('DBC message name'), values: Values }).strict();

const DbcOptions = z
  .object({
    file: z.string().min(1).describe('DBC file, relative to the rig file'),
    status: z
      .object({
        voltageV: SignalRef.describe('Output voltage signal (V)'),
        currentA: SignalRef.describe('Output current signal (A)'),
        powerW: SignalRef.optional().describe('Output power signal (W); default voltage × current'),
        state: SignalRef.optional().describe('State signal; its value-table label (or number) becomes CcuStatus.state'),
        faults: z.array(SignalRef.extend({ name: z.string().optional().describe('Fault name reported (default: the signal name)') })).default([]).describe('Signals that report a fault when non-zero'),
      })
      .strict()
      .describe('Which signals carry the status'),
    poll: z.array(Command).default([]).describe('Request frames sent every pollMs (empty when the controller broadcasts its status)'),
    setLimits: z
      .object({
        message: z.string().min(1).describe('DBC message name'),
        voltageSignal: z.string().min(1).describe('Signal that takes maxVoltageV'),
        currentSignal: z.string().min(1).describe('Signal that takes maxCurrentA'),
        powerSignal: z.string().min(1).optional().describe('Signal that takes maxPowerW, if the controller has one'),
        values: Values,
      })
      .strict()
      .describe('The message that carries the voltage/current (and power) limits'),
    enable: Command.describe('The frame that switches the output on'),
    disable: Command.describe('The frame that switches the output off'),
    emergencyStop: Command.optional().describe('The frame of an emergency stop (default: disable)'),
    offState: z.string().optional().describe('State label that means "output off" (confirms an emergency stop without an ack)'),
    acks: z.record(z.string(), z.string()).default({}).describe('Command message → the reply message that acknowledges it'),
  })
  .strict();

export const CcuCanOptions = z
  .object({
    profile: z.enum(['infypower', 'dbc']).default('infypower').describe('infypower: built-in InfyPower REG/CEG/LRG V1.13; dbc: your DBC file and mapping (dbc:)'),
    infypower: z
      .object({
        controllerAddress: z.number().int().min(0xf0).max(0xf8).default(0xf0).describe('The bench\'s address as controller, 0xF0..0xF8'),
        moduleAddress: z.number().int().min(0).max(0xef).default(0).describe('Module address (or group number with group: true)'),
        group: z.boolean().default(false).describe('Address a group (device 0x0B) instead of one module (0x0A)'),
      })
      .strict()
      .prefault({})
      .describe('profile infypower: addresses'),
    dbc: DbcOptions.optional().describe('profile dbc: the DBC file and how its signals map to the capability'),
    pollMs: z.number().int().min(50).default(1000).describe('Poll interval; InfyPower modules switch off after 10 s without frames'),
    staleAfterMs: z.number().int().positive().default(3000).describe('Status older than this is re-polled before status() answers'),
    ackTimeoutMs: z.number().int().positive().default(500).describe('How long the controller may take to answer a request'),
    can: CanTransportOptions.prefault({}).describe('CAN transport settings'),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.profile === 'dbc' && !o.dbc) ctx.addIssue({ code: 'custom', path: ['dbc'], message: 'profile dbc needs a "dbc:" block (file, status, setLimits, enable, disable)' });
  });
export type CcuCanOptions = z.output<typeof CcuCanOptions>;

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

function loadDbc(file: string, what: string): DbcDatabase {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${what}: cannot read DBC file ${file}: ${errorText(e)}`);
  }
  try {
    return DbcDatabase.parse(text, file);
  } catch (e) {
    if (e instanceof DbcError) throw new ConfigError(`${what}: ${e.message}`);
    throw e;
  }
}

export class CcuCanDriver implements ChargeController {
  readonly profile: CcuProfile;
  private readonly bus: CanTransport;
  private readonly acc: StatusAccumulator = { faults: [] };
  private timer: NodeJS.Timeout | undefined;
  private readonly acks = new Map<string, Waiter[]>();
  private statusWaiters: Waiter[] = [];
  private setpoint: { voltageV: number; currentA: number } | undefined;
  private enabled = false;
  private stops = 0;
  private pollFailures = 0;
  /** status received before this (epoch ms) is not fresh: a command changed the output since */
  private freshAfterMs = 0;
  private opened = false;
  lastError = '';

  constructor(private readonly ctx: DriverContext<CcuCanOptions>) {
    const o = ctx.options;
    const what = `driver ${ctx.name} (CcuCan)`;
    if (o.profile === 'infypower') {
      this.profile = infyPowerProfile(loadDbc(INFYPOWER_DBC, what), o.infypower);
    } else {
      const d = o.dbc as z.output<typeof DbcOptions>;
      const file = path.resolve(ctx.rigDir, d.file);
      this.profile = dbcProfile(loadDbc(file, what), d, `${what} options.dbc`);
    }
    const res = ctx.resources.bus;
    if (!res) throw new ConfigError(`${what}: binding "bus" is missing`);
    try {
      this.bus = createCanTransport(res, o.can, { name: ctx.name, transcript: ctx.transcript, log: (m) => ctx.log('info', m) });
    } catch (e) {
      throw new ConfigError(`${what}: ${errorText(e)}`);
    }
    this.bus.onFrame((f) => this.onFrame(f));
    this.bus.onLink((up, why) => {
      ctx.log(up ? 'info' : 'warn', up ? `CAN link up (reconnects: ${this.bus.reconnects})` : `CAN link down: ${why ?? ''}`);
      if (!up) this.failWaiters(new LinkError(ctx.name, `CAN link down: ${why ?? ''}`));
    });
  }

  async open(signal: AbortSignal): Promise<void> {
    await this.bus.open(signal);
    this.opened = true;
    for (const c of [...this.profile.openRequests, ...this.profile.pollRequests]) await this.sendCommand(c, signal).catch(() => {});
    this.timer = setInterval(() => void this.pollOnce(), this.ctx.options.pollMs);
    this.timer.unref();
  }

  private async pollOnce(): Promise<void> {
    if (!this.bus.isUp) return;
    const signal = AbortSignal.timeout(this.ctx.options.ackTimeoutMs * 2);
    try {
      if (this.acc.ratedMaxVoltageV === undefined) for (const c of this.profile.openRequests) await this.sendCommand(c, signal);
      for (const c of this.profile.pollRequests) await this.sendCommand(c, signal);
    } catch (e) {
      this.pollFailures += 1;
      this.lastError = errorText(e);
    }
  }

  private async sendCommand(cmd: CcuCommand, signal: AbortSignal): Promise<void> {
    const f = canFrame(this.profile.frameFor(cmd));
    await this.bus.send(f, signal);
  }

  /** Sends commands; waits for each one's acknowledgement when the protocol has one. */
  private async command(cmds: readonly CcuCommand[], signal: AbortSignal, what: string): Promise<void> {
    if (!this.opened) throw new LinkError(this.ctx.name, `${what}: the driver is not open`);
    for (const c of cmds) {
      const ack = this.profile.ackFor(c.message);
      const acked = ack ? this.waitFor(this.acks, ack, signal, `${this.profile.label} did not acknowledge ${c.message} (${what}) within ${this.ctx.options.ackTimeoutMs} ms`) : undefined;
      try {
        await this.sendCommand(c, signal);
      } catch (e) {
        acked?.catch(() => {});
        throw e;
      }
      if (acked) await acked;
    }
    this.freshAfterMs = nowMs();
  }

  private waitFor(map: Map<string, Waiter[]>, key: string, signal: AbortSignal, timeoutText: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const list = map.get(key) ?? [];
      map.set(key, list);
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
      };
      const w: Waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      const onAbort = (): void => w.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      const timer = setTimeout(() => w.reject(new LinkError(this.ctx.name, timeoutText)), this.ctx.options.ackTimeoutMs);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      list.push(w);
    });
  }

  private onFrame(f: CanFrame): void {
    const id = this.profile.identify(f);
    if (!id) return;
    if (id.errorCode !== 0) {
      const e = new ProtocolViolation(
        `ccu.${this.ctx.options.profile}.error`,
        `${this.profile.label} answered ${id.message} with ${this.profile.describeError(id.errorCode)}: ${frameText(f)}`,
      );
      this.lastError = e.message;
      for (const w of [...(this.acks.get(id.message) ?? [])]) w.reject(e);
      return;
    }
    let signals;
    try {
      signals = this.profile.db.decodeMessage(id.message, f.data);
    } catch (e) {
      this.lastError = `cannot decode ${frameText(f)} as ${id.message}: ${errorText(e)}`;
      return;
    }
    this.profile.applyStatus(id.message, signals, this.acc, f.tsUs / 1000);
    for (const w of [...(this.acks.get(id.message) ?? [])]) w.resolve();
    if (this.fresh()) for (const w of this.statusWaiters.splice(0)) w.resolve();
  }

  private fresh(): boolean {
    const limit = Math.max(nowMs() - this.ctx.options.staleAfterMs, this.freshAfterMs);
    const values = this.acc.valuesAtMs !== undefined && this.acc.valuesAtMs >= limit;
    const state = !this.profile.hasState || (this.acc.stateAtMs !== undefined && this.acc.stateAtMs >= limit);
    return values && state;
  }

  private current(): CcuStatus {
    const a = this.acc;
    const at = Math.min(a.valuesAtMs ?? 0, this.profile.hasState ? (a.stateAtMs ?? 0) : Infinity);
    return {
      voltageV: a.voltageV ?? 0,
      currentA: a.currentA ?? 0,
      state: a.state ?? 'unknown',
      faults: [...a.faults],
      t: at,
      ...(a.powerW !== undefined ? { powerW: a.powerW } : {}),
      ...(this.setpoint ? { setpoint: { ...this.setpoint } } : {}),
      ...(a.ratedMaxVoltageV !== undefined ? { ratedMaxVoltageV: a.ratedMaxVoltageV } : {}),
      ...(a.ratedMaxCurrentA !== undefined ? { ratedMaxCurrentA: a.ratedMaxCurrentA } : {}),
      ...(a.ratedPowerW !== undefined ? { ratedPowerW: a.ratedPowerW } : {}),
      ageMs: Math.max(0, nowMs() - at),
    };
  }

  async status(signal: AbortSignal): Promise<CcuStatus> {
    if (!this.opened) throw new LinkError(this.ctx.name, 'status: the driver is not open');
    if (this.fresh()) return this.current();
    if (!this.bus.isUp) throw new LinkError(this.ctx.name, `no fresh status: ${this.bus.describe()}`);
    const fresh = new Promise<void>((resolve, reject) => this.statusWaiters.push({ resolve, reject }));
    fresh.catch(() => {});
    for (const c of this.profile.pollRequests) await this.sendCommand(c, signal);
    const timeoutMs = this.ctx.options.ackTimeoutMs;
    const timeout = new Promise<never>((_, reject) => {
      const t = setTimeout(() => reject(new LinkError(this.ctx.name, `${this.profile.label} sent no status within ${timeoutMs} ms of a poll (last values ${this.acc.valuesAtMs ? `${Math.round(nowMs() - this.acc.valuesAtMs)} ms ago` : 'never'})`)), timeoutMs);
      void fresh.then(() => clearTimeout(t), () => clearTimeout(t));
    });
    await abortable(Promise.race([fresh, timeout]), signal);
    return this.current();
  }

  async setLimits(limits: { maxVoltageV: number; maxCurrentA: number; maxPowerW?: number }, signal: AbortSignal): Promise<void> {
    for (const [k, v] of Object.entries(limits)) {
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw new RangeError(`setLimits: ${k} must be a finite number ≥ 0, got ${String(v)}`);
    }
    const cmds = this.profile.setLimits(limits);
    try {
      await this.command(cmds, signal, 'setLimits');
    } catch (e) {
      if (e instanceof DbcError) throw new RangeError(`setLimits: ${e.message}`);
      throw e;
    }
    this.setpoint = { voltageV: limits.maxVoltageV, currentA: limits.maxCurrentA };
  }

  async enable(signal: AbortSignal): Promise<void> {
    await this.command(this.profile.enable(), signal, 'enable');
    this.enabled = true;
  }

  async disable(signal: AbortSignal): Promise<void> {
    await this.command(this.profile.disable(), signal, 'disable');
    this.enabled = false;
  }

  async emergencyStop(): Promise<void> {
    this.stops += 1;
    this.enabled = false;
    this.setpoint = undefined;
    if (!this.opened) return; // nothing was ever switched on through this driver
    if (!this.bus.isUp) throw new LinkError(this.ctx.name, `emergency stop could not be sent: ${this.bus.describe()}`);
    const sentAt = nowMs();
    this.freshAfterMs = sentAt;
    const signal = AbortSignal.timeout(this.ctx.options.ackTimeoutMs * 3);
    // every stop frame goes out at once; acknowledgements are collected afterwards
    const cmds = this.profile.emergencyStop();
    const acks = cmds.flatMap((c) => {
      const ack = this.profile.ackFor(c.message);
      return ack ? [this.waitFor(this.acks, ack, signal, `${this.profile.label} did not acknowledge ${c.message} (emergencyStop) within ${this.ctx.options.ackTimeoutMs} ms`)] : [];
    });
    for (const a of acks) a.catch(() => {});
    try {
      for (const c of cmds) await this.sendCommand(c, signal);
    } catch (e) {
      throw e instanceof LinkError ? e : new LinkError(this.ctx.name, `emergency stop could not be sent: ${errorText(e)}`, { cause: e });
    }
    const results = await Promise.allSettled(acks);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return;
    if (failed.reason instanceof ProtocolViolation) throw failed.reason;
    // no acknowledgement: accept a status that shows the output off since the stop was sent
    if (this.bus.isUp) {
      for (const c of this.profile.pollRequests) await this.sendCommand(c, signal).catch(() => {});
      await new Promise((r) => setTimeout(r, Math.min(200, this.ctx.options.ackTimeoutMs)));
      if (this.profile.isOff(this.acc) && (this.acc.stateAtMs ?? 0) >= sentAt) return;
    }
    throw failed.reason instanceof Error ? failed.reason : new LinkError(this.ctx.name, String(failed.reason));
  }

  linkStats(): LinkStats {
    return this.bus.stats();
  }

  async health(signal: AbortSignal): Promise<HealthResult> {
    const reconnects = this.bus.reconnects;
    if (!this.opened) return { ok: false, detail: `${this.profile.label}: not open`, reconnects };
    if (!this.bus.isUp) return { ok: false, detail: `${this.profile.label}: ${this.bus.describe()}`, reconnects };
    try {
      const s = await this.status(signal);
      const faults = s.faults.length ? `, faults: ${s.faults.join(', ')}` : '';
      return { ok: true, detail: `${this.profile.label}: ${s.state}, ${s.voltageV.toFixed(1)} V ${s.currentA.toFixed(1)} A${faults}; ${this.bus.describe()}`, reconnects };
    } catch (e) {
      return { ok: false, detail: `${this.profile.label}: ${errorText(e)}`, reconnects };
    }
  }

  snapshot(): JsonObject {
    const s = this.current();
    return {
      profile: this.ctx.options.profile,
      controller: this.profile.label,
      link: this.bus.link,
      up: this.bus.isUp,
      reconnects: this.bus.reconnects,
      stats: { ...this.bus.stats() },
      status: this.acc.valuesAtMs === undefined ? null : { ...s, ageMs: Math.round(s.ageMs ?? 0) },
      enabled: this.enabled,
      emergencyStops: this.stops,
      pollFailures: this.pollFailures,
      lastError: this.lastError || null,
    };
  }

  private failWaiters(e: Error): void {
    for (const list of this.acks.values()) for (const w of [...list]) w.reject(e);
    for (const w of this.statusWaiters.splice(0)) w.reject(e);
  }

  async close(deadlineMs: number): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.opened = false;
    this.failWaiters(new LinkError(this.ctx.name, 'driver closed'));
    await this.bus.close(deadlineMs);
  }
}

export const CcuCan = defineDriver({
  name: 'CcuCan',
  description: 'Charge controller (CCU / DC power modules) on CAN: InfyPower V1.13 built in, or any DBC with a signal mapping; socketcan, slcan or socketcand.',
  provides: ['ChargeController'],
  bindings: { bus: 'CanInterface' },
  options: CcuCanOptions,
  transcript: { ext: 'candump', mime: 'text/plain' },
  create: (ctx) => new CcuCanDriver(ctx),
});
