// Register maps of the supported energy meters, as data (shared/reference/rig-protocols.md §1):
// for each quantity the function code, PDU address, register type, word order, and the scale that
// turns the raw number into the unit in the quantity's name (V, A, W, Wh, Hz). Adding a meter is
// adding an entry here; the driver and the block planner need no change.
//
//   REGISTER_MAPS.sdm630.importedEnergyWh   // { fc: 4, address: 0x48, type: 'f32', order: 'ABCD', scale: 1000 }
//
// Word order names: ABCD = high word first (Eastron, ABB); CDAB = low word first (Carlo Gavazzi).

export type RegisterType = 'f32' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'ascii';
export type WordOrder = 'ABCD' | 'CDAB';

export interface RegisterDef {
  /** 3 read holding registers, 4 read input registers */
  fc: 3 | 4;
  /** PDU address (0-based, what goes on the wire) */
  address: number;
  type: RegisterType;
  /** registers the value spans (ascii: its length; numbers: from the type) */
  words?: number;
  order: WordOrder;
  /** raw × scale = value in the quantity's unit */
  scale: number;
  /** ABB: all ones (unsigned) / max positive (signed) means "not available" */
  invalidAllOnes?: boolean;
}

export interface RegisterMap {
  name: string;
  description: string;
  voltageV: readonly [RegisterDef, RegisterDef, RegisterDef];
  currentA: readonly [RegisterDef, RegisterDef, RegisterDef];
  powerW: RegisterDef;
  importedEnergyWh: RegisterDef;
  frequencyHz: RegisterDef;
  /** decimal: a number printed in base 10; ascii: characters, NULs and spaces trimmed */
  serial: RegisterDef & { format: 'decimal' | 'ascii' };
}

export const TYPE_WORDS: Readonly<Record<Exclude<RegisterType, 'ascii'>, number>> = { f32: 2, u16: 1, i16: 1, u32: 2, i32: 2, u64: 4, i64: 4 };

export function wordsOf(r: RegisterDef): number {
  return r.type === 'ascii' ? (r.words ?? 1) : TYPE_WORDS[r.type];
}

const sdm = (address: number, scale = 1): RegisterDef => ({ fc: 4, address, type: 'f32', order: 'ABCD', scale });
const abb = (address: number, type: RegisterType, scale: number): RegisterDef => ({ fc: 3, address, type, order: 'ABCD', scale, invalidAllOnes: true });
const cg = (address: number, type: RegisterType, scale: number): RegisterDef => ({ fc: 4, address, type, order: 'CDAB', scale });

export const REGISTER_MAPS = {
  /** Eastron SDM630 V2 (and SDM72D-M V2): FC04 float32, energy in kWh. */
  sdm630: {
    name: 'sdm630',
    description: 'Eastron SDM630 V2 / SDM72D-M V2',
    voltageV: [sdm(0x0000), sdm(0x0002), sdm(0x0004)],
    currentA: [sdm(0x0006), sdm(0x0008), sdm(0x000a)],
    powerW: sdm(0x0034),
    frequencyHz: sdm(0x0046),
    importedEnergyWh: sdm(0x0048, 1000),
    serial: { fc: 3, address: 0xfc00, type: 'u32', order: 'ABCD', scale: 1, format: 'decimal' },
  },
  /** ABB B23/B24: FC03 big-endian integers with fixed scaling; all ones = not available. */
  'abb-b23': {
    name: 'abb-b23',
    description: 'ABB B23 / B24',
    voltageV: [abb(0x5b00, 'u32', 0.1), abb(0x5b02, 'u32', 0.1), abb(0x5b04, 'u32', 0.1)],
    currentA: [abb(0x5b0c, 'u32', 0.01), abb(0x5b0e, 'u32', 0.01), abb(0x5b10, 'u32', 0.01)],
    powerW: abb(0x5b14, 'i32', 0.01),
    frequencyHz: abb(0x5b2c, 'u16', 0.01),
    importedEnergyWh: abb(0x5000, 'u64', 10),
    serial: { fc: 3, address: 0x8900, type: 'u32', order: 'ABCD', scale: 1, format: 'decimal' },
  },
  /** Carlo Gavazzi EM340 (EM24/EM330/EM580 "EM" map): FC04 INT32 low word first, fixed weights. */
  em340: {
    name: 'em340',
    description: 'Carlo Gavazzi EM340 (EM24 / EM330 / EM580 map)',
    voltageV: [cg(0x0000, 'i32', 0.1), cg(0x0002, 'i32', 0.1), cg(0x0004, 'i32', 0.1)],
    currentA: [cg(0x000c, 'i32', 0.001), cg(0x000e, 'i32', 0.001), cg(0x0010, 'i32', 0.001)],
    powerW: cg(0x0028, 'i32', 0.1),
    frequencyHz: cg(0x0033, 'i16', 0.1),
    importedEnergyWh: cg(0x0034, 'i32', 100),
    serial: { fc: 4, address: 0x5000, type: 'ascii', words: 7, order: 'ABCD', scale: 1, format: 'ascii' },
  },
} as const satisfies Record<string, RegisterMap>;

