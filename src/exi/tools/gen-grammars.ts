// Grammar generator: reads the ISO 15118-2 / AppProtocol / xmldsig XML Schemas and writes the EXI
// grammar tables (src/exi/grammars/*.json) and the matching TypeScript types
// (src/exi/grammars/*-types.ts). The XSDs are ISO copyright and are NOT in the repository: point
// --xsd at a local copy (see src/exi/GRAMMARS.md for where public copies are). --check compares
// the freshly derived output with the committed files and exits 1 on any difference.
//
//   npx tsx src/exi/tools/gen-grammars.ts --xsd /tmp/xsd            # (re)write the tables
//   npx tsx src/exi/tools/gen-grammars.ts --xsd /tmp/xsd --check    # verify the committed tables
//
// The derivation follows EXI 1.0 §8.5 (schema-informed grammars) with the options of the V2G
// profile (non-strict: every element-grammar state reserves one more event code for the
// second-level escape) and the substitution-group ordering of EXIficient/libcbv2g (members sorted
// by local name, abstract head kept). Details in GRAMMARS.md.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ComplexTypeJson, ElementRefJson, FieldJson, GrammarFileJson, ProductionJson, SimpleTypeJson } from '../grammar-format.ts';
import { parseXml, resolveQName, type XmlElement } from './xml.ts';

const XS = 'http://www.w3.org/2001/XMLSchema';
const GENERATOR = 'src/exi/tools/gen-grammars.ts v1';

export class SchemaError extends Error {
  override readonly name = 'SchemaError';
}

// ---------------------------------------------------------------------------------------------
// Schema model
// ---------------------------------------------------------------------------------------------

interface QN {
  ns: string;
  local: string;
}
const qkey = (q: QN): string => `{${q.ns}}${q.local}`;

interface Facets {
  minInclusive?: bigint;
  maxInclusive?: bigint;
  length?: number;
  minLength?: number;
  maxLength?: number;
  enumeration?: string[];
  pattern?: boolean;
}

interface SimpleTypeDef {
  key: string;
  /** output name: XSD name for named types, `xs:<name>` for built-ins, `<context>` for anonymous */
  name: string;
  builtin?: string;
  baseRef?: () => SimpleTypeDef;
  base?: SimpleTypeDef;
  facets: Facets;
}

function baseOf(t: SimpleTypeDef): SimpleTypeDef | undefined {
  if (t.builtin) return undefined;
  if (!t.base && t.baseRef) t.base = t.baseRef();
  return t.base;
}

interface AttrUse {
  qn: QN;
  type: SimpleTypeDef;
  required: boolean;
}

type Term = { kind: 'element'; decl: ElementDecl } | { kind: 'any' } | { kind: 'sequence' | 'choice'; items: Particle[] };
interface Particle {
  min: number;
  max: number; // Infinity = unbounded
  term: Term;
}

interface ComplexTypeDef {
  key: string;
  name: string;
  abstract: boolean;
  mixed: boolean;
  attrs: AttrUse[];
  /** element content (undefined = empty) */
  particle?: Particle;
  /** simple content type */
  simple?: SimpleTypeDef;
  resolved: boolean;
  resolve?: () => void;
}

type TypeDef = { simple: SimpleTypeDef } | { complex: ComplexTypeDef };

interface ElementDecl {
  qn: QN;
  type: TypeDef;
  global: boolean;
  abstract: boolean;
  nillable: boolean;
  substitutionGroup?: string; // key of head
}

const BUILTIN_INT: Record<string, [bigint | undefined, bigint | undefined]> = {
  integer: [undefined, undefined],
  nonNegativeInteger: [0n, undefined],
  positiveInteger: [1n, undefined],
  nonPositiveInteger: [undefined, 0n],
  negativeInteger: [undefined, -1n],
  long: [-(2n ** 63n), 2n ** 63n - 1n],
  int: [-(2n ** 31n), 2n ** 31n - 1n],
  short: [-32768n, 32767n],
  byte: [-128n, 127n],
  unsignedLong: [0n, 2n ** 64n - 1n],
  unsignedInt: [0n, 2n ** 32n - 1n],
  unsignedShort: [0n, 65535n],
  unsignedByte: [0n, 255n],
};
const BUILTIN_STRING = new Set(['string', 'normalizedString', 'token', 'anyURI', 'ID', 'IDREF', 'NCName', 'Name', 'NMTOKEN', 'language', 'QName']);
const BUILTIN_OTHER = new Set(['boolean', 'base64Binary', 'hexBinary']);

class SchemaSet {
  readonly files: string[] = [];
  readonly simpleTypes = new Map<string, SimpleTypeDef>();
  readonly complexTypes = new Map<string, ComplexTypeDef>();
  readonly globalElements = new Map<string, ElementDecl>();
  readonly allElements: ElementDecl[] = [];
  readonly allAttributes: AttrUse[] = [];
  private readonly globalAttributes = new Map<string, { el: XmlElement; tns: string }>();
  private readonly pendingElements: (() => void)[] = [];
  private readonly loaded = new Set<string>();
  private anonCount = 0;

  constructor(private readonly searchDir: string) {}

  builtin(local: string): SimpleTypeDef {
    const key = `{${XS}}${local}`;
    let t = this.simpleTypes.get(key);
    if (!t) {
      if (!(local in BUILTIN_INT) && !BUILTIN_STRING.has(local) && !BUILTIN_OTHER.has(local)) {
        throw new SchemaError(`built-in type xs:${local} is not supported by the EXI codec`);
      }
      t = { key, name: `xs:${local}`, builtin: local, facets: {} };
      this.simpleTypes.set(key, t);
    }
    return t;
  }

  load(file: string): void {
    const abs = path.resolve(file);
    if (this.loaded.has(abs)) return;
    this.loaded.add(abs);
    this.files.push(path.basename(abs));
    const root = parseXml(readFileSync(abs, 'utf8'), path.basename(abs));
    if (root.ns !== XS || root.local !== 'schema') throw new SchemaError(`${abs}: not an XML Schema`);
    const tns = root.attrs.targetNamespace ?? '';
    const elemQualified = root.attrs.elementFormDefault === 'qualified';
    const attrQualified = root.attrs.attributeFormDefault === 'qualified';
    const ctx: Ctx = { file: path.basename(abs), tns, elemQualified, attrQualified };

    for (const c of root.children) {
      if (c.ns !== XS) continue;
      if (c.local === 'import' || c.local === 'include') {
        const loc = c.attrs.schemaLocation;
        if (!loc) throw new SchemaError(`${ctx.file}:${c.line}: ${c.local} without schemaLocation`);
        this.load(this.locate(path.dirname(abs), loc));
      }
    }
    // register named types first (lazily resolved), then elements and attributes
    for (const c of root.children) {
      if (c.ns !== XS) continue;
      const name = c.attrs.name;
      if (c.local === 'simpleType' && name) {
        const key = qkey({ ns: tns, local: name });
        this.simpleTypes.set(key, this.lazySimple(c, ctx, key, name));
      } else if (c.local === 'complexType' && name) {
        const key = qkey({ ns: tns, local: name });
        this.complexTypes.set(key, this.lazyComplex(c, ctx, key, name));
      } else if (c.local === 'attribute' && name) {
        this.globalAttributes.set(qkey({ ns: tns, local: name }), { el: c, tns });
      }
    }
    for (const c of root.children) {
      if (c.ns !== XS || c.local !== 'element') continue;
      const name = c.attrs.name;
      if (!name) throw new SchemaError(`${ctx.file}:${c.line}: global element without name`);
      const qn = { ns: tns, local: name };
      const decl: ElementDecl = {
        qn,
        type: { simple: this.builtin('string') }, // placeholder until resolved below
        global: true,
        abstract: c.attrs.abstract === 'true',
        nillable: c.attrs.nillable === 'true',
      };
      if (c.attrs.substitutionGroup) decl.substitutionGroup = qkey(resolveQName(c, c.attrs.substitutionGroup));
      this.globalElements.set(qkey(qn), decl);
      this.allElements.push(decl);
      this.pendingElements.push(() => {
        decl.type = this.elementType(c, ctx, name);
      });
    }
  }

