// OCSP (RFC 6960, DER) for the bench: request building and parsing, the responder, and response
// verification as a client (CSMS) does it.
//
// The responder answers for every CA whose key the bench holds (a `BenchPki`), signing each
// response with the issuing CA itself (responderID byKey). Status: an explicit override, else a
// recorded revocation, else "good" for a serial the PKI issued, else `unknownSerials` (default
// "unknown"). A request for a CA the bench does not hold gets responseStatus `unauthorized`; a request
// mixing several CAs too (one response has one signer). Nonces are echoed (RFC 8954). Faults for
// negative tests: forced responseStatus (tryLater, internalError, …) and a bad signature.
//
//   const responder = new OcspResponder(pki);
//   responder.revoke(contract, { reason: 'keyCompromise' });
//   const der = responder.respond(buildOcspRequest([{ cert: contract, issuer: moSub2 }]));
//   const r = verifyOcspResponse(der, { cert: contract, issuer: moSub2 });   // { ok: true, status: 'revoked', ... }
import crypto from 'node:crypto';
import {
  children,
  content,
  ctx,
  decodeSmallInteger,
  decodeTime,
  DER_NULL,
  derBitString,
  derEnumerated,
  derGeneralizedTime,
  DerError,
  derOctetString,
  derOid,
  derUnsignedInteger,
  expectTag,
  readOid,
  readRoot,
  seq,
  TAG,
  whole,
  type Tlv,
} from './der.ts';
import { bytesEqual, fromHex, integerBytesToHex, toHex } from './encoding.ts';
import { PkiInputError } from './errors.ts';
import { HASH_ALGORITHMS, type CertificateHashData, type HashAlgorithm } from './hash-data.ts';
import type { CertificateAuthority } from './issue.ts';
import { generateP256KeyPair, publicKeyObjectFromSpki, signP256DerFast, type P256KeyPair } from './keys.ts';
import { OID, PkiCert, SIGNATURE_HASH, verifyCertificateSignature } from './x509.ts';

const ID_PKIX_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const ID_PKIX_OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';

/** CertID hash algorithms: OCPP's three plus SHA-1 (the OCSP default, used by openssl). */
export type CertIdHashAlgorithm = HashAlgorithm | 'SHA1';

const HASH_OIDS: Readonly<Record<CertIdHashAlgorithm, string>> = {
  SHA1: '1.3.14.3.2.26',
  SHA256: '2.16.840.1.101.3.4.2.1',
  SHA384: '2.16.840.1.101.3.4.2.2',
  SHA512: '2.16.840.1.101.3.4.2.3',
};
const HASH_BY_OID: ReadonlyMap<string, CertIdHashAlgorithm> = new Map(Object.entries(HASH_OIDS).map(([k, v]) => [v, k as CertIdHashAlgorithm]));
const NODE_HASHES: Readonly<Record<CertIdHashAlgorithm, string>> = { SHA1: 'sha1', SHA256: 'sha256', SHA384: 'sha384', SHA512: 'sha512' };

export const CRL_REASONS = ['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold', 'removeFromCRL', 'privilegeWithdrawn', 'aACompromise'] as const;
export type CrlReason = (typeof CRL_REASONS)[number];
/** CRLReason ENUMERATED values (RFC 5280 §5.3.1; 7 is unused). */
const CRL_REASON_CODE: Readonly<Record<CrlReason, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};
const CRL_REASON_BY_CODE: ReadonlyMap<number, CrlReason> = new Map(Object.entries(CRL_REASON_CODE).map(([k, v]) => [v, k as CrlReason]));
const RESPONSE_STATUS_CODE: Readonly<Record<OcspResponseStatusName, number>> = { successful: 0, malformedRequest: 1, internalError: 2, tryLater: 3, sigRequired: 5, unauthorized: 6 };
const RESPONSE_STATUS_BY_CODE: ReadonlyMap<number, OcspResponseStatusName> = new Map(Object.entries(RESPONSE_STATUS_CODE).map(([k, v]) => [v, k as OcspResponseStatusName]));

export const OCSP_RESPONSE_STATUSES = ['successful', 'malformedRequest', 'internalError', 'tryLater', 'sigRequired', 'unauthorized'] as const;
export type OcspResponseStatusName = (typeof OCSP_RESPONSE_STATUSES)[number];

export type OcspCertStatus = { status: 'good' } | { status: 'revoked'; revocationTime: Date; reason: CrlReason | undefined } | { status: 'unknown' };

