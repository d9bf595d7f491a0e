// Contract validation mapped to AuthorizeCertificateStatusEnumType: valid chains (in-process and HTTP
// OCSP), every kind of negative material (with openssl's own verdict alongside), the hash-data path,
// GetCertificateStatus (openssl verifies the ocspResult) and robustness on mutated chains.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyRevocations,
  certificateHashData,
  checkHashDataStatus,
  generatePki,
  getCertificateStatus,
  httpOcspTransport,
  issueContractCertificate,
  negativeMaterial,
  NEGATIVE_KINDS,
  ocspRequestData,
  OcspResponder,
  startOcspHttpServer,
  validateCertificateChain,
  validateContract,
  type BenchPki,
  type NegativeKind,
  type OcspHttpServer,
  type OcspTransport,
} from '../../src/pki/index.ts';
import { OpenSsl } from './openssl.ts';

const DAY = 86_400_000;
let pki: BenchPki;
let responder: OcspResponder;
let server: OcspHttpServer;
let ossl: OpenSsl;

beforeAll(async () => {
  const probe = await startOcspHttpServer(new OcspResponder({ authorities: () => [], isIssued: () => false }));
  const port = probe.port;
  await probe.close();
  pki = generatePki({ seed: 'validation-test', notBefore: new Date(Math.floor(Date.now() / DAY) * DAY - DAY), ocspUrl: `http://127.0.0.1:${port}/ocsp` });
  responder = new OcspResponder(pki);
  server = await startOcspHttpServer(responder, { url: pki.ocspUrl });
  ossl = new OpenSsl();
  for (const [role, { cert }] of pki.entries()) ossl.write(`${role}.pem`, cert.pem);
  ossl.write('trust.pem', pki.contractTrustAnchors().map((c) => c.pem).join(''));
});
afterAll(async () => {
  await server.close();
  ossl.cleanup();
});

const inProcess = () => ({ transport: responder.transport });
const anchors = () => pki.contractTrustAnchors();

describe('valid contracts', () => {
  it('the hierarchy contract is Accepted (in-process OCSP), every check reported', async () => {
    const r = await validateContract({ certificate: pki.chain('contract').map((c) => c.pem).join(''), emaid: pki.emaid, trustAnchors: anchors(), ocsp: inProcess() });
    expect(r.status).toBe('Accepted');
    expect(r.checks.map((c) => [c.name, c.ok])).toEqual([
      ['parse', true],
      ['path', true],
      ['signature', true],
      ['validity', true],
      ['profile', true],
      ['emaid', true],
      ['ocsp', true],
    ]);
    expect(r.ocsp.map((o) => o.outcome)).toEqual(['good', 'good', 'good']);
    expect(r.path.map((c) => c.commonName)).toEqual([pki.emaid, 'MOSubCA2', 'MOSubCA1', 'MORootCA']);
    expect(r.emaid).toBe(pki.emaid);
  });

  it('a freshly issued contract is Accepted over HTTP OCSP at the AIA URL, eMAID compared normalised', async () => {
    const c = issueContractCertificate(pki, { emaid: 'DE-ABC-123456789-Y' });
    expect(c.cert.commonName).toBe('DEABC123456789Y');
    const before = responder.requestCount;
    const r = await validateContract({ certificate: c.chain.map((x) => x.pem).join(''), emaid: 'deabc123456789', trustAnchors: anchors(), ocsp: { transport: httpOcspTransport() } });
    expect(r.status).toBe('Accepted');
    expect(responder.requestCount - before).toBe(3);
    expect(r.ocsp.every((o) => o.url === server.url)).toBe(true);
  });

  it('a chain that includes the root, or leaves out sub-CAs the CSMS knows, still validates', async () => {
    const withRoot = pki.chain('contract', { includeRoot: true });
    expect((await validateContract({ certificate: withRoot, trustAnchors: anchors(), ocsp: inProcess() })).status).toBe('Accepted');
    const leafOnly = [pki.cert('contract')];
    expect((await validateContract({ certificate: leafOnly, trustAnchors: anchors(), ocsp: inProcess() })).status).toBe('CertChainError');
    expect((await validateContract({ certificate: leafOnly, trustAnchors: anchors(), intermediates: [pki.cert('mo-sub1'), pki.cert('mo-sub2')], ocsp: inProcess() })).status).toBe('Accepted');
  });
});

