// The CPS checks of a Get15118EVCertificate answer with the bench PKI (src/pki) as the trust world:
// the EV's OEM provisioning certificate must chain to a trusted OEM root, be valid and be of the
// OEM profile; ListOfRootCertificateIDs picks the CPS chain (or FAILED_NoCertificateAvailable);
// a CertificateUpdateReq's eMAID must be its contract certificate's CN and its contract chain must
// lead to a trusted MO root. Each failure is answered with its ISO response code in an unsigned
// response the EV can decode, and no contract is issued.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  answerGet15118EVCertificate,
  benchAnswerOptions,
  decodeV2GMessage,
  decryptContractPrivateKey,
  ecdsaSignP256,
  encodeV2GMessage,
  FAILURE_PLACEHOLDER_EMAID,
  parseCertificateInstallationReq,
  parseCertificateUpdateReq,
  publicKeyFromCertificate,
  publicKeyFromPrivate,
  signV2GMessage,
  verifyV2GSignature,
  type AnswerOptions,
  type ContractCredentials,
  type V2GMessage,
} from '../../src/exi/index.ts';
import {
  emaidCheckDigit,
  encodeName,
  generateP256KeyPair,
  generatePki,
  issueContractCertificate,
  issuerSerialOf,
  randomSerial,
  type BenchPki,
  type P256KeyPair,
  type PkiCert,
} from '../../src/pki/index.ts';
import { loadVectors } from './helpers/vectors.ts';

