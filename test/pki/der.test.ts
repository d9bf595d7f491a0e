// The strict DER codec (src/pki/der.ts) against independent parsers: @peculiar/x509 and
// @peculiar/asn1-ocsp (asn1js) and openssl; plus robustness on mutated input.
import fc from 'fast-check';
import { AsnConvert } from '@peculiar/asn1-schema';
import { OCSPResponse, BasicOCSPResponse, OCSPRequest } from '@peculiar/asn1-ocsp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { children, DerError, readRoot, readTlv, seq, TAG, derUnsignedInteger, derOid, decodeOid } from '../../src/pki/der.ts';
import { x509 } from '../helpers/peculiar.ts';
import { parseName } from '../../src/pki/x509.ts';
import {
  buildOcspRequest,
  generatePki,
  negativeMaterial,
  NEGATIVE_KINDS,
  OcspResponder,
  parseOcspRequest,
  parseOcspResponse,
  PkiCert,
  PkiInputError,
  type BenchPki,
} from '../../src/pki/index.ts';
import { OpenSsl } from './openssl.ts';

let pki: BenchPki;
let ossl: OpenSsl;
beforeAll(() => {
  pki = generatePki({ seed: 'der-test', notBefore: new Date('2026-01-01T00:00:00Z'), ocspUrl: 'http://127.0.0.1:18585/ocsp' });
  ossl = new OpenSsl();
});
afterAll(() => ossl.cleanup());

const KU_FLAGS: Record<string, number> = { digitalSignature: 1, nonRepudiation: 2, keyEncipherment: 4, dataEncipherment: 8, keyAgreement: 16, keyCertSign: 32, crlSign: 64, encipherOnly: 128, decipherOnly: 256 };