  /** Resolves everything loaded so far. */
  finish(): void {
    for (const p of this.pendingElements.splice(0)) p();
    for (const t of this.complexTypes.values()) this.resolveComplex(t);
  }

  private locate(dir: string, loc: string): string {
    const direct = path.resolve(dir, loc);
    if (existsSync(direct)) return direct;
    // different copies put xmldsig-core-schema.xsd in different folders: search by file name
    const base = path.basename(loc);
    const found = findFile(this.searchDir, base);
    if (!found) throw new SchemaError(`cannot find ${loc} (looked in ${dir} and under ${this.searchDir})`);
    return found;
  }

  private typeRef(el: XmlElement, value: string): TypeDef {
    const q = resolveQName(el, value);
    if (q.ns === XS) {
      if (q.local === 'anyType') throw new SchemaError(`line ${el.line}: xs:anyType is not supported`);
      return { simple: this.builtin(q.local) };
    }
    const key = qkey(q);
    const s = this.simpleTypes.get(key);
    if (s) return { simple: s };
    const c = this.complexTypes.get(key);
    if (c) return { complex: c };
    throw new SchemaError(`line ${el.line}: unknown type ${value}`);
  }

  private simpleRef(el: XmlElement, value: string): SimpleTypeDef {
    const t = this.typeRef(el, value);
    if ('simple' in t) return t.simple;
    throw new SchemaError(`line ${el.line}: ${value} is not a simple type`);
  }

  private elementType(el: XmlElement, ctx: Ctx, context: string): TypeDef {
    if (el.attrs.type) return this.typeRef(el, el.attrs.type);
    for (const c of el.children) {
      if (c.ns !== XS) continue;
      if (c.local === 'complexType') {
        const t = this.lazyComplex(c, ctx, `#anon${++this.anonCount}`, `${context}Type`);
        this.resolveComplex(t);
        return { complex: t };
      }
      if (c.local === 'simpleType') return { simple: this.lazySimple(c, ctx, `#anon${++this.anonCount}`, context) };
    }
    throw new SchemaError(`${ctx.file}:${el.line}: element ${context} has no type (xs:anyType is not supported)`);
  }

  private lazySimple(el: XmlElement, ctx: Ctx, key: string, name: string): SimpleTypeDef {
    const t: SimpleTypeDef = { key, name, facets: {} };
    const restriction = el.children.find((c) => c.ns === XS && c.local === 'restriction');
    if (!restriction) throw new SchemaError(`${ctx.file}:${el.line}: simpleType ${name}: only restriction is supported (no list/union)`);
    // bases may be declared later in the file: resolved on first use (see baseOf)
    t.baseRef = (): SimpleTypeDef => {
      if (restriction.attrs.base) return this.simpleRef(restriction, restriction.attrs.base);
      const inner = restriction.children.find((c) => c.ns === XS && c.local === 'simpleType');
      if (!inner) throw new SchemaError(`${ctx.file}:${restriction.line}: restriction without base`);
      return this.lazySimple(inner, ctx, `#anon${++this.anonCount}`, `${name}.base`);
    };
    const enums: string[] = [];
    for (const f of restriction.children) {
      if (f.ns !== XS) continue;
      const v = f.attrs.value ?? '';
      switch (f.local) {
        case 'enumeration':
          enums.push(v);
          break;
        case 'minInclusive':
          t.facets.minInclusive = BigInt(v);
          break;
        case 'maxInclusive':
          t.facets.maxInclusive = BigInt(v);
          break;
        case 'minExclusive':
          t.facets.minInclusive = BigInt(v) + 1n;
          break;
        case 'maxExclusive':
          t.facets.maxInclusive = BigInt(v) - 1n;
          break;
        case 'length':
          t.facets.length = Number(v);
          break;
        case 'minLength':
          t.facets.minLength = Number(v);
          break;
        case 'maxLength':
          t.facets.maxLength = Number(v);
          break;
        case 'pattern':
          t.facets.pattern = true;
          break;
        case 'annotation':
        case 'simpleType':
          break;
        default:
          throw new SchemaError(`${ctx.file}:${f.line}: facet ${f.local} is not supported`);
      }
    }
    if (enums.length > 0) t.facets.enumeration = enums;
    return t;
  }

  private lazyComplex(el: XmlElement, ctx: Ctx, key: string, name: string): ComplexTypeDef {
    const t: ComplexTypeDef = {
      key,
      name,
      abstract: el.attrs.abstract === 'true',
      mixed: el.attrs.mixed === 'true',
      attrs: [],
      resolved: false,
    };
    t.resolve = () => {
      const body = el.children.filter((c) => c.ns === XS && c.local !== 'annotation');
      const own = this.contentOf(body, ctx, name);
      const cc = body.find((c) => c.local === 'complexContent');
      const sc = body.find((c) => c.local === 'simpleContent');
      if (cc) {
        if (cc.attrs.mixed === 'true') t.mixed = true;
        const der = cc.children.find((c) => c.ns === XS && (c.local === 'extension' || c.local === 'restriction'));
        if (!der?.attrs.base) throw new SchemaError(`${ctx.file}:${cc.line}: complexContent needs extension/restriction with a base`);
        const base = this.typeRef(der, der.attrs.base);
        if (!('complex' in base)) throw new SchemaError(`${ctx.file}:${der.line}: complexContent base must be complex`);
        this.resolveComplex(base.complex);
        const inner = this.contentOf(der.children.filter((c) => c.ns === XS && c.local !== 'annotation'), ctx, name);
        if (der.local === 'extension') {
          t.attrs = [...base.complex.attrs, ...inner.attrs];
          const parts = [base.complex.particle, inner.particle].filter((p): p is Particle => p !== undefined);
          t.particle = parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : { min: 1, max: 1, term: { kind: 'sequence', items: parts } };
        } else {
          t.attrs = inner.attrs;
          t.particle = inner.particle;
        }
      } else if (sc) {
        const der = sc.children.find((c) => c.ns === XS && (c.local === 'extension' || c.local === 'restriction'));
        if (!der?.attrs.base) throw new SchemaError(`${ctx.file}:${sc.line}: simpleContent needs extension/restriction with a base`);
        const base = this.typeRef(der, der.attrs.base);
        if ('simple' in base) t.simple = base.simple;
        else {
          this.resolveComplex(base.complex);
          if (!base.complex.simple) throw new SchemaError(`${ctx.file}:${der.line}: simpleContent base has no simple content`);
          t.simple = base.complex.simple;
          t.attrs = [...base.complex.attrs];
        }
        const inner = this.contentOf(der.children.filter((c) => c.ns === XS && c.local !== 'annotation'), ctx, name);
        t.attrs = [...t.attrs, ...inner.attrs];
      } else {
        t.attrs = own.attrs;
        t.particle = own.particle;
      }
      for (const a of t.attrs) this.allAttributes.push(a);
      t.resolved = true;
    };
    return t;
  }

