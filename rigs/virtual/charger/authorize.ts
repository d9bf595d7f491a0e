// PnC authorization of a contract (use case C07 of the OCA app note, rules in rigs/virtual/README.md):
// the decision the charger makes when its SECC hands over the EV's eMAID and contract chain from
// PaymentDetailsReq.
//
//   1. ISO15118PnCEnabled false → Invalid, nothing sent.
//   2. Online: build the path leaf → sub-CAs → an installed MO or V2G root. Issuer found (valid or not)
//      and every certificate carries an OCSP URL → DataTransfer Authorize with idToken (type eMAID) and
//      iso15118CertificateHashData (one OCSPRequestData per certificate except the root). Otherwise
//      CentralContractValidationAllowed true → Authorize with the PEM chain; false → Invalid, nothing sent.
//      The answer's idTokenInfo.status decides (and goes into the authorization cache).
//   3. Offline: ContractValidationOffline false → NotAtThisTime; true → local validation (path,
//      signatures, validity, profile); expired → Expired; valid + LocalAuthorizeOffline → Accepted only
//      when the eMAID is in the local list or the cache; otherwise no charging.
//
//   const r = await authorizeContract(host, localAuth, { emaid, certificatesDer }, signal);
//   r.status  // 'Accepted' | 'Invalid' | ... ; r.decidedBy: 'csms' | 'local-list' | 'cache' | 'offline-rule' | ...
import { isPlainObject } from '../../../src/csms/frames.ts';
import type { AuthorizationStatus201 } from '../../../src/csms/messages.ts';
import { buildPath, ocspRequestData, parseCertificateDer, validateContract, type OcspRequestData, type PkiCert } from '../../../src/pki/index.ts';
import type { ContractChain, PncAuthorizationResult } from './backend.ts';
import { effectiveStatus, type IdTagInfo, type LocalAuth } from './localauth.ts';
import { q } from './log.ts';
import type { PncHost } from './pnc.ts';
import type { JsonObject } from './rpc.ts';

/** Every AuthorizationStatus201 value (the type keeps the list complete). */
const STATUSES: Readonly<Record<AuthorizationStatus201, true>> = {
  Accepted: true,
  Blocked: true,
  ConcurrentTx: true,
  Expired: true,
  Invalid: true,
  NoCredit: true,
  NotAllowedTypeEVSE: true,
  NotAtThisLocation: true,
  NotAtThisTime: true,
  Unknown: true,
};

/** A status from the CSMS (or the cache it filled), 'Unknown' when it is not one. */
function asStatus(v: unknown): AuthorizationStatus201 {
  return typeof v === 'string' && Object.hasOwn(STATUSES, v) ? (v as AuthorizationStatus201) : 'Unknown';
}

/** Hash data as the charger sends it, with the hash-format faults applied. */
export function contractHashData(path: readonly PkiCert[], faults: ReadonlySet<string>): OcspRequestData[] {
  const out: OcspRequestData[] = [];
  for (let i = 0; i + 1 < path.length; i++) {
    const h = ocspRequestData(path[i] as PkiCert, path[i + 1] as PkiCert); // throws without an OCSP URL
    if (faults.has('hash-uppercase')) {
      h.issuerNameHash = h.issuerNameHash.toUpperCase();
      h.issuerKeyHash = h.issuerKeyHash.toUpperCase();
    }
    if (faults.has('serial-decimal')) h.serialNumber = BigInt(`0x${h.serialNumber}`).toString(10);
    out.push(h);
  }
  return out;
}

