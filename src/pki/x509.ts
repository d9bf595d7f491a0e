// X.509 building blocks for src/pki: distinguished names, the extensions of the V2G profile,
// certificate assembly and signing, and `PkiCert`, the parsed view every other module works with.
//
// Certificates are assembled with the DER writer of src/pki/der.ts and signed with RFC 6979 ECDSA:
// @peculiar/x509's generator signs through WebCrypto, which cannot sign deterministically, and its
// asn1js layer costs ~1.5 ms per certificate (measured), too slow for the CSR-signing budget.
// The tests parse every certificate we build with @peculiar/x509 and with openssl.
//
//   const der = buildCertificate({ serialNumber, subject: encodeName({ CN: 'MORootCA', DC: 'MO' }), ... });
//   const cert = parseCertificateDer(der);       // PkiCert
//   verifyCertificateSignature(cert, issuerCert.spki) // true
import crypto from 'node:crypto';
import net from 'node:net';
import {
  children,
  content,
  ctx,
  decodeOid,
  decodeSmallInteger,
  decodeString,
  decodeTime,
  derBitString,
  DerError,
  derOctetString,
  derOid,
  derUnsignedInteger,
  expectTag,
  readOid,
  readRoot,
  seq,
  TAG,
  tlv,
  whole,
  type Tlv,
} from './der.ts';
import { derToPem, integerBytesToHex, pemToDer, parsePemBlocks } from './encoding.ts';
import { PkiInputError } from './errors.ts';
import { p256UncompressedPoint, publicKeyObjectFromSpki, signP256Der, signP256DerFast, type P256KeyPair } from './keys.ts';

export type KeyUsageType = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement' | 'keyCertSign' | 'crlSign' | 'encipherOnly' | 'decipherOnly';

const id_ce_basicConstraints = '2.5.29.19';
const id_ce_keyUsage = '2.5.29.15';
const id_ce_extKeyUsage = '2.5.29.37';
const id_ce_subjectKeyIdentifier = '2.5.29.14';
const id_ce_authorityKeyIdentifier = '2.5.29.35';
const id_ce_subjectAltName = '2.5.29.17';
const id_pe_authorityInfoAccess = '1.3.6.1.5.5.7.1.1';
const id_ad_ocsp = '1.3.6.1.5.5.7.48.1';
const id_ad_caIssuers = '1.3.6.1.5.5.7.48.2';

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  secp521r1: '1.3.132.0.35',
  secp224r1: '1.3.132.0.33',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
} as const;

/** Signature algorithm OID → Node hash name, for the algorithms the bench accepts. */
export const SIGNATURE_HASH: Readonly<Record<string, { hash: 'sha256' | 'sha384' | 'sha512'; key: 'ec' | 'rsa'; name: string }>> = {
  [OID.ecdsaWithSha256]: { hash: 'sha256', key: 'ec', name: 'ecdsa-with-SHA256' },
  [OID.ecdsaWithSha384]: { hash: 'sha384', key: 'ec', name: 'ecdsa-with-SHA384' },
  [OID.ecdsaWithSha512]: { hash: 'sha512', key: 'ec', name: 'ecdsa-with-SHA512' },
  [OID.sha256WithRsa]: { hash: 'sha256', key: 'rsa', name: 'sha256WithRSAEncryption' },
  [OID.sha384WithRsa]: { hash: 'sha384', key: 'rsa', name: 'sha384WithRSAEncryption' },
  [OID.sha512WithRsa]: { hash: 'sha512', key: 'rsa', name: 'sha512WithRSAEncryption' },
};

// ---------------------------------------------------------------- names

/** Subject / issuer attributes the bench uses, by their short names. */
export interface NameSpec {
  CN?: string;
  O?: string;
  OU?: string;
  L?: string;
  ST?: string;
  C?: string;
  DC?: string;
  serialNumber?: string;
}

