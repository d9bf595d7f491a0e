// Offline contract validation (C07.FR.07–09 of the OCA 1.6 PnC application note): for each row of
// the offline rule table the bench sets the charger's keys while it is online (ContractValidationOffline,
// LocalAuthorizeOffline, AllowOfflineTxForUnknownId, the local list, the authorization cache), cuts
// its link (the mock CSMS drops the WebSocket and refuses reconnects), runs a Contract session,
// watches whether power flows, restores the link and checks the transaction messages the charger
// queued while offline. Each row is one phase; the default rows are the most discriminating ones,
// `pnc.offline.rows: all` in a limit file runs the rest too. Phases and rule ids: bench/README.md.
import { ProtocolViolation } from '../../drivers/capabilities.ts';
import { errorText } from '../../drivers/common/abort.ts';
import { nowMs } from '../../drivers/common/time.ts';
import type { ChargePoint } from '../../src/csms/index.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers, type PhaseContext, type PhaseDef } from '../../src/runner/suite.ts';
import { ensureRootInstalled } from '../lib/certs.ts';
import {
  anyCharging,
  chargePoint,
  charged,
  checkPncTraffic,
  checkTransaction,
  ConfigKeeper,
  ensureContract,
  evTrail,
  recordCalls,
  recording,
  runContractSession,
  scriptable,
  waitForRecorded,
  type CallRecorder,
  type PncContext,
} from '../lib/pnc.ts';
import { limitNumber } from '../lib/wait.ts';

const uses = { csms: 'Csms', ev: 'EvEmulator', meter: 'EnergyMeter' } as const;
type D = Drivers<typeof uses>;
type Ctx = PhaseContext<D>;

/** One row of the offline rule table (rigs/virtual/README.md "PnC authorization", rule 3). */
interface OfflineRow {
  name: string;
  /** runs by default (else only with pnc.offline.rows: all) */
  byDefault: boolean;
  contractValidationOffline: boolean;
  localAuthorizeOffline: boolean;
  allowOfflineTxForUnknownId: boolean;
  /** the EV's eMAID is in the local authorization list (Accepted) */
  inLocalList: boolean;
  /** the EV's eMAID is in the authorization cache (an online Accepted session just before) */
  inCache: boolean;
  /**
   * Whether the charger must charge offline: fixed by the app note, or — for the rows whose oracle is
   * disputed — the boolean limit value naming the DUT's documented behaviour (bench/limits/pnc.yaml).
   */
  expectCharge: boolean | OfflineLimit;
  /** where the expected outcome comes from (bench/README.md lists it per row) */
  source: string;
  /** the rule a wrong outcome breaks */
  rule: string;
}

/**
 * Limit keys (booleans) for the disputed rows: does an eMAID in the authorization cache authorize offline
 * (libocpp never caches PnC results; the 2.0.1 errata make caching "if implemented"), and is
 * AllowOfflineTxForUnknownId consulted for an unknown contract (libocpp: no; the app note is silent).
 */
type OfflineLimit = 'pnc.offline.cache_authorizes' | 'pnc.offline.unknown_id_consulted';

