// Distinguished names written as strings (ISO 15118 X509IssuerName, RFC 4514) and the
// issuer+serial match the CPS uses to pick the chain an EV trusts: order-insensitive attribute
// comparison, escapes, and the real dSPACE EV's root ID against the dSPACE CPS chain's issuer.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeV2GMessage } from '../../src/exi/index.ts';
import {
  formatDistinguishedNameString,
  generatePki,
  issuerSerialOf,
  matchesIssuerSerial,
  namesMatch,
  parseCertificateDer,
  parseDistinguishedNameString,
  PkiCert,
  PkiInputError,
} from '../../src/pki/index.ts';

const VECTORS = path.resolve(import.meta.dirname, '../../../shared/vectors/iso15118-2');

describe('parseDistinguishedNameString', () => {
  it('reads RFC 4514 strings: short and long type names, OIDs, escapes, quotes, spaces', () => {
    expect(parseDistinguishedNameString('DC=V2G,CN=V2G RootCA Test-PKI,O=dSPACE GmbH,C=DE')).toEqual([
      { type: 'DC', value: 'V2G' },
      { type: 'CN', value: 'V2G RootCA Test-PKI' },
      { type: 'O', value: 'dSPACE GmbH' },
      { type: 'C', value: 'DE' },
    ]);
    expect(parseDistinguishedNameString('CN=V2GRootCA, O=pnc-bench, C=DE, DC=V2G').map((a) => a.value)).toEqual(['V2GRootCA', 'pnc-bench', 'DE', 'V2G']);
    expect(parseDistinguishedNameString('commonName=A\\, B,organizationName=x\\2Cy,0.9.2342.19200300.100.1.25=MO,2.5.4.6=DE')).toEqual([
      { type: 'CN', value: 'A, B' },
      { type: 'O', value: 'x,y' },
      { type: 'DC', value: 'MO' },
      { type: 'C', value: 'DE' },
    ]);
    expect(parseDistinguishedNameString('CN="a,b";O=M\\C3\\BCller+OU=x')).toEqual([
      { type: 'CN', value: 'a,b' },
      { type: 'O', value: 'Müller' },
      { type: 'OU', value: 'x' },
    ]);
  });

  it('formatDistinguishedNameString writes RFC 4514 (last RDN first, escapes) and reads back as written', () => {
    const der = [
      { type: 'CN', value: 'A, B+C' },
      { type: 'O', value: '#1 "x" <y>; z=\\ ' },
      { type: 'OU', value: ' lead' },
      { type: 'serialNumber', value: '42' },
      { type: 'DC', value: 'V2G' },
    ];
    const s = formatDistinguishedNameString(der);
    expect(s).toBe('DC=V2G,serialNumber=42,OU=\\ lead,O=\\#1 \\"x\\" \\<y\\>\\; z\\=\\\\\\ ,CN=A\\, B\\+C');
    expect(parseDistinguishedNameString(s)).toEqual([...der].reverse());
    expect(formatDistinguishedNameString([{ type: 'CN', value: ' ' }])).toBe('CN=\\ ');
    expect(parseDistinguishedNameString('CN=\\ ')).toEqual([{ type: 'CN', value: ' ' }]);
  });

  it('rejects what is not a name, saying where', () => {
    expect(() => parseDistinguishedNameString('', 'X509IssuerName')).toThrow(PkiInputError);
    expect(() => parseDistinguishedNameString('just text', 'X509IssuerName')).toThrow(/X509IssuerName: "just text" is not a distinguished name: attribute without "="/);
    expect(() => parseDistinguishedNameString('CN=a,', 'n')).toThrow(/name ends with a separator/);
    expect(() => parseDistinguishedNameString('C N=a', 'n')).toThrow(/bad attribute type "C N"/);
    expect(() => parseDistinguishedNameString('CN="open', 'n')).toThrow(/unterminated quoted value/);
  });
});

