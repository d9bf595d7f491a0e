// The CAN frame model and the three wire encodings, checked against the golden examples of
// shared/reference/rig-protocols.md §2.2, §3.1–3.3: canFrame validation, candump lines, slcan
// tokens, socketcand elements, the native socketcan message conversion, and throughput maths.
import { describe, expect, it } from 'vitest';
import { formatCandump, formatCandumpError, parseCandump, parseCandumpLine, replayCandump } from '../../../drivers/can/candump.ts';
import { canFrame, frameText, hex, type CanFrame } from '../../../drivers/can/frame.ts';
import { decodeSlcan, encodeSlcan, slcanBitrateCode } from '../../../drivers/can/slcan.ts';
import { decodeSocketcandFrame, ElementParser, encodeSocketcandSend } from '../../../drivers/can/socketcand.ts';
import { fromNativeMessage, toNativeMessage } from '../../../drivers/can/socketcan.ts';
import { throughputBetween } from '../../../drivers/can/transport.ts';

const infySet = (): CanFrame => canFrame({ id: 0x029c00f0, ext: true, data: [0x00, 0x06, 0x1a, 0x80, 0x00, 0x00, 0xc3, 0x50], tsUs: 1_700_000_000_000_000 });

describe('canFrame', () => {
  it('builds data and remote frames', () => {
    const f = infySet();
    expect(f).toMatchObject({ id: 0x029c00f0, ext: true, rtr: false, dlc: 8 });
    expect(frameText(f)).toBe('029C00F0#00061A800000C350');
    const r = canFrame({ id: 0x123, rtr: true, dlc: 4 });
    expect(r).toMatchObject({ rtr: true, dlc: 4 });
    expect(r.data.length).toBe(0);
    expect(frameText(r)).toBe('123#R4');
  });

  it.each([
    [{ id: 0x800 }, /does not fit 11 bits; set ext/],
    [{ id: 0x20000000, ext: true }, /does not fit 29 bits/],
    [{ id: -1 }, /not a non-negative integer/],
    [{ id: 1, data: [1, 2, 3, 4, 5, 6, 7, 8, 9] }, /9 data bytes \(classic CAN carries at most 8\)/],
    [{ id: 1, data: [256] }, /data byte 0 is 256, not 0..255/],
    [{ id: 1, rtr: true, data: [1] }, /remote frame carries no data/],
    [{ id: 1, rtr: true, dlc: 9 }, /DLC 9 is not 0..8/],
    [{ id: 1, data: [1], dlc: 2 }, /DLC 2 but 1 data bytes/],
  ])('rejects %j', (init, msg) => {
    expect(() => canFrame(init)).toThrow(msg);
  });
});

