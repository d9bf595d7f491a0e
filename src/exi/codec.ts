// The schema-informed EXI interpreter: walks the grammar tables of src/exi/grammar.ts to decode a
// bit stream into plain objects (element content by local name, repeated elements as arrays,
// simple content as CONTENT, binary as Uint8Array, 64-bit/unbounded integers as bigint) and to
// encode such objects back. Documents (EXI header, DocContent SE code, element, implicit ED),
// fragments (header, SE codes over every element qname, ED) and the relaxed element-fragment
// grammar (qnames declared with different types, e.g. the ISO 15118-2 eMAID) are supported.
// Schema deviations (second-level events), wildcard content (SE(*)) and mixed text (untyped CH)
// are rejected with an ExiDecodeError: the V2G profile never produces them.
//
//   const { name, value } = decodeDocument(grammarSet('iso2-msgdef'), bytes);
//   const bytes2 = encodeDocument(grammarSet('iso2-msgdef'), 'V2G_Message', value);
import { BitReader, BitWriter, bitsFor, codePointLength } from './bits.ts';
import { BitStreamError, ExiDecodeError, ExiEncodeError } from './errors.ts';
import { EV_AT, EV_CH, EV_CH_UNTYPED, EV_EE, EV_SE, EV_SE_ANY, type RtComplex, type RtElement, type RtField, type RtGrammarSet, type RtSimple } from './grammar.ts';

/** The EXI header of the V2G profile: distinguishing bits 10, no options, final version 1. */
export const EXI_HEADER = 0x80;

export type ExiObject = Record<string, unknown>;

export interface DecodedElement {
  name: string;
  ns: string;
  value: unknown;
}

// ---------------------------------------------------------------------------------------------
// decoding
// ---------------------------------------------------------------------------------------------

class Decoder {
  readonly r: BitReader;
  /** element path for error messages */
  private readonly path: string[] = [];
  private grammar = '';
  private state = -1;

  constructor(
    bytes: Uint8Array,
    private readonly set: RtGrammarSet,
  ) {
    this.r = new BitReader(bytes);
  }

  where(): string {
    const p = this.path.join('/');
    if (!this.grammar) return p;
    return `${p || '(document)'}, grammar ${this.grammar} state ${this.state}`;
  }

  fail(reason: string, at = this.r.pos): never {
    throw new ExiDecodeError(reason, at, this.where());
  }

