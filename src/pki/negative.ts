// Negative material on demand: certificate chains that break exactly one rule, for the bench's
// negative tests (PnC Authorize, CertificateSigned). Each comes with the status a correct CSMS
// reaches for it (`expectedStatus`, with `pki.contractTrustAnchors()` trusted and an OCSP responder
// over the same PKI that has had `applyRevocations` done). Keys and serials derive from the PKI seed,
// so the material is reproducible; validity is placed relative to `now`.
//
//   const m = negativeMaterial(pki, 'revoked');
//   applyRevocations(responder, m);
//   (await validateContract({ certificate: m.chainPem, trustAnchors: pki.contractTrustAnchors(), ocsp: { transport: responder.transport } })).status
//     // === m.expectedStatus ('CertificateRevoked')
//
// Branch 'secc' builds the same faults on an SECC chain (CPO Sub-CAs under the V2G root), for
// CertificateSigned tests; contract-only kinds are refused there.
import { generateEmaid } from './emaid.ts';
import { PkiInputError } from './errors.ts';
import type { BenchPki, ResolvedPkiOptions } from './hierarchy.ts';
import { addDays, deriveSerial, type CertificateAuthority, type IssueSpec } from './issue.ts';
import { deriveBytes, deriveP256KeyPair, type P256KeyPair } from './keys.ts';
import type { CrlReason, OcspResponder } from './ocsp.ts';
import { ROLE_PROFILES, type PkiRole } from './profile.ts';
import type { AuthorizeCertificateStatus } from './validation.ts';
import { encodeName, PkiCert, type KeyUsageType } from './x509.ts';

export const NEGATIVE_KINDS = [
  'expired',
  'not-yet-valid',
  'revoked',
  'wrong-dc',
  'wrong-pathlen',
  'missing-keyusage',
  'oversize-chain',
  'unknown-root',
  'contract-under-v2g-root',
  'contract-under-cpo-subca',
  'no-ocsp-url',
  'bad-signature',
  'wrong-emaid-check-digit',
] as const;
export type NegativeKind = (typeof NEGATIVE_KINDS)[number];

const CONTRACT_ONLY: readonly NegativeKind[] = ['contract-under-v2g-root', 'contract-under-cpo-subca', 'wrong-emaid-check-digit'];

export const NEGATIVE_DESCRIPTIONS: Readonly<Record<NegativeKind, string>> = {
  expired: 'leaf expired one day ago',
  'not-yet-valid': 'leaf becomes valid tomorrow',
  revoked: 'leaf revoked (keyCompromise) at the OCSP responder',
  'wrong-dc': 'leaf subject carries the wrong DC (CPO on a contract, V2G on an SECC leaf)',
  'wrong-pathlen': 'Sub-CA 1 has pathLen 0 but issues Sub-CA 2 (path length constraint exceeded)',
  'missing-keyusage': 'leaf has no keyUsage extension',
  'oversize-chain': 'three sub-CAs between root and leaf (ISO 15118 allows two); pathLen allows it',
  'unknown-root': 'chain ends at a root the bench does not trust',
  'contract-under-v2g-root': 'MO Sub-CAs issued by the V2G root instead of the MO root (valid when the V2G root is trusted)',
  'contract-under-cpo-subca': 'contract issued by CPO Sub-CA 2 (a CA of the charging side, not of a mobility operator) under the trusted V2G root',
  'no-ocsp-url': 'leaf has no authorityInfoAccess OCSP URL',
  'bad-signature': 'leaf signature corrupted (one bit flipped)',
  'wrong-emaid-check-digit': 'contract CN is an eMAID with a wrong check digit',
};

const EXPECTED: Readonly<Record<NegativeKind, AuthorizeCertificateStatus>> = {
  expired: 'CertificateExpired',
  'not-yet-valid': 'CertificateExpired',
  revoked: 'CertificateRevoked',
  'wrong-dc': 'CertChainError',
  'wrong-pathlen': 'CertChainError',
  'missing-keyusage': 'CertChainError',
  'oversize-chain': 'CertChainError',
  'unknown-root': 'CertChainError',
  'contract-under-v2g-root': 'Accepted',
  'contract-under-cpo-subca': 'CertChainError',
  'no-ocsp-url': 'CertChainError',
  'bad-signature': 'SignatureError',
  'wrong-emaid-check-digit': 'CertChainError',
};

