// Security profiles at the handshake, with real TLS on 127.0.0.1 and the bench PKI:
//   1  Basic auth: the AuthorizationKey raw or as hex text (configurable), binary keys, identities with
//      colons; wrong password / wrong user / no header → 401; over TLS → 400
//   2  TLS 1.2+ with ECDSA and RSA server certificates (all four whitepaper cipher suites), Basic auth;
//      TLS 1.1 refused; plain ws → 400
//   3  mutual TLS: a client certificate signed by the CSMS CA through src/pki, bound to the charge
//      point (CN); missing, foreign-CA and another charger's certificate → refused at the handshake
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePki, signCsr, type BenchPki } from '../../src/pki/index.ts';
import type { MockCsms } from '../../src/csms/index.ts';
import { cleanup, opensslCsr, rawCharger, refusedWith, removeTmpDirs, rpcClient, startCsms } from './helpers.ts';

let pki: BenchPki;
let foreign: BenchPki;
beforeAll(() => {
  pki = generatePki({ seed: 'csms-security', organization: 'ACME CPO' });
  foreign = generatePki({ seed: 'someone-else', organization: 'ACME CPO' });
});
// servers are shared per describe (beforeAll), so everything is closed at the end of the file
afterAll(async () => {
  await cleanup();
  removeTmpDirs();
});

const PW = 'OCA_OCTT_admin_test'; // OCTT's 19-byte example key
const PW_HEX = Buffer.from(PW).toString('hex');

describe('profile 1: Basic auth over ws://', () => {
  let csms: MockCsms;
  beforeAll(async () => {
    csms = await startCsms({
      defaults: { securityProfile: 1, password: PW },
      chargers: {
        RAWONLY: { passwordEncoding: 'raw' },
        HEXONLY: { passwordEncoding: 'hex' },
        BINARY: { passwordHex: '00ff10203040506070809a0b0c0d0e0f1011' },
        'CP:COLON': {},
      },
    });
  });

  it('accepts the key itself and its hex text (recording which matched), per charger policy', async () => {
    await rawCharger(csms, 'CP1', { password: PW });
    expect(csms.chargePoint('CP1').connection?.passwordMatched).toBe('raw');
    await rawCharger(csms, 'CP2', { password: PW_HEX.toUpperCase() });
    expect(csms.chargePoint('CP2').connection?.passwordMatched).toBe('hex');
    expect(await refusedWith(rawCharger(csms, 'RAWONLY', { password: PW_HEX }))).toMatchObject({ status: 401, body: expect.stringMatching(/wrong password for RAWONLY \(accepted: the AuthorizationKey itself\)/) });
    expect(await refusedWith(rawCharger(csms, 'HEXONLY', { password: PW }))).toMatchObject({ status: 401 });
    await rawCharger(csms, 'HEXONLY', { password: PW_HEX });
  });

  it('a strict ocpp-rpc client with a binary key, and an identity containing a colon', async () => {
    const c = await rpcClient(csms, 'BINARY', { password: Buffer.from('00ff10203040506070809a0b0c0d0e0f1011', 'hex') });
    expect(await c.call('Heartbeat', {})).toHaveProperty('currentTime');
    await rawCharger(csms, 'CP:COLON', { password: PW });
    expect(csms.chargePoint('CP:COLON').connected).toBe(true);
  });

  it('refuses a wrong password, a missing header, another user name, with 401 and WWW-Authenticate', async () => {
    expect(await refusedWith(rawCharger(csms, 'CP3', { password: 'guess' }))).toMatchObject({ status: 401, body: expect.stringMatching(/wrong password for CP3/) });
    expect(await refusedWith(rawCharger(csms, 'CP3'))).toEqual({ status: 401, body: 'no Authorization header (HTTP Basic auth required by this security profile)' });
    const other = `Basic ${Buffer.from(`CP9:${PW}`).toString('base64')}`;
    expect(await refusedWith(rawCharger(csms, 'CP3', { headers: { authorization: other } }))).toEqual({ status: 401, body: 'Basic auth user "CP9" is not the charge point id "CP3"' });
    expect(csms.refusals().filter((r) => r.chargePointId === 'CP3').map((r) => r.status)).toEqual([401, 401, 401]);
    expect(csms.chargePoint('CP3').connected).toBe(false);
  });
});

