// The checked-in grammar tables (src/exi/grammars/*.json): integrity (the recorded model hash
// matches the content, so a hand edit is caught), the event codes the reference names
// (exi-and-pki.md §1.2), and internal consistency (SignedInfoType is the same grammar in the
// MsgDef set and in the xmldsig-only set; every state is reachable and well formed).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GrammarFileJson } from '../../src/exi/grammar-format.ts';
import { grammarSet, linkGrammarSet, type GrammarId } from '../../src/exi/grammar.ts';
import { ROOT } from './helpers/vectors.ts';

const file = (id: GrammarId): GrammarFileJson => JSON.parse(readFileSync(path.join(ROOT, 'src/exi/grammars', `${id}.json`), 'utf8')) as GrammarFileJson;

describe('grammar tables', () => {
  for (const id of ['iso2-msgdef', 'apphand', 'xmldsig'] as const) {
    it(`${id}: the recorded schema-model hash matches the tables`, () => {
      const j = file(id);
      const model = JSON.stringify({ namespaces: j.namespaces, simpleTypes: j.simpleTypes, complexTypes: j.complexTypes, document: j.document, fragment: j.fragment, attributes: j.attributes });
      expect(createHash('sha256').update(model).digest('hex')).toBe(j.generatedFrom.schemaModelSha256);
    });

    it(`${id}: every state is reachable from state 0 and every production is well formed`, () => {
      const g = grammarSet(id);
      for (const c of g.complex.values()) {
        const seen = new Set([0]);
        const queue = [0];
        while (queue.length) {
          for (const p of c.states[queue.shift()!]!.prods) {
            if (p.next >= 0 && !seen.has(p.next)) {
              seen.add(p.next);
              queue.push(p.next);
            }
          }
        }
        expect(seen.size, c.name).toBe(c.states.length);
        // each state can end the element eventually or has productions; none is empty
        for (const st of c.states) expect(st.prods.length, c.name).toBeGreaterThan(0);
      }
    });
  }

  it('a corrupt table is rejected when linked', () => {
    const j = file('apphand');
    const broken = structuredClone(j);
    broken.complexTypes.AppProtocolType!.states[0] = [['SE', 9, 1]];
    expect(() => linkGrammarSet('broken', broken)).toThrow(/field 9 out of range/);
    const broken2 = structuredClone(j);
    broken2.document[0]![2] = 'NoSuchType';
    expect(() => linkGrammarSet('broken', broken2)).toThrow(/unknown type NoSuchType/);
  });

  it('MsgDef document grammar: V2G_Message is SE code 76 of 7 bits', () => {
    const g = grammarSet('iso2-msgdef');
    expect(g.documentBits).toBe(7);
    expect(g.documentByName.get('V2G_Message')!.code).toBe(76);
  });

  it('MsgDef fragment grammar: 243 qnames, 8-bit codes, the codes of the signed elements', () => {
    const g = grammarSet('iso2-msgdef');
    expect(g.fragment.length).toBe(243);
    expect(g.fragmentBits).toBe(8);
    const code = (n: string): number => g.fragmentByName.get(n)!.code;
    expect({
      AuthorizationReq: code('AuthorizationReq'),
      CertificateInstallationReq: code('CertificateInstallationReq'),
      CertificateUpdateReq: code('CertificateUpdateReq'),
      ContractSignatureCertChain: code('ContractSignatureCertChain'),
      ContractSignatureEncryptedPrivateKey: code('ContractSignatureEncryptedPrivateKey'),
      DHpublickey: code('DHpublickey'),
      MeteringReceiptReq: code('MeteringReceiptReq'),
      SalesTariff: code('SalesTariff'),
      SignedInfo: code('SignedInfo'),
      eMAID: code('eMAID'),
    }).toEqual({
      AuthorizationReq: 4,
      CertificateInstallationReq: 15,
      CertificateUpdateReq: 17,
      ContractSignatureCertChain: 33,
      ContractSignatureEncryptedPrivateKey: 34,
      DHpublickey: 45,
      MeteringReceiptReq: 121,
      SalesTariff: 174,
      SignedInfo: 208,
      eMAID: 236,
    });
  });

  it('the eMAID is the only qname with the relaxed element-fragment grammar; 10 attribute qnames', () => {
    const g = grammarSet('iso2-msgdef');
    expect(g.fragment.filter((e) => e.relaxed).map((e) => e.name)).toEqual(['eMAID']);
    expect(g.attributes.map((a) => (a.ns ? `{${a.ns.split(':').pop()}}${a.name}` : a.name))).toEqual([
      'Algorithm',
      'Encoding',
      'Id',
      '{MsgBody}Id',
      '{MsgDataTypes}Id',
      'MimeType',
      '{MsgDataTypes}Name',
      'Target',
      'Type',
      'URI',
    ]);
    expect(g.attributes.find((a) => a.name === 'Id' && a.ns.endsWith('MsgDataTypes'))!.code).toBe(4);
  });

  it('xmldsig-only fragment grammar: 45 qnames, 6-bit codes, SignedInfo = 32', () => {
    const g = grammarSet('xmldsig');
    expect(g.fragment.length).toBe(45);
    expect(g.fragmentBits).toBe(6);
    expect(g.fragmentByName.get('SignedInfo')!.code).toBe(32);
  });

  it('AppProtocol document grammar: 2-bit codes, Req = 0, Res = 1', () => {
    const g = grammarSet('apphand');
    expect(g.documentBits).toBe(2);
    expect(g.document.map((e) => [e.name, e.code])).toEqual([
      ['supportedAppProtocolReq', 0],
      ['supportedAppProtocolRes', 1],
    ]);
  });

  it('the Body substitution group: 35 members sorted by name with the abstract head kept, 6-bit codes', () => {
    const body = grammarSet('iso2-msgdef').complex.get('BodyType')!;
    const s0 = body.states[0]!;
    expect(s0.bits).toBe(6);
    const names = s0.prods.map((p) => p.field?.name ?? 'EE');
    expect(names.length).toBe(36);
    expect(names.indexOf('BodyElement')).toBe(2);
    expect(names.indexOf('SessionSetupReq')).toBe(29);
    expect(names.indexOf('WeldingDetectionRes')).toBe(34);
    expect(names[35]).toBe('EE');
  });

  it('SignedInfoType and everything under it are the same grammar in both grammar sets', () => {
    const a = file('iso2-msgdef').complexTypes;
    const b = file('xmldsig').complexTypes;
    for (const t of ['SignedInfoType', 'ReferenceType', 'TransformsType', 'TransformType', 'CanonicalizationMethodType', 'SignatureMethodType', 'DigestMethodType']) {
      expect(a[t]!.states, t).toEqual(b[t]!.states);
      expect(a[t]!.fields.map((f) => [f.kind, f.name, f.type, f.array]), t).toEqual(b[t]!.fields.map((f) => [f.kind, f.name, f.type, f.array]));
    }
  });

  it('array limits follow the schema (ListOfRootCertificateIDs: 20, not libcbv2g\'s 5)', () => {
    const g = grammarSet('iso2-msgdef').complex.get('ListOfRootCertificateIDsType')!;
    expect(g.states.length).toBe(21); // 20 occurrences + the state after the 20th
    expect(g.states[20]!.prods.map((p) => p.ev)).toEqual([3]); // only EE
  });
});
