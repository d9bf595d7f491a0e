// DBC files for CAN payloads: `candied` parses the file (messages, signals, value tables,
// SIG_VALTYPE_ floats, multiplexing); this module checks what candied silently skips and does the
// bit-level encode/decode itself, because candied 2.2's decoder mis-reads big-endian (Motorola)
// signals wider than a byte and ignores float signals — exactly what charger-module protocols use
// (shared/reference/rig-protocols.md §2.7). Extended ids are written in DBC with 0x80000000 set;
// `DbcDatabase` strips that flag into `ext`.
//
//   const db = DbcDatabase.parse(readFileSync(file, 'utf8'), file);
//   const data = db.encode('Infy_SetVI', { Voltage: 400, Current: 50 });      // physical values
//   const { message, signals } = db.decode(frame) ?? {};                        // signals.Voltage.value
//
// Bad input gets a DbcError naming the file, line, message and signal.
import { Dbc } from 'candied';

export type DbcSignalValue = number | string;

export interface DbcSignal {
  name: string;
  startBit: number;
  length: number;
  endian: 'Intel' | 'Motorola';
  signed: boolean;
  factor: number;
  offset: number;
  /** both 0: no range declared */
  min: number;
  max: number;
  unit: string;
  /** integer, or IEEE float of `length` bits (SIG_VALTYPE_ 1 = 32, 2 = 64) */
  valueType: 'integer' | 'float';
  /** value table: raw value → label */
  values: ReadonlyMap<number, string>;
  /** 'M' for the multiplexer, `m<n>` for a signal present when the multiplexer is n */
  multiplex?: string;
}

export interface DbcMessage {
  name: string;
  id: number;
  ext: boolean;
  dlc: number;
  signals: ReadonlyMap<string, DbcSignal>;
  /** name of the multiplexer signal, when the message is multiplexed */
  multiplexer?: string;
}

export interface DecodedSignal {
  /** physical value (raw × factor + offset) */
  value: number;
  raw: number;
  /** value-table label of the raw value, when there is one */
  label?: string;
  unit: string;
}

export class DbcError extends Error {
  override readonly name = 'DbcError';
}

type CandiedData = ReturnType<Dbc['load']>;

export class DbcDatabase {
  private readonly byName = new Map<string, DbcMessage>();
  private readonly byKey = new Map<string, DbcMessage>();

  private constructor(readonly source: string) {}

  /** Parses DBC text; throws DbcError listing every line candied could not read or silently dropped. */
  static parse(text: string, source = 'DBC'): DbcDatabase {
    const normalized = text.replace(/\r\n?/g, '\n');
    const dbc = new Dbc();
    let data: CandiedData;
    try {
      data = dbc.load(normalized);
    } catch (e) {
      throw new DbcError(`${source}: cannot parse DBC: ${(e as Error).message}`);
    }
    const lines = normalized.split('\n');
    const problems: string[] = [];
    for (const [line] of dbc.errors) problems.push(`${source}:${line}: cannot parse ${JSON.stringify((lines[line - 1] ?? '').trim().slice(0, 80))}`);

    const db = new DbcDatabase(source);
    for (const m of data.messages.values()) {
      const ext = m.id >= 0x80000000;
      const id = ext ? m.id - 0x80000000 : m.id;
      const signals = new Map<string, DbcSignal>();
      let multiplexer: string | undefined;
      for (const s of m.signals.values()) {
        const sig: DbcSignal = {
          name: s.name,
          startBit: s.startBit,
          length: s.length,
          endian: s.endian === 'Intel' ? 'Intel' : 'Motorola',
          signed: s.signed,
          factor: s.factor,
          offset: s.offset,
          min: s.min,
          max: s.max,
          unit: s.unit ?? '',
          valueType: s.dataType === 'float' || s.dataType === 'double' ? 'float' : 'integer',
          values: new Map(s.valueTable ?? []),
          ...(s.multiplex ? { multiplex: s.multiplex } : {}),
        };
        if (sig.multiplex === 'M') multiplexer = sig.name;
        const where = `${source}: message ${m.name}, signal ${s.name}`;
        if (sig.valueType === 'float' && sig.length !== 32 && sig.length !== 64) problems.push(`${where}: a float signal must be 32 or 64 bits long`);
        if (sig.length < 1 || sig.length > 64) problems.push(`${where}: length ${sig.length} is not 1..64`);
        else if (!bitPositions(sig, m.dlc)) problems.push(`${where}: bits ${sig.startBit}|${sig.length}@${sig.endian === 'Intel' ? 1 : 0} do not fit in ${m.dlc} bytes`);
        signals.set(s.name, sig);
      }
      const msg: DbcMessage = { name: m.name, id, ext, dlc: m.dlc, signals, ...(multiplexer ? { multiplexer } : {}) };
      db.byName.set(m.name, msg);
      db.byKey.set(key(id, ext), msg);
    }

    // candied drops a malformed SG_ line without an error; find those
    let current: string | undefined;
    lines.forEach((l, i) => {
      const bo = /^BO_\s+\d+\s+(\w+)\s*:/.exec(l);
      if (bo) current = bo[1];
      const sg = /^\s+SG_\s+(\w+)/.exec(l);
      if (sg && current && !db.byName.get(current)?.signals.has(sg[1] as string)) {
        problems.push(`${source}:${i + 1}: cannot parse signal ${JSON.stringify(l.trim().slice(0, 80))}`);
      }
    });
    if (problems.length) throw new DbcError(problems.join('\n'));
    return db;
  }

