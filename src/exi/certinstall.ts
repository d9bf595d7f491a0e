// ISO 15118-2 certificate installation and update, CPS side (what the mock CSMS answers to the OCPP
// Get15118EVCertificate DataTransfer): parse the EV's CertificateInstallationReq /
// CertificateUpdateReq, check it (EV signature; OEM provisioning chain to a trusted OEM root;
// current contract chain and its eMAID; ListOfRootCertificateIDs against the CPS chains on offer),
// then build the CertificateInstallationRes / CertificateUpdateRes: contract chain, contract key
// encrypted for the EV (contract-key.ts), Ids, the four digests (the eMAID through the relaxed
// fragment grammar), SignedInfo signed by the CPS leaf, the request's SessionID echoed (the charger
// forwards exiResponse verbatim). A request that fails a check is answered with the ISO response
// code for it (table below) in an unsigned response whose mandatory elements hold placeholders.
// Certificates, keys and trust anchors come in as parameters (src/pki issues them; bench-pki.ts
// wires the bench PKI).
//
//   const { request, response, assessment } = await answerGet15118EVCertificate(exiRequestBase64, {
//     cps: { certificateChain: [cpsLeafDer, cpsSub2Der, cpsSub1Der], root: v2gRoot, sign: (d) => signWithCpsLeaf(d) },
//     oemTrust: { roots: [oemRoot], intermediates: [oemSub2, oemSub1] },   // PkiCert (parseCertificateDer)
//     issueContract: (req) => ({ certificateChain: [contractDer, moSub2Der, moSub1Der], privateKey: contractScalar }),
//   });
//   assessment.responseCode;  // 'OK' or e.g. 'FAILED_CertificateExpired'; assessment.reason says why
//   response.exiBase64; response.warnings;   // e.g. the 5,600-character OCPP 2.0.1 limit
//
// Check → response code (first failing check in this order decides; all are run and reported):
//   oem-validity / contract-validity  a certificate of the chain outside its validity period → FAILED_CertificateExpired
//   oem-chain      no path to a trusted OEM root, a bad link signature, or not the OEM profile
//                  (DC=OEM, leaf CA:false with digitalSignature, P-256) → FAILED (ISO 15118-2 defines
//                  no FAILED_CertChainError for CertificateInstallationRes; `oemTrust.chainErrorCode`)
//   contract-chain the current contract chain of an update does not lead to a trusted MO/V2G root
//                  or is not the contract profile → FAILED_CertChainError
//   signature      the EV's signature over the request does not verify → FAILED_SignatureError
//   emaid          CertificateUpdateReq eMAID ≠ the contract certificate's CN → FAILED_CertChainError
//   root           none of the EV's ListOfRootCertificateIDs is the root of a CPS chain on offer
//                  → FAILED_NoCertificateAvailable
import {
  emaidEquals,
  matchesIssuerSerial,
  parseBase64,
  parseCertificateDer,
  PkiCert,
  PkiInputError,
  toBase64,
  validateCertificateChain,
  type ChainValidationResult,
} from '../pki/index.ts';
import { encryptContractPrivateKey } from './contract-key.ts';
import { ExiError } from './errors.ts';
import type { BodyType, CertificateChainType, responseCodeType, V2G_MessageType } from './grammars/iso2-msgdef-types.ts';
import { decodeV2GMessage, encodeV2GMessage } from './iso2.ts';
import { signV2GMessage, verifyV2GSignature, type SignatureCheck, type Signer } from './xmldsig.ts';

/** OCPP 2.0.1 Get15118EVCertificate exiRequest / exiResponse maxLength. */
export const OCPP_EXI_MAX_BASE64 = 5600;

/** eMAID of a failure response: the schema wants 14–15 characters; the content means nothing. */
export const FAILURE_PLACEHOLDER_EMAID = 'ZZ000000000000';

export class CertificateMessageError extends ExiError {
  override readonly name = 'CertificateMessageError';
}

export interface RootCertificateId {
  /** X509IssuerName as sent (RFC 4514 string) */
  issuerName: string;
  serialNumber: bigint;
}

/** Trusted roots of one PKI branch plus the sub-CAs the CPS knows (requests may leave them out). */
export interface TrustStore {
  roots: readonly PkiCert[];
  intermediates?: readonly PkiCert[];
}

export interface OemTrustStore extends TrustStore {
  /** response code for an OEM chain that does not verify or is not the OEM profile (default FAILED) */
  chainErrorCode?: responseCodeType;
}

