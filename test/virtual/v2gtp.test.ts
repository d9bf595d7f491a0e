// V2GTP framing of the virtual rig (rigs/virtual/v2gtp.ts): header bytes, a stream split at every
// possible boundary and several messages in one chunk, and the errors for a bad version, inverse
// version, payload type and length; the PhysicalValueType helpers both ends use.
import { describe, expect, it } from 'vitest';
import { encodeV2gtp, physicalNumber, physicalValue, V2gtpDecoder, V2gtpError } from '../../rigs/virtual/v2gtp.ts';

describe('V2GTP framing', () => {
  it('writes the 8-byte header: 01 FE, payload type, big-endian length', () => {
    const f = encodeV2gtp(Uint8Array.of(0x80, 0x98, 0x02));
    expect(f.toString('hex')).toBe('01fe800100000003809802');
    expect(encodeV2gtp(new Uint8Array(0)).toString('hex')).toBe('01fe800100000000');
  });

  it('reassembles messages split at every byte boundary and several in one chunk', () => {
    const a = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const b = Uint8Array.of(0x80, 0x00);
    const stream = Buffer.concat([encodeV2gtp(a), encodeV2gtp(b), encodeV2gtp(new Uint8Array(0))]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new V2gtpDecoder();
      const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(got.map((m) => Buffer.from(m.payload).toString('hex'))).toEqual([Buffer.from(a).toString('hex'), '8000', '']);
      expect(d.push(encodeV2gtp(b)).map((m) => Buffer.from(m.payload).toString('hex'))).toEqual(['8000']); // nothing left over
    }
    const d = new V2gtpDecoder();
    const out = [];
    for (const byte of stream) out.push(...d.push(Uint8Array.of(byte)));
    expect(out.map((m) => Buffer.from(m.payload).toString('hex'))).toEqual([Buffer.from(a).toString('hex'), '8000', '']);
  });

  it('rejects a wrong version or inverse version, naming the bytes and offset, and stays failed', () => {
    const d = new V2gtpDecoder();
    const good = encodeV2gtp(Uint8Array.of(1, 2, 3));
    expect(d.push(good)).toHaveLength(1);
    const e = (() => {
      try {
        d.push(Uint8Array.of(0x02, 0xfd, 0x80, 0x01, 0, 0, 0, 0));
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(V2gtpError);
    expect((e as V2gtpError).message).toBe('V2GTP header at byte 11: version 02 fd, expected 01 fe');
    expect(() => d.push(good)).toThrow('version 02 fd');
    expect(() => new V2gtpDecoder().push(Uint8Array.of(0x01, 0xff))).toThrow('V2GTP header at byte 0: version 01 ff, expected 01 fe');
  });

  it('rejects an unexpected payload type and a length above the maximum before the payload arrives', () => {
    expect(() => new V2gtpDecoder().push(Buffer.from('01fe900000000002', 'hex'))).toThrow('V2GTP header at byte 0: payload type 0x9000 is not 0x8001 (EXI)');
    expect(() => new V2gtpDecoder({ maxPayloadBytes: 100 }).push(Buffer.from('01fe800100000065', 'hex'))).toThrow('V2GTP header at byte 0: payload length 101 exceeds the maximum of 100 bytes');
    expect(() => new V2gtpDecoder().push(Buffer.from('01fe8001ffffffff', 'hex'))).toThrow('payload length 4294967295 exceeds the maximum of 65536 bytes');
  });
});

describe('PhysicalValueType helpers', () => {
  it('picks the finest multiplier whose Value fits xs:short and converts back', () => {
    expect(physicalValue(400, 'V')).toEqual({ Multiplier: -1, Unit: 'V', Value: 4000 });
    expect(physicalValue(100.5, 'A')).toEqual({ Multiplier: -1, Unit: 'A', Value: 1005 });
    expect(physicalValue(250_000, 'W')).toEqual({ Multiplier: 1, Unit: 'W', Value: 25000 });
    expect(physicalValue(60_000, 'Wh')).toEqual({ Multiplier: 1, Unit: 'Wh', Value: 6000 });
    expect(physicalNumber(physicalValue(1234.56, 'V'))).toBeCloseTo(1234.6, 6);
    expect(physicalNumber({ Multiplier: -3, Value: 10000 })).toBe(10);
    expect(() => physicalValue(1e9, 'W')).toThrow('physical value 1000000000 W does not fit Value (xs:short) with a multiplier up to 10^3');
    expect(() => physicalValue(Number.NaN, 'A')).toThrow('is not a finite number');
  });
});
