// ISO 15118-2 certificate installation and update, CPS side (what the mock CSMS answers to the OCPP
// Get15118EVCertificate DataTransfer): parse the EV's CertificateInstallationReq /
// CertificateUpdateReq (and check its signature), build the CertificateInstallationRes /
// CertificateUpdateRes: contract chain, contract key encrypted for the EV (contract-key.ts),
// Ids, the four digests (the eMAID through the relaxed fragment grammar), SignedInfo signed by the
// CPS leaf, the request's SessionID echoed (the charger forwards exiResponse verbatim).
// Certificates and keys come in as parameters (src/pki issues them); nothing here knows the PKI.
//
//   const req = parseCertificateInstallationReq(exiRequestBase64);          // req.signature.valid
//   const res = await buildCertificateInstallationRes({
//     sessionId: req.sessionId, recipientPublicKey: req.oemProvisioningPublicKey,
//     cps: { certificateChain: [cpsLeafDer, cpsSub2Der, cpsSub1Der], sign: (d) => signWithCpsLeaf(d) },
//     contract: { certificateChain: [contractDer, moSub2Der, moSub1Der], privateKey: contractScalar },
//   });
//   res.exiBase64; res.warnings;   // e.g. the 5,600-character OCPP 2.0.1 limit
import { X509Certificate } from 'node:crypto';
import { encryptContractPrivateKey } from './contract-key.ts';
import { ExiError } from './errors.ts';
import type { CertificateChainType, responseCodeType, V2G_MessageType } from './grammars/iso2-msgdef-types.ts';
import { decodeV2GMessage, encodeV2GMessage } from './iso2.ts';
import { publicKeyFromCertificate, signV2GMessage, verifyV2GSignature, type SignatureCheck, type Signer } from './xmldsig.ts';

/** OCPP 2.0.1 Get15118EVCertificate exiRequest / exiResponse maxLength. */
export const OCPP_EXI_MAX_BASE64 = 5600;

export class CertificateMessageError extends ExiError {
  override readonly name = 'CertificateMessageError';
}

export interface RootCertificateId {
  /** X509IssuerName as sent (RFC 4514 string) */
  issuerName: string;
  serialNumber: bigint;
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
}

export interface ParsedCertificateUpdateReq extends ParsedCommon {
  kind: 'CertificateUpdateReq';
  /** current contract certificate first, then its sub-CAs */
  contractCertificateChain: Uint8Array[];
  eMAID: string;
}

/** base64 (as OCPP carries it, whitespace allowed) or raw EXI bytes → bytes. */
export function exiBytes(input: Uint8Array | string): Uint8Array {
  if (input instanceof Uint8Array) return input;
  const s = input.replace(/\s+/g, '');
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new CertificateMessageError('exiRequest is not valid base64');
  return Uint8Array.from(Buffer.from(s, 'base64'));
}

function rootIds(list: { RootCertificateID: { X509IssuerName: string; X509SerialNumber: bigint }[] }): RootCertificateId[] {
  return list.RootCertificateID.map((r) => ({ issuerName: r.X509IssuerName, serialNumber: r.X509SerialNumber }));
}

function publicKeyOf(der: Uint8Array, what: string): Uint8Array {
  try {
    return publicKeyFromCertificate(der);
  } catch (e) {
    throw new CertificateMessageError(`${what}: ${(e as Error).message}`);
  }
}

/** Decodes a CertificateInstallationReq and checks its signature with the OEM provisioning certificate. */
export function parseCertificateInstallationReq(exi: Uint8Array | string): ParsedCertificateInstallationReq {
  const message = decodeV2GMessage(exiBytes(exi));
  const req = message.Body.CertificateInstallationReq;
  if (!req) throw new CertificateMessageError(`expected a CertificateInstallationReq, got ${Object.keys(message.Body).join(', ') || 'an empty Body'}`);
  const signerPublicKey = publicKeyOf(req.OEMProvisioningCert, 'OEMProvisioningCert');
  return {
    kind: 'CertificateInstallationReq',
    message,
    sessionId: message.Header.SessionID,
    id: req.Id,
    oemProvisioningCertificate: req.OEMProvisioningCert,
    rootCertificateIds: rootIds(req.ListOfRootCertificateIDs),
    signature: verifyV2GSignature(message, signerPublicKey, [req.Id]),
    signerPublicKey,
  };
}

/** Decodes a CertificateUpdateReq and checks its signature with the current contract certificate. */
export function parseCertificateUpdateReq(exi: Uint8Array | string): ParsedCertificateUpdateReq {
  const message = decodeV2GMessage(exiBytes(exi));
  const req = message.Body.CertificateUpdateReq;
  if (!req) throw new CertificateMessageError(`expected a CertificateUpdateReq, got ${Object.keys(message.Body).join(', ') || 'an empty Body'}`);
  const chain = [req.ContractSignatureCertChain.Certificate, ...(req.ContractSignatureCertChain.SubCertificates?.Certificate ?? [])];
  const signerPublicKey = publicKeyOf(chain[0]!, 'ContractSignatureCertChain');
  return {
    kind: 'CertificateUpdateReq',
    message,
    sessionId: message.Header.SessionID,
    id: req.Id,
    contractCertificateChain: chain,
    eMAID: req.eMAID,
    rootCertificateIds: rootIds(req.ListOfRootCertificateIDs),
    signature: verifyV2GSignature(message, signerPublicKey, [req.Id]),
    signerPublicKey,
  };
}