const NAME_OIDS: Readonly<Record<keyof NameSpec, string>> = {
  CN: '2.5.4.3',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  C: '2.5.4.6',
  DC: '0.9.2342.19200300.100.1.25',
  serialNumber: '2.5.4.5',
};
const NAME_BY_OID: ReadonlyMap<string, string> = new Map(Object.entries(NAME_OIDS).map(([k, v]) => [v, k]));
/** DER order of the attributes: CN, O, OU, L, ST, C, DC (the order of the public V2G scripts). */
const NAME_ORDER: readonly (keyof NameSpec)[] = ['CN', 'O', 'OU', 'L', 'ST', 'C', 'serialNumber', 'DC'];

/** DER of a distinguished name: C and serialNumber as PrintableString, DC as IA5String, the rest UTF8String. */
export function encodeName(spec: NameSpec): Uint8Array {
  const rdns: Uint8Array[] = [];
  for (const key of NAME_ORDER) {
    const v = spec[key];
    if (v === undefined) continue;
    const tag = key === 'DC' ? TAG.IA5String : key === 'C' || key === 'serialNumber' ? TAG.PrintableString : TAG.UTF8String;
    rdns.push(tlv(TAG.SET, seq(derOid(NAME_OIDS[key]), tlv(tag, new Uint8Array(Buffer.from(v, tag === TAG.UTF8String ? 'utf8' : 'latin1'))))));
  }
  return seq(...rdns);
}

/** A parsed name: attributes in DER order with their short names (or dotted OIDs). */
export interface NameAttribute {
  type: string;
  value: string;
}

export function parseName(der: Uint8Array, field = 'name'): NameAttribute[] {
  try {
    return nameAttributesDer(der, field);
  } catch (e) {
    if (e instanceof DerError) throw new PkiInputError(field, `not a DER distinguished name (${e.message})`);
    throw e;
  }
}

/** "CN=MORootCA, O=pnc-bench, C=DE, DC=MO" (DER order). */
export function formatName(attrs: readonly NameAttribute[]): string {
  return attrs.map((a) => `${a.type}=${a.value}`).join(', ');
}

/** Attribute type names an RFC 4514 / RFC 2253 string may use, by their upper-case spelling (dotted OIDs: NAME_BY_OID). */
const DN_STRING_TYPES: ReadonlyMap<string, string> = new Map([
  ...Object.keys(NAME_OIDS).map((k) => [k.toUpperCase(), k] as [string, string]),
  ['COMMONNAME', 'CN'],
  ['ORGANIZATIONNAME', 'O'],
  ['ORGANIZATIONALUNITNAME', 'OU'],
  ['LOCALITYNAME', 'L'],
  ['STATEORPROVINCENAME', 'ST'],
  ['COUNTRYNAME', 'C'],
  ['DOMAINCOMPONENT', 'DC'],
  ['S', 'ST'],
]);

/**
 * The RFC 4514 string of a name given in DER order, as an EV writes X509IssuerName: last RDN first,
 * `type=value` joined by `,` without spaces, `, + " \ < > ; =` and a leading `#` or space and a
 * trailing space escaped with `\`. `parseDistinguishedNameString` reads it back (in written order).
 */
