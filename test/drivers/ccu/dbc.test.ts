// DbcDatabase: candied parses, our codec encodes/decodes — checked against the InfyPower golden
// frames (rig-protocols.md §2.2), Intel/Motorola layouts, signed and float signals, value tables,
// multiplexing, and the errors a user sees for a broken DBC or an impossible value.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DbcDatabase } from '../../../drivers/ccu/dbc.ts';
import { INFYPOWER_DBC } from '../../../drivers/ccu/driver.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

describe('the built-in InfyPower DBC', () => {
  const db = DbcDatabase.parse(readFileSync(INFYPOWER_DBC, 'utf8'), 'infy.dbc');

  it('has extended canonical ids for controller 0xF0 and module 0', () => {
    expect(db.message('Infy_SetVI')).toMatchObject({ id: 0x029c00f0, ext: true, dlc: 8 });
    expect(db.message('Infy_VI')).toMatchObject({ id: 0x0283f000, ext: true });
    expect(db.byId(0x029a00f0, true)?.name).toBe('Infy_OnOff');
    expect(db.byId(0x029a00f0, false)).toBeUndefined();
  });

  it('encodes and decodes the golden frames', () => {
    expect(hex(db.encode('Infy_SetVI', { Voltage: 400, Current: 50 }))).toBe('00061A800000C350');
    expect(hex(db.encode('Infy_OnOff', { OnOff: 'On' }))).toBe('0000000000000000');
    expect(hex(db.encode('Infy_OnOff', { OnOff: 'Off' }))).toBe('0100000000000000');
    expect(hex(db.encode('Infy_ReadVI', {}))).toBe('0000000000000000');
    const vi = db.decodeMessage('Infy_VI', bytes('43C8000042480000'));
    expect([vi.Voltage?.value, vi.Current?.value]).toEqual([400, 50]);
    const set = db.decode({ id: 0x029c00f0, ext: true, data: bytes('00061A800000C350') });
    expect(set?.message.name).toBe('Infy_SetVI');
    expect(set?.signals.Voltage).toEqual({ value: 400, raw: 400000, unit: 'V' });
    expect(db.decodeMessage('Infy_OnOff', bytes('0100000000000000')).OnOff).toEqual({ value: 1, raw: 1, unit: '', label: 'Off' });
    const st = db.decodeMessage('Infy_Status', bytes('0000000000801121'));
    const set1 = Object.entries(st).filter(([, v]) => v.raw === 1).map(([k]) => k);
    expect(set1.sort()).toEqual(['DcSideOff', 'DischargeAbnormal', 'OutputShort', 'OverTemperature', 'PfcSideOff'].sort());
    expect(db.decodeMessage('Infy_Caps', bytes('03E800960FA00BB8'))).toMatchObject({ MaxVoltage: { value: 1000 }, MinVoltage: { value: 150 }, MaxCurrent: { value: 400 }, RatedPower: { value: 30000 } });
  });

  it('refuses impossible values with the message and signal named', () => {
    expect(() => db.encode('Infy_SetVI', { Voltage: 1200 })).toThrow('infy.dbc: Infy_SetVI.Voltage: 1200 V is outside [0|1000]');
    expect(() => db.encode('Infy_SetVI', { Volts: 1 })).toThrow('infy.dbc: message Infy_SetVI has no signal "Volts"; signals: Voltage, Current');
    expect(() => db.encode('Infy_OnOff', { OnOff: 'Maybe' })).toThrow('"Maybe" is not in its value table (On, Off)');
    expect(() => db.encode('Nope', {})).toThrow('no message "Nope"; messages: Infy_SetVI,');
    expect(() => db.encode('Infy_SetVI', { Voltage: Number.NaN })).toThrow('NaN is not a finite number');
  });
});