describe('negative material → AuthorizeCertificateStatus', () => {
  it.each(NEGATIVE_KINDS)('%s', async (kind: NegativeKind) => {
    const m = negativeMaterial(pki, kind);
    applyRevocations(responder, m);
    const r = await validateContract({ certificate: m.chainPem, trustAnchors: anchors(), ocsp: inProcess() });
    expect(r.status, r.reason).toBe(m.expectedStatus);
    if (m.expectedStatus !== 'Accepted') expect(r.reason.length).toBeGreaterThan(10);
  });

  // openssl's view of the same material: the X.509-level faults are caught by openssl verify too;
  // the V2G-profile faults (DC, keyUsage presence, depth, eMAID, OCSP) are not X.509 errors.
  it.each([
    ['expired', 10, /certificate has expired/],
    ['not-yet-valid', 9, /certificate is not yet valid/],
    ['wrong-pathlen', 25, /path length constraint exceeded/],
    ['unknown-root', 20, /unable to get local issuer certificate/],
    ['bad-signature', 7, /certificate signature failure/],
    ['wrong-dc', 0, /OK/],
    ['missing-keyusage', 0, /OK/],
    ['oversize-chain', 0, /OK/],
    ['no-ocsp-url', 0, /OK/],
    ['wrong-emaid-check-digit', 0, /OK/],
    ['contract-under-v2g-root', 0, /OK/],
    ['contract-under-cpo-subca', 0, /OK/], // X.509-valid: only the V2G profile (DC=MO on issuing CAs) forbids it
    ['revoked', 0, /OK/],
  ] as const)('openssl verify on %s: error %d', (kind, errNo, text) => {
    const m = negativeMaterial(pki, kind);
    ossl.write(`${kind}.pem`, m.cert.pem);
    ossl.write(`${kind}.sub.pem`, m.chain.slice(1).map((c) => c.pem).join(''));
    const r = ossl.run(['verify', '-CAfile', 'trust.pem', '-untrusted', `${kind}.sub.pem`, `${kind}.pem`]);
    expect(r.all).toMatch(text);
    if (errNo === 0) expect(r.code).toBe(0);
    else expect(r.all).toContain(`error ${errNo} at`);
  });

  it('the revoked contract is revoked according to openssl ocsp as well', async () => {
    const m = negativeMaterial(pki, 'revoked');
    applyRevocations(responder, m);
    ossl.write('rev.pem', m.cert.pem);
    const r = await ossl.runAsync(['ocsp', '-url', server.url, '-issuer', 'mo-sub2.pem', '-cert', 'rev.pem', '-VAfile', 'mo-sub2.pem']);
    expect(r.all).toContain('rev.pem: revoked');
    expect(r.all).toContain('Reason: keyCompromise');
  });

  it('the SECC branch builds the same faults on a CPO chain', () => {
    const m = negativeMaterial(pki, 'wrong-dc', { branch: 'secc' });
    expect(m.cert.subjectField('DC')).toEqual(['V2G']);
    expect(m.chain.slice(1).map((c) => c.commonName)).toEqual(['CPOSubCA2', 'CPOSubCA1']);
    expect(() => negativeMaterial(pki, 'wrong-emaid-check-digit', { branch: 'secc' })).toThrow(/^kind: "wrong-emaid-check-digit" exists only for the contract branch/);
    expect(() => negativeMaterial(pki, 'nope' as NegativeKind)).toThrow(/^kind: "nope" is not one of/);
  });

  it('is reproducible from the seed', () => {
    const now = new Date('2026-06-01T12:00:00Z');
    const a = negativeMaterial(pki, 'oversize-chain', { now });
    const b = negativeMaterial(pki, 'oversize-chain', { now });
    expect(Buffer.from(a.cert.der).equals(Buffer.from(b.cert.der))).toBe(true);
    expect(a.chain.length).toBe(4);
  });
});

