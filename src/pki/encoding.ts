// Byte helpers of src/pki and src/exi (the one copy both use): PEM armour (RFC 7468), hex, base64,
// big-endian integers and SHA-256. Pure functions, no state.
//
//   const der = pemToDer(pemText, 'CERTIFICATE', 'certificate');  // throws PkiInputError on bad input
//   const pem = derToPem(der, 'CERTIFICATE');
//   parseHex('80 98 02', { whitespace: true })  // Uint8Array, or undefined when it is not hex
//   parseBase64(exiRequest)                     // Uint8Array, or undefined when it is not base64
import { createHash } from 'node:crypto';
import { PkiInputError } from './errors.ts';

/** A PEM block found in a text: its label (`CERTIFICATE`) and DER contents. */
export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END ([A-Z0-9 ]+)-----/g;

/** Wraps DER bytes in PEM armour with 64-character lines and a trailing newline. */
export function derToPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every PEM block in `text`, in order. `field` names the input in error messages. */
export function parsePemBlocks(text: string, field: string): PemBlock[] {
  if (typeof text !== 'string') throw new PkiInputError(field, 'expected PEM text');
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    const [, begin, body = '', end] = m;
    if (begin !== end) throw new PkiInputError(field, `PEM block "BEGIN ${begin}" ends with "END ${end}"`);
    const der = parseBase64(body);
    if (!der) throw new PkiInputError(field, `PEM block "${begin}" #${blocks.length + 1} is not valid base64`);
    blocks.push({ label: begin ?? '', der });
  }
  return blocks;
}

/** The DER of the single PEM block labelled `label` (or one of `labels`) in `text`. */
export function pemToDer(text: string, label: string | readonly string[], field: string): Uint8Array {
  const labels = typeof label === 'string' ? [label] : label;
  const blocks = parsePemBlocks(text, field);
  if (blocks.length === 0) throw new PkiInputError(field, `not PEM: no "-----BEGIN ${labels[0]}-----" block found`);
  const wanted = blocks.filter((b) => labels.includes(b.label));
  if (wanted.length === 0) throw new PkiInputError(field, `expected a PEM "${labels.join('" or "')}" block, found "${blocks.map((b) => b.label).join('", "')}"`);
  if (wanted.length > 1) throw new PkiInputError(field, `expected one PEM "${labels[0]}" block, found ${wanted.length}`);
  return (wanted[0] as PemBlock).der;
}

/** Lower-case hex (OpenSSL / OCPP hash data style). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Upper-case hex (the style of the EXI vectors and the `pnc-bench exi` JSON). */
export function toHexUpper(bytes: Uint8Array): string {
  return toHex(bytes).toUpperCase();
}

/**
 * Bytes of an even-length hex string (either case); `whitespace: true` ignores spaces and line
 * breaks. Returns undefined when the text is not hex, so each caller raises its own error.
 */
export function parseHex(text: string, opts: { whitespace?: boolean } = {}): Uint8Array | undefined {
  const t = opts.whitespace ? text.replace(/\s+/g, '') : text;
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) return undefined;
  return new Uint8Array(Buffer.from(t, 'hex'));
}

export function fromHex(hex: string, field: string): Uint8Array {
  const b = parseHex(hex);
  if (!b) throw new PkiInputError(field, `"${hex}" is not an even-length hex string`);
  return b;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Bytes of standard base64 with padding (RFC 4648 §4; whitespace such as PEM line breaks is
 * ignored). Returns undefined for empty or malformed text (Node's decoder would silently skip bad
 * characters).
 */
export function parseBase64(text: string): Uint8Array | undefined {
  const s = text.replace(/\s+/g, '');
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, 'base64'));
}

/** SHA-256 of `data` (OpenSSL). */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function bigintToBytes(n: bigint, length?: number): Uint8Array {
  if (n < 0n) throw new RangeError('negative bigint');
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const raw = new Uint8Array(Buffer.from(hex, 'hex'));
  if (length === undefined || raw.length === length) return raw;
  if (raw.length > length) throw new RangeError(`bigint needs ${raw.length} bytes, more than ${length}`);
  const out = new Uint8Array(length);
  out.set(raw, length - raw.length);
  return out;
}

export function bytesToBigint(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${toHex(bytes)}`);
}

/** Serial-number style hex: lower case, no leading zeros ("3041", "0" for zero). */
export function integerBytesToHex(bytes: Uint8Array): string {
  const h = toHex(bytes).replace(/^0+/, '');
  return h === '' ? '0' : h;
}
