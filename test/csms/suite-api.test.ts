// The parts of the mock CSMS that suites script a charger with: taking a charger offline and back
// (goOffline / goOnline, refused handshakes with the chosen status), the HTTP status of every kind of
// handshake refusal, run-time configuration (withholding CertificateSigned), and CertificateSigned
// chains broken on purpose for the key of a charger's CSR — checked with node:crypto's X509Certificate
// (OpenSSL), not with our own PKI code. Chargers are ocpp-rpc clients in strict mode or raw sockets.
import { X509Certificate, createPublicKey } from 'node:crypto';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LinkError } from '../../drivers/capabilities.ts';
import { generatePki, type BenchPki } from '../../src/pki/index.ts';
import { CHAIN_VARIANTS, CsmsUsageError, MockCsms, PNC_VENDOR_ID, type ChargerSettings } from '../../src/csms/index.ts';
import { cleanup, opensslCsr, rawCharger, refusedWith, removeTmpDirs, rpcClient, sig, startCsms } from './helpers.ts';

let pki: BenchPki;
beforeAll(() => {
  pki = generatePki({ seed: 'csms-suite-api', organization: 'ACME CPO', ocspUrl: 'http://127.0.0.1:1/ocsp' });
});
afterEach(cleanup);
afterAll(async () => {
  await cleanup();
  removeTmpDirs();
});

const PW = 'sixteen-chars-pw';

