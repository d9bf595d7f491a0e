// OCPP-J framing and the schema oracle on their own: every malformed frame shape gets its CALLERROR
// code and a message naming the element; the official 1.6 / 2.0.1 schemas reject what they must (one
// case per code mapping), accept float values that are multiples of 0.1 and, only when asked,
// tolerate zone-less timestamps.
import { describe, expect, it } from 'vitest';
import { callText, errorText, parseFrame, resultText } from '../../src/csms/frames.ts';
import { OcppSchemas } from '../../src/csms/schemas.ts';

describe('parseFrame', () => {
  it('parses the three message types', () => {
    expect(parseFrame(callText('a1', 'Heartbeat', {}))).toMatchObject({ ok: true, frame: { type: 2, uniqueId: 'a1', action: 'Heartbeat', payload: {} } });
    expect(parseFrame(resultText('a1', { currentTime: 'x' }))).toMatchObject({ ok: true, frame: { type: 3, uniqueId: 'a1', payload: { currentTime: 'x' } } });
    expect(parseFrame(errorText('a1', 'GenericError', 'boom', { a: 1 }))).toMatchObject({
      ok: true,
      frame: { type: 4, uniqueId: 'a1', errorCode: 'GenericError', errorDescription: 'boom', errorDetails: { a: 1 } },
    });
  });

  it.each([
    ['{not json', 'FormationViolation', /not valid JSON/, undefined],
    ['[2,"id7",', 'FormationViolation', /not valid JSON/, 'id7'],
    ['{"a":1}', 'FormationViolation', /JSON array, got object/, undefined],
    ['["2","x","Heartbeat",{}]', 'FormationViolation', /message type id\) must be a number/, undefined],
    ['[2,17,"Heartbeat",{}]', 'FormationViolation', /uniqueId\) must be a non-empty string/, undefined],
    [`[2,"${'x'.repeat(37)}","Heartbeat",{}]`, 'FormationViolation', /at most 36/, 'x'.repeat(37)],
    ['[2,"u1","Heartbeat"]', 'ProtocolError', /incomplete: the payload/, 'u1'],
    ['[2,"u1","Heartbeat",{},{}]', 'FormationViolation', /5 elements/, 'u1'],
    ['[2,"u1","Heartbeat",[]]', 'FormationViolation', /payload must be a JSON object, got an array/, 'u1'],
    ['[2,"u1",5,{}]', 'FormationViolation', /action\) must be a non-empty string/, 'u1'],
    ['[3,"u1"]', 'FormationViolation', /CALLRESULT has 2 elements/, 'u1'],
    ['[4,"u1","GenericError","x"]', 'FormationViolation', /CALLERROR has 4 elements/, 'u1'],
    ['[4,"u1","GenericError","x",[]]', 'FormationViolation', /errorDetails/, 'u1'],
  ])('%s -> %s', (text, code, message, uniqueId) => {
    const r = parseFrame(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe(code);
    expect(r.message).toMatch(message);
    expect(r.uniqueId).toBe(uniqueId);
  });

  it('marks unknown message type ids as to be ignored', () => {
    const r = parseFrame('[5,"u1","X",{}]');
    expect(r).toMatchObject({ ok: false, ignore: true, messageType: 5, uniqueId: 'u1' });
  });
});

describe('OcppSchemas', () => {
  const v = OcppSchemas.shared();
  const boot = { chargePointVendor: 'ACME', chargePointModel: 'X1' };

  it('knows the 1.6 core and security actions and the 2.0.1 PnC messages', () => {
    for (const a of ['BootNotification', 'SignCertificate', 'SecurityEventNotification', 'ExtendedTriggerMessage', 'DataTransfer']) expect(v.has16(a)).toBe(true);
    expect(v.has16('Get15118EVCertificate')).toBe(false);
    for (const a of ['Authorize', 'Get15118EVCertificate', 'GetCertificateStatus', 'SignCertificate', 'TriggerMessage']) expect(v.has201(a)).toBe(true);
  });

  it('accepts valid payloads', () => {
    expect(v.validate16('BootNotification', 'req', boot)).toBeNull();
    expect(v.validate16('Heartbeat', 'conf', { currentTime: '2025-01-01T10:00:00Z' })).toBeNull();
  });

  it.each([
    ['maxLength', { ...boot, chargePointVendor: 'x'.repeat(21) }, 'PropertyConstraintViolation', /chargePointVendor must NOT have more than 20 characters/],
    ['additionalProperties', { ...boot, colour: 'red' }, 'PropertyConstraintViolation', /unknown property "colour"/],
    ['required', { chargePointVendor: 'ACME' }, 'OccurenceConstraintViolation', /missing required property "chargePointModel"/],
    ['type', { ...boot, chargePointModel: 12 }, 'TypeConstraintViolation', /chargePointModel must be string/],
  ])('BootNotification %s -> %s', (_k, payload, code, message) => {
    const f = v.validate16('BootNotification', 'req', payload);
    expect(f?.code).toBe(code);
    expect(f?.message).toMatch(message);
  });

  it('names the allowed values of an enum', () => {
    expect(v.validate16('Reset', 'req', { type: 'Warm' })?.message).toMatch(/\/type must be one of "Hard", "Soft"/);
  });

  it('accepts multiples of 0.1 despite floating point (multipleOfPrecision)', () => {
    const profile = {
      connectorId: 1,
      csChargingProfiles: {
        chargingProfileId: 1,
        stackLevel: 0,
        chargingProfilePurpose: 'TxDefaultProfile',
        chargingProfileKind: 'Absolute',
        chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 0.3 }] },
      },
    };
    expect(v.validate16('SetChargingProfile', 'req', profile)).toBeNull();
  });

  it('rejects zone-less timestamps unless lenient, and then says it tolerated them', () => {
    const p = { type: 'StartupOfTheDevice', timestamp: '2025-01-01T10:00:00' };
    expect(v.validate16('SecurityEventNotification', 'req', p)?.code).toBe('PropertyConstraintViolation');
    expect(v.validate16('SecurityEventNotification', 'req', p, { lenientTimestamps: true })).toMatchObject({ tolerated: true });
    expect(v.validate16('SecurityEventNotification', 'req', { ...p, timestamp: 'yesterday' }, { lenientTimestamps: true })?.tolerated).toBeUndefined();
  });

  it('validates PnC inner payloads against 2.0.1 with 2.0.1 code names', () => {
    expect(v.validate201('Authorize', 'req', { idToken: { idToken: 'DEABC123456789Y', type: 'eMAID' } })).toBeNull();
    const f = v.validate201('TriggerMessage', 'req', { requestedMessage: 'SignCertificate' });
    expect(f?.code201).toBe('PropertyConstraintViolation');
    expect(v.validate201('GetInstalledCertificateIds', 'req', { certificateType: [] })?.code201).toBe('OccurrenceConstraintViolation');
    expect(v.validate201('Get15118EVCertificate', 'req', { iso15118SchemaVersion: 'x'.repeat(51), action: 'Install', exiRequest: 'AA==' })?.code201).toBe('FormatViolation');
  });
});
