// The simulated charger's PnC certificate management against the real MockCsms (which checks the CSR
// with src/pki signCsr, signs it and validates every inner 2.0.1 answer against the official schema):
// A02 TriggerMessage → SignCertificate → CertificateSigned installed; a wrong chain or a foreign key
// rejected with SecurityEventNotification; back-off timing (WaitMinimum 1 s, RepeatTimes 2 → sends at
// ≈ 0, 1, 3 s) and what stops it; A03 renewal; M03 / M04 / M05; M06 (GetCertificateStatus for each
// sub-CA of a newly accepted SECC chain, answered from the CSMS's OCSP responder, verified and cached);
// PnC DataTransfer routing answers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PNC_VENDOR_ID, type PncCallResult } from '../../src/csms/index.ts';
import { buildOcspRequest, certificateHashData, generatePki, negativeMaterial, ocspRequestData, parseOcspResponse, pemToDer, signCsr, type BenchPki } from '../../src/pki/index.ts';
import { cleanup, CP_ID, der, factorySecc, seccChainDer, sig, sleep, startRig, until, type Rig } from './charger-helpers.ts';

let pki: BenchPki;
let foreign: BenchPki;
beforeAll(() => {
  pki = generatePki({ seed: 'charger-pnc', organization: 'PNCBENCH', ocspUrl: 'http://127.0.0.1:1/ocsp' });
  foreign = generatePki({ seed: 'charger-pnc-foreign', organization: 'PNCBENCH', ocspUrl: 'http://127.0.0.1:1/ocsp' });
});
afterEach(cleanup);
afterAll(cleanup);

type Inner = Record<string, unknown>;
const pnc = async (h: Rig, messageId: string, payload: Record<string, unknown>, unchecked = false): Promise<PncCallResult<Inner>> =>
  (await h.cp.callAny(messageId, payload as never, { signal: sig(), pnc: true, unchecked })) as PncCallResult<Inner>;
const trigger = (h: Rig) => pnc(h, 'TriggerMessage', { requestedMessage: 'SignV2GCertificate' });

