// What a charge-controller protocol looks like to the CcuCan driver: which frames to poll, how a
// received frame maps to a DBC message, how status signals become a CcuStatus, and which
// messages set limits, switch the output and stop it. Two profiles:
//
//   infypower  built in: InfyPower REG/CEG/LRG V1.13 (29-bit ids with the command and both
//              addresses in the id; payloads from profiles/infypower-v1.13.dbc)
//   dbc        your own DBC file plus a signal mapping in the rig file (fixed ids)
//
// Both decode with DbcDatabase (drivers/ccu/dbc.ts). A profile is pure: no I/O, no timers.
import { ConfigError } from '../../src/runner/errors.ts';
import type { CanFrame, CanFrameInit } from '../can/frame.ts';
import { DbcDatabase, DbcError, type DbcSignalValue, type DecodedSignal } from './dbc.ts';

export interface CcuCommand {
  message: string;
  values: Readonly<Record<string, DbcSignalValue>>;
}

/** What the profile learned from the controller so far. */
export interface StatusAccumulator {
  voltageV?: number;
  currentA?: number;
  powerW?: number;
  state?: string;
  faults: string[];
  /** epoch ms the measured values / the state last arrived */
  valuesAtMs?: number;
  stateAtMs?: number;
  ratedMaxVoltageV?: number;
  ratedMaxCurrentA?: number;
  ratedPowerW?: number;
}

export interface Identified {
  message: string;
  /** a non-zero error code the controller put in its answer (InfyPower: the id's error field) */
  errorCode: number;
}

export interface CcuProfile {
  /** For messages: `InfyPower module 0 (controller 0xF0)`. */
  readonly label: string;
  readonly db: DbcDatabase;
  /** Requests sent every poll interval (they also keep the module's watchdog fed). */
  readonly pollRequests: readonly CcuCommand[];
  /** Requests sent once after open (capabilities). */
  readonly openRequests: readonly CcuCommand[];
  /** true once the status has a state (not only values). */
  readonly hasState: boolean;
  frameFor(cmd: CcuCommand): CanFrameInit;
  identify(frame: CanFrame): Identified | undefined;
  applyStatus(message: string, signals: Readonly<Record<string, DecodedSignal>>, acc: StatusAccumulator, tMs: number): void;
  setLimits(l: { maxVoltageV: number; maxCurrentA: number; maxPowerW?: number }): CcuCommand[];
  enable(): CcuCommand[];
  disable(): CcuCommand[];
  emergencyStop(): CcuCommand[];
  /** The reply message that acknowledges a command message, if the protocol has one. */
  ackFor(message: string): string | undefined;
  /** True when the status says the output is off (emergency stop confirmed). */
  isOff(acc: StatusAccumulator): boolean;
  describeError(code: number): string;
}

// ------------------------------------------------------------------------------------------------
// InfyPower

export const INFY_FAULT_SIGNALS = [
  'OutputShort',
  'DischargeAbnormal',
  'FaultAlarm',
  'ProtectionAlarm',
  'FanFault',
  'OverTemperature',
  'OutputOverVoltage',
  'CommInterrupt',
  'IdRepeat',
  'LoadSharingAlarm',
  'InputPhaseLost',
  'InputUnbalanced',
  'InputUnderVoltage',
  'InputOverVoltage',
] as const;

/** `error<<26 | device<<22 | command<<16 | destination<<8 | source` */
export function infyId(p: { error?: number; device: number; command: number; dst: number; src: number }): number {
  return (((p.error ?? 0) & 7) << 26) | ((p.device & 0xf) << 22) | ((p.command & 0x3f) << 16) | ((p.dst & 0xff) << 8) | (p.src & 0xff);
}

export function parseInfyId(id: number): { error: number; device: number; command: number; dst: number; src: number } {
  return { error: (id >>> 26) & 7, device: (id >>> 22) & 0xf, command: (id >>> 16) & 0x3f, dst: (id >>> 8) & 0xff, src: id & 0xff };
}

const CANON_CONTROLLER = 0xf0;
const CANON_MODULE = 0x00;
const DEVICE_SINGLE = 0x0a;
const DEVICE_GROUP = 0x0b;