  /** Runs fn and turns bit-stream errors into ExiDecodeError with the grammar state. */
  guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof BitStreamError) throw new ExiDecodeError(e.message, e.bitOffset, this.where());
      if (e instanceof RangeError) throw new ExiDecodeError(`input too large or deeply nested: ${e.message}`, this.r.pos, this.where());
      throw e;
    }
  }

  header(): void {
    const r = this.r;
    // optional "$EXI" cookie
    if (r.remainingBits >= 32 && r.readBits(32, 'cookie') !== 0x24455849) r.pos = 0;
    const at = r.pos;
    const dist = r.readBits(2, 'EXI header');
    if (dist !== 2) this.fail(`not an EXI stream: header distinguishing bits are ${dist.toString(2).padStart(2, '0')}, expected 10 (first byte 0x80)`, at);
    if (r.readBits(1, 'EXI header') !== 0) this.fail('EXI options in the header are not supported (the V2G profile sends none)', at);
    const version = r.readBits(5, 'EXI header');
    if (version !== 0) this.fail(`unsupported EXI version bits ${version.toString(2).padStart(5, '0')} (expected final version 1)`, at);
  }

  /** Checks that nothing but padding follows. */
  end(): void {
    const used = (this.r.pos + 7) >>> 3;
    const total = this.r.end >>> 3;
    if (used < total) this.fail(`${total - used} trailing byte(s) after the end of the EXI stream`, used * 8);
  }

  element(el: RtElement): unknown {
    this.path.push(el.name);
    let v: unknown;
    if (el.complex) v = this.complex(el.complex);
    else if (el.simple) v = this.simpleElement(el.simple, el.name);
    else v = this.relaxed();
    this.path.pop();
    return v;
  }

  complex(g: RtComplex): ExiObject {
    const obj: ExiObject = {};
    const r = this.r;
    let s = 0;
    const saveG = this.grammar;
    const saveS = this.state;
    for (;;) {
      this.grammar = g.name;
      this.state = s;
      const st = g.states[s]!;
      const at = r.pos;
      const code = r.readBits(st.bits, 'event code');
      if (code >= st.prods.length) {
        this.fail(
          code === st.prods.length
            ? 'second-level event (schema deviation) is not supported by the V2G profile codec'
            : `event code ${code} is not a production of this state (${st.prods.length} productions)`,
          at,
        );
      }
      const p = st.prods[code]!;
      switch (p.ev) {
        case EV_EE:
          this.grammar = saveG;
          this.state = saveS;
          return obj;
        case EV_AT: {
          const f = p.field!;
          obj[f.name] = this.simple(f.simple!, f.name);
          break;
        }
        case EV_CH: {
          const f = p.field!;
          obj[f.name] = this.simple(f.simple!, 'content');
          break;
        }
        case EV_SE: {
          const f = p.field!;
          this.path.push(f.name);
          const v = f.complex ? this.complex(f.complex) : this.simpleElement(f.simple!, f.name);
          this.path.pop();
          if (f.array) {
            const arr = obj[f.name] as unknown[] | undefined;
            if (arr) arr.push(v);
            else obj[f.name] = [v];
          } else obj[f.name] = v;
          this.grammar = g.name;
          break;
        }
        case EV_SE_ANY:
          this.fail('wildcard element content (SE(*)) is not supported: it needs schema-less grammars', at);
          break;
        case EV_CH_UNTYPED:
          this.fail('text in mixed content (untyped CH) is not supported', at);
          break;
      }
      s = p.next;
    }
  }

  /** Element of simple type: CH (1 bit), value, EE (1 bit). */
  simpleElement(t: RtSimple, name: string): unknown {
    const r = this.r;
    const saveG = this.grammar;
    const saveS = this.state;
    this.grammar = t.name;
    this.state = 0;
    let at = r.pos;
    if (r.readBits(1, 'event code') !== 0) this.fail('second-level event (schema deviation) is not supported by the V2G profile codec', at);
    const v = this.simple(t, name);
    this.state = 1;
    at = r.pos;
    if (r.readBits(1, 'event code') !== 0) this.fail('second-level event (schema deviation) is not supported by the V2G profile codec', at);
    this.grammar = saveG;
    this.state = saveS;
    return v;
  }

  simple(t: RtSimple, what: string): unknown {
    const r = this.r;
    const d = t.def;
    const at = r.pos;
    switch (d.k) {
      case 'string': {
        const s = r.readString(what);
        if (d.minLength !== undefined || d.maxLength !== undefined) {
          const n = codePointLength(s);
          if ((d.minLength !== undefined && n < d.minLength) || (d.maxLength !== undefined && n > d.maxLength)) {
            this.fail(`${what}: string of ${n} characters violates the length facets of ${t.name} (${d.minLength ?? 0}..${d.maxLength ?? '∞'})`, at);
          }
        }
        return s;
      }
      case 'binary': {
        const b = r.readBinary(what);
        if ((d.minLength !== undefined && b.length < d.minLength) || (d.maxLength !== undefined && b.length > d.maxLength)) {
          this.fail(`${what}: ${b.length} bytes violate the length facets of ${t.name} (${d.minLength ?? 0}..${d.maxLength ?? '∞'})`, at);
        }
        return b;
      }
      case 'boolean':
        return r.readBits(1, what) === 1;
      case 'enum': {
        const i = r.readBits(t.bits, what);
        const v = d.values[i];
        if (v === undefined) this.fail(`${what}: enumeration index ${i} out of range for ${t.name} (${d.values.length} values)`, at);
        return v;
      }
      case 'nbit': {
        const v = r.readBits(t.bits, what) + d.min;
        if (v > d.max) this.fail(`${what}: ${v} is above the maximum ${d.max} of ${t.name}`, at);
        return v;
      }
      case 'uint': {
        if (d.big) {
          const v = r.readUintBig(what);
          if (t.maxBig !== undefined && v > t.maxBig) this.fail(`${what}: ${v} is above the maximum ${t.maxBig} of ${t.name}`, at);
          if (t.minBig !== undefined && v < t.minBig) this.fail(`${what}: ${v} is below the minimum ${t.minBig} of ${t.name}`, at);
          return v;
        }
        const v = r.readUint(what);
        if (t.maxBig !== undefined && v > Number(t.maxBig)) this.fail(`${what}: ${v} is above the maximum ${t.maxBig} of ${t.name}`, at);
        if (t.minBig !== undefined && v < Number(t.minBig)) this.fail(`${what}: ${v} is below the minimum ${t.minBig} of ${t.name}`, at);
        return v;
      }
      case 'int': {
        if (d.big) {
          const v = r.readIntBig(what);
          if ((t.maxBig !== undefined && v > t.maxBig) || (t.minBig !== undefined && v < t.minBig)) this.fail(`${what}: ${v} is outside the range of ${t.name}`, at);
          return v;
        }
        const v = r.readInt(what);
        if ((t.maxBig !== undefined && v > Number(t.maxBig)) || (t.minBig !== undefined && v < Number(t.minBig))) this.fail(`${what}: ${v} is outside the range of ${t.name}`, at);
        return v;
      }
    }
  }

  /**
   * Relaxed schema-informed element-fragment grammar (EXI 1.0 §8.5.3): attributes and text only;
   * nested elements are not supported (none of the ISO 15118-2 cases has them). Attributes are
   * keyed by local name; the encoder takes their namespace from the element's declared types.
   */
  relaxed(): ExiObject {
    const s = this.set;
    const m = s.attributes.length;
    const n = s.fragment.length;
    const startBits = bitsFor(m + n + 4);
    const contentBits = bitsFor(n + 3);
    const obj: ExiObject = {};
    const r = this.r;
    const saveG = this.grammar;
    const saveS = this.state;
    this.grammar = 'ElementFragment';
    this.state = 0;
    let inContent = false;
    for (;;) {
      const at = r.pos;
      if (!inContent) {
        const code = r.readBits(startBits, 'event code');
        if (code < m) {
          const a = s.attributes[code]!;
          if (obj[a.name] !== undefined) this.fail(`attribute ${a.name} given twice`, at);
          obj[a.name] = a.simple ? this.simple(a.simple, a.name) : r.readString(a.name);
          continue;
        }
        if (code === m + n + 2) break; // EE
        if (code === m + n + 3) {
          obj.CONTENT = r.readString('content');
          inContent = true;
          this.state = 1;
          continue;
        }
        if (code >= m + n + 4) this.fail(`event code ${code} is not a production of this state`, at);
        this.fail('nested elements in the relaxed element-fragment grammar are not supported', at);
      } else {
        const code = r.readBits(contentBits, 'event code');
        if (code === n + 1) break; // EE
        if (code === n + 2) {
          obj.CONTENT = String(obj.CONTENT ?? '') + r.readString('content');
          continue;
        }
        if (code > n + 2) this.fail(`event code ${code} is not a production of this state`, at);
        this.fail('nested elements in the relaxed element-fragment grammar are not supported', at);
      }
    }
    this.grammar = saveG;
    this.state = saveS;
    return obj;
  }
}