describe('A02: TriggerMessage → SignCertificate → CertificateSigned', () => {
  it('accepted: the CSR passes the CSMS checks (O = reported CpoName), the signed leaf and the new key are installed', async () => {
    const h = await startRig(pki, { seccLeaf: null });
    await h.booted();
    await h.csms.call(CP_ID, 'GetConfiguration', { key: ['CpoName'] }, { signal: sig() }); // the CSMS now checks O = PNCBENCH
    const t = await trigger(h);
    expect(t).toMatchObject({ status: 'Accepted', response: { status: 'Accepted' } });
    const sc = await h.cp.expectCall('DataTransfer.SignCertificate', { timeoutMs: 5_000, signal: sig() });
    expect(sc.frame.payload.vendorId).toBe(PNC_VENDOR_ID);
    expect(sc.payload.certificateType).toBe('V2GCertificate');
    expect(sc.payload.csr as string).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    expect((await sc.answered).inner).toEqual({ status: 'Accepted' });
    await h.line(/cert: certificate installed type=V2GCertificateChain subject="CN=DEPNB1VIRTUAL1, O=PNCBENCH, C=DE, DC=CPO" serial=[0-9a-f]+/);
    const chain = seccChainDer(h.charger);
    expect(chain).toHaveLength(3);
    const leafPem = h.cp.state.certificates.pnc.list().find((c) => c.certificateType === 'V2GCertificate')?.pem;
    expect(leafPem).toBeDefined();
    expect(Buffer.from(chain?.[0] ?? [])).toEqual(Buffer.from(pemToDer(leafPem as string, 'CERTIFICATE', 'leaf')));
    expect(chain?.[1]).toEqual(der(pki.cert('cpo-sub2')));
    expect(h.charger.certs.secc?.privateKeyPkcs8Der.length).toBeGreaterThan(100);
    // the stored chain is listed (M03) with its sub-CAs as children
    const ids = await pnc(h, 'GetInstalledCertificateIds', { certificateType: ['V2GCertificateChain'] });
    expect((ids.response?.certificateHashDataChain as Inner[])[0]).toMatchObject({ certificateType: 'V2GCertificateChain', childCertificateHashData: [certificateHashData(pki.cert('cpo-sub2'), pki.cert('cpo-sub1')), certificateHashData(pki.cert('cpo-sub1'), pki.cert('v2g-root'))] });
    expect(h.cp.state.securityEvents).toEqual([]);
    h.cp.assertNoViolations();
  });

  it('CertificateSigned with a chain to a foreign V2G root → Rejected + SecurityEventNotification InvalidChargePointCertificate; the right chain is then accepted', async () => {
    const h = await startRig(pki, { seccLeaf: null });
    await h.booted();
    h.cp.respond('DataTransfer.SignCertificate', { followUp: 'none' });
    await trigger(h);
    const sc = await h.cp.expectCall('DataTransfer.SignCertificate', { timeoutMs: 5_000, signal: sig() });
    const csr = sc.payload.csr as string;
    const wrong = await signCsr(foreign, csr, { profile: 'secc' });
    if (!wrong.ok) throw new Error(wrong.reason);
    const r = await pnc(h, 'CertificateSigned', { certificateChain: wrong.chainPem, certificateType: 'V2GCertificate' });
    expect(r).toMatchObject({ status: 'Accepted', response: { status: 'Rejected' } });
    const ev = await h.cp.expectCall('SecurityEventNotification', { timeoutMs: 3_000, signal: sig() });
    expect(ev.payload.type).toBe('InvalidChargePointCertificate');
    expect(ev.payload.techInfo as string).toMatch(/does not lead to an installed V2G root/);
    await h.line(/cert: CertificateSigned rejected: chain does not lead to an installed V2G root/);
    expect(seccChainDer(h.charger)).toBeUndefined();
    // another charger's certificate (not the CSR's key) is rejected too
    const other = await pnc(h, 'CertificateSigned', { certificateChain: pki.chain('secc-leaf').map((c) => c.pem).join('') });
    expect(other.response).toEqual({ status: 'Rejected' });
    await h.line(/CertificateSigned rejected: leaf .* does not carry the public key of the outstanding CSR/);
    // a chain without DC=CPO on the leaf
    const noDc = negativeMaterial(pki, 'wrong-dc', { branch: 'secc' });
    expect((await pnc(h, 'CertificateSigned', { certificateChain: noDc.chainPem })).response).toEqual({ status: 'Rejected' });
    // the chain the bench PKI signs for the outstanding CSR
    const right = await signCsr(pki, csr, { profile: 'secc' });
    if (!right.ok) throw new Error(right.reason);
    expect((await pnc(h, 'CertificateSigned', { certificateChain: right.chainPem, certificateType: 'V2GCertificate' })).response).toEqual({ status: 'Accepted' });
    expect(seccChainDer(h.charger)?.[0]).toEqual(der(right.cert));
    h.cp.assertNoViolations();
  });

  it('a chain longer than CertificateSignedMaxChainSize is Rejected', async () => {
    const h = await startRig(pki, { seccLeaf: null, config: { CertificateSignedMaxChainSize: '1000' } });
    await h.booted();
    h.cp.respond('DataTransfer.SignCertificate', { followUp: 'none' });
    await trigger(h);
    const sc = await h.cp.expectCall('DataTransfer.SignCertificate', { timeoutMs: 5_000, signal: sig() });
    const right = await signCsr(pki, sc.payload.csr as string, { profile: 'secc' });
    if (!right.ok) throw new Error(right.reason);
    expect((await pnc(h, 'CertificateSigned', { certificateChain: right.chainPem })).response).toEqual({ status: 'Rejected' });
    await h.line(/CertificateSignedMaxChainSize is 1000/);
  });
});

