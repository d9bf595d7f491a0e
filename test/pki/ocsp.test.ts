// The OCSP responder with openssl as the oracle: openssl-made requests (SHA-1/256/384/512 CertIDs),
// `openssl ocsp -respin/-VAfile` verifies good/revoked/unknown answers and the nonce, `openssl ocsp -url`
// queries the live fastify responder; error statuses, faults and the client-side verification.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildOcspRequest,
  checkOcsp,
  generatePki,
  httpOcspTransport,
  issueContractCertificate,
  OcspResponder,
  parseOcspRequest,
  parseOcspResponse,
  startOcspHttpServer,
  verifyOcspResponse,
  type BenchPki,
  type OcspHttpServer,
  type PkiCert,
} from '../../src/pki/index.ts';
import { OpenSsl } from './openssl.ts';

const DAY = 86_400_000;
const notBefore = new Date(Math.floor(Date.now() / DAY) * DAY - DAY);

let pki: BenchPki;
let ossl: OpenSsl;
let server: OcspHttpServer;
let responder: OcspResponder;

beforeAll(async () => {
  // The AIA URL must name the port the responder listens on: grab a free port first, then generate.
  const probe = await startOcspHttpServer(new OcspResponder({ authorities: () => [], isIssued: () => false }), { port: 0 });
  const port = probe.port;
  await probe.close();
  pki = generatePki({ seed: 'ocsp-test', notBefore, ocspUrl: `http://127.0.0.1:${port}/ocsp` });
  responder = new OcspResponder(pki);
  server = await startOcspHttpServer(responder, { url: pki.ocspUrl });
  ossl = new OpenSsl();
  for (const [role, { cert }] of pki.entries()) ossl.write(`${role}.pem`, cert.pem);
});
afterAll(async () => {
  await server.close();
  ossl.cleanup();
});

/** openssl ocsp -respin: verify our DER response with the issuer as the trusted responder. */
function opensslCheck(respDer: Uint8Array, certFile: string, issuerFile: string, digest = '-sha1'): { code: number; all: string } {
  ossl.write('resp.der', respDer);
  return ossl.run(['ocsp', '-respin', 'resp.der', '-issuer', issuerFile, '-VAfile', issuerFile, digest, '-cert', certFile, '-no_nonce']);
}

function opensslRequest(certFile: string, issuerFile: string, digest = '-sha1', nonce = false): Uint8Array {
  ossl.ok(['ocsp', digest, '-issuer', issuerFile, '-cert', certFile, '-reqout', 'req.der', ...(nonce ? [] : ['-no_nonce'])]);
  return ossl.read('req.der');
}