/** The CPS: its certificate chain (leaf first, then Sub-CA 2, Sub-CA 1; no root) and leaf signer. */
export interface CpsSigner {
  certificateChain: readonly Uint8Array[];
  /** signs the SignedInfo EXI with the CPS leaf key; returns r‖s (64 bytes) */
  sign: Signer;
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
  /** non-fatal findings, e.g. exiResponse longer than 5,600 characters */
  warnings: string[];
}

/** eMAID of a contract certificate: its CN without separators, upper case. */
export function eMAIDFromCertificate(der: Uint8Array): string {
  let subject: string;
  try {
    subject = new X509Certificate(der).subject;
  } catch (e) {
    throw new CertificateMessageError(`contract certificate: ${(e as Error).message}`);
  }
  const cn = subject.split('\n').find((l) => l.startsWith('CN='));
  if (!cn) throw new CertificateMessageError('contract certificate has no CN (the eMAID)');
  return cn.slice(3).replace(/-/g, '').toUpperCase();
}

function chainOf(certs: readonly Uint8Array[], what: string, id?: string): CertificateChainType {
  const [leaf, ...subs] = certs;
  if (!leaf) throw new CertificateMessageError(`${what}: the certificate chain is empty`);
  return { ...(id !== undefined ? { Id: id } : {}), Certificate: leaf, ...(subs.length > 0 ? { SubCertificates: { Certificate: subs } } : {}) };
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
  const body = {
    ResponseCode: input.responseCode ?? 'OK',
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
  const exiBase64 = Buffer.from(exi).toString('base64');
  const warnings: string[] = [];
  if (exiBase64.length > OCPP_EXI_MAX_BASE64) {
    const sizes = [...input.cps.certificateChain, ...input.contract.certificateChain].map((c) => c.length);
    warnings.push(
      `exiResponse is ${exiBase64.length} base64 characters (${exi.length} bytes EXI), over the OCPP 2.0.1 Get15118EVCertificate limit of ${OCPP_EXI_MAX_BASE64}; ` +
        `certificate sizes ${sizes.join(', ')} bytes — use smaller certificates (shorter names, fewer extensions)`,
    );
  }
  if (input.selfCheck !== false) {
    const cpsLeaf = input.cps.certificateChain[0]!;
    const check = verifyV2GSignature(decodeV2GMessage(exi), publicKeyOf(cpsLeaf, 'cps leaf certificate'), ids);
    if (!check.valid) throw new CertificateMessageError(`the built ${kind} does not verify with the CPS leaf certificate: ${check.problems.join('; ')}`);
  }
  return { message, exi, exiBase64, warnings };
}

/** Builds a signed CertificateInstallationRes (see BuildCertificateResponseInput). */
export function buildCertificateInstallationRes(input: BuildCertificateResponseInput): Promise<BuiltCertificateResponse> {
  return build('CertificateInstallationRes', input);
}

/** Builds a signed CertificateUpdateRes (see BuildCertificateResponseInput). */
export function buildCertificateUpdateRes(input: BuildCertificateResponseInput): Promise<BuiltCertificateResponse> {
  return build('CertificateUpdateRes', input);
}

export interface AnswerOptions {
  cps: CpsSigner;
  /** issue or pick the contract for this request (src/pki) */
  issueContract: (req: ParsedCertificateInstallationReq | ParsedCertificateUpdateReq) => ContractCredentials | Promise<ContractCredentials>;
  /** refuse requests whose signature does not verify (default true) */
  requireValidSignature?: boolean;
}

/**
 * The whole CPS answer to an OCPP Get15118EVCertificate: decode exiRequest (Installation or
 * Update), check the EV signature, issue the contract, build and sign the response.
 */
export async function answerGet15118EVCertificate(
  exiRequest: Uint8Array | string,
  opts: AnswerOptions,
): Promise<{ request: ParsedCertificateInstallationReq | ParsedCertificateUpdateReq; response: BuiltCertificateResponse }> {
  const bytes = exiBytes(exiRequest);
  const msg = decodeV2GMessage(bytes);
  const request = msg.Body.CertificateUpdateReq ? parseCertificateUpdateReq(bytes) : parseCertificateInstallationReq(bytes);
  if (opts.requireValidSignature !== false && !request.signature.valid) {
    throw new CertificateMessageError(`${request.kind} signature check failed: ${request.signature.problems.join('; ')}`);
  }
  const contract = await opts.issueContract(request);
  const input: BuildCertificateResponseInput = { sessionId: request.sessionId, cps: opts.cps, contract, recipientPublicKey: request.signerPublicKey };
  const response = request.kind === 'CertificateUpdateReq' ? await buildCertificateUpdateRes(input) : await buildCertificateInstallationRes(input);
  return { request, response };
}
