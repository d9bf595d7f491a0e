// Contract certificate validation as a CSMS does it for a PnC Authorize, mapped to OCPP 2.0.1
// AuthorizeCertificateStatusEnumType, plus the hash-data path (Authorize.iso15118CertificateHashData)
// and GetCertificateStatus.
//
// Checks, in this order; the first failing one decides the status (all static checks are still
// run and reported, OCSP only when they all pass):
//   parse      – a PEM chain is present (none → NoCertificateAvailable) and parses (→ CertChainError)
//   path       – leaf → sub-CAs → a trusted MO or V2G root, by name and key identifier (→ CertChainError)
//                (path, signature, validity and profile are `validateCertificateChain`, which the
//                CPS side of src/exi also uses for the EV's OEM provisioning certificate)
//   signature  – every link verifies with its issuer's key (→ SignatureError)
//   validity   – every certificate incl. the root is valid at `now` (→ CertificateExpired, also for not-yet-valid)
//   profile    – V2G profile: leaf CA:false, critical keyUsage with digitalSignature, DC=MO, P-256 key;
//                sub-CAs CA:true with keyCertSign and pathLen respected; at most 2 sub-CAs; ≤ 800-byte
//                certificates; no unknown critical extension (→ CertChainError)
//   emaid      – leaf CN is a syntactically valid eMAID with a correct check digit (if it has one) and
//                equals the idToken's eMAID, compared normalised (→ CertChainError)
//   ocsp       – every non-root certificate asked at its AIA URL, response verified: revoked →
//                CertificateRevoked (ContractCancelled when the leaf's revocation reason is
//                cessationOfOperation, a bench convention), unknown / no answer / bad response / no URL →
//                CertChainError (missing URLs can be skipped with `missingOcspUrl: 'skip'`)
//
//   const r = await validateContract({ certificate: pem, emaid, trustAnchors: pki.contractTrustAnchors(), ocsp: { transport: responder.transport } });
//   r.status   // 'Accepted' | 'CertificateRevoked' | ...
import { PkiInputError } from './errors.ts';
import { emaidEquals, validateEmaid } from './emaid.ts';
import { hashHex, parseCertificateHashData, type OcspRequestData } from './hash-data.ts';
import { buildOcspRequest, checkOcsp, parseOcspResponse, verifyOcspResponse, type OcspCertStatus, type OcspTransport } from './ocsp.ts';
import { MAX_CERTIFICATE_BYTES, MAX_SUB_CAS } from './profile.ts';
import { bytesEqual, toBase64 } from './encoding.ts';
import { OID, parseCertificateChainPem, verifyCertificateSignature, type PkiCert } from './x509.ts';

export const AUTHORIZE_CERTIFICATE_STATUSES = ['Accepted', 'SignatureError', 'CertificateExpired', 'CertificateRevoked', 'NoCertificateAvailable', 'CertChainError', 'ContractCancelled'] as const;
/** OCPP 2.0.1 AuthorizeCertificateStatusEnumType. */
export type AuthorizeCertificateStatus = (typeof AUTHORIZE_CERTIFICATE_STATUSES)[number];

export type ValidationCheckName = 'parse' | 'path' | 'signature' | 'validity' | 'profile' | 'emaid' | 'ocsp';

export interface ValidationCheck {
  name: ValidationCheckName;
  ok: boolean;
  /** What was checked or what failed, naming the certificate. */
  detail: string;
  /** The status this failure maps to (absent when ok). */
  status?: AuthorizeCertificateStatus;
}

export interface OcspLinkResult {
  subject: string;
  serialHex: string;
  url: string | undefined;
  /** good / revoked / unknown, or `error` with the reason. */
  outcome: OcspCertStatus['status'] | 'error' | 'skipped';
  detail: string;
}

export interface ContractValidationResult {
  status: AuthorizeCertificateStatus;
  /** One line: why this status (the first failed check), or "valid" details. */
  reason: string;
  /** Normalised leaf CN if it is an eMAID. */
  emaid: string | undefined;
  /** leaf → … → trust anchor (as far as it could be built). */
  path: PkiCert[];
  checks: ValidationCheck[];
  ocsp: OcspLinkResult[];
}

