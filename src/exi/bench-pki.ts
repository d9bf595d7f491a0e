// The bench PKI (src/pki) as the CPS of answerGet15118EVCertificate: the CPS leaf signs (OpenSSL,
// random k: nothing in a response needs to be reproducible), the CPS chain offers its V2G root
// for the EV's ListOfRootCertificateIDs, the OEM root with OEM Sub-CA 1/2 checks the EV's
// provisioning certificate, and the MO + V2G roots with MO Sub-CA 1/2 check the contract chain of
// a CertificateUpdateReq. Parsed once per BenchPki and cached (the answer path stays cheap).
//
//   const { request, response, assessment } = await answerGet15118EVCertificate(exiRequest, {
//     ...benchAnswerOptions(pki),
//     issueContract: () => { const c = issueContractCertificate(pki); return { certificateChain: c.chain.map((x) => x.der), privateKey: c.key.privateKey }; },
//   });
import { cpsSigner, signP256RawFast, type BenchPki } from '../pki/index.ts';
import type { CpsSigner, OemTrustStore, TrustStore } from './certinstall.ts';

export interface BenchAnswerOptions {
  cps: CpsSigner;
  oemTrust: OemTrustStore;
  contractTrust: TrustStore;
}

const cache = new WeakMap<BenchPki, BenchAnswerOptions>();

/** CPS signer, OEM trust and contract trust of a bench PKI for answerGet15118EVCertificate (cached per PKI). */
export function benchAnswerOptions(pki: BenchPki): BenchAnswerOptions {
  let o = cache.get(pki);
  if (!o) {
    const s = cpsSigner(pki);
    const key = s.key;
    o = {
      cps: { certificateChain: [s.cert.der, ...s.subCertificates.map((c) => c.der)], root: s.root, sign: (d) => signP256RawFast(key, d) },
      oemTrust: { roots: [pki.cert('oem-root')], intermediates: [pki.cert('oem-sub2'), pki.cert('oem-sub1')] },
      contractTrust: { roots: pki.contractTrustAnchors(), intermediates: [pki.cert('mo-sub2'), pki.cert('mo-sub1')] },
    };
    cache.set(pki, o);
  }
  return o;
}
