// The PnC DataTransfer extension of the mock CSMS, driven by a strict ocpp-rpc client (outer 1.6
// frames) whose inner answers are checked by ocpp-rpc's own 2.0.1 validator (an independent oracle):
// Authorize by hash data and by certificate chain (valid, revoked, expired, central validation not
// allowed), Get15118EVCertificate with a real EV-signed CertificateInstallationReq (the response
// decodes, verifies with the CPS leaf and delivers a contract key the EV can decrypt),
// GetCertificateStatus through OCSP, SignCertificate (V2G) with the CertificateSigned follow-up, and
// the app note's answers to malformed data, unknown messageIds and a disabled PnC.
import { X509Certificate } from 'node:crypto';
import { createValidator, type RPCClient } from 'ocpp-rpc';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolViolation } from '../../drivers/capabilities.ts';
import { decodeV2GMessage, decryptContractPrivateKey, ecdsaSignP256, encodeV2GMessage, publicKeyFromCertificate, signV2GMessage, verifyV2GSignature, type V2GMessage } from '../../src/exi/index.ts';
import {
  generatePki,
  issueContractCertificate,
  negativeMaterial,
  ocspRequestData,
  parseOcspResponse,
  applyRevocations,
  formatName,
  type BenchPki,
  type ContractBundle,
  type P256KeyPair,
  type PkiCert,
} from '../../src/pki/index.ts';
import { PNC_VENDOR_ID, type MockCsms } from '../../src/csms/index.ts';
import { cleanup, opensslCsr, rawCharger, removeTmpDirs, rpcClient, sig, startCsms } from './helpers.ts';

const require = createRequire(import.meta.url);
const v201 = createValidator('ocpp2.0.1', require('ocpp-rpc/lib/schemas/ocpp2_0_1.json'));
/** ocpp-rpc's validator throws on an invalid payload. */
const check201 = (id: string, payload: unknown): void => void v201.validate(`urn:${id}`, payload);

let pki: BenchPki;
let contract: ContractBundle;
beforeAll(() => {
  pki = generatePki({ seed: 'csms-pnc', organization: 'ACME CPO', ocspUrl: 'http://127.0.0.1:1/ocsp' });
  contract = issueContractCertificate(pki, { emaid: pki.emaid });
});
afterEach(cleanup);
afterAll(async () => {
  await cleanup();
  removeTmpDirs();
});

async function pnc(client: RPCClient, messageId: string, inner: unknown): Promise<{ status: string; data?: string; inner?: Record<string, unknown> }> {
  const r = (await client.call('DataTransfer', { vendorId: PNC_VENDOR_ID, messageId, data: JSON.stringify(inner) })) as { status: string; data?: string };
  if (r.data === undefined) return r;
  const parsed = JSON.parse(r.data) as Record<string, unknown>;
  check201(`${messageId}.conf`, parsed);
  return { ...r, inner: parsed };
}

const hashData = (b: ContractBundle) => [ocspRequestData(b.cert, pki.cert('mo-sub2')), ocspRequestData(pki.cert('mo-sub2'), pki.cert('mo-sub1')), ocspRequestData(pki.cert('mo-sub1'), pki.cert('mo-root'))];
const idToken = (emaid: string) => ({ idToken: emaid, type: 'eMAID' });