export interface ContractValidationOptions {
  /** OCPP Authorize `certificate`: PEM chain, leaf first (or already parsed). Absent/empty → NoCertificateAvailable. */
  certificate: string | readonly PkiCert[] | undefined;
  /** idToken eMAID; when given the leaf CN must match it. */
  emaid?: string;
  /** Trusted roots: MO roots and V2G roots. */
  trustAnchors: readonly PkiCert[];
  /** Sub-CAs the CSMS already knows, used when the chain leaves them out. */
  intermediates?: readonly PkiCert[];
  /** OCSP: how to reach responders; `false` skips revocation checking (reported as skipped). */
  ocsp: { transport: OcspTransport; nonce?: boolean } | false;
  /** 'error' (default): a certificate without OCSP URL → CertChainError. 'skip': not checked. */
  missingOcspUrl?: 'error' | 'skip';
  now?: Date;
  signal?: AbortSignal;
}

const CHECK_ORDER: readonly ValidationCheckName[] = ['parse', 'path', 'signature', 'validity', 'profile', 'emaid', 'ocsp'];

function keyIdsAgree(child: PkiCert, parent: PkiCert): boolean {
  return !child.authorityKeyId || !parent.subjectKeyId || bytesEqual(child.authorityKeyId, parent.subjectKeyId);
}

function isIssuerOf(child: PkiCert, parent: PkiCert): boolean {
  return bytesEqual(child.issuerDer, parent.subjectDer) && keyIdsAgree(child, parent);
}

function certDesc(c: PkiCert): string {
  return `"${c.commonName ?? c.subject}"`;
}

/** Builds leaf → … → anchor. Returns the path and, on failure, why. */
export function buildPath(chain: readonly PkiCert[], trustAnchors: readonly PkiCert[], intermediates: readonly PkiCert[] = []): { path: PkiCert[]; error?: string } {
  const leaf = chain[0];
  if (!leaf) return { path: [], error: 'empty chain' };
  const pool = [...chain.slice(1), ...intermediates];
  const path: PkiCert[] = [leaf];
  let cur = leaf;
  for (let depth = 0; depth < 10; depth++) {
    if (trustAnchors.some((a) => bytesEqual(a.der, cur.der))) return { path };
    const anchor = trustAnchors.find((a) => isIssuerOf(cur, a));
    if (anchor) {
      path.push(anchor);
      return { path };
    }
    if (cur.isSelfIssued) return { path, error: `chain ends at self-signed ${certDesc(cur)}, which is not a trusted root` };
    const next = pool.find((c) => c !== cur && !path.includes(c) && isIssuerOf(cur, c));
    if (!next) return { path, error: `issuer "${cur.issuer}" of ${certDesc(cur)} is neither in the chain nor a trusted root` };
    path.push(next);
    cur = next;
  }
  return { path, error: 'chain longer than 10 certificates' };
}

/** The ISO 15118 branches whose leaf chains the bench validates: contracts (MO), OEM provisioning certificates, the CPS chain of a CertificateInstallationRes (checked by the EV), the SECC chain of a CertificateSigned (checked by the charger). */
export type ChainDomain = 'MO' | 'OEM' | 'CPS' | 'SECC';

const LEAF_WHAT: Readonly<Record<ChainDomain, { leaf: string; issues: string; profile: string }>> = {
  MO: { leaf: 'a contract leaf', issues: 'only MO Sub-CAs issue contract certificates', profile: 'V2G contract profile' },
  OEM: { leaf: 'an OEM provisioning certificate', issues: 'only OEM Sub-CAs issue provisioning certificates', profile: 'V2G OEM provisioning profile' },
  CPS: { leaf: 'a CPS leaf', issues: 'only CPS Sub-CAs issue CPS leaf certificates', profile: 'V2G CPS profile' },
  SECC: { leaf: 'an SECC leaf', issues: 'only CPO Sub-CAs (DC=V2G) issue SECC certificates', profile: 'V2G SECC profile' },
};

/** Branches whose leaf and sub-CAs carry other DCs than the branch's name: an SECC leaf has DC=CPO, its CPO Sub-CAs DC=V2G. */
const BRANCH_DC: Readonly<Partial<Record<ChainDomain, { leaf: string; ca: string }>>> = { SECC: { leaf: 'CPO', ca: 'V2G' } };