export async function authorizeContract(host: PncHost, local: LocalAuth, chain: ContractChain, signal: AbortSignal, extra: { available: boolean } = { available: true }): Promise<PncAuthorizationResult> {
  const done = (r: PncAuthorizationResult, reason: string): PncAuthorizationResult => {
    host.logLine('pnc', `authorize emaid=${chain.emaid} status=${r.status} by=${r.decidedBy}${r.certificateStatus ? ` certificateStatus=${r.certificateStatus}` : ''} reason=${q(reason)}`);
    return r;
  };
  const c = host.config;
  if (!c.bool('ISO15118PnCEnabled')) return done({ status: 'Invalid', decidedBy: 'pnc-disabled' }, 'ISO15118PnCEnabled is false');
  if (!extra.available) return done({ status: 'NotAtThisTime', decidedBy: 'unavailable' }, 'connector is Unavailable (ChangeAvailability Inoperative)');

  let certs: PkiCert[];
  try {
    if (chain.certificatesDer.length === 0) throw new Error('the EV sent no contract certificate');
    certs = chain.certificatesDer.map((d, i) => parseCertificateDer(new Uint8Array(d), `contract[${i}]`));
  } catch (e) {
    return done({ status: 'Invalid', certificateStatus: 'CertChainError', decidedBy: 'local-check' }, e instanceof Error ? e.message : String(e));
  }

  if (!host.online()) return offline(host, local, chain, certs, done);

  const anchors = host.certs.contractAnchors();
  const { path, error } = buildPath(certs, anchors);
  let hashData: OcspRequestData[] | undefined;
  let why = '';
  if (error) why = `issuer not found: ${error}`;
  else {
    try {
      hashData = contractHashData(path, host.faults);
    } catch (e) {
      why = `no OCSP data: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  const idToken = { idToken: chain.emaid, type: 'eMAID' };
  let request: JsonObject;
  let reason: string;
  if (hashData) {
    request = host.faults.has('ocsp-data-missing') ? { idToken } : { idToken, iso15118CertificateHashData: hashData as unknown as JsonObject[] };
    reason = `chain to "${path[path.length - 1]?.subject}" verified locally; hash data for ${hashData.length} certificate(s)`;
  } else if (c.bool('CentralContractValidationAllowed') || host.faults.has('central-validation-ignored')) {
    request = { idToken, certificate: certs.map((x) => x.pem).join('') };
    reason = `${why}; certificate sent for central validation`;
  } else {
    return done({ status: 'Invalid', decidedBy: 'central-not-allowed' }, `${why}; CentralContractValidationAllowed is false`);
  }

  if (host.faults.has('regular-authorize-for-pnc')) {
    try {
      const conf = await host.sendCore('Authorize', { idTag: chain.emaid.slice(0, 20) }, { signal });
      const info: unknown = conf.idTagInfo;
      const status = isPlainObject(info) ? info.status : undefined;
      cacheIdTagInfo(host, local, chain.emaid, info);
      return done({ status: asStatus(status), decidedBy: 'csms' }, `OCPP Authorize answered ${String(status)}`);
    } catch (e) {
      return done({ status: 'Unknown', decidedBy: 'csms-error' }, e instanceof Error ? e.message : String(e));
    }
  }

  try {
    const a = await host.sendPnc('Authorize', request, { signal });
    const info = a.data?.idTokenInfo;
    if (a.status !== 'Accepted' || !a.data || !isPlainObject(info)) {
      return done({ status: 'Unknown', decidedBy: 'csms-error' }, `DataTransfer Authorize answered ${a.status}${a.data ? '' : ' without data'}`);
    }
    const status = asStatus(info.status);
    const certificateStatus = typeof a.data.certificateStatus === 'string' ? a.data.certificateStatus : undefined;
    cacheIdTagInfo(host, local, chain.emaid, { status: info.status, expiryDate: info.cacheExpiryDateTime });
    return done({ status, ...(certificateStatus ? { certificateStatus } : {}), decidedBy: 'csms' }, reason);
  } catch (e) {
    return done({ status: 'Unknown', decidedBy: 'csms-error' }, e instanceof Error ? e.message : String(e));
  }
}

/**
 * Puts the idTagInfo of a CSMS answer (Authorize, StartTransaction, StopTransaction; a PnC Authorize's
 * idTokenInfo as `{ status, expiryDate: cacheExpiryDateTime }`) into the authorization cache when
 * AuthorizationCacheEnabled is true. A status that is not an AuthorizationStatus goes in as Unknown;
 * expiryDate and parentIdTag only when they are strings; no string status → nothing is cached.
 */
export function cacheIdTagInfo(host: Pick<PncHost, 'config'>, local: LocalAuth, idTag: string, info: unknown): void {
  if (!isPlainObject(info) || typeof info.status !== 'string' || !host.config.bool('AuthorizationCacheEnabled')) return;
  const entry: IdTagInfo = { status: asStatus(info.status) };
  if (typeof info.expiryDate === 'string') entry.expiryDate = info.expiryDate;
  if (typeof info.parentIdTag === 'string') entry.parentIdTag = info.parentIdTag;
  local.updateCache(idTag, entry);
}

async function offline(
  host: PncHost,
  local: LocalAuth,
  chain: ContractChain,
  certs: PkiCert[],
  done: (r: PncAuthorizationResult, reason: string) => PncAuthorizationResult,
): Promise<PncAuthorizationResult> {
  const c = host.config;
  if (!c.bool('ContractValidationOffline')) {
    if (host.faults.has('offline-charging-without-validation')) return done({ status: 'Accepted', decidedBy: 'offline-rule' }, 'offline; ContractValidationOffline is false (ignored)');
    return done({ status: 'NotAtThisTime', decidedBy: 'offline-rule' }, 'offline and ContractValidationOffline is false');
  }
  const v = await validateContract({ certificate: certs, emaid: chain.emaid, trustAnchors: host.certs.contractAnchors(), ocsp: false });
  if (v.status === 'CertificateExpired') return done({ status: 'Expired', certificateStatus: 'CertificateExpired', decidedBy: 'offline-rule' }, `offline; ${v.reason}`);
  if (v.status !== 'Accepted') return done({ status: 'Invalid', certificateStatus: v.status, decidedBy: 'offline-rule' }, `offline; ${v.reason}`);
  if (!c.bool('LocalAuthorizeOffline')) return done({ status: 'Unknown', certificateStatus: 'Accepted', decidedBy: 'offline-rule' }, 'offline; contract valid but LocalAuthorizeOffline is false');
  if (c.bool('LocalAuthListEnabled')) {
    const e = local.lookupList(chain.emaid);
    if (e) return done({ status: asStatus(effectiveStatus(e)), certificateStatus: 'Accepted', decidedBy: 'local-list' }, `offline; eMAID in the local list (${e.status})`);
  }
  if (c.bool('AuthorizationCacheEnabled')) {
    const e = local.lookupCache(chain.emaid);
    if (e) return done({ status: asStatus(effectiveStatus(e)), certificateStatus: 'Accepted', decidedBy: 'cache' }, `offline; eMAID in the authorization cache (${e.status})`);
  }
  return done({ status: 'Unknown', certificateStatus: 'Accepted', decidedBy: 'offline-rule' }, 'offline; contract valid but the eMAID is neither in the local list nor in the cache');
}
