// Every fault injection of the simulated charger's OCPP side (rigs/virtual/charger/faults.ts) makes the
// misbehaviour it names happen, seen from the real MockCsms (or from what the SECC is handed); the clean
// behaviour of the same step is covered in charger-core / charger-pnc / charger-auth. (That the README
// table names every fault is checked by fault-matrix.test.ts; an unknown name by charger-index.test.ts.)
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeV2GMessage, toJson } from '../../src/exi/index.ts';
import { certificateHashData, generatePki, issueContractCertificate, ocspRequestData, signCsr, type BenchPki, type ContractBundle } from '../../src/pki/index.ts';
import type { FaultName } from '../../rigs/virtual/charger/faults.ts';
import { cleanup, contractChain, CP_ID, der, evInstallRequest, flow, seccChainDer, sig, sleep, startRig, until, type Rig } from './charger-helpers.ts';

let pki: BenchPki;
let foreign: BenchPki;
let contract: ContractBundle;
beforeAll(() => {
  pki = generatePki({ seed: 'charger-faults', organization: 'PNCBENCH', ocspUrl: 'http://127.0.0.1:1/ocsp' });
  foreign = generatePki({ seed: 'charger-faults-foreign', organization: 'PNCBENCH', ocspUrl: 'http://127.0.0.1:1/ocsp' });
  contract = issueContractCertificate(pki, { emaid: pki.emaid });
});
afterEach(cleanup);
afterAll(cleanup);

const booted = async (faults: FaultName[], o: Parameters<typeof startRig>[1] = {}): Promise<Rig> => {
  const h = await startRig(pki, { ...o, faults });
  await h.booted();
  return h;
};
const pnc = (h: Rig, messageId: string, payload: Record<string, unknown>) => h.cp.callAny(messageId, payload as never, { signal: sig(), pnc: true });
const authorizeCall = async (h: Rig) => {
  const [r, call] = await Promise.all([h.charger.authorizeContract(contractChain(contract), sig()), h.cp.expectCall('DataTransfer.Authorize', { timeoutMs: 5_000, signal: sig() })]);
  return { r, call };
};