describe('namesMatch / matchesIssuerSerial', () => {
  it('compares attributes as a multiset, values case- and space-insensitively', () => {
    const der = parseDistinguishedNameString('CN=V2GRootCA,O=pnc-bench,C=DE,DC=V2G');
    expect(namesMatch(parseDistinguishedNameString('DC=V2G,C=DE,O=pnc-bench,CN=V2GRootCA'), der)).toBe(true);
    expect(namesMatch(parseDistinguishedNameString('dc=v2g, c=de, o=PNC-BENCH,  cn=V2GRootCA'), der)).toBe(true);
    expect(namesMatch(parseDistinguishedNameString('DC=V2G,C=DE,O=pnc-bench'), der)).toBe(false); // CN missing
    expect(namesMatch(parseDistinguishedNameString('DC=MO,C=DE,O=pnc-bench,CN=V2GRootCA'), der)).toBe(false);
    expect(namesMatch(parseDistinguishedNameString('CN=V2GRootCA,CN=V2GRootCA,C=DE,DC=V2G'), der)).toBe(false);
  });

  it('a bench root matches its RFC 4514 issuer string and serial, not another serial or a malformed string', () => {
    const root = generatePki({ seed: 'names' }).cert('v2g-root');
    const rfc = formatDistinguishedNameString(root.issuerAttributes);
    expect(rfc).toBe('DC=V2G,C=DE,O=pnc-bench,CN=V2GRootCA');
    expect(issuerSerialOf(root)).toEqual({ issuerName: rfc, serialNumber: root.serialNumber });
    expect(matchesIssuerSerial(root, { issuerName: rfc, serialNumber: root.serialNumber })).toBe(true);
    expect(matchesIssuerSerial(root, { issuerName: root.issuer, serialNumber: root.serialNumber })).toBe(true); // DER order with ", "
    expect(matchesIssuerSerial(root, { issuerName: rfc, serialNumber: root.serialNumber + 1n })).toBe(false);
    expect(matchesIssuerSerial(root, { issuerName: 'not a name', serialNumber: root.serialNumber })).toBe(false);
    expect(root.serialNumber).toBe(BigInt(`0x${root.serialHex}`));
  });

  it('issuerSerialOf names a certificate so that matchesIssuerSerial finds it, also with a negative (non-conforming) serial', () => {
    // the root's serial INTEGER with the sign bit set: X509SerialNumber (xs:integer) is then negative, not the unsigned reading
    const der = Uint8Array.from(generatePki({ seed: 'names' }).cert('v2g-root').der);
    const at = Buffer.from(der).indexOf(Buffer.from(new PkiCert(der).serialBytes));
    der[at] = der[at]! | 0x80;
    const negative = new PkiCert(der);
    expect(negative.serialNumber < 0n).toBe(true);
    expect(issuerSerialOf(negative).serialNumber).toBe(negative.serialNumber);
    expect(matchesIssuerSerial(negative, issuerSerialOf(negative))).toBe(true);
    expect(matchesIssuerSerial(negative, { ...issuerSerialOf(negative), serialNumber: BigInt(`0x${negative.serialHex}`) })).toBe(false);
  });

  it('real data: the dSPACE EV names the V2G root that issued the dSPACE CPS Sub-CA 1', () => {
    const pcaps = JSON.parse(readFileSync(path.join(VECTORS, 'dsV2Gshark-pcaps.json'), 'utf8')) as { vectors: { message: string; exiHex: string }[] };
    const req = decodeV2GMessage(Buffer.from(pcaps.vectors.find((v) => v.message === 'CertificateInstallationReq')!.exiHex, 'hex'));
    const res = decodeV2GMessage(Buffer.from(pcaps.vectors.find((v) => v.message === 'CertificateInstallationRes')!.exiHex, 'hex'));
    const evRoot = req.Body.CertificateInstallationReq!.ListOfRootCertificateIDs.RootCertificateID[0]!;
    const cpsSub1 = parseCertificateDer(res.Body.CertificateInstallationRes!.SAProvisioningCertificateChain.SubCertificates!.Certificate.at(-1)!);
    expect(cpsSub1.commonName).toBe('CPS SubCA1 Test-PKI');
    expect(cpsSub1.issuer).toBe('C=DE, ST=NRW, L=Paderborn, O=dSPACE GmbH, OU=Smart Charging, CN=V2G RootCA Test-PKI, DC=V2G');
    expect(namesMatch(parseDistinguishedNameString(evRoot.X509IssuerName), cpsSub1.issuerAttributes)).toBe(true);
    expect(evRoot.X509SerialNumber).toBe(16n);
  });
});