const CUSTOM = `VERSION ""

NS_ :

BS_:

BU_: BENCH CCU

BO_ 256 Ccu_Status: 8 CCU
 SG_ Voltage : 0|16@1+ (0.1,0) [0|0] "V" BENCH
 SG_ Current : 16|16@1- (0.1,0) [0|0] "A" BENCH
 SG_ State : 32|4@1+ (1,0) [0|0] "" BENCH
 SG_ OverTemp : 36|1@1+ (1,0) [0|0] "" BENCH
 SG_ Temp : 47|8@0- (1,-40) [0|0] "degC" BENCH

BO_ 2147484161 Ccu_Mux: 8 CCU
 SG_ Reg M : 23|16@0+ (1,0) [0|0] "" BENCH
 SG_ Vout m1 : 39|32@0+ (1,0) [0|0] "V" BENCH
 SG_ Iout m2 : 39|32@0+ (1,0) [0|0] "A" BENCH

BO_ 300 Wide: 8 CCU
 SG_ Counter : 0|64@1+ (1,0) [0|0] "" BENCH

VAL_ 256 State 0 "Off" 1 "Precharge" 2 "On" 3 "Fault" ;
SIG_VALTYPE_ 2147484161 Vout : 1;
SIG_VALTYPE_ 2147484161 Iout : 1;
`;

describe('DbcDatabase on a hand-written DBC', () => {
  const db = DbcDatabase.parse(CUSTOM.replace(/\n/g, '\r\n'), 'custom.dbc');

  it('handles Intel signed, Motorola offsets, value tables and 64-bit signals', () => {
    const data = db.encode('Ccu_Status', { Voltage: 401.2, Current: -12.5, State: 'On', OverTemp: 1, Temp: 25 });
    expect(hex(data)).toBe('AC0F83FF12410000');
    const s = db.decodeMessage('Ccu_Status', data);
    expect(s.Voltage?.value).toBeCloseTo(401.2, 6);
    expect(s.Current?.value).toBeCloseTo(-12.5, 6);
    expect(s.State).toMatchObject({ raw: 2, label: 'On' });
    expect(s.OverTemp?.raw).toBe(1);
    expect(s.Temp?.value).toBe(25);
    expect(hex(db.encode('Wide', { Counter: 2 ** 53 }))).toBe('0000000000002000');
  });

  it('decodes only the multiplexed signals the selector picks', () => {
    const id = db.message('Ccu_Mux');
    expect(id).toMatchObject({ id: 0x201, ext: true, multiplexer: 'Reg' });
    const v = db.decodeMessage('Ccu_Mux', bytes('41F000014 3C80000'.replace(' ', '')));
    expect(Object.keys(v)).toEqual(['Reg', 'Vout']);
    expect(v.Vout?.value).toBe(400);
    const i = db.decodeMessage('Ccu_Mux', bytes('41F0000242480000'));
    expect(Object.keys(i)).toEqual(['Reg', 'Iout']);
    expect(i.Iout?.value).toBe(50);
  });

  it('reports unreadable lines, including signals candied drops silently', () => {
    const broken = CUSTOM.replace(' SG_ OverTemp : 36|1@1+', ' SG_ OverTemp : 3x|1@1+').replace('BO_ 300 Wide: 8 CCU', 'BO_ x Wide: 8 CCU');
    let err: Error | undefined;
    try {
      DbcDatabase.parse(broken, 'bad.dbc');
    } catch (e) {
      err = e as Error;
    }
    expect(err?.name).toBe('DbcError');
    expect(err?.message).toContain('bad.dbc:21: cannot parse "BO_ x Wide: 8 CCU"');
    expect(err?.message).toContain('bad.dbc:13: cannot parse signal "SG_ OverTemp : 3x|1@1+ (1,0) [0|0] \\"\\" BENCH"');
  });

  it('reports signals that do not fit the message', () => {
    expect(() => DbcDatabase.parse('BO_ 1 M: 2 A\n SG_ s : 7|32@0+ (1,0) [0|0] "" B\n', 'small.dbc')).toThrow('small.dbc: message M, signal s: bits 7|32@0 do not fit in 2 bytes');
  });
});
