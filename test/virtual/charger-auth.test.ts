// PnC authorization (C07) and certificate installation forwarding (M01) of the simulated charger, with a
// fake SECC calling the SeccBackend methods and the real MockCsms deciding: online by hash data (the
// CSMS checks the hash data against its PKI through OCSP — an independent check of the charger's hash
// data), CSMS verdicts passed through, central validation when the issuer is unknown (allowed / not
// allowed / chain without OCSP URL), PnC disabled, the offline rule table (ContractValidationOffline ×
// LocalAuthorizeOffline × local list × cache, expired contracts), Get15118EVCertificate forwarding.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeV2GMessage } from '../../src/exi/index.ts';
import { emaidCheckDigit, generatePki, issueContractCertificate, negativeMaterial, ocspRequestData, type BenchPki, type ContractBundle } from '../../src/pki/index.ts';
import { cleanup, contractChain, CP_ID, der, evInstallRequest, sig, startRig, until, type Rig } from './charger-helpers.ts';

let pki: BenchPki;
let contract: ContractBundle;
beforeAll(() => {
  pki = generatePki({ seed: 'charger-auth', organization: 'PNCBENCH', ocspUrl: 'http://127.0.0.1:1/ocsp' });
  contract = issueContractCertificate(pki, { emaid: pki.emaid });
});
afterEach(cleanup);
afterAll(cleanup);

const noMoRoot = () => ({ v2gRootsDer: [der(pki.cert('v2g-root'))], moRootsDer: [] });
const offline = async (h: Rig) => {
  h.cp.goOffline();
  await until(() => !h.charger.online(), 3_000, 'offline');
};
const change = (h: Rig, key: string, value: string) => h.csms.call(CP_ID, 'ChangeConfiguration', { key, value }, { signal: sig() });