export interface RequestCheckOptions {
  /** CertificateInstallationReq: the OEM roots (and sub-CAs) the provisioning certificate must chain to. Absent: not checked (a warning says so). */
  oemTrust?: OemTrustStore;
  /** CertificateUpdateReq: the MO / V2G roots (and sub-CAs) the current contract chain must chain to. Absent: not checked. */
  contractTrust?: TrustStore;
  /** time for the validity checks (default now) */
  now?: Date;
}

interface ParsedCommon {
  message: V2G_MessageType;
  /** the EV's SessionID: echo it in the response header */
  sessionId: Uint8Array;
  /** Id of the signed body element */
  id: string;
  rootCertificateIds: RootCertificateId[];
  /** signature check with the key of the signer certificate (see `signerPublicKey`) */
  signature: SignatureCheck;
  /** public key that checked the signature and that the response encrypts the contract key for */
  signerPublicKey: Uint8Array;
}

export interface ParsedCertificateInstallationReq extends ParsedCommon {
  kind: 'CertificateInstallationReq';
  oemProvisioningCertificate: Uint8Array;
  /** chain of the OEM provisioning certificate to the `oemTrust` roots (absent when no trust was given) */
  oemChain?: ChainValidationResult;
}

export interface ParsedCertificateUpdateReq extends ParsedCommon {
  kind: 'CertificateUpdateReq';
  /** current contract certificate first, then its sub-CAs */
  contractCertificateChain: Uint8Array[];
  eMAID: string;
  /** CN of the current contract certificate */
  contractCommonName: string | undefined;
  /** the request's eMAID names the contract certificate being updated (CN compared normalised) */
  eMAIDMatches: boolean;
  /** chain of the current contract certificate to the `contractTrust` roots (absent when no trust was given) */
  contractChain?: ChainValidationResult;
}

export type ParsedCertificateRequest = ParsedCertificateInstallationReq | ParsedCertificateUpdateReq;

/** base64 (as OCPP carries it, whitespace allowed) or raw EXI bytes → bytes. */
export function exiBytes(input: Uint8Array | string): Uint8Array {
  if (input instanceof Uint8Array) return input;
  const b = parseBase64(input);
  if (!b) throw new CertificateMessageError('exiRequest is not valid base64');
  return b;
}

function rootIds(list: { RootCertificateID: { X509IssuerName: string; X509SerialNumber: bigint }[] }): RootCertificateId[] {
  return list.RootCertificateID.map((r) => ({ issuerName: r.X509IssuerName, serialNumber: r.X509SerialNumber }));
}

/** A certificate of the message, parsed; CertificateMessageError when it is not one. */
function certOf(der: Uint8Array, what: string): PkiCert {
  try {
    return parseCertificateDer(der, what);
  } catch (e) {
    if (e instanceof PkiInputError) throw new CertificateMessageError(e.message);
    throw e;
  }
}

/** Decodes a CertificateInstallationReq, checks its signature with the OEM provisioning certificate and, with `oemTrust`, that certificate's chain. */
export function parseCertificateInstallationReq(exi: Uint8Array | string, opts: RequestCheckOptions = {}): ParsedCertificateInstallationReq {
  const message = decodeV2GMessage(exiBytes(exi));
  const req = message.Body.CertificateInstallationReq;
  if (!req) throw new CertificateMessageError(`expected a CertificateInstallationReq, got ${Object.keys(message.Body).join(', ') || 'an empty Body'}`);
  const oemCert = certOf(req.OEMProvisioningCert, 'OEMProvisioningCert');
  const signerPublicKey = publicKeyOf(oemCert, 'OEMProvisioningCert');
  let oemChain: ChainValidationResult | undefined;
  if (opts.oemTrust) {
    const t = opts.oemTrust;
    oemChain = validateCertificateChain({ chain: [oemCert], trustAnchors: t.roots, intermediates: t.intermediates ?? [], domain: 'OEM', ...(opts.now ? { now: opts.now } : {}) });
  }
  return {
    kind: 'CertificateInstallationReq',
    message,
    sessionId: message.Header.SessionID,
    id: req.Id,
    oemProvisioningCertificate: req.OEMProvisioningCert,
    rootCertificateIds: rootIds(req.ListOfRootCertificateIDs),
    signature: verifyV2GSignature(message, signerPublicKey, [req.Id]),
    signerPublicKey,
    ...(oemChain ? { oemChain } : {}),
  };
}

