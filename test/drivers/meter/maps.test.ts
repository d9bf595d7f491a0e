// Meter register maps and decoding against the golden bytes of rig-protocols.md §1.1, and the test
// peer's CRC and register images against the same bytes (so the peer is trustworthy as a slave).
import { describe, expect, it } from 'vitest';
import { decodeAscii, decodeRegisters, planBlocks, REGISTER_MAPS, type RegisterDef } from '../../../drivers/meter/maps.ts';
import { meterImage } from '../../../rigs/virtual/meter.ts';
import { crc16, ModbusSlave, withCrc } from '../../../rigs/virtual/modbus-slave.ts';

const words = (hex: string): number[] => (hex.replace(/ /g, '').match(/.{4}/g) ?? []).map((h) => parseInt(h, 16));
const bytes = (hex: string): Buffer => Buffer.from(hex.replace(/ /g, ''), 'hex');

describe('decoding registers', () => {
  it('reads the reference 230.0 V answers of all three meters', () => {
    expect(decodeRegisters(REGISTER_MAPS.sdm630.voltageV[0], words('4366 0000'))).toBe(230);
    expect(decodeRegisters(REGISTER_MAPS['abb-b23'].voltageV[0], words('0000 08FC'))).toBe(230);
    expect(decodeRegisters(REGISTER_MAPS.em340.voltageV[0], words('08FC 0000'))).toBe(230);
  });

  it('applies scales into the unit of the name (Wh, W, A, Hz)', () => {
    expect(decodeRegisters(REGISTER_MAPS.sdm630.importedEnergyWh, words('4499 8000'))).toBe(1228000); // 1228 kWh
    expect(decodeRegisters(REGISTER_MAPS['abb-b23'].importedEnergyWh, words('0000 0000 0001 E240'))).toBe(1234560); // 123456 ×0.01 kWh
    expect(decodeRegisters(REGISTER_MAPS['abb-b23'].powerW, words('FFFF FC18'))).toBe(-10); // −1000 ×0.01 W
    expect(decodeRegisters(REGISTER_MAPS.em340.currentA[0], words('7D00 0000'))).toBe(32); // 32000 mA, low word first
    expect(decodeRegisters(REGISTER_MAPS.em340.importedEnergyWh, words('3039 0000'))).toBe(1234500); // 12345 ×0.1 kWh
    expect(decodeRegisters(REGISTER_MAPS.em340.frequencyHz, words('01F4'))).toBe(50);
    expect(decodeRegisters(REGISTER_MAPS['abb-b23'].frequencyHz, words('1388'))).toBe(50);
  });

  it('maps ABB "not available" patterns to NaN', () => {
    expect(decodeRegisters(REGISTER_MAPS['abb-b23'].voltageV[1], words('FFFF FFFF'))).toBeNaN();
    expect(decodeRegisters(REGISTER_MAPS['abb-b23'].powerW, words('7FFF FFFF'))).toBeNaN();
    expect(decodeRegisters(REGISTER_MAPS['abb-b23'].importedEnergyWh, words('FFFF FFFF FFFF FFFF'))).toBeNaN();
    expect(decodeRegisters(REGISTER_MAPS.sdm630.voltageV[1], words('FFFF FFFF'))).toBeNaN(); // a float NaN stays NaN
  });

  it('reads ASCII serial numbers and refuses a wrong word count', () => {
    expect(decodeAscii(words('4B41 3132 3334 3536 0000 0000 0000'))).toBe('KA123456');
    expect(() => decodeRegisters(REGISTER_MAPS.sdm630.powerW, [1])).toThrow('register 0x34: expected 2 words, got 1');
  });
});

describe('planning reads', () => {
  it('merges adjacent registers into as few transactions as possible', () => {
    const all = (m: (typeof REGISTER_MAPS)[keyof typeof REGISTER_MAPS]): RegisterDef[] => [...m.voltageV, ...m.currentA, m.powerW, m.importedEnergyWh, m.frequencyHz];
    expect(planBlocks(all(REGISTER_MAPS.sdm630))).toEqual([
      { fc: 4, address: 0x0000, count: 12 },
      { fc: 4, address: 0x0034, count: 2 },
      { fc: 4, address: 0x0046, count: 4 },
    ]);
    expect(planBlocks(all(REGISTER_MAPS['abb-b23']))).toEqual([
      { fc: 3, address: 0x5000, count: 4 },
      { fc: 3, address: 0x5b00, count: 6 },
      { fc: 3, address: 0x5b0c, count: 6 },
      { fc: 3, address: 0x5b14, count: 2 },
      { fc: 3, address: 0x5b2c, count: 1 },
    ]);
    expect(planBlocks(all(REGISTER_MAPS.em340))).toEqual([
      { fc: 4, address: 0x0000, count: 6 },
      { fc: 4, address: 0x000c, count: 6 },
      { fc: 4, address: 0x0028, count: 2 },
      { fc: 4, address: 0x0033, count: 3 },
    ]);
  });
});

describe('the Modbus slave peer', () => {
  it('computes the reference CRCs', () => {
    expect(withCrc(bytes('01 04 00 00 00 02'))).toEqual(bytes('01 04 00 00 00 02 71 CB'));
    expect(withCrc(bytes('01 04 00 48 00 02'))).toEqual(bytes('01 04 00 48 00 02 F1 DD'));
    expect(withCrc(bytes('01 03 FC 00 00 02'))).toEqual(bytes('01 03 FC 00 00 02 F4 5B'));
    expect(withCrc(bytes('01 03 5B 00 00 02'))).toEqual(bytes('01 03 5B 00 00 02 D7 2F'));
    expect(withCrc(bytes('01 03 50 00 00 04'))).toEqual(bytes('01 03 50 00 00 04 55 09'));
    expect(crc16(bytes('01 04 04 43 66 00 00'))).toBe(0x1f0e);
  });

  it('answers with the reference response bytes for 230.0 V', () => {
    const v = { voltageV: [230, 230, 230] as [number, number, number], currentA: [0, 0, 0] as [number, number, number], powerW: 0, energyWh: 0, frequencyHz: 50, serial: '1' };
    const pdu = bytes('04 00 00 00 02');
    expect(withCrc(Buffer.concat([Buffer.from([1]), new ModbusSlave(meterImage('sdm630', v)).answer(pdu)]))).toEqual(bytes('01 04 04 43 66 00 00 0E 1F'));
    expect(withCrc(Buffer.concat([Buffer.from([1]), new ModbusSlave(meterImage('abb-b23', v)).answer(bytes('03 5B 00 00 02'))]))).toEqual(bytes('01 03 04 00 00 08 FC FD B2'));
    expect(withCrc(Buffer.concat([Buffer.from([1]), new ModbusSlave(meterImage('em340', v)).answer(pdu)]))).toEqual(bytes('01 04 04 08 FC 00 00 39 D4'));
    expect(new ModbusSlave(meterImage('sdm630', v)).answer(bytes('04 01 00 00 02'))).toEqual(bytes('84 02'));
  });
});
