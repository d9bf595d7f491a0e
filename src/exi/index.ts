// Public API of src/exi: the ISO 15118-2 (2013 MsgDef) and SupportedAppProtocol EXI codec, xmldsig
// over EXI (fragment digests, SignedInfo, ECDSA P-256 r‖s), contract-key encryption and the CPS
// side of certificate installation/update. Import from here; the modules behind it are internal.
//
//   import { decodeV2GMessage, verifyV2GSignature, answerGet15118EVCertificate } from '../exi/index.ts';
//   const msg = decodeV2GMessage(bytes);
//   const { response, assessment } = await answerGet15118EVCertificate(exiRequestBase64, { ...benchAnswerOptions(pki), issueContract });
//
// src/exi sits on src/pki: the byte, hash, ECDSA and certificate helpers are src/pki's (re-exported
// here under src/exi's names: toHex/fromHex, sha256, ecdsaSignP256, ecdsaVerifyP256, publicKeyFromCertificate).
export * from './iso2.ts';
export * from './apphand.ts';
export * from './xmldsig.ts';
export * from './contract-key.ts';
export * from './certinstall.ts';
export * from './bench-pki.ts';
export { ExiError, ExiDecodeError, ExiEncodeError } from './errors.ts';
export { toJson, fromJsonElement, toHex, fromHex, type JsonValue } from './json.ts';
export { decodeDocument, decodeFragment, encodeDocument, encodeFragment, type DecodedElement } from './codec.ts';
export { grammarSet, type GrammarId, type RtGrammarSet } from './grammar.ts';