function profileProblems(path: readonly PkiCert[], anchored: boolean, domain: ChainDomain): string[] {
  const problems: string[] = [];
  const n = path.length;
  const subCas = anchored ? n - 2 : n - 1;
  const what = LEAF_WHAT[domain];
  const dcs = BRANCH_DC[domain] ?? { leaf: domain, ca: domain };
  if (subCas > MAX_SUB_CAS) problems.push(`chain has ${subCas} sub-CAs; ISO 15118 allows at most ${MAX_SUB_CAS}`);
  path.forEach((c, i) => {
    const isLeaf = i === 0;
    const isAnchor = anchored && i === n - 1;
    const d = certDesc(c);
    if (c.der.length > MAX_CERTIFICATE_BYTES) problems.push(`${d} is ${c.der.length} bytes; ISO 15118 allows ${MAX_CERTIFICATE_BYTES}`);
    if (c.unknownCriticalExtensions.length > 0) problems.push(`${d} has unknown critical extension(s) ${c.unknownCriticalExtensions.join(', ')}`);
    if (isLeaf) {
      if (c.basicConstraints?.ca) problems.push(`${d} is a CA certificate, not ${what.leaf}`);
      if (!c.keyUsage) problems.push(`${d} has no keyUsage extension`);
      else {
        if (!c.keyUsage.critical) problems.push(`${d} keyUsage is not critical`);
        if (!c.keyUsage.usages.includes('digitalSignature')) problems.push(`${d} keyUsage lacks digitalSignature`);
      }
      const dc = c.subjectField('DC');
      if (!dc.includes(dcs.leaf)) problems.push(`${d} subject DC is ${dc.length ? dc.join('/') : 'absent'}, expected ${dcs.leaf}`);
      if (c.keyAlgorithm !== OID.ecPublicKey || c.keyCurve !== OID.prime256v1) problems.push(`${d} key is not EC P-256`);
      return;
    }
    if (isAnchor) return; // trust anchors are trusted as configured
    // Only the branch's own CAs issue its leaves: e.g. a CPO or CPS Sub-CA under the V2G root must not issue contracts.
    const caDc = c.subjectField('DC');
    if (!caDc.includes(dcs.ca)) problems.push(`${d} subject DC is ${caDc.length ? caDc.join('/') : 'absent'}: ${what.issues}`);
    if (!c.basicConstraints?.ca) problems.push(`${d} issues ${certDesc(path[i - 1] as PkiCert)} but is not a CA (basicConstraints CA:false or absent)`);
    if (!c.keyUsage) problems.push(`${d} has no keyUsage extension`);
    else if (!c.keyUsage.usages.includes('keyCertSign')) problems.push(`${d} keyUsage lacks keyCertSign`);
    const below = i - 1; // sub-CAs between this CA and the leaf
    const pathLen = c.basicConstraints?.pathLen;
    if (pathLen !== undefined && below > pathLen) problems.push(`${d} has pathLen ${pathLen} but ${below} sub-CA(s) below it`);
  });
  if (anchored) {
    const anchor = path[n - 1] as PkiCert;
    const pl = anchor.basicConstraints?.pathLen;
    if (pl !== undefined && n - 2 > pl) problems.push(`root ${certDesc(anchor)} has pathLen ${pl} but ${n - 2} sub-CA(s) below it`);
  }
  return problems;
}

export type ChainCheckName = 'path' | 'signature' | 'validity' | 'profile';

export interface ChainCheck {
  name: ChainCheckName;
  ok: boolean;
  /** What was checked or what failed, naming the certificate(s). */
  detail: string;
}

export interface ChainValidationOptions {
  /** Leaf first, then whatever sub-CAs the sender included. */
  chain: readonly PkiCert[];
  /** Trusted roots of the branch. */
  trustAnchors: readonly PkiCert[];
  /** Sub-CAs known locally, used when the chain leaves them out (an EV sends only its OEM provisioning certificate). */
  intermediates?: readonly PkiCert[];
  /** The branch: DC the leaf and its sub-CAs must carry (SECC: leaf DC=CPO, sub-CAs DC=V2G). */
  domain: ChainDomain;
  now?: Date;
}

export interface ChainValidationResult {
  /** Every check passed. */
  ok: boolean;
  /** leaf → … → trust anchor (as far as it could be built). */
  path: PkiCert[];
  anchored: boolean;
  /** path, signature, validity, profile — always all four, in that order. */
  checks: ChainCheck[];
}

/**
 * The static checks of an ISO 15118 leaf chain, without revocation: a path to a trust anchor by
 * name and key identifier, every link's signature, every certificate's validity period (root
 * included) at `now`, and the V2G profile of the branch (leaf CA:false with critical keyUsage
 * digitalSignature, DC = `domain`, P-256 key; sub-CAs with DC = `domain` too, CA:true with keyCertSign
 * and pathLen respected — except SECC, whose leaf has DC=CPO and its sub-CAs DC=V2G (BRANCH_DC); at
 * most 2 sub-CAs; ≤ 800-byte certificates; no unknown critical extension).
 * Never throws for bad certificates.
 */
