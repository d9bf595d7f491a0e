// Bit stream and EXI datatype encodings (src/exi/bits.ts): known byte patterns from EXI 1.0 §7.1,
// round trips of random values, and bounded failures on truncated input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BitReader, BitWriter, bitsFor } from '../../src/exi/bits.ts';
import { BitStreamError } from '../../src/exi/errors.ts';
import { toHex } from '../../src/exi/json.ts';

const bytes = (f: (w: BitWriter) => void): string => {
  const w = new BitWriter(1);
  f(w);
  return toHex(w.finish());
};

describe('bitsFor', () => {
  it('is ceil(log2(n))', () => {
    expect([1, 2, 3, 4, 5, 8, 9, 36, 37, 81, 245, 246, 257].map(bitsFor)).toEqual([0, 1, 2, 2, 3, 3, 4, 6, 6, 7, 8, 8, 9]);
  });
});

describe('BitWriter', () => {
  it('packs bits MSB first across byte boundaries', () => {
    expect(bytes((w) => w.writeBits(8, 0x80))).toBe('80');
    // 7-bit code 76 then 1 bit 0: the start of every ISO 15118-2 document
    expect(bytes((w) => (w.writeBits(8, 0x80), w.writeBits(7, 76), w.writeBits(1, 0)))).toBe('8098');
    expect(bytes((w) => (w.writeBits(3, 5), w.writeBits(9, 0x1ff), w.writeBits(4, 0)))).toBe('BFF0');
    expect(bytes((w) => w.writeBits(32, 0xdeadbeef))).toBe('DEADBEEF');
    expect(bytes((w) => (w.writeBits(1, 1), w.writeBits(32, 0xffffffff)))).toBe('FFFFFFFF80');
  });

  it('writes unsigned integers in little-endian 7-bit groups', () => {
    expect(bytes((w) => w.writeUint(0))).toBe('00');
    expect(bytes((w) => w.writeUint(127))).toBe('7F');
    expect(bytes((w) => w.writeUint(128))).toBe('8001');
    expect(bytes((w) => w.writeUint(86400))).toBe('80A305');
    expect(bytes((w) => w.writeUintBig(2n ** 64n - 1n))).toBe('FFFFFFFFFFFFFFFFFF01');
  });

  it('writes signed integers as sign bit + magnitude (negative: -v - 1)', () => {
    expect(bytes((w) => w.writeInt(0))).toBe('0000');
    expect(bytes((w) => w.writeInt(-1))).toBe('8000'); // sign 1, magnitude 0 (9 bits)
    // sign 1, then 32767 = FF FF 01, all shifted by one bit
    expect(bytes((w) => w.writeInt(-32768))).toBe('FFFF8080');
    expect(bytes((w) => w.writeInt(100))).toBe('3200');
  });

  it('writes strings as literals: length + 2, then code points', () => {
    expect(bytes((w) => w.writeString(''))).toBe('02');
    expect(bytes((w) => w.writeString('ID1'))).toBe('05494431');
    // code points, not UTF-16 units: U+1F600 is one character
    expect(bytes((w) => w.writeString('\u{1F600}'))).toBe('0380EC07');
  });

  it('writes binary as length + bytes, also unaligned', () => {
    expect(bytes((w) => w.writeBinary(Uint8Array.of(1, 2, 3)))).toBe('03010203');
    expect(bytes((w) => (w.writeBits(1, 1), w.writeBinary(Uint8Array.of(0xff))))).toBe('80FF80');
  });
});

describe('BitReader', () => {
  it('reads back what the writer wrote (random mixes of datatypes)', () => {
    type Op = { k: 'bits'; n: number; v: number } | { k: 'uint'; v: number } | { k: 'int'; v: number } | { k: 'big'; v: bigint } | { k: 'str'; v: string } | { k: 'bin'; v: Uint8Array };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.integer({ min: 1, max: 32 }).chain((n) => fc.integer({ min: 0, max: 2 ** n - 1 }).map((v) => ({ k: 'bits' as const, n, v }))),
      fc.maxSafeNat().map((v) => ({ k: 'uint' as const, v })),
      fc.maxSafeInteger().map((v) => ({ k: 'int' as const, v: Math.max(v, -Number.MAX_SAFE_INTEGER + 1) })),
      fc.bigInt({ min: -(2n ** 160n), max: 2n ** 160n }).map((v) => ({ k: 'big' as const, v })),
      fc.string({ unit: 'grapheme', maxLength: 20 }).map((v) => ({ k: 'str' as const, v })),
      fc.uint8Array({ maxLength: 40 }).map((v) => ({ k: 'bin' as const, v })),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const w = new BitWriter(4);
        for (const o of ops) {
          if (o.k === 'bits') w.writeBits(o.n, o.v);
          else if (o.k === 'uint') w.writeUint(o.v);
          else if (o.k === 'int') w.writeInt(o.v);
          else if (o.k === 'big') w.writeIntBig(o.v);
          else if (o.k === 'str') w.writeString(o.v);
          else w.writeBinary(o.v);
        }
        const r = new BitReader(w.finish());
        for (const o of ops) {
          if (o.k === 'bits') expect(r.readBits(o.n)).toBe(o.v);
          else if (o.k === 'uint') expect(r.readUint()).toBe(o.v);
          else if (o.k === 'int') expect(r.readInt()).toBe(o.v);
          else if (o.k === 'big') expect(r.readIntBig()).toBe(o.v);
          else if (o.k === 'str') expect(r.readString()).toBe(o.v);
          else expect(r.readBinary()).toEqual(o.v);
        }
        expect(r.remainingBits).toBeLessThan(8);
      }),
      { numRuns: 300 },
    );
  });

  it('fails at the exact bit offset when the input ends', () => {
    const r = new BitReader(Uint8Array.of(0xff, 0xff));
    r.readBits(3);
    expect(() => r.readBits(14)).toThrow(BitStreamError);
    try {
      r.readBits(14, 'event code');
    } catch (e) {
      expect((e as BitStreamError).bitOffset).toBe(3);
      expect((e as Error).message).toContain('event code');
    }
    // a never-ending unsigned integer (all continuation bits) stops at the 8th septet
    expect(() => new BitReader(new Uint8Array(100).fill(0xff)).readUint()).toThrow(/more than 8 septets/);
    expect(() => new BitReader(new Uint8Array(400).fill(0xff)).readUintBig()).toThrow(/longer than 1024 bits/);
  });

  it('checks string and binary lengths against the remaining input before allocating', () => {
    const w = new BitWriter();
    w.writeUint(1_000_000_000);
    const b = w.finish();
    expect(() => new BitReader(b).readBinary()).toThrow(/exceeds the remaining/);
    expect(() => new BitReader(b).readString()).toThrow(/exceeds the remaining/);
    // 0 and 1 would be string-table hits: impossible with valuePartitionCapacity 0
    expect(() => new BitReader(Uint8Array.of(0x01)).readString()).toThrow(/string-table hit/);
    // an invalid code point
    const w2 = new BitWriter();
    w2.writeUint(3);
    w2.writeUint(0xd800);
    expect(() => new BitReader(w2.finish()).readString()).toThrow(/invalid code point/);
  });
});