/** A CertID in plain form: algorithm, hex hashes, serial as lower-case hex without leading zeros. */
export interface CertIdInfo {
  hashAlgorithm: CertIdHashAlgorithm;
  issuerNameHash: string;
  issuerKeyHash: string;
  serialNumber: string;
}

function hash(alg: CertIdHashAlgorithm, data: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.createHash(NODE_HASHES[alg]).update(data).digest());
}

/** A positive minimal DER INTEGER body for a hex serial ("3041" → 30 41, "ff" → 00 ff). */
function serialHexToInteger(hex: string, field: string): Uint8Array {
  let h = hex.toLowerCase().replace(/^0+(?=.)/, '');
  if (h.length % 2) h = `0${h}`;
  const b = fromHex(h, field);
  return (b[0] as number) >= 0x80 ? Uint8Array.of(0, ...b) : b;
}

/** DER CertID for `info`. SHA-x AlgorithmIdentifier with NULL parameters, as openssl writes it. */
function certIdDer(info: CertIdInfo, field: string): Uint8Array {
  return seq(
    seq(derOid(HASH_OIDS[info.hashAlgorithm]), DER_NULL),
    derOctetString(fromHex(info.issuerNameHash.toLowerCase(), `${field}.issuerNameHash`)),
    derOctetString(fromHex(info.issuerKeyHash.toLowerCase(), `${field}.issuerKeyHash`)),
    derUnsignedInteger(serialHexToInteger(info.serialNumber, `${field}.serialNumber`)),
  );
}

function readCertId(buf: Uint8Array, t: Tlv | undefined): CertIdInfo {
  const [algT, nameT, keyT, serialT] = children(buf, expectTag(t, TAG.SEQUENCE, 'CertID'), 'CertID');
  const oid = readOid(buf, children(buf, expectTag(algT, TAG.SEQUENCE, 'CertID.hashAlgorithm'))[0], 'CertID.hashAlgorithm');
  const alg = HASH_BY_OID.get(oid);
  if (!alg) throw new OcspFormatError(`CertID hash algorithm ${oid} is not SHA-1/256/384/512`);
  return {
    hashAlgorithm: alg,
    issuerNameHash: toHex(content(buf, expectTag(nameT, TAG.OCTET_STRING, 'CertID.issuerNameHash'))),
    issuerKeyHash: toHex(content(buf, expectTag(keyT, TAG.OCTET_STRING, 'CertID.issuerKeyHash'))),
    serialNumber: integerBytesToHex(content(buf, expectTag(serialT, TAG.INTEGER, 'CertID.serialNumber'))),
  };
}

/** Runs a DER walk, turning DerError into OcspFormatError with `what` in front. */
function der<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DerError) throw new OcspFormatError(`not a DER ${what} (${e.message})`);
    throw e;
  }
}

/** The CertID of `cert` issued by `issuer`. */
export function certIdOf(cert: PkiCert, issuer: PkiCert, hashAlgorithm: CertIdHashAlgorithm = 'SHA256'): CertIdInfo {
  return {
    hashAlgorithm,
    issuerNameHash: toHex(hash(hashAlgorithm, cert.issuerDer)),
    issuerKeyHash: toHex(hash(hashAlgorithm, issuer.publicKeyBits)),
    serialNumber: cert.serialHex,
  };
}

export function certIdEquals(a: CertIdInfo, b: CertIdInfo): boolean {
  return (
    a.hashAlgorithm === b.hashAlgorithm &&
    a.issuerNameHash.toLowerCase() === b.issuerNameHash.toLowerCase() &&
    a.issuerKeyHash.toLowerCase() === b.issuerKeyHash.toLowerCase() &&
    a.serialNumber.toLowerCase().replace(/^0+(?=.)/, '') === b.serialNumber.toLowerCase().replace(/^0+(?=.)/, '')
  );
}

/** The request structure is wrong (a client bug or garbage bytes). */
export class OcspFormatError extends Error {
  override readonly name = 'OcspFormatError';
}

// ---------------------------------------------------------------- requests

export type OcspRequestItem = { cert: PkiCert; issuer: PkiCert } | CertificateHashData | CertIdInfo;

export interface BuildOcspRequestOptions {
  /** CertID hash algorithm when items are certificates; default SHA256. */
  hashAlgorithm?: CertIdHashAlgorithm;
  /** Nonce bytes, or true for 16 random bytes; default none. */
  nonce?: Uint8Array | boolean;
}