export function infyPowerProfile(db: DbcDatabase, o: { controllerAddress: number; moduleAddress: number; group: boolean }): CcuProfile {
  const device = o.group ? DEVICE_GROUP : DEVICE_SINGLE;
  const zero = (message: string): CcuCommand => ({ message, values: {} });
  const label = `InfyPower ${o.group ? 'group' : 'module'} ${o.moduleAddress} (controller 0x${o.controllerAddress.toString(16).toUpperCase()})`;
  return {
    label,
    db,
    pollRequests: [zero('Infy_ReadVI'), zero('Infy_ReadStatus')],
    openRequests: [zero('Infy_ReadCaps')],
    hasState: true,
    frameFor(cmd) {
      const m = db.message(cmd.message);
      const canon = parseInfyId(m.id);
      return { id: infyId({ device, command: canon.command, dst: o.moduleAddress, src: o.controllerAddress }), ext: true, data: db.encode(cmd.message, cmd.values) };
    },
    identify(frame) {
      if (!frame.ext) return undefined;
      const p = parseInfyId(frame.id);
      if (p.dst !== o.controllerAddress) return undefined;
      if (!o.group && p.src !== o.moduleAddress) return undefined;
      const m = db.byId(infyId({ device: DEVICE_SINGLE, command: p.command, dst: CANON_CONTROLLER, src: CANON_MODULE }), true);
      return m ? { message: m.name, errorCode: p.error } : undefined;
    },
    applyStatus(message, s, acc, tMs) {
      if (message === 'Infy_VI') {
        acc.voltageV = s.Voltage?.value ?? 0;
        acc.currentA = s.Current?.value ?? 0;
        acc.powerW = acc.voltageV * acc.currentA;
        acc.valuesAtMs = tMs;
      } else if (message === 'Infy_Status') {
        acc.faults = INFY_FAULT_SIGNALS.filter((n) => (s[n]?.raw ?? 0) !== 0).map((n) => n);
        acc.state = acc.faults.length ? 'fault' : (s.DcSideOff?.raw ?? 0) !== 0 ? 'off' : (s.Sleeping?.raw ?? 0) !== 0 ? 'sleeping' : 'on';
        acc.stateAtMs = tMs;
      } else if (message === 'Infy_Caps') {
        acc.ratedMaxVoltageV = s.MaxVoltage?.value;
        acc.ratedMaxCurrentA = s.MaxCurrent?.value;
        acc.ratedPowerW = s.RatedPower?.value;
      }
    },
    setLimits(l) {
      // the module has no power limit of its own: honour it by lowering the current
      const currentA = l.maxPowerW !== undefined && l.maxVoltageV > 0 ? Math.min(l.maxCurrentA, l.maxPowerW / l.maxVoltageV) : l.maxCurrentA;
      return [{ message: 'Infy_SetVI', values: { Voltage: l.maxVoltageV, Current: Math.floor(currentA * 1000) / 1000 } }];
    },
    enable: () => [{ message: 'Infy_OnOff', values: { OnOff: 'On' } }],
    disable: () => [{ message: 'Infy_OnOff', values: { OnOff: 'Off' } }],
    emergencyStop: (): CcuCommand[] => [
      { message: 'Infy_OnOff', values: { OnOff: 'Off' } },
      { message: 'Infy_SetVI', values: { Voltage: 0, Current: 0 } },
    ],
    ackFor: (m) => (m === 'Infy_SetVI' ? 'Infy_SetVI_Ack' : m === 'Infy_OnOff' ? 'Infy_OnOff_Ack' : undefined),
    isOff: (acc) => acc.state === 'off',
    describeError: (code) => `error code ${code} in the reply id${code === 2 ? ' (command invalid)' : code === 3 ? ' (data invalid)' : code === 7 ? ' (in start processing)' : ''}`,
  };
}

// ------------------------------------------------------------------------------------------------
// Generic DBC mapping

export interface SignalRef {
  message: string;
  signal: string;
}

export interface DbcMapping {
  status: {
    voltageV: SignalRef;
    currentA: SignalRef;
    powerW?: SignalRef | undefined;
    state?: SignalRef | undefined;
    faults: (SignalRef & { name?: string | undefined })[];
  };
  poll: CcuCommand[];
  setLimits: { message: string; voltageSignal: string; currentSignal: string; powerSignal?: string | undefined; values: Record<string, DbcSignalValue> };
  enable: CcuCommand;
  disable: CcuCommand;
  emergencyStop?: CcuCommand | undefined;
  /** state value meaning "output off" (for confirming an emergency stop) */
  offState?: string | undefined;
  acks: Record<string, string>;
}