let pki: BenchPki;
let other: BenchPki; // a second, unrelated trust world (another OEM, another V2G root)
const SESSION = Uint8Array.from([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const EMAID = `DEPNCC12345678${emaidCheckDigit('DEPNCC12345678')}`;

beforeAll(() => {
  pki = generatePki({ seed: 'exi-checks', notBefore: new Date('2026-01-01T00:00:00Z') });
  other = generatePki({ seed: 'exi-checks-other', notBefore: new Date('2026-01-01T00:00:00Z') });
});

/** The bench V2G root as an EV names it in ListOfRootCertificateIDs (X509IssuerName in RFC 4514 form). */
function rootId(p: BenchPki): { X509IssuerName: string; X509SerialNumber: bigint } {
  const id = issuerSerialOf(p.cert('v2g-root'));
  return { X509IssuerName: id.issuerName, X509SerialNumber: id.serialNumber };
}

async function installRequest(oemCert: PkiCert, oemKey: P256KeyPair, roots = [rootId(pki)]): Promise<string> {
  const msg: V2GMessage = {
    Header: { SessionID: SESSION },
    Body: { CertificateInstallationReq: { Id: 'ID1', OEMProvisioningCert: oemCert.der, ListOfRootCertificateIDs: { RootCertificateID: roots } } },
  };
  const signed = await signV2GMessage(msg, ['ID1'], (d) => ecdsaSignP256(oemKey.privateKey, d));
  return Buffer.from(encodeV2GMessage(signed)).toString('base64');
}

async function updateRequest(chain: readonly PkiCert[], key: P256KeyPair, eMAID: string, roots = [rootId(pki)]): Promise<string> {
  const [leaf, ...subs] = chain;
  const msg: V2GMessage = {
    Header: { SessionID: SESSION },
    Body: {
      CertificateUpdateReq: {
        Id: 'ID1',
        ContractSignatureCertChain: { Certificate: leaf!.der, SubCertificates: { Certificate: subs.map((c) => c.der) } },
        eMAID,
        ListOfRootCertificateIDs: { RootCertificateID: roots },
      },
    },
  };
  const signed = await signV2GMessage(msg, ['ID1'], (d) => ecdsaSignP256(key.privateKey, d));
  return Buffer.from(encodeV2GMessage(signed)).toString('base64');
}

const oemProv = (p: BenchPki): { cert: PkiCert; key: P256KeyPair } => p.get('oem-prov') as { cert: PkiCert; key: P256KeyPair };

/** answer options with the bench PKI's trust and a contract issuer that counts its calls */
function options(extra: Partial<AnswerOptions> = {}): AnswerOptions & { issued: ReturnType<typeof issueContractCertificate>[] } {
  const issued: ReturnType<typeof issueContractCertificate>[] = [];
  return {
    ...benchAnswerOptions(pki),
    issueContract: (req): ContractCredentials => {
      const c = issueContractCertificate(pki, req.kind === 'CertificateUpdateReq' ? { emaid: req.eMAID } : {});
      issued.push(c);
      return { certificateChain: c.chain.map((x) => x.der), privateKey: c.key.privateKey };
    },
    issued,
    ...extra,
  };
}

/** An OEM "provisioning" certificate under the bench's OEM Sub-CA 2 with chosen dates / DC. */
function oemLeaf(opts: { notBefore: Date; notAfter: Date; dc?: string }): { cert: PkiCert; key: P256KeyPair } {
  const key = generateP256KeyPair();
  const cert = pki.issue({
    subject: encodeName({ CN: 'OEMProvCert', O: 'pnc-bench', C: 'DE', DC: opts.dc ?? 'OEM' }),
    subjectKey: key,
    issuer: pki.authority('oem-sub2'),
    serialNumber: randomSerial(),
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    ca: false,
    keyUsage: ['digitalSignature', 'keyAgreement'],
  });
  return { cert, key };
}

/** What the EV sees of a refusal: its SessionID, the code, an unsigned body with placeholders. */
function expectRefusal(exiBase64: string, kind: 'CertificateInstallationRes' | 'CertificateUpdateRes', code: string): void {
  const msg = decodeV2GMessage(Buffer.from(exiBase64, 'base64'));
  expect(hex(msg.Header.SessionID)).toBe(hex(SESSION));
  expect(msg.Header.Signature).toBeUndefined();
  const body = kind === 'CertificateInstallationRes' ? msg.Body.CertificateInstallationRes : msg.Body.CertificateUpdateRes;
  expect(body?.ResponseCode).toBe(code);
  expect(body?.ContractSignatureCertChain.Certificate.length).toBe(0);
  expect(body?.ContractSignatureEncryptedPrivateKey.CONTENT.length).toBe(0);
  expect(body?.eMAID.CONTENT).toBe(FAILURE_PLACEHOLDER_EMAID);
}

describe('CertificateInstallationReq: OEM provisioning certificate and EV roots', () => {
  it('a request from the bench OEM chain, naming the bench V2G root, passes every check and gets a usable contract', async () => {
    const oem = oemProv(pki);
    const o = options();
    const { request, response, assessment } = await answerGet15118EVCertificate(await installRequest(oem.cert, oem.key), o);
    expect(assessment.checks.map((c) => `${c.name}:${c.outcome}`)).toEqual(['oem-validity:pass', 'oem-chain:pass', 'signature:pass', 'root:pass']);
    expect(assessment.checks.find((c) => c.name === 'oem-chain')?.detail).toMatch(/"OEMProvCert" → "OEMSubCA2" → "OEMSubCA1" → "OEMRootCA"/);
    expect(assessment.matchedRootIds).toEqual([{ issuerName: 'DC=V2G,C=DE,O=pnc-bench,CN=V2GRootCA', serialNumber: pki.cert('v2g-root').serialNumber }]);
    expect(request.kind === 'CertificateInstallationReq' && request.oemChain?.ok).toBe(true);
    expect(response.warnings).toEqual([]);
    expect(o.issued.length).toBe(1);
    const msg = decodeV2GMessage(response.exi);
    const res = msg.Body.CertificateInstallationRes!;
    expect(res.ResponseCode).toBe('OK');
    expect(verifyV2GSignature(msg, publicKeyFromCertificate(pki.cert('cps-leaf').der), ['ID1', 'ID2', 'ID3', 'ID4']).valid).toBe(true);
    const key = decryptContractPrivateKey({ encryptedPrivateKey: res.ContractSignatureEncryptedPrivateKey.CONTENT, dhPublicKey: res.DHpublickey.CONTENT, recipientPrivateKey: oem.key.privateKey });
    expect(hex(publicKeyFromPrivate(key))).toBe(hex(o.issued[0]!.key.publicKey));
  });

  it('wrong OEM root: a provisioning certificate of another OEM PKI → FAILED, with the reason, no contract issued', async () => {
    const oem = oemProv(other);
    const o = options();
    const { response, assessment } = await answerGet15118EVCertificate(await installRequest(oem.cert, oem.key), o);
    expect(assessment.ok).toBe(false);
    expect(assessment.responseCode).toBe('FAILED');
    expect(assessment.reason).toMatch(/^oem-chain: OEM provisioning certificate: path: issuer "CN=OEMSubCA2, O=pnc-bench, C=DE, DC=OEM" of "OEMProvCert" is neither in the chain nor a trusted root/);
    // the EV signature itself is fine: only the chain failed
    expect(assessment.checks.find((c) => c.name === 'signature')?.outcome).toBe('pass');
    expect(o.issued.length).toBe(0);
    expect(response.warnings[0]).toMatch(/^CertificateInstallationRes answers FAILED: oem-chain: /);
    expectRefusal(response.exiBase64, 'CertificateInstallationRes', 'FAILED');
  });

  it('the response code for a broken OEM chain can be set (e.g. FAILED_CertChainError)', async () => {
    const oem = oemProv(other);
    const base = benchAnswerOptions(pki);
    const { assessment, response } = await answerGet15118EVCertificate(await installRequest(oem.cert, oem.key), options({ oemTrust: { ...base.oemTrust, chainErrorCode: 'FAILED_CertChainError' } }));
    expect(assessment.responseCode).toBe('FAILED_CertChainError');
    expectRefusal(response.exiBase64, 'CertificateInstallationRes', 'FAILED_CertChainError');
  });

  it('expired provisioning certificate → FAILED_CertificateExpired (also a not-yet-valid one, via `now`)', async () => {
    const expired = oemLeaf({ notBefore: new Date('2026-01-02T00:00:00Z'), notAfter: new Date('2026-01-03T00:00:00Z') });
    const o = options();
    const { response, assessment } = await answerGet15118EVCertificate(await installRequest(expired.cert, expired.key), o);
    expect(assessment.responseCode).toBe('FAILED_CertificateExpired');
    expect(assessment.reason).toBe('oem-validity: OEM provisioning certificate: "OEMProvCert" expired at 2026-01-03T00:00:00.000Z');
    expect(assessment.checks.find((c) => c.name === 'oem-chain')?.outcome).toBe('pass');
    expect(o.issued.length).toBe(0);
    expectRefusal(response.exiBase64, 'CertificateInstallationRes', 'FAILED_CertificateExpired');

    const good = oemProv(pki);
    const early = await answerGet15118EVCertificate(await installRequest(good.cert, good.key), options({ now: new Date('2025-06-01T00:00:00Z') }));
    expect(early.assessment.responseCode).toBe('FAILED_CertificateExpired');
    expect(early.assessment.reason).toMatch(/"OEMProvCert" is not valid before 2026-01-01T00:00:00\.000Z/);
  });

  it('a provisioning certificate that is not the OEM profile (DC=MO) → FAILED with the profile finding', async () => {
    const wrongDc = oemLeaf({ notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z'), dc: 'MO' });
    const { response, assessment } = await answerGet15118EVCertificate(await installRequest(wrongDc.cert, wrongDc.key), options());
    expect(assessment.responseCode).toBe('FAILED');
    expect(assessment.reason).toMatch(/profile: "OEMProvCert" subject DC is MO, expected OEM/);
    expectRefusal(response.exiBase64, 'CertificateInstallationRes', 'FAILED');
  });

  it('the parser alone reports the OEM chain when given the trust anchors', async () => {
    const oem = oemProv(pki);
    const ok = parseCertificateInstallationReq(await installRequest(oem.cert, oem.key), { oemTrust: benchAnswerOptions(pki).oemTrust });
    expect(ok.oemChain?.ok).toBe(true);
    expect(ok.oemChain?.path.map((c) => c.commonName)).toEqual(['OEMProvCert', 'OEMSubCA2', 'OEMSubCA1', 'OEMRootCA']);
    const noTrust = parseCertificateInstallationReq(await installRequest(oem.cert, oem.key));
    expect(noTrust.oemChain).toBeUndefined();
    // the real dSPACE request: signed correctly, but its OEM root is not one the bench trusts
    const v = loadVectors('dsV2Gshark-pcaps.json').vectors.find((x) => x.message === 'CertificateInstallationReq')!;
    const dspace = parseCertificateInstallationReq(Buffer.from(v.exiHex, 'hex'), { oemTrust: benchAnswerOptions(pki).oemTrust });
    expect(dspace.signature.valid).toBe(true);
    expect(dspace.oemChain?.ok).toBe(false);
    expect(dspace.oemChain?.checks.find((c) => c.name === 'path')?.detail).toBe(
      'issuer "C=DE, ST=NRW, L=Paderborn, O=dSPACE GmbH, OU=Smart Charging, CN=OEM SubCA2 Test-PKI, DC=OEM" of "OEM Prov Test-PKI" is neither in the chain nor a trusted root',
    );
  });

  it('unknown V2G root: none of the EV roots is a CPS root on offer → FAILED_NoCertificateAvailable', async () => {
    const oem = oemProv(pki);
    const o = options();
    const { response, assessment } = await answerGet15118EVCertificate(await installRequest(oem.cert, oem.key, [rootId(other)]), o);
    expect(assessment.responseCode).toBe('FAILED_NoCertificateAvailable');
    expect(assessment.reason).toContain(`none of the EV's ListOfRootCertificateIDs ("DC=V2G,C=DE,O=pnc-bench,CN=V2GRootCA" #${other.cert('v2g-root').serialNumber})`);
    expect(o.issued.length).toBe(0);
    expectRefusal(response.exiBase64, 'CertificateInstallationRes', 'FAILED_NoCertificateAvailable');
    // right name, wrong serial: still not our root
    const wrongSerial = await answerGet15118EVCertificate(await installRequest(oem.cert, oem.key, [{ ...rootId(pki), X509SerialNumber: 1n }]), options());
    expect(wrongSerial.assessment.responseCode).toBe('FAILED_NoCertificateAvailable');
  });

  it('several CPS chains on offer: the EV root list picks the one the EV can verify', async () => {
    const oem = oemProv(pki);
    const mine = benchAnswerOptions(pki).cps;
    const theirs = benchAnswerOptions(other).cps;
    const cps = [theirs, mine];
    // the EV names only the bench V2G root (and one unknown): the second chain is used
    const a = await answerGet15118EVCertificate(await installRequest(oem.cert, oem.key, [{ X509IssuerName: 'CN=Unknown Root', X509SerialNumber: 7n }, rootId(pki)]), options({ cps }));
    expect(a.assessment.cps).toBe(mine);
    const resA = decodeV2GMessage(a.response.exi);
    expect(hex(resA.Body.CertificateInstallationRes!.SAProvisioningCertificateChain.Certificate)).toBe(hex(pki.cert('cps-leaf').der));
    expect(verifyV2GSignature(resA, publicKeyFromCertificate(pki.cert('cps-leaf').der)).valid).toBe(true);
    // the EV trusts both: the first on offer wins
    const b = await answerGet15118EVCertificate(await installRequest(oem.cert, oem.key, [rootId(pki), rootId(other)]), options({ cps }));
    expect(b.assessment.cps).toBe(theirs);
    expect(hex(decodeV2GMessage(b.response.exi).Body.CertificateInstallationRes!.SAProvisioningCertificateChain.Certificate)).toBe(hex(other.cert('cps-leaf').der));
  });
});

describe('CertificateUpdateReq: eMAID and current contract chain', () => {
  it('eMAID = contract CN, chain to the MO root: a new contract encrypted for the current contract key', async () => {
    const current = issueContractCertificate(pki, { emaid: `DE-PNC-C12345678-${emaidCheckDigit('DEPNCC12345678')}` });
    const o = options();
    const { response, assessment } = await answerGet15118EVCertificate(await updateRequest(current.chain, current.key, current.emaid), o);
    expect(assessment.checks.map((c) => `${c.name}:${c.outcome}`)).toEqual(['contract-validity:pass', 'contract-chain:pass', 'signature:pass', 'emaid:pass', 'root:pass']);
    expect(o.issued.length).toBe(1);
    const res = decodeV2GMessage(response.exi).Body.CertificateUpdateRes!;
    expect(res.ResponseCode).toBe('OK');
    expect(res.eMAID.CONTENT).toBe(current.emaid);
    const key = decryptContractPrivateKey({ encryptedPrivateKey: res.ContractSignatureEncryptedPrivateKey.CONTENT, dhPublicKey: res.DHpublickey.CONTENT, recipientPrivateKey: current.key.privateKey });
    expect(hex(publicKeyFromPrivate(key))).toBe(hex(o.issued[0]!.key.publicKey));
  });

  it('eMAID mismatch: the request names another eMAID than the certificate it updates → FAILED_CertChainError', async () => {
    const current = issueContractCertificate(pki, { emaid: EMAID });
    const o = options();
    const { response, assessment } = await answerGet15118EVCertificate(await updateRequest(current.chain, current.key, 'DEPNCC987654321'), o);
    expect(assessment.responseCode).toBe('FAILED_CertChainError');
    expect(assessment.reason).toBe(`emaid: CertificateUpdateReq eMAID "DEPNCC987654321" is not the CN of the contract certificate being updated ("${EMAID}")`);
    expect(o.issued.length).toBe(0);
    expectRefusal(response.exiBase64, 'CertificateUpdateRes', 'FAILED_CertChainError');
    const parsed = parseCertificateUpdateReq(await updateRequest(current.chain, current.key, 'DEPNCC987654321'));
    expect(parsed.eMAIDMatches).toBe(false);
    // separators and case in the CN do not matter
    const dashed = issueContractCertificate(pki, { emaid: `de-pnc-c12345678-${emaidCheckDigit('DEPNCC12345678').toLowerCase()}` });
    expect(dashed.cert.commonName).toBe(EMAID);
    expect(parseCertificateUpdateReq(await updateRequest(dashed.chain, dashed.key, EMAID)).eMAIDMatches).toBe(true);
  });

  it('a contract chain from a foreign MO root → FAILED_CertChainError; an expired contract → FAILED_CertificateExpired', async () => {
    const foreign = issueContractCertificate(other, { emaid: EMAID });
    const a = await answerGet15118EVCertificate(await updateRequest(foreign.chain, foreign.key, foreign.emaid), options());
    expect(a.assessment.responseCode).toBe('FAILED_CertChainError');
    expect(a.assessment.reason).toMatch(/^contract-chain: current contract certificate: path: /);
    expectRefusal(a.response.exiBase64, 'CertificateUpdateRes', 'FAILED_CertChainError');

    const old = issueContractCertificate(pki, { emaid: EMAID, notBefore: new Date('2026-01-01T00:00:00Z'), validityDays: 1 });
    const b = await answerGet15118EVCertificate(await updateRequest(old.chain, old.key, old.emaid), options());
    expect(b.assessment.responseCode).toBe('FAILED_CertificateExpired');
    expect(b.assessment.reason).toBe(`contract-validity: current contract certificate: "${EMAID}" expired at 2026-01-02T00:00:00.000Z`);
  });
});
