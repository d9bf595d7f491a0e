// The simulated charger's OCPP 1.6 core against the real MockCsms over a WebSocket: boot (Pending
// retried per interval), reconnect with back-off after a dropped link (no second boot), Basic auth,
// configuration keys, local list and cache, Reset, remote start/stop, availability, unlock, core
// TriggerMessage, CALLERRORs for what it does not do, transactions with MeterValues from the PowerBus,
// and the offline queue replayed in order after reconnect (transactionId mapped late).
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OcppCallError } from '../../src/csms/index.ts';
import { generatePki, type BenchPki } from '../../src/pki/index.ts';
import { CONFIG_KEY_NAMES, CONFIG_KEYS, type ConfigKey } from '../../rigs/virtual/charger/config.ts';
import { cleanup, CP_ID, flow, sig, sleep, startRig, until } from './charger-helpers.ts';

let pki: BenchPki;
beforeAll(() => {
  pki = generatePki({ seed: 'charger-core', organization: 'PNCBENCH', ocspUrl: 'http://127.0.0.1:1/ocsp' });
});
afterEach(cleanup);
afterAll(cleanup);

type Conf = Record<string, unknown>;

describe('connection and boot', () => {
  it('boots: BootNotification, then StatusNotification for connector 0 and 1; console lines for connect and boot', async () => {
    const h = await startRig(pki);
    const boot = await h.cp.expectCall('BootNotification', { timeoutMs: 10_000, signal: sig() });
    expect(boot.payload).toMatchObject({ chargePointVendor: 'pnc-bench', chargePointModel: 'VirtualCharger' });
    const s0 = await h.cp.expectCall('StatusNotification', { timeoutMs: 5_000, signal: sig(), match: (c) => c.payload.connectorId === 0 });
    const s1 = await h.cp.expectCall('StatusNotification', { timeoutMs: 5_000, signal: sig(), match: (c) => c.payload.connectorId === 1 });
    expect(s0.payload.status).toBe('Available');
    expect(s1.payload).toMatchObject({ status: 'Available', errorCode: 'NoError' });
    expect(await h.line(/ocpp: connected to ws:\/\/127\.0\.0\.1:\d+\/VIRTUAL-CP1$/)).toMatch(/^\[\s*\d+\.\d{3}\] ocpp: connected/);
    expect(await h.line(/ocpp: BootNotification Accepted interval=300$/)).toBeTruthy();
    expect(h.charger.snapshot()).toMatchObject({ online: true, bootStatus: 'Accepted' });
    h.cp.assertNoViolations();
  });

  it('BootNotification Pending is retried after the answered interval, then Accepted', async () => {
    const h = await startRig(pki, { csms: { defaults: { bootStatus: 'Pending', heartbeatIntervalS: 1 } } });
    const first = await h.cp.expectCall('BootNotification', { timeoutMs: 10_000, signal: sig() });
    h.csms.configure(CP_ID, { bootStatus: 'Accepted' });
    const second = await h.cp.expectCall('BootNotification', { timeoutMs: 5_000, signal: sig() });
    expect(second.t - first.t).toBeGreaterThanOrEqual(900);
    expect(second.t - first.t).toBeLessThan(2_000);
    await h.booted();
    expect(h.count(/BootNotification Pending interval=1/)).toBe(1);
  });

  it('reconnects with back-off after the link drops; no second BootNotification; status sent again; heartbeat goes on', async () => {
    const h = await startRig(pki, { csms: { defaults: { heartbeatIntervalS: 1 } } });
    await h.booted();
    await h.cp.expectCall('Heartbeat', { timeoutMs: 3_000, signal: sig() });
    h.cp.goOffline();
    await h.line(/ocpp: disconnected code=\d+ .*\(reconnect in 50 ms\)/);
    await h.line(/ocpp: connection failed: HTTP 503 .*\(reconnect in 100 ms\)/);
    await h.line(/\(reconnect in 200 ms\)/);
    expect(h.charger.online()).toBe(false);
    const since = Date.now();
    h.cp.goOnline();
    await until(() => h.count(/ocpp: connected to/) === 2, 5_000, 'second connect');
    await h.cp.expectCall('StatusNotification', { timeoutMs: 3_000, signal: sig(), since, match: (c) => c.payload.connectorId === 1 });
    await h.cp.expectCall('Heartbeat', { timeoutMs: 3_000, signal: sig(), since });
    expect(h.count(/BootNotification Accepted/)).toBe(1);
    expect(h.csms.refusals().some((r) => r.status === 503)).toBe(true);
  });

  it('an answer that is not JSON fails the CALL it answers at once and gets no CALLERROR; the next CALL goes out', async () => {
    const h = await startRig(pki, { callTimeoutMs: 10_000 });
    await h.booted();
    const fromCharger: string[] = [];
    h.csms.on('frame', (f) => {
      if (f.dir === 'in') fromCharger.push(f.text);
    });
    h.cp.respond('Heartbeat', { action: 'malformed', malformed: 'not-json' }); // [3,"<id>",{
    const t0 = Date.now();
    await h.csms.call(CP_ID, 'TriggerMessage', { requestedMessage: 'Heartbeat' }, { signal: sig() });
    await h.line(/ocpp: Heartbeat failed: Heartbeat: the CSMS's answer is broken \(FormationViolation: not valid JSON/, 3_000);
    expect(Date.now() - t0).toBeLessThan(3_000); // not the 10 s call timeout
    const since = Date.now();
    await h.csms.call(CP_ID, 'TriggerMessage', { requestedMessage: 'Heartbeat' }, { signal: sig() });
    await (await h.cp.expectCall('Heartbeat', { timeoutMs: 3_000, signal: sig(), since })).answered;
    expect(h.count(/Heartbeat failed/)).toBe(1);
    expect(fromCharger.filter((t) => t.startsWith('[4'))).toEqual([]);
    h.cp.assertNoViolations();
  });

  it('Basic auth with the password; a wrong one is refused (401) and retried with back-off', async () => {
    const h = await startRig(pki, { password: 'sixteen-chars-pw', csms: { defaults: { securityProfile: 1, password: 'sixteen-chars-pw' } } });
    await h.booted();
    expect(h.cp.connection?.passwordMatched).toBe('raw');
    await cleanup();
    const bad = await startRig(pki, { password: 'wrong-password-1', csms: { defaults: { securityProfile: 1, password: 'sixteen-chars-pw' } } });
    await bad.line(/ocpp: connection failed: HTTP 401/);
    await until(() => bad.count(/HTTP 401/) >= 3, 5_000, 'three refused attempts');
    expect(bad.charger.online()).toBe(false);
  });
});

describe('configuration keys', () => {
  it('the README tables list every key with its access and default', () => {
    const readme = readFileSync(new URL('../../rigs/virtual/README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('## The simulated charger');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 5));
    const rows = [...section.matchAll(/^\| `([A-Za-z0-9]+)` \| ([a-z ]+?) (RO|RW) \| ([^|]*) \|/gm)].map((m) => ({ key: m[1] as string, access: m[3], def: (m[4] as string).trim() }));
    expect(rows.map((r) => r.key).sort()).toEqual([...CONFIG_KEY_NAMES].sort());
    for (const r of rows) {
      const d = CONFIG_KEYS[r.key as ConfigKey];
      expect(r.access, r.key).toBe(d.readonly ? 'RO' : 'RW');
      if (d.default === '') expect(r.def, r.key).toBe('(empty)');
      else expect(r.def.replace(/`/g, ''), r.key).toContain(d.default);
    }
  });

  it('GetConfiguration: all keys; a key list with unknown keys; README keys with their defaults', async () => {
    const h = await startRig(pki);
    await h.booted();
    const all = (await h.csms.call(CP_ID, 'GetConfiguration', {}, { signal: sig() })) as { configurationKey: { key: string; readonly: boolean; value: string }[]; unknownKey?: string[] };
    expect(all.configurationKey.map((k) => k.key).sort()).toEqual([...CONFIG_KEY_NAMES].sort());
    const get = (k: string) => all.configurationKey.find((x) => x.key === k);
    expect(get('ISO15118PnCEnabled')).toEqual({ key: 'ISO15118PnCEnabled', readonly: false, value: 'true' });
    expect(get('CentralContractValidationAllowed')?.value).toBe('false');
    expect(get('ContractValidationOffline')?.value).toBe('true');
    expect(get('CertSigningWaitMinimum')?.value).toBe('30');
    expect(get('CertSigningRepeatTimes')?.value).toBe('2');
    expect(get('CertificateSignedMaxChainSize')).toEqual({ key: 'CertificateSignedMaxChainSize', readonly: true, value: '10000' });
    expect(get('CertificateStoreMaxLength')).toEqual({ key: 'CertificateStoreMaxLength', readonly: true, value: '20' });
    expect(get('LocalAuthorizeOffline')?.value).toBe('true');
    expect(get('AllowOfflineTxForUnknownId')?.value).toBe('false');
    expect(get('CpoName')?.value).toBe('PNCBENCH');
    expect(get('SeccLeafSubjectCommonName')?.value).toBe('DEPNB1VIRTUAL1');
    expect(get('SeccLeafSubjectCountry')?.value).toBe('DE');
    expect(get('HeartbeatInterval')?.value).toBe('300');
    expect(get('NumberOfConnectors')).toEqual({ key: 'NumberOfConnectors', readonly: true, value: '1' });
    const some = (await h.csms.call(CP_ID, 'GetConfiguration', { key: ['CpoName', 'NoSuchKey', 'HeartbeatInterval'] }, { signal: sig() })) as Conf;
    expect(some).toEqual({ configurationKey: [{ key: 'CpoName', readonly: false, value: 'PNCBENCH' }, { key: 'HeartbeatInterval', readonly: false, value: '300' }], unknownKey: ['NoSuchKey'] });
  });

  it('ChangeConfiguration: Accepted (read back), Rejected for read-only keys and bad values, NotSupported for unknown keys', async () => {
    const h = await startRig(pki);
    await h.booted();
    const change = async (key: string, value: string) => ((await h.csms.call(CP_ID, 'ChangeConfiguration', { key, value }, { signal: sig() })) as Conf).status;
    expect(await change('CentralContractValidationAllowed', 'true')).toBe('Accepted');
    expect(await change('CertSigningWaitMinimum', '5')).toBe('Accepted');
    expect(await change('SeccLeafSubjectCountry', 'NL')).toBe('Accepted');
    expect(await change('CertificateSignedMaxChainSize', '5')).toBe('Rejected');
    expect(await change('NumberOfConnectors', '2')).toBe('Rejected');
    expect(await change('ISO15118PnCEnabled', 'yes')).toBe('Rejected');
    expect(await change('CertSigningWaitMinimum', '-1')).toBe('Rejected');
    expect(await change('SeccLeafSubjectCountry', 'NLD')).toBe('Rejected');
    expect(await change('SeccLeafSubjectCommonName', 'short')).toBe('Rejected');
    expect(await change('MeterValuesSampledData', 'Energy.Active.Import.Register,Temperature')).toBe('Rejected');
    expect(await change('NoSuchKey', '1')).toBe('NotSupported');
    const back = (await h.csms.call(CP_ID, 'GetConfiguration', { key: ['CentralContractValidationAllowed', 'CertSigningWaitMinimum', 'SeccLeafSubjectCountry', 'ContractValidationOffline'] }, { signal: sig() })) as { configurationKey: { key: string; value: string }[] };
    expect(Object.fromEntries(back.configurationKey.map((k) => [k.key, k.value]))).toEqual({ CentralContractValidationAllowed: 'true', CertSigningWaitMinimum: '5', SeccLeafSubjectCountry: 'NL', ContractValidationOffline: 'true' });
    await h.line(/ocpp: ChangeConfiguration CertificateSignedMaxChainSize=5 → Rejected/);
  });

  it('a factory override with an unknown key or a bad value is a clear error', async () => {
    await expect(startRig(pki, { config: { NoSuchKey: '1' } })).rejects.toThrow(/config\.NoSuchKey: unknown configuration key; known keys: .*ISO15118PnCEnabled/);
    await expect(startRig(pki, { config: { CertSigningWaitMinimum: 'soon' } })).rejects.toThrow(/config\.CertSigningWaitMinimum: "soon" is not an integer/);
  });

  it('HeartbeatInterval changed by ChangeConfiguration takes effect', async () => {
    const h = await startRig(pki);
    await h.booted();
    await h.csms.call(CP_ID, 'ChangeConfiguration', { key: 'HeartbeatInterval', value: '1' }, { signal: sig() });
    const since = Date.now();
    const hb = await h.cp.expectCall('Heartbeat', { timeoutMs: 3_000, signal: sig(), since });
    expect(hb.t - since).toBeGreaterThanOrEqual(900);
  });
});

describe('local list, cache, reset and remote control', () => {
  it('SendLocalList Full/Differential with versions, GetLocalListVersion, ClearCache; disabled list → NotSupported and -1', async () => {
    const h = await startRig(pki);
    await h.booted();
    const call = async (action: string, payload: Record<string, unknown>) => (await h.cp.callAny(action, payload as never, { signal: sig() })).response as Conf;
    expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: 0 });
    expect(await call('SendLocalList', { listVersion: 3, updateType: 'Full', localAuthorizationList: [{ idTag: 'TAG1', idTagInfo: { status: 'Accepted' } }, { idTag: 'TAG2', idTagInfo: { status: 'Blocked' } }] })).toEqual({ status: 'Accepted' });
    expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: 3 });
    expect(await call('SendLocalList', { listVersion: 3, updateType: 'Differential', localAuthorizationList: [{ idTag: 'TAG3', idTagInfo: { status: 'Accepted' } }] })).toEqual({ status: 'VersionMismatch' });
    expect(await call('SendLocalList', { listVersion: 4, updateType: 'Differential', localAuthorizationList: [{ idTag: 'TAG1' }, { idTag: 'TAG3', idTagInfo: { status: 'Accepted' } }] })).toEqual({ status: 'Accepted' });
    expect(h.charger.localAuth.lookupList('tag1')).toBeUndefined();
    expect(h.charger.localAuth.lookupList('TAG3')?.status).toBe('Accepted');
    expect(h.charger.localAuth.lookupList('TAG2')?.status).toBe('Blocked');
    expect(await call('ClearCache', {})).toEqual({ status: 'Accepted' });
    expect(await call('ChangeConfiguration', { key: 'LocalAuthListEnabled', value: 'false' })).toEqual({ status: 'Accepted' });
    expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: -1 });
    expect(await call('SendLocalList', { listVersion: 5, updateType: 'Full' })).toEqual({ status: 'NotSupported' });
    expect(await call('ChangeConfiguration', { key: 'AuthorizationCacheEnabled', value: 'false' })).toEqual({ status: 'Accepted' });
    expect(await call('ClearCache', {})).toEqual({ status: 'Rejected' });
  });

  it('Reset Soft: Accepted, the link is closed and the charger boots again', async () => {
    const h = await startRig(pki);
    await h.booted();
    const since = Date.now();
    expect(await h.csms.call(CP_ID, 'Reset', { type: 'Soft' }, { signal: sig() })).toEqual({ status: 'Accepted' });
    await h.cp.expectCall('BootNotification', { timeoutMs: 5_000, signal: sig(), since });
    await until(() => h.count(/BootNotification Accepted/) === 2, 5_000, 'second boot');
    expect(h.count(/sys: rebooting \(Soft reset\)/)).toBe(1);
    expect(h.count(/ocpp: connected to/)).toBe(2);
  });

  it('RemoteStart → StartTransaction; RemoteStop of that transaction → StopTransaction reason Remote; wrong id → Rejected', async () => {
    const h = await startRig(pki);
    await h.booted();
    expect(await h.csms.call(CP_ID, 'RemoteStartTransaction', { idTag: 'RFID-1', connectorId: 1 }, { signal: sig() })).toEqual({ status: 'Accepted' });
    const start = await h.cp.expectCall('StartTransaction', { timeoutMs: 5_000, signal: sig() });
    expect(start.payload).toMatchObject({ connectorId: 1, idTag: 'RFID-1', meterStart: 0 });
    const id = ((await start.answered).payload as { transactionId: number }).transactionId;
    await h.cp.expectCall('StatusNotification', { timeoutMs: 5_000, signal: sig(), match: (c) => c.payload.status === 'Charging' });
    expect(await h.csms.call(CP_ID, 'RemoteStartTransaction', { idTag: 'RFID-2' }, { signal: sig() })).toEqual({ status: 'Rejected' });
    await until(() => (h.charger.snapshot().transaction as { transactionId: number | null } | null)?.transactionId === id, 3_000, 'transaction id');
    expect(await h.csms.call(CP_ID, 'RemoteStopTransaction', { transactionId: id + 100 }, { signal: sig() })).toEqual({ status: 'Rejected' });
    expect(await h.csms.call(CP_ID, 'RemoteStopTransaction', { transactionId: id }, { signal: sig() })).toEqual({ status: 'Accepted' });
    const stop = await h.cp.expectCall('StopTransaction', { timeoutMs: 5_000, signal: sig() });
    expect(stop.payload).toMatchObject({ transactionId: id, reason: 'Remote', idTag: 'RFID-1' });
    h.cp.assertNoViolations();
  });

  it('ChangeAvailability, UnlockConnector, core TriggerMessage; NotSupported / NotImplemented CALLERRORs', async () => {
    const h = await startRig(pki);
    await h.booted();
    const call = async (action: string, payload: Record<string, unknown>) => (await h.cp.callAny(action, payload as never, { signal: sig() })).response as Conf;
    let since = Date.now();
    expect(await call('ChangeAvailability', { connectorId: 1, type: 'Inoperative' })).toEqual({ status: 'Accepted' });
    await h.cp.expectCall('StatusNotification', { timeoutMs: 3_000, signal: sig(), since, match: (c) => c.payload.status === 'Unavailable' });
    expect(await call('ChangeAvailability', { connectorId: 7, type: 'Operative' })).toEqual({ status: 'Rejected' });
    since = Date.now();
    expect(await call('ChangeAvailability', { connectorId: 1, type: 'Operative' })).toEqual({ status: 'Accepted' });
    await h.cp.expectCall('StatusNotification', { timeoutMs: 3_000, signal: sig(), since, match: (c) => c.payload.status === 'Available' });
    expect(await call('UnlockConnector', { connectorId: 1 })).toEqual({ status: 'Unlocked' });
    expect(await call('UnlockConnector', { connectorId: 2 })).toEqual({ status: 'NotSupported' });
    since = Date.now();
    expect(await call('TriggerMessage', { requestedMessage: 'Heartbeat' })).toEqual({ status: 'Accepted' });
    await h.cp.expectCall('Heartbeat', { timeoutMs: 3_000, signal: sig(), since });
    expect(await call('TriggerMessage', { requestedMessage: 'MeterValues', connectorId: 1 })).toEqual({ status: 'Accepted' });
    const mv = await h.cp.expectCall('MeterValues', { timeoutMs: 3_000, signal: sig(), since });
    expect(mv.payload).toMatchObject({ connectorId: 1, meterValue: [{ sampledValue: [{ measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Trigger' }, { measurand: 'Power.Active.Import', unit: 'W' }] }] });
    expect(await call('TriggerMessage', { requestedMessage: 'StatusNotification', connectorId: 3 })).toEqual({ status: 'Rejected' });
    expect(await call('TriggerMessage', { requestedMessage: 'BootNotification' })).toEqual({ status: 'Accepted' });
    await h.cp.expectCall('BootNotification', { timeoutMs: 3_000, signal: sig(), since });
    await expect(h.csms.call(CP_ID, 'ReserveNow', { connectorId: 1, expiryDate: new Date().toISOString(), idTag: 'X', reservationId: 1 }, { signal: sig() })).rejects.toMatchObject({ errorCode: 'NotSupported' });
    await expect(h.cp.callAny('FooBar', {}, { signal: sig(), unchecked: true })).rejects.toBeInstanceOf(OcppCallError);
    await expect(h.cp.callAny('FooBar', {}, { signal: sig(), unchecked: true })).rejects.toMatchObject({ errorCode: 'NotImplemented' });
    await expect(h.cp.callAny('ChangeConfiguration', { key: 'HeartbeatInterval' }, { signal: sig(), unchecked: true })).rejects.toMatchObject({ errorCode: 'OccurenceConstraintViolation' });
    // the whole official schema applies, with the CALLERROR code it gives a violation
    await expect(h.cp.callAny('TriggerMessage', { requestedMessage: 'Heartbeat', connectorId: '1' }, { signal: sig(), unchecked: true })).rejects.toMatchObject({ errorCode: 'TypeConstraintViolation' });
    await expect(h.cp.callAny('UnlockConnector', { connectorId: 1, force: true }, { signal: sig(), unchecked: true })).rejects.toMatchObject({ errorCode: 'PropertyConstraintViolation' });
    await expect(h.cp.callAny('ChangeConfiguration', { key: 'K'.repeat(51), value: '1' }, { signal: sig(), unchecked: true })).rejects.toMatchObject({ errorCode: 'PropertyConstraintViolation' });
    h.cp.assertNoViolations();
  });
});

describe('transactions and the offline queue', () => {
  it('startCharging: StartTransaction with idTag = eMAID and meterStart from the bus; MeterValues from the bus; StopTransaction meterStop agrees with the bus', async () => {
    const h = await startRig(pki, { config: { MeterValueSampleInterval: '1' } });
    await h.booted();
    flow(h.bus, 100_000); // 400 V × 250 A: ≈ 28 Wh per second
    await sleep(100);
    const wh0 = h.bus.sample().energyWh;
    await h.charger.startCharging({ idTag: 'DEPNBC123456789X', connectorId: 1 });
    const start = await h.cp.expectCall('StartTransaction', { timeoutMs: 5_000, signal: sig() });
    expect(start.payload.idTag).toBe('DEPNBC123456789X');
    expect(start.payload.meterStart as number).toBeGreaterThanOrEqual(Math.round(wh0));
    expect(start.payload.meterStart as number).toBeLessThan(Math.round(wh0) + 10);
    await h.line(/tx: transaction started local=1 connector=1 idTag=DEPNBC123456789X meterStart=\d+ Wh via=pnc online=true/);
    const mv = await h.cp.expectCall('MeterValues', { timeoutMs: 3_000, signal: sig() });
    const id = ((await start.answered).payload as { transactionId: number }).transactionId;
    expect(mv.payload.transactionId).toBe(id);
    const sv = (mv.payload.meterValue as { sampledValue: { measurand: string; value: string; unit: string }[] }[])[0]?.sampledValue ?? [];
    const energy = Number(sv.find((s) => s.measurand === 'Energy.Active.Import.Register')?.value);
    const power = Number(sv.find((s) => s.measurand === 'Power.Active.Import')?.value);
    expect(energy).toBeGreaterThan(start.payload.meterStart as number);
    expect(power).toBe(100_000);
    h.bus.setContactors(false); // PowerDelivery Stop: the energy register stands still
    const energyWh = h.bus.sample().energyWh;
    await h.charger.stopCharging('EVDisconnected');
    const stop = await h.cp.expectCall('StopTransaction', { timeoutMs: 3_000, signal: sig() });
    expect(stop.payload).toMatchObject({ transactionId: id, reason: 'EVDisconnected', idTag: 'DEPNBC123456789X', meterStop: Math.round(energyWh) });
    await h.line(/tx: transaction stopped local=1 transactionId=\d+ meterStop=\d+ Wh reason=EVDisconnected/);
    h.cp.assertNoViolations();
  });

  it('offline: Start/MeterValues/Stop are queued and sent in order after reconnect with the transactionId the late StartTransaction answer gave', async () => {
    const h = await startRig(pki, { config: { MeterValueSampleInterval: '1' } });
    await h.booted();
    h.cp.goOffline();
    await until(() => !h.charger.online(), 3_000, 'offline');
    flow(h.bus, 100_000);
    await h.charger.startCharging({ idTag: 'DEPNBC123456789X', connectorId: 1 });
    await h.line(/tx: transaction started .* online=false/);
    await sleep(2_500); // two MeterValues (at ≈ 1 s and 2 s)
    await h.charger.stopCharging('Local');
    await h.line(/tx: transaction stopped local=1 transactionId=pending meterStop=\d+ Wh reason=Local/);
    const snapshot = h.charger.snapshot();
    expect(snapshot.queue).toEqual(['StartTransaction', 'MeterValues', 'MeterValues', 'StopTransaction']);
    // the CSMS answers the StartTransaction late: the queued messages wait for its transactionId
    h.cp.respond('StartTransaction', { delayMs: 800 });
    const order: string[] = [];
    const seen = (c: { action: string }) => order.push(c.action);
    h.csms.on('call', seen);
    const backOnline = Date.now();
    h.cp.goOnline();
    const start = await h.cp.expectCall('StartTransaction', { timeoutMs: 5_000, signal: sig() });
    const stop = await h.cp.expectCall('StopTransaction', { timeoutMs: 5_000, signal: sig() });
    const id = ((await start.answered).payload as { transactionId: number }).transactionId;
    expect(order.filter((a) => ['StartTransaction', 'MeterValues', 'StopTransaction'].includes(a))).toEqual(['StartTransaction', 'MeterValues', 'MeterValues', 'StopTransaction']);
    expect(stop.payload.transactionId).toBe(id);
    expect(stop.payload.reason).toBe('Local');
    expect(Date.parse(stop.payload.timestamp as string)).toBeGreaterThan(Date.parse(start.payload.timestamp as string));
    // the time the transaction stopped (offline), not the time the queued message went out
    expect(Date.parse(stop.payload.timestamp as string)).toBeLessThan(backOnline);
    expect(stop.t - start.t).toBeGreaterThanOrEqual(750);
    const mvs = h.csms.chargePoint(CP_ID).state.transactions.get(id);
    expect(mvs?.meterValues).toBe(2);
    await until(() => (h.charger.snapshot().queue as string[]).length === 0, 3_000, 'empty queue');
    h.cp.assertNoViolations();
  });
});