/** Checks every message and signal the mapping names against the DBC; ConfigError lists all problems. */
export function dbcProfile(db: DbcDatabase, map: DbcMapping, where: string): CcuProfile {
  const problems: string[] = [];
  const check = (what: string, fn: () => unknown): void => {
    try {
      fn();
    } catch (e) {
      problems.push(`${where}: ${what}: ${e instanceof DbcError ? e.message.replace(`${db.source}: `, '') : (e as Error).message}`);
    }
  };
  const refs: [string, SignalRef][] = [
    ['status.voltageV', map.status.voltageV],
    ['status.currentA', map.status.currentA],
    ...(map.status.powerW ? ([['status.powerW', map.status.powerW]] as [string, SignalRef][]) : []),
    ...(map.status.state ? ([['status.state', map.status.state]] as [string, SignalRef][]) : []),
    ...map.status.faults.map((f, i): [string, SignalRef] => [`status.faults[${i}]`, f]),
  ];
  for (const [what, r] of refs) check(what, () => db.signal(r.message, r.signal));
  const commands: [string, CcuCommand][] = [
    ...map.poll.map((c, i): [string, CcuCommand] => [`poll[${i}]`, c]),
    ['enable', map.enable],
    ['disable', map.disable],
    ...(map.emergencyStop ? ([['emergencyStop', map.emergencyStop]] as [string, CcuCommand][]) : []),
  ];
  for (const [what, c] of commands) check(what, () => db.encode(c.message, c.values));
  const sl = map.setLimits;
  check('setLimits', () => db.encode(sl.message, sl.values));
  check('setLimits.voltageSignal', () => db.signal(sl.message, sl.voltageSignal));
  check('setLimits.currentSignal', () => db.signal(sl.message, sl.currentSignal));
  if (sl.powerSignal) check('setLimits.powerSignal', () => db.signal(sl.message, sl.powerSignal as string));
  for (const [cmd, reply] of Object.entries(map.acks)) {
    check(`acks.${cmd}`, () => db.message(cmd));
    check(`acks.${cmd}`, () => db.message(reply));
  }
  if (problems.length) throw new ConfigError(problems.join('\n'));

  const statusMessages = new Set(refs.map(([, r]) => r.message));
  return {
    label: `CCU (${db.source})`,
    db,
    pollRequests: map.poll,
    openRequests: [],
    hasState: map.status.state !== undefined,
    frameFor(cmd) {
      const m = db.message(cmd.message);
      return { id: m.id, ext: m.ext, data: db.encode(cmd.message, cmd.values) };
    },
    identify(frame) {
      const m = db.byId(frame.id, frame.ext);
      return m ? { message: m.name, errorCode: 0 } : undefined;
    },
    applyStatus(message, s, acc, tMs) {
      if (!statusMessages.has(message)) return;
      const st = map.status;
      const val = (r: SignalRef): DecodedSignal | undefined => (r.message === message ? s[r.signal] : undefined);
      const v = val(st.voltageV);
      const c = val(st.currentA);
      if (v) acc.voltageV = v.value;
      if (c) acc.currentA = c.value;
      const p = st.powerW ? val(st.powerW) : undefined;
      if (p) acc.powerW = p.value;
      else if (v || c) acc.powerW = (acc.voltageV ?? 0) * (acc.currentA ?? 0);
      if (v || c || p) acc.valuesAtMs = tMs;
      const state = st.state ? val(st.state) : undefined;
      if (state) {
        acc.state = state.label ?? String(state.value);
        acc.stateAtMs = tMs;
      }
      const touched = st.faults.filter((f) => f.message === message);
      if (touched.length) {
        const active = new Set(acc.faults);
        for (const f of touched) {
          const name = f.name ?? f.signal;
          if ((s[f.signal]?.raw ?? 0) !== 0) active.add(name);
          else active.delete(name);
        }
        acc.faults = [...active];
      }
    },
    setLimits(l) {
      const values: Record<string, DbcSignalValue> = { ...sl.values, [sl.voltageSignal]: l.maxVoltageV, [sl.currentSignal]: l.maxCurrentA };
      if (sl.powerSignal && l.maxPowerW !== undefined) values[sl.powerSignal] = l.maxPowerW;
      return [{ message: sl.message, values }];
    },
    enable: () => [map.enable],
    disable: () => [map.disable],
    emergencyStop: () => [map.emergencyStop ?? map.disable],
    ackFor: (m) => map.acks[m],
    isOff: (acc) => map.offState !== undefined && acc.state === map.offState,
    describeError: (code) => `error code ${code}`,
  };
}