export type RegisterMapName = keyof typeof REGISTER_MAPS;
export const REGISTER_MAP_NAMES = Object.keys(REGISTER_MAPS) as [RegisterMapName, ...RegisterMapName[]];

/** Decodes one value from its registers; NaN for an "invalid" pattern. */
export function decodeRegisters(r: RegisterDef, words: readonly number[]): number {
  const n = wordsOf(r);
  if (words.length !== n) throw new RangeError(`register 0x${r.address.toString(16)}: expected ${n} words, got ${words.length}`);
  const ordered = r.order === 'CDAB' ? [...words].reverse() : [...words];
  const b = Buffer.alloc(n * 2);
  ordered.forEach((w, i) => b.writeUInt16BE(w & 0xffff, i * 2));
  let raw: number;
  switch (r.type) {
    case 'f32':
      raw = b.readFloatBE(0);
      break;
    case 'u16':
      if (r.invalidAllOnes && b.readUInt16BE(0) === 0xffff) return Number.NaN;
      raw = b.readUInt16BE(0);
      break;
    case 'i16':
      if (r.invalidAllOnes && b.readInt16BE(0) === 0x7fff) return Number.NaN;
      raw = b.readInt16BE(0);
      break;
    case 'u32':
      if (r.invalidAllOnes && b.readUInt32BE(0) === 0xffffffff) return Number.NaN;
      raw = b.readUInt32BE(0);
      break;
    case 'i32':
      if (r.invalidAllOnes && b.readInt32BE(0) === 0x7fffffff) return Number.NaN;
      raw = b.readInt32BE(0);
      break;
    case 'u64': {
      const v = b.readBigUInt64BE(0);
      if (r.invalidAllOnes && v === 0xffffffffffffffffn) return Number.NaN;
      raw = Number(v);
      break;
    }
    case 'i64': {
      const v = b.readBigInt64BE(0);
      if (r.invalidAllOnes && v === 0x7fffffffffffffffn) return Number.NaN;
      raw = Number(v);
      break;
    }
    case 'ascii':
      throw new TypeError('ascii registers are text: use decodeAscii');
  }
  // avoid binary noise such as 229.99999999999997 from ×0.1
  return Number((raw * r.scale).toPrecision(12));
}

export function decodeAscii(words: readonly number[]): string {
  const b = Buffer.alloc(words.length * 2);
  words.forEach((w, i) => b.writeUInt16BE(w & 0xffff, i * 2));
  return b.toString('latin1').replace(/\0/g, '').trim();
}

export interface ReadBlock {
  fc: 3 | 4;
  address: number;
  count: number;
}

/** Merges registers of the same function code that touch or overlap into reads of ≤ 125 registers. */
export function planBlocks(defs: readonly RegisterDef[]): ReadBlock[] {
  const sorted = [...defs].sort((a, b) => a.fc - b.fc || a.address - b.address);
  const blocks: ReadBlock[] = [];
  for (const d of sorted) {
    const end = d.address + wordsOf(d);
    const last = blocks.at(-1);
    if (last && last.fc === d.fc && d.address <= last.address + last.count && end - last.address <= 125) {
      last.count = Math.max(last.count, end - last.address);
    } else blocks.push({ fc: d.fc, address: d.address, count: wordsOf(d) });
  }
  return blocks;
}
