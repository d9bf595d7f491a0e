// V2GTP (the ISO 15118-2 V2G Transfer Protocol): the 8-byte header in front of every message
// the SECC and the EV exchange over TCP — protocol version 0x01, its inverse 0xFE, payload type
// 0x8001 (EXI-encoded V2G message; the virtual rig has no SDP, so no other type is accepted) and the
// payload length as a big-endian u32. Used by the virtual charger's SECC (charger/secc.ts) and the
// virtual EV (ev/), which also share the PhysicalValueType helpers at the end (value ↔ Multiplier/Value).
//
//   socket.write(encodeV2gtp(exiBytes));
//   const dec = new V2gtpDecoder({ maxPayloadBytes: 65536 });
//   socket.on('data', (chunk) => { for (const m of dec.push(chunk)) handle(m.payload); }); // throws V2gtpError on a bad header
//   physicalValue(400, 'V') → { Multiplier: -1, Unit: 'V', Value: 4000 };  physicalNumber(pv) → 400

const V2GTP_VERSION = 0x01;
const V2GTP_INVERSE_VERSION = 0xfe;
const V2GTP_HEADER_BYTES = 8;

/** Payload type of an EXI-encoded V2G message. */
const V2GTP_PAYLOAD_EXI = 0x8001;

/** Largest payload accepted unless told otherwise (a CertificateInstallationRes is ~5 KB). */
const V2GTP_DEFAULT_MAX_PAYLOAD_BYTES = 65536;

/** A bad V2GTP header; the message names the bytes and their offset from the start of the stream. */
export class V2gtpError extends Error {
  override readonly name = 'V2gtpError';
}

/** One message: the payload (always EXI, payload type 0x8001 — the only type the decoder accepts). */
export interface V2gtpMessage {
  payload: Uint8Array;
}

/** Header (EXI payload type) + payload. */
export function encodeV2gtp(payload: Uint8Array): Buffer {
  if (payload.length > 0xffffffff) throw new RangeError(`V2GTP payload of ${payload.length} bytes does not fit a 32-bit length`);
  const out = Buffer.alloc(V2GTP_HEADER_BYTES + payload.length);
  out[0] = V2GTP_VERSION;
  out[1] = V2GTP_INVERSE_VERSION;
  out.writeUInt16BE(V2GTP_PAYLOAD_EXI, 2);
  out.writeUInt32BE(payload.length, 4);
  out.set(payload, V2GTP_HEADER_BYTES);
  return out;
}

const hex2 = (b: number | undefined): string => (b ?? 0).toString(16).padStart(2, '0');

/**
 * Splits a TCP byte stream into V2GTP messages. A header with a wrong version, inverse version,
 * a payload type other than EXI or a length above `maxPayloadBytes` throws a V2gtpError naming the
 * bytes and their offset; after an error the decoder stays failed (the receiver closes the
 * connection: the stream cannot be resynchronised).
 */
export class V2gtpDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private consumed = 0;
  private failed: V2gtpError | undefined;
  readonly maxPayloadBytes: number;

  constructor(o: { maxPayloadBytes?: number } = {}) {
    this.maxPayloadBytes = o.maxPayloadBytes ?? V2GTP_DEFAULT_MAX_PAYLOAD_BYTES;
  }

  push(chunk: Uint8Array): V2gtpMessage[] {
    if (this.failed) throw this.failed;
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const out: V2gtpMessage[] = [];
    while (this.buf.length >= 2) {
      const at = this.consumed;
      const v = this.buf[0];
      const inv = this.buf[1];
      if (v !== V2GTP_VERSION || inv !== V2GTP_INVERSE_VERSION) {
        this.failed = new V2gtpError(`V2GTP header at byte ${at}: version ${hex2(v)} ${hex2(inv)}, expected 01 fe`);
        throw this.failed;
      }
      if (this.buf.length < V2GTP_HEADER_BYTES) break;
      const type = this.buf.readUInt16BE(2);
      const len = this.buf.readUInt32BE(4);
      if (type !== V2GTP_PAYLOAD_EXI) {
        this.failed = new V2gtpError(`V2GTP header at byte ${at}: payload type 0x${type.toString(16).padStart(4, '0')} is not 0x8001 (EXI)`);
        throw this.failed;
      }
      if (len > this.maxPayloadBytes) {
        this.failed = new V2gtpError(`V2GTP header at byte ${at}: payload length ${len} exceeds the maximum of ${this.maxPayloadBytes} bytes`);
        throw this.failed;
      }
      if (this.buf.length < V2GTP_HEADER_BYTES + len) break;
      out.push({ payload: new Uint8Array(this.buf.subarray(V2GTP_HEADER_BYTES, V2GTP_HEADER_BYTES + len)) });
      this.buf = this.buf.subarray(V2GTP_HEADER_BYTES + len);
      this.consumed += V2GTP_HEADER_BYTES + len;
    }
    return out;
  }
}

// ------------------------------------------------------------------------------------------------
// ISO 15118-2 PhysicalValueType helpers, shared by both ends of the link (SECC and EV)
// ------------------------------------------------------------------------------------------------

export type PhysicalUnit = 'h' | 'm' | 's' | 'A' | 'V' | 'W' | 'Wh';

/** A PhysicalValueType (Value is xs:short): the finest multiplier from 10^-1 up whose Value fits. */
export function physicalValue(value: number, unit: PhysicalUnit): { Multiplier: number; Unit: PhysicalUnit; Value: number } {
  if (!Number.isFinite(value)) throw new RangeError(`physical value ${value} ${unit} is not a finite number`);
  for (let m = -1; m <= 3; m++) {
    const v = Math.round(value / 10 ** m);
    if (v >= -32768 && v <= 32767) return { Multiplier: m, Unit: unit, Value: v };
  }
  throw new RangeError(`physical value ${value} ${unit} does not fit Value (xs:short) with a multiplier up to 10^3`);
}

/** Value × 10^Multiplier. */
export function physicalNumber(p: { Multiplier: number; Value: number } | undefined): number {
  if (!p) return 0;
  return p.Value * 10 ** p.Multiplier;
}