const NOTE = 'OCA 1.6 PnC app note C07.FR.07–09';
const OFFLINE_ROWS: readonly OfflineRow[] = [
  { name: 'fr07_validation_off_known_emaid', byDefault: true, contractValidationOffline: false, localAuthorizeOffline: true, allowOfflineTxForUnknownId: false, inLocalList: true, inCache: false, expectCharge: false, source: `${NOTE}: FR.07`, rule: 'pnc.C07.FR.07' },
  { name: 'fr08_local_list', byDefault: true, contractValidationOffline: true, localAuthorizeOffline: true, allowOfflineTxForUnknownId: false, inLocalList: true, inCache: false, expectCharge: true, source: `${NOTE}: FR.08`, rule: 'pnc.C07.FR.08' },
  { name: 'fr08_cache', byDefault: true, contractValidationOffline: true, localAuthorizeOffline: true, allowOfflineTxForUnknownId: false, inLocalList: false, inCache: true, expectCharge: 'pnc.offline.cache_authorizes', source: 'FR.08 + 2.0.1 errata (cache "if implemented"); libocpp never caches PnC results', rule: 'pnc.C07.FR.08' },
  { name: 'fr09_unknown_emaid', byDefault: true, contractValidationOffline: true, localAuthorizeOffline: true, allowOfflineTxForUnknownId: false, inLocalList: false, inCache: false, expectCharge: false, source: `${NOTE}: FR.09`, rule: 'pnc.C07.FR.09' },
  { name: 'fr09_local_authorize_off', byDefault: true, contractValidationOffline: true, localAuthorizeOffline: false, allowOfflineTxForUnknownId: false, inLocalList: true, inCache: false, expectCharge: false, source: `${NOTE}: FR.09`, rule: 'pnc.C07.FR.09' },
  { name: 'fr09_unknown_id_allowed', byDefault: true, contractValidationOffline: true, localAuthorizeOffline: true, allowOfflineTxForUnknownId: true, inLocalList: false, inCache: false, expectCharge: 'pnc.offline.unknown_id_consulted', source: 'FR.09 silent on AllowOfflineTxForUnknownId; libocpp does not consult it for PnC', rule: 'pnc.C07.FR.09' },
  { name: 'fr07_validation_off_unknown_allowed', byDefault: false, contractValidationOffline: false, localAuthorizeOffline: true, allowOfflineTxForUnknownId: true, inLocalList: true, inCache: true, expectCharge: false, source: `${NOTE}: FR.07`, rule: 'pnc.C07.FR.07' },
  { name: 'fr07_validation_off_cache', byDefault: false, contractValidationOffline: false, localAuthorizeOffline: true, allowOfflineTxForUnknownId: false, inLocalList: false, inCache: true, expectCharge: false, source: `${NOTE}: FR.07`, rule: 'pnc.C07.FR.07' },
  { name: 'fr09_local_authorize_off_cache', byDefault: false, contractValidationOffline: true, localAuthorizeOffline: false, allowOfflineTxForUnknownId: false, inLocalList: false, inCache: true, expectCharge: false, source: `${NOTE}: FR.09`, rule: 'pnc.C07.FR.09' },
  { name: 'fr09_local_authorize_off_unknown_allowed', byDefault: false, contractValidationOffline: true, localAuthorizeOffline: false, allowOfflineTxForUnknownId: true, inLocalList: false, inCache: false, expectCharge: false, source: `${NOTE}: FR.09`, rule: 'pnc.C07.FR.09' },
];

