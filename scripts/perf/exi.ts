// Benchmark of src/exi: decode and encode throughput (MB/s of EXI) over the shared vector corpus
// (../shared/vectors/iso15118-2, 356 captured documents + handshakes), and the latency of a full
// Get15118EVCertificate answer (decode the EV's CertificateInstallationReq, verify its signature,
// encrypt the contract key, four fragment digests, sign SignedInfo, encode, base64, self-check)
// with a pre-issued contract (issuing it is src/pki's work and not timed here). Prints a table;
// target p99 ≤ 25 ms (the EV waits 4.5–5 s).
//
//   npx tsx scripts/perf/exi.ts [seconds-per-row=2] [answers=300]
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as x509 from '@peculiar/x509';
import { answerGet15118EVCertificate } from '../../src/exi/certinstall.ts';
import { decodeDocument, encodeDocument } from '../../src/exi/codec.ts';
import { grammarSet } from '../../src/exi/grammar.ts';
import { encodeV2GMessage, type V2GMessage } from '../../src/exi/iso2.ts';
import { ecdsaSignP256, signV2GMessage } from '../../src/exi/xmldsig.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VECTORS = path.resolve(ROOT, '../shared/vectors/iso15118-2');
const seconds = Number(process.argv[2] ?? 2);
const answers = Number(process.argv[3] ?? 300);

const iso = grammarSet('iso2-msgdef');
const app = grammarSet('apphand');
const corpus: { set: typeof iso; bytes: Uint8Array }[] = [];
for (const f of ['dsV2Gshark-pcaps.json', 'apphandshake-libcbv2g-openv2gx.json']) {
  const j = JSON.parse(readFileSync(path.join(VECTORS, f), 'utf8')) as { vectors: { message: string; exiHex: string }[] };
  for (const v of j.vectors) corpus.push({ set: v.message.startsWith('supportedApp') ? app : iso, bytes: Uint8Array.from(Buffer.from(v.exiHex, 'hex')) });
}
const corpusBytes = corpus.reduce((n, c) => n + c.bytes.length, 0);
const decoded = corpus.map((c) => ({ set: c.set, d: decodeDocument(c.set, c.bytes) }));

function throughput(fn: () => void): { mbps: number; docsPerS: number } {
  fn(); // warm-up
  let rounds = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    fn();
    rounds++;
  }
  const s = (performance.now() - t0) / 1000;
  return { mbps: (rounds * corpusBytes) / s / 1e6, docsPerS: (rounds * corpus.length) / s };
}

const dec = throughput(() => {
  for (const c of corpus) decodeDocument(c.set, c.bytes);
});
const enc = throughput(() => {
  for (const c of decoded) encodeDocument(c.set, c.d.name, c.d.value);
});

// --- a small test PKI (P-256), short names so the answer fits OCPP's 5,600 characters ---
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
type Cert = { der: Uint8Array; priv: Uint8Array; keys: webcrypto.CryptoKeyPair; name: string };
async function cert(name: string, issuer: Cert | undefined, ca: boolean): Promise<Cert> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const jwk = await webcrypto.subtle.exportKey('jwk', keys.privateKey);
  const c = await x509.X509CertificateGenerator.create({
    subject: `CN=${name}`,
    issuer: issuer?.name ?? `CN=${name}`,
    notBefore: new Date('2025-01-01'),
    notAfter: new Date('2035-01-01'),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    publicKey: keys.publicKey,
    signingKey: (issuer ?? { keys }).keys.privateKey,
    extensions: [new x509.BasicConstraintsExtension(ca, ca ? 0 : undefined, true)],
  });
  return { der: new Uint8Array(c.rawData), priv: Uint8Array.from(Buffer.from(jwk.d!, 'base64url')), keys, name: `CN=${name}` };
}
async function chain(p: string, leaf: string): Promise<Cert[]> {
  const r = await cert(`${p}Root`, undefined, true);
  const s1 = await cert(`${p}Sub1`, r, true);
  const s2 = await cert(`${p}Sub2`, s1, true);
  return [await cert(leaf, s2, false), s2, s1];
}
const [cps, mo, oem] = [await chain('CPS', 'CPS Leaf'), await chain('MO', 'DEABC123456789Y'), await chain('OEM', 'OEM Prov')];
const req: V2GMessage = {
  Header: { SessionID: Uint8Array.from(Buffer.from('CDC4C7082010CE5C', 'hex')) },
  Body: { CertificateInstallationReq: { Id: 'ID1', OEMProvisioningCert: oem[0]!.der, ListOfRootCertificateIDs: { RootCertificateID: [{ X509IssuerName: 'CN=V2GRoot', X509SerialNumber: 1n }] } } },
};
const exiRequest = Buffer.from(encodeV2GMessage(await signV2GMessage(req, ['ID1'], (d) => ecdsaSignP256(oem[0]!.priv, d)))).toString('base64');
const opts = {
  cps: { certificateChain: cps.map((c) => c.der), sign: (d: Uint8Array) => ecdsaSignP256(cps[0]!.priv, d) },
  issueContract: () => ({ certificateChain: mo.map((c) => c.der), privateKey: mo[0]!.priv }),
};
const lat: number[] = [];
let size = 0;
for (let i = 0; i < answers + 20; i++) {
  const t0 = performance.now();
  const { response } = await answerGet15118EVCertificate(exiRequest, opts);
  const ms = performance.now() - t0;
  size = response.exiBase64.length;
  if (i >= 20) lat.push(ms); // first 20: warm-up
}
lat.sort((a, b) => a - b);
const q = (p: number): string => (lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0).toFixed(2);

console.log(`EXI codec over ${corpus.length} vector documents (${corpusBytes} bytes), ${seconds} s per row`);
console.log('operation   MB/s   docs/s');
console.log(`decode    ${dec.mbps.toFixed(2).padStart(6)}  ${dec.docsPerS.toFixed(0).padStart(7)}`);
console.log(`encode    ${enc.mbps.toFixed(2).padStart(6)}  ${enc.docsPerS.toFixed(0).padStart(7)}`);
console.log('');
console.log(`Get15118EVCertificate answer (CertificateInstallationRes, ${size} base64 chars, self-check on), ${answers} runs`);
console.log('p50_ms  p90_ms  p99_ms  max_ms  target_p99_ms');
console.log([q(0.5), q(0.9), q(0.99), (lat.at(-1) ?? 0).toFixed(2), '25'].map((s) => s.padStart(6)).join('  '));
