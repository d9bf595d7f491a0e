// The grammar generator (src/exi/tools/gen-grammars.ts) reproduces the committed tables. The
// xmldsig schema is in ../shared/schemas (W3C licence), so that set is regenerated on every run;
// the ISO schemas are not redistributable: with EXI_XSD_DIR pointing at a local copy (see
// src/exi/GRAMMARS.md) all three sets are regenerated and compared.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatJson, generateGrammar, GRAMMAR_SETS } from '../../src/exi/tools/gen-grammars.ts';
import { parseXml, XmlSyntaxError } from '../../src/exi/tools/xml.ts';
import { ROOT } from './helpers/vectors.ts';

const committed = (file: string): string => readFileSync(path.join(ROOT, 'src/exi/grammars', file), 'utf8');
const SHARED_SCHEMAS = path.resolve(ROOT, '../shared/schemas/iso15118-2');
const XSD_DIR = process.env.EXI_XSD_DIR;

describe('grammar generator', () => {
  it('regenerates the xmldsig tables and types byte for byte from ../shared/schemas', () => {
    const set = GRAMMAR_SETS.find((g) => g.id === 'xmldsig')!;
    const out = generateGrammar(path.join(SHARED_SCHEMAS, set.root), SHARED_SCHEMAS, set.title);
    expect(formatJson(out.json)).toBe(committed('xmldsig.json'));
    expect(out.ts).toBe(committed('xmldsig-types.ts'));
  });

  it.skipIf(!XSD_DIR || !existsSync(XSD_DIR))('regenerates all committed tables from the XSDs in EXI_XSD_DIR', () => {
    for (const g of GRAMMAR_SETS) {
      const find = (dir: string): string | undefined => {
        const direct = path.join(dir, g.root);
        if (existsSync(direct)) return direct;
        for (const sub of ['iso15118_2', 'iso15118-2']) if (existsSync(path.join(dir, sub, g.root))) return path.join(dir, sub, g.root);
        return undefined;
      };
      const root = find(XSD_DIR!);
      expect(root, g.root).toBeDefined();
      const out = generateGrammar(root!, XSD_DIR!, g.title);
      expect(formatJson(out.json)).toBe(committed(`${g.id}.json`));
      expect(out.ts).toBe(committed(`${g.id}-types.ts`));
    }
  });

  it('the XML reader resolves namespaces and reports syntax errors with a line', () => {
    const el = parseXml('<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY x "y">]>\n<a xmlns="urn:a" xmlns:b="urn:b"><b:c d="&amp;&#65;"/><!-- c --></a>');
    expect(el.ns).toBe('urn:a');
    expect(el.children[0]!.ns).toBe('urn:b');
    expect(el.children[0]!.attrs.d).toBe('&A');
    expect(() => parseXml('<a>\n<b></a>', 'f.xsd')).toThrow(XmlSyntaxError);
    expect(() => parseXml('<a>\n<b></a>', 'f.xsd')).toThrow(/f\.xsd:2/);
    expect(() => parseXml('<x:a/>')).toThrow(/undeclared prefix/);
  });
});