/** A row's expected outcome on this DUT (a disputed row reads its limit value). */
function expectedCharge(ctx: Pick<PncContext, 'limitValue'>, row: OfflineRow): boolean {
  if (typeof row.expectCharge === 'boolean') return row.expectCharge;
  const v = ctx.limitValue(row.expectCharge);
  if (typeof v !== 'boolean') throw new TypeError(`limit ${row.expectCharge} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

const state = {
  keeper: new ConfigKeeper(),
  emaid: '',
  listVersion: 0,
  listChanged: false,
  /** optional keys the charger reports (read in prepare) */
  localListKey: true,
  cacheKey: true,
};


/** Waits for the charger to be connected again (it reconnects by itself after goOnline). */
async function backOnline(ctx: Ctx, cp: ChargePoint): Promise<number> {
  cp.goOnline();
  const t0 = nowMs();
  if (!cp.connected) await cp.waitForConnection({ timeoutMs: limitNumber(ctx, 'pnc.wait.reconnect_ms'), signal: ctx.signal });
  return nowMs() - t0;
}

async function sendLocalList(ctx: Ctx, cp: ChargePoint, emaids: readonly string[]): Promise<void> {
  state.listVersion += 1;
  state.listChanged = true;
  const r = await cp.call(
    'SendLocalList',
    { listVersion: state.listVersion, updateType: 'Full', localAuthorizationList: emaids.map((idTag) => ({ idTag, idTagInfo: { status: 'Accepted' as const } })) },
    { signal: ctx.signal, timeoutMs: limitNumber(ctx, 'pnc.wait.call_ms') },
  );
  if (r.status !== 'Accepted') throw new ProtocolViolation('pnc.offline.local-list', `SendLocalList (Full, version ${state.listVersion}) answered ${r.status} with LocalAuthListEnabled=true`);
}

async function clearCache(ctx: Ctx, cp: ChargePoint): Promise<void> {
  const r = await cp.call('ClearCache', {}, { signal: ctx.signal, timeoutMs: limitNumber(ctx, 'pnc.wait.call_ms') });
  if (r.status === 'Accepted') return;
  if (!state.cacheKey) {
    ctx.log(`ClearCache answered ${r.status}; the charger does not report AuthorizationCacheEnabled (no cache to clear)`);
    return;
  }
  throw new ProtocolViolation('pnc.offline.cache', `ClearCache answered ${r.status} with AuthorizationCacheEnabled=true`);
}

function rowPhase(row: OfflineRow): PhaseDef<D> {
  const fixed = typeof row.expectCharge === 'boolean';
  const expectText = fixed ? (row.expectCharge ? 'charging, queued transaction sent after reconnect' : 'no charging') : `charging when ${String(row.expectCharge)} is true, else none`;
  // a disputed row charges only when its limit says so: its charging measurements are optional
  const opt = <T extends { optional(): T }>(m: T): T => (fixed ? m : m.optional());
  const keys = `ContractValidationOffline=${row.contractValidationOffline}, LocalAuthorizeOffline=${row.localAuthorizeOffline}, AllowOfflineTxForUnknownId=${row.allowOfflineTxForUnknownId}, eMAID ${row.inLocalList ? 'in' : 'not in'} the local list, ${row.inCache ? 'in' : 'not in'} the cache`;
  return phase<D>(
    {
      name: row.name,
      description: `${keys} → offline ${expectText} (${row.rule}; source: ${row.source})${row.byDefault ? '' : '; runs with pnc.offline.rows: all'}`,
      timeoutMs: 60_000,
      measures: [
        measure('charged_offline').equals(typeof row.expectCharge === 'boolean' ? row.expectCharge : limit(row.expectCharge)),
        measure('reconnect_ms').unit('ms').doc('goOnline → the charger connected again'),
        measure('max_power_w').unit('W').doc('highest meter power during the offline session'),
        ...(row.expectCharge !== false
          ? [
              opt(measure('offline_queue_delay_ms').unit('ms').inRange(limit('pnc.offline_queue_delay_ms')).doc('reconnect → queued StartTransaction received')),
              opt(measure('meter_stop_deviation_wh').unit('Wh').inRange(limit('pnc.meter_stop_deviation_wh'))),
            ]
          : []),
      ],
    },
    async (ctx) => {
      const rows = String(ctx.limitValue('pnc.offline.rows'));
      if (rows !== 'default' && rows !== 'all') throw new TypeError(`limit pnc.offline.rows must be "default" or "all", got ${JSON.stringify(rows)}`);
      if (!row.byDefault && rows !== 'all') return { skip: 'not one of the default rows of the offline rule table (pnc.offline.rows is "default"; set it to "all" in a limit file to run every row)' };
      if (row.inLocalList && !state.localListKey) return { skip: 'the row needs the eMAID in the local list, but the charger does not report LocalAuthListEnabled (no local authorization list)' };
      if (row.inCache && !state.cacheKey) return { skip: 'the row needs the eMAID in the authorization cache, but the charger does not report AuthorizationCacheEnabled (no cache)' };
      const expectCharge = expectedCharge(ctx, row);
      if (!fixed) ctx.log(`${String(row.expectCharge)} = ${expectCharge}: the charger ${expectCharge ? 'must' : 'must not'} charge in this row`);
      const cp = await chargePoint(ctx);
      const rec: CallRecorder = recordCalls(ctx, cp);
      try {
        // online: configure the row
        await state.keeper.set(ctx, {
          ...(state.localListKey ? { LocalAuthListEnabled: 'true' } : {}),
          ...(state.cacheKey ? { AuthorizationCacheEnabled: 'true' } : {}),
          ContractValidationOffline: String(row.contractValidationOffline),
          LocalAuthorizeOffline: String(row.localAuthorizeOffline),
          AllowOfflineTxForUnknownId: String(row.allowOfflineTxForUnknownId),
        });
        if (state.localListKey) await sendLocalList(ctx, cp, row.inLocalList ? [state.emaid] : []);
        await clearCache(ctx, cp);
        if (row.inCache) {
          const online = await runContractSession(ctx, { charge: 'power' });
          if (!charged(ctx, online)) throw new ProtocolViolation('pnc.C07.accepted-no-charge', `the online session that fills the cache did not charge; EV: ${evTrail(ctx, online.since)}`);
        }

        // offline: the session
        cp.goOffline({ reason: `offline-validation ${row.name}` });
        await ctx.sleep(limitNumber(ctx, 'pnc.wait.offline_detect_ms'));
        const s = await runContractSession(ctx, { charge: 'power' });
        const reconnectMs = await backOnline(ctx, cp);
        const reconnectedAt = nowMs();
        ctx.m.set('reconnect_ms', Math.round(reconnectMs));
        ctx.m.set('max_power_w', Math.round(s.maxPowerW));
        const signs = anyCharging(ctx, s);
        const didCharge = charged(ctx, s);
        ctx.m.set('charged_offline', expectCharge ? didCharge : signs !== undefined);
        if (!expectCharge && signs) throw new ProtocolViolation(row.rule, `offline with ${keys}: the charger must not charge (${row.source}${fixed ? '' : `; ${String(row.expectCharge)} is false`}), but ${signs}`);
        if (expectCharge && !didCharge) throw new ProtocolViolation(row.rule, `offline with ${keys}: the charger must charge (${row.source}${fixed ? '' : `; ${String(row.expectCharge)} is true`}); EV: ${evTrail(ctx, s.since)}, meter max ${Math.round(s.maxPowerW)} W`);

        // back online: what the charger queued
        if (!expectCharge) {
          const start = await waitForRecorded(ctx, rec, 'StartTransaction', s.since, limitNumber(ctx, 'pnc.wait.no_transaction_ms'));
          checkPncTraffic(rec, s.since);
          if (start) throw new ProtocolViolation(row.rule, `offline with ${keys}: no transaction may start, but after reconnect a StartTransaction (idTag ${JSON.stringify(start.payload.idTag)}) arrived`);
          return undefined;
        }
        // the queued StartTransaction (idTag = eMAID) and StopTransaction, meterStop against the bench meter
        const { start } = await checkTransaction(ctx, rec, s, state.emaid, { queued: true });
        ctx.m.set('offline_queue_delay_ms', Math.max(0, Math.round(start.t - reconnectedAt)));
        checkPncTraffic(rec, s.since);
        const startedAt = Date.parse(String(start.payload.timestamp));
        if (!(startedAt >= s.since - 2_000 && startedAt <= s.endedAt + 2_000)) {
          throw new ProtocolViolation('pnc.offline.queue', `queued StartTransaction timestamp ${String(start.payload.timestamp)} is not the time the offline session started (between ${new Date(s.since).toISOString()} and ${new Date(s.endedAt).toISOString()})`);
        }
        return undefined;
      } finally {
        rec.stop();
        if (cp.offline) await backOnline(ctx, cp).catch((e: unknown) => ctx.warn(`the charger did not come back online: ${errorText(e)}`));
      }
    },
  );
}

const prepare = phase<D>(
  {
    name: 'prepare',
    description: 'The charger is connected, PnC on, the bench roots installed, the EV holds a contract; the local list version is read.',
    timeoutMs: 30_000,
  },
  async (ctx) => {
    state.keeper = new ConfigKeeper();
    state.emaid = '';
    state.listChanged = false;
    const cp = await chargePoint(ctx);
    await state.keeper.set(ctx, { ISO15118PnCEnabled: 'true' });
    // optional keys (a real charger may lack them): rows that need a missing one are SKIPPED
    const optional = await state.keeper.get(ctx, ['LocalAuthListEnabled', 'AuthorizationCacheEnabled']);
    state.localListKey = optional.get('LocalAuthListEnabled') !== undefined;
    state.cacheKey = optional.get('AuthorizationCacheEnabled') !== undefined;
    for (const [key, has] of [['LocalAuthListEnabled', state.localListKey], ['AuthorizationCacheEnabled', state.cacheKey]] as const) if (!has) ctx.warn(`the charger does not report ${key}: the rows that need it are SKIPPED`);
    for (const role of ['v2g-root', 'mo-root'] as const) await ensureRootInstalled(ctx, role);
    const v = state.localListKey ? await cp.call('GetLocalListVersion', {}, { signal: ctx.signal, timeoutMs: limitNumber(ctx, 'pnc.wait.call_ms') }) : { listVersion: 0 };
    state.listVersion = Math.max(0, v.listVersion);
    if (v.listVersion > 0) ctx.warn(`the charger has a local list (version ${v.listVersion}); OCPP 1.6 cannot read its entries back, so teardown leaves an empty list`);
    state.emaid = await recording(ctx, (rec) => ensureContract(ctx, rec));
    ctx.log(`EV eMAID ${state.emaid}`);
  },
);

const restore = phase<D>(
  { name: 'restore', description: 'The charger online again, the local list emptied, the cache cleared, the configuration keys put back.', timeoutMs: 30_000 },
  async (ctx) => {
    const cp = scriptable(ctx).chargePoint();
    if (cp.offline) await backOnline(ctx, cp);
    if (state.listChanged) {
      await sendLocalList(ctx, cp, []);
      state.listChanged = false;
    }
    await clearCache(ctx, cp).catch((e: unknown) => ctx.warn(`ClearCache: ${errorText(e)}`));
    const done = await state.keeper.restore(ctx);
    if (done.length) ctx.log(`restored ${done.join(', ')}`);
  },
);

export default defineSuite({
  name: 'offline-validation',
  version: '1.0.0',
  description: 'Offline PnC authorization (C07.FR.07–09): the rule table of ContractValidationOffline × LocalAuthorizeOffline × local list × cache × AllowOfflineTxForUnknownId, and the transaction queue after reconnect.',
  requires: ['pnc', 'ev', 'meter'],
  uses,
  setup: [prepare],
  main: OFFLINE_ROWS.map(rowPhase),
  teardown: [restore],
});