describe('M06: GetCertificateStatus after CertificateSigned', () => {
  it('an accepted CertificateSigned → one GetCertificateStatus per V2G sub-CA of the new chain; the OCSP answers are verified and cached', async () => {
    const h = await startRig(pki, { seccLeaf: null });
    await h.booted();
    h.cp.respond('DataTransfer.SignCertificate', { followUp: 'none' });
    await trigger(h);
    const sc = await h.cp.expectCall('DataTransfer.SignCertificate', { timeoutMs: 5_000, signal: sig() });
    const signed = await signCsr(pki, sc.payload.csr as string, { profile: 'secc' });
    if (!signed.ok) throw new Error(signed.reason);
    // a rejected chain starts no refresh
    const bad = await signCsr(foreign, sc.payload.csr as string, { profile: 'secc' });
    if (!bad.ok) throw new Error(bad.reason);
    const since = Date.now();
    expect((await pnc(h, 'CertificateSigned', { certificateChain: bad.chainPem, certificateType: 'V2GCertificate' })).response).toEqual({ status: 'Rejected' });
    expect((await pnc(h, 'CertificateSigned', { certificateChain: signed.chainPem, certificateType: 'V2GCertificate' })).response).toEqual({ status: 'Accepted' });
    const first = await h.cp.expectCall('DataTransfer.GetCertificateStatus', { timeoutMs: 3_000, signal: sig(), since });
    const second = await h.cp.expectCall('DataTransfer.GetCertificateStatus', { timeoutMs: 3_000, signal: sig(), since: first.t });
    expect(first.frame.payload.vendorId).toBe(PNC_VENDOR_ID);
    expect([first.payload.ocspRequestData, second.payload.ocspRequestData]).toEqual([
      { ...ocspRequestData(pki.cert('cpo-sub2'), pki.cert('cpo-sub1')) },
      { ...ocspRequestData(pki.cert('cpo-sub1'), pki.cert('v2g-root')) },
    ]);
    for (const c of [first, second]) {
      const a = await c.answered;
      expect(a.inner?.status).toBe('Accepted');
      expect(parseOcspResponse(new Uint8Array(Buffer.from(String(a.inner?.ocspResult), 'base64'))).responseStatus).toBe('successful');
    }
    await h.line(new RegExp(`pnc: GetCertificateStatus serial=${pki.cert('cpo-sub1').serialHex} → Accepted: OCSP good for "CN=CPOSubCA1`));
    expect(h.count(/pnc: OCSP refresh reason=certificate-signed sub-CAs=2/)).toBe(1);
    expect(h.charger.ocsp.get(pki.cert('cpo-sub2').serialHex)).toMatchObject({ certStatus: 'good', responderURL: pki.cert('cpo-sub2').ocspUrls[0] });
    expect(h.charger.ocsp.get(pki.cert('cpo-sub1').serialHex)?.certStatus).toBe('good');
    expect(h.charger.ocsp.get(pki.cert('secc-leaf').serialHex)).toBeUndefined();
    await sleep(300);
    expect(h.count(/GetCertificateStatus serial=/)).toBe(2);
    h.cp.assertNoViolations();
  });

  it('an answer without ocspResult, or one that does not verify for the certificate, is not cached', async () => {
    const h = await startRig(pki, { seccLeaf: null });
    await h.booted();
    h.cp.respond('DataTransfer.SignCertificate', { followUp: 'none' });
    // sub-CA 2: Failed without ocspResult; sub-CA 1: a real OCSP response, but for sub-CA 2
    const serialOf = (c: { payload: Record<string, unknown> }): unknown => (c.payload.ocspRequestData as { serialNumber?: unknown } | undefined)?.serialNumber;
    const sub2 = pki.cert('cpo-sub2');
    h.cp.respond('DataTransfer.GetCertificateStatus', { payload: { status: 'Failed' } }, { match: (c) => serialOf(c) === sub2.serialHex });
    const forSub2 = Buffer.from(h.csms.ocsp.answer(buildOcspRequest([{ cert: sub2, issuer: pki.cert('cpo-sub1') }])).der).toString('base64');
    h.cp.respond('DataTransfer.GetCertificateStatus', { payload: { status: 'Accepted', ocspResult: forSub2 } }, { match: (c) => serialOf(c) === pki.cert('cpo-sub1').serialHex });
    await trigger(h);
    const sc = await h.cp.expectCall('DataTransfer.SignCertificate', { timeoutMs: 5_000, signal: sig() });
    const signed = await signCsr(pki, sc.payload.csr as string, { profile: 'secc' });
    if (!signed.ok) throw new Error(signed.reason);
    expect((await pnc(h, 'CertificateSigned', { certificateChain: signed.chainPem })).response).toEqual({ status: 'Accepted' });
    await h.line(new RegExp(`GetCertificateStatus serial=${pki.cert('cpo-sub2').serialHex} answer outer=Accepted status=Failed without ocspResult: not cached`));
    await h.line(new RegExp(`GetCertificateStatus serial=${pki.cert('cpo-sub1').serialHex}: ocspResult rejected \\(.+\\): not cached`));
    expect(h.charger.ocsp.get(pki.cert('cpo-sub2').serialHex)).toBeUndefined();
    expect(h.charger.ocsp.get(pki.cert('cpo-sub1').serialHex)).toBeUndefined();
  });
});

