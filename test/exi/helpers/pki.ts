// A small V2G test PKI for the EXI tests (CPS, MO and OEM chains of P-256 certificates) made with
// @peculiar/x509, independent of src/pki so that src/exi is tested on its own. Names are short
// so that a CertificateInstallationRes stays under the OCPP 5,600-character limit.
import 'reflect-metadata'; // @peculiar/x509 resolves its services with tsyringe
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface TestCert {
  der: Uint8Array;
  /** 32-byte private scalar */
  privateKey: Uint8Array;
  /** 65-byte uncompressed public point */
  publicKey: Uint8Array;
  keys: CryptoKeyPair;
  name: string;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIG = { name: 'ECDSA', hash: 'SHA-256' } as const;

async function keyPair(): Promise<{ keys: CryptoKeyPair; privateKey: Uint8Array; publicKey: Uint8Array }> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const jwk = await webcrypto.subtle.exportKey('jwk', keys.privateKey);
  const raw = new Uint8Array(await webcrypto.subtle.exportKey('raw', keys.publicKey));
  return { keys, privateKey: Uint8Array.from(Buffer.from(jwk.d!, 'base64url')), publicKey: raw };
}

let serial = 1;

export async function makeCert(name: string, issuer: TestCert | undefined, ca: boolean, extraBytes = 0): Promise<TestCert> {
  const k = await keyPair();
  const exts: x509.Extension[] = [
    new x509.BasicConstraintsExtension(ca, ca ? 0 : undefined, true),
    new x509.KeyUsagesExtension(ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
  ];
  const subject = `CN=${name}${extraBytes ? `,O=${'x'.repeat(extraBytes)}` : ''}`;
  const params = {
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    subject,
    issuer: issuer ? issuer.name : subject,
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2035-01-01T00:00:00Z'),
    signingAlgorithm: SIG,
    publicKey: k.keys.publicKey,
    signingKey: issuer ? issuer.keys.privateKey : k.keys.privateKey,
    extensions: exts,
  };
  const cert = await x509.X509CertificateGenerator.create(params);
  return { der: new Uint8Array(cert.rawData), privateKey: k.privateKey, publicKey: k.publicKey, keys: k.keys, name: subject };
}

/** leaf ← sub2 ← sub1 ← root, returned leaf first; `extraBytes` pads every subject (size tests). */
export async function makeChain(prefix: string, leafName: string, extraBytes = 0): Promise<TestCert[]> {
  const root = await makeCert(`${prefix}Root`, undefined, true, extraBytes);
  const sub1 = await makeCert(`${prefix}Sub1`, root, true, extraBytes);
  const sub2 = await makeCert(`${prefix}Sub2`, sub1, true, extraBytes);
  const leaf = await makeCert(leafName, sub2, false, extraBytes);
  return [leaf, sub2, sub1, root];
}
