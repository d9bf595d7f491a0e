// The generated hierarchy with openssl as the oracle: every chain verifies (-x509_strict), `x509 -text`
// shows the profile of every role, keys match certificates, the RSA key passes `rsa -check`, the
// CSMS server certificates serve TLS 1.2 for all four OCPP 1.6 security suites, and determinism.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generatePki,
  MAX_CERTIFICATE_BYTES,
  PKI_ROLES,
  privateKeyPem,
  ROLE_PROFILES,
  type BenchPki,
  type KeyUsageType,
  type PkiRole,
} from '../../src/pki/index.ts';
import { OpenSsl } from './openssl.ts';

const DAY = 86_400_000;
const notBefore = new Date(Math.floor(Date.now() / DAY) * DAY - DAY);
const OCSP_URL = 'http://127.0.0.1:18080/ocsp';

let pki: BenchPki;
let ossl: OpenSsl;

beforeAll(() => {
  pki = generatePki({ seed: 'hierarchy-test', notBefore, ocspUrl: OCSP_URL });
  ossl = new OpenSsl();
  for (const [role, { cert, key }] of pki.entries()) {
    ossl.write(`${role}.pem`, cert.pem);
    ossl.write(`${role}.key`, privateKeyPem(key));
  }
});
afterAll(() => ossl.cleanup());

const KU_TEXT: Record<KeyUsageType, string> = {
  digitalSignature: 'Digital Signature',
  nonRepudiation: 'Non Repudiation',
  keyEncipherment: 'Key Encipherment',
  dataEncipherment: 'Data Encipherment',
  keyAgreement: 'Key Agreement',
  keyCertSign: 'Certificate Sign',
  crlSign: 'CRL Sign',
  encipherOnly: 'Encipher Only',
  decipherOnly: 'Decipher Only',
};

describe('hierarchy: openssl verify accepts every chain', () => {
  const leaves = PKI_ROLES.filter((r) => !ROLE_PROFILES[r].ca);
  it.each(leaves)('%s chains to its root (x509_strict)', (role) => {
    const chain = pki.chain(role);
    ossl.write(`${role}.untrusted.pem`, chain.slice(1).map((c) => c.pem).join(''));
    const root = pki.rootRole(role);
    const args = ['verify', '-x509_strict', '-CAfile', `${root}.pem`];
    if (chain.length > 1) args.push('-untrusted', `${role}.untrusted.pem`);
    const r = ossl.run([...args, `${role}.pem`]);
    expect(r.all).toContain(`${role}.pem: OK`);
    expect(r.code).toBe(0);
  });

  it('a leaf does not verify against the wrong root', () => {
    ossl.write('secc.untrusted.pem', pki.chain('secc-leaf').slice(1).map((c) => c.pem).join(''));
    const r = ossl.run(['verify', '-CAfile', 'mo-root.pem', '-untrusted', 'secc.untrusted.pem', 'secc-leaf.pem']);
    expect(r.code).not.toBe(0);
    expect(r.all).toMatch(/unable to get (local )?issuer certificate/);
  });

  it('the expected chain shapes (reference §4.1)', () => {
    const cn = (role: PkiRole) => pki.chain(role, { includeRoot: true }).map((c) => c.commonName);
    expect(cn('secc-leaf')).toEqual(['SECCCert', 'CPOSubCA2', 'CPOSubCA1', 'V2GRootCA']);
    expect(cn('cps-leaf')).toEqual(['CPSLeaf', 'CPSSubCA2', 'CPSSubCA1', 'V2GRootCA']);
    expect(cn('contract')).toEqual([pki.emaid, 'MOSubCA2', 'MOSubCA1', 'MORootCA']);
    expect(cn('oem-prov')).toEqual(['OEMProvCert', 'OEMSubCA2', 'OEMSubCA1', 'OEMRootCA']);
    expect(cn('csms-server-rsa')).toEqual(['localhost', 'CSMSRootCA']);
  });
});

