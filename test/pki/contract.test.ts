// Contract certificates issued on demand for CertificateInstallationRes (openssl verifies them, OCSP
// knows them), the CPS signer, and certificate parsing errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildOcspRequest,
  cpsSigner,
  generatePki,
  issueContractCertificate,
  issueDeterministicContract,
  OcspResponder,
  parseCertificateChainPem,
  parseCertificatePem,
  privateKeyPem,
  signP256Raw,
  validateContract,
  verifyOcspResponse,
  verifyP256Raw,
  type BenchPki,
} from '../../src/pki/index.ts';
import { OpenSsl } from './openssl.ts';

const DAY = 86_400_000;
let pki: BenchPki;
let ossl: OpenSsl;
beforeAll(() => {
  pki = generatePki({ seed: 'contract-test', notBefore: new Date(Math.floor(Date.now() / DAY) * DAY - DAY), ocspUrl: 'http://127.0.0.1:18484/ocsp' });
  ossl = new OpenSsl();
  for (const [role, { cert }] of pki.entries()) ossl.write(`${role}.pem`, cert.pem);
});
afterAll(() => ossl.cleanup());

describe('contract certificates for CertificateInstallationRes', () => {
  it('issues CN = eMAID under MO Sub-CA 2 with a fresh key; openssl verifies; OCSP knows it', async () => {
    const c = issueContractCertificate(pki, { emaid: 'de-abc-123456789-y' });
    expect(c.emaid).toBe('DEABC123456789Y');
    expect(c.cert.commonName).toBe('DEABC123456789Y');
    expect(c.subCertificates.map((s) => s.commonName)).toEqual(['MOSubCA2', 'MOSubCA1']);
    expect(c.chain[0]).toBe(c.cert);
    expect(c.root.commonName).toBe('MORootCA');
    ossl.write('c.pem', c.cert.pem);
    ossl.write('c.key', privateKeyPem(c.key));
    ossl.write('c.sub.pem', c.subCertificates.map((s) => s.pem).join(''));
    expect(ossl.run(['verify', '-x509_strict', '-CAfile', 'mo-root.pem', '-untrusted', 'c.sub.pem', 'c.pem']).all).toContain('c.pem: OK');
    expect(ossl.ok(['x509', '-in', 'c.pem', '-noout', '-pubkey'])).toBe(ossl.ok(['pkey', '-in', 'c.key', '-pubout']));
    const text = ossl.ok(['x509', '-in', 'c.pem', '-noout', '-text']);
    expect(text).toMatch(/Subject: CN = DEABC123456789Y, O = pnc-bench, C = DE, DC = MO/);
    expect(text).toMatch(/Digital Signature, Key Agreement/);
    expect(text).toContain('OCSP - URI:http://127.0.0.1:18484/ocsp');
    expect(c.cert.der.length).toBeLessThanOrEqual(800);
    const v = verifyOcspResponse(new OcspResponder(pki).respond(buildOcspRequest([{ cert: c.cert, issuer: pki.cert('mo-sub2') }])), { cert: c.cert, issuer: pki.cert('mo-sub2') });
    expect(v).toMatchObject({ ok: true, status: { status: 'good' } });
    expect((await validateContract({ certificate: c.chain, emaid: c.emaid, trustAnchors: pki.contractTrustAnchors(), ocsp: { transport: new OcspResponder(pki).transport } })).status).toBe('Accepted');
  });

  it('two calls give two different keys and serials', () => {
    const a = issueContractCertificate(pki);
    const b = issueContractCertificate(pki);
    expect(a.cert.serialHex).not.toBe(b.cert.serialHex);
    expect(a.key.privateKey).not.toEqual(b.key.privateKey);
    expect(a.emaid).not.toBe(b.emaid);
  });

  it('the deterministic variant repeats byte for byte', () => {
    const nb = new Date('2026-06-01T00:00:00Z');
    const a = issueDeterministicContract(pki, 'DEABC123456789Y', { notBefore: nb });
    const b = issueDeterministicContract(pki, 'DEABC123456789Y', { notBefore: nb });
    expect(Buffer.from(a.cert.der).equals(Buffer.from(b.cert.der))).toBe(true);
    expect(issueDeterministicContract(pki, 'DEABC123456789Y', { notBefore: nb, label: 'second' }).cert.serialHex).not.toBe(a.cert.serialHex);
  });

  it('rejects a bad eMAID with the reason', () => {
    expect(() => issueContractCertificate(pki, { emaid: 'DEABC123456789X' })).toThrow(/^emaid: "DEABC123456789X" has check digit X, expected Y/);
    expect(() => issueContractCertificate(pki, { emaid: 'nope' })).toThrow(/^emaid: "nope" is not an eMAID/);
    expect(() => issueContractCertificate(pki, { validityDays: 0 })).toThrow(/^validityDays: 0 must be > 0/);
  });

  it('the CPS signer: leaf with DC=CPS, its sub-CAs, the V2G root; raw signatures verify', () => {
    const s = cpsSigner(pki);
    expect(s.cert.subjectField('DC')).toEqual(['CPS']);
    expect(s.subCertificates.map((c) => c.commonName)).toEqual(['CPSSubCA2', 'CPSSubCA1']);
    expect(s.root.commonName).toBe('V2GRootCA');
    const data = new TextEncoder().encode('SignedInfo');
    const sig = signP256Raw(s.key, data);
    expect(verifyP256Raw(s.cert.spki, data, sig)).toBe(true);
    expect(signP256Raw(s.key, data)).toEqual(sig);
  });
});

describe('certificate parsing', () => {
  it('names the input and the problem', () => {
    expect(() => parseCertificatePem('junk', 'rigs/a1/pki/x.pem')).toThrow(/^rigs\/a1\/pki\/x.pem: not PEM: no "-----BEGIN CERTIFICATE-----" block found/);
    expect(() => parseCertificatePem('-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n')).toThrow(/^certificate: not a DER X.509 certificate/);
    expect(() => parseCertificatePem('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n')).toThrow(/is not valid base64/);
    expect(() => parseCertificatePem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n')).toThrow(/ends with "END X509 CRL"/);
    expect(() => parseCertificateChainPem(pki.cert('mo-root').pem + pki.cert('mo-sub1').pem.replace('MII', 'AII'), 'chain')).toThrow(/^chain\[1\]: not a DER X.509 certificate/);
  });

  it('parses what openssl reports', () => {
    const c = pki.cert('secc-leaf');
    expect(c.version).toBe(3);
    expect(c.keyUsage).toEqual({ usages: ['digitalSignature', 'keyAgreement'], critical: true });
    expect(c.basicConstraints).toEqual({ ca: false, pathLen: undefined, critical: true });
    expect(c.issuer).toBe('CN=CPOSubCA2, O=pnc-bench, C=DE, DC=V2G');
    expect(`serial=${c.serialHex.toUpperCase()}`).toBe(ossl.ok(['x509', '-in', 'secc-leaf.pem', '-noout', '-serial']).trim().replace(/=0+/, '='));
  });
});
