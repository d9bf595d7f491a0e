// Two places where real chargers deviate from the texts, and the mock CSMS is configurable:
//  - the has·to·be PnC dialect (vendorId `iso15118`, field names 15118CertificateHashData /
//    15118SchemaVersion, no Get15118EVCertificate action) next to the OCA one;
//  - AuthorizationKey length rules (1.6 security: 16–20 bytes, hex in ChangeConfiguration; 2.0.1: 16–40
//    characters; 'any'), and a changed key taking effect for the charger's next connection.
// Chargers are raw WebSockets (so the wire text is exactly what a has·to·be charger sends) and ocpp-rpc
// clients in strict mode.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generatePki, issueContractCertificate, ocspRequestData, type BenchPki, type ContractBundle } from '../../src/pki/index.ts';
import { CsmsUsageError, MockCsms, PNC_VENDOR_ID } from '../../src/csms/index.ts';
import { cleanup, rawCharger, refusedWith, rpcClient, sig, startCsms } from './helpers.ts';

let pki: BenchPki;
let contract: ContractBundle;
beforeAll(() => {
  pki = generatePki({ seed: 'csms-dialects', organization: 'ACME CPO', ocspUrl: 'http://127.0.0.1:1/ocsp' });
  contract = issueContractCertificate(pki, { emaid: pki.emaid });
});
afterEach(cleanup);
afterAll(cleanup);

const hashData = (b: ContractBundle) => [ocspRequestData(b.cert, pki.cert('mo-sub2')), ocspRequestData(pki.cert('mo-sub2'), pki.cert('mo-sub1')), ocspRequestData(pki.cert('mo-sub1'), pki.cert('mo-root'))];
const idToken = { idToken: '', type: 'eMAID' };

