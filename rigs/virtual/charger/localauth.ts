// The simulated charger's local authorization: the Local Authorization List (SendLocalList /
// GetLocalListVersion, Full and Differential updates with versions) and the Authorization Cache
// (filled from CSMS answers — PnC Authorize, Start/StopTransaction — through cacheIdTagInfo in
// authorize.ts; ClearCache empties it). Used by the
// offline rules of PnC authorization (C07): an eMAID may charge offline only when it is in the list
// (Accepted) or the cache. idTags compare case-insensitively; eMAIDs also without separators.
//
//   const la = new LocalAuth();
//   la.sendLocalList({ listVersion: 1, updateType: 'Full', localAuthorizationList: [{ idTag: 'DEPNB...', idTagInfo: { status: 'Accepted' } }] }, limits)
//   la.lookupList('DE-PNB-...')   // { status: 'Accepted' }
import type { AuthorizationStatus201, IdTagInfo as IdTagInfo16, Ocpp16Calls } from '../../../src/csms/messages.ts';
import { emaidEquals } from '../../../src/pki/index.ts';

/** An entry of the list or the cache: a 1.6 IdTagInfo whose status may also be a PnC (2.0.1) one, since the cache keeps PnC Authorize results. */
export type IdTagInfo = Omit<IdTagInfo16, 'status'> & { status: AuthorizationStatus201 };

function sameTag(a: string, b: string): boolean {
  if (a.toUpperCase() === b.toUpperCase()) return true;
  try {
    return emaidEquals(a, b);
  } catch {
    return false;
  }
}

function find(map: ReadonlyMap<string, IdTagInfo>, idTag: string): IdTagInfo | undefined {
  const exact = map.get(idTag.toUpperCase());
  if (exact) return exact;
  for (const [k, v] of map) if (sameTag(k, idTag)) return v;
  return undefined;
}

/** The status to use for an entry: Expired once its expiryDate has passed. */
export function effectiveStatus(info: IdTagInfo, now = Date.now()): AuthorizationStatus201 {
  if (info.expiryDate !== undefined) {
    const t = Date.parse(info.expiryDate);
    if (Number.isFinite(t) && t < now) return 'Expired';
  }
  return info.status;
}

export class LocalAuth {
  private version = 0;
  private readonly list = new Map<string, IdTagInfo>();
  private readonly cache = new Map<string, IdTagInfo>();

  get listVersion(): number {
    return this.version;
  }

  get listSize(): number {
    return this.list.size;
  }

  /** Applies a SendLocalList (payload valid per its schema). */
  sendLocalList(
    req: Ocpp16Calls['SendLocalList']['req'],
    limits: { enabled: boolean; maxSend: number; maxLength: number },
  ): { status: Ocpp16Calls['SendLocalList']['conf']['status']; reason: string } {
    if (!limits.enabled) return { status: 'NotSupported', reason: 'LocalAuthListEnabled is false' };
    const entries = req.localAuthorizationList ?? [];
    if (entries.length > limits.maxSend) return { status: 'Failed', reason: `${entries.length} entries; SendLocalListMaxLength is ${limits.maxSend}` };
    if (req.updateType === 'Differential' && req.listVersion <= this.version) return { status: 'VersionMismatch', reason: `listVersion ${req.listVersion} is not newer than ${this.version}` };
    const next = req.updateType === 'Full' ? new Map<string, IdTagInfo>() : new Map(this.list);
    for (const e of entries) {
      const key = e.idTag.toUpperCase();
      if (e.idTagInfo) next.set(key, { ...e.idTagInfo });
      else next.delete(key);
    }
    if (next.size > limits.maxLength) return { status: 'Failed', reason: `the list would hold ${next.size} entries; LocalAuthListMaxLength is ${limits.maxLength}` };
    this.list.clear();
    for (const [k, v] of next) this.list.set(k, v);
    this.version = req.listVersion;
    return { status: 'Accepted', reason: `version ${this.version}, ${this.list.size} entries` };
  }

  lookupList(idTag: string): IdTagInfo | undefined {
    return find(this.list, idTag);
  }

  lookupCache(idTag: string): IdTagInfo | undefined {
    return find(this.cache, idTag);
  }

  updateCache(idTag: string, info: IdTagInfo): void {
    this.cache.set(idTag.toUpperCase(), { ...info });
  }

  clearCache(): void {
    this.cache.clear();
  }

  snapshot(): Record<string, unknown> {
    return { listVersion: this.version, list: Object.fromEntries(this.list), cache: Object.fromEntries(this.cache) };
  }
}