/** Decodes a CertificateUpdateReq, checks its signature with the current contract certificate, its eMAID against that certificate's CN and, with `contractTrust`, the contract chain. */
export function parseCertificateUpdateReq(exi: Uint8Array | string, opts: RequestCheckOptions = {}): ParsedCertificateUpdateReq {
  const message = decodeV2GMessage(exiBytes(exi));
  const req = message.Body.CertificateUpdateReq;
  if (!req) throw new CertificateMessageError(`expected a CertificateUpdateReq, got ${Object.keys(message.Body).join(', ') || 'an empty Body'}`);
  const chain = [req.ContractSignatureCertChain.Certificate, ...(req.ContractSignatureCertChain.SubCertificates?.Certificate ?? [])];
  const certs = chain.map((c, i) => certOf(c, i === 0 ? 'ContractSignatureCertChain.Certificate' : `ContractSignatureCertChain.SubCertificates[${i - 1}]`));
  const leaf = certs[0] as PkiCert;
  const signerPublicKey = publicKeyOf(leaf, 'ContractSignatureCertChain');
  let contractChain: ChainValidationResult | undefined;
  if (opts.contractTrust) {
    const t = opts.contractTrust;
    contractChain = validateCertificateChain({ chain: certs, trustAnchors: t.roots, intermediates: t.intermediates ?? [], domain: 'MO', ...(opts.now ? { now: opts.now } : {}) });
  }
  const cn = leaf.commonName;
  return {
    kind: 'CertificateUpdateReq',
    message,
    sessionId: message.Header.SessionID,
    id: req.Id,
    contractCertificateChain: chain,
    eMAID: req.eMAID,
    contractCommonName: cn,
    eMAIDMatches: cn !== undefined && emaidEquals(req.eMAID, cn),
    rootCertificateIds: rootIds(req.ListOfRootCertificateIDs),
    signature: verifyV2GSignature(message, signerPublicKey, [req.Id]),
    signerPublicKey,
    ...(contractChain ? { contractChain } : {}),
  };
}

function publicKeyOf(cert: PkiCert, what: string): Uint8Array {
  try {
    return cert.p256PublicKey(what);
  } catch (e) {
    throw new CertificateMessageError(`${what}: ${(e as Error).message}`);
  }
}

/** The CPS: its certificate chain (leaf first, then Sub-CA 2, Sub-CA 1; no root) and leaf signer. */
export interface CpsSigner {
  certificateChain: readonly Uint8Array[];
  /** signs the SignedInfo EXI with the CPS leaf key; returns r‖s (64 bytes) */
  sign: Signer;
  /** the V2G root the chain ends at: matched against the EV's ListOfRootCertificateIDs (absent: not checked) */
  root?: PkiCert;
}

/** The contract to deliver: chain (leaf first, then MO Sub-CA 2, Sub-CA 1) and its private scalar. */
export interface ContractCredentials {
  certificateChain: readonly Uint8Array[];
  privateKey: Uint8Array | bigint;
  /** default: the contract certificate's CN without '-' separators, upper case */
  eMAID?: string;
}

export interface BuildCertificateResponseInput {
  /** the request's SessionID (echoed) */
  sessionId: Uint8Array;
  cps: CpsSigner;
  contract: ContractCredentials;
  /**
   * P-256 point the contract key is encrypted for: the OEM provisioning certificate's key
   * (installation) or the current contract certificate's key (update) — `signerPublicKey` of the
   * parsed request.
   */
  recipientPublicKey: Uint8Array;
  responseCode?: responseCodeType;
  /** CertificateUpdateRes only */
  retryCounter?: number;
  /** Ids of ContractSignatureCertChain, ContractSignatureEncryptedPrivateKey, DHpublickey, eMAID */
  ids?: readonly [string, string, string, string];
  /** re-decode the response and check the signature with the CPS leaf certificate (default true) */
  selfCheck?: boolean;
  /** fixed values for known-answer tests only */
  ephemeralPrivateKey?: Uint8Array;
  iv?: Uint8Array;
}

export interface BuiltCertificateResponse {
  message: V2G_MessageType;
  /** the EXI document (no V2GTP header), as the charger forwards it */
  exi: Uint8Array;
  /** base64 of `exi`: OCPP exiResponse */
  exiBase64: string;
  /** non-fatal findings, e.g. exiResponse longer than 5,600 characters, a check that could not be made, a failure answered */
  warnings: string[];
  /** the response's ResponseCode */
  responseCode: responseCodeType;
}

