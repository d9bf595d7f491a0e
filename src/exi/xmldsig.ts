// XML signatures over EXI as ISO 15118-2 uses them (exi-and-pki.md §2): each signed element is
// encoded alone as an EXI fragment of the MsgDef grammar (the eMAID through the relaxed
// element-fragment grammar) and its SHA-256 is the DigestValue; SignedInfo is encoded as a fragment
// of the xmldsig-only grammar and signed with ECDSA P-256 / SHA-256; SignatureValue is raw r‖s
// (64 bytes). verifyV2GSignature re-does all of it for a decoded message; signV2GMessage adds a
// Header Signature over the elements named by their Id.
//
//   const check = verifyV2GSignature(msg, publicKeyFromCertificate(oemProvCertDer));
//   if (!check.valid) console.log(check.problems);
//   const signed = await signV2GMessage(msg, ['ID1', 'ID2'], (data) => ecdsaSignP256(cpsKey, data));
//
// The ECDSA and SHA-256 primitives are src/pki's (the lower layer); this module re-exports them
// under the names src/exi has always used.
import { p256KeyPairFromPrivate, parseCertificateDer, sha256, signP256RawFast, toHexUpper as toHex, verifyP256Raw } from '../pki/index.ts';
import { decodeFragment, encodeFragment, type DecodedElement } from './codec.ts';
import { ExiEncodeError } from './errors.ts';
import { grammarSet, type RtComplex } from './grammar.ts';
import type { SignatureType, SignedInfoType, V2G_MessageType } from './grammars/iso2-msgdef-types.ts';

export const ALGORITHM = {
  /** CanonicalizationMethod and Transform: "canonical EXI" (in practice: the V2G fragment encoding) */
  canonicalExi: 'http://www.w3.org/TR/canonical-exi/',
  signatureEcdsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  digestSha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
} as const;

// ---------------------------------------------------------------------------------------------
// ECDSA P-256 raw r‖s and SHA-256: the primitives live in src/pki (keys.ts, encoding.ts); these are
// the names src/exi has always exported.
// ---------------------------------------------------------------------------------------------

export { sha256 };

/** The uncompressed public point (65 bytes) of a P-256 private scalar (32 bytes). */
export function publicKeyFromPrivate(privateKey: Uint8Array): Uint8Array {
  return p256KeyPairFromPrivate(privateKey).publicKey;
}

/** Signs SHA-256(data) with a P-256 private scalar (32 bytes); returns r‖s (64 bytes). OpenSSL, random k. */
export function ecdsaSignP256(privateKey: Uint8Array, data: Uint8Array): Uint8Array {
  return signP256RawFast(privateKey, data);
}

/**
 * Verifies r‖s over SHA-256(data). `publicKey`: SEC1 point (65 bytes uncompressed or 33
 * compressed). High-S signatures are accepted (OpenSSL and Java produce them). Never throws.
 */
export function ecdsaVerifyP256(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  return (publicKey.length === 65 || publicKey.length === 33) && verifyP256Raw(publicKey, data, signature);
}

/** The uncompressed P-256 public point (65 bytes) of a DER X.509 certificate; throws for another key type or bad DER. */
export function publicKeyFromCertificate(der: Uint8Array): Uint8Array {
  return parseCertificateDer(der).p256PublicKey();
}

// ---------------------------------------------------------------------------------------------
// fragments and digests
// ---------------------------------------------------------------------------------------------

/** SignedInfo as an EXI fragment of the xmldsig-only grammar: the bytes that are signed. */
export function encodeSignedInfo(si: SignedInfoType): Uint8Array {
  return encodeFragment(grammarSet('xmldsig'), [{ name: 'SignedInfo', value: si }]);
}

/** Decodes a fragment of the xmldsig-only grammar (e.g. SignedInfo bytes). */
export function decodeXmldsigFragment(bytes: Uint8Array): DecodedElement[] {
  return decodeFragment(grammarSet('xmldsig'), bytes);
}

/**
 * The MsgDef EXI fragment of one element (name: local name if unique, else `{ns}local`) and its
 * SHA-256 — the DigestValue of a Reference to it.
 */
