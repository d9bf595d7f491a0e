// Minimal namespace-aware XML reader for the grammar generator (src/exi/tools/gen-grammars.ts).
// It reads XML Schema files only: elements, attributes, comments, processing instructions, a
// DOCTYPE with an internal subset (skipped) and the five predefined entities plus numeric
// character references. Text content is kept but the generator ignores it. Not used at run time.
//
//   const root = parseXml(readFileSync('V2G_CI_MsgDataTypes.xsd', 'utf8'), 'V2G_CI_MsgDataTypes.xsd');
//   root.ns === 'http://www.w3.org/2001/XMLSchema' && root.local === 'schema'

export interface XmlElement {
  /** namespace URI of the element ('' when none) */
  ns: string;
  /** local name */
  local: string;
  /** attributes by their name as written (prefix included), namespace declarations excluded */
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
  /** in-scope namespace declarations: prefix ('' = default) → URI */
  scope: ReadonlyMap<string, string>;
  /** 1-based line of the start tag, for error messages */
  line: number;
}

export class XmlSyntaxError extends Error {
  override readonly name = 'XmlSyntaxError';
}

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(s: string, where: () => string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z_][\w.-]*);/g, (_m, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    const v = PREDEFINED[ref];
    if (v === undefined) throw new XmlSyntaxError(`${where()}: unknown entity &${ref};`);
    return v;
  });
}

/** Parses a whole document and returns its root element. */
export function parseXml(src: string, file = '<xml>'): XmlElement {
  let i = 0;
  const lineAt = (pos: number): number => {
    let n = 1;
    for (let k = 0; k < pos && k < src.length; k++) if (src.charCodeAt(k) === 10) n++;
    return n;
  };
  const where = (): string => `${file}:${lineAt(i)}`;
  const fail = (msg: string): never => {
    throw new XmlSyntaxError(`${where()}: ${msg}`);
  };

  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  if (src.charCodeAt(0) === 0xfeff) i = 1;

  while (i < src.length) {
    const lt = src.indexOf('<', i);
    if (lt < 0) {
      if (src.slice(i).trim() !== '' && stack.length === 0) fail('text after the root element');
      if (stack.length > 0) stack[stack.length - 1]!.text += decodeEntities(src.slice(i), where);
      i = src.length;
      break;
    }
    if (lt > i && stack.length > 0) stack[stack.length - 1]!.text += decodeEntities(src.slice(i, lt), where);
    i = lt;
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
    } else if (src.startsWith('<?', i)) {
      const end = src.indexOf('?>', i + 2);
      if (end < 0) fail('unterminated processing instruction');
      i = end + 2;
    } else if (src.startsWith('<![CDATA[', i)) {
      const end = src.indexOf(']]>', i + 9);
      if (end < 0) fail('unterminated CDATA section');
      if (stack.length > 0) stack[stack.length - 1]!.text += src.slice(i + 9, end);
      i = end + 3;
    } else if (src.startsWith('<!DOCTYPE', i)) {
      // skip to the matching '>' outside the internal subset
      let depth = 0;
      let k = i + 9;
      for (; k < src.length; k++) {
        const c = src[k];
        if (c === '[') depth++;
        else if (c === ']') depth--;
        else if (c === '>' && depth === 0) break;
      }
      if (k >= src.length) fail('unterminated DOCTYPE');
      i = k + 1;
    } else if (src.startsWith('</', i)) {
      const end = src.indexOf('>', i);
      if (end < 0) fail('unterminated end tag');
      const qname = src.slice(i + 2, end).trim();
      const open = stack.pop();
      if (!open) fail(`unexpected end tag </${qname}>`);
      const colon = qname.indexOf(':');
      const local = colon >= 0 ? qname.slice(colon + 1) : qname;
      if (local !== open!.local) fail(`end tag </${qname}> does not match <${open!.local}>`);
      i = end + 1;
    } else {
      // start tag
      const m = /^<([A-Za-z_][\w.:-]*)/.exec(src.slice(i, i + 200));
      if (!m) fail('malformed start tag');
      const qname = m![1]!;
      const line = lineAt(i);
      let k = i + m![0].length;
      const rawAttrs: [string, string][] = [];
      let selfClose = false;
      for (;;) {
        while (k < src.length && /\s/.test(src[k]!)) k++;
        if (src.startsWith('/>', k)) {
          selfClose = true;
          k += 2;
          break;
        }
        if (src[k] === '>') {
          k += 1;
          break;
        }
        const am = /^([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/.exec(src.slice(k, k + 4096));
        if (!am) {
          i = k;
          fail(`malformed attribute in <${qname}>`);
        }
        rawAttrs.push([am![1]!, decodeEntities(am![3] ?? am![4] ?? '', where)]);
        k += am![0].length;
      }
      const parentScope = stack.length > 0 ? stack[stack.length - 1]!.scope : new Map<string, string>([['xml', 'http://www.w3.org/XML/1998/namespace']]);
      let scope = parentScope;
      const attrs: Record<string, string> = {};
      for (const [name, value] of rawAttrs) {
        if (name === 'xmlns' || name.startsWith('xmlns:')) {
          if (scope === parentScope) scope = new Map(parentScope);
          (scope as Map<string, string>).set(name === 'xmlns' ? '' : name.slice(6), value);
        } else {
          attrs[name] = value;
        }
      }
      const colon = qname.indexOf(':');
      const prefix = colon >= 0 ? qname.slice(0, colon) : '';
      const ns = scope.get(prefix);
      if (prefix !== '' && ns === undefined) fail(`undeclared prefix '${prefix}' in <${qname}>`);
      const el: XmlElement = { ns: ns ?? '', local: colon >= 0 ? qname.slice(colon + 1) : qname, attrs, children: [], text: '', scope, line };
      if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
      else if (root) fail('more than one root element');
      else root = el;
      if (!selfClose) stack.push(el);
      i = k;
    }
  }
  if (stack.length > 0) throw new XmlSyntaxError(`${file}: unclosed element <${stack[stack.length - 1]!.local}>`);
  if (!root) throw new XmlSyntaxError(`${file}: no root element`);
  return root;
}

/** Resolves a QName-valued attribute (`v2gci_t:sessionIDType`) against the element's scope. */
export function resolveQName(el: XmlElement, value: string): { ns: string; local: string } {
  const colon = value.indexOf(':');
  const prefix = colon >= 0 ? value.slice(0, colon) : '';
  const ns = el.scope.get(prefix);
  if (ns === undefined && prefix !== '') throw new XmlSyntaxError(`line ${el.line}: undeclared prefix '${prefix}' in '${value}'`);
  return { ns: ns ?? '', local: colon >= 0 ? value.slice(colon + 1) : value };
}