/** eMAID of a contract certificate: its CN without separators, upper case. */
export function eMAIDFromCertificate(der: Uint8Array): string {
  const cn = certOf(der, 'contract certificate').commonName;
  if (!cn) throw new CertificateMessageError('contract certificate has no CN (the eMAID)');
  return cn.replace(/-/g, '').toUpperCase();
}

function chainOf(certs: readonly Uint8Array[], what: string, id?: string): CertificateChainType {
  const [leaf, ...subs] = certs;
  if (!leaf) throw new CertificateMessageError(`${what}: the certificate chain is empty`);
  return { ...(id !== undefined ? { Id: id } : {}), Certificate: leaf, ...(subs.length > 0 ? { SubCertificates: { Certificate: subs } } : {}) };
}

function sizeWarning(exi: Uint8Array, exiBase64: string, certs: readonly Uint8Array[]): string[] {
  if (exiBase64.length <= OCPP_EXI_MAX_BASE64) return [];
  return [
    `exiResponse is ${exiBase64.length} base64 characters (${exi.length} bytes EXI), over the OCPP 2.0.1 Get15118EVCertificate limit of ${OCPP_EXI_MAX_BASE64}; ` +
      `certificate sizes ${certs.map((c) => c.length).join(', ')} bytes — use smaller certificates (shorter names, fewer extensions)`,
  ];
}

const cpsLeafKeys = new WeakMap<readonly Uint8Array[], Uint8Array>();
function cpsLeafKey(cps: CpsSigner): Uint8Array {
  let k = cpsLeafKeys.get(cps.certificateChain);
  if (!k) {
    const leaf = cps.certificateChain[0];
    if (!leaf) throw new CertificateMessageError('cps: the certificate chain is empty');
    k = publicKeyOf(certOf(leaf, 'cps leaf certificate'), 'cps leaf certificate');
    cpsLeafKeys.set(cps.certificateChain, k);
  }
  return k;
}

async function build(kind: 'CertificateInstallationRes' | 'CertificateUpdateRes', input: BuildCertificateResponseInput): Promise<BuiltCertificateResponse> {
  const ids = input.ids ?? ['ID1', 'ID2', 'ID3', 'ID4'];
  const contractLeaf = input.contract.certificateChain[0];
  if (!contractLeaf) throw new CertificateMessageError('contract: the certificate chain is empty');
  const eMAID = input.contract.eMAID ?? eMAIDFromCertificate(contractLeaf);
  const enc = encryptContractPrivateKey({
    contractPrivateKey: input.contract.privateKey,
    recipientPublicKey: input.recipientPublicKey,
    ...(input.ephemeralPrivateKey ? { ephemeralPrivateKey: input.ephemeralPrivateKey } : {}),
    ...(input.iv ? { iv: input.iv } : {}),
  });
  const responseCode = input.responseCode ?? 'OK';
  const body = {
    ResponseCode: responseCode,
    SAProvisioningCertificateChain: chainOf(input.cps.certificateChain, 'cps'),
    ContractSignatureCertChain: chainOf(input.contract.certificateChain, 'contract', ids[0]),
    ContractSignatureEncryptedPrivateKey: { Id: ids[1], CONTENT: enc.encryptedPrivateKey },
    DHpublickey: { Id: ids[2], CONTENT: enc.dhPublicKey },
    eMAID: { Id: ids[3], CONTENT: eMAID },
  };
  const unsigned: V2G_MessageType = {
    Header: { SessionID: input.sessionId },
    Body:
      kind === 'CertificateInstallationRes'
        ? { CertificateInstallationRes: body }
        : { CertificateUpdateRes: { ...body, ...(input.retryCounter !== undefined ? { RetryCounter: input.retryCounter } : {}) } },
  };
  const message = await signV2GMessage(unsigned, ids, input.cps.sign);
  const exi = encodeV2GMessage(message);
  const exiBase64 = toBase64(exi);
  const warnings = sizeWarning(exi, exiBase64, [...input.cps.certificateChain, ...input.contract.certificateChain]);
  if (input.selfCheck !== false) {
    const check = verifyV2GSignature(decodeV2GMessage(exi), cpsLeafKey(input.cps), ids);
    if (!check.valid) throw new CertificateMessageError(`the built ${kind} does not verify with the CPS leaf certificate: ${check.problems.join('; ')}`);
  }
  return { message, exi, exiBase64, warnings, responseCode };
}

