// Certificate chains for CertificateSigned, good and deliberately bad, made for the key in a
// charger's CSR — so a suite can answer a SignCertificate with a chain the charger must refuse.
// The CSR is checked first with the same rules as the SignCertificate handlers (src/pki signCsr);
// each variant then breaks exactly one thing:
//
//   valid          what the CSMS sends by default (leaf + CPO Sub-CA 2 + Sub-CA 1 for 'secc'; leaf for 'charge-point')
//   wrong-issuer   leaf signed by a CA outside the bench hierarchy (chain: leaf + that CA; its root is not sent)
//   expired        leaf valid until yesterday
//   not-yet-valid  leaf valid from tomorrow
//   no-dc-cpo      leaf subject without DC=CPO ('secc' only)
//   wrong-key      leaf for another key than the CSR's (same subject)
//   too-long       the valid chain padded with further CA certificates of the bench PKI until it is
//                  longer than `maxChainBytes` (default 10 000, the schema limit of certificateChain)
//   leaf-only      the leaf without its sub-CAs
//   with-root      the valid chain plus its root
//
//   const pem = await certificateChainFor(pki, csr, 'expired', { profile: 'secc' });
//   // suites: cp.certificateChainFor(csr, 'expired') → then cp.call('CertificateSigned', { certificateChain: pem, certificateType: 'V2GCertificate' }, { pnc: true, signal })
import { deriveP256KeyPair, encodeName, generateP256KeyPair, issueCertificate, PkiCert, randomSerial, signCsr, type BenchPki, type CertificateAuthority, type NameSpec, type PkiRole } from '../pki/index.ts';
import { CsmsUsageError } from './errors.ts';

export const CHAIN_VARIANTS = ['valid', 'wrong-issuer', 'expired', 'not-yet-valid', 'no-dc-cpo', 'wrong-key', 'too-long', 'leaf-only', 'with-root'] as const;
export type ChainVariant = (typeof CHAIN_VARIANTS)[number];

export interface ChainOptions {
  /** 'secc' (PnC V2GCertificate, default) or 'charge-point' (1.6 security / ChargingStationCertificate) */
  profile?: 'secc' | 'charge-point';
  /** CSR checks: the CPO name (O); 'charge-point' needs it (default the PKI organization) */
  cpoName?: string;
  /** 'charge-point': the serial number the CSR's CN must equal */
  chargePointSerial?: string;
  /** 'too-long': the chain becomes longer than this many characters (default 10 000) */
  maxChainBytes?: number;
  /** reference time for validity (default now) */
  now?: Date;
}

const DAY_MS = 86_400_000;
const NAME_KEYS: readonly (keyof NameSpec)[] = ['CN', 'O', 'OU', 'L', 'ST', 'C', 'DC', 'serialNumber'];

/** A CA outside the bench hierarchy (same names, keys derived from another label): one per PKI. */
const rogueCas = new WeakMap<BenchPki, CertificateAuthority>();
function rogueCa(pki: BenchPki): CertificateAuthority {
  let ca = rogueCas.get(pki);
  if (ca) return ca;
  const key = deriveP256KeyPair(pki.seed, 'csms:chains:rogue-ca');
  const now = Date.now();
  const cert = issueCertificate({
    subject: encodeName({ CN: 'CPOSubCA2', O: pki.options.organization, C: pki.options.country, DC: 'V2G' }),
    subjectKey: key,
    issuer: { self: key },
    serialNumber: randomSerial(),
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + 3650 * DAY_MS),
    ca: true,
    pathLen: 0,
    keyUsage: ['keyCertSign', 'crlSign'],
  });
  ca = { cert, key };
  rogueCas.set(pki, ca);
  return ca;
}