export function validateCertificateChain(opts: ChainValidationOptions): ChainValidationResult {
  const now = opts.now ?? new Date();
  const checks: ChainCheck[] = [];
  const built = buildPath(opts.chain, opts.trustAnchors, opts.intermediates ?? []);
  const anchored = !built.error;
  const path = built.path;
  checks.push(built.error ? { name: 'path', ok: false, detail: built.error } : { name: 'path', ok: true, detail: path.map(certDesc).join(' → ') });

  const badSig: string[] = [];
  for (let i = 0; i + 1 < path.length; i++) {
    const c = path[i] as PkiCert;
    const issuer = path[i + 1] as PkiCert;
    if (!verifyCertificateSignature(c, issuer.spki)) badSig.push(`signature of ${certDesc(c)} does not verify with the key of ${certDesc(issuer)}`);
  }
  checks.push(badSig.length ? { name: 'signature', ok: false, detail: badSig.join('; ') } : { name: 'signature', ok: true, detail: `${Math.max(0, path.length - 1)} signature(s) verified` });

  const expired: string[] = [];
  for (const c of path) {
    if (now < c.notBefore) expired.push(`${certDesc(c)} is not valid before ${c.notBefore.toISOString()}`);
    else if (now > c.notAfter) expired.push(`${certDesc(c)} expired at ${c.notAfter.toISOString()}`);
  }
  checks.push(expired.length ? { name: 'validity', ok: false, detail: expired.join('; ') } : { name: 'validity', ok: true, detail: `valid at ${now.toISOString()}` });

  const problems = profileProblems(path, anchored, opts.domain);
  checks.push(problems.length ? { name: 'profile', ok: false, detail: problems.join('; ') } : { name: 'profile', ok: true, detail: LEAF_WHAT[opts.domain].profile });
  return { ok: checks.every((c) => c.ok), path, anchored, checks };
}