export interface NegativeMaterial {
  kind: NegativeKind;
  branch: 'contract' | 'secc';
  description: string;
  /** The leaf and its key. */
  cert: PkiCert;
  key: P256KeyPair;
  /** Leaf first, then sub-CAs; no root (what a charger sends). */
  chain: PkiCert[];
  chainPem: string;
  /** The root the chain leads to (not trusted for 'unknown-root'). */
  root: PkiCert;
  /** Leaf CN (the eMAID for contracts). */
  commonName: string;
  /** What contract validation must answer (contract branch; SECC material reuses the same mapping). */
  expectedStatus: AuthorizeCertificateStatus;
  /** Revocations to give the OCSP responder (`applyRevocations`). */
  revocations: { cert: PkiCert; reason: CrlReason }[];
}

export interface NegativeOptions {
  branch?: 'contract' | 'secc';
  /** Reference time for expired / not-yet-valid; default now. */
  now?: Date;
}

const BRANCH = {
  contract: { leaf: 'contract', sub2: 'mo-sub2', sub1: 'mo-sub1', root: 'mo-root', dc: 'MO', wrongDc: 'CPO' },
  secc: { leaf: 'secc-leaf', sub2: 'cpo-sub2', sub1: 'cpo-sub1', root: 'v2g-root', dc: 'CPO', wrongDc: 'V2G' },
} as const;

