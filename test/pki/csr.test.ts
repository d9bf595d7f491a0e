// CSR signing with CSRs made by `openssl req`: SECC (V2G) and ChargePointCertificate profiles signed and
// verified by openssl; wrong curve, small key, SHA-1/384, tampered signature, wrong subject rejected with
// their codes; mutated CSRs never crash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePki, OcspResponder, signCsr, verifyOcspResponse, buildOcspRequest, type BenchPki, type CsrSignResult } from '../../src/pki/index.ts';
import { OpenSsl } from './openssl.ts';

const DAY = 86_400_000;
let pki: BenchPki;
let ossl: OpenSsl;
let n = 0;

beforeAll(() => {
  pki = generatePki({ seed: 'csr-test', notBefore: new Date(Math.floor(Date.now() / DAY) * DAY - DAY), ocspUrl: 'http://127.0.0.1:18383/ocsp', organization: 'ACME CPO' });
  ossl = new OpenSsl();
  for (const [role, { cert }] of pki.entries()) ossl.write(`${role}.pem`, cert.pem);
});
afterAll(() => ossl.cleanup());

/** A CSR made by `openssl req` with a fresh key from `keyArgs` (genpkey arguments). */
function opensslCsr(subject: string, keyArgs: string[], extra: string[] = []): string {
  const id = ++n;
  ossl.ok(['genpkey', ...keyArgs, '-out', `k${id}.pem`]);
  ossl.ok(['req', '-new', '-key', `k${id}.pem`, '-subj', subject, '-out', `r${id}.pem`, ...extra]);
  return ossl.read(`r${id}.pem`).toString();
}
const P256 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
const P384 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'];
const K256 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'];
const RSA = (bits: number) => ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`];
const SECC_SUBJ = '/CN=DEPNX100001/O=ACME CPO/C=DE/DC=CPO';

function expectOk(r: CsrSignResult): asserts r is Extract<CsrSignResult, { ok: true }> {
  if (!r.ok) throw new Error(`rejected: ${r.code}: ${r.reason}`);
}

describe('SECC (V2G) CSRs', () => {
  it('signs an openssl P-256 CSR under CPO Sub-CA 2; openssl verifies the chain and shows the profile', async () => {
    const r = await signCsr(pki, opensslCsr(SECC_SUBJ, P256), { profile: 'secc', cpoName: 'ACME CPO' });
    expectOk(r);
    ossl.write('secc-new.pem', r.cert.pem);
    ossl.write('secc-new.chain.pem', r.chainPem);
    ossl.write('secc-untrusted.pem', r.chain.slice(1).map((c) => c.pem).join(''));
    const v = ossl.run(['verify', '-x509_strict', '-CAfile', 'v2g-root.pem', '-untrusted', 'secc-untrusted.pem', 'secc-new.pem']);
    expect(v.all).toContain('secc-new.pem: OK');
    const text = ossl.ok(['x509', '-in', 'secc-new.pem', '-noout', '-text']);
    expect(text).toMatch(/Issuer: CN = CPOSubCA2, O = ACME CPO, C = DE, DC = V2G/);
    expect(text).toMatch(/Subject: CN = DEPNX100001, O = ACME CPO, C = DE, DC = CPO/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s*CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s*Digital Signature, Key Agreement/);
    expect(text).toContain('OCSP - URI:http://127.0.0.1:18383/ocsp');
    expect(r.cert.notAfter.getTime() - r.cert.notBefore.getTime()).toBe(60 * DAY);
    // chain order for CertificateSigned: leaf, CPO Sub-CA 2, CPO Sub-CA 1
    expect(r.chain.map((c) => c.commonName)).toEqual(['DEPNX100001', 'CPOSubCA2', 'CPOSubCA1']);
    // the key in the certificate is the CSR's key
    expect(ossl.ok(['x509', '-in', 'secc-new.pem', '-noout', '-pubkey'])).toBe(ossl.ok(['pkey', '-in', `k${n}.pem`, '-pubout']));
    // the OCSP responder knows the new certificate
    const resp = new OcspResponder(pki).respond(buildOcspRequest([{ cert: r.cert, issuer: pki.cert('cpo-sub2') }]));
    expect(verifyOcspResponse(resp, { cert: r.cert, issuer: pki.cert('cpo-sub2') })).toMatchObject({ ok: true, status: { status: 'good' } });
  });

  it.each([
    ['wrong curve (P-384)', SECC_SUBJ, P384, [], 'wrong-curve', /EC key on secp384r1; a V2G SECC key must be secp256r1/],
    ['RSA key', SECC_SUBJ, RSA(2048), [], 'unsupported-key-type', /RSA key; a V2G SECC key must be EC/],
    ['missing DC', '/CN=DEPNX100001/O=ACME CPO/C=DE', P256, [], 'missing-subject-field', /subject has no DC/],
    ['DC=V2G', '/CN=DEPNX100001/O=ACME CPO/C=DE/DC=V2G', P256, [], 'wrong-domain-component', /subject DC is V2G, a V2G SECC certificate needs DC=CPO/],
    ['other CPO', '/CN=DEPNX100001/O=Other CPO/C=DE/DC=CPO', P256, [], 'wrong-organization', /subject O "Other CPO" is not the CPO name "ACME CPO"/],
    ['no country', '/CN=DEPNX100001/O=ACME CPO/DC=CPO', P256, [], 'missing-subject-field', /subject has no C/],
    ['bad country', '/CN=DEPNX100001/O=ACME CPO/C=de/DC=CPO', P256, [], 'invalid-country', /subject C "de" is not two upper-case letters/],
    ['SHA-384 signature', SECC_SUBJ, P256, ['-sha384'], 'unsupported-signature-algorithm', /ecdsa-with-SHA384; a V2G CSR must use ecdsa-with-SHA256/],
  ])('rejects %s', async (_name, subj, key, extra, code, reason) => {
    const r = await signCsr(pki, opensslCsr(subj, key, extra), { profile: 'secc', cpoName: 'ACME CPO' });
    expect(r).toMatchObject({ ok: false, code });
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('rejects a CSR whose signature was tampered with', async () => {
    const pem = opensslCsr(SECC_SUBJ, P256);
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.length - 3] = (der[der.length - 3] as number) ^ 0x01; // inside the ECDSA signature's s value
    ossl.write('tampered.der', der);
    // openssl agrees that the signature is broken
    expect(ossl.run(['req', '-inform', 'DER', '-in', 'tampered.der', '-verify', '-noout']).all).toMatch(/verify failure|Certificate request self-signature did not match/i);
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const r = await signCsr(pki, tampered, { profile: 'secc' });
    expect(r).toMatchObject({ ok: false, code: 'bad-signature' });
    if (!r.ok) expect(r.reason).toMatch(/signature does not verify with the public key in the request/);
  });

  it('rejects a CSR whose subject was swapped after signing', async () => {
    // Re-sign is impossible without the key: take the body of one CSR and the signature of another.
    const a = Buffer.from(opensslCsr(SECC_SUBJ, P256).replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    const keyFile = `k${n}.pem`;
    ossl.ok(['req', '-new', '-key', keyFile, '-subj', '/CN=DEPNX999999/O=ACME CPO/C=DE/DC=CPO', '-out', 'other.der', '-outform', 'DER']);
    const b = ossl.read('other.der');
    // a = SEQ{ infoA, alg, sigA }, b = SEQ{ infoB, alg, sigB }: build SEQ{ infoB, alg, sigA }
    const parts = (d: Buffer) => {
      const hdr = d[1]! & 0x80 ? 2 + (d[1]! & 0x7f) : 2;
      const infoLen = (d[hdr + 1]! & 0x80 ? 2 + (d[hdr + 1]! & 0x7f) : 2) + (d[hdr + 1]! & 0x80 ? d.readUIntBE(hdr + 2, d[hdr + 1]! & 0x7f) : d[hdr + 1]!);
      return { info: d.subarray(hdr, hdr + infoLen), rest: d.subarray(hdr + infoLen) };
    };
    const body = Buffer.concat([parts(b).info, parts(a).rest]);
    const len = body.length < 0x80 ? Buffer.from([body.length]) : body.length < 0x100 ? Buffer.from([0x81, body.length]) : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
    const spliced = Buffer.concat([Buffer.from([0x30]), len, body]);
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${spliced.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect((await signCsr(pki, pem, { profile: 'secc' })).ok).toBe(false);
    expect(await signCsr(pki, pem, { profile: 'secc' })).toMatchObject({ code: 'bad-signature' });
  });

  it('rejects input that is not a CSR', async () => {
    expect(await signCsr(pki, 'hello', { profile: 'secc' })).toMatchObject({ ok: false, code: 'malformed-pem', reason: expect.stringMatching(/^csr: not PEM/) });
    expect(await signCsr(pki, pki.cert('v2g-root').pem, { profile: 'secc' })).toMatchObject({ ok: false, code: 'malformed-pem', reason: expect.stringMatching(/expected a PEM "CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST" block, found "CERTIFICATE"/) });
    const junk = `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from('not der at all').toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(await signCsr(pki, junk, { profile: 'secc' })).toMatchObject({ ok: false, code: 'malformed-der' });
  });
});

