// Bit-packed EXI stream reader and writer with the EXI 1.0 built-in datatype encodings used by the
// V2G profile (§7.1): n-bit unsigned integers, unsigned integers in 7-bit groups, signed integers
// (sign bit + magnitude), booleans, binary (length + bytes) and strings as literals (length + 2,
// then one unsigned integer per code point; valuePartitionCapacity = 0, so no string table).
// Bits are MSB first. The reader never reads past the end: it throws BitStreamError with the bit
// offset, and lengths are checked against the remaining input before anything is allocated.
//
//   const w = new BitWriter(); w.writeBits(8, 0x80); w.writeString('abc'); const bytes = w.finish();
//   const r = new BitReader(bytes); r.readBits(8); r.readString() === 'abc';
import { BitStreamError } from './errors.ts';

/** Number of bits needed for values 0..n-1 (n ≥ 1): ceil(log2(n)), 0 for n = 1. */
export function bitsFor(n: number): number {
  let b = 0;
  while (1 << b < n) b++;
  return b;
}

/** Longest unsigned integer the reader accepts for bigint types (7-bit groups): 1024 bits. */
const MAX_BIG_GROUPS = 147;

export class BitReader {
  private readonly buf: Uint8Array;
  /** current bit offset */
  pos: number;
  /** end bit offset */
  readonly end: number;

  constructor(buf: Uint8Array, startBit = 0) {
    this.buf = buf;
    this.pos = startBit;
    this.end = buf.length * 8;
  }

  get remainingBits(): number {
    return this.end - this.pos;
  }

  private eof(n: number, what: string): never {
    throw new BitStreamError(`unexpected end of stream reading ${what} (${n} bits needed, ${this.end - this.pos} left)`, this.pos);
  }

  /** Reads n ≤ 32 bits as an unsigned number, MSB first. */
  readBits(n: number, what = 'bits'): number {
    if (n === 0) return 0;
    let pos = this.pos;
    if (pos + n > this.end) this.eof(n, what);
    let v = 0;
    while (n > 0) {
      const bit = pos & 7;
      const avail = 8 - bit;
      const take = avail < n ? avail : n;
      const bits = (this.buf[pos >>> 3]! >>> (avail - take)) & ((1 << take) - 1);
      v = v * (1 << take) + bits;
      n -= take;
      pos += take;
    }
    this.pos = pos;
    return v;
  }

  readBoolean(): boolean {
    return this.readBits(1, 'boolean') === 1;
  }

  /** EXI unsigned integer as a number; throws beyond 2^53 - 1. */
  readUint(what = 'unsigned integer'): number {
    let result = 0;
    let mult = 1;
    for (let i = 0; ; i++) {
      const b = this.readBits(8, what);
      result += (b & 0x7f) * mult;
      if ((b & 0x80) === 0) break;
      mult *= 128;
      if (i >= 7) throw new BitStreamError(`${what} has more than 8 septets (exceeds 2^53)`, this.pos);
    }
    if (result > Number.MAX_SAFE_INTEGER) throw new BitStreamError(`${what} ${result} exceeds 2^53 - 1`, this.pos);
    return result;
  }

  /** EXI unsigned integer as a bigint (at most 1024 bits). */
  readUintBig(what = 'unsigned integer'): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; ; i++) {
      if (i >= MAX_BIG_GROUPS) throw new BitStreamError(`${what} is longer than 1024 bits`, this.pos);
      const b = this.readBits(8, what);
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  }

  /** EXI integer (sign bit, then magnitude; negative values store -value - 1) as a number. */
  readInt(what = 'integer'): number {
    const neg = this.readBits(1, what) === 1;
    const m = this.readUint(what);
    return neg ? -m - 1 : m;
  }

  readIntBig(what = 'integer'): bigint {
    const neg = this.readBits(1, what) === 1;
    const m = this.readUintBig(what);
    return neg ? -m - 1n : m;
  }

  /** Raw bytes (8 bits each, not aligned). */
  readBytes(n: number, what = 'bytes'): Uint8Array {
    if (n * 8 > this.end - this.pos) this.eof(n * 8, what);
    if ((this.pos & 7) === 0) {
      const start = this.pos >>> 3;
      this.pos += n * 8;
      return this.buf.slice(start, start + n);
    }
    // unaligned: each byte straddles two input bytes
    const out = new Uint8Array(n);
    const k = this.pos & 7;
    let j = this.pos >>> 3;
    const buf = this.buf;
    for (let i = 0; i < n; i++, j++) out[i] = ((buf[j]! << k) | (buf[j + 1]! >>> (8 - k))) & 0xff;
    this.pos += n * 8;
    return out;
  }

  /** EXI binary: unsigned length, then the bytes. */
  readBinary(what = 'binary'): Uint8Array {
    const len = this.readUint(`${what} length`);
    if (len * 8 > this.end - this.pos) throw new BitStreamError(`${what} length ${len} exceeds the remaining ${Math.floor((this.end - this.pos) / 8)} bytes`, this.pos);
    return this.readBytes(len, what);
  }

  /**
   * EXI string literal: unsigned (length + 2), then code points. 0/1 (string-table hits) are
   * errors: the V2G profile has no value table.
   */
  readString(what = 'string'): string {
    const at = this.pos;
    const l = this.readUint(`${what} length`);
    if (l < 2) throw new BitStreamError(`${what}: string-table hit (${l}) but valuePartitionCapacity is 0`, at);
    const len = l - 2;
    if (len * 8 > this.end - this.pos) throw new BitStreamError(`${what} length ${len} exceeds the remaining input`, at);
    let s = '';
    for (let i = 0; i < len; i++) {
      const cp = this.readUint(`${what} character`);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new BitStreamError(`${what}: invalid code point ${cp}`, this.pos);
      s += String.fromCodePoint(cp);
    }
    return s;
  }
}