/** Makes one piece of negative material (see NEGATIVE_DESCRIPTIONS). */
export function negativeMaterial(pki: BenchPki, kind: NegativeKind, opts: NegativeOptions = {}): NegativeMaterial {
  if (!NEGATIVE_KINDS.includes(kind)) throw new PkiInputError('kind', `"${kind}" is not one of ${NEGATIVE_KINDS.join(', ')}`);
  const branch = opts.branch ?? 'contract';
  if (branch !== 'contract' && branch !== 'secc') throw new PkiInputError('branch', `"${branch}" is not contract or secc`);
  if (branch === 'secc' && CONTRACT_ONLY.includes(kind)) throw new PkiInputError('kind', `"${kind}" exists only for the contract branch`);
  const b = BRANCH[branch];
  const o = pki.options;
  const now = new Date(Math.floor((opts.now ?? new Date()).getTime() / 1000) * 1000);
  const label = (what: string) => `neg:${branch}:${kind}:${what}`;
  const key = (what: string) => deriveP256KeyPair(o.seed, `key:${label(what)}`);
  const serial = (what: string) => deriveSerial(o.seed, `serial:${label(what)}`);

  const leafRole = b.leaf as PkiRole;
  const leafProfile = ROLE_PROFILES[leafRole];
  const commonName: string = branch === 'contract' ? generateEmaid({ country: o.country, randomBytes: (n) => deriveBytes(o.seed, label('emaid'), n), wrongCheckDigit: kind === 'wrong-emaid-check-digit' }) : leafProfile.commonName;

  // Sub-CA chain above the leaf: the PKI's own, or a re-made one for the chain-shape faults.
  let issuer: CertificateAuthority = pki.authority(b.sub2 as PkiRole);
  let subs: PkiCert[] = [pki.cert(b.sub2 as PkiRole), pki.cert(b.sub1 as PkiRole)];
  let root = pki.cert(b.root as PkiRole);
  const mkCa = (name: string, parent: CertificateAuthority, pathLen: number | undefined): CertificateAuthority => {
    const k = key(name);
    const spec: IssueSpec = {
      subject: encodeName({ CN: name, O: o.organization, C: o.country, DC: branch === 'contract' ? 'MO' : 'V2G' }),
      subjectKey: k,
      issuer: parent,
      serialNumber: serial(name),
      notBefore: o.notBefore,
      notAfter: addDays(o.notBefore, 1460),
      ca: true,
      pathLen,
      keyUsage: ['keyCertSign', 'crlSign'],
      ocspUrl: o.ocspUrl,
    };
    if (spec.notAfter > parent.cert.notAfter) spec.notAfter = parent.cert.notAfter;
    return { cert: pki.issue(spec), key: k };
  };
  const rootCa = (): CertificateAuthority => pki.authority(b.root as PkiRole);
  const prefix = branch === 'contract' ? 'MO' : 'CPO';

  switch (kind) {
    case 'wrong-pathlen': {
      const s1 = mkCa(`${prefix}SubCA1-PathLen0`, rootCa(), 0);
      const s2 = mkCa(`${prefix}SubCA2-UnderPathLen0`, s1, 0);
      issuer = s2;
      subs = [s2.cert, s1.cert];
      break;
    }
    case 'oversize-chain': {
      const s1 = mkCa(`${prefix}SubCA1-Long`, rootCa(), 2);
      const s2 = mkCa(`${prefix}SubCA2-Long`, s1, 1);
      const s3 = mkCa(`${prefix}SubCA3-Long`, s2, 0);
      issuer = s3;
      subs = [s3.cert, s2.cert, s1.cert];
      break;
    }
    case 'unknown-root': {
      const rk = key('root');
      const rootSpec: IssueSpec = {
        subject: encodeName({ CN: `Foreign${ROLE_PROFILES[b.root as PkiRole].commonName}`, O: 'foreign-pki', C: o.country, DC: branch === 'contract' ? 'MO' : 'V2G' }),
        subjectKey: rk,
        issuer: { self: rk },
        serialNumber: serial('root'),
        notBefore: o.notBefore,
        notAfter: addDays(o.notBefore, 3650),
        ca: true,
        keyUsage: ['keyCertSign', 'crlSign'],
      };
      const foreignRoot: CertificateAuthority = { cert: pki.issue(rootSpec), key: rk };
      const s1 = mkCa(`${prefix}SubCA1-Foreign`, foreignRoot, 1);
      const s2 = mkCa(`${prefix}SubCA2-Foreign`, s1, 0);
      issuer = s2;
      subs = [s2.cert, s1.cert];
      root = foreignRoot.cert;
      break;
    }
    case 'contract-under-cpo-subca': {
      issuer = pki.authority('cpo-sub2');
      subs = [pki.cert('cpo-sub2'), pki.cert('cpo-sub1')];
      root = pki.cert('v2g-root');
      break;
    }
    case 'contract-under-v2g-root': {
      const s1 = mkCa('MOSubCA1-V2G', pki.authority('v2g-root'), 1);
      const s2 = mkCa('MOSubCA2-V2G', s1, 0);
      issuer = s2;
      subs = [s2.cert, s1.cert];
      root = pki.cert('v2g-root');
      break;
    }
    default:
      break;
  }

  let notBefore = new Date(now.getTime() - 86_400_000);
  let notAfter = addDays(now, 30);
  if (kind === 'expired') {
    notBefore = new Date(now.getTime() - 31 * 86_400_000);
    notAfter = new Date(now.getTime() - 86_400_000);
  } else if (kind === 'not-yet-valid') {
    notBefore = new Date(now.getTime() + 86_400_000);
    notAfter = addDays(notBefore, 30);
  }
  if (notAfter > issuer.cert.notAfter) notAfter = issuer.cert.notAfter;
  const leafKey = key('leaf');
  const keyUsage: readonly KeyUsageType[] | null = kind === 'missing-keyusage' ? null : leafProfile.keyUsage;
  let cert = pki.issue({
    subject: encodeName({ CN: commonName, O: o.organization, C: o.country, DC: kind === 'wrong-dc' ? b.wrongDc : b.dc }),
    subjectKey: leafKey,
    issuer,
    serialNumber: serial('leaf'),
    notBefore,
    notAfter,
    ca: false,
    keyUsage,
    ocspUrl: kind === 'no-ocsp-url' ? undefined : o.ocspUrl,
  });
  if (kind === 'bad-signature') cert = corruptSignature(cert);
  const chain = [cert, ...subs];
  return {
    kind,
    branch,
    description: NEGATIVE_DESCRIPTIONS[kind],
    cert,
    key: leafKey,
    chain,
    chainPem: chain.map((c) => c.pem).join(''),
    root,
    commonName,
    expectedStatus: expectedFor(kind, o),
    revocations: kind === 'revoked' ? [{ cert, reason: 'keyCompromise' }] : [],
  };
}

function expectedFor(kind: NegativeKind, o: ResolvedPkiOptions): AuthorizeCertificateStatus {
  // Without a configured OCSP URL no certificate can be checked for revocation: a chain that gets as far
  // as the OCSP step fails there (validateContract's default missingOcspUrl: 'error').
  const e = EXPECTED[kind];
  if (!o.ocspUrl && (e === 'Accepted' || e === 'CertificateRevoked')) return 'CertChainError';
  return e;
}

/** The same certificate with one bit of its signature value flipped (still well-formed DER). */
function corruptSignature(cert: PkiCert): PkiCert {
  const der = Uint8Array.from(cert.der);
  der[der.length - 1] = (der[der.length - 1] as number) ^ 0x01;
  return new PkiCert(der);
}

/** Tells the responder about the material's revocations. */
export function applyRevocations(responder: OcspResponder, material: NegativeMaterial): void {
  for (const r of material.revocations) responder.revoke(r.cert, { reason: r.reason });
}
