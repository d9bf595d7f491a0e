// ISO 15118-2:2013 message codec (urn:iso:15118:2:2013:MsgDef): typed V2G_Message documents and
// the MsgDef fragments that signatures digest. Types come from grammars/iso2-msgdef-types.ts
// (derived from the XSDs with the grammar tables). The stream is the EXI document exactly as it
// travels in the V2GTP payload (no V2GTP header) and as OCPP carries it in exiRequest/exiResponse.
//
//   const msg = decodeV2GMessage(bytes);               // { Header: { SessionID, Signature? }, Body: { CertificateInstallationReq: … } }
//   bodyElementName(msg) === 'CertificateInstallationReq';
//   const again = encodeV2GMessage(msg);               // byte-identical for conformant input
//   const frag = encodeIso2Fragment('AuthorizationReq', { Id: 'ID1', GenChallenge });
import { decodeDocument, decodeFragment, encodeDocument, encodeFragment, type DecodedElement } from './codec.ts';
import { ExiDecodeError } from './errors.ts';
import { grammarSet } from './grammar.ts';
import type { BodyType, FragmentElements, V2G_MessageType } from './grammars/iso2-msgdef-types.ts';

export type * from './grammars/iso2-msgdef-types.ts';

export type V2GMessage = V2G_MessageType;
/** Names of the body elements (members of the BodyElement substitution group). */
export type BodyElementName = BodyType extends infer B ? (B extends unknown ? keyof B & string : never) : never;
/** Element names usable with encodeIso2Fragment (local names that are unique in the schema set). */
export type Iso2FragmentName = keyof FragmentElements & string;

export const ISO2_NAMESPACE = 'urn:iso:15118:2:2013:MsgDef';

/** Decodes an ISO 15118-2 EXI document; its root must be V2G_Message. */
export function decodeV2GMessage(bytes: Uint8Array): V2GMessage {
  const d = decodeDocument(grammarSet('iso2-msgdef'), bytes);
  if (d.name !== 'V2G_Message') throw new ExiDecodeError(`document root is ${d.name}, expected V2G_Message`, 8, '(document)');
  return d.value as V2GMessage;
}

export function encodeV2GMessage(msg: V2GMessage): Uint8Array {
  return encodeDocument(grammarSet('iso2-msgdef'), 'V2G_Message', msg);
}

/** Decodes a document whose root may be any global element of the MsgDef schema set. */
export function decodeIso2Document(bytes: Uint8Array): DecodedElement {
  return decodeDocument(grammarSet('iso2-msgdef'), bytes);
}

/** One element as an EXI fragment of the MsgDef grammar (what xmldsig digests are taken over). */
export function encodeIso2Fragment<K extends Iso2FragmentName>(name: K, value: FragmentElements[K]): Uint8Array {
  return encodeFragment(grammarSet('iso2-msgdef'), [{ name, value }]);
}

/** Like encodeIso2Fragment for any element, named by local name or `{namespace}local`. */
export function encodeIso2FragmentUntyped(name: string, value: unknown): Uint8Array {
  return encodeFragment(grammarSet('iso2-msgdef'), [{ name, value }]);
}

export function decodeIso2Fragment(bytes: Uint8Array): DecodedElement[] {
  return decodeFragment(grammarSet('iso2-msgdef'), bytes);
}

/** The name of the message in the Body (e.g. 'SessionSetupReq'), or undefined for an empty Body. */
export function bodyElementName(msg: V2GMessage): BodyElementName | undefined {
  const keys = Object.keys(msg.Body).filter((k) => (msg.Body as Record<string, unknown>)[k] !== undefined);
  return keys[0] as BodyElementName | undefined;
}