export function formatDistinguishedNameString(attrs: readonly NameAttribute[]): string {
  const esc = (v: string): string => v.replace(/[,+"\\<>;=]|^[ #]| $/g, (c) => `\\${c}`);
  return [...attrs].reverse().map((a) => `${a.type}=${esc(a.value)}`).join(',');
}

/**
 * Parses a distinguished name written as a string, e.g. the X509IssuerName of an ISO 15118
 * RootCertificateID: `DC=V2G,CN=V2G RootCA Test-PKI,O=dSPACE GmbH,C=DE` (RFC 4514: last RDN
 * first; Java and OpenSSL print it so). Separators `,` `;` `+`, escapes `\,` and `\2C`, quoted
 * values and spaces around separators are handled. Attribute order is kept as written. Throws
 * PkiInputError for a malformed string.
 */
export function parseDistinguishedNameString(text: string, field = 'name'): NameAttribute[] {
  const out: NameAttribute[] = [];
  let i = 0;
  const n = text.length;
  const fail = (why: string): never => {
    throw new PkiInputError(field, `"${text}" is not a distinguished name: ${why} at character ${i}`);
  };
  while (i < n) {
    while (i < n && text[i] === ' ') i++;
    const eq = text.indexOf('=', i);
    if (eq < 0) fail('attribute without "="');
    const rawType = text.slice(i, eq).trim();
    if (!/^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)+)$/.test(rawType)) fail(`bad attribute type "${rawType}"`);
    const upper = rawType.toUpperCase().replace(/^OID\./, '');
    const type = DN_STRING_TYPES.get(upper) ?? NAME_BY_OID.get(upper) ?? upper;
    i = eq + 1;
    let value = '';
    if (text[i] === '"') {
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\') i++;
        value += text[i] ?? '';
        i++;
      }
      if (i >= n) fail('unterminated quoted value');
      i++;
      while (i < n && text[i] === ' ') i++;
    } else {
      let trailingSpaces = 0;
      while (i < n && text[i] !== ',' && text[i] !== ';' && text[i] !== '+') {
        const ch = text[i] as string;
        if (ch === '\\') {
          const hex = text.slice(i + 1, i + 3);
          if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
            // a run of \XX escapes is UTF-8
            const bytes: number[] = [];
            while (text[i] === '\\' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
              bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
              i += 3;
            }
            value += Buffer.from(bytes).toString('utf8');
          } else {
            if (i + 1 >= n) fail('dangling escape');
            value += text[i + 1];
            i += 2;
          }
          trailingSpaces = 0;
          continue;
        }
        trailingSpaces = ch === ' ' ? trailingSpaces + 1 : 0;
        value += ch;
        i++;
      }
      value = value.slice(0, value.length - trailingSpaces);
    }
    out.push({ type, value });
    if (i < n) {
      i++; // separator
      if (i >= n) fail('name ends with a separator');
    }
  }
  if (out.length === 0) fail('empty name');
  return out;
}

const normalizeNameValue = (v: string): string => v.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase();

/**
 * True when two names hold the same attributes, compared as multisets (type exact, values
 * case-insensitively with runs of spaces folded): `DC=V2G,CN=Root,C=DE` matches the DER order
 * CN, C, DC. Writers disagree on the RDN order (RFC 4514 reverses it, others print DER order), so
 * the order is not compared; a multi-valued name with repeated types still has to agree value
 * for value.
 */
export function namesMatch(a: readonly NameAttribute[], b: readonly NameAttribute[]): boolean {
  if (a.length !== b.length) return false;
  const key = (x: NameAttribute) => `${x.type}\u0000${normalizeNameValue(x.value)}`;
  const left = a.map(key).sort();
  const right = b.map(key).sort();
  return left.every((k, i) => k === right[i]);
}

/** An ISO 15118 RootCertificateID / xmldsig X509IssuerSerial: issuer DN as a string and serial. */
export interface IssuerSerial {
  issuerName: string;
  serialNumber: bigint;
}

/** The X509IssuerSerial naming `cert` (an ISO 15118 RootCertificateID for a root): RFC 4514 issuer string and the signed serial. */
export function issuerSerialOf(cert: PkiCert): IssuerSerial {
  return { issuerName: formatDistinguishedNameString(cert.issuerAttributes), serialNumber: cert.serialNumber };
}

/**
 * True when `cert` is the certificate an X509IssuerSerial names: its issuer DN matches
 * (`namesMatch`) and its serial number equals. A malformed issuer string never matches.
 */
export function matchesIssuerSerial(cert: PkiCert, id: IssuerSerial): boolean {
  if (cert.serialNumber !== id.serialNumber) return false;
  let attrs: NameAttribute[];
  try {
    attrs = parseDistinguishedNameString(id.issuerName, 'X509IssuerName');
  } catch {
    return false;
  }
  return namesMatch(attrs, cert.issuerAttributes);
}

// ---------------------------------------------------------------- extensions

/** One certificate extension: OID, criticality and the DER of extnValue's contents. */
export interface CertExtension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

const DER_TRUE = Uint8Array.of(TAG.BOOLEAN, 1, 0xff);

