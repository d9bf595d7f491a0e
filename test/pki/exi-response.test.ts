// src/pki material through src/exi: a CertificateInstallationRes built from the bench's own PKI
// (CPS leaf signing, a freshly issued contract) fits OCPP 2.0.1's 5,600-character exiResponse even
// at the longest organization and OCSP URL the PKI accepts, and the EV side can check and use it.
import { describe, expect, it } from 'vitest';
import {
  answerGet15118EVCertificate,
  benchAnswerOptions,
  decodeV2GMessage,
  decryptContractPrivateKey,
  ecdsaSignP256,
  encodeV2GMessage,
  OCPP_EXI_MAX_BASE64,
  publicKeyFromCertificate,
  publicKeyFromPrivate,
  signV2GMessage,
  verifyV2GSignature,
  type V2GMessage,
} from '../../src/exi/index.ts';
import { cpsSigner, generatePki, issueContractCertificate, MAX_OCSP_URL_CHARS, MAX_ORGANIZATION_CHARS, type BenchPki } from '../../src/pki/index.ts';

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

async function evInstallRequest(pki: BenchPki, sessionId: Uint8Array): Promise<string> {
  const oem = pki.get('oem-prov');
  const msg: V2GMessage = {
    Header: { SessionID: sessionId },
    Body: {
      CertificateInstallationReq: {
        Id: 'ID1',
        OEMProvisioningCert: oem.cert.der,
        ListOfRootCertificateIDs: { RootCertificateID: [{ X509IssuerName: pki.cert('v2g-root').subject, X509SerialNumber: pki.cert('v2g-root').serialNumber }] },
      },
    },
  };
  const key = (oem.key as { privateKey: Uint8Array }).privateKey;
  const signed = await signV2GMessage(msg, ['ID1'], (d) => ecdsaSignP256(key, d));
  return Buffer.from(encodeV2GMessage(signed)).toString('base64');
}

describe('CertificateInstallationRes from the bench PKI', () => {
  it.each([
    ['defaults with an OCSP URL', { ocspUrl: 'http://127.0.0.1:8180/ocsp' }],
    ['the longest organization and OCSP URL accepted', { organization: 'O'.repeat(MAX_ORGANIZATION_CHARS), ocspUrl: `http://ocsp.example.org/${'p'.repeat(MAX_OCSP_URL_CHARS - 24)}` }],
  ])('%s: fits exiResponse, verifies against the CPS chain, delivers the contract key', async (_name, opts) => {
    expect(opts.ocspUrl.length).toBeLessThanOrEqual(MAX_OCSP_URL_CHARS);
    const pki = generatePki({ seed: 'exi-size', notBefore: new Date('2026-01-01T00:00:00Z'), ...opts });
    const cps = cpsSigner(pki);
    const sessionId = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    let issued: ReturnType<typeof issueContractCertificate> | undefined;
    const { response, assessment } = await answerGet15118EVCertificate(await evInstallRequest(pki, sessionId), {
      ...benchAnswerOptions(pki), // OEM chain, EV roots and signature all checked
      issueContract: () => {
        issued = issueContractCertificate(pki);
        return { certificateChain: [issued.cert.der, ...issued.subCertificates.map((c) => c.der)], privateKey: issued.key.privateKey };
      },
    });
    expect(assessment.checks.map((c) => `${c.name}:${c.outcome}`)).toEqual(['oem-validity:pass', 'oem-chain:pass', 'signature:pass', 'root:pass']);
    expect(response.warnings).toEqual([]);
    expect(response.exiBase64.length).toBeLessThanOrEqual(OCPP_EXI_MAX_BASE64);

    const msg = decodeV2GMessage(response.exi);
    expect(toHex(msg.Header.SessionID)).toBe(toHex(sessionId));
    const check = verifyV2GSignature(msg, publicKeyFromCertificate(cps.cert.der), ['ID1', 'ID2', 'ID3', 'ID4']);
    expect(check.problems).toEqual([]);
    expect(check.valid).toBe(true);
    const res = msg.Body.CertificateInstallationRes!;
    const oemKey = (pki.get('oem-prov').key as { privateKey: Uint8Array }).privateKey;
    const key = decryptContractPrivateKey({ encryptedPrivateKey: res.ContractSignatureEncryptedPrivateKey.CONTENT, dhPublicKey: res.DHpublickey.CONTENT, recipientPrivateKey: oemKey });
    expect(toHex(publicKeyFromPrivate(key))).toBe(toHex(issued!.key.publicKey));
    expect(res.eMAID.CONTENT).toBe(issued!.emaid);
  });

  it('refuses options that would not fit', () => {
    expect(() => generatePki({ seed: 's', organization: 'O'.repeat(MAX_ORGANIZATION_CHARS + 1) })).toThrow(/organization: must be 1\.\.16 characters/);
    expect(() => generatePki({ seed: 's', ocspUrl: `http://x.example/${'p'.repeat(MAX_OCSP_URL_CHARS)}` })).toThrow(/ocspUrl: is \d+ characters; at most 48/);
  });
});