describe('back-off (A02.FR.17–19)', () => {
  it('no CertificateSigned: three SignCertificate sends at ≈ 0, 1, 3 s (WaitMinimum 1, RepeatTimes 2), then none', async () => {
    const h = await startRig(pki, { config: { CertSigningWaitMinimum: '1', CertSigningRepeatTimes: '2' } });
    await h.booted();
    h.cp.respond('DataTransfer.SignCertificate', { followUp: 'none' }, { times: Infinity });
    const times: number[] = [];
    h.csms.on('call', (c) => {
      if (c.action === 'DataTransfer.SignCertificate') times.push(c.t);
    });
    await trigger(h);
    await sleep(5_300);
    expect(times).toHaveLength(3);
    const d1 = (times[1] as number) - (times[0] as number);
    const d2 = (times[2] as number) - (times[1] as number);
    expect(d1).toBeGreaterThanOrEqual(950);
    expect(d1).toBeLessThan(1_400);
    expect(d2).toBeGreaterThanOrEqual(1_950);
    expect(d2).toBeLessThan(2_450);
    expect(h.count(/pnc: SignCertificate send=\d\/3/)).toBe(3);
  });

  it('a SignCertificate answered Rejected stops the retries; a CertificateSigned stops them too', async () => {
    const h = await startRig(pki, { config: { CertSigningWaitMinimum: '1', CertSigningRepeatTimes: '2' } });
    await h.booted();
    let n = 0;
    h.csms.on('call', (c) => {
      if (c.action === 'DataTransfer.SignCertificate') n++;
    });
    h.cp.respond('DataTransfer.SignCertificate', { status: 'Rejected' });
    await trigger(h);
    await h.line(/SignCertificate retries stopped: SignCertificate answered Accepted\/Rejected/);
    await sleep(1_500);
    expect(n).toBe(1);
    // CertificateSigned (default follow-up after 300 ms) stops the schedule before the first resend
    h.csms.configure(CP_ID, { pnc: { certificateSignedDelayMs: 300 } });
    await trigger(h);
    await h.line(/certificate installed type=V2GCertificateChain/);
    await sleep(1_500);
    expect(n).toBe(2);
    expect(h.count(/retries stopped: CertificateSigned received/)).toBe(1);
  });
});