/** Builds a signed CertificateInstallationRes (see BuildCertificateResponseInput). */
export function buildCertificateInstallationRes(input: BuildCertificateResponseInput): Promise<BuiltCertificateResponse> {
  return build('CertificateInstallationRes', input);
}

/** Builds a signed CertificateUpdateRes (see BuildCertificateResponseInput). */
export function buildCertificateUpdateRes(input: BuildCertificateResponseInput): Promise<BuiltCertificateResponse> {
  return build('CertificateUpdateRes', input);
}

export interface FailureResponseInput {
  sessionId: Uint8Array;
  /** a FAILED* code */
  responseCode: responseCodeType;
  /** CertificateUpdateRes only */
  retryCounter?: number;
}

/**
 * The Body of a CertificateInstallationRes / CertificateUpdateRes that refuses: the ResponseCode and
 * the mandatory elements with schema-valid placeholders (empty certificates and keys, eMAID
 * `ZZ000000000000`) — as EVerest's SECC fills a failed response. The virtual SECC answers with it too.
 */
export function certificateFailureBody(kind: 'CertificateInstallationRes' | 'CertificateUpdateRes', input: Omit<FailureResponseInput, 'sessionId'>): BodyType {
  if (!input.responseCode.startsWith('FAILED')) throw new CertificateMessageError(`a failure response needs a FAILED* code, got ${input.responseCode}`);
  const empty = new Uint8Array(0);
  const body = {
    ResponseCode: input.responseCode,
    SAProvisioningCertificateChain: { Certificate: empty },
    ContractSignatureCertChain: { Id: 'ID1', Certificate: empty },
    ContractSignatureEncryptedPrivateKey: { Id: 'ID2', CONTENT: empty },
    DHpublickey: { Id: 'ID3', CONTENT: empty },
    eMAID: { Id: 'ID4', CONTENT: FAILURE_PLACEHOLDER_EMAID },
  };
  return kind === 'CertificateInstallationRes'
    ? { CertificateInstallationRes: body }
    : { CertificateUpdateRes: { ...body, ...(input.retryCounter !== undefined ? { RetryCounter: input.retryCounter } : {}) } };
}

/** A refusing CertificateInstallationRes / CertificateUpdateRes (`certificateFailureBody`) with the request's SessionID, unsigned. */
export function buildCertificateFailureRes(kind: 'CertificateInstallationRes' | 'CertificateUpdateRes', input: FailureResponseInput): BuiltCertificateResponse {
  const message: V2G_MessageType = { Header: { SessionID: input.sessionId }, Body: certificateFailureBody(kind, input) };
  const exi = encodeV2GMessage(message);
  return { message, exi, exiBase64: toBase64(exi), warnings: [], responseCode: input.responseCode };
}

// ---------------------------------------------------------------------------------------------
// checks
// ---------------------------------------------------------------------------------------------

export type CertificateRequestCheckName = 'oem-validity' | 'oem-chain' | 'contract-validity' | 'contract-chain' | 'signature' | 'emaid' | 'root';

export interface CertificateRequestCheck {
  name: CertificateRequestCheckName;
  /** skipped: the check needs configuration that was not given (trust anchors, a CPS root) */
  outcome: 'pass' | 'fail' | 'skipped';
  detail: string;
  /** the response code a failure answers with (failures only) */
  responseCode?: responseCodeType;
}

export interface CertificateRequestAssessment {
  ok: boolean;
  /** 'OK', or the code of the first failed check (order of CertificateRequestCheckName) */
  responseCode: responseCodeType;
  /** one line: why */
  reason: string;
  checks: CertificateRequestCheck[];
  /** the CPS chain the EV can verify (undefined when the root check failed) */
  cps: CpsSigner | undefined;
  /** the EV's RootCertificateIDs that name the chosen CPS chain's root */
  matchedRootIds: RootCertificateId[];
}

export interface AssessOptions {
  /** CPS chains on offer, in order of preference */
  cps: CpsSigner | readonly CpsSigner[];
  /** a request whose signature does not verify fails with FAILED_SignatureError (default true) */
  requireValidSignature?: boolean;
  oemTrust?: OemTrustStore;
}