describe('each fault makes its misbehaviour happen', () => {
  it('regular-authorize-for-pnc: OCPP 1.6 Authorize with idTag = eMAID instead of DataTransfer Authorize', async () => {
    const h = await booted(['regular-authorize-for-pnc']);
    const [r, call] = await Promise.all([h.charger.authorizeContract(contractChain(contract), sig()), h.cp.expectCall('Authorize', { timeoutMs: 5_000, signal: sig() })]);
    expect(call.payload).toEqual({ idTag: contract.emaid });
    expect(r.status).toBe('Accepted');
    await expect(h.cp.expectCall('DataTransfer.Authorize', { timeoutMs: 300, signal: sig() })).rejects.toThrow();
  });

  it('offline-charging-without-validation: offline with ContractValidationOffline false → Accepted', async () => {
    const h = await booted(['offline-charging-without-validation'], { config: { ContractValidationOffline: 'false' } });
    h.cp.goOffline();
    await until(() => !h.charger.online(), 3_000);
    expect(await h.charger.authorizeContract(contractChain(contract), sig())).toMatchObject({ status: 'Accepted', decidedBy: 'offline-rule' });
  });

  it('accept-wrong-chain: CertificateSigned chaining to a foreign V2G root → Accepted and installed', async () => {
    const h = await booted(['accept-wrong-chain'], { seccLeaf: null });
    h.cp.respond('DataTransfer.SignCertificate', { followUp: 'none' });
    await pnc(h, 'TriggerMessage', { requestedMessage: 'SignV2GCertificate' });
    const sc = await h.cp.expectCall('DataTransfer.SignCertificate', { timeoutMs: 5_000, signal: sig() });
    const wrong = await signCsr(foreign, sc.payload.csr as string, { profile: 'secc' });
    if (!wrong.ok) throw new Error(wrong.reason);
    expect((await pnc(h, 'CertificateSigned', { certificateChain: wrong.chainPem })).response).toEqual({ status: 'Accepted' });
    expect(seccChainDer(h.charger)?.[0]).toEqual(der(wrong.cert));
    await expect(h.cp.expectCall('SecurityEventNotification', { timeoutMs: 300, signal: sig() })).rejects.toThrow();
  });

  it('no-backoff: SignCertificate resent after 100 ms although CertSigningWaitMinimum is 30 s', async () => {
    const h = await booted(['no-backoff']);
    h.cp.respond('DataTransfer.SignCertificate', { followUp: 'none' }, { times: Infinity });
    await pnc(h, 'TriggerMessage', { requestedMessage: 'SignV2GCertificate' });
    const a = await h.cp.expectCall('DataTransfer.SignCertificate', { timeoutMs: 5_000, signal: sig() });
    const b = await h.cp.expectCall('DataTransfer.SignCertificate', { timeoutMs: 2_000, signal: sig() });
    const c = await h.cp.expectCall('DataTransfer.SignCertificate', { timeoutMs: 2_000, signal: sig() });
    expect(b.t - a.t).toBeLessThan(500);
    expect(c.t - b.t).toBeLessThan(500);
  });

  it('wrong-vendor-id: PnC messages go out with vendorId org.openchargealliance.iso15118', async () => {
    const h = await booted(['wrong-vendor-id']);
    const [r, call] = await Promise.all([h.charger.authorizeContract(contractChain(contract), sig()), h.cp.expectCall('DataTransfer', { timeoutMs: 5_000, signal: sig() })]);
    expect(call.frame.payload).toMatchObject({ vendorId: 'org.openchargealliance.iso15118', messageId: 'Authorize' });
    expect((await call.answered).payload).toEqual({ status: 'UnknownVendorId' });
    expect(r).toMatchObject({ status: 'Unknown', decidedBy: 'csms-error' });
  });

  it('idtag-not-emaid: StartTransaction idTag is PNC-<first 10 of eMAID>', async () => {
    const h = await booted(['idtag-not-emaid']);
    await h.charger.startCharging({ idTag: contract.emaid, connectorId: 1 });
    const start = await h.cp.expectCall('StartTransaction', { timeoutMs: 3_000, signal: sig() });
    expect(start.payload.idTag).toBe(`PNC-${contract.emaid.slice(0, 10)}`);
  });

  it('delete-last-root: DeleteCertificate of the only V2G root → Accepted and gone', async () => {
    const h = await booted(['delete-last-root']);
    const r = await pnc(h, 'DeleteCertificate', { certificateHashData: certificateHashData(pki.cert('v2g-root'), pki.cert('v2g-root')) });
    expect(r.response).toEqual({ status: 'Accepted' });
    expect(h.charger.certs.v2gRoots).toHaveLength(0);
  });

  it('ocsp-data-missing: Authorize carries only the idToken', async () => {
    const h = await booted(['ocsp-data-missing']);
    const { call } = await authorizeCall(h);
    expect(call.payload).toEqual({ idToken: { idToken: contract.emaid, type: 'eMAID' } });
  });

  it('hash-uppercase: issuerNameHash / issuerKeyHash in upper case', async () => {
    const h = await booted(['hash-uppercase']);
    const { call } = await authorizeCall(h);
    const sent = call.payload.iso15118CertificateHashData as { issuerNameHash: string; issuerKeyHash: string }[];
    const right = ocspRequestData(contract.cert, pki.cert('mo-sub2'));
    expect(sent[0]?.issuerNameHash).toBe(right.issuerNameHash.toUpperCase());
    expect(sent[0]?.issuerKeyHash).toBe(right.issuerKeyHash.toUpperCase());
    expect(sent[0]?.issuerNameHash).not.toBe(right.issuerNameHash);
  });

  it('serial-decimal: serialNumber in decimal', async () => {
    const h = await booted(['serial-decimal']);
    const { call } = await authorizeCall(h);
    const sent = call.payload.iso15118CertificateHashData as { serialNumber: string }[];
    expect(sent[0]?.serialNumber).toBe(BigInt(`0x${contract.cert.serialHex}`).toString(10));
    expect(sent[0]?.serialNumber).not.toBe(contract.cert.serialHex);
  });

  it('session-id-changed: the exiResponse handed to the EV carries another SessionID (body unchanged)', async () => {
    const h = await booted(['session-id-changed']);
    const sessionId = Uint8Array.from([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    const exiRequest = await evInstallRequest(pki, sessionId);
    const r = await h.charger.exchangeCertificate({ action: 'Install', iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', exiRequest }, sig());
    if (r.kind !== 'answer') throw new Error(r.reason);
    const call = await h.cp.expectCall('DataTransfer.Get15118EVCertificate', { timeoutMs: 1_000, signal: sig() });
    const original = decodeV2GMessage(Buffer.from((await call.answered).inner?.exiResponse as string, 'base64'));
    const forwarded = decodeV2GMessage(Buffer.from(r.exiResponse, 'base64'));
    expect(Buffer.from(original.Header.SessionID)).toEqual(Buffer.from(sessionId));
    expect(Buffer.from(forwarded.Header.SessionID)).not.toEqual(Buffer.from(sessionId));
    expect(toJson(forwarded.Body)).toEqual(toJson(original.Body));
  });

  it('central-validation-ignored: the certificate is sent although CentralContractValidationAllowed is false (the CSMS records it)', async () => {
    const h = await booted(['central-validation-ignored'], { trust: { v2gRootsDer: [der(pki.cert('v2g-root'))], moRootsDer: [] } });
    await h.csms.call(CP_ID, 'GetConfiguration', { key: ['CentralContractValidationAllowed'] }, { signal: sig() });
    const [r, call] = await Promise.all([h.charger.authorizeContract(contractChain(contract), sig()), h.cp.expectCall('DataTransfer.Authorize', { timeoutMs: 5_000, signal: sig() })]);
    expect(call.payload).toEqual({ idToken: { idToken: contract.emaid, type: 'eMAID' }, certificate: contract.chain.map((c) => c.pem).join('') });
    expect(h.cp.violations().map((v) => v.rule)).toContain('pnc.C07.central-not-allowed');
    expect(r.decidedBy).toBe('csms');
  });

  it('installed-ids-omitted-type-notfound: GetInstalledCertificateIds without certificateType → NotFound', async () => {
    const h = await booted(['installed-ids-omitted-type-notfound']);
    expect((await pnc(h, 'GetInstalledCertificateIds', {})).response).toEqual({ status: 'NotFound' });
    expect((await pnc(h, 'GetInstalledCertificateIds', { certificateType: ['V2GRootCertificate'] })).response?.status).toBe('Accepted');
  });

  it('accept-non-root-install: InstallCertificate of a sub-CA → Accepted', async () => {
    const h = await booted(['accept-non-root-install']);
    expect((await pnc(h, 'InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: pki.cert('cpo-sub1').pem })).response).toEqual({ status: 'Accepted' });
    expect(h.charger.certs.v2gRoots).toHaveLength(2);
  });

  it('meter-stop-mismatch: StopTransaction meterStop 5 % above the meter', async () => {
    const h = await booted(['meter-stop-mismatch'], { bus: { ratedMaxCurrentA: 10_000 } });
    await h.charger.startCharging({ idTag: contract.emaid, connectorId: 1 });
    flow(h.bus, 4_000_000); // ≈ 1.1 Wh per ms
    await sleep(500);
    h.bus.setContactors(false); // PowerDelivery Stop: the energy register stands still
    const energyWh = h.bus.sample().energyWh;
    expect(energyWh).toBeGreaterThan(300);
    await h.charger.stopCharging('EVDisconnected');
    const stop = await h.cp.expectCall('StopTransaction', { timeoutMs: 3_000, signal: sig() });
    expect(stop.payload.meterStop).toBe(Math.round(energyWh * 1.05));
  });
});