/** Extensions [n] EXPLICIT holding one nonce extension. */
function nonceExtensions(n: number, extnValue: Uint8Array): Uint8Array {
  return ctx(n, true, seq(seq(derOid(ID_PKIX_OCSP_NONCE), derOctetString(extnValue))));
}

/** DER OCSPRequest for one or more certificates or hash data entries (unsigned). */
export function buildOcspRequest(items: readonly OcspRequestItem[], opts: BuildOcspRequestOptions = {}): Uint8Array {
  if (items.length === 0) throw new PkiInputError('ocspRequest', 'needs at least one certificate');
  const requests = items.map((item, i) => {
    const info: CertIdInfo = 'cert' in item ? certIdOf(item.cert, item.issuer, opts.hashAlgorithm ?? 'SHA256') : item;
    if (!(HASH_ALGORITHMS as readonly string[]).includes(info.hashAlgorithm) && info.hashAlgorithm !== 'SHA1') {
      throw new PkiInputError(`ocspRequest[${i}].hashAlgorithm`, `"${info.hashAlgorithm}" is not SHA1/SHA256/SHA384/SHA512`);
    }
    return seq(certIdDer(info, `ocspRequest[${i}]`));
  });
  const nonce = opts.nonce === true ? new Uint8Array(crypto.randomBytes(16)) : opts.nonce || undefined;
  const tbs = seq(seq(...requests), ...(nonce ? [nonceExtensions(2, nonceExtnValueOf(nonce))] : []));
  return seq(tbs);
}

/** The nonce extension's extnValue for nonce bytes: an OCTET STRING (RFC 8954). */
export function nonceExtnValueOf(nonce: Uint8Array): Uint8Array {
  return derOctetString(nonce);
}

export interface ParsedOcspRequest {
  certIds: CertIdInfo[];
  /** The CertIDs exactly as sent (echoed verbatim in the response). */
  certIdDers: Uint8Array[];
  /** The nonce extension's extnValue contents, as sent (echoed verbatim). */
  nonceExtnValue: Uint8Array | undefined;
  /** The nonce bytes (the OCTET STRING inside extnValue) when well-formed. */
  nonce: Uint8Array | undefined;
}