describe('PnC Authorize', () => {
  let csms: MockCsms;
  let client: RPCClient;

  it('idToken only: token policy; hash data: OCSP via the bench responder; revoked → CertificateRevoked and Invalid', async () => {
    csms = await startCsms({ pki });
    client = await rpcClient(csms, 'AUTH');
    expect((await pnc(client, 'Authorize', { idToken: idToken(contract.emaid) })).inner).toEqual({ idTokenInfo: { status: 'Accepted' } });
    const ok = await pnc(client, 'Authorize', { idToken: idToken(contract.emaid), iso15118CertificateHashData: hashData(contract) });
    expect(ok).toMatchObject({ status: 'Accepted', inner: { idTokenInfo: { status: 'Accepted' }, certificateStatus: 'Accepted' } });
    csms.ocsp.revoke(contract.cert, { reason: 'keyCompromise' });
    const revoked = await pnc(client, 'Authorize', { idToken: idToken(contract.emaid), iso15118CertificateHashData: hashData(contract) });
    expect(revoked.inner).toEqual({ idTokenInfo: { status: 'Invalid' }, certificateStatus: 'CertificateRevoked' });
    csms.ocsp.unrevoke(contract.cert);
  });

  it('certificate chain: valid → Accepted; expired → CertificateExpired with the configured failure status', async () => {
    csms = await startCsms({ pki, defaults: { pnc: { contractFailureStatus: 'Blocked' } } });
    client = await rpcClient(csms, 'AUTH2');
    const chainPem = contract.chain.map((c) => c.pem).join('');
    const ok = await pnc(client, 'Authorize', { idToken: idToken(contract.emaid), certificate: chainPem });
    expect(ok.inner).toEqual({ idTokenInfo: { status: 'Accepted' }, certificateStatus: 'Accepted' });
    const expired = negativeMaterial(pki, 'expired');
    applyRevocations(csms.ocsp, expired);
    const bad = await pnc(client, 'Authorize', { idToken: idToken(expired.commonName), certificate: expired.chainPem });
    expect(bad.inner).toEqual({ idTokenInfo: { status: 'Blocked' }, certificateStatus: 'CertificateExpired' });
    // an eMAID in the idToken that is not the certificate's
    const other = await pnc(client, 'Authorize', { idToken: idToken('DEXYZ987654321'), certificate: chainPem });
    expect(other.inner).toMatchObject({ certificateStatus: 'CertChainError' });
  });

  it('records a certificate sent although CentralContractValidationAllowed is false (from the reported configuration)', async () => {
    csms = await startCsms({ pki });
    client = await rpcClient(csms, 'AUTH3');
    client.handle('GetConfiguration', async () => ({ configurationKey: [{ key: 'CentralContractValidationAllowed', readonly: false, value: 'false' }] }));
    await csms.call('AUTH3', 'GetConfiguration', { key: ['CentralContractValidationAllowed'] }, { signal: sig() });
    await pnc(client, 'Authorize', { idToken: idToken(contract.emaid), certificate: contract.chain.map((c) => c.pem).join('') });
    expect(csms.violations().map((v) => v.rule)).toEqual(['pnc.C07.central-not-allowed']);
  });

  it('a blocked token is answered before any certificate check', async () => {
    csms = await startCsms({ pki, defaults: { idTags: { [contract.emaid]: 'Blocked' } } });
    client = await rpcClient(csms, 'AUTH4');
    expect((await pnc(client, 'Authorize', { idToken: idToken(contract.emaid), iso15118CertificateHashData: hashData(contract) })).inner).toEqual({ idTokenInfo: { status: 'Blocked' } });
  });
});