  resolveComplex(t: ComplexTypeDef): void {
    if (t.resolved) return;
    if (!t.resolve) throw new SchemaError(`complex type ${t.name} cannot be resolved`);
    const r = t.resolve;
    t.resolve = () => {
      throw new SchemaError(`complex type ${t.name} derives from itself`);
    };
    r();
  }

  private contentOf(children: XmlElement[], ctx: Ctx, typeName: string): { attrs: AttrUse[]; particle?: Particle } {
    const attrs: AttrUse[] = [];
    let particle: Particle | undefined;
    for (const c of children) {
      switch (c.local) {
        case 'sequence':
        case 'choice':
        case 'all':
          particle = this.particle(c, ctx, typeName);
          break;
        case 'group':
          throw new SchemaError(`${ctx.file}:${c.line}: xs:group is not supported`);
        case 'attribute':
          attrs.push(this.attribute(c, ctx));
          break;
        case 'anyAttribute':
          throw new SchemaError(`${ctx.file}:${c.line}: xs:anyAttribute is not supported`);
        case 'attributeGroup':
          throw new SchemaError(`${ctx.file}:${c.line}: xs:attributeGroup is not supported`);
        default:
          break;
      }
    }
    // an empty sequence is empty content
    if (particle && particle.term.kind !== 'element' && particle.term.kind !== 'any' && particle.term.items.length === 0) particle = undefined;
    return { attrs, ...(particle ? { particle } : {}) };
  }

  private attribute(c: XmlElement, ctx: Ctx): AttrUse {
    const required = c.attrs.use === 'required';
    if (c.attrs.use === 'prohibited') throw new SchemaError(`${ctx.file}:${c.line}: prohibited attributes are not supported`);
    if (c.attrs.ref) {
      const q = resolveQName(c, c.attrs.ref);
      const g = this.globalAttributes.get(qkey(q));
      if (!g) throw new SchemaError(`${ctx.file}:${c.line}: unknown attribute ${c.attrs.ref}`);
      return { qn: q, type: this.attrType(g.el, ctx), required };
    }
    const name = c.attrs.name;
    if (!name) throw new SchemaError(`${ctx.file}:${c.line}: attribute without name`);
    const qualified = c.attrs.form ? c.attrs.form === 'qualified' : ctx.attrQualified;
    return { qn: { ns: qualified ? ctx.tns : '', local: name }, type: this.attrType(c, ctx), required };
  }

  private attrType(c: XmlElement, ctx: Ctx): SimpleTypeDef {
    if (c.attrs.type) return this.simpleRef(c, c.attrs.type);
    const inner = c.children.find((x) => x.ns === XS && x.local === 'simpleType');
    if (inner) return this.lazySimple(inner, ctx, `#anon${++this.anonCount}`, `@${c.attrs.name ?? '?'}`);
    return this.builtin('string'); // xs:anySimpleType: untyped text
  }

  private occurs(c: XmlElement): { min: number; max: number } {
    const min = c.attrs.minOccurs === undefined ? 1 : Number(c.attrs.minOccurs);
    const max = c.attrs.maxOccurs === undefined ? 1 : c.attrs.maxOccurs === 'unbounded' ? Infinity : Number(c.attrs.maxOccurs);
    return { min, max };
  }

  private particle(c: XmlElement, ctx: Ctx, typeName: string): Particle {
    const occ = this.occurs(c);
    if (c.local === 'element') {
      if (c.attrs.ref) {
        const key = qkey(resolveQName(c, c.attrs.ref));
        const decl = this.globalElements.get(key);
        if (!decl) throw new SchemaError(`${ctx.file}:${c.line}: unknown element ${c.attrs.ref}`);
        return { ...occ, term: { kind: 'element', decl } };
      }
      const name = c.attrs.name;
      if (!name) throw new SchemaError(`${ctx.file}:${c.line}: local element without name`);
      const qualified = c.attrs.form ? c.attrs.form === 'qualified' : ctx.elemQualified;
      const decl: ElementDecl = {
        qn: { ns: qualified ? ctx.tns : '', local: name },
        type: this.elementType(c, ctx, `${typeName}.${name}`),
        global: false,
        abstract: false,
        nillable: c.attrs.nillable === 'true',
      };
      this.allElements.push(decl);
      return { ...occ, term: { kind: 'element', decl } };
    }
    if (c.local === 'any') return { ...occ, term: { kind: 'any' } };
    if (c.local === 'sequence' || c.local === 'choice') {
      const items: Particle[] = [];
      for (const x of c.children) {
        if (x.ns !== XS || x.local === 'annotation') continue;
        if (x.local === 'group') throw new SchemaError(`${ctx.file}:${x.line}: xs:group is not supported`);
        items.push(this.particle(x, ctx, typeName));
      }
      return { ...occ, term: { kind: c.local, items } };
    }
    throw new SchemaError(`${ctx.file}:${c.line}: particle xs:${c.local} is not supported`);
  }

  /** Members of the substitution group headed by `head` (transitively), head included. */
  substitutionMembers(head: ElementDecl): ElementDecl[] {
    const out = new Map<string, ElementDecl>([[qkey(head.qn), head]]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const e of this.globalElements.values()) {
        if (e.substitutionGroup && out.has(e.substitutionGroup) && !out.has(qkey(e.qn))) {
          out.set(qkey(e.qn), e);
          grew = true;
        }
      }
    }
    return [...out.values()];
  }
}

interface Ctx {
  file: string;
  tns: string;
  elemQualified: boolean;
  attrQualified: boolean;
}

function findFile(dir: string, base: string): string | undefined {
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) {
      const f = findFile(p, base);
      if (f) return f;
    } else if (e === base) return p;
  }
  return undefined;
}