describe('OCPP 1.6 ChargePointCertificate CSRs', () => {
  const opts = { profile: 'charge-point' as const, cpoName: 'ACME CPO', chargePointSerial: 'CP-000123' };

  it.each([
    ['RSA 2048', RSA(2048), 'Key Encipherment'],
    ['EC P-256', P256, 'Key Agreement'],
    ['EC P-384', P384, 'Key Agreement'],
  ])('signs %s under the CSMS CA with clientAuth; openssl verifies', async (_name, key, ku) => {
    const r = await signCsr(pki, opensslCsr('/CN=CP-000123/O=ACME CPO/C=DE', key), opts);
    expectOk(r);
    ossl.write('cp.pem', r.cert.pem);
    expect(ossl.run(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', 'csms-ca.pem', 'cp.pem']).all).toContain('cp.pem: OK');
    const text = ossl.ok(['x509', '-in', 'cp.pem', '-noout', '-text']);
    expect(text).toMatch(/Issuer: CN = CSMSRootCA/);
    expect(text).toMatch(/Subject: CN = CP-000123, O = ACME CPO, C = DE/);
    expect(text).toContain(`Digital Signature, ${ku}`);
    expect(text).toContain('TLS Web Client Authentication');
    expect(text).not.toContain('Authority Information Access');
    expect(r.chain).toHaveLength(1);
    expect(r.root.commonName).toBe('CSMSRootCA');
  });

  it.each([
    ['O is not the CPO name', '/CN=CP-000123/O=Someone Else', P256, 'wrong-organization', /subject O "Someone Else" is not the CPO name "ACME CPO"/],
    ['CN is not the serial', '/CN=CP-999/O=ACME CPO', P256, 'wrong-common-name', /subject CN "CP-999" is not the charge point serial number "CP-000123"/],
    ['no O', '/CN=CP-000123', P256, 'missing-subject-field', /subject has no O/],
    ['two CNs', '/CN=CP-000123/CN=attacker.example/O=ACME CPO', P256, 'repeated-subject-field', /subject has 2 CN attributes; exactly one is allowed/],
    ['RSA 1024', '/CN=CP-000123/O=ACME CPO', RSA(1024), 'key-too-small', /RSA key of 1024 bits; at least 2048 required/],
    ['secp256k1', '/CN=CP-000123/O=ACME CPO', K256, 'wrong-curve', /EC key on secp256k1; accepted curves are P-256, P-384, P-521/],
  ])('rejects: %s', async (_name, subj, key, code, reason) => {
    const r = await signCsr(pki, opensslCsr(subj, key), opts);
    expect(r).toMatchObject({ ok: false, code });
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('rejects a SHA-1 signature', async () => {
    const r = await signCsr(pki, opensslCsr('/CN=CP-000123/O=ACME CPO', RSA(2048), ['-sha1']), opts);
    expect(r).toMatchObject({ ok: false, code: 'unsupported-signature-algorithm' });
  });

  it('missing profile parameters are a caller error, named', async () => {
    await expect(signCsr(pki, 'x', { profile: 'charge-point' })).rejects.toThrow(/^cpoName: required for the charge-point profile/);
    await expect(signCsr(pki, 'x', { profile: 'charge-point', cpoName: 'ACME CPO' })).rejects.toThrow(/^chargePointSerial: required/);
    await expect(signCsr(pki, 'x', { profile: 'other' as 'secc' })).rejects.toThrow(/^profile: "other" is not/);
  });
});

describe('robustness', () => {
  it('a mutated CSR is signed or rejected with a code, never a crash', async () => {
    const { default: fc } = await import('fast-check');
    const pem = opensslCsr(SECC_SUBJ, P256);
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: der.length - 1 }), fc.integer({ min: 0, max: 255 }), async (pos, val) => {
        const m = Buffer.from(der);
        m[pos] = val;
        const r = await signCsr(pki, `-----BEGIN CERTIFICATE REQUEST-----\n${m.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`, { profile: 'secc' });
        if (!r.ok) expect(r.reason).toMatch(/^csr: /);
      }),
      { numRuns: 500 },
    );
  });
});
