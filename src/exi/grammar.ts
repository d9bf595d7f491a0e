// Loads a grammar table file (src/exi/grammars/*.json, see grammar-format.ts) into the linked
// run-time form the codec interprets: grammars resolved to objects, each state with its
// event-code width (non-strict: ceil(log2(productions + 1)), the +1 being the escape to
// second-level events), the document and fragment element lists with their code widths.
// Tables are loaded once per process and shared.
//
//   const iso2 = grammarSet('iso2-msgdef'); iso2.document[76].name === 'V2G_Message'
import { readFileSync } from 'node:fs';
import { bitsFor } from './bits.ts';
import type { ComplexTypeJson, GrammarFileJson, SimpleTypeJson } from './grammar-format.ts';

export const EV_AT = 0;
export const EV_SE = 1;
export const EV_CH = 2;
export const EV_EE = 3;
export const EV_SE_ANY = 4;
export const EV_CH_UNTYPED = 5;

export interface RtSimple {
  name: string;
  def: SimpleTypeJson;
  /** n-bit width for nbit, enum and boolean */
  bits: number;
  /** enum value → index */
  index?: Map<string, number>;
  minBig?: bigint;
  maxBig?: bigint;
  /** the bounds as numbers when they are safe integers (fast path of the encoder) */
  minNum?: number;
  maxNum?: number;
}

export interface RtField {
  kind: 'a' | 'e' | 'c';
  name: string;
  ns: string;
  array: boolean;
  complex?: RtComplex;
  simple?: RtSimple;
  /** position in the grammar's field list */
  index: number;
}

export interface RtProd {
  ev: number;
  field: RtField | undefined;
  next: number;
}

export interface RtState {
  prods: RtProd[];
  bits: number;
}

export interface RtComplex {
  name: string;
  abstract: boolean;
  mixed: boolean;
  content?: RtSimple;
  fields: RtField[];
  fieldByName: Map<string, RtField>;
  states: RtState[];
}

export interface RtElement {
  name: string;
  ns: string;
  /** event code in its list */
  code: number;
  complex?: RtComplex;
  simple?: RtSimple;
  /** relaxed element-fragment grammar: the types of the different declarations */
  relaxed?: (RtComplex | RtSimple)[];
}

export interface RtAttribute {
  name: string;
  ns: string;
  code: number;
  simple?: RtSimple;
}

export interface RtGrammarSet {
  id: string;
  name: string;
  generatedFrom: GrammarFileJson['generatedFrom'];
  complex: Map<string, RtComplex>;
  simple: Map<string, RtSimple>;
  /** global elements (document grammar SE codes); SE(*) = length */
  document: RtElement[];
  documentBits: number;
  documentByName: Map<string, RtElement>;
  /** all element qnames (fragment grammar SE codes); SE(*) = length, ED = length + 1 */
  fragment: RtElement[];
  fragmentBits: number;
  /** by local name when unique, and always by `{ns}local` */
  fragmentByName: Map<string, RtElement>;
  /** attribute qnames of the relaxed element-fragment grammar */
  attributes: RtAttribute[];
}

export type GrammarId = 'iso2-msgdef' | 'apphand' | 'xmldsig';

function linkSimple(name: string, def: SimpleTypeJson): RtSimple {
  const t: RtSimple = { name, def, bits: 0 };
  switch (def.k) {
    case 'boolean':
      t.bits = 1;
      break;
    case 'enum':
      t.bits = bitsFor(def.values.length);
      t.index = new Map(def.values.map((v, i) => [v, i]));
      break;
    case 'nbit':
      t.bits = bitsFor(def.max - def.min + 1);
      break;
    case 'uint':
    case 'int':
      if (def.min !== undefined) t.minBig = BigInt(def.min);
      if (def.max !== undefined) t.maxBig = BigInt(def.max);
      if (t.minBig !== undefined && t.minBig >= -BigInt(Number.MAX_SAFE_INTEGER)) t.minNum = Number(t.minBig);
      if (t.maxBig !== undefined && t.maxBig <= BigInt(Number.MAX_SAFE_INTEGER)) t.maxNum = Number(t.maxBig);
      break;
    default:
      break;
  }
  return t;
}

