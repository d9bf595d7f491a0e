// Byte helpers shared by src/pki: PEM armour (RFC 7468), hex, base64 and big-endian integers.
// Pure functions, no state.
//
//   const der = pemToDer(pemText, 'CERTIFICATE', 'certificate');  // throws PkiInputError on bad input
//   const pem = derToPem(der, 'CERTIFICATE');
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
    const compact = body.replace(/\s+/g, '');
    if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
      throw new PkiInputError(field, `PEM block "${begin}" #${blocks.length + 1} is not valid base64`);
    }
    blocks.push({ label: begin ?? '', der: new Uint8Array(Buffer.from(compact, 'base64')) });
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

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: string, field: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new PkiInputError(field, `"${hex}" is not an even-length hex string`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
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
