// Benchmark: the bench PKI's hot paths against the issue's targets. Prints a table:
// full PKI generation (18 certificates incl. the deterministic RSA key; target < 2 s), CSR signing
// p50 (target < 5 ms) and contract chain validation incl. OCSP p50 (target < 2 ms; in-process
// responder, and over HTTP on loopback for comparison). Run with `npx tsx scripts/perf/pki.ts`.
import { webcrypto } from 'node:crypto';
import { x509 } from '../../test/helpers/peculiar.ts';
import {
  generatePki,
  httpOcspTransport,
  issueContractCertificate,
  OcspResponder,
  signCsr,
  startOcspHttpServer,
  validateContract,
  type BenchPki,
} from '../../src/pki/index.ts';

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))] ?? 0;
};

interface Row {
  what: string;
  n: number;
  p50: number;
  p99: number;
  max: number;
  target: number | undefined;
}
const rows: Row[] = [];
const record = (what: string, samples: number[], target?: number) => rows.push({ what, n: samples.length, p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), max: Math.max(...samples), target });

async function timeAsync(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

// --- full PKI generation: the first one in a fresh process (cold JIT) and then warm runs
const notBefore = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()));
let t = performance.now();
generatePki({ seed: 'perf-cold', notBefore, ocspUrl: 'http://127.0.0.1:1/ocsp' });
const cold = performance.now() - t;
record('full PKI generation, first in process', [cold], 2000);
const gen: number[] = [];
for (let i = 0; i < 5; i++) {
  t = performance.now();
  generatePki({ seed: `perf-${i}`, notBefore, ocspUrl: 'http://127.0.0.1:1/ocsp' });
  gen.push(performance.now() - t);
}
record('full PKI generation, warm', gen, 2000);

// --- a PKI whose AIA points at a live loopback responder
const probe = await startOcspHttpServer(new OcspResponder({ authorities: () => [], isIssued: () => false }));
const port = probe.port;
await probe.close();
const pki: BenchPki = generatePki({ seed: 'perf', notBefore: new Date(notBefore.getTime() - 86_400_000), ocspUrl: `http://127.0.0.1:${port}/ocsp`, organization: 'ACME CPO' });
const responder = new OcspResponder(pki);
const server = await startOcspHttpServer(responder, { url: pki.ocspUrl });

// --- CSR signing: distinct CSRs made with WebCrypto keys through @peculiar/x509
async function makeCsrs(n: number, subject: string, alg: webcrypto.EcKeyGenParams, signAlg: webcrypto.EcdsaParams): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: subject, keys, signingAlgorithm: signAlg });
    out.push(csr.toString('pem'));
  }
  return out;
}
const ec = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ecSign = { name: 'ECDSA', hash: 'SHA-256' } as const;
const seccCsrs = await makeCsrs(200, 'CN=DEPNX100001, O=ACME CPO, C=DE, DC=CPO', ec, ecSign);
const cpCsrs = await makeCsrs(200, 'CN=CP-0001, O=ACME CPO', ec, ecSign);
for (const c of seccCsrs.slice(0, 20)) await signCsr(pki, c, { profile: 'secc' }); // warm-up
let rejected = 0;
const countReject = (r: { ok: boolean }) => {
  if (!r.ok) rejected++;
};
record('CSR signing, SECC (V2G) P-256', await timeAsync(seccCsrs.length, async (i) => countReject(await signCsr(pki, seccCsrs[i] as string, { profile: 'secc', cpoName: 'ACME CPO' }))), 5);
record('CSR signing, ChargePoint P-256', await timeAsync(cpCsrs.length, async (i) => countReject(await signCsr(pki, cpCsrs[i] as string, { profile: 'charge-point', cpoName: 'ACME CPO', chargePointSerial: 'CP-0001' }))), 5);
if (rejected) throw new Error(`${rejected} benchmark CSRs were rejected`);

// --- contract chain validation including OCSP for leaf, MO Sub-CA 2 and MO Sub-CA 1
const contracts = Array.from({ length: 300 }, () => issueContractCertificate(pki));
const pems = contracts.map((c) => c.chain.map((x) => x.pem).join(''));
const anchors = pki.contractTrustAnchors();
const check = (status: string) => {
  if (status !== 'Accepted') throw new Error(`benchmark contract not accepted: ${status}`);
};
for (let i = 0; i < 50; i++) check((await validateContract({ certificate: pems[i], trustAnchors: anchors, ocsp: { transport: responder.transport } })).status);
record(
  'contract validation + OCSP, in-process',
  await timeAsync(pems.length, async (i) => check((await validateContract({ certificate: pems[i], emaid: contracts[i]?.emaid, trustAnchors: anchors, ocsp: { transport: responder.transport } })).status)),
  2,
);
const http = httpOcspTransport({ timeoutMs: 5000 });
record(
  'contract validation + OCSP, HTTP loopback',
  await timeAsync(pems.length, async (i) => check((await validateContract({ certificate: pems[i], emaid: contracts[i]?.emaid, trustAnchors: anchors, ocsp: { transport: http } })).status)),
);
await server.close();

// --- table
console.log(`pki benchmark (node ${process.version}, ${process.arch})`);
const header = ['measurement', 'n', 'p50_ms', 'p99_ms', 'max_ms', 'target', 'verdict'];
const lines = rows.map((r) => [
  r.what,
  String(r.n),
  r.p50.toFixed(3),
  r.p99.toFixed(3),
  r.max.toFixed(3),
  r.target === undefined ? '-' : `< ${r.target} ms`,
  r.target === undefined ? '-' : r.p50 < r.target ? 'ok' : 'MISSED',
]);
const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
for (const l of [header, ...lines]) console.log(l.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