describe('A03: renewal check', () => {
  it('no SECC certificate: SignCertificate right after boot (renewalCheckDelayMs), installed', async () => {
    const h = await startRig(pki, { seccLeaf: null, renewalCheckDelayMs: 200 });
    await h.booted();
    const sc = await h.cp.expectCall('DataTransfer.SignCertificate', { timeoutMs: 3_000, signal: sig() });
    expect(sc.payload.certificateType).toBe('V2GCertificate');
    await h.line(/renewal check: no SECC certificate → SignCertificate/);
    await h.line(/certificate installed type=V2GCertificateChain/);
  });

  it('an SECC certificate expiring within 30 days is renewed; a fresh one is not', async () => {
    const expired = negativeMaterial(pki, 'expired', { branch: 'secc' });
    const h = await startRig(pki, { seccLeaf: factorySecc(pki, expired), renewalCheckDelayMs: 100 });
    await h.booted();
    await h.line(/renewal check: SECC certificate expires .* \(< 30 days\) → SignCertificate/);
    await h.line(/certificate installed/);
    await cleanup();
    const fresh = await startRig(pki, { renewalCheckDelayMs: 100 });
    await fresh.booted();
    await sleep(400);
    expect(fresh.count(/renewal check/)).toBe(0);
    expect(fresh.cp.state.certificates.pnc.list()).toHaveLength(0);
  });
});