async function compareWithPeculiar(c: PkiCert, issuer: PkiCert | undefined): Promise<void> {
  const p = new x509.X509Certificate(c.der);
  expect(p.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(c.serialHex);
  expect(p.notBefore.getTime()).toBe(c.notBefore.getTime());
  expect(p.notAfter.getTime()).toBe(c.notAfter.getTime());
  for (const f of ['CN', 'O', 'C', 'DC'] as const) expect(p.subjectName.getField(f)).toEqual(c.subjectField(f));
  expect(Buffer.from(p.subjectName.toArrayBuffer()).equals(Buffer.from(c.subjectDer))).toBe(true);
  expect(Buffer.from(p.issuerName.toArrayBuffer()).equals(Buffer.from(c.issuerDer))).toBe(true);
  expect(Buffer.from(p.publicKey.rawData).equals(Buffer.from(c.spki))).toBe(true);
  const bc = p.getExtension(x509.BasicConstraintsExtension);
  expect(bc?.ca ?? false).toBe(c.basicConstraints?.ca ?? false);
  expect(bc?.pathLength).toBe(c.basicConstraints?.pathLen);
  expect(bc?.critical).toBe(c.basicConstraints?.critical);
  const ku = p.getExtension(x509.KeyUsagesExtension);
  expect(ku?.usages ?? 0).toBe((c.keyUsage?.usages ?? []).reduce((n, u) => n | (KU_FLAGS[u] ?? 0), 0));
  const ski = p.getExtension(x509.SubjectKeyIdentifierExtension);
  expect(ski?.keyId).toBe(c.subjectKeyId ? Buffer.from(c.subjectKeyId).toString('hex') : undefined);
  const aia = p.getExtension(x509.AuthorityInfoAccessExtension);
  expect(aia?.ocsp.map((g) => g.value) ?? []).toEqual(c.ocspUrls);
  expect(p.extensions.map((e) => e.type)).toEqual(c.extensionOids);
  if (issuer) expect(await p.verify({ publicKey: new x509.X509Certificate(issuer.der).publicKey, signatureOnly: true })).toBe(true);
}

describe('certificates: PkiCert agrees with @peculiar/x509', () => {
  it('every role, verified with its issuer through WebCrypto', async () => {
    for (const [role, { cert }] of pki.entries()) {
      const chain = pki.chain(role, { includeRoot: true });
      await compareWithPeculiar(cert, chain[1] ?? cert);
    }
  });

  it('every piece of negative material', async () => {
    for (const kind of NEGATIVE_KINDS) {
      const m = negativeMaterial(pki, kind);
      if (kind === 'bad-signature') await compareWithPeculiar(m.cert, undefined);
      else await compareWithPeculiar(m.cert, m.chain[1]);
    }
  });

  it('an openssl-made RSA certificate with odd extensions parses as openssl prints it', () => {
    ossl.ok(['req', '-utf8', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '30', '-subj', '/CN=Odd Ünïcode/O=Test Org/OU=Unit/C=FR/DC=example', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature,decipherOnly', '-addext', 'extendedKeyUsage=serverAuth,OCSPSigning', '-addext', 'authorityInfoAccess=OCSP;URI:http://o.example/ocsp,caIssuers;URI:http://o.example/ca.crt', '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:3']);
    const pem = ossl.read('c.pem').toString();
    const c = new PkiCert(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64'));
    expect(c.subject).toBe('CN=Odd Ünïcode, O=Test Org, OU=Unit, C=FR, DC=example');
    expect(c.keyUsage).toEqual({ usages: ['digitalSignature', 'keyCertSign', 'crlSign', 'decipherOnly'], critical: true });
    expect(c.basicConstraints).toEqual({ ca: true, pathLen: 3, critical: true });
    expect(c.extKeyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.9']);
    expect(c.ocspUrls).toEqual(['http://o.example/ocsp']);
    expect(c.signatureAlgorithm).toBe('1.2.840.113549.1.1.11');
    expect(c.keyAlgorithm).toBe('1.2.840.113549.1.1.1');
    expect(c.serialHex).toBe(ossl.ok(['x509', '-in', 'c.pem', '-noout', '-serial']).trim().replace('serial=', '').toLowerCase().replace(/^0+/, ''));
    const end = ossl.ok(['x509', '-in', 'c.pem', '-noout', '-enddate']).trim().replace('notAfter=', '');
    expect(c.notAfter.getTime()).toBe(new Date(end).getTime());
  });
});

describe('OCSP: our DER agrees with @peculiar/asn1-ocsp', () => {
  it('requests and responses (good, revoked with reason, nonce) parse with asn1js to the same values', () => {
    const responder = new OcspResponder(pki);
    const contract = pki.cert('contract');
    responder.revoke(contract, { reason: 'affiliationChanged', time: new Date('2026-03-04T05:06:07Z') });
    const req = buildOcspRequest([{ cert: contract, issuer: pki.cert('mo-sub2') }], { nonce: new Uint8Array(16).fill(9) });
    const asnReq = AsnConvert.parse(req, OCSPRequest);
    expect(Buffer.from(asnReq.tbsRequest.requestList[0]!.reqCert.serialNumber).toString('hex').replace(/^0+/, '')).toBe(contract.serialHex);
    expect(parseOcspRequest(req).nonce).toEqual(new Uint8Array(16).fill(9));

    const der = responder.respond(req);
    const asn = AsnConvert.parse(der, OCSPResponse);
    expect(asn.responseStatus).toBe(0);
    const basic = AsnConvert.parse(asn.responseBytes!.response.buffer, BasicOCSPResponse);
    const single = basic.tbsResponseData.responses[0]!;
    expect(single.certStatus.revoked?.revocationTime.toISOString()).toBe('2026-03-04T05:06:07.000Z');
    expect(single.certStatus.revoked?.revocationReason?.reason).toBe(3);
    expect(basic.tbsResponseData.responseExtensions?.[0]?.extnID).toBe('1.3.6.1.5.5.7.48.1.2');
    const ours = parseOcspResponse(der).basic!;
    expect(ours.responses[0]!.status).toEqual({ status: 'revoked', revocationTime: new Date('2026-03-04T05:06:07Z'), reason: 'affiliationChanged' });
    expect(ours.producedAt.getTime()).toBe(basic.tbsResponseData.producedAt.getTime());
    expect(single.nextUpdate!.getTime() - single.thisUpdate.getTime()).toBe(86_400_000);
  });
});

describe('DER reader is strict', () => {
  it.each([
    ['indefinite length', [0x30, 0x80, 0x00, 0x00], /indefinite length/],
    ['non-minimal length', [0x04, 0x81, 0x01, 0x00], /non-minimal length/],
    ['runs past the end', [0x04, 0x05, 0x00], /runs past the end/],
    ['truncated', [0x04], /truncated/],
    ['high tag number', [0x1f, 0x01, 0x00], /high tag numbers/],
  ])('%s', (_n, bytes, msg) => {
    expect(() => readTlv(Uint8Array.from(bytes), 0)).toThrow(msg);
  });

  it('trailing bytes after the outer element', () => {
    expect(() => readRoot(Uint8Array.of(0x05, 0x00, 0x00), TAG.NULL, 'x')).toThrow(/1 trailing byte/);
  });

  it('writer round trips: integers and OIDs', () => {
    expect(Buffer.from(derUnsignedInteger(Uint8Array.of(0, 0, 0x80))).toString('hex')).toBe('02020080');
    expect(Buffer.from(derUnsignedInteger(Uint8Array.of(0, 0x7f))).toString('hex')).toBe('02017f');
    for (const oid of ['1.2.840.10045.4.3.2', '0.9.2342.19200300.100.1.25', '2.999.1', '1.3.6.1.5.5.7.48.1.2']) {
      const d = derOid(oid);
      expect(decodeOid(d.subarray(2))).toBe(oid);
    }
    const s = seq(seq(), derOid('1.2.3'));
    expect(children(s, readRoot(s, TAG.SEQUENCE, 's')).map((t) => t.tag)).toEqual([0x30, 0x06]);
  });
});

describe('robustness: mutated input never crashes', () => {
  it('PkiCert: any byte change either parses or throws PkiInputError', () => {
    const der = pki.cert('contract').der;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: der.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: der.length }), (pos, val, cut) => {
        const m = Uint8Array.from(der);
        m[pos] = val;
        for (const input of [m, m.subarray(0, cut)]) {
          try {
            new PkiCert(input);
          } catch (e) {
            if (!(e instanceof PkiInputError)) throw e;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('responder: any mutated request gets a DER answer', () => {
    const responder = new OcspResponder(pki);
    const req = buildOcspRequest([{ cert: pki.cert('contract'), issuer: pki.cert('mo-sub2') }], { nonce: true });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: req.length - 1 }), fc.integer({ min: 0, max: 255 }), (pos, val) => {
        const m = Uint8Array.from(req);
        m[pos] = val;
        const a = responder.answer(m);
        expect(['successful', 'malformedRequest', 'unauthorized']).toContain(a.responseStatus);
        expect(parseOcspResponse(a.der).responseStatus).toBe(a.responseStatus);
      }),
      { numRuns: 1000 },
    );
  });

  it('response parser: mutated responses are OcspFormatError or parse', () => {
    const der = new OcspResponder(pki).respond(buildOcspRequest([{ cert: pki.cert('contract'), issuer: pki.cert('mo-sub2') }]));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: der.length - 1 }), fc.integer({ min: 0, max: 255 }), (pos, val) => {
        const m = Uint8Array.from(der);
        m[pos] = val;
        try {
          parseOcspResponse(m);
        } catch (e) {
          if (!(e instanceof Error) || !['OcspFormatError', 'PkiInputError'].includes(e.name)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('odd-length BMPString / bad UniversalString come back as #hex, not a crash', () => {
    const name = (tag: number, bytes: number[]) => seq(tlvSet(seq(derOid('2.5.4.3'), Uint8Array.of(tag, bytes.length, ...bytes))));
    const tlvSet = (x: Uint8Array) => Uint8Array.of(0x31, x.length, ...x);
    expect(parseName(name(0x1e, [0x00, 0x41, 0x00]))).toEqual([{ type: 'CN', value: '#1e03004100' }]);
    expect(parseName(name(0x1e, [0x00, 0x41]))).toEqual([{ type: 'CN', value: 'A' }]);
    expect(parseName(name(0x1c, [0xff, 0xff, 0xff, 0xff]))).toEqual([{ type: 'CN', value: '#1c04ffffffff' }]);
  });

  it('DerError is what the reader throws', () => {
    expect(() => readRoot(Uint8Array.of(0x30, 0x01), TAG.SEQUENCE, 'x')).toThrow(DerError);
  });
});
