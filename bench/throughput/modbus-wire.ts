// What the throughput suite can know about a Modbus meter link's traffic beyond readings/s: the
// built-in ModbusMeter driver reports its transaction counters and register map in snapshot(); with
// the map's read plan (drivers/meter/maps.ts planBlocks) the ADU sizes of one reading are exact:
//   TCP: request 12 bytes (MBAP 7 + PDU 5), response 9 + 2·registers
//   RTU: request 8 bytes (address, PDU 5, CRC 2), response 5 + 2·registers
// Another EnergyMeter driver gives `undefined` and the suite records readings without a
// hil_throughput point rather than a guessed one.
import type { JsonObject } from '../../drivers/capabilities.ts';
import { planBlocks, REGISTER_MAPS, type RegisterMap } from '../../drivers/meter/maps.ts';

export interface ModbusWire {
  transport: 'tcp' | 'rtu';
  /** Modbus transactions (request/response pairs) one reading takes */
  transactionsPerReading: number;
  /** bytes on the wire, both directions, of one successful reading */
  bytesPerReading: number;
}

/** From a ModbusMeter snapshot ({ registerMap, link: 'tcp …' | 'rtu …' }), else undefined. */
export function modbusWire(snapshot: JsonObject): ModbusWire | undefined {
  const mapName = snapshot.registerMap;
  const link = snapshot.link;
  if (typeof mapName !== 'string' || typeof link !== 'string' || !Object.hasOwn(REGISTER_MAPS, mapName)) return undefined;
  const transport = /^(tcp|rtu)\b/.exec(link)?.[1] as 'tcp' | 'rtu' | undefined;
  if (!transport) return undefined;
  const m = REGISTER_MAPS[mapName as keyof typeof REGISTER_MAPS] as RegisterMap;
  const blocks = planBlocks([...m.voltageV, ...m.currentA, m.powerW, m.importedEnergyWh, m.frequencyHz]);
  const perBlock = (count: number): number => (transport === 'tcp' ? 12 + 9 + 2 * count : 8 + 5 + 2 * count);
  return { transport, transactionsPerReading: blocks.length, bytesPerReading: blocks.reduce((n, b) => n + perBlock(b.count), 0) };
}

/** A numeric counter of a snapshot (ModbusMeter: transactions, timeouts, crcErrors, …), or undefined. */
export function counter(snapshot: JsonObject, key: string): number | undefined {
  const v = snapshot[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
