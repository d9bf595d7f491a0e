// Energy meters as Modbus register images, and the virtual rig's meter. The images (Eastron SDM630,
// ABB B23, Carlo Gavazzi EM340) are encoded here from the register tables of
// shared/reference/rig-protocols.md §1.2–1.4, independently of the bench driver's register maps, so
// a wrong map in the driver fails its tests. `startMeter` serves a live SDM630 image over Modbus
// TCP and Modbus RTU (a socat pty): every request reads the PowerBus at that instant — L1 voltage
// and current are the DC bus values (L2/L3 0 V / 0 A, frequency 0 Hz: it measures DC), total
// power, and import energy = the bus energy in kWh, so the bench sees energy rise while the EV
// charges.
//
//   const meter = await startMeter({ bus, tcp: { host: '127.0.0.1', port: 0 }, rtu: true, unitId: 1 });
//   meter.tcpPort; meter.rtuPath; meter.snapshot();  await meter.stop();
import { ModbusSlave, type RegisterImage } from './modbus-slave.ts';
import type { PowerBus, PowerSample } from './physics.ts';
import { ptyPair, type PtyPair } from './pty.ts';

export interface MeterValues {
  voltageV: [number, number, number];
  currentA: [number, number, number];
  powerW: number;
  energyWh: number;
  frequencyHz: number;
  serial: string;
}

export type MeterKind = 'sdm630' | 'abb-b23' | 'em340';

const f32 = (v: number): number[] => {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
};
const be32 = (v: number): number[] => {
  const b = Buffer.alloc(4);
  if (v < 0) b.writeInt32BE(v);
  else b.writeUInt32BE(v);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
};
const be64 = (v: bigint): number[] => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return [0, 2, 4, 6].map((o) => b.readUInt16BE(o));
};
const ascii = (s: string, words: number): number[] => {
  const b = Buffer.alloc(words * 2);
  b.write(s.slice(0, words * 2), 'latin1');
  return Array.from({ length: words }, (_, i) => b.readUInt16BE(i * 2));
};

/** The register image of a meter showing `v`; `unavailable` quantities get the "invalid" pattern (ABB). */
export function meterImage(kind: MeterKind, v: MeterValues, unavailable: readonly string[] = []): RegisterImage {
  const img: RegisterImage = new Map([
    [3, new Map()],
    [4, new Map()],
  ]);
  const put = (fc: number, addr: number, words: number[]): void => words.forEach((w, i) => img.get(fc)?.set(addr + i, w));
  if (kind === 'sdm630') {
    v.voltageV.forEach((x, i) => put(4, 0x0000 + 2 * i, f32(x)));
    v.currentA.forEach((x, i) => put(4, 0x0006 + 2 * i, f32(x)));
    v.voltageV.forEach((x, i) => put(4, 0x000c + 2 * i, f32(x * (v.currentA[i] ?? 0)))); // active power per phase
    put(4, 0x0034, f32(v.powerW));
    put(4, 0x003c, f32(0)); // reactive power total
    put(4, 0x0046, f32(v.frequencyHz));
    put(4, 0x0048, f32(v.energyWh / 1000)); // import kWh
    put(4, 0x004a, f32(0)); // export kWh
    put(4, 0x0156, f32(v.energyWh / 1000)); // total kWh (import + export)
    put(3, 0xfc00, be32(Number(v.serial)));
  } else if (kind === 'abb-b23') {
    const u32 = (name: string, x: number): number[] => (unavailable.includes(name) ? [0xffff, 0xffff] : be32(Math.round(x)));
    v.voltageV.forEach((x, i) => put(3, 0x5b00 + 2 * i, u32(`voltageV${i}`, x * 10)));
    v.currentA.forEach((x, i) => put(3, 0x5b0c + 2 * i, u32(`currentA${i}`, x * 100)));
    put(3, 0x5b14, unavailable.includes('powerW') ? [0x7fff, 0xffff] : be32(Math.round(v.powerW * 100)));
    put(3, 0x5b2c, [unavailable.includes('frequencyHz') ? 0xffff : Math.round(v.frequencyHz * 100)]);
    put(3, 0x5000, unavailable.includes('energyWh') ? [0xffff, 0xffff, 0xffff, 0xffff] : be64(BigInt(Math.round(v.energyWh / 10))));
    put(3, 0x8900, be32(Number(v.serial)));
  } else {
    // Carlo Gavazzi: INT32 with the low word first
    const cdab = (x: number): number[] => be32(Math.round(x)).reverse();
    v.voltageV.forEach((x, i) => put(4, 0x0000 + 2 * i, cdab(x * 10)));
    v.currentA.forEach((x, i) => put(4, 0x000c + 2 * i, cdab(x * 1000)));
    put(4, 0x0028, cdab(v.powerW * 10));
    put(4, 0x0033, [Math.round(v.frequencyHz * 10) & 0xffff]);
    put(4, 0x0034, cdab(v.energyWh / 100));
    put(4, 0x5000, ascii(v.serial, 7));
    for (const [a, w] of img.get(4) ?? []) img.get(3)?.set(a, w); // FC03 answered too
  }
  return img;
}