describe('OCSP responder answers openssl requests', () => {
  it.each(['-sha1', '-sha256', '-sha384', '-sha512'])('good for an issued certificate (%s CertID), verified by openssl', (digest) => {
    const resp = responder.respond(opensslRequest('contract.pem', 'mo-sub2.pem', digest));
    const r = opensslCheck(resp, 'contract.pem', 'mo-sub2.pem', digest);
    expect(r.all).toContain('Response verify OK');
    expect(r.all).toContain('contract.pem: good');
  });

  it.each([
    ['cpo-sub1', 'v2g-root'],
    ['cpo-sub2', 'cpo-sub1'],
    ['secc-leaf', 'cpo-sub2'],
    ['mo-sub1', 'mo-root'],
    ['cps-leaf', 'cps-sub2'],
  ])('signs with the issuing CA: %s under %s', (role, issuer) => {
    const resp = responder.respond(opensslRequest(`${role}.pem`, `${issuer}.pem`));
    const r = opensslCheck(resp, `${role}.pem`, `${issuer}.pem`);
    expect(r.all).toContain('Response verify OK');
    expect(r.all).toContain(`${role}.pem: good`);
  });

  it('revoked with time and reason', () => {
    const c = issueContractCertificate(pki);
    ossl.write('c-rev.pem', c.cert.pem);
    const at = new Date('2026-02-03T04:05:06Z');
    responder.revoke(c.cert, { reason: 'keyCompromise', time: at });
    const r = opensslCheck(responder.respond(opensslRequest('c-rev.pem', 'mo-sub2.pem')), 'c-rev.pem', 'mo-sub2.pem');
    expect(r.all).toContain('Response verify OK');
    expect(r.all).toContain('c-rev.pem: revoked');
    expect(r.all).toContain('Reason: keyCompromise');
    expect(r.all).toContain('Revocation Time: Feb  3 04:05:06 2026 GMT');
    responder.unrevoke(c.cert);
    expect(opensslCheck(responder.respond(opensslRequest('c-rev.pem', 'mo-sub2.pem')), 'c-rev.pem', 'mo-sub2.pem').all).toContain('c-rev.pem: good');
  });

  it('unknown for a serial the CA never issued', () => {
    ossl.ok(['ocsp', '-issuer', 'mo-sub2.pem', '-serial', '0x1234567', '-reqout', 'req-unknown.der', '-no_nonce']);
    ossl.write('resp.der', responder.respond(ossl.read('req-unknown.der')));
    const r = ossl.run(['ocsp', '-respin', 'resp.der', '-issuer', 'mo-sub2.pem', '-VAfile', 'mo-sub2.pem', '-serial', '0x1234567', '-no_nonce']);
    expect(r.all).toContain('Response verify OK');
    expect(r.all).toContain('0x1234567: unknown');
  });

  it('a forced status overrides revocation and issuance', () => {
    const c = pki.cert('oem-prov');
    responder.setStatus(c, 'unknown');
    expect(opensslCheck(responder.respond(opensslRequest('oem-prov.pem', 'oem-sub2.pem')), 'oem-prov.pem', 'oem-sub2.pem').all).toContain('oem-prov.pem: unknown');
    responder.setStatus(c, undefined);
    expect(opensslCheck(responder.respond(opensslRequest('oem-prov.pem', 'oem-sub2.pem')), 'oem-prov.pem', 'oem-sub2.pem').all).toContain('oem-prov.pem: good');
  });

  it('echoes the nonce (openssl checks it with -reqin)', () => {
    const req = opensslRequest('contract.pem', 'mo-sub2.pem', '-sha1', true);
    expect(parseOcspRequest(req).nonce?.length).toBeGreaterThan(0);
    ossl.write('resp.der', responder.respond(req));
    const r = ossl.run(['ocsp', '-respin', 'resp.der', '-reqin', 'req.der', '-issuer', 'mo-sub2.pem', '-VAfile', 'mo-sub2.pem']);
    expect(r.all).toContain('Response verify OK');
    expect(r.all).not.toMatch(/nonce/i);
  });

  it('openssl rejects a response signed with the wrong key (fault)', () => {
    responder.faults = { badSignature: true };
    try {
      const r = opensslCheck(responder.respond(opensslRequest('contract.pem', 'mo-sub2.pem')), 'contract.pem', 'mo-sub2.pem');
      expect(r.all).toMatch(/Response Verify Failure/);
    } finally {
      responder.faults = {};
    }
  });
});

describe('OCSP error responses', () => {
  it('malformedRequest for garbage', () => {
    const a = responder.answer(new Uint8Array([1, 2, 3]));
    expect(a.responseStatus).toBe('malformedRequest');
    ossl.write('resp.der', a.der);
    expect(ossl.run(['ocsp', '-respin', 'resp.der', '-resp_text', '-noverify']).all).toContain('Responder Error: malformedrequest (1)');
  });

  it('unauthorized for a CA the bench does not hold', () => {
    const foreign = generatePki({ seed: 'someone-else', notBefore });
    const a = responder.answer(buildOcspRequest([{ cert: foreign.cert('contract'), issuer: foreign.cert('mo-sub2') }]));
    expect(a.responseStatus).toBe('unauthorized');
    expect(a.reason).toMatch(/no CA with issuerNameHash/);
  });

  it('unauthorized when one request names certificates of two CAs', () => {
    const a = responder.answer(
      buildOcspRequest([
        { cert: pki.cert('contract'), issuer: pki.cert('mo-sub2') },
        { cert: pki.cert('mo-sub2'), issuer: pki.cert('mo-sub1') },
      ]),
    );
    expect(a.responseStatus).toBe('unauthorized');
  });

  it('several certificates of one CA in one request', () => {
    const c2 = issueContractCertificate(pki);
    const a = responder.answer(
      buildOcspRequest([
        { cert: pki.cert('contract'), issuer: pki.cert('mo-sub2') },
        { cert: c2.cert, issuer: pki.cert('mo-sub2') },
      ]),
    );
    expect(a.results.map((r) => r.status.status)).toEqual(['good', 'good']);
    expect(parseOcspResponse(a.der).basic?.responses).toHaveLength(2);
  });

  it.each(['tryLater', 'internalError', 'sigRequired'] as const)('forced %s', (status) => {
    responder.faults = { responseStatus: status };
    try {
      const der = responder.respond(buildOcspRequest([{ cert: pki.cert('contract'), issuer: pki.cert('mo-sub2') }]));
      expect(parseOcspResponse(der).responseStatus).toBe(status);
      const v = verifyOcspResponse(der, { cert: pki.cert('contract'), issuer: pki.cert('mo-sub2') });
      expect(v).toMatchObject({ ok: false, error: `responseStatus ${status}` });
    } finally {
      responder.faults = {};
    }
  });
});