/** Decodes an EXI document whose root is any global element of `set`. */
export function decodeDocument(set: RtGrammarSet, bytes: Uint8Array): DecodedElement {
  const d = new Decoder(bytes, set);
  return d.guard(() => {
    d.header();
    const at = d.r.pos;
    const code = d.r.readBits(set.documentBits, 'document event code');
    const el = set.document[code] ?? d.fail(code === set.document.length ? 'SE(*) document root (schema deviation) is not supported' : `document event code ${code} out of range`, at);
    const value = d.element(el);
    d.end();
    return { name: el.name, ns: el.ns, value };
  });
}

/** Decodes an EXI fragment (one or more elements, then ED). */
export function decodeFragment(set: RtGrammarSet, bytes: Uint8Array): DecodedElement[] {
  const d = new Decoder(bytes, set);
  return d.guard(() => {
    d.header();
    const out: DecodedElement[] = [];
    for (;;) {
      const at = d.r.pos;
      const code = d.r.readBits(set.fragmentBits, 'fragment event code');
      if (code === set.fragment.length + 1) break; // ED
      const el = set.fragment[code] ?? d.fail(code === set.fragment.length ? 'SE(*) in a fragment (schema deviation) is not supported' : `fragment event code ${code} out of range`, at);
      out.push({ name: el.name, ns: el.ns, value: d.element(el) });
    }
    if (out.length === 0) d.fail('empty fragment');
    d.end();
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// encoding
// ---------------------------------------------------------------------------------------------

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'a Uint8Array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}`;
}

class Encoder {
  readonly w: BitWriter;
  /** property path of the value being written (names, array indexes as `[i]`), for errors */
  private stack: string[] = [];

  constructor(w: BitWriter = new BitWriter(1024)) {
    this.w = w;
  }

  path(): string {
    return this.stack.join('.').replace(/\.\[/g, '[');
  }

  complex(g: RtComplex, obj: unknown): void {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj) || obj instanceof Uint8Array) {
      throw new ExiEncodeError(this.path(), `expected an object of ${g.name}, got ${describe(obj)}`);
    }
    const o = obj as ExiObject;
    // how many values the object holds: EE is allowed once all are written
    let remaining = 0;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      const f = g.fieldByName.get(k);
      if (!f) throw new ExiEncodeError(`${this.path()}.${k}`, `unknown property for ${g.name} (allowed: ${[...g.fieldByName.keys()].join(', ') || 'none'})`);
      if (f.array) {
        if (!Array.isArray(v)) throw new ExiEncodeError(`${this.path()}.${k}`, `expected an array, got ${describe(v)}`);
        remaining += v.length;
      } else remaining++;
    }
    const used = new Int32Array(g.fields.length);
    const w = this.w;
    let s = 0;
    for (;;) {
      const st = g.states[s]!;
      const prods = st.prods;
      let chosen = -1;
      for (let i = 0; i < prods.length; i++) {
        const p = prods[i]!;
        const ev = p.ev;
        if (ev === EV_EE) {
          if (remaining === 0) {
            chosen = i;
            break;
          }
        } else if (ev === EV_SE || ev === EV_AT || ev === EV_CH) {
          const f = p.field!;
          const v = o[f.name];
          if (v === undefined) continue;
          if (f.array ? used[f.index]! < (v as unknown[]).length : used[f.index] === 0) {
            chosen = i;
            break;
          }
        }
      }
      if (chosen < 0) throw new ExiEncodeError(this.path(), unplaceable(g, s, o, used));
      w.writeBits(st.bits, chosen);
      const p = prods[chosen]!;
      if (p.ev === EV_EE) return;
      const f = p.field!;
      const raw = o[f.name];
      const k = used[f.index]!;
      const v = f.array ? (raw as unknown[])[k] : raw;
      used[f.index] = k + 1;
      remaining--;
      this.stack.push(f.name);
      if (f.array) this.stack.push(`[${k}]`);
      if (p.ev === EV_SE) {
        if (f.complex) this.complex(f.complex, v);
        else this.simpleElement(f.simple!, v);
      } else this.simple(f.simple!, v, '');
      if (f.array) this.stack.pop();
      this.stack.pop();
      s = p.next;
    }
  }

  simpleElement(t: RtSimple, v: unknown): void {
    this.w.writeBits(1, 0); // CH
    this.simple(t, v, '');
    this.w.writeBits(1, 0); // EE
  }

  /** Writes a typed value; `path` names it for errors ('' = the current property path). */
  simple(t: RtSimple, v: unknown, path: string): void {
    const d = t.def;
    const w = this.w;

    switch (d.k) {
      case 'string': {
        if (typeof v !== 'string') return this.bad(t, path, `expected a string, got ${describe(v)}`);
        if (d.minLength !== undefined || d.maxLength !== undefined) {
          const n = codePointLength(v);
          if ((d.minLength !== undefined && n < d.minLength) || (d.maxLength !== undefined && n > d.maxLength)) this.bad(t, path, `string of ${n} characters outside ${d.minLength ?? 0}..${d.maxLength ?? '∞'}`);
        }
        if (LONE_SURROGATE.test(v)) this.bad(t, path, 'lone surrogate in string');
        w.writeString(v);
        return;
      }
      case 'binary': {
        if (!(v instanceof Uint8Array)) return this.bad(t, path, `expected a Uint8Array, got ${describe(v)}`);
        if ((d.minLength !== undefined && v.length < d.minLength) || (d.maxLength !== undefined && v.length > d.maxLength)) this.bad(t, path, `${v.length} bytes outside ${d.minLength ?? 0}..${d.maxLength ?? '∞'}`);
        w.writeBinary(v);
        return;
      }
      case 'boolean':
        if (typeof v !== 'boolean') this.bad(t, path, `expected a boolean, got ${describe(v)}`);
        w.writeBits(1, v ? 1 : 0);
        return;
      case 'enum': {
        const i = typeof v === 'string' ? t.index!.get(v) : undefined;
        if (i === undefined) return this.bad(t, path, `expected one of ${d.values.join(', ')}, got ${describe(v)}`);
        w.writeBits(t.bits, i);
        return;
      }
      case 'nbit': {
        if (typeof v !== 'number' || !Number.isInteger(v)) {
          if (typeof v !== 'bigint') return this.bad(t, path, `expected an integer, got ${describe(v)}`);
        }
        const n = Number(v);
        if (n < d.min || n > d.max) this.bad(t, path, `${n} outside ${d.min}..${d.max}`);
        w.writeBits(t.bits, n - d.min);
        return;
      }
      case 'uint':
      case 'int': {
        // fast path: a safe-integer number inside the type's range
        if (typeof v === 'number' && Number.isSafeInteger(v) && !d.big) {
          if ((t.minNum !== undefined && v < t.minNum) || (t.maxNum !== undefined && v > t.maxNum)) this.bad(t, path, `${v} outside ${t.minBig ?? '-∞'}..${t.maxBig ?? '∞'}`);
          if (d.k === 'uint') w.writeUint(v);
          else w.writeInt(v);
          return;
        }
        const n = this.toInt(v, t, path);
        if ((t.minBig !== undefined && n < t.minBig) || (t.maxBig !== undefined && n > t.maxBig)) this.bad(t, path, `${n} outside ${t.minBig ?? '-∞'}..${t.maxBig ?? '∞'}`);
        if (d.k === 'uint') {
          if (n < 0n) this.bad(t, path, `${n} is negative`);
          if (n <= MAX_SAFE_BIG) w.writeUint(Number(n));
          else w.writeUintBig(n);
        } else if (n <= MAX_SAFE_BIG && n >= -MAX_SAFE_BIG) w.writeInt(Number(n));
        else w.writeIntBig(n);
        return;
      }
    }
  }

  private bad(t: RtSimple, path: string, why: string): never {
    throw new ExiEncodeError(path || this.path(), `${why} (${t.name})`);
  }

  private toInt(v: unknown, t: RtSimple, path: string): bigint {
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
    return this.bad(t, path, `expected an integer, got ${describe(v)}`);
  }

  relaxed(set: RtGrammarSet, el: RtElement, v: unknown, path: string): void {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) throw new ExiEncodeError(path, `expected an object with attributes and CONTENT, got ${describe(v)}`);
    const o = v as ExiObject;
    const m = set.attributes.length;
    const n = set.fragment.length;
    const startBits = bitsFor(m + n + 4);
    const contentBits = bitsFor(n + 3);
    // attribute namespaces come from the declared complex types of this element
    const attrs: { code: number; value: unknown; simple: RtSimple | undefined; name: string }[] = [];
    for (const [k, val] of Object.entries(o)) {
      if (k === 'CONTENT' || val === undefined) continue;
      let ns: string | undefined;
      for (const t of el.relaxed ?? []) {
        if ('fields' in t) {
          const f = t.fields.find((x) => x.kind === 'a' && x.name === k);
          if (f) ns = f.ns;
        }
      }
      const a = set.attributes.find((x) => x.name === k && (ns === undefined || x.ns === ns));
      if (!a) throw new ExiEncodeError(`${path}.${k}`, `no attribute ${k} in the schema`);
      attrs.push({ code: a.code, value: val, simple: a.simple, name: k });
    }
    attrs.sort((a, b) => a.code - b.code);
    for (const a of attrs) {
      this.w.writeBits(startBits, a.code);
      if (a.simple) this.simple(a.simple, a.value, `${path}.${a.name}`);
      else if (typeof a.value === 'string') this.w.writeString(a.value);
      else throw new ExiEncodeError(`${path}.${a.name}`, `expected a string, got ${describe(a.value)}`);
    }
    const content = o.CONTENT;
    if (content === undefined) {
      this.w.writeBits(startBits, m + n + 2); // EE
      return;
    }
    if (typeof content !== 'string') throw new ExiEncodeError(`${path}.CONTENT`, `expected a string (untyped text), got ${describe(content)}`);
    this.w.writeBits(startBits, m + n + 3); // CH
    this.w.writeString(content);
    this.w.writeBits(contentBits, n + 1); // EE
  }

  element(set: RtGrammarSet, el: RtElement, value: unknown, root: string): void {
    this.stack = [root];
    if (el.complex) this.complex(el.complex, value);
    else if (el.simple) this.simpleElement(el.simple, value);
    else this.relaxed(set, el, value, this.path());
  }
}

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;