export class BitWriter {
  private buf: Uint8Array;
  /** current bit offset */
  pos = 0;

  constructor(capacityBytes = 256) {
    this.buf = new Uint8Array(capacityBytes);
  }

  private ensure(bits: number): void {
    const need = (this.pos + bits + 7) >>> 3;
    if (need > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < need) cap *= 2;
      const nb = new Uint8Array(cap);
      nb.set(this.buf);
      this.buf = nb;
    }
  }

  /** Writes the low n ≤ 32 bits of v (0 ≤ v < 2^32), MSB first. */
  writeBits(n: number, v: number): void {
    if (n === 0) return;
    this.ensure(n);
    let pos = this.pos;
    while (n > 0) {
      const bit = pos & 7;
      const avail = 8 - bit;
      const take = avail < n ? avail : n;
      const chunk = (v >>> (n - take)) & ((1 << take) - 1); // v < 2^32: >>> is exact
      this.buf[pos >>> 3]! |= chunk << (avail - take);
      n -= take;
      pos += take;
    }
    this.pos = pos;
  }

  writeBoolean(b: boolean): void {
    this.writeBits(1, b ? 1 : 0);
  }

  writeUint(v: number): void {
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) b |= 0x80;
      this.writeBits(8, b);
    } while (v > 0);
  }

  writeUintBig(v: bigint): void {
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) b |= 0x80;
      this.writeBits(8, b);
    } while (v > 0n);
  }

  writeInt(v: number): void {
    if (v < 0) {
      this.writeBits(1, 1);
      this.writeUint(-v - 1);
    } else {
      this.writeBits(1, 0);
      this.writeUint(v);
    }
  }

  writeIntBig(v: bigint): void {
    if (v < 0n) {
      this.writeBits(1, 1);
      this.writeUintBig(-v - 1n);
    } else {
      this.writeBits(1, 0);
      this.writeUintBig(v);
    }
  }

  writeBytes(b: Uint8Array): void {
    if ((this.pos & 7) === 0) {
      this.ensure(b.length * 8);
      this.buf.set(b, this.pos >>> 3);
      this.pos += b.length * 8;
      return;
    }
    this.ensure(b.length * 8);
    const k = this.pos & 7;
    let j = this.pos >>> 3;
    const buf = this.buf;
    for (let i = 0; i < b.length; i++, j++) {
      const x = b[i]!;
      buf[j]! |= x >>> k;
      buf[j + 1] = (x << (8 - k)) & 0xff;
    }
    this.pos += b.length * 8;
  }

  writeBinary(b: Uint8Array): void {
    this.writeUint(b.length);
    this.writeBytes(b);
  }

  /** String literal: length (in code points) + 2, then each code point. */
  writeString(s: string): void {
    let n = 0;
    for (const _ of s) n++;
    this.writeUint(n + 2);
    for (const ch of s) this.writeUint(ch.codePointAt(0)!);
  }

  /** Pads to a byte boundary with zero bits and returns the bytes. */
  finish(): Uint8Array {
    return this.buf.slice(0, (this.pos + 7) >>> 3);
  }
}

/** Number of code points of a string (EXI string length). */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
