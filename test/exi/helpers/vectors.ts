// Loads the shared ISO 15118-2 conformance vectors (../shared/vectors/iso15118-2/*.json, read in
// place, never copied) and maps decoded values to the vectors' libcbv2g JSON form for comparison:
// bytes → upper-case hex, booleans → 0/1, bigint → number, a single xmldsig Transform → an object
// (libcbv2g keeps one), and types without any content → { _unused: 0 } (libcbv2g's placeholder).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RtComplex, RtGrammarSet } from '../../../src/exi/grammar.ts';
import { toHex } from '../../../src/exi/json.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const VECTOR_DIR = path.resolve(ROOT, '../shared/vectors/iso15118-2');

export interface Vector {
  message: string;
  exiHex: string;
  decoded?: Record<string, unknown>;
  source?: string;
  conformant?: boolean | string;
  sha256?: string;
  signatureCheck?: {
    references: Record<string, { element: string; digestInMsg: string; fragmentHex?: string; match: boolean }>;
    signedInfoHex: string;
    signatureValid_xmldsigFragment: boolean;
    verifiedWithCertSubject?: string;
  };
  [k: string]: unknown;
}

export interface VectorFile {
  meta: Record<string, unknown>;
  vectors: Vector[];
}

export function loadVectors(file: string): VectorFile {
  return JSON.parse(readFileSync(path.join(VECTOR_DIR, file), 'utf8')) as VectorFile;
}

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

/** The decoded value of element `name` in the vectors' JSON form (see the module comment). */
export function toVectorForm(set: RtGrammarSet, name: string, value: unknown): unknown {
  const el = set.documentByName.get(name) ?? set.fragmentByName.get(name);
  if (!el) throw new Error(`no element ${name}`);
  return el.complex ? complexForm(el.complex, value) : leaf(value);
}

function leaf(v: unknown): unknown {
  if (v instanceof Uint8Array) return toHex(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, leaf(x)]));
  return v;
}

function complexForm(g: RtComplex, v: unknown): unknown {
  const o = v as Record<string, unknown>;
  if (g.fields.length === 0) return { _unused: 0 };
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    const f = g.fieldByName.get(k)!;
    const one = (y: unknown): unknown => (f.complex ? complexForm(f.complex, y) : leaf(y));
    if (f.array) {
      const arr = (x as unknown[]).map(one);
      out[k] = k === 'Transform' && arr.length === 1 ? arr[0] : arr;
    } else out[k] = one(x);
  }
  return out;
}