describe('has·to·be PnC dialect', () => {
  it('vendorId iso15118 (when routed): 15118CertificateHashData is read as iso15118CertificateHashData and validated through OCSP', async () => {
    const csms = await startCsms({ pki, defaults: { pnc: { vendorIds: [PNC_VENDOR_ID, 'iso15118'] } } });
    const raw = await rawCharger(csms, 'H2B');
    const seen = csms.expectCall('H2B', 'DataTransfer.Authorize', { timeoutMs: 2_000, signal: sig() });
    const data = JSON.stringify({ idToken: { ...idToken, idToken: contract.emaid }, '15118CertificateHashData': hashData(contract) });
    const [type, id, answer] = await raw.call('a1', 'DataTransfer', { vendorId: 'iso15118', messageId: 'Authorize', data });
    expect([type, id]).toEqual([3, 'a1']);
    expect(answer).toMatchObject({ status: 'Accepted' });
    expect(JSON.parse((answer as { data: string }).data)).toEqual({ idTokenInfo: { status: 'Accepted' }, certificateStatus: 'Accepted' });
    const call = await seen;
    expect(call.pnc).toEqual({ vendorId: 'iso15118', messageId: 'Authorize' });
    await call.answered; // the parsed payload is dropped once answered, and rebuilt from the wire text on read
    expect(Object.keys(call.payload)).toEqual(['idToken', 'iso15118CertificateHashData']);
    expect(call.frame.payload.data).toBe(data);
    expect(csms.violations()).toEqual([]);
  });

  it('Get15118EVCertificate without action and with 15118SchemaVersion passes the 2.0.1 check (action from the EXI request)', async () => {
    const csms = await startCsms({ pki, defaults: { pnc: { vendorIds: ['iso15118'] } } });
    const raw = await rawCharger(csms, 'H2B2');
    const seen = csms.expectCall('H2B2', 'DataTransfer.Get15118EVCertificate', { timeoutMs: 2_000, signal: sig() });
    const [, , answer] = await raw.call('g1', 'DataTransfer', { vendorId: 'iso15118', messageId: 'Get15118EVCertificate', data: JSON.stringify({ '15118SchemaVersion': 'urn:iso:15118:2:2013:MsgDef', exiRequest: 'AAAA' }) });
    // routed and handled (not Rejected for the schema): the EXI itself is garbage, so the answer is Failed
    expect(answer).toMatchObject({ status: 'Accepted' });
    expect(JSON.parse((answer as { data: string }).data)).toMatchObject({ status: 'Failed', statusInfo: { reasonCode: 'InvalidExiRequest' } });
    expect((await seen).payload).toEqual({ iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', exiRequest: 'AAAA', action: 'Install' });
  });

  it('the OCA vendorId keeps the 2.0.1 names strictly; iso15118 is an unknown vendor unless routed; dialect off → the old names are schema violations', async () => {
    const csms = await startCsms({ pki, chargers: { OFFD: { pnc: { vendorIds: ['iso15118'], dialects: {} } } } });
    const raw = await rawCharger(csms, 'OCA');
    const data = JSON.stringify({ idToken: { ...idToken, idToken: contract.emaid }, '15118CertificateHashData': hashData(contract) });
    expect(await raw.call('o1', 'DataTransfer', { vendorId: PNC_VENDOR_ID, messageId: 'Authorize', data })).toEqual([3, 'o1', { status: 'Rejected' }]);
    expect(await raw.call('o2', 'DataTransfer', { vendorId: 'iso15118', messageId: 'Authorize', data })).toEqual([3, 'o2', { status: 'UnknownVendorId' }]);
    const off = await rawCharger(csms, 'OFFD');
    expect(await off.call('o3', 'DataTransfer', { vendorId: 'iso15118', messageId: 'Authorize', data })).toEqual([3, 'o3', { status: 'Rejected' }]);
    expect(csms.violations().map((v) => [v.chargePointId, v.rule])).toEqual([
      ['OCA', 'pnc.schema.Authorize.req'],
      ['OFFD', 'pnc.schema.Authorize.req'],
    ]);
  });

  it('rejects an unknown dialect name', () => {
    expect(() => new MockCsms({ defaults: { pnc: { dialects: { iso15118: 'hastobe' as 'has2be' } } } })).toThrow(/pnc\.dialects\.iso15118 must be 'oca' or 'has2be'/);
  });
});

describe('AuthorizationKey length rules', () => {
  it("'ocpp16' (default): a configured key must be 16–20 bytes", () => {
    expect(() => new MockCsms({ defaults: { securityProfile: 1, password: 'short' } })).toThrow(CsmsUsageError);
    expect(() => new MockCsms({ defaults: { securityProfile: 1, password: 'short' } })).toThrow(/password: the AuthorizationKey is 5 bytes; OCPP 1\.6 security needs 16–20 bytes \(set passwordRule: 'any'/);
    expect(() => new MockCsms({ chargers: { X: { passwordHex: '00'.repeat(21) } } })).toThrow(/passwordHex: the AuthorizationKey is 21 bytes/);
    expect(() => new MockCsms({ defaults: { password: 'x'.repeat(20) } })).not.toThrow();
    expect(() => new MockCsms({ defaults: { password: 'x'.repeat(30), passwordRule: 'ocpp201' } })).not.toThrow();
    expect(() => new MockCsms({ defaults: { password: 'x'.repeat(41), passwordRule: 'ocpp201' } })).toThrow(/41 characters; the OCPP 2\.0\.1 rule needs 16–40/);
    expect(() => new MockCsms({ defaults: { password: 'pw', passwordRule: 'any' } })).not.toThrow();
  });

  it('ChangeConfiguration AuthorizationKey: hex of 16–20 bytes is sent; once Accepted the charger must reconnect with the new key', async () => {
    const oldKey = 'the-old-key-16by';
    const newKey = 'OCA_OCTT_admin_test'; // the OCTT's own 19-byte example
    const csms = await startCsms({ chargers: { AK1: { securityProfile: 1, password: oldKey } } });
    const client = await rpcClient(csms, 'AK1', { password: oldKey });
    const asked: unknown[] = [];
    client.handle('ChangeConfiguration', async ({ params }) => {
      asked.push(params);
      return { status: 'Accepted' };
    });
    const cp = csms.chargePoint('AK1');
    await expect(cp.call('ChangeConfiguration', { key: 'AuthorizationKey', value: newKey }, { signal: sig() })).rejects.toThrow(/hex-encoded; the value is not hex/);
    await expect(cp.call('ChangeConfiguration', { key: 'AuthorizationKey', value: 'ab'.repeat(15) }, { signal: sig() })).rejects.toThrow(/15 bytes \(30 hex digits\); OCPP 1\.6 security needs 16–20 bytes/);
    expect(asked).toEqual([]);
    const hex = Buffer.from(newKey).toString('hex');
    expect(await cp.call('ChangeConfiguration', { key: 'AuthorizationKey', value: hex.toUpperCase() }, { signal: sig() })).toEqual({ status: 'Accepted' });
    expect(cp.config.passwordHex).toBe(hex);
    // the old key no longer opens the door; the new one does, as the key or as its hex text
    expect(await refusedWith(rawCharger(csms, 'AK1', { password: oldKey }))).toMatchObject({ status: 401 });
    await rawCharger(csms, 'AK1', { password: newKey });
    await rawCharger(csms, 'AK1', { password: hex });
  });

  it("'ocpp201' sends the text; 'any' takes hex as hex and anything else as text", async () => {
    const csms = await startCsms({ chargers: { AK2: { securityProfile: 1, password: 'x'.repeat(16), passwordRule: 'ocpp201' }, AK3: { securityProfile: 1, password: 'pw', passwordRule: 'any' } } });
    for (const id of ['AK2', 'AK3']) {
      const c = await rpcClient(csms, id, { password: id === 'AK2' ? 'x'.repeat(16) : 'pw' });
      c.handle('ChangeConfiguration', async () => ({ status: 'Accepted' }));
    }
    await expect(csms.call('AK2', 'ChangeConfiguration', { key: 'AuthorizationKey', value: 'too-short' }, { signal: sig() })).rejects.toThrow(/9 characters; the OCPP 2\.0\.1 rule needs 16–40/);
    await csms.call('AK2', 'ChangeConfiguration', { key: 'AuthorizationKey', value: 'a-2.0.1-password-of-30-chars!!' }, { signal: sig() });
    expect(csms.chargePoint('AK2').config).toMatchObject({ password: 'a-2.0.1-password-of-30-chars!!', passwordHex: undefined });
    await csms.call('AK3', 'ChangeConfiguration', { key: 'AuthorizationKey', value: 'abcd' }, { signal: sig() });
    expect(csms.chargePoint('AK3').config).toMatchObject({ passwordHex: 'abcd', password: undefined });
    await csms.call('AK3', 'ChangeConfiguration', { key: 'AuthorizationKey', value: 'plain words' }, { signal: sig() });
    expect(csms.chargePoint('AK3').config).toMatchObject({ password: 'plain words', passwordHex: undefined });
    await rawCharger(csms, 'AK3', { password: 'plain words' });
  });
});