/** Validates a contract certificate chain (see the module comment). Never throws for bad certificates. */
export async function validateContract(opts: ContractValidationOptions): Promise<ContractValidationResult> {
  const checks: ValidationCheck[] = [];
  const ocspResults: OcspLinkResult[] = [];
  const fail = (name: ValidationCheckName, detail: string, status: AuthorizeCertificateStatus) => checks.push({ name, ok: false, detail, status });
  const pass = (name: ValidationCheckName, detail: string) => checks.push({ name, ok: true, detail });
  const now = opts.now ?? new Date();
  const finish = (path: PkiCert[], emaid: string | undefined): ContractValidationResult => {
    const first = CHECK_ORDER.map((n) => checks.find((c) => c.name === n && !c.ok)).find((c) => c !== undefined);
    return {
      status: first?.status ?? 'Accepted',
      reason: first ? `${first.name}: ${first.detail}` : `valid: ${path.map(certDesc).join(' → ')}`,
      emaid,
      path,
      checks,
      ocsp: ocspResults,
    };
  };

  // parse
  let chain: PkiCert[];
  if (opts.certificate === undefined || (typeof opts.certificate === 'string' && opts.certificate.trim() === '') || (typeof opts.certificate !== 'string' && opts.certificate.length === 0)) {
    fail('parse', 'no certificate given', 'NoCertificateAvailable');
    return finish([], undefined);
  }
  if (typeof opts.certificate === 'string') {
    try {
      chain = parseCertificateChainPem(opts.certificate, 'certificate');
    } catch (e) {
      if (!(e instanceof PkiInputError)) throw e;
      fail('parse', e.message, 'CertChainError');
      return finish([], undefined);
    }
  } else chain = [...opts.certificate];
  pass('parse', `${chain.length} certificate(s)`);
  const leaf = chain[0] as PkiCert;

  // path, signature, validity, profile
  const chainResult = validateCertificateChain({ chain, trustAnchors: opts.trustAnchors, intermediates: opts.intermediates ?? [], domain: 'MO', now });
  const { path, anchored } = chainResult;
  const statusOf: Readonly<Record<ChainCheckName, AuthorizeCertificateStatus>> = { path: 'CertChainError', signature: 'SignatureError', validity: 'CertificateExpired', profile: 'CertChainError' };
  for (const c of chainResult.checks) {
    if (c.ok) pass(c.name, c.detail);
    else fail(c.name, c.detail, statusOf[c.name]);
  }

  // emaid
  const cn = leaf.commonName;
  let emaid: string | undefined;
  if (cn === undefined) fail('emaid', `${certDesc(leaf)} has no CN`, 'CertChainError');
  else {
    const v = validateEmaid(cn);
    if (!v.valid) fail('emaid', `leaf CN ${v.reason.replace(/^emaid: /, '')}`, 'CertChainError');
    else {
      emaid = v.normalized;
      if (opts.emaid !== undefined && !emaidEquals(opts.emaid, cn)) fail('emaid', `leaf CN "${cn}" does not match the idToken eMAID "${opts.emaid}"`, 'CertChainError');
      else pass('emaid', `CN ${cn}${opts.emaid !== undefined ? ' matches the idToken' : ''}`);
    }
  }

  // ocsp
  if (checks.some((c) => !c.ok)) return finish(path, emaid);
  if (opts.ocsp === false) {
    pass('ocsp', 'revocation not checked (OCSP disabled)');
    return finish(path, emaid);
  }
  const ocsp = opts.ocsp;
  const links = path.slice(0, anchored ? -1 : undefined).map((c, i) => ({ cert: c, issuer: path[i + 1] as PkiCert }));
  const results = await Promise.all(
    links.map(async ({ cert, issuer }) => {
      const r = await checkOcsp(cert, issuer, { transport: ocsp.transport, now, ...(ocsp.nonce !== undefined ? { nonce: ocsp.nonce } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
      return { cert, r };
    }),
  );
  const failures: { detail: string; status: AuthorizeCertificateStatus }[] = [];
  for (const { cert, r } of results) {
    const base = { subject: cert.subject, serialHex: cert.serialHex, url: r.url };
    if (!r.ok) {
      if ('noUrl' in r && opts.missingOcspUrl === 'skip') {
        ocspResults.push({ ...base, outcome: 'skipped', detail: r.error });
        continue;
      }
      ocspResults.push({ ...base, outcome: 'error', detail: r.error });
      failures.push({ detail: `${certDesc(cert)}: ${r.error}`, status: 'CertChainError' });
      continue;
    }
    ocspResults.push({ ...base, outcome: r.status.status, detail: r.status.status === 'revoked' ? `revoked at ${r.status.revocationTime.toISOString()}${r.status.reason ? ` (${r.status.reason})` : ''}` : r.status.status });
    if (r.status.status === 'revoked') {
      const cancelled = cert === leaf && r.status.reason === 'cessationOfOperation';
      failures.push({ detail: `${certDesc(cert)} is revoked${r.status.reason ? ` (${r.status.reason})` : ''}`, status: cancelled ? 'ContractCancelled' : 'CertificateRevoked' });
    } else if (r.status.status === 'unknown') failures.push({ detail: `${certDesc(cert)}: responder does not know the certificate (unknown)`, status: 'CertChainError' });
  }
  // A revocation outranks responder problems on other links.
  const rank = (s: AuthorizeCertificateStatus) => (s === 'CertificateRevoked' || s === 'ContractCancelled' ? 0 : 1);
  failures.sort((a, b) => rank(a.status) - rank(b.status));
  const top = failures[0];
  if (top) fail('ocsp', failures.map((f) => f.detail).join('; '), top.status);
  else pass('ocsp', `${ocspResults.filter((o) => o.outcome === 'good').length} certificate(s) good`);
  return finish(path, emaid);
}

// ---------------------------------------------------------------- hash data (Authorize / GetCertificateStatus)

export interface HashDataStatusOptions {
  transport: OcspTransport;
  /** CA certificates that may be the issuers (their hashes are matched); responses are verified with them. */
  knownIssuers: readonly PkiCert[];
  now?: Date;
  signal?: AbortSignal;
}

export interface HashDataStatusResult {
  status: AuthorizeCertificateStatus;
  reason: string;
  entries: { serialNumber: string; responderURL: string; outcome: OcspCertStatus['status'] | 'error'; detail: string }[];
}

/**
 * Authorize with `iso15118CertificateHashData`: asks each entry's responderURL, verifies the answer
 * with the matching known issuer, and maps the worst outcome to a status (revoked → CertificateRevoked,
 * anything unverifiable → CertChainError, none given → NoCertificateAvailable). Input is checked against
 * the OCPP schema first (PkiInputError on violation).
 */
export async function checkHashDataStatus(entries: readonly unknown[], opts: HashDataStatusOptions): Promise<HashDataStatusResult> {
  if (entries.length === 0) return { status: 'NoCertificateAvailable', reason: 'no iso15118CertificateHashData entries', entries: [] };
  const parsed = entries.map((e, i) => parseCertificateHashData(e, `iso15118CertificateHashData[${i}]`, true));
  const out: HashDataStatusResult['entries'] = [];
  const results = await Promise.all(parsed.map((d) => statusOfHashData(d, opts)));
  let status: AuthorizeCertificateStatus = 'Accepted';
  const reasons: string[] = [];
  results.forEach((r, i) => {
    const d = parsed[i] as OcspRequestData;
    out.push({ serialNumber: d.serialNumber, responderURL: d.responderURL, outcome: r.outcome, detail: r.detail });
    if (r.outcome === 'revoked') {
      status = 'CertificateRevoked';
      reasons.push(`serial ${d.serialNumber}: ${r.detail}`);
    } else if (r.outcome !== 'good') {
      if (status === 'Accepted') status = 'CertChainError';
      reasons.push(`serial ${d.serialNumber}: ${r.detail}`);
    }
  });
  return { status, reason: reasons.length ? reasons.join('; ') : `${out.length} certificate(s) good`, entries: out };
}

async function statusOfHashData(d: OcspRequestData, opts: HashDataStatusOptions): Promise<{ outcome: OcspCertStatus['status'] | 'error'; detail: string }> {
  const issuer = opts.knownIssuers.find(
    (c) => hashHex(d.hashAlgorithm, c.subjectDer) === d.issuerNameHash.toLowerCase() && hashHex(d.hashAlgorithm, c.publicKeyBits) === d.issuerKeyHash.toLowerCase(),
  );
  if (!issuer) return { outcome: 'error', detail: 'issuer hashes match no known CA' };
  const certId = { hashAlgorithm: d.hashAlgorithm, issuerNameHash: d.issuerNameHash, issuerKeyHash: d.issuerKeyHash, serialNumber: d.serialNumber };
  let der: Uint8Array;
  try {
    der = await opts.transport(buildOcspRequest([certId]), d.responderURL, opts.signal);
  } catch (e) {
    return { outcome: 'error', detail: `OCSP request to ${d.responderURL} failed: ${(e as Error).message}` };
  }
  const v = verifyOcspResponse(der, { issuer, certId, ...(opts.now ? { now: opts.now } : {}) });
  if (!v.ok) return { outcome: 'error', detail: v.error };
  return { outcome: v.status.status, detail: v.status.status === 'revoked' ? `revoked at ${v.status.revocationTime.toISOString()}` : v.status.status };
}

/** OCPP 2.0.1 GetCertificateStatusResponse (as carried in the 1.6 PnC DataTransfer). */
export type GetCertificateStatusResponse =
  | { status: 'Accepted'; ocspResult: string }
  | { status: 'Failed'; statusInfo: { reasonCode: string; additionalInfo: string } };

/**
 * GetCertificateStatus: builds the OCSP request from `ocspRequestData`, sends it to its responderURL
 * (through `transport`: HTTP, or `responder.transport` in-process) and returns the DER response
 * base64-encoded as `ocspResult`. A non-successful OCSP responseStatus or no answer → Failed.
 * Throws PkiInputError only when the request data violates the schema.
 */
export async function getCertificateStatus(ocspRequestData: unknown, opts: { transport: OcspTransport; signal?: AbortSignal }): Promise<GetCertificateStatusResponse> {
  const d = parseCertificateHashData(ocspRequestData, 'ocspRequestData', true);
  let der: Uint8Array;
  try {
    der = await opts.transport(buildOcspRequest([{ hashAlgorithm: d.hashAlgorithm, issuerNameHash: d.issuerNameHash, issuerKeyHash: d.issuerKeyHash, serialNumber: d.serialNumber }]), d.responderURL, opts.signal);
  } catch (e) {
    return { status: 'Failed', statusInfo: { reasonCode: 'OCSPUnreachable', additionalInfo: `${d.responderURL}: ${(e as Error).message}`.slice(0, 512) } };
  }
  let responseStatus: string;
  try {
    responseStatus = parseOcspResponse(der).responseStatus;
  } catch (e) {
    return { status: 'Failed', statusInfo: { reasonCode: 'OCSPMalformed', additionalInfo: (e as Error).message.slice(0, 512) } };
  }
  if (responseStatus !== 'successful') return { status: 'Failed', statusInfo: { reasonCode: 'OCSPError', additionalInfo: `responseStatus ${responseStatus}` } };
  return { status: 'Accepted', ocspResult: toBase64(der) };
}