  messages(): DbcMessage[] {
    return [...this.byName.values()];
  }

  message(name: string): DbcMessage {
    const m = this.byName.get(name);
    if (!m) throw new DbcError(`${this.source}: no message "${name}"; messages: ${[...this.byName.keys()].join(', ') || '(none)'}`);
    return m;
  }

  signal(messageName: string, signalName: string): DbcSignal {
    const m = this.message(messageName);
    const s = m.signals.get(signalName);
    if (!s) throw new DbcError(`${this.source}: message ${messageName} has no signal "${signalName}"; signals: ${[...m.signals.keys()].join(', ')}`);
    return s;
  }

  byId(id: number, ext: boolean): DbcMessage | undefined {
    return this.byKey.get(key(id, ext));
  }

  /**
   * Payload of `messageName` with the given physical values (labels of value tables accepted);
   * unspecified signals are 0. Throws DbcError for unknown signals and values out of range.
   */
  encode(messageName: string, values: Readonly<Record<string, DbcSignalValue>>): Uint8Array {
    const m = this.message(messageName);
    const out = new Uint8Array(m.dlc);
    for (const [name, v] of Object.entries(values)) {
      const s = this.signal(messageName, name);
      const where = `${this.source}: ${messageName}.${name}`;
      let raw: bigint;
      if (typeof v === 'string') {
        const hit = [...s.values].find(([, label]) => label === v);
        if (!hit) throw new DbcError(`${where}: "${v}" is not in its value table (${[...s.values.values()].join(', ') || 'none'})`);
        raw = BigInt(hit[0]);
      } else {
        if (!Number.isFinite(v)) throw new DbcError(`${where}: ${v} is not a finite number`);
        if ((s.min !== 0 || s.max !== 0) && (v < s.min - 1e-9 || v > s.max + 1e-9)) throw new DbcError(`${where}: ${v} ${s.unit} is outside [${s.min}|${s.max}]`);
        const scaled = (v - s.offset) / s.factor;
        if (s.valueType === 'float') raw = floatBits(scaled, s.length);
        else {
          const r = BigInt(Math.round(scaled));
          const lo = s.signed ? -(1n << BigInt(s.length - 1)) : 0n;
          const hi = s.signed ? (1n << BigInt(s.length - 1)) - 1n : (1n << BigInt(s.length)) - 1n;
          if (r < lo || r > hi) throw new DbcError(`${where}: ${v} ${s.unit} needs raw ${r}, which does not fit ${s.length} ${s.signed ? 'signed' : 'unsigned'} bits`);
          raw = r < 0n ? r + (1n << BigInt(s.length)) : r;
        }
      }
      insertBits(out, s, raw);
    }
    return out;
  }

