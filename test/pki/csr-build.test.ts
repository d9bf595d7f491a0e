// The charger-side CSR builder (src/pki/csr-build.ts): openssl verifies the request's self-signature and
// reads the subject back; the CSMS side (signCsr, 'secc' profile) accepts it and issues a certificate for
// the same key; a tampered request fails both; bad input is a PkiInputError naming the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildCsrDer,
  buildCsrPem,
  derToPem,
  generatePki,
  generateP256KeyPair,
  PkiInputError,
  signCsr,
  spkiDer,
  type BenchPki,
  type P256KeyPair,
} from '../../src/pki/index.ts';
import { OpenSsl } from './openssl.ts';

let pki: BenchPki;
let ossl: OpenSsl;
let key: P256KeyPair;
const SUBJECT = { CN: 'DEPNB1VIRTUAL1', O: 'PNCBENCH', C: 'DE', DC: 'CPO' };

beforeAll(() => {
  pki = generatePki({ seed: 'csr-build-test', organization: 'PNCBENCH', ocspUrl: 'http://127.0.0.1:18384/ocsp' });
  ossl = new OpenSsl();
  key = generateP256KeyPair();
});
afterAll(() => ossl.cleanup());

describe('buildCsrPem', () => {
  it('openssl req -verify accepts the self-signature and shows subject, key and algorithm', () => {
    ossl.write('r.pem', buildCsrPem(key, SUBJECT));
    const v = ossl.run(['req', '-in', 'r.pem', '-verify', '-noout']);
    expect(v.code, v.all).toBe(0);
    expect(v.all).toContain('self-signature verify OK');
    const t = ossl.run(['req', '-in', 'r.pem', '-noout', '-text', '-nameopt', 'RFC2253']);
    expect(t.code, t.all).toBe(0);
    expect(t.stdout).toContain('DC=CPO,C=DE,O=PNCBENCH,CN=DEPNB1VIRTUAL1');
    expect(t.stdout).toContain('ecdsa-with-SHA256');
    expect(t.stdout).toMatch(/ASN1 OID: prime256v1/);
    expect(t.stdout).toMatch(/Attributes:\s*\n\s*(\(none\)|a0:00)/);
  });

  it('the public key openssl extracts equals spkiDer(key)', () => {
    ossl.write('r2.der', buildCsrDer(key, SUBJECT));
    const r = ossl.run(['req', '-inform', 'DER', '-in', 'r2.der', '-noout', '-pubkey']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toBe(derToPem(spkiDer(key), 'PUBLIC KEY'));
  });

  it('signCsr (secc profile) accepts it and issues a DC=CPO leaf for the same key under CPO Sub-CA 2', async () => {
    const r = await signCsr(pki, buildCsrPem(key, SUBJECT), { profile: 'secc', cpoName: 'PNCBENCH' });
    if (!r.ok) throw new Error(`${r.code}: ${r.reason}`);
    expect(Buffer.from(r.cert.spki)).toEqual(Buffer.from(spkiDer(key)));
    expect(r.cert.subject).toBe('CN=DEPNB1VIRTUAL1, O=PNCBENCH, C=DE, DC=CPO');
    expect(r.cert.issuer).toBe(pki.cert('cpo-sub2').subject);
  });

  it('a request without DC=CPO or with the wrong O is refused by signCsr with its code', async () => {
    const noDc = await signCsr(pki, buildCsrPem(key, { CN: 'DEPNB1VIRTUAL1', O: 'PNCBENCH', C: 'DE' }), { profile: 'secc' });
    expect(noDc).toMatchObject({ ok: false, code: 'missing-subject-field' });
    const wrongO = await signCsr(pki, buildCsrPem(key, { ...SUBJECT, O: 'OTHER' }), { profile: 'secc', cpoName: 'PNCBENCH' });
    expect(wrongO).toMatchObject({ ok: false, code: 'wrong-organization' });
  });

  it('a flipped bit in the signed part fails openssl -verify and signCsr (bad-signature)', async () => {
    const der = Buffer.from(buildCsrDer(key, SUBJECT));
    const at = der.indexOf(Buffer.from('DEPNB1VIRTUAL1'));
    der[at] = (der[at] as number) ^ 0x01; // "EEPNB1VIRTUAL1"
    ossl.write('bad.der', der);
    // openssl 3.0 exits 0 here but says so (3.2+ exits 1)
    const v = ossl.run(['req', '-inform', 'DER', '-in', 'bad.der', '-verify', '-noout']);
    expect(v.all).toContain('self-signature verify failure');
    expect(v.all).not.toContain('verify OK');
    const r = await signCsr(pki, derToPem(der, 'CERTIFICATE REQUEST'), { profile: 'secc' });
    expect(r).toMatchObject({ ok: false, code: 'bad-signature' });
  });

  it('bad input is a PkiInputError naming the field', () => {
    expect(() => buildCsrPem(key, {})).toThrow(/csr\.subject: needs at least one attribute/);
    expect(() => buildCsrPem(key, { ...SUBJECT, C: 'Deu' })).toThrow(/csr\.subject\.C: "Deu" is not two upper-case letters/);
    expect(() => buildCsrPem(key, { ...SUBJECT, CN: 'x'.repeat(65) })).toThrow(/csr\.subject\.CN: .* 65 characters; at most 64/);
    expect(() => buildCsrPem(key, { ...SUBJECT, O: '' })).toThrow(PkiInputError);
    expect(() => buildCsrPem({ type: 'rsa' } as unknown as P256KeyPair, SUBJECT)).toThrow(/csr\.key: must be a P-256 key pair/);
  });
});