/** What a DC meter on the power path shows for a PowerBus sample: everything on L1, no frequency. */
export function dcMeterValues(s: PowerSample, serialNumber: number): MeterValues {
  return { voltageV: [s.voltageV, 0, 0], currentA: [s.currentA, 0, 0], powerW: s.powerW, energyWh: s.energyWh, frequencyHz: 0, serial: String(serialNumber) };
}

export interface MeterOptions {
  bus: PowerBus;
  /** Modbus TCP listener; port 0 = ephemeral */
  tcp?: { host: string; port: number };
  /** Modbus RTU on a socat pty (the bench opens `rtuPath`) */
  rtu?: boolean;
  /** Modbus unit id, 1…247, default 1 */
  unitId?: number;
  /** register map; only the Eastron SDM630 is simulated */
  map?: 'SDM630';
  /** the serial number in holding register 0xFC00 (u32), default 20260001 */
  serialNumber?: number;
}

export interface RunningMeter {
  tcpPort?: number;
  rtuPath?: string;
  /** the Modbus slave (for tests and fault injection: `slave.faults`) */
  readonly slave: ModbusSlave;
  stop(): Promise<void>;
  snapshot(): Record<string, unknown>;
}

export async function startMeter(o: MeterOptions): Promise<RunningMeter> {
  const map = o.map ?? 'SDM630';
  if (map !== 'SDM630') throw new Error(`startMeter: map must be "SDM630" (the only simulated register map), got "${String(map)}"`);
  if (!o.tcp && !o.rtu) throw new Error('startMeter: give tcp: { host, port } and/or rtu: true, otherwise the bench cannot reach the meter');
  const serialNumber = o.serialNumber ?? 20260001;
  if (!Number.isInteger(serialNumber) || serialNumber < 0 || serialNumber > 0xffffffff) throw new RangeError(`startMeter: serialNumber must fit a u32 register pair, got ${serialNumber}`);
  const unitId = o.unitId ?? 1;
  const slave = new ModbusSlave(() => meterImage('sdm630', dcMeterValues(o.bus.sample(), serialNumber)), unitId);
  slave.keepLog = false;
  let pty: PtyPair | undefined;

  const stop = async (): Promise<void> => {
    await slave.stop();
    await pty?.close();
  };

  try {
    if (o.tcp) await slave.serveTcp(o.tcp.port, o.tcp.host);
    if (o.rtu) {
      pty = await ptyPair();
      await slave.serveRtu(pty.b);
    }
  } catch (e) {
    await stop();
    throw e;
  }

  let stopped: Promise<void> | undefined;
  return {
    ...(o.tcp ? { tcpPort: slave.tcpPort } : {}),
    ...(pty ? { rtuPath: pty.a } : {}),
    slave,
    stop: () => (stopped ??= stop()),
    snapshot: () => {
      const s = o.bus.sample();
      return {
        map,
        unitId,
        serialNumber,
        ...(o.tcp ? { tcp: { host: o.tcp.host, port: slave.tcpPort, connections: slave.tcpConnections } } : {}),
        ...(pty ? { rtu: { path: pty.a } } : {}),
        requestsAnswered: slave.answered,
        voltageV: s.voltageV,
        currentA: s.currentA,
        powerW: s.powerW,
        energyWh: s.energyWh,
      };
    },
  };
}
