// JSON form of decoded EXI values, for the CLI and for test vectors. toJson: Uint8Array → upper-case
// hex, bigint → number when it is a safe integer else a decimal string, everything else as is.
// fromJson walks the grammar so that it can turn JSON back into codec values: hex strings →
// Uint8Array for binary types, 0/1 or true/false → boolean, numbers or decimal strings → number or
// bigint as the type requires, a single object where the schema allows several → a one-element
// array, and it ignores libcbv2g's `_unused` placeholder of empty types. With these rules the
// `decoded` JSON of the shared vectors (libcbv2g field names) is accepted as it is.
//
//   const json = toJson(decodeV2GMessage(bytes));                    // printable
//   const msg = fromJsonElement(grammarSet('iso2-msgdef'), 'V2G_Message', json); // encodable
import { parseHex, toHexUpper } from '../pki/index.ts';
import { ExiEncodeError } from './errors.ts';
import type { RtComplex, RtGrammarSet, RtSimple } from './grammar.ts';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/** Upper-case hex, as in the vectors and the CLI output (src/pki's toHexUpper). */
export const toHex = toHexUpper;

/** Bytes of a hex string (whitespace ignored); ExiEncodeError naming `path` when it is not hex. */
export function fromHex(s: string, path = 'hex'): Uint8Array {
  const b = parseHex(s, { whitespace: true });
  if (!b) throw new ExiEncodeError(path, `not a hex string: ${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s)}`);
  return b;
}

/** Converts a decoded value to plain JSON (see the module comment). */
export function toJson(v: unknown): JsonValue {
  if (v instanceof Uint8Array) return toHex(v);
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(toJson);
  if (v !== null && typeof v === 'object') {
    const o: { [k: string]: JsonValue } = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = toJson(x);
    return o;
  }
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
  return String(v);
}

function simpleFromJson(t: RtSimple, j: unknown, path: string): unknown {
  const d = t.def;
  switch (d.k) {
    case 'binary':
      if (typeof j !== 'string') throw new ExiEncodeError(path, `expected a hex string for ${t.name}`);
      return fromHex(j, path);
    case 'boolean':
      if (j === 0 || j === 1) return j === 1;
      if (typeof j !== 'boolean') throw new ExiEncodeError(path, `expected true/false or 0/1 for ${t.name}`);
      return j;
    case 'uint':
    case 'int':
    case 'nbit': {
      let n: bigint;
      if (typeof j === 'number' && Number.isSafeInteger(j)) n = BigInt(j);
      else if (typeof j === 'string' && /^-?\d+$/.test(j.trim())) n = BigInt(j.trim());
      else throw new ExiEncodeError(path, `expected an integer for ${t.name}, got ${JSON.stringify(j)}`);
      return d.k !== 'nbit' && d.big ? n : Number(n);
    }
    default:
      return j;
  }
}

function complexFromJson(set: RtGrammarSet, g: RtComplex, j: unknown, path: string): unknown {
  if (j === null || typeof j !== 'object' || Array.isArray(j)) return j; // the encoder reports the type error
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(j as Record<string, unknown>)) {
    const f = g.fieldByName.get(k);
    if (!f) {
      if (k === '_unused' && g.fields.length === 0) continue;
      out[k] = v; // unknown: the encoder names it
      continue;
    }
    const conv = (x: unknown, p: string): unknown => (f.complex ? complexFromJson(set, f.complex, x, p) : simpleFromJson(f.simple!, x, p));
    if (f.array) {
      const arr = Array.isArray(v) ? v : [v];
      out[k] = arr.map((x, i) => conv(x, `${path}.${k}[${i}]`));
    } else out[k] = conv(v, `${path}.${k}`);
  }
  return out;
}

/** Converts JSON to a codec value for element `name` of `set` (document or fragment element). */
export function fromJsonElement(set: RtGrammarSet, name: string, j: unknown): unknown {
  const el = set.documentByName.get(name) ?? set.fragmentByName.get(name);
  if (!el) throw new ExiEncodeError(name, `not an element of ${set.name}`);
  if (el.complex) return complexFromJson(set, el.complex, j, name);
  if (el.simple) return simpleFromJson(el.simple, j, name);
  return j;
}
