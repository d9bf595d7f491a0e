// A small, strict DER reader and writer for the PKI's hot paths: certificate parsing (`PkiCert`)
// and OCSP requests/responses. asn1js (under @peculiar/asn1-schema) needs ~0.75 ms to parse one
// 560-byte certificate, which alone would blow the 2 ms budget of a contract validation with OCSP;
// this reader walks the same bytes in microseconds, and the writer builds certificates and OCSP
// responses (byte-identical to what @peculiar/asn1-x509 produced for the same certificates). The
// tests parse everything we write with @peculiar/x509, @peculiar/asn1-ocsp and openssl.
//
// Reader: definite lengths only, minimal length encoding, low tag numbers (< 31), nothing after the
// outer element. Any violation throws DerError naming what was being read.
//
//   const cert = readTlv(der, 0);            // { tag: 0x30, start, contentStart, end }
//   const [tbs, alg, sig] = children(der, cert);
//   seq(derOid('1.2.3'), derOctetString(bytes))  // writer
export class DerError extends Error {
  override readonly name = 'DerError';
}

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8String: 0x0c,
  NumericString: 0x12,
  PrintableString: 0x13,
  T61String: 0x14,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  VisibleString: 0x1a,
  UniversalString: 0x1c,
  BMPString: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Reads one TLV at `pos`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, pos: number, limit: number = buf.length, what = 'element'): Tlv {
  if (pos + 2 > limit) throw new DerError(`${what}: truncated at byte ${pos}`);
  const tag = buf[pos] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`${what}: high tag numbers are not supported (byte ${pos})`);
  let len = buf[pos + 1] as number;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError(`${what}: indefinite length is not DER (byte ${pos})`);
    if (n > 4 || p + n > limit) throw new DerError(`${what}: bad length at byte ${pos}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p + i] as number);
    if (len < 0x80 || (n > 1 && buf[p] === 0)) throw new DerError(`${what}: non-minimal length at byte ${pos}`);
    p += n;
  }
  if (p + len > limit) throw new DerError(`${what}: length ${len} at byte ${pos} runs past the end`);
  return { tag, start: pos, contentStart: p, end: p + len };
}

/** Reads the single element that spans all of `buf`. */
export function readRoot(buf: Uint8Array, expectedTag: number, what: string): Tlv {
  const t = readTlv(buf, 0, buf.length, what);
  if (t.tag !== expectedTag) throw new DerError(`${what}: expected tag 0x${expectedTag.toString(16)}, found 0x${t.tag.toString(16)}`);
  if (t.end !== buf.length) throw new DerError(`${what}: ${buf.length - t.end} trailing byte(s)`);
  return t;
}

/** The TLVs inside a constructed element. */
export function children(buf: Uint8Array, parent: Tlv, what = 'element'): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.contentStart;
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end, what);
    out.push(t);
    p = t.end;
  }
  return out;
}

export function content(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.contentStart, t.end);
}

export function whole(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.start, t.end);
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t) throw new DerError(`${what}: missing`);
  if (t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  return t;
}

export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new DerError('OID: empty');
  const parts: number[] = [];
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    acc = acc * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) parts.push(acc < 80 ? Math.floor(acc / 40) : 2, acc < 80 ? acc % 40 : acc - 80);
      else parts.push(acc);
      acc = 0;
    }
  }
  if ((bytes[bytes.length - 1] as number) & 0x80) throw new DerError('OID: truncated sub-identifier');
  return parts.join('.');
}

export function readOid(buf: Uint8Array, t: Tlv | undefined, what: string): string {
  return decodeOid(content(buf, expectTag(t, TAG.OID, what)));
}

/** INTEGER → number (small values only: versions, pathLen, enums). */
export function decodeSmallInteger(bytes: Uint8Array, what: string): number {
  if (bytes.length === 0 || bytes.length > 4) throw new DerError(`${what}: integer of ${bytes.length} bytes`);
  let v = (bytes[0] as number) & 0x80 ? -1 : 0;
  for (const b of bytes) v = v * 256 + b;
  return v;
}

export function decodeTime(buf: Uint8Array, t: Tlv, what: string): Date {
  const s = Buffer.from(content(buf, t)).toString('latin1');
  let m: RegExpExecArray | null;
  if (t.tag === TAG.UTCTime && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  if (t.tag === TAG.GeneralizedTime && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/.exec(s))) {
    const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms));
  }
  throw new DerError(`${what}: "${s}" is not a UTCTime/GeneralizedTime in Z form`);
}

/** Text of a directory string; unknown string types come back as `#<hex DER>` (RFC 4514). */
export function decodeString(buf: Uint8Array, t: Tlv): string {
  const c = Buffer.from(content(buf, t));
  switch (t.tag) {
    case TAG.UTF8String:
      return c.toString('utf8');
    case TAG.PrintableString:
    case TAG.IA5String:
    case TAG.NumericString:
    case TAG.VisibleString:
    case TAG.T61String:
      return c.toString('latin1');
    case TAG.BMPString:
      if (c.length % 2) break;
      return Buffer.from(c).swap16().toString('utf16le');
    case TAG.UniversalString: {
      if (c.length % 4) break;
      let s = '';
      for (let i = 0; i + 3 < c.length; i += 4) {
        const cp = c.readUInt32BE(i);
        if (cp > 0x10ffff) return `#${Buffer.from(whole(buf, t)).toString('hex')}`;
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      break;
  }
  return `#${Buffer.from(whole(buf, t)).toString('hex')}`;
}

// ---------------------------------------------------------------- writer

export function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const l = encodeLength(len);
  const out = new Uint8Array(1 + l.length + len);
  out[0] = tag;
  out.set(l, 1);
  let o = 1 + l.length;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const seq = (...parts: Uint8Array[]) => tlv(TAG.SEQUENCE, ...parts);
/** Context-specific tag [n]: constructed (EXPLICIT or IMPLICIT constructed) or primitive. */
export const ctx = (n: number, constructed: boolean, ...parts: Uint8Array[]) => tlv((constructed ? 0xa0 : 0x80) | n, ...parts);
export const DER_NULL = Uint8Array.of(0x05, 0x00);

export function derOid(oid: string): Uint8Array {
  const parts = oid.split('.').map(Number);
  if (parts.length < 2 || parts.some((p) => !Number.isInteger(p) || p < 0)) throw new DerError(`OID "${oid}" is malformed`);
  const body: number[] = [];
  const push = (v: number) => {
    const stack = [v & 0x7f];
    for (v = Math.floor(v / 128); v > 0; v = Math.floor(v / 128)) stack.unshift((v & 0x7f) | 0x80);
    body.push(...stack);
  };
  push((parts[0] as number) * 40 + (parts[1] as number));
  for (const p of parts.slice(2)) push(p);
  return tlv(TAG.OID, Uint8Array.from(body));
}

/** A non-negative INTEGER from big-endian magnitude bytes (leading zeros trimmed, 0x00 added for the sign). */
export function derUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  let b = magnitude.subarray(i);
  if (b.length === 0) b = Uint8Array.of(0);
  if ((b[0] as number) & 0x80) return tlv(TAG.INTEGER, Uint8Array.of(0), b);
  return tlv(TAG.INTEGER, b);
}

export const derOctetString = (b: Uint8Array) => tlv(TAG.OCTET_STRING, b);
export const derBitString = (b: Uint8Array, unusedBits = 0) => tlv(TAG.BIT_STRING, Uint8Array.of(unusedBits), b);
export const derEnumerated = (n: number) => tlv(TAG.ENUMERATED, Uint8Array.of(n));

export function derGeneralizedTime(d: Date): Uint8Array {
  const iso = new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const s = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return tlv(TAG.GeneralizedTime, new Uint8Array(Buffer.from(s, 'latin1')));
}