/** Links a parsed grammar file. Throws on dangling references (a corrupt table file). */
export function linkGrammarSet(id: string, j: GrammarFileJson): RtGrammarSet {
  if (j.format !== 1) throw new Error(`grammar ${id}: unsupported table format ${String(j.format)}`);
  const simple = new Map<string, RtSimple>();
  for (const [name, def] of Object.entries(j.simpleTypes)) simple.set(name, linkSimple(name, def));
  const complex = new Map<string, RtComplex>();
  for (const [name, c] of Object.entries(j.complexTypes)) {
    complex.set(name, { name, abstract: c.abstract === true, mixed: c.mixed === true, fields: [], fieldByName: new Map(), states: [] });
  }
  const ns = (i: number): string => {
    const v = j.namespaces[i];
    if (v === undefined) throw new Error(`grammar ${id}: namespace index ${i} out of range`);
    return v;
  };
  const typeOf = (name: string): { complex?: RtComplex; simple?: RtSimple } => {
    const c = complex.get(name);
    if (c) return { complex: c };
    const s = simple.get(name);
    if (s) return { simple: s };
    throw new Error(`grammar ${id}: unknown type ${name}`);
  };
  for (const [name, c] of Object.entries(j.complexTypes) as [string, ComplexTypeJson][]) {
    const g = complex.get(name)!;
    if (c.content !== undefined) {
      const s = simple.get(c.content);
      if (!s) throw new Error(`grammar ${id}: ${name}: unknown content type ${c.content}`);
      g.content = s;
    }
    g.fields = c.fields.map((f, index) => ({ kind: f.kind, name: f.name, ns: ns(f.ns), array: f.array === true, index, ...typeOf(f.type) }));
    for (const f of g.fields) g.fieldByName.set(f.name, f);
    g.states = c.states.map((ps, si) => ({
      bits: bitsFor(ps.length + 1),
      prods: ps.map((p): RtProd => {
        const field = (k: number): RtField => {
          const f = g.fields[k];
          if (!f) throw new Error(`grammar ${id}: ${name} state ${si}: field ${k} out of range`);
          return f;
        };
        const next = (n: number): number => {
          if (n < 0 || n >= c.states.length) throw new Error(`grammar ${id}: ${name} state ${si}: next state ${n} out of range`);
          return n;
        };
        switch (p[0]) {
          case 'AT':
            return { ev: EV_AT, field: field(p[1]), next: next(p[2]) };
          case 'SE':
            return { ev: EV_SE, field: field(p[1]), next: next(p[2]) };
          case 'CH': {
            const f = g.fields.find((x) => x.kind === 'c');
            if (!f) throw new Error(`grammar ${id}: ${name} state ${si}: CH without a CONTENT field`);
            return { ev: EV_CH, field: f, next: next(p[1]) };
          }
          case 'EE':
            return { ev: EV_EE, field: undefined, next: -1 };
          case 'SE*':
            return { ev: EV_SE_ANY, field: undefined, next: next(p[1]) };
          case 'CH*':
            return { ev: EV_CH_UNTYPED, field: undefined, next: next(p[1]) };
        }
      }),
    }));
  }
  const element = (e: GrammarFileJson['document'][number], code: number): RtElement => {
    const [local, nsi, type] = e;
    if (type !== null) return { name: local, ns: ns(nsi), code, ...typeOf(type) };
    const declared = (e[3] ?? []).map((t) => {
      const r = typeOf(t);
      return (r.complex ?? r.simple)!;
    });
    return { name: local, ns: ns(nsi), code, relaxed: declared };
  };
  const document = j.document.map(element);
  const fragment = j.fragment.map(element);
  const fragmentByName = new Map<string, RtElement>();
  const localCount = new Map<string, number>();
  for (const e of fragment) localCount.set(e.name, (localCount.get(e.name) ?? 0) + 1);
  for (const e of fragment) {
    fragmentByName.set(`{${e.ns}}${e.name}`, e);
    if (localCount.get(e.name) === 1) fragmentByName.set(e.name, e);
  }
  return {
    id,
    name: j.name,
    generatedFrom: j.generatedFrom,
    complex,
    simple,
    document,
    // DocContent: SE(G0..Gn-1), SE(*); no second level with the V2G options
    documentBits: bitsFor(document.length + 1),
    documentByName: new Map(document.map((e) => [e.name, e])),
    fragment,
    // FragmentContent: SE(F0..Fn-1), SE(*), ED
    fragmentBits: bitsFor(fragment.length + 2),
    fragmentByName,
    attributes: j.attributes.map(([local, nsi, type], code) => ({ name: local, ns: ns(nsi), code, ...(type !== null ? { simple: simple.get(type) } : {}) })),
  };
}

const cache = new Map<string, RtGrammarSet>();

/** The grammar set `id`, loaded from src/exi/grammars/<id>.json on first use. */
export function grammarSet(id: GrammarId): RtGrammarSet {
  let g = cache.get(id);
  if (!g) {
    const text = readFileSync(new URL(`./grammars/${id}.json`, import.meta.url), 'utf8');
    g = linkGrammarSet(id, JSON.parse(text) as GrammarFileJson);
    cache.set(id, g);
  }
  return g;
}