describe('candump log', () => {
  it('writes the reference line format with T/R marks', () => {
    expect(formatCandump(infySet(), 'can0')).toBe('(1700000000.000000) can0 029C00F0#00061A800000C350\n');
    expect(formatCandump(canFrame({ id: 0x123, data: [0xde, 0xad], tsUs: 1_700_000_000_001_234 }), 'vcan0', 'T')).toBe('(1700000000.001234) vcan0 123#DEAD T\n');
    expect(formatCandump(canFrame({ id: 0x123, rtr: true, dlc: 7, tsUs: 5_000_000 }), 'can0', 'R')).toBe('(0000000005.000000) can0 123#R7 R\n');
    expect(formatCandumpError(2_000_000, 'can0', 0x40)).toBe('(0000000002.000000) can0 20000040#0000000000000000\n');
  });

  it('reads back what it writes, and the variants candump produces', () => {
    const text = [
      formatCandump(infySet(), 'can0', 'T').trimEnd(),
      '(1700000000.100000) can0 123#R',
      '(1700000000.200000)  can1 456#11.22.33',
      '(1700000000.300000123) can0 00000001#1122334455667788_E',
      '# a comment',
      '',
      '(1700000000.400000) can0 20000004#0000000000000000',
    ].join('\n');
    const entries = parseCandump(text);
    expect(entries.map((e) => [e.kind, e.iface, frameText(e.frame), e.dir])).toEqual([
      ['frame', 'can0', '029C00F0#00061A800000C350', 'T'],
      ['frame', 'can0', '123#R', undefined],
      ['frame', 'can1', '456#112233', undefined],
      ['frame', 'can0', '00000001#1122334455667788', undefined],
      ['error', 'can0', '00000004#0000000000000000', undefined],
    ]);
    expect(entries[3]?.tsUs).toBe(1_700_000_000_300_000);
  });

  it('names the line of a bad entry', () => {
    expect(() => parseCandump('(1.000000) can0 123#11\n(1.000001) can0 12#11', 'x.log')).toThrow('x.log:2: CAN id "12" must have 3 (standard) or 8 (extended) hex digits');
    expect(() => parseCandumpLine('(1.000000) can0 123##1112233', 'y')).toThrow('y: CAN FD frame (##)');
    expect(() => parseCandumpLine('(1.000000) can0 123#112', 'z')).toThrow('z: data "112" is not an even number of hex digits');
    expect(() => parseCandumpLine('garbage', 'w')).toThrow('w: not a candump log line');
    expect(() => parseCandumpLine('(1.000000) can0 123#112233445566778899', 'v')).toThrow('9 data bytes');
  });

  it('replays frames in order, keeping the original spacing', async () => {
    const entries = parseCandump('(10.000000) can0 001#01 T\n(10.050000) can0 002#02 R\n(10.100000) can0 003#03 T\n');
    const got: [string, number][] = [];
    const t0 = performance.now();
    const sink = { send: async (f: CanFrame) => void got.push([frameText(f), performance.now() - t0]) };
    expect(await replayCandump(entries, sink, { signal: new AbortController().signal, timing: 'original', dir: 'T' })).toBe(2);
    expect(got.map((g) => g[0])).toEqual(['001#01', '003#03']);
    expect(got[1]?.[1]).toBeGreaterThanOrEqual(95);
  });
});

describe('slcan encoding', () => {
  it('matches the reference examples', () => {
    expect(encodeSlcan(infySet())).toBe('T029C00F0800061A800000C350\r');
    expect(encodeSlcan(canFrame({ id: 0x123 }))).toBe('t1230\r');
    expect(encodeSlcan(canFrame({ id: 0x456, data: [0x11, 0x22, 0x33] }))).toBe('t4563112233\r');
    expect(encodeSlcan(canFrame({ id: 0x123, rtr: true }))).toBe('r1230\r');
    expect(encodeSlcan(canFrame({ id: 0x12abcdef, ext: true, rtr: true, dlc: 2 }))).toBe('R12ABCDEF2\r');
    expect(frameText(decodeSlcan('T12ABCDEF2AA55').frame)).toBe('12ABCDEF#AA55');
    expect(frameText(decodeSlcan('t4563112233').frame)).toBe('456#112233');
    expect(decodeSlcan('r1233').frame).toMatchObject({ rtr: true, dlc: 3 });
    expect(decodeSlcan('t1231FF1A2B')).toMatchObject({ deviceMs: 0x1a2b });
    expect(slcanBitrateCode(500000)).toBe(6);
    expect(slcanBitrateCode(800000)).toBe(7);
  });

  it.each([
    ['t12390011', /exactly 18 data digits for DLC 9|DLC of/],
    ['t1232AA', /exactly 4 data digits for DLC 2/],
    ['t12G0', /bad id/],
    ['t1231AA12', /trailing "12"/],
    ['x', /is not a frame/],
  ])('rejects %s', (token, msg) => {
    expect(() => decodeSlcan(token)).toThrow(msg);
  });

  it('refuses a bit rate without S-code', () => {
    expect(() => slcanBitrateCode(83333)).toThrow('slcan: bit rate 83333 has no S-code; use one of 10000, 20000');
  });
});

