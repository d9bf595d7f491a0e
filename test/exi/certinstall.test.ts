// Certificate installation / update, CPS side: an EV-signed request goes in, a signed response
// comes out; the test then plays the EV: SessionID echoed, signature valid with the CPS leaf and
// the CPS chain valid, contract key decrypted with the OEM provisioning key matches the contract
// certificate, eMAID = contract CN. Also the real dSPACE request, the update path, bad signatures
// and the OCPP 5,600-character warning.
import { X509Certificate } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  answerGet15118EVCertificate,
  buildCertificateInstallationRes,
  CertificateMessageError,
  eMAIDFromCertificate,
  exiBytes,
  OCPP_EXI_MAX_BASE64,
  parseCertificateInstallationReq,
  parseCertificateUpdateReq,
  type CpsSigner,
} from '../../src/exi/certinstall.ts';
import { decryptContractPrivateKey } from '../../src/exi/contract-key.ts';
import { decodeV2GMessage, encodeV2GMessage, type V2GMessage } from '../../src/exi/iso2.ts';
import { toHex } from '../../src/exi/json.ts';
import { ecdsaSignP256, encodeSignedInfo, publicKeyFromCertificate, signV2GMessage, verifyV2GSignature } from '../../src/exi/xmldsig.ts';
import { hex, loadVectors } from './helpers/vectors.ts';
import { makeChain, type TestCert } from './helpers/pki.ts';

let cps: TestCert[];
let mo: TestCert[];
let oem: TestCert[];
let cpsSigner: CpsSigner;

beforeAll(async () => {
  cps = await makeChain('CPS', 'CPS Leaf');
  mo = await makeChain('MO', 'DE-ABC-123456789-Y'); // eMAID with separators in the CN
  oem = await makeChain('OEM', 'OEM Prov');
  cpsSigner = { certificateChain: cps.slice(0, 3).map((c) => c.der), sign: (d) => ecdsaSignP256(cps[0]!.privateKey, d) };
});

async function evRequest(kind: 'install' | 'update', sessionId: Uint8Array): Promise<string> {
  const roots = { RootCertificateID: [{ X509IssuerName: 'CN=V2GRoot', X509SerialNumber: 1n }, { X509IssuerName: 'CN=MORoot', X509SerialNumber: 2n ** 70n }] };
  const msg: V2GMessage =
    kind === 'install'
      ? { Header: { SessionID: sessionId }, Body: { CertificateInstallationReq: { Id: 'ID1', OEMProvisioningCert: oem[0]!.der, ListOfRootCertificateIDs: roots } } }
      : {
          Header: { SessionID: sessionId },
          Body: {
            CertificateUpdateReq: {
              Id: 'ID1',
              ContractSignatureCertChain: { Certificate: mo[0]!.der, SubCertificates: { Certificate: [mo[1]!.der, mo[2]!.der] } },
              eMAID: 'DEABC123456789Y',
              ListOfRootCertificateIDs: roots,
            },
          },
        };
  const signer = kind === 'install' ? oem[0]! : mo[0]!;
  const signed = await signV2GMessage(msg, ['ID1'], (d) => ecdsaSignP256(signer.privateKey, d));
  return Buffer.from(encodeV2GMessage(signed)).toString('base64');
}

const contract = (): { certificateChain: Uint8Array[]; privateKey: Uint8Array } => ({ certificateChain: mo.slice(0, 3).map((c) => c.der), privateKey: mo[0]!.privateKey });

