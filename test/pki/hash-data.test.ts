// Certificate hash data against openssl's CertIDs (`openssl ocsp -req_text`) for SHA256/384/512,
// OCSPRequestData, case-insensitive matching and the OCPP schema checks on incoming data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certificateHashData,
  certificateMatchesHashData,
  generatePki,
  hashDataMatches,
  ocspRequestData,
  parseCertificateHashData,
  PkiInputError,
  type BenchPki,
  type HashAlgorithm,
  type PkiRole,
} from '../../src/pki/index.ts';
import { OpenSsl } from './openssl.ts';

let pki: BenchPki;
let ossl: OpenSsl;
beforeAll(() => {
  pki = generatePki({ seed: 'hash-data-test', notBefore: new Date('2026-01-01T00:00:00Z'), ocspUrl: 'http://127.0.0.1:18282/ocsp' });
  ossl = new OpenSsl();
  for (const [role, { cert }] of pki.entries()) ossl.write(`${role}.pem`, cert.pem);
});
afterAll(() => ossl.cleanup());

/** The CertID openssl computes for `cert` under `issuer` with `digest`. */
function opensslCertId(role: string, issuer: string, digest: string): { nameHash: string; keyHash: string; serial: string } {
  // openssl wraps long hex values with a trailing backslash
  const text = ossl.ok(['ocsp', `-${digest}`, '-issuer', `${issuer}.pem`, '-cert', `${role}.pem`, '-no_nonce', '-req_text']).replace(/\\\n/g, '');
  const get = (label: string) => (new RegExp(`${label}: ([0-9A-F]+)`).exec(text)?.[1] ?? '').toLowerCase();
  return { nameHash: get('Issuer Name Hash'), keyHash: get('Issuer Key Hash'), serial: get('Serial Number') };
}

const CASES: [PkiRole, PkiRole][] = [
  ['contract', 'mo-sub2'],
  ['mo-sub1', 'mo-root'],
  ['secc-leaf', 'cpo-sub2'],
  ['cpo-sub1', 'v2g-root'],
  ['csms-server-rsa', 'csms-ca'],
  ['v2g-root', 'v2g-root'],
];

describe('certificate hash data agrees with openssl CertIDs', () => {
  for (const alg of ['SHA256', 'SHA384', 'SHA512'] as HashAlgorithm[]) {
    it.each(CASES)(`${alg}: %s issued by %s`, (role, issuer) => {
      const h = certificateHashData(pki.cert(role), pki.cert(issuer), alg);
      const o = opensslCertId(role, issuer, alg.toLowerCase());
      expect(h.hashAlgorithm).toBe(alg);
      expect(h.issuerNameHash).toBe(o.nameHash);
      expect(h.issuerKeyHash).toBe(o.keyHash);
      expect(h.serialNumber).toBe(o.serial.replace(/^0+/, ''));
      expect(h.issuerNameHash).toMatch(/^[0-9a-f]+$/);
    });
  }

  it('serialNumber is lower-case hex without leading zeros', () => {
    const serial = certificateHashData(pki.cert('contract'), pki.cert('mo-sub2')).serialNumber;
    expect(serial).toMatch(/^[1-9a-f][0-9a-f]*$/);
    expect(serial).toBe(ossl.ok(['x509', '-in', 'contract.pem', '-noout', '-serial']).trim().replace('serial=', '').toLowerCase().replace(/^0+/, ''));
  });

  it('refuses a wrong issuer and an unknown algorithm with a reason', () => {
    expect(() => certificateHashData(pki.cert('contract'), pki.cert('mo-sub1'))).toThrow(/^issuer: "CN=MOSubCA1.*" is not the issuer of/);
    expect(() => certificateHashData(pki.cert('contract'), pki.cert('mo-sub2'), 'MD5' as HashAlgorithm)).toThrow(/^hashAlgorithm: "MD5" is not one of SHA256, SHA384, SHA512/);
  });
});