/** A PEM certificate chain of `variant` for the key in `csrPem` (see the table above). Throws CsmsUsageError for a CSR the CSMS would reject. */
export async function certificateChainFor(pki: BenchPki, csrPem: string, variant: ChainVariant, opts: ChainOptions = {}): Promise<string> {
  if (!(CHAIN_VARIANTS as readonly string[]).includes(variant)) throw new CsmsUsageError(`certificateChainFor: variant "${String(variant)}" is not one of ${CHAIN_VARIANTS.join(', ')}`);
  const profile = opts.profile ?? 'secc';
  if (profile !== 'secc' && profile !== 'charge-point') throw new CsmsUsageError(`certificateChainFor: profile must be 'secc' or 'charge-point', got ${JSON.stringify(profile)}`);
  if (variant === 'no-dc-cpo' && profile !== 'secc') throw new CsmsUsageError("certificateChainFor: 'no-dc-cpo' exists only for the 'secc' profile (a charge-point certificate has no DC)");
  const maxChainBytes = opts.maxChainBytes ?? 10_000;
  if (!(Number.isInteger(maxChainBytes) && maxChainBytes > 0)) throw new CsmsUsageError(`certificateChainFor: maxChainBytes must be a positive whole number, got ${String(maxChainBytes)}`);
  const signed =
    profile === 'secc'
      ? await signCsr(pki, csrPem, { profile: 'secc', ...(opts.cpoName !== undefined ? { cpoName: opts.cpoName } : {}) })
      : await signCsr(pki, csrPem, { profile: 'charge-point', cpoName: opts.cpoName ?? pki.options.organization, chargePointSerial: opts.chargePointSerial ?? '' });
  if (!signed.ok) throw new CsmsUsageError(`certificateChainFor: the CSR is one the CSMS rejects (${signed.code}: ${signed.reason})`);
  const leaf = signed.cert;
  const cas = signed.chain.slice(1);
  const pem = (certs: PkiCert[]): string => certs.map((c) => c.pem).join('');
  const issuerRole: PkiRole = profile === 'secc' ? 'cpo-sub2' : 'csms-ca';
  const now = (opts.now ?? new Date()).getTime();
  const sec = (t: number): Date => new Date(Math.floor(t / 1000) * 1000);
  const reissue = (o: { subject?: Uint8Array; key?: Uint8Array | ReturnType<typeof generateP256KeyPair>; issuer?: CertificateAuthority; notBefore?: Date; notAfter?: Date }): PkiCert =>
    issueCertificate({
      subject: o.subject ?? leaf.subjectDer,
      subjectKey: o.key ?? leaf.spki,
      issuer: o.issuer ?? pki.authority(issuerRole),
      serialNumber: randomSerial(),
      notBefore: o.notBefore ?? leaf.notBefore,
      notAfter: o.notAfter ?? leaf.notAfter,
      ca: false,
      keyUsage: leaf.keyUsage?.usages ?? ['digitalSignature'],
      extKeyUsage: leaf.extKeyUsage,
      ocspUrl: leaf.ocspUrls[0],
    });

  switch (variant) {
    case 'valid':
      return signed.chainPem;
    case 'leaf-only':
      return leaf.pem;
    case 'with-root':
      return pem([...signed.chain, signed.root]);
    case 'wrong-issuer': {
      const ca = rogueCa(pki);
      return pem([reissue({ issuer: ca, notAfter: new Date(Math.min(leaf.notAfter.getTime(), ca.cert.notAfter.getTime())) }), ca.cert]);
    }
    case 'expired':
      return pem([reissue({ notBefore: sec(now - 30 * DAY_MS), notAfter: sec(now - DAY_MS) }), ...cas]);
    case 'not-yet-valid': {
      const issuerEnd = pki.cert(issuerRole).notAfter.getTime();
      const notBefore = sec(now + DAY_MS);
      return pem([reissue({ notBefore, notAfter: new Date(Math.min(issuerEnd, notBefore.getTime() + 60 * DAY_MS)) }), ...cas]);
    }
    case 'no-dc-cpo': {
      const spec: NameSpec = {};
      for (const a of leaf.subjectAttributes) if (a.type !== 'DC' && (NAME_KEYS as readonly string[]).includes(a.type)) spec[a.type as keyof NameSpec] = a.value;
      return pem([reissue({ subject: encodeName(spec) }), ...cas]);
    }
    case 'wrong-key':
      return pem([reissue({ key: generateP256KeyPair() }), ...cas]);
    case 'too-long': {
      const padding = pki
        .entries()
        .filter(([, e]) => e.cert.basicConstraints?.ca === true)
        .map(([, e]) => e.cert);
      const out = [...signed.chain];
      let len = signed.chainPem.length;
      for (let i = 0; len <= maxChainBytes; i++) {
        const c = padding[i % padding.length] as PkiCert;
        out.push(c);
        len += c.pem.length;
      }
      return pem(out);
    }
  }
}