export function basicConstraintsExt(ca: boolean, pathLen?: number, critical = true): CertExtension {
  const parts: Uint8Array[] = [];
  if (ca) parts.push(DER_TRUE); // cA DEFAULT FALSE: omitted when false
  if (ca && pathLen !== undefined) parts.push(derUnsignedInteger(Uint8Array.of(pathLen)));
  return { oid: id_ce_basicConstraints, critical, value: seq(...parts) };
}

const KEY_USAGE_BIT: Readonly<Record<KeyUsageType, number>> = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  crlSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
};

/** keyUsage as a DER named-bit BIT STRING (trailing zero bits dropped). */
export function keyUsageExt(usages: readonly KeyUsageType[], critical = true): CertExtension {
  if (usages.length === 0) throw new RangeError('keyUsage needs at least one usage');
  const last = Math.max(...usages.map((u) => KEY_USAGE_BIT[u]));
  const bytes = new Uint8Array((last >> 3) + 1);
  for (const u of usages) {
    const bit = KEY_USAGE_BIT[u];
    bytes[bit >> 3] = (bytes[bit >> 3] as number) | (0x80 >> (bit & 7));
  }
  return { oid: id_ce_keyUsage, critical, value: derBitString(bytes, 7 - (last & 7)) };
}

export function extKeyUsageExt(oids: readonly string[], critical = false): CertExtension {
  return { oid: id_ce_extKeyUsage, critical, value: seq(...oids.map(derOid)) };
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 over the subjectPublicKey BIT STRING contents. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.createHash('sha1').update(spkiPublicKeyBits(spki)).digest());
}

/** The subjectPublicKey BIT STRING contents of an SPKI DER. */
export function spkiPublicKeyBits(spki: Uint8Array): Uint8Array {
  try {
    const root = readRoot(spki, TAG.SEQUENCE, 'subjectPublicKeyInfo');
    return bitStringContents(spki, expectTag(children(spki, root)[1], TAG.BIT_STRING, 'subjectPublicKey'), 'subjectPublicKey');
  } catch (e) {
    if (e instanceof DerError) throw new PkiInputError('subjectPublicKeyInfo', e.message);
    throw e;
  }
}

export function subjectKeyIdExt(keyId: Uint8Array): CertExtension {
  return { oid: id_ce_subjectKeyIdentifier, critical: false, value: derOctetString(keyId) };
}

export function authorityKeyIdExt(keyId: Uint8Array): CertExtension {
  return { oid: id_ce_authorityKeyIdentifier, critical: false, value: seq(ctx(0, false, keyId)) };
}

const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

export function authorityInfoAccessExt(ocspUrl: string, caIssuersUrl?: string): CertExtension {
  const items = [seq(derOid(id_ad_ocsp), ctx(6, false, ascii(ocspUrl)))];
  if (caIssuersUrl) items.push(seq(derOid(id_ad_caIssuers), ctx(6, false, ascii(caIssuersUrl))));
  return { oid: id_pe_authorityInfoAccess, critical: false, value: seq(...items) };
}