export function elementDigest(name: string, value: unknown): { fragment: Uint8Array; digest: Uint8Array } {
  const fragment = encodeFragment(grammarSet('iso2-msgdef'), [{ name, value }]);
  return { fragment, digest: sha256(fragment) };
}

export interface IdElement {
  id: string;
  /** `{namespace}local` of the element */
  qname: string;
  name: string;
  value: Record<string, unknown>;
  /** property path in the message, e.g. `Body.CertificateInstallationRes.eMAID` */
  path: string;
}

/**
 * Every element of a decoded message that carries an Id attribute (any namespace), by Id. Ids
 * that occur more than once are added to `duplicates` (if given) and map to their first element.
 */
export function findIdElements(msg: V2G_MessageType, duplicates?: Set<string>): Map<string, IdElement> {
  const set = grammarSet('iso2-msgdef');
  const root = set.documentByName.get('V2G_Message')!.complex!;
  const out = new Map<string, IdElement>();
  const walk = (g: RtComplex, v: Record<string, unknown>, path: string): void => {
    for (const f of g.fields) {
      if (f.kind !== 'e' || !f.complex || f.name === 'Signature') continue; // the signature itself is never a reference target
      const x = v[f.name];
      if (x === undefined) continue;
      const items = f.array && Array.isArray(x) ? x : [x];
      items.forEach((item, i) => {
        if (item === null || typeof item !== 'object') return;
        const o = item as Record<string, unknown>;
        const p = `${path}${path ? '.' : ''}${f.name}${f.array ? `[${i}]` : ''}`;
        const idField = f.complex!.fields.find((a) => a.kind === 'a' && a.name === 'Id');
        if (idField && typeof o.Id === 'string') {
          if (out.has(o.Id)) duplicates?.add(o.Id);
          else out.set(o.Id, { id: o.Id, qname: `{${f.ns}}${f.name}`, name: f.name, value: o, path: p });
        }
        walk(f.complex!, o, p);
      });
    }
  };
  walk(root, msg as unknown as Record<string, unknown>, '');
  return out;
}

/** SignedInfo with one canonical-EXI / SHA-256 Reference per (id, digest), in the given order. */
export function buildSignedInfo(refs: readonly { id: string; digest: Uint8Array }[]): SignedInfoType {
  return {
    CanonicalizationMethod: { Algorithm: ALGORITHM.canonicalExi },
    SignatureMethod: { Algorithm: ALGORITHM.signatureEcdsaSha256 },
    Reference: refs.map((r) => ({
      URI: `#${r.id}`,
      Transforms: { Transform: [{ Algorithm: ALGORITHM.canonicalExi }] },
      DigestMethod: { Algorithm: ALGORITHM.digestSha256 },
      DigestValue: r.digest,
    })),
  };
}