describe('C07 online', () => {
  it('local chain verified → DataTransfer Authorize with idToken eMAID and hash data for leaf, Sub-CA 2, Sub-CA 1; the CSMS accepts it', async () => {
    const h = await startRig(pki);
    await h.booted();
    const [r, call] = await Promise.all([h.charger.authorizeContract(contractChain(contract), sig()), h.cp.expectCall('DataTransfer.Authorize', { timeoutMs: 5_000, signal: sig() })]);
    expect(call.payload).toEqual({
      idToken: { idToken: contract.emaid, type: 'eMAID' },
      iso15118CertificateHashData: [ocspRequestData(contract.cert, pki.cert('mo-sub2')), ocspRequestData(pki.cert('mo-sub2'), pki.cert('mo-sub1')), ocspRequestData(pki.cert('mo-sub1'), pki.cert('mo-root'))],
    });
    expect(r).toEqual({ status: 'Accepted', certificateStatus: 'Accepted', decidedBy: 'csms' });
    expect((await call.answered).inner).toEqual({ idTokenInfo: { status: 'Accepted' }, certificateStatus: 'Accepted' });
    await h.line(new RegExp(`pnc: authorize emaid=${contract.emaid} status=Accepted by=csms certificateStatus=Accepted reason=`));
    h.cp.assertNoViolations();
  });

  it("the CSMS's verdict decides: Blocked; a revoked contract → Invalid / CertificateRevoked", async () => {
    const h = await startRig(pki);
    await h.booted();
    h.cp.respond('DataTransfer.Authorize', { status: 'Blocked' });
    expect(await h.charger.authorizeContract(contractChain(contract), sig())).toMatchObject({ status: 'Blocked', decidedBy: 'csms' });
    const revoked = issueContractCertificate(pki, { emaid: pki.emaid });
    h.csms.ocsp.revoke(revoked.cert, { reason: 'keyCompromise' });
    expect(await h.charger.authorizeContract(contractChain(revoked), sig())).toEqual({ status: 'Invalid', certificateStatus: 'CertificateRevoked', decidedBy: 'csms' });
  });

  it('issuer not found + CentralContractValidationAllowed true → the PEM chain, no hash data; the CSMS validates it', async () => {
    const h = await startRig(pki, { trust: noMoRoot() });
    await h.booted();
    await change(h, 'CentralContractValidationAllowed', 'true');
    const [r, call] = await Promise.all([h.charger.authorizeContract(contractChain(contract), sig()), h.cp.expectCall('DataTransfer.Authorize', { timeoutMs: 5_000, signal: sig() })]);
    expect(call.payload).toEqual({ idToken: { idToken: contract.emaid, type: 'eMAID' }, certificate: contract.chain.map((c) => c.pem).join('') });
    expect(r).toEqual({ status: 'Accepted', certificateStatus: 'Accepted', decidedBy: 'csms' });
    h.cp.assertNoViolations();
  });

  it('issuer not found + central validation not allowed → Invalid, nothing sent; same for a chain without OCSP URL', async () => {
    const h = await startRig(pki, { trust: noMoRoot() });
    await h.booted();
    expect(await h.charger.authorizeContract(contractChain(contract), sig())).toEqual({ status: 'Invalid', decidedBy: 'central-not-allowed' });
    await h.line(/authorize emaid=\S+ status=Invalid by=central-not-allowed reason=".*issuer not found.*CentralContractValidationAllowed is false"/);
    await cleanup();
    const g = await startRig(pki);
    await g.booted();
    const noUrl = negativeMaterial(pki, 'no-ocsp-url');
    const chain = { emaid: noUrl.commonName, certificatesDer: noUrl.chain.map(der) };
    expect(await g.charger.authorizeContract(chain, sig())).toEqual({ status: 'Invalid', decidedBy: 'central-not-allowed' });
    await expect(g.cp.expectCall('DataTransfer.Authorize', { timeoutMs: 400, signal: sig() })).rejects.toThrow(/timeout|within/i);
    await change(g, 'CentralContractValidationAllowed', 'true');
    const [, call] = await Promise.all([g.charger.authorizeContract(chain, sig()), g.cp.expectCall('DataTransfer.Authorize', { timeoutMs: 5_000, signal: sig() })]);
    expect(call.payload.certificate).toBe(noUrl.chainPem);
    expect(call.payload.iso15118CertificateHashData).toBeUndefined();
  });

  it('ISO15118PnCEnabled false → Invalid and nothing sent; Get15118EVCertificate is not forwarded', async () => {
    const h = await startRig(pki, { config: { ISO15118PnCEnabled: 'false' } });
    await h.booted();
    expect(await h.charger.authorizeContract(contractChain(contract), sig())).toEqual({ status: 'Invalid', decidedBy: 'pnc-disabled' });
    const exi = await evInstallRequest(pki, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(await h.charger.exchangeCertificate({ action: 'Install', iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', exiRequest: exi }, sig())).toEqual({ kind: 'none', reason: 'ISO15118PnCEnabled is false' });
    await expect(h.cp.expectCall('DataTransfer', { timeoutMs: 300, signal: sig(), match: (c) => c.pnc !== undefined })).rejects.toThrow();
  });

  it('connector Inoperative → NotAtThisTime without asking the CSMS', async () => {
    const h = await startRig(pki);
    await h.booted();
    await h.csms.call(CP_ID, 'ChangeAvailability', { connectorId: 1, type: 'Inoperative' }, { signal: sig() });
    expect(await h.charger.authorizeContract(contractChain(contract), sig())).toEqual({ status: 'NotAtThisTime', decidedBy: 'unavailable' });
  });
});

describe('C07 offline rules', () => {
  it('ContractValidationOffline false → NotAtThisTime (even for an eMAID in the local list)', async () => {
    const h = await startRig(pki, { config: { ContractValidationOffline: 'false' } });
    await h.booted();
    await h.csms.call(CP_ID, 'SendLocalList', { listVersion: 1, updateType: 'Full', localAuthorizationList: [{ idTag: contract.emaid, idTagInfo: { status: 'Accepted' } }] }, { signal: sig() });
    await offline(h);
    expect(await h.charger.authorizeContract(contractChain(contract), sig())).toEqual({ status: 'NotAtThisTime', decidedBy: 'offline-rule' });
  });

  it('valid contract + LocalAuthorizeOffline: local list → Accepted; cache (after an online Accepted) → Accepted; unknown eMAID → no charging', async () => {
    const h = await startRig(pki);
    await h.booted();
    const listed = issueContractCertificate(pki, { emaid: `DEPNBC00000001${emaidCheckDigit('DEPNBC00000001')}` });
    const cached = contract;
    const unknown = issueContractCertificate(pki, { emaid: `DEPNBC00000002${emaidCheckDigit('DEPNBC00000002')}` });
    await h.csms.call(CP_ID, 'SendLocalList', { listVersion: 1, updateType: 'Full', localAuthorizationList: [{ idTag: listed.emaid, idTagInfo: { status: 'Accepted' } }] }, { signal: sig() });
    expect((await h.charger.authorizeContract(contractChain(cached), sig())).status).toBe('Accepted'); // online: fills the cache
    await offline(h);
    const calls: string[] = [];
    h.csms.on('call', (c) => calls.push(c.action));
    expect(await h.charger.authorizeContract(contractChain(listed), sig())).toEqual({ status: 'Accepted', certificateStatus: 'Accepted', decidedBy: 'local-list' });
    expect(await h.charger.authorizeContract(contractChain(cached), sig())).toEqual({ status: 'Accepted', certificateStatus: 'Accepted', decidedBy: 'cache' });
    expect(await h.charger.authorizeContract(contractChain(unknown), sig())).toEqual({ status: 'Unknown', certificateStatus: 'Accepted', decidedBy: 'offline-rule' });
    expect(calls).toEqual([]);
    await h.line(/authorize emaid=\S+ status=Accepted by=local-list .*reason="offline; eMAID in the local list/);
  });

  it('LocalAuthorizeOffline false → no charging; an expired contract → Expired; a contract under an unknown root → Invalid', async () => {
    const h = await startRig(pki, { config: { LocalAuthorizeOffline: 'false' } });
    await h.booted();
    await offline(h);
    expect(await h.charger.authorizeContract(contractChain(contract), sig())).toEqual({ status: 'Unknown', certificateStatus: 'Accepted', decidedBy: 'offline-rule' });
    const expired = negativeMaterial(pki, 'expired');
    expect(await h.charger.authorizeContract({ emaid: expired.commonName, certificatesDer: expired.chain.map(der) }, sig())).toEqual({ status: 'Expired', certificateStatus: 'CertificateExpired', decidedBy: 'offline-rule' });
    const foreign = negativeMaterial(pki, 'unknown-root');
    expect(await h.charger.authorizeContract({ emaid: foreign.commonName, certificatesDer: foreign.chain.map(der) }, sig())).toMatchObject({ status: 'Invalid', certificateStatus: 'CertChainError' });
  });
});

describe('M01 forwarding and transactions', () => {
  it('Get15118EVCertificate: the CSMS answer is forwarded unchanged (SessionID of the request); outer Rejected → nothing; offline → nothing', async () => {
    const h = await startRig(pki);
    await h.booted();
    const sessionId = Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]);
    const exiRequest = await evInstallRequest(pki, sessionId);
    const r = await h.charger.exchangeCertificate({ action: 'Install', iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', exiRequest }, sig());
    if (r.kind !== 'answer') throw new Error(`expected an answer, got ${r.reason}`);
    expect(r.status).toBe('Accepted');
    const call = await h.cp.expectCall('DataTransfer.Get15118EVCertificate', { timeoutMs: 1_000, signal: sig() });
    expect(call.payload).toEqual({ iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', action: 'Install', exiRequest });
    expect(r.exiResponse).toBe((await call.answered).inner?.exiResponse);
    expect(Buffer.from(decodeV2GMessage(Buffer.from(r.exiResponse, 'base64')).Header.SessionID)).toEqual(Buffer.from(sessionId));
    h.cp.respond('DataTransfer.Get15118EVCertificate', { outerStatus: 'Rejected' });
    expect(await h.charger.exchangeCertificate({ action: 'Install', iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', exiRequest }, sig())).toEqual({ kind: 'none', reason: 'DataTransfer answered Rejected without data' });
    const bad = await h.charger.exchangeCertificate({ action: 'Install', iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', exiRequest: Buffer.from('garbage').toString('base64') }, sig());
    expect(bad).toMatchObject({ kind: 'answer', status: 'Failed' });
    await offline(h);
    expect(await h.charger.exchangeCertificate({ action: 'Install', iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', exiRequest }, sig())).toEqual({ kind: 'none', reason: 'offline' });
  });

  it('the authorization cache takes Start/StopTransaction idTagInfo as PnC Authorize does: a status outside AuthorizationStatus goes in as Unknown', async () => {
    const h = await startRig(pki);
    await h.booted();
    h.cp.respond('StartTransaction', { status: 'Bogus', unchecked: true });
    const expiryDate = '2099-01-01T00:00:00.000Z';
    h.cp.respond('StopTransaction', { payload: { idTagInfo: { status: 'AlsoBogus', expiryDate, benchExtra: 1 } }, unchecked: true });
    await h.charger.startCharging({ idTag: 'RFID-CACHE-1', connectorId: 1 });
    await h.line(/tx: transaction id assigned local=1 transactionId=\d+ idTagInfo=Bogus/);
    expect(h.charger.localAuth.lookupCache('RFID-CACHE-1')).toEqual({ status: 'Unknown' });
    // StopTransactionOnInvalidId: the charger ends it; the StopTransaction answer replaces the entry
    await h.cp.expectCall('StopTransaction', { timeoutMs: 3_000, signal: sig() });
    await until(() => h.charger.localAuth.lookupCache('RFID-CACHE-1')?.expiryDate !== undefined, 3_000, 'StopTransaction idTagInfo cached');
    expect(h.charger.localAuth.lookupCache('RFID-CACHE-1')).toEqual({ status: 'Unknown', expiryDate });
  });

  it('StartTransaction idTag is the eMAID; the regular Authorize is never sent for PnC', async () => {
    const h = await startRig(pki);
    await h.booted();
    const actions: string[] = [];
    h.csms.on('call', (c) => actions.push(c.action));
    expect((await h.charger.authorizeContract(contractChain(contract), sig())).status).toBe('Accepted');
    await h.charger.startCharging({ idTag: contract.emaid, connectorId: 1 });
    const start = await h.cp.expectCall('StartTransaction', { timeoutMs: 3_000, signal: sig() });
    expect(start.payload.idTag).toBe(contract.emaid);
    expect(actions).not.toContain('Authorize');
    expect(actions).toContain('DataTransfer.Authorize');
  });
});