describe('Get15118EVCertificate answer (installation)', () => {
  it('echoes the SessionID, signs with the CPS leaf, and delivers a key the EV can decrypt', async () => {
    const sessionId = hex('CDC4C7082010CE5C');
    const exiRequest = await evRequest('install', sessionId);
    const { request, response, assessment } = await answerGet15118EVCertificate(exiRequest, { cps: cpsSigner, issueContract: contract });
    expect(request.kind).toBe('CertificateInstallationReq');
    expect(request.signature.valid).toBe(true);
    // no trust anchors and no CPS root given: those checks are reported as not made, never as passed
    expect(assessment.responseCode).toBe('OK');
    expect(assessment.checks.map((c) => [c.name, c.outcome])).toEqual([
      ['oem-validity', 'skipped'],
      ['oem-chain', 'skipped'],
      ['signature', 'pass'],
      ['root', 'skipped'],
    ]);
    expect(request.rootCertificateIds).toEqual([
      { issuerName: 'CN=V2GRoot', serialNumber: 1n },
      { issuerName: 'CN=MORoot', serialNumber: 2n ** 70n },
    ]);
    expect(response.warnings).toEqual([
      'OEM provisioning certificate chain not checked: no OEM trust anchors configured',
      'ListOfRootCertificateIDs ("CN=V2GRoot" #1, "CN=MORoot" #1180591620717411303424) not checked: no CPS root configured',
    ]);
    expect(response.exiBase64.length).toBeLessThanOrEqual(OCPP_EXI_MAX_BASE64);

    // --- the EV's view: only the base64 exiResponse ---
    const msg = decodeV2GMessage(Buffer.from(response.exiBase64, 'base64'));
    expect(toHex(msg.Header.SessionID)).toBe('CDC4C7082010CE5C');
    const res = msg.Body.CertificateInstallationRes!;
    expect(res.ResponseCode).toBe('OK');
    // the CPS chain: leaf ← Sub-CA 2 ← Sub-CA 1 ← V2G root (the EV has the root)
    const chain = [res.SAProvisioningCertificateChain.Certificate, ...res.SAProvisioningCertificateChain.SubCertificates!.Certificate].map((d) => new X509Certificate(d));
    expect(chain.length).toBe(3);
    expect(chain[0]!.verify(chain[1]!.publicKey)).toBe(true);
    expect(chain[1]!.verify(chain[2]!.publicKey)).toBe(true);
    expect(chain[2]!.verify(new X509Certificate(cps[3]!.der).publicKey)).toBe(true);
    const check = verifyV2GSignature(msg, publicKeyFromCertificate(res.SAProvisioningCertificateChain.Certificate), ['ID1', 'ID2', 'ID3', 'ID4']);
    expect(check.problems).toEqual([]);
    expect(check.valid).toBe(true);
    expect(check.references.map((r) => r.element)).toEqual(['ContractSignatureCertChain', 'ContractSignatureEncryptedPrivateKey', 'DHpublickey', 'eMAID']);
    // the contract private key, decrypted with the OEM provisioning key, matches the contract certificate
    expect(res.ContractSignatureEncryptedPrivateKey.CONTENT.length).toBe(48);
    expect(res.DHpublickey.CONTENT.length).toBe(65);
    const key = decryptContractPrivateKey({ encryptedPrivateKey: res.ContractSignatureEncryptedPrivateKey.CONTENT, dhPublicKey: res.DHpublickey.CONTENT, recipientPrivateKey: oem[0]!.privateKey });
    expect(toHex(p256.getPublicKey(key, false))).toBe(toHex(publicKeyFromCertificate(res.ContractSignatureCertChain.Certificate)));
    expect(res.eMAID.CONTENT).toBe('DEABC123456789Y');
    expect(res.eMAID.CONTENT).toBe(eMAIDFromCertificate(res.ContractSignatureCertChain.Certificate));
  });

  it('answers the real dSPACE CertificateInstallationReq: signature checked, same response layout as the dSPACE CPS', async () => {
    const pcaps = loadVectors('dsV2Gshark-pcaps.json').vectors;
    const reqVec = pcaps.find((v) => v.message === 'CertificateInstallationReq')!;
    const resVec = pcaps.find((v) => v.message === 'CertificateInstallationRes')!;
    const req = parseCertificateInstallationReq(Buffer.from(reqVec.exiHex, 'hex').toString('base64'));
    expect(req.signature.valid).toBe(true);
    expect(req.rootCertificateIds.length).toBe(1);
    expect(req.rootCertificateIds[0]!.issuerName).toMatch(/^DC=V2G,CN=V2G RootCA Test-PKI/);
    const built = await buildCertificateInstallationRes({ sessionId: req.sessionId, cps: cpsSigner, contract: contract(), recipientPublicKey: req.signerPublicKey });
    const mine = decodeV2GMessage(built.exi);
    const theirs = decodeV2GMessage(hex(resVec.exiHex));
    expect(toHex(mine.Header.SessionID)).toBe(toHex(theirs.Header.SessionID));
    expect(Object.keys(mine.Body.CertificateInstallationRes!)).toEqual(Object.keys(theirs.Body.CertificateInstallationRes!));
    expect(mine.Header.Signature!.SignedInfo.Reference.map((r) => r.URI)).toEqual(theirs.Header.Signature!.SignedInfo.Reference.map((r) => r.URI));
  });

  it('fixed ephemeral key and IV reproduce the known-answer ContractSignatureEncryptedPrivateKey', async () => {
    const kat = loadVectors('local-contract-key-encryption-kat.json').vectors[0]! as Record<string, string>;
    const built = await buildCertificateInstallationRes({
      sessionId: new Uint8Array(8),
      cps: cpsSigner,
      contract: { certificateChain: [mo[0]!.der], privateKey: hex(kat.contractPrivateKeyHex!), eMAID: 'DEABC123456789Y' },
      recipientPublicKey: hex(kat.oemProvPublicKeyHex!),
      ephemeralPrivateKey: hex(kat.ephemeralPrivateKeyHex!),
      iv: hex(kat.ivHex!),
    });
    const res = built.message.Body.CertificateInstallationRes!;
    expect(toHex(res.ContractSignatureEncryptedPrivateKey.CONTENT)).toBe(kat.encryptedPrivateKeyWithIvHex);
    expect(toHex(res.DHpublickey.CONTENT)).toBe(kat.dhPublicKeyHex);
    expect(res.ContractSignatureCertChain.SubCertificates).toBeUndefined();
  });

  it('warns when exiResponse exceeds 5,600 base64 characters', async () => {
    // dSPACE-sized certificates (~630 bytes): 4595 bytes EXI = 6128 base64 characters in the capture
    const bigMo = await makeChain('MO', 'DEABC123456789Y', 160);
    const bigCps = await makeChain('CPS', 'CPS Leaf', 160);
    const built = await buildCertificateInstallationRes({
      sessionId: new Uint8Array(8),
      cps: { certificateChain: bigCps.slice(0, 3).map((c) => c.der), sign: (d) => ecdsaSignP256(bigCps[0]!.privateKey, d) },
      contract: { certificateChain: bigMo.slice(0, 3).map((c) => c.der), privateKey: bigMo[0]!.privateKey, eMAID: 'DEABC123456789Y' },
      recipientPublicKey: oem[0]!.publicKey,
    });
    expect(built.exiBase64.length).toBeGreaterThan(OCPP_EXI_MAX_BASE64);
    expect(built.warnings.length).toBe(1);
    expect(built.warnings[0]).toMatch(/over the OCPP 2\.0\.1 Get15118EVCertificate limit of 5600/);
  });

  it('answers FAILED_SignatureError to a request whose signature does not verify (unless told otherwise)', async () => {
    const good = exiBytes(await evRequest('install', hex('0A0B0C0D0E0F1011')));
    const msg = decodeV2GMessage(good);
    msg.Body.CertificateInstallationReq!.ListOfRootCertificateIDs.RootCertificateID.pop();
    const tampered = Buffer.from(encodeV2GMessage(msg)).toString('base64');
    let issued = 0;
    const refused = await answerGet15118EVCertificate(tampered, { cps: cpsSigner, issueContract: () => (issued++, contract()) });
    expect(issued).toBe(0);
    expect(refused.assessment.responseCode).toBe('FAILED_SignatureError');
    expect(refused.assessment.reason).toMatch(/^signature: CertificateInstallationReq signature: Reference #ID1 \(CertificateInstallationReq\): digest [0-9A-F]{64} does not match DigestValue/);
    expect(refused.response.warnings[0]).toMatch(/^CertificateInstallationRes answers FAILED_SignatureError: signature: /);
    // the EV's view: its SessionID, the code, schema-valid placeholders, no signature
    const res = decodeV2GMessage(Buffer.from(refused.response.exiBase64, 'base64'));
    expect(toHex(res.Header.SessionID)).toBe('0A0B0C0D0E0F1011');
    expect(res.Header.Signature).toBeUndefined();
    expect(res.Body.CertificateInstallationRes!.ResponseCode).toBe('FAILED_SignatureError');
    expect(res.Body.CertificateInstallationRes!.ContractSignatureCertChain.Certificate.length).toBe(0);
    const { response, assessment } = await answerGet15118EVCertificate(tampered, { cps: cpsSigner, issueContract: contract, requireValidSignature: false });
    expect(assessment.checks.find((c) => c.name === 'signature')).toMatchObject({ outcome: 'skipped', detail: expect.stringMatching(/^not enforced/) });
    expect(response.message.Body.CertificateInstallationRes!.ResponseCode).toBe('OK');
  });

  it('a CPS signer that does not match the CPS leaf certificate is caught by the self-check', async () => {
    const wrong: CpsSigner = { certificateChain: cpsSigner.certificateChain, sign: (d) => ecdsaSignP256(mo[0]!.privateKey, d) };
    await expect(buildCertificateInstallationRes({ sessionId: new Uint8Array(8), cps: wrong, contract: contract(), recipientPublicKey: oem[0]!.publicKey })).rejects.toThrow(CertificateMessageError);
  });

  it('bad input: not base64, not a certificate request, oversized certificate', async () => {
    expect(() => parseCertificateInstallationReq('not base64!')).toThrow(/not valid base64/);
    const pcaps = loadVectors('dsV2Gshark-pcaps.json').vectors;
    const sessionSetup = pcaps.find((v) => v.message === 'SessionSetupReq')!;
    expect(() => parseCertificateInstallationReq(hex(sessionSetup.exiHex))).toThrow(/expected a CertificateInstallationReq, got SessionSetupReq/);
    await expect(
      buildCertificateInstallationRes({ sessionId: new Uint8Array(8), cps: cpsSigner, contract: { ...contract(), certificateChain: [new Uint8Array(801)], eMAID: 'DEABC123456789Y' }, recipientPublicKey: oem[0]!.publicKey }),
    ).rejects.toThrow(/801 bytes outside 0\.\.800/);
  });
});

describe('Get15118EVCertificate answer (update)', () => {
  it('parses the CertificateUpdateReq, encrypts for the current contract key, builds a signed CertificateUpdateRes', async () => {
    const exiRequest = await evRequest('update', hex('D2C789928CE639E8'));
    const newContract = await makeChain('MO', 'DEABC123456789Y');
    const { request, response } = await answerGet15118EVCertificate(exiRequest, {
      cps: cpsSigner,
      issueContract: () => ({ certificateChain: newContract.slice(0, 3).map((c) => c.der), privateKey: newContract[0]!.privateKey }),
    });
    expect(request.kind).toBe('CertificateUpdateReq');
    expect(request.signature.valid).toBe(true);
    const msg = decodeV2GMessage(response.exi);
    expect(toHex(msg.Header.SessionID)).toBe('D2C789928CE639E8');
    const res = msg.Body.CertificateUpdateRes!;
    expect(verifyV2GSignature(msg, cps[0]!.publicKey, ['ID1', 'ID2', 'ID3', 'ID4']).valid).toBe(true);
    const key = decryptContractPrivateKey({ encryptedPrivateKey: res.ContractSignatureEncryptedPrivateKey.CONTENT, dhPublicKey: res.DHpublickey.CONTENT, recipientPrivateKey: mo[0]!.privateKey });
    expect(toHex(key)).toBe(toHex(newContract[0]!.privateKey));
  });

  it('a signature that verifies but names another algorithm is not valid', async () => {
    const { response } = await answerGet15118EVCertificate(await evRequest('install', hex('0102030405060708')), {
      cps: cpsSigner,
      issueContract: async () => {
        const c = await makeChain('MO', 'DEABC123456789Y');
        return { certificateChain: c.slice(0, 3).map((x) => x.der), privateKey: c[0]!.privateKey };
      },
    });
    const msg = decodeV2GMessage(response.exi);
    expect(verifyV2GSignature(msg, cps[0]!.publicKey).valid).toBe(true);
    const si = msg.Header.Signature!.SignedInfo;
    si.Reference[0]!.DigestMethod.Algorithm = 'http://www.w3.org/2000/09/xmldsig#sha1';
    msg.Header.Signature!.SignatureValue.CONTENT = ecdsaSignP256(cps[0]!.privateKey, encodeSignedInfo(si)); // re-signed: the ECDSA check passes
    const bad = verifyV2GSignature(msg, cps[0]!.publicKey);
    expect(bad.signatureValid).toBe(true);
    expect(bad.valid).toBe(false);
    expect(bad.problems).toContainEqual(expect.stringMatching(/DigestMethod http:\/\/www.w3.org\/2000\/09\/xmldsig#sha1 is not SHA-256/));
  });

  it('the real dSPACE CertificateUpdateReq verifies with its contract certificate', () => {
    const v = loadVectors('dsV2Gshark-pcaps.json').vectors.find((x) => x.message === 'CertificateUpdateReq')!;
    const req = parseCertificateUpdateReq(hex(v.exiHex));
    expect(req.signature.valid).toBe(true);
    expect(req.eMAID).toBe('DEABC123456789Y');
    expect(req.contractCommonName).toBe('DEABC123456789Y');
    expect(req.eMAIDMatches).toBe(true);
    expect(req.contractCertificateChain.length).toBe(3);
  });
});