describe('socketcand encoding', () => {
  it('writes send elements and reads frame elements', () => {
    expect(encodeSocketcandSend(canFrame({ id: 0x1aaaaaaa, ext: true, data: [0x01, 0xf1] }))).toBe('< send 1AAAAAAA 2 01 F1 >');
    expect(encodeSocketcandSend(canFrame({ id: 0x123 }))).toBe('< send 123 0 >');
    expect(() => encodeSocketcandSend(canFrame({ id: 0x123, rtr: true }))).toThrow('socketcand raw mode cannot send remote frame 123#R');
    const f = decodeSocketcandFrame(['frame', '123', '23.424242', '1A220344']);
    expect(frameText(f)).toBe('123#1A220344');
    expect(f.ext).toBe(false);
    expect(decodeSocketcandFrame(['frame', '0283F000', '1.000001', '']).ext).toBe(true);
    expect(() => decodeSocketcandFrame(['frame', '12', '1.0', ''])).toThrow('3 or 8 hex digits');
    expect(() => decodeSocketcandFrame(['frame', '123', 'x', ''])).toThrow('SECONDS.USECONDS');
  });

  it('splits elements at angle brackets, across chunks, without newlines', () => {
    const p = new ElementParser();
    expect(p.push('< hi ><ok>< fra').elements).toEqual([['hi'], ['ok']]);
    expect(p.push('me 123 1.000000 11 >junk< error x >').elements).toEqual([['frame', '123', '1.000000', '11'], ['error', 'x']]);
    expect(p.push('junk<').garbage).toEqual(['junk']);
  });
});

describe('socketcan native message conversion', () => {
  it('converts frames to the addon message and back', () => {
    const f = infySet();
    const m = toNativeMessage(f);
    expect(m).toEqual({ id: 0x029c00f0, ext: true, rtr: false, data: Buffer.from('00061A800000C350', 'hex') });
    const back = fromNativeMessage({ ...m, ts_sec: 1_700_000_000, ts_usec: 5 });
    expect(back.kind).toBe('frame');
    if (back.kind === 'frame') {
      expect(frameText(back.frame)).toBe('029C00F0#00061A800000C350');
      expect(back.frame.tsUs).toBe(1_700_000_000_000_005);
    }
  });

  it('carries an RTR DLC as buffer length and reads error frames apart', () => {
    const r = canFrame({ id: 0x7ff, rtr: true, dlc: 3 });
    expect(toNativeMessage(r).data).toEqual(Buffer.alloc(3));
    const back = fromNativeMessage({ id: 0x7ff, rtr: true, data: Buffer.alloc(3) });
    expect(back.kind === 'frame' && back.frame).toMatchObject({ id: 0x7ff, rtr: true, dlc: 3, ext: false });
    expect(fromNativeMessage({ id: 0x40, err: true, data: Buffer.alloc(8) })).toEqual({ kind: 'error', errorClass: 0x40 });
    expect(() => fromNativeMessage({ id: 1, data: Buffer.alloc(12) })).toThrow('CAN FD is not supported');
  });
});

describe('throughputBetween', () => {
  it('turns two stats samples into a hil_throughput window', () => {
    const a = { link: 'slcan:/dev/x', rxFrames: 10, txFrames: 10, rxBytes: 80, txBytes: 80, errors: 1, dropped: 0, tMs: 1000 };
    const b = { ...a, rxFrames: 1010, txFrames: 1010, rxBytes: 8080, txBytes: 8080, errors: 3, tMs: 3000 };
    expect(throughputBetween(a, b)).toEqual({ link: 'slcan:/dev/x', window: '2.000s', framesPerS: 1000, bytesPerS: 8000, errors: 2, dropped: 0 });
  });
});

it('hex renders upper case', () => {
  expect(hex(Uint8Array.from([0, 0xab]))).toBe('00AB');
});