describe('other outcomes', () => {
  it('NoCertificateAvailable without a certificate', async () => {
    for (const certificate of [undefined, '', []]) {
      expect((await validateContract({ certificate, trustAnchors: anchors(), ocsp: inProcess() })).status).toBe('NoCertificateAvailable');
    }
  });

  it('CertChainError for garbage PEM, naming the problem', async () => {
    const r = await validateContract({ certificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', trustAnchors: anchors(), ocsp: inProcess() });
    expect(r.status).toBe('CertChainError');
    expect(r.reason).toMatch(/^parse: certificate\[0\]: not a DER X.509 certificate/);
  });

  it('CertChainError when the eMAID does not match the idToken', async () => {
    const r = await validateContract({ certificate: pki.chain('contract'), emaid: 'DEABC123456789Y', trustAnchors: anchors(), ocsp: inProcess() });
    expect(r.status).toBe('CertChainError');
    expect(r.reason).toBe(`emaid: leaf CN "${pki.emaid}" does not match the idToken eMAID "DEABC123456789Y"`);
  });

  it('CertChainError for a V2G-root contract when only the MO root is trusted', async () => {
    const m = negativeMaterial(pki, 'contract-under-v2g-root');
    const r = await validateContract({ certificate: m.chainPem, trustAnchors: [pki.cert('mo-root')], ocsp: inProcess() });
    expect(r.status).toBe('CertChainError');
    expect(r.reason).toMatch(/^path: issuer "CN=V2GRootCA.*" of "MOSubCA1-V2G" is neither in the chain nor a trusted root/);
  });

  it('ContractCancelled when the MO revoked the contract for cessationOfOperation', async () => {
    const c = issueContractCertificate(pki);
    responder.revoke(c.cert, { reason: 'cessationOfOperation' });
    expect((await validateContract({ certificate: c.chain, trustAnchors: anchors(), ocsp: inProcess() })).status).toBe('ContractCancelled');
  });

  it('CertificateRevoked when a sub-CA is revoked, even if another link is unknown', async () => {
    const s = generatePki({ seed: 'validation-test-2', notBefore: pki.options.notBefore, ocspUrl: pki.ocspUrl });
    const r2 = new OcspResponder(s);
    r2.revoke(s.cert('mo-sub1'));
    r2.setStatus(s.cert('contract'), 'unknown');
    const r = await validateContract({ certificate: s.chain('contract'), trustAnchors: s.contractTrustAnchors(), ocsp: { transport: r2.transport } });
    expect(r.status).toBe('CertificateRevoked');
    expect(r.ocsp.map((o) => o.outcome)).toEqual(['unknown', 'good', 'revoked']);
  });

  it('CertChainError when the OCSP responder is unreachable or answers tryLater', async () => {
    const down: OcspTransport = async () => {
      throw new Error('connect ECONNREFUSED');
    };
    const r = await validateContract({ certificate: pki.chain('contract'), trustAnchors: anchors(), ocsp: { transport: down } });
    expect(r.status).toBe('CertChainError');
    expect(r.reason).toMatch(/OCSP request to .* failed: connect ECONNREFUSED/);
    responder.faults = { responseStatus: 'tryLater' };
    try {
      expect((await validateContract({ certificate: pki.chain('contract'), trustAnchors: anchors(), ocsp: inProcess() })).reason).toMatch(/responseStatus tryLater/);
    } finally {
      responder.faults = {};
    }
  });

  it('no OCSP URL can be skipped on request; OCSP can be switched off', async () => {
    const m = negativeMaterial(pki, 'no-ocsp-url');
    expect((await validateContract({ certificate: m.chain, trustAnchors: anchors(), ocsp: inProcess(), missingOcspUrl: 'skip' })).status).toBe('Accepted');
    const off = await validateContract({ certificate: m.chain, trustAnchors: anchors(), ocsp: false });
    expect(off.status).toBe('Accepted');
    expect(off.checks.at(-1)).toMatchObject({ name: 'ocsp', ok: true, detail: 'revocation not checked (OCSP disabled)' });
  });

  it('the first failing check decides; later static checks are still reported', async () => {
    const m = negativeMaterial(pki, 'expired');
    const r = await validateContract({ certificate: m.chain, emaid: 'DEABC123456789Y', trustAnchors: anchors(), ocsp: inProcess() });
    expect(r.status).toBe('CertificateExpired');
    expect(r.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['validity', 'emaid']);
    expect(r.checks.some((c) => c.name === 'ocsp')).toBe(false);
  });
});

describe('hash data path and GetCertificateStatus', () => {
  it('Authorize with iso15118CertificateHashData: good → Accepted, revoked → CertificateRevoked', async () => {
    const c = issueContractCertificate(pki);
    const data = c.chain.map((cert, i) => ocspRequestData(cert, c.chain[i + 1] ?? pki.cert('mo-root')));
    const issuers = pki.authorities().map((a) => a.cert);
    expect(await checkHashDataStatus(data, { transport: httpOcspTransport(), knownIssuers: issuers })).toMatchObject({ status: 'Accepted' });
    responder.revoke(c.cert);
    const r = await checkHashDataStatus(
      data.map((d) => ({ ...d, issuerNameHash: d.issuerNameHash.toUpperCase() })),
      { transport: responder.transport, knownIssuers: issuers },
    );
    expect(r.status).toBe('CertificateRevoked');
    expect(r.entries.map((e) => e.outcome)).toEqual(['revoked', 'good', 'good']);
    expect(await checkHashDataStatus([], { transport: responder.transport, knownIssuers: issuers })).toMatchObject({ status: 'NoCertificateAvailable' });
    await expect(checkHashDataStatus([{ ...data[0], hashAlgorithm: 'MD5' }], { transport: responder.transport, knownIssuers: issuers })).rejects.toThrow(/^iso15118CertificateHashData\[0\]\.hashAlgorithm: "MD5"/);
  });

  it('GetCertificateStatus returns the DER response base64; openssl verifies it', async () => {
    const data = ocspRequestData(pki.cert('cpo-sub2'), pki.cert('cpo-sub1'));
    const r = await getCertificateStatus(data, { transport: httpOcspTransport() });
    expect(r.status).toBe('Accepted');
    if (r.status !== 'Accepted') return;
    expect(r.ocspResult.length).toBeLessThanOrEqual(5500);
    ossl.write('gcs.der', Buffer.from(r.ocspResult, 'base64'));
    const v = ossl.run(['ocsp', '-respin', 'gcs.der', '-issuer', 'cpo-sub1.pem', '-VAfile', 'cpo-sub1.pem', '-sha256', '-cert', 'cpo-sub2.pem', '-no_nonce']);
    expect(v.all).toContain('Response verify OK');
    expect(v.all).toContain('cpo-sub2.pem: good');
  });

  it('GetCertificateStatus: Failed when the responder is down or refuses', async () => {
    const data = { ...certificateHashData(pki.cert('cpo-sub2'), pki.cert('cpo-sub1')), responderURL: 'http://127.0.0.1:1/ocsp' };
    expect(await getCertificateStatus(data, { transport: httpOcspTransport({ timeoutMs: 2000 }) })).toMatchObject({ status: 'Failed', statusInfo: { reasonCode: 'OCSPUnreachable' } });
    responder.faults = { responseStatus: 'internalError' };
    try {
      expect(await getCertificateStatus(data, { transport: responder.transport })).toMatchObject({ status: 'Failed', statusInfo: { reasonCode: 'OCSPError', additionalInfo: 'responseStatus internalError' } });
    } finally {
      responder.faults = {};
    }
    await expect(getCertificateStatus({ ...data, serialNumber: 'xyz' }, { transport: responder.transport })).rejects.toThrow(/^ocspRequestData.serialNumber: "xyz" must be 1..40 hex/);
  });
});

describe('robustness', () => {
  it('a mutated contract chain always yields a status, never a crash', async () => {
    const { default: fc } = await import('fast-check');
    const chain = pki.chain('contract');
    const leaf = chain[0]!.der;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: leaf.length - 1 }), fc.integer({ min: 0, max: 255 }), async (pos, val) => {
        const m = Buffer.from(leaf);
        m[pos] = val;
        const pem = `-----BEGIN CERTIFICATE-----\n${m.toString('base64')}\n-----END CERTIFICATE-----\n${chain.slice(1).map((c) => c.pem).join('')}`;
        const r = await validateContract({ certificate: pem, trustAnchors: anchors(), ocsp: inProcess() });
        expect(r.status === 'Accepted' ? Buffer.compare(m, Buffer.from(leaf)) === 0 : true).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('validateCertificateChain (the static checks, per ISO 15118 branch)', () => {
  it('an OEM provisioning certificate alone is completed from known sub-CAs to the OEM root', () => {
    const r = validateCertificateChain({ chain: [pki.cert('oem-prov')], trustAnchors: [pki.cert('oem-root')], intermediates: [pki.cert('oem-sub1'), pki.cert('oem-sub2')], domain: 'OEM' });
    expect(r.ok).toBe(true);
    expect(r.anchored).toBe(true);
    expect(r.path.map((c) => c.commonName)).toEqual(['OEMProvCert', 'OEMSubCA2', 'OEMSubCA1', 'OEMRootCA']);
    expect(r.checks.map((c) => c.name)).toEqual(['path', 'signature', 'validity', 'profile']);
  });

  it('the branch is enforced: a contract chain is not an OEM chain and vice versa; no known sub-CAs → no path', () => {
    const contract = issueContractCertificate(pki);
    const asOem = validateCertificateChain({ chain: contract.chain, trustAnchors: [pki.cert('mo-root')], domain: 'OEM' });
    expect(asOem.ok).toBe(false);
    expect(asOem.checks.find((c) => c.name === 'profile')?.detail).toMatch(/subject DC is MO, expected OEM.*only OEM Sub-CAs issue provisioning certificates/);
    const asMo = validateCertificateChain({ chain: [pki.cert('oem-prov'), pki.cert('oem-sub2'), pki.cert('oem-sub1')], trustAnchors: [pki.cert('oem-root')], domain: 'MO' });
    expect(asMo.checks.find((c) => c.name === 'profile')?.ok).toBe(false);
    const alone = validateCertificateChain({ chain: [pki.cert('oem-prov')], trustAnchors: [pki.cert('oem-root')], domain: 'OEM' });
    expect(alone.anchored).toBe(false);
    expect(alone.checks[0]).toEqual({ name: 'path', ok: false, detail: `issuer "${pki.cert('oem-sub2').subject}" of "OEMProvCert" is neither in the chain nor a trusted root` });
  });

  it('CPS: the SAProvisioningCertificateChain an EV checks against its V2G root; an SECC chain under the same root is not a CPS chain', () => {
    const r = validateCertificateChain({ chain: pki.chain('cps-leaf'), trustAnchors: [pki.cert('v2g-root')], domain: 'CPS' });
    expect(r.ok).toBe(true);
    expect(r.path.map((c) => c.commonName)).toEqual(['CPSLeaf', 'CPSSubCA2', 'CPSSubCA1', 'V2GRootCA']);
    expect(r.checks.find((c) => c.name === 'profile')?.detail).toBe('V2G CPS profile');
    const secc = validateCertificateChain({ chain: pki.chain('secc-leaf'), trustAnchors: [pki.cert('v2g-root')], domain: 'CPS' });
    expect(secc.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['profile']);
    expect(secc.checks.find((c) => c.name === 'profile')?.detail).toMatch(/"SECCCert" subject DC is CPO, expected CPS.*"CPOSubCA2" subject DC is V2G: only CPS Sub-CAs issue CPS leaf certificates/);
  });
});