describe('hierarchy: openssl x509 -text shows the profile', () => {
  it.each(PKI_ROLES)('%s', (role) => {
    const prof = ROLE_PROFILES[role];
    const text = ossl.ok(['x509', '-in', `${role}.pem`, '-noout', '-text']);
    expect(text).toContain('Version: 3 (0x2)');
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    const subject = /Subject: (.*)/.exec(text)?.[1] ?? '';
    expect(subject).toContain(`CN = ${role === 'contract' ? pki.emaid : prof.commonName}`);
    expect(subject).toContain('O = pnc-bench');
    expect(subject).toContain('C = DE');
    if (prof.domainComponent) expect(subject).toContain(`DC = ${prof.domainComponent}`);
    else expect(subject).not.toContain('DC =');
    // basicConstraints critical, with pathlen where the profile has one
    const bc = /X509v3 Basic Constraints: (critical)?\n\s*(.*)/.exec(text);
    expect(bc?.[1]).toBe('critical');
    expect(bc?.[2]).toBe(prof.ca ? `CA:TRUE${prof.pathLen !== undefined ? `, pathlen:${prof.pathLen}` : ''}` : 'CA:FALSE');
    // keyUsage critical with exactly the profile's bits
    const ku = /X509v3 Key Usage: (critical)?\n\s*(.*)/.exec(text);
    expect(ku?.[1]).toBe('critical');
    expect(ku?.[2]?.split(', ').sort()).toEqual(prof.keyUsage.map((u) => KU_TEXT[u]).sort());
    // key type
    if (prof.keyType === 'rsa-2048') expect(text).toContain('Public-Key: (2048 bit)');
    else expect(text).toMatch(/ASN1 OID: prime256v1/);
    // OCSP in AIA exactly for the profile's roles
    if (prof.ocsp) expect(text).toContain(`OCSP - URI:${OCSP_URL}`);
    else expect(text).not.toContain('Authority Information Access');
    expect(text).toContain('X509v3 Subject Key Identifier');
    if (prof.issuer) expect(text).toContain('X509v3 Authority Key Identifier');
    if (prof.serverNames) expect(text).toMatch(/DNS:localhost, IP Address:127\.0\.0\.1/);
    if (prof.extKeyUsage) expect(text).toContain('TLS Web Server Authentication');
    // validity per role
    const dates = ossl.ok(['x509', '-in', `${role}.pem`, '-noout', '-startdate', '-enddate']);
    const start = new Date(/notBefore=(.*)/.exec(dates)?.[1] ?? '');
    const end = new Date(/notAfter=(.*)/.exec(dates)?.[1] ?? '');
    expect(start.getTime()).toBe(notBefore.getTime());
    expect(end.getTime() - start.getTime()).toBe(prof.validityDays * DAY);
  });

  it('hand-checked values from the reference profile table', () => {
    const text = (role: PkiRole) => ossl.ok(['x509', '-in', `${role}.pem`, '-noout', '-text']);
    expect(text('cpo-sub1')).toMatch(/CA:TRUE, pathlen:1/);
    expect(text('cpo-sub2')).toMatch(/CA:TRUE, pathlen:0/);
    expect(text('v2g-root')).toMatch(/CA:TRUE\n/);
    expect(text('secc-leaf')).toMatch(/DC = CPO/);
    expect(text('secc-leaf')).toMatch(/Digital Signature, Key Agreement/);
    expect(text('contract')).toMatch(new RegExp(`CN = ${pki.emaid}, O = pnc-bench, C = DE, DC = MO`));
    expect(text('mo-sub2')).toMatch(/Certificate Sign, CRL Sign/);
  });

  it('ISO 15118 certificates fit the 800-byte certificateType limit', () => {
    for (const [role, { cert }] of pki.entries()) {
      if (!role.startsWith('csms')) expect(cert.der.length, role).toBeLessThanOrEqual(MAX_CERTIFICATE_BYTES);
    }
  });

  it('serials are positive, at most 20 bytes, and unique', () => {
    const serials = new Set<string>();
    for (const [role] of pki.entries()) {
      const out = ossl.ok(['x509', '-in', `${role}.pem`, '-noout', '-serial']).trim();
      const hex = out.replace('serial=', '').toLowerCase();
      expect(hex.length).toBeLessThanOrEqual(40);
      expect(Number.parseInt(hex.slice(0, 2), 16)).toBeLessThan(0x80);
      expect(hex.replace(/^0+/, '')).toBe(pki.cert(role).serialHex);
      serials.add(hex);
    }
    expect(serials.size).toBe(PKI_ROLES.length);
  });
});

describe('hierarchy: keys', () => {
  it.each(PKI_ROLES)('%s key belongs to its certificate (openssl pkey vs x509 -pubkey)', (role) => {
    const fromCert = ossl.ok(['x509', '-in', `${role}.pem`, '-noout', '-pubkey']);
    const fromKey = ossl.ok(['pkey', '-in', `${role}.key`, '-pubout']);
    expect(fromKey).toBe(fromCert);
  });

  it('the RSA server key is a valid 2048-bit RSA key (openssl rsa -check)', () => {
    const r = ossl.run(['rsa', '-in', 'csms-server-rsa.key', '-check', '-noout']);
    expect(r.all).toContain('RSA key ok');
    expect(ossl.ok(['rsa', '-in', 'csms-server-rsa.key', '-noout', '-text'])).toContain('Private-Key: (2048 bit, 2 primes)');
  });
});