/** Sends a WebSocket upgrade request over plain TCP and returns the response head. */
function handshakeHead(port: number, id: string, authorization?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
    sock.on('end', () => resolve(text.split('\r\n\r\n')[0] ?? ''));
    sock.on('error', reject);
    const lines = [`GET /${id} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol: ocpp1.6'];
    if (authorization) lines.push(`Authorization: ${authorization}`);
    sock.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

describe('goOffline / goOnline', () => {
  it('drops the connection like a network cut, refuses reconnects with 503 and the reason, records them, and lets the charger back after goOnline', async () => {
    const csms = await startCsms();
    const cp = csms.chargePoint('OFF1');
    const raw = await rawCharger(csms, 'OFF1');
    expect(cp.connected).toBe(true);
    expect(cp.offline).toBe(false);
    cp.goOffline();
    expect(cp.offline).toBe(true);
    // terminated: no close frame, the charger sees an abnormal closure
    expect((await raw.waitClosed()).code).toBe(1006);
    expect(cp.connected).toBe(false);
    expect(await refusedWith(rawCharger(csms, 'OFF1'))).toEqual({ status: 503, body: 'OFF1 is offline (the bench cut its link)' });
    // a CSMS call while offline waits for a connection that never comes → LinkError
    await expect(cp.call('ClearCache', {}, { signal: sig(), timeoutMs: 200 })).rejects.toBeInstanceOf(LinkError);
    // other chargers are not affected
    const other = await rawCharger(csms, 'OFF2');
    expect(await other.call('h', 'Heartbeat', {})).toMatchObject([3, 'h', { currentTime: expect.any(String) }]);

    cp.goOffline({ status: 502, reason: 'gateway down' });
    expect(await refusedWith(rawCharger(csms, 'OFF1'))).toEqual({ status: 502, body: 'gateway down' });
    expect(csms.refusals().filter((r) => r.chargePointId === 'OFF1').map((r) => [r.kind, r.status, r.reason])).toEqual([
      ['offline', 503, 'OFF1 is offline (the bench cut its link)'],
      ['offline', 502, 'gateway down'],
    ]);

    cp.goOnline();
    expect(cp.offline).toBe(false);
    const back = await rpcClient(csms, 'OFF1');
    expect(await back.call('Heartbeat', {})).toMatchObject({ currentTime: expect.any(String) });
    expect(cp.state.connects).toBe(2);
  });

  it('an offline charger that was never connected is refused too (before the password check); the server option sets the default status', async () => {
    const csms = await startCsms({ defaults: { securityProfile: 1, password: PW }, refusalStatus: { offline: 504 } });
    csms.chargePoint('OFF3').goOffline();
    expect(await refusedWith(rawCharger(csms, 'OFF3', { password: PW }))).toEqual({ status: 504, body: 'OFF3 is offline (the bench cut its link)' });
    expect(await refusedWith(rawCharger(csms, 'OFF3', { password: 'wrong' }))).toMatchObject({ status: 504 });
    csms.chargePoint('OFF3').goOnline();
    await rawCharger(csms, 'OFF3', { password: PW });
  });

  it('rejects a status that is not an HTTP error and a reason with line breaks', async () => {
    const csms = await startCsms();
    const cp = csms.chargePoint('OFF4');
    expect(() => cp.goOffline({ status: 200 })).toThrow(CsmsUsageError);
    expect(() => cp.goOffline({ status: 200 })).toThrow(/goOffline status must be an HTTP error status \(an integer 400–599\), got 200/);
    expect(() => cp.goOffline({ reason: 'a\r\nX-Injected: 1' })).toThrow(/one line/);
    expect(cp.offline).toBe(false);
  });
});

describe('refusal statuses', () => {
  it('defaults: 401 with WWW-Authenticate for a wrong password, 404 for an unknown charger, 400 for a bad path', async () => {
    const csms = await startCsms({ unknownChargers: 'reject', chargers: { RS1: { securityProfile: 1, password: PW } } });
    expect(await refusedWith(rawCharger(csms, 'NOPE'))).toEqual({ status: 404, body: 'unknown charge point "NOPE"' });
    expect(await refusedWith(rawCharger(csms, 'RS1', { password: 'guess' }))).toMatchObject({ status: 401 });
    expect(csms.refusals().map((r) => [r.kind, r.status])).toEqual([
      ['unknownCharger', 404],
      ['wrongPassword', 401],
    ]);
  });

  it('each kind answers with its configured status (and only 401 carries WWW-Authenticate)', async () => {
    const csms = await startCsms({
      unknownChargers: 'reject',
      subprotocolMismatch: 'reject',
      chargers: { RS2: { securityProfile: 1, password: PW } },
      refusalStatus: { unknownCharger: 401, wrongPassword: 403, noCredentials: 407, subprotocol: 426 },
    });
    expect(await refusedWith(rawCharger(csms, 'NOPE'))).toMatchObject({ status: 401 });
    expect(await refusedWith(rawCharger(csms, 'RS2', { password: 'guess' }))).toMatchObject({ status: 403, body: expect.stringMatching(/wrong password for RS2/) });
    expect(await refusedWith(rawCharger(csms, 'RS2'))).toMatchObject({ status: 407, body: expect.stringMatching(/no Authorization header/) });
    expect(await refusedWith(rawCharger(csms, 'RS2', { password: PW, protocols: ['ocpp2.0.1'] }))).toMatchObject({ status: 426 });
    expect(csms.refusals().map((r) => [r.kind, r.status])).toEqual([
      ['unknownCharger', 401],
      ['wrongPassword', 403],
      ['noCredentials', 407],
      ['subprotocol', 426],
    ]);
    // the status line and headers as on the wire
    const head403 = await handshakeHead(csms.port, 'RS2', `Basic ${Buffer.from('RS2:nope').toString('base64')}`);
    expect(head403).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(head403).not.toMatch(/www-authenticate/i);
    const head407 = await handshakeHead(csms.port, 'RS2');
    expect(head407).toMatch(/^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
    const plain = await startCsms({ chargers: { RS3: { securityProfile: 1, password: PW } } });
    expect(await handshakeHead(plain.port, 'RS3')).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n[\s\S]*WWW-Authenticate: Basic realm=/);
  });

  it('rejects an unknown kind and a status outside 400–599 when the CSMS is made', () => {
    expect(() => new MockCsms({ refusalStatus: { wrongPasword: 403 } as never })).toThrow(/refusalStatus\.wrongPasword: not a kind of refusal/);
    expect(() => new MockCsms({ refusalStatus: { wrongPassword: 302 } })).toThrow(/refusalStatus\.wrongPassword must be an HTTP error status/);
  });
});

async function pncCall(client: Awaited<ReturnType<typeof rpcClient>>, messageId: string, inner: unknown): Promise<Record<string, unknown>> {
  const r = (await client.call('DataTransfer', { vendorId: PNC_VENDOR_ID, messageId, data: JSON.stringify(inner) })) as { status: string; data?: string };
  expect(r.status).toBe('Accepted');
  return JSON.parse(r.data ?? '{}') as Record<string, unknown>;
}

describe('configure at run time: withholding CertificateSigned', () => {
  it("cp.configure({ pnc: { certificateSigned: 'never' } }): SignCertificate Accepted, no CertificateSigned; back to 'send': sent again", async () => {
    const csms = await startCsms({ pki });
    const client = await rpcClient(csms, 'CFG1');
    const received: string[] = [];
    client.handle('DataTransfer', async ({ params }) => {
      received.push((params as { messageId: string }).messageId);
      return { status: 'Accepted', data: JSON.stringify({ status: 'Accepted' }) };
    });
    const cp = csms.chargePoint('CFG1');
    const cfg = cp.configure({ pnc: { certificateSigned: 'never' } });
    expect(cfg.pnc).toMatchObject({ certificateSigned: 'never', enabled: true, vendorIds: [PNC_VENDOR_ID] });
    const { csr } = opensslCsr('/CN=DEPNX100002/O=ACME CPO/C=DE/DC=CPO');
    expect(await pncCall(client, 'SignCertificate', { csr, certificateType: 'V2GCertificate' })).toEqual({ status: 'Accepted' });
    await new Promise((r) => setTimeout(r, 400));
    expect(received).toEqual([]);
    cp.configure({ pnc: { certificateSigned: 'send' } });
    expect(await pncCall(client, 'SignCertificate', { csr, certificateType: 'V2GCertificate' })).toEqual({ status: 'Accepted' });
    await expect.poll(() => received).toEqual(['CertificateSigned']);
    // another charger keeps its own settings
    expect(csms.chargePoint('CFG2').config.pnc.certificateSigned).toBe('send');
  });

  it('rejects bad values with the key named', async () => {
    const csms = await startCsms();
    const cp = csms.chargePoint('CFG3');
    expect(() => cp.configure({ pnc: { certificateSigned: 'later' as 'never' } })).toThrow(/pnc\.certificateSigned must be 'send' or 'never', got "later"/);
    expect(() => cp.configure({ security: { certificateSignedDelayMs: -1 } })).toThrow(/security\.certificateSignedDelayMs/);
    expect(() => cp.configure({ securityProfile: 4 as 3 })).toThrow(CsmsUsageError);
    expect(cp.config.pnc.certificateSigned).toBe('send');
  });

  it('checks every setting as the rig file does: bad values and unknown keys are refused, the config unchanged', async () => {
    const csms = await startCsms();
    const cp = csms.chargePoint('CFG4');
    const before = cp.config;
    const bad: [ChargerSettings, RegExp][] = [
      [{ bootStatus: 'Nope' as 'Accepted' }, /^bootStatus must be 'Accepted', 'Pending' or 'Rejected', got "Nope"$/],
      [{ heartbeatIntervalS: -5 }, /^heartbeatIntervalS: .*\(got -5\)$/],
      [{ defaultIdTagStatus: 'Maybe' as 'Accepted' }, /^defaultIdTagStatus must be 'Accepted', .* got "Maybe"$/],
      [{ idTags: { TAG1: 'Perhaps' as 'Accepted' } }, /^idTags\.TAG1 must be 'Accepted', .* got "Perhaps"$/],
      [{ pnc: { contractFailureStatus: 'x' as 'Invalid' } }, /^pnc\.contractFailureStatus must be 'Blocked', .* got "x"$/],
      [{ pnc: { vendorIds: [] } }, /^pnc\.vendorIds: .*\(got \[\]\)$/],
      [{ securityProfile: 4 as 3 }, /^securityProfile must be 0, 1, 2 or 3, got 4$/],
      [{ colour: 'red' } as ChargerSettings, /^colour: not a charger setting$/],
    ];
    for (const [settings, message] of bad) {
      expect(() => cp.configure(settings), JSON.stringify(settings)).toThrow(CsmsUsageError);
      expect(() => cp.configure(settings), JSON.stringify(settings)).toThrow(message);
    }
    expect(cp.config).toBe(before);
    expect(() => new MockCsms({ chargers: { X: { heartbeatIntervalS: 0 } } })).toThrow(/heartbeatIntervalS/);
  });
});

const pemsOf = (chain: string): X509Certificate[] => (chain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? []).map((p) => new X509Certificate(p));
const spkiOf = (keyPem: string): Buffer => createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
const certSpki = (c: X509Certificate): Buffer => c.publicKey.export({ type: 'spki', format: 'der' });
const cn = (c: X509Certificate): string | undefined => c.subject.split('\n').find((l) => l.startsWith('CN='));

describe('certificateChainFor', () => {
  let csms: MockCsms;
  let csr: string;
  let keyPem: string;
  beforeAll(async () => {
    csms = new MockCsms({ pki, chargers: { CH1: { cpoName: 'ACME CPO' } } });
    ({ csr, keyPem } = opensslCsr('/CN=DEPNX100003/O=ACME CPO/C=DE/DC=CPO'));
  });
  const root = (): X509Certificate => new X509Certificate(pki.cert('v2g-root').pem);
  /** The chain verifies up to the V2G root, link by link, with OpenSSL. */
  const verifiesToRoot = (chain: X509Certificate[]): boolean => {
    const all = [...chain, root()];
    for (let i = 0; i + 1 < all.length; i++) {
      const [c, issuer] = [all[i] as X509Certificate, all[i + 1] as X509Certificate];
      if (!c.checkIssued(issuer) || !c.verify(issuer.publicKey)) return false;
    }
    return true;
  };

  it('valid: the leaf for the CSR key under CPO Sub-CA 2 / Sub-CA 1, verifying to the V2G root, valid now', async () => {
    const chain = pemsOf(await csms.chargePoint('CH1').certificateChainFor(csr, 'valid'));
    expect(chain.map(cn)).toEqual(['CN=DEPNX100003', 'CN=CPOSubCA2', 'CN=CPOSubCA1']);
    expect(certSpki(chain[0] as X509Certificate).equals(spkiOf(keyPem))).toBe(true);
    expect(verifiesToRoot(chain)).toBe(true);
    const leaf = chain[0] as X509Certificate;
    expect(new Date(leaf.validFrom).getTime()).toBeLessThan(Date.now());
    expect(new Date(leaf.validTo).getTime()).toBeGreaterThan(Date.now());
    expect(leaf.subject).toMatch(/DC=CPO/);
  });

  it('each broken variant breaks exactly its one thing', async () => {
    const cp = csms.chargePoint('CH1');
    const get = async (v: (typeof CHAIN_VARIANTS)[number], o = {}) => pemsOf(await cp.certificateChainFor(csr, v, o));
    const now = Date.now();

    const wrongIssuer = await get('wrong-issuer');
    expect(wrongIssuer).toHaveLength(2);
    expect(certSpki(wrongIssuer[0] as X509Certificate).equals(spkiOf(keyPem))).toBe(true);
    expect(wrongIssuer[0]?.verify(wrongIssuer[1]?.publicKey as X509Certificate['publicKey'])).toBe(true);
    expect(wrongIssuer[0]?.verify(new X509Certificate(pki.cert('cpo-sub2').pem).publicKey)).toBe(false);
    expect(verifiesToRoot(wrongIssuer)).toBe(false);

    const expired = await get('expired');
    expect(verifiesToRoot(expired)).toBe(true);
    expect(new Date(expired[0]?.validTo as string).getTime()).toBeLessThan(now);

    const future = await get('not-yet-valid');
    expect(verifiesToRoot(future)).toBe(true);
    expect(new Date(future[0]?.validFrom as string).getTime()).toBeGreaterThan(now);

    const noDc = await get('no-dc-cpo');
    expect(verifiesToRoot(noDc)).toBe(true);
    expect(noDc[0]?.subject).not.toMatch(/DC=/);
    expect(noDc[0]?.subject).toMatch(/CN=DEPNX100003/);

    const wrongKey = await get('wrong-key');
    expect(verifiesToRoot(wrongKey)).toBe(true);
    expect(certSpki(wrongKey[0] as X509Certificate).equals(spkiOf(keyPem))).toBe(false);
    expect(cn(wrongKey[0] as X509Certificate)).toBe('CN=DEPNX100003');

    const leafOnly = await get('leaf-only');
    expect(leafOnly.map(cn)).toEqual(['CN=DEPNX100003']);
    const withRoot = await get('with-root');
    expect(withRoot.map(cn)).toEqual(['CN=DEPNX100003', 'CN=CPOSubCA2', 'CN=CPOSubCA1', cn(root())]);
  });

  it('too-long: the valid chain first, padded past maxChainBytes (default 10 000)', async () => {
    const cp = csms.chargePoint('CH1');
    const text = await cp.certificateChainFor(csr, 'too-long');
    expect(text.length).toBeGreaterThan(10_000);
    const chain = pemsOf(text);
    expect(verifiesToRoot(chain.slice(0, 3))).toBe(true);
    const short = await cp.certificateChainFor(csr, 'too-long', { maxChainBytes: 3_000 });
    expect(short.length).toBeGreaterThan(3_000);
    expect(short.length).toBeLessThan(3_000 + 1_200); // one certificate past the limit, no more
  });

  it('charge-point profile (1.6 security): CN = serial number, O = CPO name, issued by the CSMS CA', async () => {
    const cp = csms.chargePoint('CH1');
    const { csr: cpCsr } = opensslCsr('/CN=CH1/O=ACME CPO');
    const chain = pemsOf(await cp.certificateChainFor(cpCsr, 'valid', { profile: 'charge-point' }));
    expect(chain).toHaveLength(1);
    expect(chain[0]?.verify(new X509Certificate(pki.cert('csms-ca').pem).publicKey)).toBe(true);
    const expired = pemsOf(await cp.certificateChainFor(cpCsr, 'expired', { profile: 'charge-point' }));
    expect(new Date(expired[0]?.validTo as string).getTime()).toBeLessThan(Date.now());
    await expect(cp.certificateChainFor(cpCsr, 'no-dc-cpo', { profile: 'charge-point' })).rejects.toThrow(/only for the 'secc' profile/);
  });

  it('usage errors: a CSR the CSMS would reject, an unknown variant', async () => {
    const cp = csms.chargePoint('CH1');
    const { csr: wrongO } = opensslCsr('/CN=DEPNX100003/O=OTHER CPO/C=DE/DC=CPO');
    await expect(cp.certificateChainFor(wrongO, 'valid')).rejects.toThrow(/the CSR is one the CSMS rejects \(wrong-organization/);
    await expect(cp.certificateChainFor('junk', 'valid')).rejects.toBeInstanceOf(CsmsUsageError);
    await expect(cp.certificateChainFor(csr, 'rotten' as 'valid')).rejects.toThrow(/variant "rotten" is not one of valid, wrong-issuer/);
  });

  it('a suite answering SignCertificate with an expired chain, end to end', async () => {
    const server = await startCsms({ pki, chargers: { E2E: { pnc: { certificateSigned: 'never' } } } });
    const client = await rpcClient(server, 'E2E');
    const got = new Promise<string>((resolve) => {
      client.handle('DataTransfer', async ({ params }) => {
        resolve((JSON.parse((params as { data: string }).data) as { certificateChain: string }).certificateChain);
        return { status: 'Accepted', data: JSON.stringify({ status: 'Rejected' }) };
      });
    });
    const cp = server.chargePoint('E2E');
    const signReq = cp.expectCall('DataTransfer.SignCertificate', { timeoutMs: 5_000, signal: sig() });
    expect(await pncCall(client, 'SignCertificate', { csr, certificateType: 'V2GCertificate' })).toEqual({ status: 'Accepted' });
    const call = await signReq;
    const chain = await cp.certificateChainFor(call.payload.csr as string, 'expired');
    const r = await cp.call('CertificateSigned', { certificateChain: chain, certificateType: 'V2GCertificate' }, { pnc: true, signal: sig() });
    expect(r.response).toEqual({ status: 'Rejected' });
    expect(await got).toBe(chain);
  });
});