describe('OCSPRequestData', () => {
  it('adds the responderURL from authorityInfoAccess', () => {
    expect(ocspRequestData(pki.cert('cpo-sub2'), pki.cert('cpo-sub1'))).toMatchObject({ hashAlgorithm: 'SHA256', responderURL: 'http://127.0.0.1:18282/ocsp', serialNumber: pki.cert('cpo-sub2').serialHex });
  });

  it('a root has no OCSP URL', () => {
    expect(() => ocspRequestData(pki.cert('v2g-root'), pki.cert('v2g-root'))).toThrow(/has no OCSP URL in authorityInfoAccess/);
  });
});

describe('matching incoming hash data', () => {
  const h = () => certificateHashData(pki.cert('mo-root'), pki.cert('mo-root'));

  it('is case-insensitive and ignores leading zeros of the serial', () => {
    const x = h();
    expect(hashDataMatches(x, { ...x, issuerNameHash: x.issuerNameHash.toUpperCase(), issuerKeyHash: x.issuerKeyHash.toUpperCase(), serialNumber: `00${x.serialNumber.toUpperCase()}` })).toBe(true);
    expect(certificateMatchesHashData(pki.cert('mo-root'), pki.cert('mo-root'), { ...x, issuerKeyHash: x.issuerKeyHash.toUpperCase() })).toBe(true);
  });

  it('does not match another certificate, algorithm or key', () => {
    const x = h();
    expect(hashDataMatches(x, certificateHashData(pki.cert('v2g-root'), pki.cert('v2g-root')))).toBe(false);
    expect(hashDataMatches(x, { ...x, hashAlgorithm: 'SHA384' })).toBe(false);
    const flipLast = (hex: string) => `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`;
    expect(hashDataMatches(x, { ...x, issuerKeyHash: flipLast(x.issuerKeyHash) })).toBe(false);
    expect(certificateMatchesHashData(pki.cert('contract'), pki.cert('mo-sub2'), x)).toBe(false);
    // SHA384 hash data matches only when computed with SHA384
    const x384 = certificateHashData(pki.cert('contract'), pki.cert('mo-sub2'), 'SHA384');
    expect(certificateMatchesHashData(pki.cert('contract'), pki.cert('mo-sub2'), x384)).toBe(true);
  });
});

describe('parseCertificateHashData (OCPP schema)', () => {
  const good = () => ({ ...certificateHashData(pki.cert('contract'), pki.cert('mo-sub2')), responderURL: 'http://x/ocsp' });

  it('accepts schema-valid data', () => {
    expect(parseCertificateHashData(good(), 'data', true)).toEqual(good());
    expect(parseCertificateHashData({ ...good(), issuerNameHash: good().issuerNameHash.toUpperCase() })).toMatchObject({ hashAlgorithm: 'SHA256' });
  });

  it.each([
    [{ hashAlgorithm: 'SHA1' }, 'hashData.hashAlgorithm: "SHA1" is not one of SHA256, SHA384, SHA512'],
    [{ issuerNameHash: 'zz' }, 'hashData.issuerNameHash: "zz" is not hex'],
    [{ issuerKeyHash: 'ab' }, 'hashData.issuerKeyHash: 2 hex characters; SHA256 needs 64'],
    [{ serialNumber: '' }, 'hashData.serialNumber: "" must be 1..40 hex characters'],
    [{ serialNumber: 'a'.repeat(41) }, `hashData.serialNumber: "${'a'.repeat(41)}" must be 1..40 hex characters`],
    [{ serialNumber: 12345 }, 'hashData.serialNumber: 12345 must be 1..40 hex characters'],
  ])('%j → %s', (patch, msg) => {
    expect(() => parseCertificateHashData({ ...good(), ...patch })).toThrow(new PkiInputError(msg.split(': ')[0] as string, msg.slice(msg.indexOf(': ') + 2)));
  });

  it('requires responderURL for OCSPRequestData', () => {
    const { responderURL: _u, ...noUrl } = good();
    expect(() => parseCertificateHashData(noUrl, 'ocspRequestData', true)).toThrow(/^ocspRequestData.responderURL: must be a string of 1..512 characters/);
    expect(() => parseCertificateHashData('x')).toThrow(/^hashData: must be an object/);
  });
});