function chainChecks(prefix: 'oem' | 'contract', r: ChainValidationResult | undefined, chainErrorCode: responseCodeType, whose: string): CertificateRequestCheck[] {
  if (!r) {
    const what = prefix === 'oem' ? 'no OEM trust anchors configured' : 'no contract trust anchors configured';
    return [
      { name: `${prefix}-validity`, outcome: 'skipped', detail: `${whose} chain not checked: ${what}` },
      { name: `${prefix}-chain`, outcome: 'skipped', detail: `${whose} chain not checked: ${what}` },
    ];
  }
  const validity = r.checks.find((c) => c.name === 'validity');
  const rest = r.checks.filter((c) => c.name !== 'validity');
  const failed = rest.filter((c) => !c.ok);
  return [
    validity && !validity.ok
      ? { name: `${prefix}-validity`, outcome: 'fail', detail: `${whose}: ${validity.detail}`, responseCode: 'FAILED_CertificateExpired' }
      : { name: `${prefix}-validity`, outcome: 'pass', detail: validity?.detail ?? 'valid' },
    failed.length
      ? { name: `${prefix}-chain`, outcome: 'fail', detail: `${whose}: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}`, responseCode: chainErrorCode }
      : { name: `${prefix}-chain`, outcome: 'pass', detail: rest.map((c) => c.detail).join('; ') },
  ];
}

function describeId(id: RootCertificateId): string {
  return `"${id.issuerName}" #${id.serialNumber}`;
}

function rootCheck(request: ParsedCertificateRequest, offered: readonly CpsSigner[]): { check: CertificateRequestCheck; cps: CpsSigner | undefined; matched: RootCertificateId[] } {
  const withRoot = offered.flatMap((c) => (c.root === undefined ? [] : [{ c, root: c.root }]));
  if (withRoot.length === 0) {
    return {
      check: { name: 'root', outcome: 'skipped', detail: `ListOfRootCertificateIDs (${request.rootCertificateIds.map(describeId).join(', ')}) not checked: no CPS root configured` },
      cps: offered[0],
      matched: [],
    };
  }
  for (const { c, root } of withRoot) {
    const matched = request.rootCertificateIds.filter((id) => matchesIssuerSerial(root, id));
    if (matched.length > 0) return { check: { name: 'root', outcome: 'pass', detail: `the EV trusts ${root.subject} (serial ${root.serialNumber})` }, cps: c, matched };
  }
  return {
    check: {
      name: 'root',
      outcome: 'fail',
      responseCode: 'FAILED_NoCertificateAvailable',
      detail:
        `none of the EV's ListOfRootCertificateIDs (${request.rootCertificateIds.map(describeId).join(', ') || 'empty'}) is the root of a CPS chain on offer ` +
        `(${withRoot.map(({ root }) => `"${root.issuer}" #${root.serialNumber}`).join(', ')})`,
    },
    cps: undefined,
    matched: [],
  };
}

/** Runs every check on a parsed request (see the module comment); never throws for a bad certificate. */
export function assessCertificateRequest(request: ParsedCertificateRequest, opts: AssessOptions): CertificateRequestAssessment {
  const checks: CertificateRequestCheck[] = [];
  if (request.kind === 'CertificateInstallationReq') {
    checks.push(...chainChecks('oem', request.oemChain, opts.oemTrust?.chainErrorCode ?? 'FAILED', 'OEM provisioning certificate'));
  } else {
    checks.push(...chainChecks('contract', request.contractChain, 'FAILED_CertChainError', 'current contract certificate'));
  }
  const enforce = opts.requireValidSignature !== false;
  if (request.signature.valid) checks.push({ name: 'signature', outcome: 'pass', detail: `${request.kind} signature verifies` });
  else if (enforce) checks.push({ name: 'signature', outcome: 'fail', responseCode: 'FAILED_SignatureError', detail: `${request.kind} signature: ${request.signature.problems.join('; ')}` });
  else checks.push({ name: 'signature', outcome: 'skipped', detail: `not enforced (requireValidSignature: false): ${request.signature.problems.join('; ')}` });
  if (request.kind === 'CertificateUpdateReq') {
    checks.push(
      request.eMAIDMatches
        ? { name: 'emaid', outcome: 'pass', detail: `eMAID ${request.eMAID} is the contract certificate's CN` }
        : {
            name: 'emaid',
            outcome: 'fail',
            responseCode: 'FAILED_CertChainError',
            detail: `CertificateUpdateReq eMAID "${request.eMAID}" is not the CN of the contract certificate being updated (${request.contractCommonName === undefined ? 'it has no CN' : `"${request.contractCommonName}"`})`,
          },
    );
  }
  const offered = Array.isArray(opts.cps) ? (opts.cps as readonly CpsSigner[]) : [opts.cps as CpsSigner];
  if (offered.length === 0) throw new CertificateMessageError('cps: no CPS chain given');
  const root = rootCheck(request, offered);
  checks.push(root.check); // pushed in the order of CertificateRequestCheckName
  const first = checks.find((c) => c.outcome === 'fail');
  return {
    ok: first === undefined,
    responseCode: first?.responseCode ?? 'OK',
    reason: first ? `${first.name}: ${first.detail}` : 'all checks passed',
    checks,
    cps: root.cps,
    matchedRootIds: root.matched,
  };
}