describe('M03 / M04 / M05 and PnC routing', () => {
  it('GetInstalledCertificateIds: type omitted → V2G root, MO root, V2G chain with hash data as src/pki computes it; one type; empty list → NotFound', async () => {
    const h = await startRig(pki);
    await h.booted();
    const all = await pnc(h, 'GetInstalledCertificateIds', {});
    expect(all.status).toBe('Accepted');
    expect(all.response).toEqual({
      status: 'Accepted',
      certificateHashDataChain: [
        { certificateType: 'V2GRootCertificate', certificateHashData: certificateHashData(pki.cert('v2g-root'), pki.cert('v2g-root')) },
        { certificateType: 'MORootCertificate', certificateHashData: certificateHashData(pki.cert('mo-root'), pki.cert('mo-root')) },
        {
          certificateType: 'V2GCertificateChain',
          certificateHashData: certificateHashData(pki.cert('secc-leaf'), pki.cert('cpo-sub2')),
          childCertificateHashData: [certificateHashData(pki.cert('cpo-sub2'), pki.cert('cpo-sub1')), certificateHashData(pki.cert('cpo-sub1'), pki.cert('v2g-root'))],
        },
      ],
    });
    const serial = (all.response?.certificateHashDataChain as { certificateHashData: { serialNumber: string } }[])[0]?.certificateHashData.serialNumber ?? '';
    expect(serial).toMatch(/^[1-9a-f][0-9a-f]*$/);
    const mo = await pnc(h, 'GetInstalledCertificateIds', { certificateType: ['MORootCertificate'] });
    expect(mo.response?.certificateHashDataChain).toHaveLength(1);
    expect((await pnc(h, 'GetInstalledCertificateIds', { certificateType: ['CSMSRootCertificate'] })).response).toEqual({ status: 'NotFound' });
    expect((await pnc(h, 'GetInstalledCertificateIds', { certificateType: [] }, true)).response).toEqual({ status: 'NotFound' });
    expect((await pnc(h, 'GetInstalledCertificateIds', { certificateType: ['Bogus'] }, true)).status).toBe('Rejected');
    h.cp.assertNoViolations();
  });

  it('InstallCertificate: a root → Accepted and listed; a sub-CA or garbage → Rejected; store full → Failed', async () => {
    const h = await startRig(pki, { config: { CertificateStoreMaxLength: '3' } });
    await h.booted();
    expect((await pnc(h, 'InstallCertificate', { certificateType: 'MORootCertificate', certificate: foreign.cert('mo-root').pem })).response).toEqual({ status: 'Accepted' });
    await h.line(/cert: certificate installed type=MORootCertificate subject="CN=MORootCA, O=PNCBENCH, C=DE, DC=MO" serial=[0-9a-f]+/);
    const mo = await pnc(h, 'GetInstalledCertificateIds', { certificateType: ['MORootCertificate'] });
    expect(mo.response?.certificateHashDataChain).toContainEqual({ certificateType: 'MORootCertificate', certificateHashData: certificateHashData(foreign.cert('mo-root'), foreign.cert('mo-root')) });
    expect((await pnc(h, 'InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: pki.cert('cpo-sub1').pem })).response).toEqual({ status: 'Rejected' });
    expect((await pnc(h, 'InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: 'not a certificate' })).response).toEqual({ status: 'Rejected' });
    expect((await pnc(h, 'InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: foreign.cert('v2g-root').pem })).response).toEqual({ status: 'Failed' });
    await h.line(/certificate store full \(3 of CertificateStoreMaxLength 3\)/);
    h.cp.assertNoViolations();
  });

  it('DeleteCertificate: upper-case hash matches; unknown → NotFound; the last V2G root → Failed; the SECC leaf; a bad hashAlgorithm → outer Rejected', async () => {
    const h = await startRig(pki);
    await h.booted();
    const moHash = certificateHashData(pki.cert('mo-root'), pki.cert('mo-root'));
    const upper = { ...moHash, issuerNameHash: moHash.issuerNameHash.toUpperCase(), issuerKeyHash: moHash.issuerKeyHash.toUpperCase() };
    expect((await pnc(h, 'DeleteCertificate', { certificateHashData: upper })).response).toEqual({ status: 'Accepted' });
    expect((await pnc(h, 'DeleteCertificate', { certificateHashData: moHash })).response).toEqual({ status: 'NotFound' });
    expect(h.charger.certs.moRoots).toHaveLength(0);
    const v2g = certificateHashData(pki.cert('v2g-root'), pki.cert('v2g-root'));
    expect((await pnc(h, 'DeleteCertificate', { certificateHashData: v2g })).response).toEqual({ status: 'Failed' });
    expect(h.charger.certs.v2gRoots).toHaveLength(1);
    const leaf = certificateHashData(pki.cert('secc-leaf'), pki.cert('cpo-sub2'));
    expect((await pnc(h, 'DeleteCertificate', { certificateHashData: { ...leaf, serialNumber: `00${leaf.serialNumber}` } })).response).toEqual({ status: 'Accepted' });
    expect(seccChainDer(h.charger)).toBeUndefined();
    expect((await pnc(h, 'DeleteCertificate', { certificateHashData: { ...v2g, hashAlgorithm: 'SHA1' } }, true)).status).toBe('Rejected');
    h.cp.assertNoViolations();
  });

  it('routing: TriggerMessage for another message → Rejected; a value outside the enum, bad JSON → outer Rejected; unknown messageId / vendorId', async () => {
    const h = await startRig(pki);
    await h.booted();
    expect((await pnc(h, 'TriggerMessage', { requestedMessage: 'BootNotification' })).response).toEqual({ status: 'Rejected' });
    expect((await pnc(h, 'TriggerMessage', { requestedMessage: 'SignCertificate' }, true)).status).toBe('Rejected');
    // the whole 2.0.1 request schema applies: an evse without its required id, an unknown property
    expect((await pnc(h, 'TriggerMessage', { requestedMessage: 'SignV2GCertificate', evse: { connectorId: 1 } }, true)).status).toBe('Rejected');
    expect((await pnc(h, 'GetInstalledCertificateIds', { certificateType: ['V2GRootCertificate'], limit: 1 }, true)).status).toBe('Rejected');
    expect((await pnc(h, 'NoSuchMessage', {}, true)).status).toBe('UnknownMessageId');
    const raw = await h.cp.callAny('DataTransfer', { vendorId: PNC_VENDOR_ID, messageId: 'InstallCertificate', data: '{not json' }, { signal: sig() });
    expect(raw.response).toEqual({ status: 'Rejected' });
    const other = await h.cp.callAny('DataTransfer', { vendorId: 'com.example', messageId: 'x' }, { signal: sig() });
    expect(other.response).toEqual({ status: 'UnknownVendorId' });
    await until(() => h.count(/DataTransfer vendorId=com\.example → UnknownVendorId/) === 1, 1_000);
  });
});