/** IPv4 / IPv6 text → address bytes (for subjectAltName iPAddress). */
export function ipAddressBytes(ip: string): Uint8Array {
  if (net.isIPv4(ip)) return Uint8Array.from(ip.split('.').map(Number));
  if (!net.isIPv6(ip)) throw new PkiInputError('ipAddress', `"${ip}" is not an IPv4 or IPv6 address`);
  const [head = '', tail] = ip.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

export function subjectAltNameExt(dnsNames: readonly string[], ipAddresses: readonly string[] = []): CertExtension {
  const names = [...dnsNames.map((d) => ctx(2, false, ascii(d))), ...ipAddresses.map((ip) => ctx(7, false, ipAddressBytes(ip)))];
  return { oid: id_ce_subjectAltName, critical: false, value: seq(...names) };
}

// ---------------------------------------------------------------- building

export interface CertificateParams {
  /** INTEGER contents, big-endian, positive (first byte < 0x80), at most 20 bytes. */
  serialNumber: Uint8Array;
  subject: Uint8Array;
  issuer: Uint8Array;
  subjectPublicKeyInfo: Uint8Array;
  /** The issuing CA's key (all bench CAs are P-256; ecdsa-with-SHA256). */
  issuerKey: P256KeyPair;
  notBefore: Date;
  notAfter: Date;
  extensions: readonly CertExtension[];
  /** Sign with OpenSSL and a random k (~25× faster) instead of RFC 6979: for certificates that are random anyway (fresh key). */
  fastSignature?: boolean;
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds. */
function x509Time(d: Date): Uint8Array {
  const iso = new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString();
  const y = Number(iso.slice(0, 4));
  const rest = `${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return y >= 1950 && y < 2050 ? tlv(TAG.UTCTime, ascii(`${iso.slice(2, 4)}${rest}`)) : tlv(TAG.GeneralizedTime, ascii(`${iso.slice(0, 4)}${rest}`));
}

const ECDSA_SHA256_ALG = seq(derOid(OID.ecdsaWithSha256));

/** Assembles, signs (RFC 6979, or OpenSSL with `fastSignature`) and DER-encodes an X.509 v3 certificate. */
export function buildCertificate(p: CertificateParams): Uint8Array {
  if (p.serialNumber.length === 0 || p.serialNumber.length > 20 || (p.serialNumber[0] as number) >= 0x80) throw new RangeError('serialNumber must be a positive INTEGER of 1..20 bytes');
  if (p.serialNumber.length > 1 && p.serialNumber[0] === 0 && (p.serialNumber[1] as number) < 0x80) throw new RangeError('serialNumber has a superfluous leading zero');
  const tbs = seq(
    ctx(0, true, Uint8Array.of(TAG.INTEGER, 1, 2)), // version v3
    tlv(TAG.INTEGER, p.serialNumber),
    ECDSA_SHA256_ALG,
    p.issuer,
    seq(x509Time(p.notBefore), x509Time(p.notAfter)),
    p.subject,
    p.subjectPublicKeyInfo,
    ctx(3, true, seq(...p.extensions.map((e) => seq(derOid(e.oid), ...(e.critical ? [DER_TRUE] : []), derOctetString(e.value))))),
  );
  return seq(tbs, ECDSA_SHA256_ALG, derBitString(p.fastSignature ? signP256DerFast(p.issuerKey, tbs) : signP256Der(p.issuerKey, tbs)));
}

// ---------------------------------------------------------------- parsed view

export interface BasicConstraintsInfo {
  ca: boolean;
  pathLen: number | undefined;
  critical: boolean;
}

export interface KeyUsageInfo {
  usages: KeyUsageType[];
  critical: boolean;
}

/** A parsed X.509 certificate with the fields the bench checks. Immutable. Parsed with src/pki/der.ts. */
export class PkiCert {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly signature: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly version: number;
  /** INTEGER contents as encoded (may carry a leading 0x00). */
  readonly serialBytes: Uint8Array;
  /** Lower-case hex without leading zeros, as in OCPP CertificateHashData. */
  readonly serialHex: string;
  readonly subjectDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly subjectAttributes: readonly NameAttribute[];
  readonly issuerAttributes: readonly NameAttribute[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Uint8Array;
  /** Algorithm OID of the subject key and, for EC keys, the curve OID. */
  readonly keyAlgorithm: string;
  readonly keyCurve: string | undefined;
  /** The subjectPublicKey BIT STRING contents (what an OCSP issuerKeyHash covers). */
  readonly publicKeyBits: Uint8Array;
  readonly basicConstraints: BasicConstraintsInfo | undefined;
  readonly keyUsage: KeyUsageInfo | undefined;
  readonly extKeyUsage: readonly string[] | undefined;
  readonly subjectKeyId: Uint8Array | undefined;
  readonly authorityKeyId: Uint8Array | undefined;
  readonly ocspUrls: readonly string[];
  readonly extensionOids: readonly string[];
  readonly unknownCriticalExtensions: readonly string[];

  constructor(der: Uint8Array, field = 'certificate') {
    const d = Uint8Array.from(der);
    this.der = d;
    try {
      const root = readRoot(d, TAG.SEQUENCE, 'Certificate');
      const [tbsT, algT, sigT, ...extra] = children(d, root, 'Certificate');
      if (extra.length) throw new DerError('Certificate: more than 3 elements');
      expectTag(tbsT, TAG.SEQUENCE, 'tbsCertificate');
      this.tbs = whole(d, tbsT as Tlv);
      this.signatureAlgorithm = readOid(d, children(d, expectTag(algT, TAG.SEQUENCE, 'signatureAlgorithm'))[0], 'signatureAlgorithm');
      this.signature = bitStringContents(d, expectTag(sigT, TAG.BIT_STRING, 'signatureValue'), 'signatureValue');

      const tbs = children(d, tbsT as Tlv, 'tbsCertificate');
      let i = 0;
      let version = 1;
      if (tbs[0]?.tag === 0xa0) {
        const v = children(d, tbs[0], 'version')[0];
        version = decodeSmallInteger(content(d, expectTag(v, TAG.INTEGER, 'version')), 'version') + 1;
        i = 1;
      }
      this.version = version;
      this.serialBytes = Uint8Array.from(content(d, expectTag(tbs[i], TAG.INTEGER, 'serialNumber')));
      this.serialHex = integerBytesToHex(this.serialBytes);
      expectTag(tbs[i + 1], TAG.SEQUENCE, 'signature');
      this.issuerDer = whole(d, expectTag(tbs[i + 2], TAG.SEQUENCE, 'issuer'));
      const validity = children(d, expectTag(tbs[i + 3], TAG.SEQUENCE, 'validity'), 'validity');
      if (validity.length !== 2) throw new DerError('validity: expected notBefore and notAfter');
      this.notBefore = decodeTime(d, validity[0] as Tlv, 'notBefore');
      this.notAfter = decodeTime(d, validity[1] as Tlv, 'notAfter');
      this.subjectDer = whole(d, expectTag(tbs[i + 4], TAG.SEQUENCE, 'subject'));
      const spkiT = expectTag(tbs[i + 5], TAG.SEQUENCE, 'subjectPublicKeyInfo');
      this.spki = whole(d, spkiT);
      const [keyAlgT, keyT] = children(d, spkiT, 'subjectPublicKeyInfo');
      const keyAlg = children(d, expectTag(keyAlgT, TAG.SEQUENCE, 'subjectPublicKeyInfo.algorithm'));
      this.keyAlgorithm = readOid(d, keyAlg[0], 'subjectPublicKeyInfo.algorithm');
      this.keyCurve = this.keyAlgorithm === OID.ecPublicKey && keyAlg[1]?.tag === TAG.OID ? decodeOid(content(d, keyAlg[1])) : undefined;
      this.publicKeyBits = bitStringContents(d, expectTag(keyT, TAG.BIT_STRING, 'subjectPublicKey'), 'subjectPublicKey');
      this.subjectAttributes = nameAttributesDer(this.subjectDer, 'subject');
      this.issuerAttributes = nameAttributesDer(this.issuerDer, 'issuer');

      let bc: BasicConstraintsInfo | undefined;
      let ku: KeyUsageInfo | undefined;
      let eku: string[] | undefined;
      let ski: Uint8Array | undefined;
      let aki: Uint8Array | undefined;
      const ocsp: string[] = [];
      const oids: string[] = [];
      const unknownCritical: string[] = [];
      const extsT = tbs.slice(i + 6).find((t) => t.tag === 0xa3);
      const extList = extsT ? children(d, expectTag(children(d, extsT)[0], TAG.SEQUENCE, 'extensions'), 'extensions') : [];
      for (const extT of extList) {
        const parts = children(d, expectTag(extT, TAG.SEQUENCE, 'extension'), 'extension');
        const oid = readOid(d, parts[0], 'extension.extnID');
        const critical = parts.length === 3 ? content(d, expectTag(parts[1], TAG.BOOLEAN, `extension ${oid} critical`))[0] === 0xff : false;
        const value = content(d, expectTag(parts[parts.length - 1], TAG.OCTET_STRING, `extension ${oid} extnValue`));
        if (oids.includes(oid)) throw new DerError(`extension ${oid} appears twice`);
        oids.push(oid);
        const v = readRoot(value, value[0] ?? 0, `extension ${oid}`);
        switch (oid) {
          case id_ce_basicConstraints: {
            const bcParts = children(value, expectTag(v, TAG.SEQUENCE, 'basicConstraints'));
            let ca = false;
            let pathLen: number | undefined;
            for (const p of bcParts) {
              if (p.tag === TAG.BOOLEAN) ca = content(value, p)[0] === 0xff;
              else if (p.tag === TAG.INTEGER) pathLen = decodeSmallInteger(content(value, p), 'pathLenConstraint');
            }
            bc = { ca, pathLen, critical };
            break;
          }
          case id_ce_keyUsage: {
            const bits = content(value, expectTag(v, TAG.BIT_STRING, 'keyUsage'));
            const usages: KeyUsageType[] = [];
            KEY_USAGE_BITS.forEach((name, bit) => {
              const byte = bits[1 + (bit >> 3)];
              if (byte !== undefined && byte & (0x80 >> (bit & 7))) usages.push(name);
            });
            ku = { usages, critical };
            break;
          }
          case id_ce_extKeyUsage:
            eku = children(value, expectTag(v, TAG.SEQUENCE, 'extKeyUsage')).map((t) => readOid(value, t, 'extKeyUsage'));
            break;
          case id_ce_subjectKeyIdentifier:
            ski = Uint8Array.from(content(value, expectTag(v, TAG.OCTET_STRING, 'subjectKeyIdentifier')));
            break;
          case id_ce_authorityKeyIdentifier: {
            const keyId = children(value, expectTag(v, TAG.SEQUENCE, 'authorityKeyIdentifier')).find((t) => t.tag === 0x80);
            if (keyId) aki = Uint8Array.from(content(value, keyId));
            break;
          }
          case id_pe_authorityInfoAccess:
            for (const ad of children(value, expectTag(v, TAG.SEQUENCE, 'authorityInfoAccess'))) {
              const [m, loc] = children(value, ad, 'AccessDescription');
              if (readOid(value, m, 'accessMethod') === id_ad_ocsp && loc?.tag === 0x86) ocsp.push(Buffer.from(content(value, loc)).toString('latin1'));
            }
            break;
          default:
            if (critical && oid !== id_ce_subjectAltName) unknownCritical.push(oid);
        }
      }
      this.basicConstraints = bc;
      this.keyUsage = ku;
      this.extKeyUsage = eku;
      this.subjectKeyId = ski;
      this.authorityKeyId = aki;
      this.ocspUrls = ocsp;
      this.extensionOids = oids;
      this.unknownCriticalExtensions = unknownCritical;
    } catch (e) {
      if (e instanceof DerError) throw new PkiInputError(field, `not a DER X.509 certificate (${e.message})`);
      throw e;
    }
  }

  get pem(): string {
    return derToPem(this.der, 'CERTIFICATE');
  }

  get subject(): string {
    return formatName(this.subjectAttributes);
  }

  get issuer(): string {
    return formatName(this.issuerAttributes);
  }

  /** Values of one subject attribute (`CN`, `O`, `DC`, …), in DER order. */
  subjectField(type: keyof NameSpec): string[] {
    return this.subjectAttributes.filter((a) => a.type === type).map((a) => a.value);
  }

  get commonName(): string | undefined {
    return this.subjectField('CN')[0];
  }

  get isSelfIssued(): boolean {
    return Buffer.compare(this.subjectDer, this.issuerDer) === 0;
  }

  /** The serial number as a (signed, two's complement) integer, as X509SerialNumber carries it. */
  get serialNumber(): bigint {
    const b = this.serialBytes;
    if (b.length === 0) return 0n;
    const v = BigInt(`0x${Buffer.from(b).toString('hex')}`);
    return (b[0] as number) & 0x80 ? v - (1n << BigInt(b.length * 8)) : v;
  }

  /** The subject key as an uncompressed P-256 point (65 bytes); throws PkiInputError for any other key. */
  p256PublicKey(field = 'certificate'): Uint8Array {
    const k = this.publicKeyBits;
    if (this.keyAlgorithm !== OID.ecPublicKey || this.keyCurve !== OID.prime256v1) throw new PkiInputError(field, `the key of ${this.subject || 'the certificate'} is not EC P-256`);
    if (k.length === 33) return p256UncompressedPoint(k);
    if (k.length !== 65 || k[0] !== 0x04) throw new PkiInputError(field, `the P-256 key of ${this.subject || 'the certificate'} is not a SEC1 point (${k.length} bytes)`);
    return Uint8Array.from(k);
  }

  /** SHA-256 fingerprint, upper-case hex pairs joined by ':' (openssl's format). */
  get fingerprintSha256(): string {
    return (crypto.createHash('sha256').update(this.der).digest('hex').toUpperCase().match(/../g) as string[]).join(':');
  }
}

const KEY_USAGE_BITS: readonly KeyUsageType[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'crlSign', 'encipherOnly', 'decipherOnly'];

function bitStringContents(buf: Uint8Array, t: Tlv, what: string): Uint8Array {
  const c = content(buf, t);
  if (c.length === 0 || c[0] !== 0) throw new DerError(`${what}: BIT STRING with unused bits`);
  return c.subarray(1);
}

function nameAttributesDer(der: Uint8Array, what: string): NameAttribute[] {
  const out: NameAttribute[] = [];
  const root = readRoot(der, TAG.SEQUENCE, what);
  for (const rdn of children(der, root, what)) {
    expectTag(rdn, TAG.SET, `${what} RDN`);
    for (const atv of children(der, rdn, what)) {
      const [typeT, valueT] = children(der, expectTag(atv, TAG.SEQUENCE, `${what} attribute`), what);
      const oid = readOid(der, typeT, `${what} attribute type`);
      if (!valueT) throw new DerError(`${what}: attribute ${oid} without value`);
      out.push({ type: NAME_BY_OID.get(oid) ?? oid, value: decodeString(der, valueT) });
    }
  }
  return out;
}

export function parseCertificateDer(der: Uint8Array, field = 'certificate'): PkiCert {
  return new PkiCert(der, field);
}

export function parseCertificatePem(pem: string, field = 'certificate'): PkiCert {
  return new PkiCert(pemToDer(pem, 'CERTIFICATE', field), field);
}

/** Every certificate in a PEM bundle, in order (leaf first for a chain). */
export function parseCertificateChainPem(pem: string, field = 'certificateChain'): PkiCert[] {
  const blocks = parsePemBlocks(pem, field);
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  if (certs.length === 0) throw new PkiInputError(field, 'no PEM "CERTIFICATE" block found');
  return certs.map((b, i) => new PkiCert(b.der, `${field}[${i}]`));
}

/** Results of signature checks, keyed by (certificate bytes, issuer key): a result never changes. */
const verifiedSignatures = new Map<string, boolean>();

/**
 * Verifies `cert`'s signature with the issuer's SubjectPublicKeyInfo (EC or RSA, SHA-2). Results are
 * memoised by content (sub-CAs recur in every contract chain a CSMS sees).
 */
export function verifyCertificateSignature(cert: PkiCert, issuerSpki: Uint8Array): boolean {
  const alg = SIGNATURE_HASH[cert.signatureAlgorithm];
  if (!alg) return false;
  const id = `${crypto.createHash('sha256').update(cert.der).digest('hex')}:${crypto.createHash('sha256').update(issuerSpki).digest('hex')}`;
  const known = verifiedSignatures.get(id);
  if (known !== undefined) return known;
  let ok: boolean;
  try {
    ok = crypto.verify(alg.hash, cert.tbs, publicKeyObjectFromSpki(issuerSpki), cert.signature);
  } catch {
    ok = false;
  }
  if (verifiedSignatures.size >= 4096) verifiedSignatures.clear();
  verifiedSignatures.set(id, ok);
  return ok;
}