/** Signs SignedInfo bytes; may be async (HSM, remote signer). Returns r‖s. */
export type Signer = (signedInfoExi: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/**
 * Returns a copy of `msg` with a Header Signature over the body elements with the given Ids
 * (References in that order). The signer gets the xmldsig-fragment SignedInfo bytes.
 */
export async function signV2GMessage(msg: V2G_MessageType, ids: readonly string[], sign: Signer): Promise<V2G_MessageType> {
  const els = findIdElements(msg);
  const refs = ids.map((id) => {
    const el = els.get(id);
    if (!el) throw new ExiEncodeError(`#${id}`, `no element with Id ${id} in the message`);
    return { id, digest: elementDigest(el.qname, el.value).digest };
  });
  const SignedInfo = buildSignedInfo(refs);
  const sig = await sign(encodeSignedInfo(SignedInfo));
  if (!(sig instanceof Uint8Array) || sig.length !== 64) throw new ExiEncodeError('SignatureValue', `the signer must return 64 bytes r‖s, got ${sig instanceof Uint8Array ? sig.length : typeof sig}`);
  const Signature: SignatureType = { SignedInfo, SignatureValue: { CONTENT: sig } };
  return { ...msg, Header: { ...msg.Header, Signature } };
}

export interface ReferenceCheck {
  uri: string;
  /** element the URI points to, undefined when no element has that Id */
  element?: string;
  expected: string;
  computed?: string;
  ok: boolean;
}

export interface SignatureCheck {
  /** all references digest correctly and the signature verifies */
  valid: boolean;
  signatureValid: boolean;
  references: ReferenceCheck[];
  /** SignedInfo bytes (xmldsig fragment) the signature was checked over */
  signedInfoExi?: Uint8Array;
  /** human-readable findings (missing signature, unknown algorithm, V2G2-771 fields, …) */
  problems: string[];
}

/**
 * Checks the Header Signature of a decoded message: every Reference digest against the MsgDef
 * fragment of the element with that Id, then ECDSA over the re-encoded SignedInfo with
 * `publicKey` (SEC1 point). `expectedIds`, when given, must all be referenced.
 */
export function verifyV2GSignature(msg: V2G_MessageType, publicKey: Uint8Array, expectedIds: readonly string[] = []): SignatureCheck {
  const problems: string[] = [];
  const sig = msg.Header.Signature;
  if (!sig) return { valid: false, signatureValid: false, references: [], problems: ['the message has no Header Signature'] };
  const si = sig.SignedInfo;
  if (si.CanonicalizationMethod.Algorithm !== ALGORITHM.canonicalExi) problems.push(`CanonicalizationMethod ${si.CanonicalizationMethod.Algorithm} is not ${ALGORITHM.canonicalExi}`);
  if (si.SignatureMethod.Algorithm !== ALGORITHM.signatureEcdsaSha256) problems.push(`SignatureMethod ${si.SignatureMethod.Algorithm} is not ${ALGORITHM.signatureEcdsaSha256}`);
  // [V2G2-771]: these must not be present; verification still runs over what was received
  if (si.Id !== undefined) problems.push('V2G2-771: SignedInfo has an Id attribute');
  if (si.SignatureMethod.HMACOutputLength !== undefined) problems.push('V2G2-771: SignatureMethod has HMACOutputLength');
  const duplicates = new Set<string>();
  const els = findIdElements(msg, duplicates);
  // an Id must identify one element, or a verifier and a consumer may look at different ones
  for (const id of duplicates) problems.push(`Id ${id} is used by more than one element`);
  const references: ReferenceCheck[] = si.Reference.map((r) => {
    const uri = r.URI ?? '';
    const expected = toHex(r.DigestValue);
    if (r.Type !== undefined) problems.push(`V2G2-771: Reference ${uri} has a Type attribute`);
    if (r.DigestMethod.Algorithm !== ALGORITHM.digestSha256) problems.push(`Reference ${uri}: DigestMethod ${r.DigestMethod.Algorithm} is not SHA-256`);
    for (const t of r.Transforms?.Transform ?? []) if (t.Algorithm !== ALGORITHM.canonicalExi) problems.push(`Reference ${uri}: Transform ${t.Algorithm} is not canonical EXI`);
    const el = uri.startsWith('#') ? els.get(uri.slice(1)) : undefined;
    if (!el) {
      problems.push(`Reference ${uri}: no element with that Id in the message`);
      return { uri, expected, ok: false };
    }
    const computed = toHex(elementDigest(el.qname, el.value).digest);
    if (computed !== expected) problems.push(`Reference ${uri} (${el.name}): digest ${computed} does not match DigestValue ${expected}`);
    return { uri, element: el.name, expected, computed, ok: computed === expected };
  });
  for (const id of expectedIds) if (!si.Reference.some((r) => r.URI === `#${id}`)) problems.push(`element with Id ${id} is not referenced by the signature`);
  const signedInfoExi = encodeSignedInfo(si);
  const signatureValid = ecdsaVerifyP256(publicKey, signedInfoExi, sig.SignatureValue.CONTENT);
  if (!signatureValid) problems.push('SignatureValue does not verify over SignedInfo with the given public key');
  // Every problem counts: a SHA-1 digest or a foreign algorithm id is as unacceptable as a bad digest.
  if (references.length === 0) problems.push('SignedInfo has no Reference');
  const valid = signatureValid && problems.length === 0;
  return { valid, signatureValid, references, signedInfoExi, problems };
}