export interface AnswerOptions extends RequestCheckOptions {
  /** the CPS chain(s) on offer; with `root` set, the EV's ListOfRootCertificateIDs picks one */
  cps: CpsSigner | readonly CpsSigner[];
  /** issue or pick the contract for this request (src/pki); only called when every check passed */
  issueContract: (
    req: ParsedCertificateRequest,
    selection: { cps: CpsSigner; matchedRootIds: RootCertificateId[] },
  ) => ContractCredentials | Promise<ContractCredentials>;
  /** a request whose signature does not verify is answered with FAILED_SignatureError (default true); false: reported, not enforced */
  requireValidSignature?: boolean;
}

export interface Get15118EVCertificateAnswer {
  request: ParsedCertificateRequest;
  /** the CertificateInstallationRes / CertificateUpdateRes: signed with a contract when `assessment.ok`, else the failure */
  response: BuiltCertificateResponse;
  assessment: CertificateRequestAssessment;
}

/**
 * The whole CPS answer to an OCPP Get15118EVCertificate: decode exiRequest (Installation or
 * Update), run the checks, then either issue the contract and build the signed response, or build
 * the failure response with the check's response code (its reason is in `assessment.reason` and,
 * for logs, in `response.warnings`). Throws CertificateMessageError / ExiDecodeError only when the
 * request cannot be read at all (not base64, not EXI, not a certificate request, unreadable certificate).
 */
export async function answerGet15118EVCertificate(exiRequest: Uint8Array | string, opts: AnswerOptions): Promise<Get15118EVCertificateAnswer> {
  const bytes = exiBytes(exiRequest);
  const msg = decodeV2GMessage(bytes);
  const checkOpts: RequestCheckOptions = { ...(opts.oemTrust ? { oemTrust: opts.oemTrust } : {}), ...(opts.contractTrust ? { contractTrust: opts.contractTrust } : {}), ...(opts.now ? { now: opts.now } : {}) };
  const request: ParsedCertificateRequest = msg.Body.CertificateUpdateReq ? parseCertificateUpdateReq(bytes, checkOpts) : parseCertificateInstallationReq(bytes, checkOpts);
  const assessment = assessCertificateRequest(request, { cps: opts.cps, ...(opts.requireValidSignature !== undefined ? { requireValidSignature: opts.requireValidSignature } : {}), ...(opts.oemTrust ? { oemTrust: opts.oemTrust } : {}) });
  const resKind = request.kind === 'CertificateUpdateReq' ? 'CertificateUpdateRes' : 'CertificateInstallationRes';
  const skipped = [...new Set(assessment.checks.filter((c) => c.outcome === 'skipped').map((c) => c.detail))];
  if (!assessment.ok || !assessment.cps) {
    const response = buildCertificateFailureRes(resKind, { sessionId: request.sessionId, responseCode: assessment.responseCode });
    response.warnings.push(`${resKind} answers ${assessment.responseCode}: ${assessment.reason}`, ...skipped);
    return { request, response, assessment };
  }
  const cps = assessment.cps;
  const contract = await opts.issueContract(request, { cps, matchedRootIds: assessment.matchedRootIds });
  const input: BuildCertificateResponseInput = { sessionId: request.sessionId, cps, contract, recipientPublicKey: request.signerPublicKey };
  const response = request.kind === 'CertificateUpdateReq' ? await buildCertificateUpdateRes(input) : await buildCertificateInstallationRes(input);
  response.warnings.push(...skipped);
  return { request, response, assessment };
}