describe('PnC Get15118EVCertificate, GetCertificateStatus, SignCertificate', () => {
  it('answers an EV-signed CertificateInstallationReq with a CertificateInstallationRes the EV can use', async () => {
    const csms = await startCsms({ pki });
    const client = await rpcClient(csms, 'M01');
    const oem = pki.get('oem-prov') as { cert: PkiCert; key: P256KeyPair };
    const v2gRoot = pki.cert('v2g-root');
    const sessionId = Uint8Array.from([0xca, 0xfe, 0xba, 0xbe, 1, 2, 3, 4]);
    const req: V2GMessage = {
      Header: { SessionID: sessionId },
      Body: {
        CertificateInstallationReq: {
          Id: 'ID1',
          OEMProvisioningCert: oem.cert.der,
          // the EV trusts the bench's V2G root (RFC 4514 name, serial as an integer)
          ListOfRootCertificateIDs: { RootCertificateID: [{ X509IssuerName: formatName(v2gRoot.subjectAttributes), X509SerialNumber: BigInt(`0x${v2gRoot.serialHex}`) }] },
        },
      },
    };
    const signed = await signV2GMessage(req, ['ID1'], (d) => ecdsaSignP256(oem.key.privateKey, d));
    const exiRequest = Buffer.from(encodeV2GMessage(signed)).toString('base64');
    const r = await pnc(client, 'Get15118EVCertificate', { iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', action: 'Install', exiRequest });
    expect(r.status).toBe('Accepted');
    expect(r.inner?.status).toBe('Accepted');
    const msg = decodeV2GMessage(Buffer.from(r.inner?.exiResponse as string, 'base64'));
    expect(Buffer.from(msg.Header.SessionID).equals(Buffer.from(sessionId))).toBe(true);
    const res = msg.Body.CertificateInstallationRes;
    expect(res?.ResponseCode).toBe('OK');
    expect(res?.eMAID.CONTENT).toBe(pki.emaid);
    expect(verifyV2GSignature(msg, publicKeyFromCertificate(pki.cert('cps-leaf').der), ['ID1', 'ID2', 'ID3', 'ID4']).valid).toBe(true);
    const key = decryptContractPrivateKey({
      encryptedPrivateKey: res?.ContractSignatureEncryptedPrivateKey.CONTENT as Uint8Array,
      dhPublicKey: res?.DHpublickey.CONTENT as Uint8Array,
      recipientPrivateKey: oem.key.privateKey,
    });
    expect(key.length).toBe(32);
    expect(csms.violations()).toEqual([]);
    // an exiRequest that is not EXI → Failed with the reason, outer still Accepted
    const bad = await pnc(client, 'Get15118EVCertificate', { iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', action: 'Install', exiRequest: 'AAAA' });
    expect(bad).toMatchObject({ status: 'Accepted', inner: { status: 'Failed', exiResponse: '', statusInfo: { reasonCode: 'InvalidExiRequest' } } });
    // action that does not match the EXI request
    await pnc(client, 'Get15118EVCertificate', { iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', action: 'Update', exiRequest });
    expect(csms.violations().map((v) => v.rule)).toEqual(['pnc.schema.Get15118EVCertificate.action']);
  });

  it('GetCertificateStatus returns the OCSP response of the bench responder', async () => {
    const csms = await startCsms({ pki });
    const client = await rpcClient(csms, 'M06');
    const r = await pnc(client, 'GetCertificateStatus', { ocspRequestData: ocspRequestData(pki.cert('secc-leaf'), pki.cert('cpo-sub2')) });
    expect(r.inner?.status).toBe('Accepted');
    const ocsp = parseOcspResponse(Buffer.from(r.inner?.ocspResult as string, 'base64'));
    expect(ocsp.responseStatus).toBe('successful');
    csms.ocsp.faults = { responseStatus: 'tryLater' };
    const failed = await pnc(client, 'GetCertificateStatus', { ocspRequestData: ocspRequestData(pki.cert('secc-leaf'), pki.cert('cpo-sub2')) });
    expect(failed.inner).toMatchObject({ status: 'Failed', statusInfo: { reasonCode: 'OCSPError' } });
  });

  it('SignCertificate (V2G): Accepted, then DataTransfer CertificateSigned with an SECC chain under the V2G root', async () => {
    const csms = await startCsms({ pki });
    const client = await rpcClient(csms, 'A02');
    const got = new Promise<Record<string, unknown>>((resolve) => {
      client.handle('DataTransfer', async ({ params }) => {
        const p = params as { vendorId: string; messageId: string; data: string };
        expect(p.vendorId).toBe(PNC_VENDOR_ID);
        expect(p.messageId).toBe('CertificateSigned');
        const inner = JSON.parse(p.data) as Record<string, unknown>;
        check201('CertificateSigned.req', inner);
        resolve(inner);
        return { status: 'Accepted', data: JSON.stringify({ status: 'Accepted' }) };
      });
    });
    const { csr } = opensslCsr('/CN=DEPNX100001/O=ACME CPO/C=DE/DC=CPO');
    expect((await pnc(client, 'SignCertificate', { csr, certificateType: 'V2GCertificate' })).inner).toEqual({ status: 'Accepted' });
    const inner = await got;
    expect(inner.certificateType).toBe('V2GCertificate');
    const pems = (inner.certificateChain as string).match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    const chain = pems.map((p) => new X509Certificate(p));
    expect(chain.map((c) => c.subject.split('\n').find((l) => l.startsWith('CN=')))).toEqual(['CN=DEPNX100001', 'CN=CPOSubCA2', 'CN=CPOSubCA1']);
    expect(chain[2]?.verify(new X509Certificate(pki.cert('v2g-root').pem).publicKey)).toBe(true);
    await expect.poll(() => csms.chargePoint('A02').state.certificates.pnc.list('V2GCertificate').map((c) => c.source)).toEqual(['signed', 'installed']);
    expect(csms.chargePoint('A02').state.certificates.security.list()).toEqual([]);
    // a CSR with the wrong DC → Rejected with a reason, nothing sent
    const { csr: bad } = opensslCsr('/CN=DEPNX100001/O=ACME CPO/C=DE/DC=MO');
    const r = await pnc(client, 'SignCertificate', { csr: bad, certificateType: 'V2GCertificate' });
    expect(r.inner).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'InvalidCSR', additionalInfo: expect.stringMatching(/wrong-domain-component/) } });
  });
});

describe('PnC routing per the application note', () => {
  it.each([
    ['data is not JSON', { messageId: 'Authorize', data: '{idToken' }, { status: 'Rejected' }, 'pnc.data'],
    ['data missing', { messageId: 'Authorize' }, { status: 'Rejected' }, 'pnc.data'],
    ['inner schema violation', { messageId: 'Authorize', data: JSON.stringify({ idToken: { idToken: 'X', type: 'Fingerprint' } }) }, { status: 'Rejected' }, 'pnc.schema.Authorize.req'],
    ['unknown messageId', { messageId: 'MakeCoffee', data: '{}' }, { status: 'UnknownMessageId' }, 'pnc.messageId'],
    ['CSMS-to-charger messageId', { messageId: 'CertificateSigned', data: '{}' }, { status: 'UnknownMessageId' }, 'pnc.direction'],
  ])('%s', async (_what, fields, answer, rule) => {
    const csms = await startCsms({ pki });
    const raw = await rawCharger(csms, 'ROUTE');
    const expectation = csms.expectCall('ROUTE', '*', { timeoutMs: 2_000, signal: sig() }).catch((e: unknown) => e);
    expect(await raw.call('d1', 'DataTransfer', { vendorId: PNC_VENDOR_ID, ...fields })).toEqual([3, 'd1', answer]);
    expect(csms.violations().map((v) => v.rule)).toEqual([rule]);
    const e = await expectation;
    expect(e).toBeInstanceOf(ProtocolViolation);
    expect((e as ProtocolViolation).rule).toBe(rule);
  });

  it('PnC disabled for a charger → UnknownVendorId, no violation', async () => {
    const csms = await startCsms({ pki, defaults: { pnc: { enabled: false } } });
    const raw = await rawCharger(csms, 'OFF');
    expect(await raw.call('d1', 'DataTransfer', { vendorId: PNC_VENDOR_ID, messageId: 'Authorize', data: JSON.stringify({ idToken: idToken('X') }) })).toEqual([3, 'd1', { status: 'UnknownVendorId' }]);
    expect(csms.violations()).toEqual([]);
  });

  it("the has·to·be vendorId can be routed to the same handlers (vendorIds)", async () => {
    const csms = await startCsms({ pki, defaults: { pnc: { vendorIds: [PNC_VENDOR_ID, 'iso15118'] } } });
    const raw = await rawCharger(csms, 'H2B');
    const [, , conf] = await raw.call('d1', 'DataTransfer', { vendorId: 'iso15118', messageId: 'Authorize', data: JSON.stringify({ idToken: idToken('X') }) });
    expect(JSON.parse((conf as { data: string }).data)).toEqual({ idTokenInfo: { status: 'Accepted' } });
  });
});