/** Finds the nonce extension in an Extensions SEQUENCE. */
function findNonce(buf: Uint8Array, extsSeq: Tlv): Uint8Array | undefined {
  for (const ext of children(buf, expectTag(extsSeq, TAG.SEQUENCE, 'Extensions'), 'Extensions')) {
    const parts = children(buf, expectTag(ext, TAG.SEQUENCE, 'Extension'), 'Extension');
    if (readOid(buf, parts[0], 'extnID') === ID_PKIX_OCSP_NONCE) return Uint8Array.from(content(buf, expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue')));
  }
  return undefined;
}

/** Parses a DER OCSPRequest; throws OcspFormatError if it is not one. */
export function parseOcspRequest(derBytes: Uint8Array): ParsedOcspRequest {
  return der('OCSPRequest', () => {
    const root = readRoot(derBytes, TAG.SEQUENCE, 'OCSPRequest');
    const tbs = children(derBytes, expectTag(children(derBytes, root)[0], TAG.SEQUENCE, 'tbsRequest'), 'tbsRequest');
    const listT = tbs.find((t) => t.tag === TAG.SEQUENCE);
    const extT = tbs.find((t) => t.tag === 0xa2);
    const list = children(derBytes, expectTag(listT, TAG.SEQUENCE, 'requestList'), 'requestList');
    if (list.length === 0) throw new OcspFormatError('requestList is empty');
    const certIds: CertIdInfo[] = [];
    const certIdDers: Uint8Array[] = [];
    for (const r of list) {
      const idT = children(derBytes, expectTag(r, TAG.SEQUENCE, 'Request'), 'Request')[0];
      certIds.push(readCertId(derBytes, idT));
      certIdDers.push(Uint8Array.from(whole(derBytes, idT as Tlv)));
    }
    const nonceExtnValue = extT ? findNonce(derBytes, children(derBytes, extT)[0] as Tlv) : undefined;
    let nonce: Uint8Array | undefined;
    if (nonceExtnValue) {
      try {
        const t = readRoot(nonceExtnValue, TAG.OCTET_STRING, 'nonce');
        nonce = Uint8Array.from(content(nonceExtnValue, t));
      } catch {
        nonce = nonceExtnValue;
      }
    }
    return { certIds, certIdDers, nonceExtnValue, nonce };
  });
}

// ---------------------------------------------------------------- responder

/** What the responder needs from a PKI: CA keys and the register of issued serials (BenchPki has both). */
export interface OcspAuthoritySource {
  authorities(): readonly CertificateAuthority[];
  isIssued(issuer: PkiCert, serialHex: string): boolean;
}

export interface OcspResponderOptions {
  /** Clock for producedAt / thisUpdate; default `() => new Date()`. */
  clock?: () => Date;
  /** nextUpdate − thisUpdate; default 24 h. 0 leaves nextUpdate out. */
  validityMs?: number;
  /** Status of a serial the PKI never issued under a known CA; default 'unknown'. */
  unknownSerials?: 'unknown' | 'good' | 'revoked';
}

export interface OcspResponderFaults {
  /** Answer every request with this responseStatus (no signed body unless 'successful'). */
  responseStatus?: Exclude<OcspResponseStatusName, 'successful'>;
  /** Sign responses with a throw-away key instead of the issuer's. */
  badSignature?: boolean;
}

export interface OcspAnswer {
  der: Uint8Array;
  responseStatus: OcspResponseStatusName;
  /** Per requested certificate, in request order (empty unless successful). */
  results: { certId: CertIdInfo; status: OcspCertStatus }[];
  /** Why the request was not answered successfully. */
  reason?: string;
}

interface RevocationRecord {
  time: Date;
  reason: CrlReason | undefined;
}

const floorSecond = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);

export class OcspResponder {
  readonly #source: OcspAuthoritySource;
  readonly #clock: () => Date;
  readonly #validityMs: number;
  readonly #unknownSerials: 'unknown' | 'good' | 'revoked';
  readonly #revoked = new Map<string, RevocationRecord>();
  readonly #overrides = new Map<string, OcspCertStatus>();
  #index = new Map<string, CertificateAuthority>();
  #indexedCount = -1;
  #throwaway: P256KeyPair | undefined;
  faults: OcspResponderFaults = {};
  /** Number of requests answered (any status). */
  requestCount = 0;

  constructor(source: OcspAuthoritySource, opts: OcspResponderOptions = {}) {
    this.#source = source;
    this.#clock = opts.clock ?? (() => new Date());
    this.#validityMs = opts.validityMs ?? 86_400_000;
    this.#unknownSerials = opts.unknownSerials ?? 'unknown';
  }

  static #recordKey(issuerSubjectDer: Uint8Array, serialHex: string): string {
    return `${toHex(hash('SHA256', issuerSubjectDer))}:${serialHex.toLowerCase().replace(/^0+(?=.)/, '')}`;
  }

  /** Per-CA values computed once: the record-key prefix and the responderID key hash. */
  readonly #caCache = new WeakMap<PkiCert, { namePrefix: string; responderKeyHash: Uint8Array }>();

  #caInfo(cert: PkiCert): { namePrefix: string; responderKeyHash: Uint8Array } {
    let c = this.#caCache.get(cert);
    if (!c) {
      c = { namePrefix: toHex(hash('SHA256', cert.subjectDer)), responderKeyHash: hash('SHA1', cert.publicKeyBits) };
      this.#caCache.set(cert, c);
    }
    return c;
  }

  /** Marks `cert` revoked (from `time`, default now, with an optional CRL reason). */
  revoke(cert: PkiCert, opts: { reason?: CrlReason; time?: Date } = {}): void {
    if (opts.reason !== undefined && !CRL_REASONS.includes(opts.reason)) throw new PkiInputError('reason', `"${opts.reason}" is not a CRL reason (${CRL_REASONS.join(', ')})`);
    this.#revoked.set(OcspResponder.#recordKey(cert.issuerDer, cert.serialHex), { time: floorSecond(opts.time ?? this.#clock()), reason: opts.reason });
  }

  unrevoke(cert: PkiCert): void {
    this.#revoked.delete(OcspResponder.#recordKey(cert.issuerDer, cert.serialHex));
  }

  /** Forces the status reported for `cert` (wins over revocations); `undefined` clears it. */
  setStatus(cert: PkiCert, status: OcspCertStatus | 'good' | 'unknown' | undefined): void {
    const key = OcspResponder.#recordKey(cert.issuerDer, cert.serialHex);
    if (status === undefined) this.#overrides.delete(key);
    else this.#overrides.set(key, typeof status === 'string' ? { status } : status);
  }

  #lookup(id: CertIdInfo): CertificateAuthority | undefined {
    const cas = this.#source.authorities();
    if (cas.length !== this.#indexedCount) {
      this.#index = new Map();
      this.#indexedCount = cas.length;
    }
    const k = `${id.hashAlgorithm}:${id.issuerNameHash.toLowerCase()}:${id.issuerKeyHash.toLowerCase()}`;
    let ca = this.#index.get(k);
    if (ca) return ca;
    for (const c of cas) {
      const name = toHex(hash(id.hashAlgorithm, c.cert.subjectDer));
      const key = toHex(hash(id.hashAlgorithm, c.cert.publicKeyBits));
      this.#index.set(`${id.hashAlgorithm}:${name}:${key}`, c);
    }
    ca = this.#index.get(k);
    return ca;
  }

  /** The status the responder would give `certId` under `ca` right now. */
  statusOf(ca: CertificateAuthority, serialHex: string): OcspCertStatus {
    const key = `${this.#caInfo(ca.cert).namePrefix}:${serialHex.toLowerCase().replace(/^0+(?=.)/, '')}`;
    const o = this.#overrides.get(key);
    if (o) return o;
    const r = this.#revoked.get(key);
    if (r) return { status: 'revoked', revocationTime: r.time, reason: r.reason };
    if (this.#source.isIssued(ca.cert, serialHex)) return { status: 'good' };
    if (this.#unknownSerials === 'revoked') return { status: 'revoked', revocationTime: new Date(0), reason: 'certificateHold' };
    return { status: this.#unknownSerials };
  }

  /** Answers a DER OCSPRequest with a DER OCSPResponse. Never throws for bad input. */
  respond(requestDer: Uint8Array): Uint8Array {
    return this.answer(requestDer).der;
  }

  /** Like `respond`, with what was decided (for transcripts and tests). */
  answer(requestDer: Uint8Array): OcspAnswer {
    this.requestCount++;
    if (this.faults.responseStatus) return errorAnswer(this.faults.responseStatus, 'forced by fault injection');
    let req: ParsedOcspRequest;
    try {
      req = parseOcspRequest(requestDer);
    } catch (e) {
      return errorAnswer('malformedRequest', (e as Error).message);
    }
    let signer: CertificateAuthority | undefined;
    for (const id of req.certIds) {
      const ca = this.#lookup(id);
      if (!ca) return errorAnswer('unauthorized', `no CA with issuerNameHash ${id.issuerNameHash} / issuerKeyHash ${id.issuerKeyHash} (${id.hashAlgorithm})`);
      if (signer && signer !== ca) return errorAnswer('unauthorized', 'the request names certificates of more than one CA');
      signer = ca;
    }
    const ca = signer as CertificateAuthority;
    const now = floorSecond(this.#clock());
    const results = req.certIds.map((certId) => ({ certId, status: this.statusOf(ca, certId.serialNumber) }));
    const nextUpdate = this.#validityMs > 0 ? ctx(0, true, derGeneralizedTime(new Date(now.getTime() + this.#validityMs))) : new Uint8Array();
    const thisUpdate = derGeneralizedTime(now);
    const singles = results.map(({ status }, i) => seq(req.certIdDers[i] as Uint8Array, certStatusDer(status), thisUpdate, nextUpdate));
    const tbs = seq(
      ctx(2, true, derOctetString(this.#caInfo(ca.cert).responderKeyHash)), // responderID byKey
      thisUpdate, // producedAt
      seq(...singles),
      ...(req.nonceExtnValue ? [nonceExtensions(1, req.nonceExtnValue)] : []),
    );
    const key = this.faults.badSignature ? (this.#throwaway ??= generateP256KeyPair()) : ca.key;
    const basic = seq(tbs, seq(derOid(OID.ecdsaWithSha256)), derBitString(signP256DerFast(key, tbs)));
    const der = seq(derEnumerated(RESPONSE_STATUS_CODE.successful), ctx(0, true, seq(derOid(ID_PKIX_OCSP_BASIC), derOctetString(basic))));
    return { der, responseStatus: 'successful', results };
  }

  /** In-process transport for `checkOcsp` / `getCertificateStatus` (the URL is not used). */
  readonly transport: OcspTransport = async (requestDer) => this.respond(requestDer);
}

function certStatusDer(s: OcspCertStatus): Uint8Array {
  if (s.status === 'good') return Uint8Array.of(0x80, 0x00);
  if (s.status === 'unknown') return Uint8Array.of(0x82, 0x00);
  return ctx(1, true, derGeneralizedTime(s.revocationTime), ...(s.reason ? [ctx(0, true, derEnumerated(CRL_REASON_CODE[s.reason]))] : []));
}

function errorAnswer(status: Exclude<OcspResponseStatusName, 'successful'>, reason: string): OcspAnswer {
  return { der: seq(derEnumerated(RESPONSE_STATUS_CODE[status])), responseStatus: status, results: [], reason };
}

// ---------------------------------------------------------------- responses (client side)

export interface ParsedSingleResponse {
  certId: CertIdInfo;
  status: OcspCertStatus;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
}

export interface ParsedOcspResponse {
  responseStatus: OcspResponseStatusName;
  basic?: {
    tbs: Uint8Array;
    signatureAlgorithm: string;
    signature: Uint8Array;
    responderKeyHash: Uint8Array | undefined;
    responderName: Uint8Array | undefined;
    producedAt: Date;
    responses: ParsedSingleResponse[];
    nonceExtnValue: Uint8Array | undefined;
    certs: PkiCert[];
  };
}

/** Parses a DER OCSPResponse; throws OcspFormatError if malformed. */
export function parseOcspResponse(derBytes: Uint8Array): ParsedOcspResponse {
  const outer = der('OCSPResponse', () => {
    const root = readRoot(derBytes, TAG.SEQUENCE, 'OCSPResponse');
    const [statusT, bytesT] = children(derBytes, root, 'OCSPResponse');
    const code = decodeSmallInteger(content(derBytes, expectTag(statusT, TAG.ENUMERATED, 'responseStatus')), 'responseStatus');
    return { code, bytesT };
  });
  const responseStatus = RESPONSE_STATUS_BY_CODE.get(outer.code);
  if (!responseStatus) throw new OcspFormatError(`unknown responseStatus ${outer.code}`);
  if (responseStatus !== 'successful') return { responseStatus };
  if (!outer.bytesT || outer.bytesT.tag !== 0xa0) throw new OcspFormatError('successful response without responseBytes');
  const basicDer = der('ResponseBytes', () => {
    const [typeT, respT] = children(derBytes, expectTag(children(derBytes, outer.bytesT as Tlv)[0], TAG.SEQUENCE, 'ResponseBytes'), 'ResponseBytes');
    const type = readOid(derBytes, typeT, 'responseType');
    if (type !== ID_PKIX_OCSP_BASIC) throw new OcspFormatError(`responseType ${type} is not id-pkix-ocsp-basic`);
    return content(derBytes, expectTag(respT, TAG.OCTET_STRING, 'response'));
  });
  const basic = der('BasicOCSPResponse', () => {
    const b = basicDer;
    const [tbsT, algT, sigT, certsT] = children(b, readRoot(b, TAG.SEQUENCE, 'BasicOCSPResponse'), 'BasicOCSPResponse');
    const tbs = children(b, expectTag(tbsT, TAG.SEQUENCE, 'tbsResponseData'), 'tbsResponseData');
    let i = tbs[0]?.tag === 0xa0 ? 1 : 0; // version [0] EXPLICIT DEFAULT v1
    const ridT = tbs[i++];
    let responderKeyHash: Uint8Array | undefined;
    let responderName: Uint8Array | undefined;
    if (ridT?.tag === 0xa2) responderKeyHash = Uint8Array.from(content(b, expectTag(children(b, ridT)[0], TAG.OCTET_STRING, 'responderID byKey')));
    else if (ridT?.tag === 0xa1) responderName = Uint8Array.from(whole(b, expectTag(children(b, ridT)[0], TAG.SEQUENCE, 'responderID byName')));
    else throw new OcspFormatError('responderID is neither byName [1] nor byKey [2]');
    const producedAt = decodeTime(b, expectTag(tbs[i++], TAG.GeneralizedTime, 'producedAt'), 'producedAt');
    const responses = children(b, expectTag(tbs[i++], TAG.SEQUENCE, 'responses'), 'responses').map((r) => readSingle(b, r));
    const extT = tbs[i];
    const nonceExtnValue = extT?.tag === 0xa1 ? findNonce(b, children(b, extT)[0] as Tlv) : undefined;
    const sigBits = content(b, expectTag(sigT, TAG.BIT_STRING, 'signature'));
    if (sigBits[0] !== 0) throw new OcspFormatError('signature BIT STRING has unused bits');
    const certs = certsT?.tag === 0xa0 ? children(b, expectTag(children(b, certsT)[0], TAG.SEQUENCE, 'certs')).map((c) => new PkiCert(whole(b, c), 'ocspResponse.certs')) : [];
    return {
      tbs: Uint8Array.from(whole(b, tbsT as Tlv)),
      signatureAlgorithm: readOid(b, children(b, expectTag(algT, TAG.SEQUENCE, 'signatureAlgorithm'))[0], 'signatureAlgorithm'),
      signature: Uint8Array.from(sigBits.subarray(1)),
      responderKeyHash,
      responderName,
      producedAt,
      responses,
      nonceExtnValue,
      certs,
    };
  });
  return { responseStatus, basic };
}

function readSingle(b: Uint8Array, t: Tlv): ParsedSingleResponse {
  const parts = children(b, expectTag(t, TAG.SEQUENCE, 'SingleResponse'), 'SingleResponse');
  const certId = readCertId(b, parts[0]);
  const st = parts[1];
  let status: OcspCertStatus;
  if (st?.tag === 0x80) status = { status: 'good' };
  else if (st?.tag === 0x82) status = { status: 'unknown' };
  else if (st?.tag === 0xa1) {
    const [timeT, reasonT] = children(b, st, 'RevokedInfo');
    const revocationTime = decodeTime(b, expectTag(timeT, TAG.GeneralizedTime, 'revocationTime'), 'revocationTime');
    let reason: CrlReason | undefined;
    if (reasonT?.tag === 0xa0) {
      const code = decodeSmallInteger(content(b, expectTag(children(b, reasonT)[0], TAG.ENUMERATED, 'revocationReason')), 'revocationReason');
      reason = CRL_REASON_BY_CODE.get(code);
      if (!reason) throw new OcspFormatError(`revocationReason ${code} is not a CRL reason`);
    }
    status = { status: 'revoked', revocationTime, reason };
  } else throw new OcspFormatError('certStatus is not good [0], revoked [1] or unknown [2]');
  const thisUpdate = decodeTime(b, expectTag(parts[2], TAG.GeneralizedTime, 'thisUpdate'), 'thisUpdate');
  const nu = parts[3]?.tag === 0xa0 ? children(b, parts[3])[0] : undefined;
  const nextUpdate = nu ? decodeTime(b, expectTag(nu, TAG.GeneralizedTime, 'nextUpdate'), 'nextUpdate') : undefined;
  return { certId, status, thisUpdate, nextUpdate };
}

export interface VerifyOcspOptions {
  /** The certificate asked about and its issuer (or pass `certId`). */
  cert?: PkiCert;
  issuer: PkiCert;
  certId?: CertIdInfo;
  now?: Date;
  /** Allowed clock difference for thisUpdate / nextUpdate; default 5 min. */
  maxSkewMs?: number;
  /** The nonce extnValue sent in the request, if any; a response echoing a different one fails. */
  nonceExtnValue?: Uint8Array;
}

export type OcspVerification =
  | { ok: true; status: OcspCertStatus; thisUpdate: Date; nextUpdate: Date | undefined; signer: 'issuer' | 'delegated' }
  | { ok: false; error: string; responseStatus?: OcspResponseStatusName };

/**
 * Verifies an OCSP response for one certificate as a relying party does (RFC 6960 §3.2): status
 * successful, basic response, a SingleResponse for our CertID, signed by the issuer or by a delegated
 * responder certificate the issuer signed with EKU id-kp-OCSPSigning, current (thisUpdate/nextUpdate),
 * nonce echoed if both sides used one. Never throws for a bad response.
 */
export function verifyOcspResponse(der: Uint8Array, opts: VerifyOcspOptions): OcspVerification {
  let parsed: ParsedOcspResponse;
  try {
    parsed = parseOcspResponse(der);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  if (parsed.responseStatus !== 'successful' || !parsed.basic) return { ok: false, error: `responseStatus ${parsed.responseStatus}`, responseStatus: parsed.responseStatus };
  const b = parsed.basic;
  const want = opts.certId ?? (opts.cert ? certIdOf(opts.cert, opts.issuer, 'SHA256') : undefined);
  if (!want) return { ok: false, error: 'verifyOcspResponse needs cert or certId' };
  const single = b.responses.find((r) => certIdEquals(r.certId, want));
  if (!single) return { ok: false, error: `no SingleResponse for serial ${want.serialNumber}` };

  const alg = SIGNATURE_HASH[b.signatureAlgorithm];
  if (!alg) return { ok: false, error: `unsupported response signature algorithm ${b.signatureAlgorithm}` };
  const issuerKeyHash = hash('SHA1', opts.issuer.publicKeyBits);
  const byIssuer = (b.responderKeyHash && bytesEqual(b.responderKeyHash, issuerKeyHash)) || (b.responderName && bytesEqual(b.responderName, opts.issuer.subjectDer));
  let signerSpki: Uint8Array | undefined;
  let signer: 'issuer' | 'delegated' = 'issuer';
  if (byIssuer) signerSpki = opts.issuer.spki;
  else {
    const delegate = b.certs.find((c) => (b.responderKeyHash && bytesEqual(hash('SHA1', c.publicKeyBits), b.responderKeyHash)) || (b.responderName && bytesEqual(c.subjectDer, b.responderName)));
    if (!delegate) return { ok: false, error: 'response is signed neither by the issuer nor by an included responder certificate' };
    if (!bytesEqual(delegate.issuerDer, opts.issuer.subjectDer) || !verifyCertificateSignature(delegate, opts.issuer.spki)) return { ok: false, error: 'delegated responder certificate is not signed by the issuer' };
    if (!delegate.extKeyUsage?.includes(OID.ocspSigning)) return { ok: false, error: 'delegated responder certificate lacks EKU id-kp-OCSPSigning' };
    signerSpki = delegate.spki;
    signer = 'delegated';
  }
  let sigOk = false;
  try {
    sigOk = crypto.verify(alg.hash, b.tbs, publicKeyObjectFromSpki(signerSpki), b.signature);
  } catch {
    sigOk = false;
  }
  if (!sigOk) return { ok: false, error: 'response signature does not verify' };

  const now = (opts.now ?? new Date()).getTime();
  const skew = opts.maxSkewMs ?? 300_000;
  if (single.thisUpdate.getTime() > now + skew) return { ok: false, error: `thisUpdate ${single.thisUpdate.toISOString()} is in the future` };
  if (single.nextUpdate && single.nextUpdate.getTime() < now - skew) return { ok: false, error: `nextUpdate ${single.nextUpdate.toISOString()} has passed (stale response)` };
  if (opts.nonceExtnValue && b.nonceExtnValue && !bytesEqual(opts.nonceExtnValue, b.nonceExtnValue)) return { ok: false, error: 'nonce in the response differs from the request' };
  return { ok: true, status: single.status, thisUpdate: single.thisUpdate, nextUpdate: single.nextUpdate, signer };
}

// ---------------------------------------------------------------- checking a certificate

/** Sends a DER OCSP request to `url` and returns the DER response (HTTP or in-process). */
export type OcspTransport = (requestDer: Uint8Array, url: string, signal?: AbortSignal) => Promise<Uint8Array>;

export interface CheckOcspOptions {
  transport: OcspTransport;
  now?: Date;
  /** Send a nonce (default true). */
  nonce?: boolean;
  signal?: AbortSignal;
  /** Overrides the certificate's AIA URL. */
  url?: string;
}

export type OcspCheckResult = (OcspVerification & { url: string }) | { ok: false; error: string; url: string | undefined; noUrl: true };

/** Asks the certificate's OCSP responder (AIA) about `cert` and verifies the answer. Never throws. */
export async function checkOcsp(cert: PkiCert, issuer: PkiCert, opts: CheckOcspOptions): Promise<OcspCheckResult> {
  const url = opts.url ?? cert.ocspUrls[0];
  if (!url) return { ok: false, error: `"${cert.subject}" has no OCSP URL in authorityInfoAccess`, url: undefined, noUrl: true };
  const nonce = opts.nonce === false ? undefined : crypto.randomBytes(16);
  const reqDer = buildOcspRequest([{ cert, issuer }], nonce ? { nonce } : {});
  const nonceExtnValue = nonce ? nonceExtnValueOf(nonce) : undefined;
  let respDer: Uint8Array;
  try {
    respDer = await opts.transport(reqDer, url, opts.signal);
  } catch (e) {
    return { ok: false, error: `OCSP request to ${url} failed: ${(e as Error).message}`, url };
  }
  const v = verifyOcspResponse(respDer, { cert, issuer, ...(opts.now ? { now: opts.now } : {}), ...(nonceExtnValue ? { nonceExtnValue } : {}) });
  return { ...v, url };
}