describe('OCSP client verification', () => {
  const contract = (): PkiCert => pki.cert('contract');
  const moSub2 = (): PkiCert => pki.cert('mo-sub2');

  it('accepts a good answer and reports thisUpdate/nextUpdate', () => {
    const v = verifyOcspResponse(responder.respond(buildOcspRequest([{ cert: contract(), issuer: moSub2() }])), { cert: contract(), issuer: moSub2() });
    expect(v).toMatchObject({ ok: true, status: { status: 'good' }, signer: 'issuer' });
  });

  it('rejects a stale response (nextUpdate passed) and one from the future', () => {
    const der = responder.respond(buildOcspRequest([{ cert: contract(), issuer: moSub2() }]));
    expect(verifyOcspResponse(der, { cert: contract(), issuer: moSub2(), now: new Date(Date.now() + 3 * DAY) })).toMatchObject({ ok: false, error: expect.stringMatching(/stale/) });
    expect(verifyOcspResponse(der, { cert: contract(), issuer: moSub2(), now: new Date(Date.now() - DAY) })).toMatchObject({ ok: false, error: expect.stringMatching(/in the future/) });
  });

  it('rejects a response about another certificate', () => {
    const der = responder.respond(buildOcspRequest([{ cert: contract(), issuer: moSub2() }]));
    const other = issueContractCertificate(pki).cert;
    expect(verifyOcspResponse(der, { cert: other, issuer: moSub2() })).toMatchObject({ ok: false, error: expect.stringMatching(/no SingleResponse for serial/) });
  });

  it('rejects a response whose signer is not the issuer', () => {
    const der = responder.respond(buildOcspRequest([{ cert: contract(), issuer: moSub2() }]));
    expect(verifyOcspResponse(der, { certId: { hashAlgorithm: 'SHA256', issuerNameHash: '', issuerKeyHash: '', serialNumber: '' }, issuer: moSub2() }).ok).toBe(false);
    const wrongIssuer = pki.cert('mo-sub1');
    const v = verifyOcspResponse(der, { certId: { hashAlgorithm: 'SHA256', issuerNameHash: '', issuerKeyHash: '', serialNumber: contract().serialHex }, issuer: wrongIssuer });
    expect(v.ok).toBe(false);
  });

  it('rejects a bad signature and a mismatched nonce', () => {
    responder.faults = { badSignature: true };
    let der: Uint8Array;
    try {
      der = responder.respond(buildOcspRequest([{ cert: contract(), issuer: moSub2() }]));
    } finally {
      responder.faults = {};
    }
    expect(verifyOcspResponse(der, { cert: contract(), issuer: moSub2() })).toMatchObject({ ok: false, error: 'response signature does not verify' });
    const withNonce = responder.respond(buildOcspRequest([{ cert: contract(), issuer: moSub2() }], { nonce: new Uint8Array(16).fill(1) }));
    const otherNonce = buildOcspRequest([{ cert: contract(), issuer: moSub2() }], { nonce: new Uint8Array(16).fill(2) });
    expect(verifyOcspResponse(withNonce, { cert: contract(), issuer: moSub2(), nonceExtnValue: parseOcspRequest(otherNonce).nonceExtnValue as Uint8Array })).toMatchObject({ ok: false, error: expect.stringMatching(/nonce/) });
  });

  it('garbage is reported, not thrown', () => {
    expect(verifyOcspResponse(new Uint8Array([0x30, 0x03, 1, 2]), { cert: contract(), issuer: moSub2() })).toMatchObject({ ok: false, error: expect.stringMatching(/not a DER OCSPResponse/) });
  });

  it('openssl-made requests parse; our requests are readable by openssl', () => {
    const parsed = parseOcspRequest(opensslRequest('contract.pem', 'mo-sub2.pem', '-sha256'));
    expect(parsed.certIds[0]).toMatchObject({ hashAlgorithm: 'SHA256', serialNumber: contract().serialHex });
    ossl.write('ours.der', buildOcspRequest([{ cert: contract(), issuer: moSub2() }], { nonce: true }));
    const text = ossl.ok(['ocsp', '-reqin', 'ours.der', '-req_text']);
    expect(text).toContain('Hash Algorithm: sha256');
    expect(text).toContain(`Serial Number: ${contract().serialHex.toUpperCase()}`);
    expect(text).toContain('OCSP Nonce');
  });
});