function unplaceable(g: RtComplex, s: number, o: ExiObject, used: Int32Array): string {
  const st = g.states[s]!;
  const expected = st.prods
    .map((p) => (p.ev === EV_EE ? 'end of element' : p.ev === EV_SE_ANY || p.ev === EV_CH_UNTYPED ? '' : (p.field as RtField).name))
    .filter((x) => x !== '');
  const left = g.fields
    .filter((f) => {
      const v = o[f.name];
      return v !== undefined && (f.array ? used[f.index]! < (Array.isArray(v) ? v.length : 0) : used[f.index] === 0);
    })
    .map((f) => f.name);
  return `cannot encode ${g.name}: expected ${expected.join(' or ')}${left.length ? `; properties left that cannot go here: ${left.join(', ')}` : '; nothing left to write (a required property is missing)'}`;
}

/** Encodes an EXI document with root element `name` (a global element of `set`). */
export function encodeDocument(set: RtGrammarSet, name: string, value: unknown): Uint8Array {
  const el = set.documentByName.get(name);
  if (!el) throw new ExiEncodeError(name, `not a global element of ${set.name}`);
  const e = new Encoder();
  e.w.writeBits(8, EXI_HEADER);
  e.w.writeBits(set.documentBits, el.code);
  e.element(set, el, value, name);
  // DocEnd: ED has no code (single production)
  return e.w.finish();
}

/** Encodes an EXI fragment holding `items` (element name: local name if unique, else `{ns}local`). */
export function encodeFragment(set: RtGrammarSet, items: readonly { name: string; value: unknown }[]): Uint8Array {
  const e = new Encoder();
  e.w.writeBits(8, EXI_HEADER);
  for (const it of items) {
    const el = set.fragmentByName.get(it.name);
    if (!el) throw new ExiEncodeError(it.name, `not an element of ${set.name}`);
    e.w.writeBits(set.fragmentBits, el.code);
    e.element(set, el, it.value, it.name);
  }
  e.w.writeBits(set.fragmentBits, set.fragment.length + 1); // ED
  return e.w.finish();
}