describe('hierarchy: determinism', () => {
  it('same seed and not-before → byte-identical certificates and keys', () => {
    const again = generatePki({ seed: 'hierarchy-test', notBefore, ocspUrl: OCSP_URL });
    for (const role of PKI_ROLES) {
      expect(Buffer.from(again.cert(role).der).equals(Buffer.from(pki.cert(role).der)), role).toBe(true);
      expect(privateKeyPem(again.get(role).key)).toBe(privateKeyPem(pki.get(role).key));
    }
    expect(again.emaid).toBe(pki.emaid);
  });

  it('same seed, other not-before → same keys, subjects and serials, other certificates', () => {
    const later = generatePki({ seed: 'hierarchy-test', notBefore: new Date(notBefore.getTime() + DAY), ocspUrl: OCSP_URL });
    for (const role of PKI_ROLES) {
      const a = pki.cert(role);
      const b = later.cert(role);
      expect(b.serialHex).toBe(a.serialHex);
      expect(b.subject).toBe(a.subject);
      expect(Buffer.from(b.spki).equals(Buffer.from(a.spki))).toBe(true);
      expect(Buffer.from(b.der).equals(Buffer.from(a.der))).toBe(false);
    }
  });

  it('another seed → other keys, serials and eMAID', () => {
    const other = generatePki({ seed: 'hierarchy-test-2', notBefore, ocspUrl: OCSP_URL });
    for (const role of PKI_ROLES) {
      expect(other.cert(role).serialHex).not.toBe(pki.cert(role).serialHex);
      expect(Buffer.from(other.cert(role).spki).equals(Buffer.from(pki.cert(role).spki))).toBe(false);
    }
    expect(other.emaid).not.toBe(pki.emaid);
  });

  it('no OCSP URL → no authorityInfoAccess anywhere', () => {
    const plain = generatePki({ seed: 'hierarchy-test', notBefore });
    for (const role of PKI_ROLES) expect(plain.cert(role).ocspUrls).toEqual([]);
  });
});

describe('hierarchy: bad options are named', () => {
  it.each([
    [{ seed: '' }, /^seed: must be a non-empty string/],
    [{ ocspUrl: 'ftp://x/ocsp' }, /^ocspUrl: "ftp:\/\/x\/ocsp" must be an http:\/\/ or https:\/\/ URL/],
    [{ ocspUrl: 'not a url' }, /^ocspUrl: "not a url" is not a URL/],
    [{ notBefore: new Date('x') }, /^notBefore: must be a valid date/],
    [{ notBefore: new Date(1_700_000_000_500) }, /^notBefore: .* fractions of a second/],
    [{ country: 'Germany' }, /^country: "Germany" must be two upper-case letters/],
    [{ emaid: 'UKSWI123456791A' }, /^emaid: "UKSWI123456791A" has check digit A, expected 5/],
  ])('%j', (opts, msg) => {
    expect(() => generatePki({ seed: 's', ...opts })).toThrow(msg);
  });
});

describe('hierarchy: the CSMS TLS server certificates work for OCPP 1.6 security', () => {
  it.each([
    ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ecdsa'],
    ['ECDHE-ECDSA-AES256-GCM-SHA384', 'ecdsa'],
    ['AES128-GCM-SHA256', 'rsa'],
    ['AES256-GCM-SHA384', 'rsa'],
  ])('openssl s_client with %s verifies against the CSMS root', async (cipher, keyType) => {
    const tls = await import('node:tls');
    const ecdsa = pki.get('csms-server-ecdsa');
    const rsa = pki.get('csms-server-rsa');
    const server = tls.createServer({
      key: [privateKeyPem(ecdsa.key), privateKeyPem(rsa.key)],
      cert: [ecdsa.cert.pem, rsa.cert.pem],
      minVersion: 'TLSv1.2',
      ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:AES128-GCM-SHA256:AES256-GCM-SHA384',
    }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as import('node:net').AddressInfo).port;
    try {
      const r = await ossl.runAsync(['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-tls1_2', '-cipher', cipher, '-CAfile', 'csms-ca.pem', '-verify_return_error', '-verify_hostname', 'localhost']);
      expect(r.all).toContain('Verify return code: 0 (ok)');
      expect(r.all).toMatch(new RegExp(`Cipher is ${cipher}`));
      // the certificate matching the suite was served: RSA 2048 or EC 256
      expect(r.all).toContain(keyType === 'rsa' ? 'Server public key is 2048 bit' : 'Server public key is 256 bit');
    } finally {
      server.close();
    }
  });
});