/** EXI order of qnames: local name, then namespace URI (code-unit order). */
function compareQN(a: QN, b: QN): number {
  if (a.local !== b.local) return a.local < b.local ? -1 : 1;
  if (a.ns !== b.ns) return a.ns < b.ns ? -1 : 1;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Simple types → EXI datatype descriptors
// ---------------------------------------------------------------------------------------------

function exiSimple(t: SimpleTypeDef): SimpleTypeJson {
  // walk to the built-in, most derived facet wins
  const chain: SimpleTypeDef[] = [];
  for (let x: SimpleTypeDef | undefined = t; x; x = baseOf(x)) chain.push(x);
  const builtin = chain[chain.length - 1]!.builtin;
  if (!builtin) throw new SchemaError(`simple type ${t.name} does not derive from a built-in type`);
  let enumeration: string[] | undefined;
  let minLength: number | undefined;
  let maxLength: number | undefined;
  let lo: bigint | undefined;
  let hi: bigint | undefined;
  if (builtin in BUILTIN_INT) [lo, hi] = BUILTIN_INT[builtin]!;
  for (let k = chain.length - 1; k >= 0; k--) {
    const f = chain[k]!.facets;
    if (f.enumeration) enumeration = f.enumeration;
    if (f.length !== undefined) minLength = maxLength = f.length;
    if (f.minLength !== undefined) minLength = f.minLength;
    if (f.maxLength !== undefined) maxLength = f.maxLength;
    if (f.minInclusive !== undefined && (lo === undefined || f.minInclusive > lo)) lo = f.minInclusive;
    if (f.maxInclusive !== undefined && (hi === undefined || f.maxInclusive < hi)) hi = f.maxInclusive;
  }
  const lens = { ...(minLength !== undefined ? { minLength } : {}), ...(maxLength !== undefined ? { maxLength } : {}) };
  if (enumeration) {
    if (!BUILTIN_STRING.has(builtin)) throw new SchemaError(`enumeration of ${builtin} (${t.name}) is not supported`);
    return { k: 'enum', values: enumeration };
  }
  if (BUILTIN_STRING.has(builtin)) return { k: 'string', ...lens };
  if (builtin === 'boolean') return { k: 'boolean' };
  if (builtin === 'hexBinary') return { k: 'binary', enc: 'hex', ...lens };
  if (builtin === 'base64Binary') return { k: 'binary', enc: 'base64', ...lens };
  // integers (EXI 1.0 §7.1.5): bounded range ≤ 4096 → n-bit; lower bound ≥ 0 → unsigned; else integer
  const SAFE = 2n ** 53n - 1n;
  const big = lo === undefined || hi === undefined || lo < -SAFE || hi > SAFE;
  if (lo !== undefined && hi !== undefined && hi - lo + 1n <= 4096n) return { k: 'nbit', min: Number(lo), max: Number(hi) };
  if (lo !== undefined && lo >= 0n) return { k: 'uint', min: String(lo), ...(hi !== undefined ? { max: String(hi) } : {}), big };
  return { k: 'int', ...(lo !== undefined ? { min: String(lo) } : {}), ...(hi !== undefined ? { max: String(hi) } : {}), big };
}

// ---------------------------------------------------------------------------------------------
// Content model → EXI element grammar (EXI 1.0 §8.5.4)
// ---------------------------------------------------------------------------------------------

type Edge =
  | { ev: 'AT'; field: string; to: number }
  | { ev: 'SE'; field: string; to: number; order: number }
  | { ev: 'SE*'; to: number; order: number }
  | { ev: 'EPS'; to: number };

interface Nfa {
  edges: Edge[][];
  /** nodes that belong to the content part (for mixed CH*) */
  content: Set<number>;
}

class GrammarBuilder {
  private readonly nfa: Nfa = { edges: [], content: new Set() };
  private order = 0;
  /** element qname key → field name/decl */
  readonly elementFields = new Map<string, ElementDecl>();

  constructor(private readonly set: SchemaSet) {}

  node(content: boolean): number {
    this.nfa.edges.push([]);
    const n = this.nfa.edges.length - 1;
    if (content) this.nfa.content.add(n);
    return n;
  }

  private edge(from: number, e: Edge): void {
    this.nfa.edges[from]!.push(e);
  }

  /** Builds a fragment for `p`, returns [start, end]. */
  build(p: Particle): [number, number] {
    const start = this.node(true);
    let cur = start;
    for (let i = 0; i < p.min; i++) {
      const [s, e] = this.term(p.term);
      this.edge(cur, { ev: 'EPS', to: s });
      cur = e;
    }
    const end = this.node(true);
    if (p.max === Infinity) {
      const loop = this.node(true);
      this.edge(cur, { ev: 'EPS', to: loop });
      const [s, e] = this.term(p.term);
      this.edge(loop, { ev: 'EPS', to: s });
      this.edge(e, { ev: 'EPS', to: loop });
      this.edge(loop, { ev: 'EPS', to: end });
    } else {
      if (p.max > 5000) throw new SchemaError(`maxOccurs ${p.max} is too large to unroll`);
      for (let i = p.min; i < p.max; i++) {
        const [s, e] = this.term(p.term);
        this.edge(cur, { ev: 'EPS', to: s });
        this.edge(cur, { ev: 'EPS', to: end });
        cur = e;
      }
      this.edge(cur, { ev: 'EPS', to: end });
    }
    return [start, end];
  }

  private term(t: Term): [number, number] {
    const s = this.node(true);
    const e = this.node(true);
    switch (t.kind) {
      case 'element': {
        const members = t.decl.global ? this.set.substitutionMembers(t.decl).sort((a, b) => compareQN(a.qn, b.qn)) : [t.decl];
        const base = this.order;
        this.order += members.length;
        members.forEach((m, i) => {
          const k = qkey(m.qn);
          const prev = this.elementFields.get(k);
          if (prev && prev.type !== m.type && !sameType(prev.type, m.type)) throw new SchemaError(`element ${m.qn.local} declared twice with different types in one content model`);
          this.elementFields.set(k, m);
          this.edge(s, { ev: 'SE', field: k, to: e, order: base + i });
        });
        break;
      }
      case 'any':
        this.edge(s, { ev: 'SE*', to: e, order: this.order++ });
        break;
      case 'sequence': {
        let cur = s;
        for (const p of t.items) {
          const [ps, pe] = this.build(p);
          this.edge(cur, { ev: 'EPS', to: ps });
          cur = pe;
        }
        this.edge(cur, { ev: 'EPS', to: e });
        break;
      }
      case 'choice':
        for (const p of t.items) {
          const [ps, pe] = this.build(p);
          this.edge(s, { ev: 'EPS', to: ps });
          this.edge(pe, { ev: 'EPS', to: e });
        }
        break;
    }
    return [s, e];
  }

  /** Turns the automaton into EXI grammar states (epsilon-free, minimised, event-code order). */
  grammar(t: ComplexTypeDef, fieldIndex: (kind: 'a' | 'e' | 'c', key: string) => number): ProductionJson[][] {
    // attribute chain (sorted by qname), then content
    const attrs = [...t.attrs].sort((a, b) => compareQN(a.qn, b.qn));
    const start = this.node(false);
    let cur = start;
    for (const a of attrs) {
      const next = this.node(false);
      this.edge(cur, { ev: 'AT', field: qkey(a.qn), to: next });
      if (!a.required) this.edge(cur, { ev: 'EPS', to: next });
      cur = next;
    }
    let final: number;
    let contentStart: number;
    if (t.simple) {
      // simple content: CH then EE
      contentStart = this.node(true);
      this.edge(cur, { ev: 'EPS', to: contentStart });
      final = this.node(true);
      chEdges.set(contentStart, final);
    } else if (t.particle) {
      const [s, e] = this.build(t.particle);
      this.edge(cur, { ev: 'EPS', to: s });
      contentStart = s;
      final = e;
    } else {
      contentStart = this.node(true);
      this.edge(cur, { ev: 'EPS', to: contentStart });
      final = contentStart;
    }
    const edges = this.nfa.edges;

    const closure = (n: number): number[] => {
      const seen = new Set<number>();
      const out: number[] = [];
      const visit = (x: number): void => {
        if (seen.has(x)) return;
        seen.add(x);
        out.push(x);
        for (const e of edges[x]!) if (e.ev === 'EPS') visit(e.to);
      };
      visit(n);
      return out;
    };

    type P = { ev: 'AT' | 'SE' | 'SE*' | 'EE' | 'CH' | 'CH*'; field?: string; to: number; order: number; atKey?: QN };
    const prodsOf = (n: number): P[] => {
      const cl = closure(n);
      const ps: P[] = [];
      let ee = false;
      let content = false;
      for (const x of cl) {
        if (x === final) ee = true;
        if (this.nfa.content.has(x)) content = true;
        const ch = chEdges.get(x);
        if (ch !== undefined) ps.push({ ev: 'CH', to: ch, order: 0 });
        for (const e of edges[x]!) {
          if (e.ev === 'AT') ps.push({ ev: 'AT', field: e.field, to: e.to, order: 0 });
          else if (e.ev === 'SE') ps.push({ ev: 'SE', field: e.field, to: e.to, order: e.order });
          else if (e.ev === 'SE*') ps.push({ ev: 'SE*', to: e.to, order: e.order });
        }
      }
      if (ee) ps.push({ ev: 'EE', to: -1, order: 0 });
      if (t.mixed && content && !t.simple) ps.push({ ev: 'CH*', to: this.nfa.content.has(n) ? n : contentStart, order: 0 });
      // determinism: one target per event
      const seenEv = new Map<string, number>();
      const dedup: P[] = [];
      for (const p of ps) {
        const k = `${p.ev}|${p.field ?? ''}`;
        const prev = seenEv.get(k);
        if (prev !== undefined) {
          if (prev !== p.to && !(p.ev === 'SE*')) throw new SchemaError(`type ${t.name}: non-deterministic content model at ${p.ev}(${p.field ?? ''})`);
          if (prev !== p.to) throw new SchemaError(`type ${t.name}: ambiguous wildcard`);
          continue;
        }
        seenEv.set(k, p.to);
        dedup.push(p);
      }
      // EXI event-code order: AT (sorted), SE(qname) (schema order), SE(*), EE, CH
      const rank = { AT: 0, SE: 1, 'SE*': 2, EE: 3, CH: 4, 'CH*': 4 } as const;
      const dfsOrder = dedup.filter((p) => p.ev === 'SE').map((p) => p.field);
      dedup.sort((a, b) => rank[a.ev] - rank[b.ev] || (a.ev === 'AT' ? compareAttrKeys(a.field!, b.field!) : a.order - b.order));
      const schemaOrder = dedup.filter((p) => p.ev === 'SE').map((p) => p.field);
      if (dfsOrder.join() !== schemaOrder.join()) throw new SchemaError(`type ${t.name}: SE order is ambiguous (${dfsOrder.join()} vs ${schemaOrder.join()})`);
      return dedup;
    };

    // reachable states
    const ids = new Map<number, number>();
    const queue = [start];
    ids.set(start, 0);
    const raw: P[][] = [];
    while (queue.length > 0) {
      const n = queue.shift()!;
      const ps = prodsOf(n);
      raw[ids.get(n)!] = ps;
      for (const p of ps) {
        if (p.to >= 0 && !ids.has(p.to)) {
          ids.set(p.to, ids.size);
          queue.push(p.to);
        }
      }
    }
    const states: ProductionJson[][] = raw.map((ps) =>
      ps.map((p): ProductionJson => {
        const to = p.to >= 0 ? ids.get(p.to)! : -1;
        switch (p.ev) {
          case 'AT':
            return ['AT', fieldIndex('a', p.field!), to];
          case 'SE':
            return ['SE', fieldIndex('e', p.field!), to];
          case 'SE*':
            return ['SE*', to];
          case 'CH':
            return ['CH', to];
          case 'CH*':
            return ['CH*', to];
          case 'EE':
            return ['EE'];
        }
      }),
    );
    return minimise(states);
  }
}

// simple-content CH edges are kept outside the Edge union (they carry no field)
const chEdges = new Map<number, number>();

function compareAttrKeys(a: string, b: string): number {
  const pa = /^\{(.*)\}(.*)$/.exec(a)!;
  const pb = /^\{(.*)\}(.*)$/.exec(b)!;
  return compareQN({ ns: pa[1]!, local: pa[2]! }, { ns: pb[1]!, local: pb[2]! });
}

function sameType(a: TypeDef, b: TypeDef): boolean {
  if ('simple' in a && 'simple' in b) return a.simple === b.simple;
  if ('complex' in a && 'complex' in b) return a.complex === b.complex;
  return false;
}

/** Merges equivalent states (same productions, equivalent targets); state 0 stays first. */
function minimise(states: ProductionJson[][]): ProductionJson[][] {
  const sig = (p: ProductionJson, cls: number[]): string => {
    switch (p[0]) {
      case 'AT':
      case 'SE':
        return `${p[0]}:${p[1]}>${cls[p[2]]}`;
      case 'EE':
        return 'EE';
      default:
        return `${p[0]}>${cls[p[1]]}`;
    }
  };
  let cls = states.map(() => 0);
  let count = 1;
  for (;;) {
    const keys = new Map<string, number>();
    const next = states.map((ps, i) => {
      const k = `${cls[i]}|${ps.map((p) => sig(p, cls)).join(',')}`;
      let c = keys.get(k);
      if (c === undefined) {
        c = keys.size;
        keys.set(k, c);
      }
      return c;
    });
    cls = next;
    if (keys.size === count) break;
    count = keys.size;
  }
  // renumber in first-appearance order from state 0 (BFS) for readable tables
  const order = new Map<number, number>();
  const rep = new Map<number, number>();
  states.forEach((_, i) => {
    if (!rep.has(cls[i]!)) rep.set(cls[i]!, i);
  });
  const queue = [cls[0]!];
  order.set(cls[0]!, 0);
  const out: ProductionJson[][] = [];
  while (queue.length > 0) {
    const c = queue.shift()!;
    const ps = states[rep.get(c)!]!;
    const mapped = ps.map((p): ProductionJson => {
      const target = (s: number): number => {
        const tc = cls[s]!;
        if (!order.has(tc)) {
          order.set(tc, order.size);
          queue.push(tc);
        }
        return order.get(tc)!;
      };
      switch (p[0]) {
        case 'AT':
          return ['AT', p[1], target(p[2])];
        case 'SE':
          return ['SE', p[1], target(p[2])];
        case 'SE*':
          return ['SE*', target(p[1])];
        case 'CH':
          return ['CH', target(p[1])];
        case 'CH*':
          return ['CH*', target(p[1])];
        case 'EE':
          return ['EE'];
      }
    });
    out[order.get(c)!] = mapped;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Occurrence counting (array / optional flags) and TypeScript types
// ---------------------------------------------------------------------------------------------

function maxCounts(p: Particle, set: SchemaSet): Map<string, number> {
  const out = new Map<string, number>();
  const t = p.term;
  if (t.kind === 'element') {
    const members = t.decl.global ? set.substitutionMembers(t.decl) : [t.decl];
    for (const m of members) out.set(qkey(m.qn), 1);
  } else if (t.kind === 'sequence') {
    for (const c of t.items) for (const [k, v] of maxCounts(c, set)) out.set(k, (out.get(k) ?? 0) + v);
  } else if (t.kind === 'choice') {
    for (const c of t.items) for (const [k, v] of maxCounts(c, set)) out.set(k, Math.max(out.get(k) ?? 0, v));
  }
  for (const [k, v] of out) out.set(k, v * p.max);
  return out;
}

interface TsCtx {
  set: SchemaSet;
  fieldName: (key: string) => string;
  typeOf: (decl: ElementDecl) => string;
  isArray: (key: string) => boolean;
}

/** A TS type for a particle: a list of intersected parts, each either plain fields or a union. */
type Shape = { fields: Map<string, { type: string; optional: boolean }>; unions: Shape[][] };

function shapeOf(p: Particle, ctx: TsCtx, optional: boolean): Shape {
  const shape: Shape = { fields: new Map(), unions: [] };
  const opt = optional || p.min === 0;
  const t = p.term;
  if (p.max > 1 && t.kind !== 'element') {
    // repeated group: every field optional, arrays as flagged (order between names is not kept)
    for (const [k] of maxCounts(p, ctx.set)) {
      const decl = findDecl(p, k, ctx.set)!;
      shape.fields.set(ctx.fieldName(k), { type: ctx.typeOf(decl) + (ctx.isArray(k) ? '[]' : ''), optional: true });
    }
    return shape;
  }
  if (t.kind === 'element') {
    const members = t.decl.global ? ctx.set.substitutionMembers(t.decl).sort((a, b) => compareQN(a.qn, b.qn)) : [t.decl];
    const typed = members.map((m) => ({ name: ctx.fieldName(qkey(m.qn)), type: ctx.typeOf(m) + (ctx.isArray(qkey(m.qn)) ? '[]' : '') }));
    if (typed.length === 1) shape.fields.set(typed[0]!.name, { type: typed[0]!.type, optional: opt });
    else {
      const alts: Shape[] = typed.map((m) => ({ fields: new Map([[m.name, { type: m.type, optional: false }]]), unions: [] }));
      if (opt) alts.push({ fields: new Map(), unions: [] });
      shape.unions.push(alts);
    }
  } else if (t.kind === 'sequence') {
    for (const c of t.items) {
      const s = shapeOf(c, ctx, opt);
      for (const [k, v] of s.fields) shape.fields.set(k, v);
      shape.unions.push(...s.unions);
    }
  } else if (t.kind === 'choice') {
    const alts = t.items.map((c) => shapeOf(c, ctx, false));
    if (opt) alts.push({ fields: new Map(), unions: [] });
    shape.unions.push(alts);
  }
  return shape;
}

function findDecl(p: Particle, key: string, set: SchemaSet): ElementDecl | undefined {
  const t = p.term;
  if (t.kind === 'element') {
    const members = t.decl.global ? set.substitutionMembers(t.decl) : [t.decl];
    return members.find((m) => qkey(m.qn) === key);
  }
  if (t.kind === 'any') return undefined;
  for (const c of t.items) {
    const d = findDecl(c, key, set);
    if (d) return d;
  }
  return undefined;
}

function shapeKeys(s: Shape): Set<string> {
  const out = new Set(s.fields.keys());
  for (const u of s.unions) for (const a of u) for (const k of shapeKeys(a)) out.add(k);
  return out;
}

function renderShape(s: Shape, extra: string[], indent: string): string {
  const parts: string[] = [];
  const lines = [...extra];
  for (const [k, v] of s.fields) lines.push(`${k}${v.optional ? '?' : ''}: ${v.type};`);
  if (lines.length > 0 || s.unions.length === 0) {
    parts.push(lines.length === 0 ? 'Record<string, never>' : `{\n${lines.map((l) => `${indent}  ${l}`).join('\n')}\n${indent}}`);
  }
  for (const alts of s.unions) {
    const all = new Set<string>();
    for (const a of alts) for (const k of shapeKeys(a)) all.add(k);
    if (alts.length > 6) {
      // large unions (the Body substitution group): one object, every alternative optional,
      // so that `body.SessionSetupReq` type-checks; exactly one may be present
      const merged = alts.flatMap((a) => [...a.fields].map(([k, v]) => `${k}?: ${v.type};`));
      parts.push(`{\n${indent}  /** exactly one of: ${[...all].join(', ')} */\n${merged.map((l) => `${indent}  ${l}`).join('\n')}\n${indent}}`);
      continue;
    }
    // small unions mark the other alternatives' keys `?: never` so that they exclude each other
    const rendered = alts.map((a) => {
      const own = shapeKeys(a);
      const never = [...all].filter((k) => !own.has(k)).map((k) => `${k}?: never;`);
      return renderShape(a, never, indent + '  ');
    });
    parts.push(`(\n${indent}  | ${rendered.join(`\n${indent}  | `)}\n${indent})`);
  }
  return parts.join(' & ');
}

function tsSimple(j: SimpleTypeJson): string {
  switch (j.k) {
    case 'string':
      return 'string';
    case 'binary':
      return 'Uint8Array';
    case 'boolean':
      return 'boolean';
    case 'enum':
      return j.values.map((v) => `'${v}'`).join(' | ');
    case 'nbit':
      return 'number';
    case 'uint':
    case 'int':
      return j.big ? 'bigint' : 'number';
  }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

export interface GeneratedGrammar {
  json: GrammarFileJson;
  ts: string;
}
type Output = GeneratedGrammar;

function tsIdent(name: string): string {
  return name.replace(/^xs:/, 'xs_').replace(/[^A-Za-z0-9_$]/g, '_');
}

function generate(set: SchemaSet, title: string): Output {
  set.finish();
  const namespaces = [''];
  const nsIndex = (ns: string): number => {
    let i = namespaces.indexOf(ns);
    if (i < 0) {
      namespaces.push(ns);
      i = namespaces.length - 1;
    }
    return i;
  };

  // names of complex types must be unique (they key the tables and become TS type names)
  const complexByName = new Map<string, ComplexTypeDef>();
  const simpleByName = new Map<string, SimpleTypeDef>();
  const complexTypes: Record<string, ComplexTypeJson> = {};
  const simpleTypes: Record<string, SimpleTypeJson> = {};
  const simpleName = (t: SimpleTypeDef): string => {
    const prev = simpleByName.get(t.name);
    if (prev && prev !== t) throw new SchemaError(`two simple types are named ${t.name}`);
    if (!prev) {
      simpleByName.set(t.name, t);
      simpleTypes[t.name] = exiSimple(t);
    }
    return t.name;
  };
  const typeName = (t: TypeDef): string => ('simple' in t ? simpleName(t.simple) : complexName(t.complex));
  const pending: ComplexTypeDef[] = [];
  const complexName = (t: ComplexTypeDef): string => {
    const prev = complexByName.get(t.name);
    if (prev && prev !== t) throw new SchemaError(`two complex types are named ${t.name}`);
    if (!prev) {
      complexByName.set(t.name, t);
      pending.push(t);
    }
    return t.name;
  };

  const tsTypes: string[] = [];
  const build = (t: ComplexTypeDef): void => {
    set.resolveComplex(t);
    const gb = new GrammarBuilder(set);
    const fields: FieldJson[] = [];
    const fieldIdx = new Map<string, number>();
    const counts = t.particle ? maxCounts(t.particle, set) : new Map<string, number>();
    const attrByKey = new Map(t.attrs.map((a) => [qkey(a.qn), a]));
    const fieldIndex = (kind: 'a' | 'e' | 'c', key: string): number => {
      const k = `${kind}${key}`;
      let i = fieldIdx.get(k);
      if (i !== undefined) return i;
      if (kind === 'a') {
        const a = attrByKey.get(key)!;
        fields.push({ kind: 'a', name: a.qn.local, ns: nsIndex(a.qn.ns), type: simpleName(a.type) });
      } else {
        const d = gb.elementFields.get(key)!;
        fields.push({ kind: 'e', name: d.qn.local, ns: nsIndex(d.qn.ns), type: typeName(d.type), ...((counts.get(key) ?? 1) > 1 ? { array: true as const } : {}) });
      }
      i = fields.length - 1;
      fieldIdx.set(k, i);
      return i;
    };
    chEdges.clear();
    const states = gb.grammar(t, fieldIndex);
    // fields never reached by a production (e.g. optional attributes are all reached) are an error
    for (const a of t.attrs) fieldIndex('a', qkey(a.qn));
    if (t.simple) fields.push({ kind: 'c', name: 'CONTENT', ns: 0, type: simpleName(t.simple) });
    const names = new Set<string>();
    for (const f of fields) {
      if (names.has(f.name)) throw new SchemaError(`type ${t.name}: two fields are named ${f.name}`);
      names.add(f.name);
    }
    complexTypes[t.name] = {
      ...(t.abstract ? { abstract: true as const } : {}),
      ...(t.mixed ? { mixed: true as const } : {}),
      ...(t.simple ? { content: simpleName(t.simple) } : {}),
      fields,
      states,
    };

    // TypeScript
    const attrLines = [...t.attrs].sort((a, b) => compareQN(a.qn, b.qn)).map((a) => `${a.qn.local}${a.required ? '' : '?'}: ${tsIdent(simpleName(a.type))};`);
    let body: string;
    if (t.simple) body = renderShape({ fields: new Map(), unions: [] }, [...attrLines, `CONTENT: ${tsIdent(simpleName(t.simple))};`], '');
    else if (t.particle) {
      const ctx: TsCtx = {
        set,
        fieldName: (key) => /\}(.*)$/.exec(key)![1]!,
        typeOf: (d) => tsIdent(typeName(d.type)),
        isArray: (key) => (counts.get(key) ?? 1) > 1,
      };
      body = renderShape(shapeOf(t.particle, ctx, false), attrLines, '');
    } else body = renderShape({ fields: new Map(), unions: [] }, attrLines, '');
    const doc = `/** ${t.abstract ? 'abstract ' : ''}complex type ${t.name}${t.mixed ? ' (mixed: text content is not supported)' : ''} */`;
    tsTypes.push(`${doc}\nexport type ${tsIdent(t.name)} = ${body};`);
  };

  // document: global elements
  const globals = [...set.globalElements.values()].sort((a, b) => compareQN(a.qn, b.qn));
  const document: ElementRefJson[] = globals.map((e) => [e.qn.local, nsIndex(e.qn.ns), typeName(e.type)]);

  // fragment: every element qname; relaxed grammar when declarations disagree on type/nillable
  const byQn = new Map<string, ElementDecl[]>();
  for (const e of set.allElements) {
    const k = qkey(e.qn);
    byQn.set(k, [...(byQn.get(k) ?? []), e]);
  }
  const fragmentDecls = [...byQn.values()].sort((a, b) => compareQN(a[0]!.qn, b[0]!.qn));
  const fragment: ElementRefJson[] = fragmentDecls.map((ds) => {
    const first = ds[0]!;
    const uniform = ds.every((d) => sameType(d.type, first.type) && d.nillable === first.nillable);
    if (uniform) return [first.qn.local, nsIndex(first.qn.ns), typeName(first.type)];
    const declared = [...new Set(ds.map((d) => typeName(d.type)))].sort();
    return [first.qn.local, nsIndex(first.qn.ns), null, declared];
  });

  // every complex type reachable from the elements (process the queue until closed)
  while (pending.length > 0) build(pending.shift()!);

  // attributes of the relaxed element-fragment grammar
  const attrByQn = new Map<string, AttrUse[]>();
  for (const a of set.allAttributes) {
    const k = qkey(a.qn);
    attrByQn.set(k, [...(attrByQn.get(k) ?? []), a]);
  }
  const attributes: ElementRefJson[] = [...attrByQn.values()]
    .sort((a, b) => compareQN(a[0]!.qn, b[0]!.qn))
    .map((as) => {
      const first = as[0]!;
      const uniform = as.every((a) => exiEqual(a.type, first.type));
      return [first.qn.local, nsIndex(first.qn.ns), uniform ? simpleName(first.type) : null];
    });

  const sortKeys = <T>(o: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const sortedSimple = sortKeys(simpleTypes);
  const sortedComplex = sortKeys(complexTypes);
  const model = JSON.stringify({ namespaces, simpleTypes: sortedSimple, complexTypes: sortedComplex, document, fragment, attributes });
  const json: GrammarFileJson = {
    format: 1,
    name: title,
    generatedFrom: { files: [...set.files].sort(), schemaModelSha256: createHash('sha256').update(model).digest('hex'), generator: GENERATOR },
    namespaces,
    simpleTypes: sortedSimple,
    complexTypes: sortedComplex,
    document,
    fragment,
    attributes,
  };

  // TS: simple type aliases, complex types, element maps
  const simpleTs = Object.entries(sortedSimple)
    .filter(([n]) => !n.includes('.') && !n.startsWith('@'))
    .map(([n, j]) => `export type ${tsIdent(n)} = ${tsSimple(j)};`);
  const anonSimple = Object.entries(sortedSimple)
    .filter(([n]) => n.includes('.') || n.startsWith('@'))
    .map(([n, j]) => `export type ${tsIdent(n)} = ${tsSimple(j)};`);
  const elemMap = (list: ElementRefJson[], relaxed: string): string =>
    list.map(([local, ns, t]) => `  /** {${namespaces[ns]}}${local} */\n  ${JSON.stringify(local)}: ${t === null ? relaxed : tsIdent(t)};`).join('\n');
  const dupNames = (list: ElementRefJson[]): Set<string> => {
    const seen = new Set<string>();
    const dup = new Set<string>();
    for (const e of list) (seen.has(e[0]) ? dup : seen).add(e[0]);
    return dup;
  };
  if (dupNames(document).size > 0) throw new SchemaError('two global elements share a local name; the element maps need qualified keys');
  const fragDup = dupNames(fragment);
  const ts = [
    `// GENERATED by ${GENERATOR} from ${json.generatedFrom.files.join(', ')} — do not edit.`,
    `// TypeScript types of ${title}: one type per XML Schema type, element content by local name,`,
    '// repeated elements as arrays, simple content as CONTENT, hexBinary/base64Binary as Uint8Array,',
    '// 64-bit and unbounded integers as bigint. Choices and substitution groups are unions.',
    '',
    ...simpleTs,
    ...anonSimple,
    '',
    ...tsTypes,
    '',
    '/** Element of the relaxed element-fragment grammar (qname declared with different types). */',
    'export type RelaxedElement = { [attribute: string]: string | undefined; CONTENT?: string };',
    '',
    '/** Global elements: the possible roots of an EXI document of this grammar. */',
    `export type DocumentElements = {\n${elemMap(document, 'RelaxedElement')}\n};`,
    '',
    '/** Element qnames of the fragment grammar whose local name is unique (the others need the qualified name). */',
    `export type FragmentElements = {\n${elemMap(
      fragment.filter((e) => !fragDup.has(e[0])),
      'RelaxedElement',
    )}\n};`,
    '',
  ].join('\n');
  return { json, ts };
}

function exiEqual(a: SimpleTypeDef, b: SimpleTypeDef): boolean {
  return a === b || JSON.stringify(exiSimple(a)) === JSON.stringify(exiSimple(b));
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

/**
 * Derives the grammar set of the schema `rootXsd` (and its imports, searched under `searchDir`
 * when a schemaLocation does not resolve). `title` names the set in the output.
 */
export function generateGrammar(rootXsd: string, searchDir: string, title: string): GeneratedGrammar {
  const s = new SchemaSet(searchDir);
  s.load(rootXsd);
  return generate(s, title);
}

export const GRAMMAR_SETS = [
  { id: 'iso2-msgdef', root: 'V2G_CI_MsgDef.xsd', title: 'ISO 15118-2:2013 MsgDef (urn:iso:15118:2:2013:MsgDef and imports)' },
  { id: 'apphand', root: 'V2G_CI_AppProtocol.xsd', title: 'SupportedAppProtocol (urn:iso:15118:2:2010:AppProtocol)' },
  { id: 'xmldsig', root: 'xmldsig-core-schema.xsd', title: 'W3C XML Signature (http://www.w3.org/2000/09/xmldsig#) alone' },
] as const;

/** One line per simple type, per element/attribute entry and per grammar state: readable diffs. */
export function formatJson(j: GrammarFileJson): string {
  const o = (v: unknown): string => JSON.stringify(v);
  const lines: string[] = ['{'];
  lines.push(`"format": ${j.format},`, `"name": ${o(j.name)},`, `"generatedFrom": ${o(j.generatedFrom)},`, `"namespaces": ${o(j.namespaces)},`);
  const simple = Object.entries(j.simpleTypes).map(([k, v]) => ` ${o(k)}: ${o(v)}`);
  lines.push('"simpleTypes": {', simple.join(',\n'), '},');
  const complex = Object.entries(j.complexTypes).map(([k, v]) => {
    const { states, fields, ...rest } = v;
    const head = Object.entries(rest).map(([a, b]) => `${o(a)}: ${o(b)}, `).join('');
    const f = fields.map((x) => `  ${o(x)}`).join(',\n');
    const st = states.map((x, i) => `  ${o(x)}${i < states.length - 1 ? ',' : ''}`).join('\n');
    return ` ${o(k)}: {${head}"fields": [\n${f}\n ],\n "states": [\n${st}\n ]}`;
  });
  lines.push('"complexTypes": {', complex.join(',\n'), '},');
  for (const key of ['document', 'fragment', 'attributes'] as const) {
    lines.push(`${o(key)}: [`, j[key].map((e) => ` ${o(e)}`).join(',\n'), key === 'attributes' ? ']' : '],');
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

function main(argv: string[]): number {
  const xsdIdx = argv.indexOf('--xsd');
  const check = argv.includes('--check');
  if (xsdIdx < 0 || !argv[xsdIdx + 1]) {
    process.stderr.write('usage: gen-grammars.ts --xsd <dir with V2G_CI_MsgDef.xsd, V2G_CI_AppProtocol.xsd, xmldsig-core-schema.xsd> [--check]\n');
    return 2;
  }
  const dir = path.resolve(argv[xsdIdx + 1]!);
  const need = (base: string): string => {
    const f = findFile(dir, base);
    if (!f) throw new SchemaError(`${base} not found under ${dir}`);
    return f;
  };
  const outDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'grammars');

  const outputs: [string, Output][] = GRAMMAR_SETS.map((g) => [g.id, generateGrammar(need(g.root), dir, g.title)]);

  let diff = 0;
  for (const [name, out] of outputs) {
    const files: [string, string][] = [
      [path.join(outDir, `${name}.json`), formatJson(out.json)],
      [path.join(outDir, `${name}-types.ts`), out.ts],
    ];
    for (const [file, text] of files) {
      if (check) {
        const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
        if (old !== text) {
          process.stderr.write(`DIFFERS: ${path.relative(process.cwd(), file)}\n`);
          diff++;
        } else process.stdout.write(`ok: ${path.relative(process.cwd(), file)}\n`);
      } else {
        writeFileSync(file, text);
        process.stdout.write(`wrote ${path.relative(process.cwd(), file)} (${text.length} bytes)\n`);
      }
    }
    const j = out.json;
    process.stdout.write(
      `  ${name}: ${Object.keys(j.complexTypes).length} complex types, ${Object.keys(j.simpleTypes).length} simple types, ` +
        `${j.document.length} global elements, ${j.fragment.length} fragment elements ` +
        `(${j.fragment.filter((f) => f[2] === null).length} relaxed), ${j.attributes.length} attributes; model sha256 ${j.generatedFrom.schemaModelSha256}\n`,
    );
  }
  return diff === 0 ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    if (e instanceof SchemaError || (e instanceof Error && e.name === 'XmlSyntaxError')) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = 2;
    } else throw e;
  }
}