describe('profile 2: TLS + Basic auth', () => {
  let csms: MockCsms;
  const ca = () => pki.cert('csms-ca').pem;
  beforeAll(async () => {
    csms = await startCsms({ pki, tls: true, defaults: { securityProfile: 2, password: PW } });
  });

  it.each([
    ['ECDHE-ECDSA-AES128-GCM-SHA256'],
    ['ECDHE-ECDSA-AES256-GCM-SHA384'],
    ['AES128-GCM-SHA256'],
    ['AES256-GCM-SHA384'],
  ])('TLS 1.2 with %s (ECDSA and RSA server certificates)', async (cipher) => {
    const id = `T-${cipher}`;
    await rawCharger(csms, id, { password: PW, ca: ca(), ciphers: cipher, maxVersion: 'TLSv1.2' });
    expect(csms.chargePoint(id).connection?.tls).toMatchObject({ version: 'TLSv1.2', cipher });
  });

  it('TLS 1.3 works; TLS 1.1 is refused in the TLS handshake', async () => {
    await rawCharger(csms, 'T13', { password: PW, ca: ca() });
    expect(csms.chargePoint('T13').connection?.tls?.version).toBe('TLSv1.3');
    const tlsFailures: string[] = [];
    const off = csms.on('entry', (e) => {
      if ('event' in e && e.event === 'tls-handshake-failed') tlsFailures.push(JSON.stringify(e.detail));
    });
    await expect(rawCharger(csms, 'T11', { password: PW, ca: ca(), maxVersion: 'TLSv1.1', minVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })).rejects.toThrow();
    off();
    expect(csms.chargePoint('T11').connected).toBe(false);
    expect(tlsFailures.join()).toMatch(/unsupported protocol/); // the server refused TLS 1.1 itself
  });

  it('wrong password → 401; a profile-2 charger on plain ws → 400; a strict ocpp-rpc client over wss', async () => {
    expect(await refusedWith(rawCharger(csms, 'T2', { password: 'nope', ca: ca() }))).toMatchObject({ status: 401 });
    const plain = await startCsms({ defaults: { securityProfile: 2, password: PW } });
    expect(await refusedWith(rawCharger(plain, 'T2', { password: PW }))).toEqual({ status: 400, body: 'T2 is configured for security profile 2 and must connect over TLS (wss://)' });
    const c = await rpcClient(csms, 'T2', { password: PW, wsOpts: { ca: ca() } });
    expect(await c.call('BootNotification', { chargePointVendor: 'A', chargePointModel: 'B' })).toMatchObject({ status: 'Accepted' });
  });

  it('a profile-1 charger may not come over TLS', async () => {
    csms.configure('P1TLS', { securityProfile: 1 });
    expect(await refusedWith(rawCharger(csms, 'P1TLS', { password: PW, ca: ca() }))).toMatchObject({ status: 400, body: expect.stringMatching(/security profile 1 \(ws:\/\/\) but connected over TLS/) });
  });

  it("serverKeys 'ecdsa': an RSA-only client cannot connect (negative configuration)", async () => {
    const ecOnly = await startCsms({ pki, tls: { serverKeys: 'ecdsa' }, defaults: { securityProfile: 2, password: PW } });
    await expect(rawCharger(ecOnly, 'RSA', { password: PW, ca: ca(), ciphers: 'AES128-GCM-SHA256', maxVersion: 'TLSv1.2' })).rejects.toThrow();
    await rawCharger(ecOnly, 'EC', { password: PW, ca: ca(), ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' });
  });
});

describe('profile 3: mutual TLS bound to the charge point', () => {
  let csms: MockCsms;
  const clientCert = async (issuer: BenchPki, cn: string) => {
    const { csr, keyPem } = opensslCsr(`/CN=${cn}/O=ACME CPO`);
    const r = await signCsr(issuer, csr, { profile: 'charge-point', cpoName: 'ACME CPO', chargePointSerial: cn });
    if (!r.ok) throw new Error(r.reason);
    return { cert: r.chainPem, key: keyPem };
  };
  beforeAll(async () => {
    csms = await startCsms({ pki, tls: true, defaults: { securityProfile: 3, cpoName: 'ACME CPO' }, chargers: { LOOSE: { bindClientCertificate: false } } });
  });

  it('accepts the charger own certificate and records it with the full chain (leaf to the CSMS CA) in the connection, snapshot and transcript', async () => {
    const lines: string[] = [];
    const off = csms.on('entry', (e) => {
      if ('event' in e && (e.event === 'connected' || e.event === 'handshake-refused')) lines.push(JSON.stringify(e));
    });
    const { cert, key } = await clientCert(pki, 'CP3');
    await rawCharger(csms, 'CP3', { ca: pki.cert('csms-ca').pem, cert, key });
    const tls = csms.chargePoint('CP3').connection?.tls;
    expect(tls?.clientCertificate?.subject).toBe('CN=CP3, O=ACME CPO');
    const chain = tls?.clientCertificateChain ?? [];
    expect(chain.map((c) => c.subject)).toEqual(['CN=CP3, O=ACME CPO', expect.stringMatching(/CN=/)]);
    expect(new X509Certificate(chain[0]?.pem ?? '').toString()).toBe(new X509Certificate(cert).toString());
    expect(new X509Certificate(chain[1]?.pem ?? '').fingerprint256).toBe(new X509Certificate(pki.cert('csms-ca').pem).fingerprint256);
    expect(chain[0]?.issuer).toBe(chain[1]?.subject);
    const snap = JSON.parse(JSON.stringify(csms.chargePoint('CP3').snapshot())) as { connection: { tls: { clientCertificateChain: { pem: string }[] } } };
    expect(snap.connection.tls.clientCertificateChain.map((c) => c.pem)).toEqual(chain.map((c) => c.pem));
    expect(lines.some((l) => l.includes('"clientCertificateChain"') && l.includes('BEGIN CERTIFICATE'))).toBe(true);
    // a refused certificate's chain is recorded too
    const stolen = await clientCert(pki, 'CP6');
    await refusedWith(rawCharger(csms, 'CP3', { ca: pki.cert('csms-ca').pem, ...stolen }));
    expect(csms.refusals().at(-1)?.clientCertificateChain?.[0]?.subject).toBe('CN=CP6, O=ACME CPO');
    off();
  });

  it("refuses no certificate, a foreign CA's certificate and another charger's certificate", async () => {
    const ca = pki.cert('csms-ca').pem;
    expect(await refusedWith(rawCharger(csms, 'CP4', { ca }))).toEqual({ status: 401, body: 'security profile 3 needs a client certificate, and none was presented' });
    const alien = await clientCert(foreign, 'CP4');
    expect(await refusedWith(rawCharger(csms, 'CP4', { ca, ...alien }))).toMatchObject({ status: 401, body: expect.stringMatching(/client certificate not trusted/) });
    const stolen = await clientCert(pki, 'CP5');
    expect(await refusedWith(rawCharger(csms, 'CP4', { ca, ...stolen }))).toEqual({ status: 401, body: 'client certificate CN=CP5, O=ACME CPO does not belong to CP4 (CN must be "CP4")' });
    expect(csms.chargePoint('CP4').connected).toBe(false);
    // the binding can be switched off for a negative test of the charger side
    await rawCharger(csms, 'LOOSE', { ca, ...stolen });
    expect(csms.chargePoint('LOOSE').connected).toBe(true);
  });
});
