// Public API of the bench PKI. Import from here (`../pki/index.ts`), not from the modules.
//
//   const pki = generatePki({ seed: 'rig-a1', ocspUrl: 'http://127.0.0.1:8180/ocsp' });  // or loadPkiDir(dir)
//   const responder = new OcspResponder(pki);
//   const server = await startOcspHttpServer(responder, { url: pki.ocspUrl });
//   const contract = issueContractCertificate(pki, { emaid: 'DEABC123456789Y' });      // for CertificateInstallationRes
//   const sig = signP256Raw(cpsSigner(pki).key, signedInfoExi);                          // 64-byte r‖s
//   const r = await validateContract({ certificate: pem, trustAnchors: pki.contractTrustAnchors(), ocsp: { transport: responder.transport } });
export { PkiInputError } from './errors.ts';
export { derToPem, pemToDer, parsePemBlocks, toHex, toHexUpper, fromHex, parseHex, toBase64, parseBase64, bytesEqual, bigintToBytes, bytesToBigint, sha256, type PemBlock } from './encoding.ts';
export {
  deriveP256KeyPair,
  generateP256KeyPair,
  p256KeyPairFromPrivate,
  p256SpkiFromPoint,
  keyPairFromPem,
  privateKeyPem,
  spkiDer,
  signP256Raw,
  signP256Der,
  signP256RawFast,
  verifyP256Raw,
  p256UncompressedPoint,
  isValidP256Scalar,
  P256_N,
  type KeyPair,
  type P256KeyPair,
  type RsaKeyPair,
} from './keys.ts';
export {
  PkiCert,
  parseCertificateDer,
  parseCertificatePem,
  parseCertificateChainPem,
  verifyCertificateSignature,
  encodeName,
  formatName,
  parseDistinguishedNameString,
  formatDistinguishedNameString,
  namesMatch,
  matchesIssuerSerial,
  issuerSerialOf,
  type IssuerSerial,
  type NameSpec,
  type NameAttribute,
  type KeyUsageType,
} from './x509.ts';
export { PKI_ROLES, ROLE_PROFILES, ROOT_ROLES, isPkiRole, MAX_CERTIFICATE_BYTES, MAX_SUB_CAS, type PkiRole, type RoleProfile, type DomainComponent } from './profile.ts';
export { issueCertificate, deriveSerial, randomSerial, type CertifiedKey, type CertificateAuthority, type IssueSpec } from './issue.ts';
export { BenchPki, generatePki, MAX_OCSP_URL_CHARS, MAX_ORGANIZATION_CHARS, resolvePkiOptions, type PkiOptions, type ResolvedPkiOptions } from './hierarchy.ts';
export { writePkiDir, loadPkiDir, readManifest, MANIFEST_FILE, type PkiManifest, type ManifestEntry } from './store.ts';
export { issueContractCertificate, issueDeterministicContract, cpsSigner, type ContractIssueOptions, type ContractBundle, type CpsSigner } from './contract.ts';
export { signCsr, CSR_REJECT_CODES, type CsrProfile, type CsrRejectCode, type CsrSignOptions, type CsrSignResult } from './csr.ts';
export { buildCsrDer, buildCsrPem } from './csr-build.ts';
export {
  certificateHashData,
  ocspRequestData,
  hashDataMatches,
  certificateMatchesHashData,
  parseCertificateHashData,
  HASH_ALGORITHMS,
  type CertificateHashData,
  type OcspRequestData,
  type HashAlgorithm,
} from './hash-data.ts';
export {
  OcspResponder,
  buildOcspRequest,
  parseOcspRequest,
  parseOcspResponse,
  verifyOcspResponse,
  checkOcsp,
  certIdOf,
  OcspFormatError,
  CRL_REASONS,
  OCSP_RESPONSE_STATUSES,
  type CrlReason,
  type OcspResponseStatusName,
  type OcspAuthoritySource,
  type CheckOcspOptions,
  type VerifyOcspOptions,
  type ParsedOcspResponse,
  type ParsedOcspRequest,
  type CertIdHashAlgorithm,
  type OcspCertStatus,
  type OcspTransport,
  type OcspAnswer,
  type OcspResponderOptions,
  type OcspResponderFaults,
  type OcspVerification,
  type OcspCheckResult,
  type CertIdInfo,
} from './ocsp.ts';
export { startOcspHttpServer, httpOcspTransport, type OcspHttpServer, type OcspHttpServerOptions, type OcspHttpEvent } from './ocsp-http.ts';
export {
  validateContract,
  validateCertificateChain,
  checkHashDataStatus,
  getCertificateStatus,
  buildPath,
  AUTHORIZE_CERTIFICATE_STATUSES,
  type AuthorizeCertificateStatus,
  type ContractValidationOptions,
  type ContractValidationResult,
  type ChainDomain,
  type ChainCheck,
  type ChainCheckName,
  type ChainValidationOptions,
  type ChainValidationResult,
  type ValidationCheck,
  type ValidationCheckName,
  type OcspLinkResult,
  type HashDataStatusOptions,
  type HashDataStatusResult,
  type GetCertificateStatusResponse,
} from './validation.ts';
export { negativeMaterial, applyRevocations, NEGATIVE_KINDS, NEGATIVE_DESCRIPTIONS, type NegativeKind, type NegativeMaterial, type NegativeOptions } from './negative.ts';
export { emaidCheckDigit, parseEmaid, validateEmaid, normalizeEmaid, emaidEquals, generateEmaid, type EmaidParts, type EmaidValidation, type GenerateEmaidOptions } from './emaid.ts';
