// SupportedAppProtocol (application handshake, urn:iso:15118:2:2010:AppProtocol) codec: the first
// message pair of every DIN 70121 / ISO 15118-2 / ISO 15118-20 session. A request document starts
// 0x80 0x00, a response 0x80 0x40.
//
//   const req = decodeAppHandshake(bytes);
//   if ('supportedAppProtocolReq' in req) for (const p of req.supportedAppProtocolReq.AppProtocol) …
//   encodeAppHandshake({ supportedAppProtocolRes: { ResponseCode: 'OK_SuccessfulNegotiation', SchemaID: 1 } });
import { decodeDocument, encodeDocument } from './codec.ts';
import { grammarSet } from './grammar.ts';
import type { DocumentElements } from './grammars/apphand-types.ts';

export type * as AppHandshakeTypes from './grammars/apphand-types.ts';

export type AppHandshakeMessage =
  | { supportedAppProtocolReq: DocumentElements['supportedAppProtocolReq']; supportedAppProtocolRes?: never }
  | { supportedAppProtocolRes: DocumentElements['supportedAppProtocolRes']; supportedAppProtocolReq?: never };

export const APP_PROTOCOL_NAMESPACE = 'urn:iso:15118:2:2010:AppProtocol';

export function decodeAppHandshake(bytes: Uint8Array): AppHandshakeMessage {
  const d = decodeDocument(grammarSet('apphand'), bytes);
  return { [d.name]: d.value } as AppHandshakeMessage;
}

export function encodeAppHandshake(msg: AppHandshakeMessage): Uint8Array {
  const set = grammarSet('apphand');
  if (msg.supportedAppProtocolReq !== undefined) return encodeDocument(set, 'supportedAppProtocolReq', msg.supportedAppProtocolReq);
  return encodeDocument(set, 'supportedAppProtocolRes', msg.supportedAppProtocolRes);
}
