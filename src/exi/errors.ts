// Errors of the EXI codec. `ExiDecodeError` carries the bit offset where decoding stopped and the
// grammar state (element path, grammar, state number) so that a corrupt or truncated stream reads
// like `at bit 1234 (byte 154) in V2G_Message/Body/CertificateInstallationReq, grammar
// CertificateInstallationReqType state 1: event code 3 is not a production of this state`.
// `ExiEncodeError` names the property path of a value that cannot be encoded.
//
//   try { decodeV2GMessage(bytes) } catch (e) { if (e instanceof ExiDecodeError) log(e.bitOffset, e.grammarState) }

/** Base class: every error thrown for bad EXI input or an unencodable value. */
export class ExiError extends Error {
  override readonly name: string = 'ExiError';
}

export class ExiDecodeError extends ExiError {
  override readonly name = 'ExiDecodeError';
  /** bit offset from the start of the stream (the EXI header is bit 0) */
  readonly bitOffset: number;
  /** e.g. `V2G_Message/Header, grammar MessageHeaderType state 1` */
  readonly grammarState: string;
  /** the message without the location */
  readonly reason: string;

  constructor(reason: string, bitOffset: number, grammarState: string) {
    super(`at bit ${bitOffset} (byte ${Math.floor(bitOffset / 8)})${grammarState ? ` in ${grammarState}` : ''}: ${reason}`);
    this.reason = reason;
    this.bitOffset = bitOffset;
    this.grammarState = grammarState;
  }
}

export class ExiEncodeError extends ExiError {
  override readonly name = 'ExiEncodeError';
  /** property path of the offending value, e.g. `V2G_Message.Body.SessionSetupReq.EVCCID` */
  readonly path: string;

  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.path = path;
  }
}

/** Thrown by the bit reader; the decoder adds the grammar state and rethrows an ExiDecodeError. */
export class BitStreamError extends Error {
  override readonly name = 'BitStreamError';
  constructor(
    message: string,
    readonly bitOffset: number,
  ) {
    super(message);
  }
}