  /** Decodes a payload of a message known by name; multiplexed signals only when selected. */
  decodeMessage(messageName: string, data: Uint8Array): Record<string, DecodedSignal> {
    const m = this.message(messageName);
    if (data.length < m.dlc) throw new DbcError(`${this.source}: ${messageName} needs ${m.dlc} bytes, frame has ${data.length}`);
    const out: Record<string, DecodedSignal> = {};
    const muxSig = m.multiplexer ? m.signals.get(m.multiplexer) : undefined;
    const muxValue = muxSig ? Number(extractBits(data, muxSig)) : undefined;
    for (const s of m.signals.values()) {
      if (s.multiplex && s.multiplex !== 'M' && Number(s.multiplex.slice(1)) !== muxValue) continue;
      const bits = extractBits(data, s);
      let raw: number;
      if (s.valueType === 'float') raw = floatFromBits(bits, s.length);
      else if (s.signed && bits & (1n << BigInt(s.length - 1))) raw = Number(bits - (1n << BigInt(s.length)));
      else raw = Number(bits);
      const label = s.values.get(raw);
      out[s.name] = { value: raw * s.factor + s.offset, raw, unit: s.unit, ...(label !== undefined ? { label } : {}) };
    }
    return out;
  }

  /** Decodes a frame whose id is in the file; undefined for unknown ids. */
  decode(frame: { id: number; ext: boolean; data: Uint8Array }): { message: DbcMessage; signals: Record<string, DecodedSignal> } | undefined {
    const m = this.byId(frame.id, frame.ext);
    if (!m) return undefined;
    return { message: m, signals: this.decodeMessage(m.name, frame.data) };
  }
}

const key = (id: number, ext: boolean): string => `${ext ? 'x' : 's'}${id}`;

/**
 * Payload bit index (byte×8 + bit, bit 0 = LSB) of each signal bit, most significant first.
 * Intel: start bit is the LSB, counting up. Motorola: start bit is the MSB in DBC's sawtooth
 * numbering (7 is the MSB of byte 0), counting down within a byte and on to the next byte's bit 7.
 */
function bitPositions(s: { startBit: number; length: number; endian: 'Intel' | 'Motorola' }, dlc: number): number[] | undefined {
  const pos: number[] = [];
  if (s.endian === 'Intel') {
    for (let i = s.length - 1; i >= 0; i--) pos.push(s.startBit + i);
  } else {
    let p = s.startBit;
    for (let i = 0; i < s.length; i++) {
      pos.push(p);
      p = p % 8 === 0 ? p + 15 : p - 1;
    }
  }
  return pos.every((p) => p >= 0 && p < dlc * 8) ? pos : undefined;
}

function extractBits(data: Uint8Array, s: DbcSignal): bigint {
  const pos = bitPositions(s, data.length) as number[];
  let v = 0n;
  for (const p of pos) v = (v << 1n) | BigInt(((data[p >> 3] as number) >> (p & 7)) & 1);
  return v;
}

function insertBits(out: Uint8Array, s: DbcSignal, raw: bigint): void {
  const pos = bitPositions(s, out.length) as number[];
  pos.forEach((p, i) => {
    const bit = Number((raw >> BigInt(pos.length - 1 - i)) & 1n);
    const byte = p >> 3;
    out[byte] = ((out[byte] as number) & ~(1 << (p & 7))) | (bit << (p & 7));
  });
}

function floatBits(v: number, length: number): bigint {
  const b = Buffer.alloc(8);
  if (length === 32) {
    b.writeFloatBE(v);
    return BigInt(b.readUInt32BE());
  }
  b.writeDoubleBE(v);
  return b.readBigUInt64BE();
}

function floatFromBits(bits: bigint, length: number): number {
  const b = Buffer.alloc(8);
  if (length === 32) {
    b.writeUInt32BE(Number(bits));
    return b.readFloatBE();
  }
  b.writeBigUInt64BE(bits);
  return b.readDoubleBE();
}