describe('OCSP over HTTP (fastify on loopback, at the AIA URL)', () => {
  it('serves at the URL written into the certificates', () => {
    expect(server.url).toBe(pki.ocspUrl);
    expect(pki.cert('contract').ocspUrls).toEqual([server.url]);
  });

  it('openssl ocsp -url queries the live responder (POST) and verifies the answer', async () => {
    const before = responder.requestCount;
    const r = await ossl.runAsync(['ocsp', '-url', server.url, '-issuer', 'mo-sub2.pem', '-cert', 'contract.pem', '-VAfile', 'mo-sub2.pem', '-timeout', '10']);
    expect(r.all).toContain('Response verify OK');
    expect(r.all).toContain('contract.pem: good');
    expect(responder.requestCount).toBe(before + 1);
  });

  it('checkOcsp over HTTP: good, then revoked', async () => {
    const c = issueContractCertificate(pki);
    const transport = httpOcspTransport({ timeoutMs: 5000 });
    expect(await checkOcsp(c.cert, pki.cert('mo-sub2'), { transport })).toMatchObject({ ok: true, status: { status: 'good' }, url: server.url });
    responder.revoke(c.cert, { reason: 'superseded' });
    expect(await checkOcsp(c.cert, pki.cert('mo-sub2'), { transport })).toMatchObject({ ok: true, status: { status: 'revoked', reason: 'superseded' } });
  });

  it('GET with the base64 request in the path (RFC 6960 A.1)', async () => {
    const req = buildOcspRequest([{ cert: pki.cert('contract'), issuer: pki.cert('mo-sub2') }]);
    const res = await fetch(`${server.url}/${encodeURIComponent(Buffer.from(req).toString('base64'))}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/ocsp-response');
    const v = verifyOcspResponse(new Uint8Array(await res.arrayBuffer()), { cert: pki.cert('contract'), issuer: pki.cert('mo-sub2') });
    expect(v).toMatchObject({ ok: true, status: { status: 'good' } });
  });

  it('a garbage POST gets a DER malformedRequest, not an HTTP error', async () => {
    const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: 'hello' });
    expect(res.status).toBe(200);
    expect(parseOcspResponse(new Uint8Array(await res.arrayBuffer())).responseStatus).toBe('malformedRequest');
  });

  it('a silent responder makes the client time out with a clear error', async () => {
    server.silent = true;
    try {
      const r = await checkOcsp(pki.cert('contract'), pki.cert('mo-sub2'), { transport: httpOcspTransport({ timeoutMs: 300 }) });
      expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/^OCSP request to http:\/\/127\.0\.0\.1:\d+\/ocsp failed: /) });
    } finally {
      server.silent = false;
    }
  });

  it('the HTTP transport follows only http(s) URLs and caps the answer size', async () => {
    const transport = httpOcspTransport({ timeoutMs: 2000, maxResponseBytes: 100 });
    const req = buildOcspRequest([{ cert: pki.cert('contract'), issuer: pki.cert('mo-sub2') }]);
    await expect(transport(req, 'file:///etc/passwd')).rejects.toThrow('responder URL "file:///etc/passwd" is not http(s)');
    await expect(transport(req, 'data:application/ocsp-response;base64,AAAA')).rejects.toThrow(/is not http\(s\)/);
    await expect(transport(req, 'not a url')).rejects.toThrow('responder URL "not a url" is not a URL');
    await expect(transport(req, server.url)).rejects.toThrow('response larger than 100 bytes');
  });

  it('no OCSP URL in the certificate → reported as such', async () => {
    const c = issueContractCertificate(pki, { ocspUrl: null });
    expect(await checkOcsp(c.cert, pki.cert('mo-sub2'), { transport: responder.transport })).toMatchObject({ ok: false, noUrl: true });
  });
});
