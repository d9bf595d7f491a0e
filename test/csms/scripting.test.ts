// Scripting the mock CSMS the way suites do: expectCall (inbox, since, match, respond), response
// plans (status, payload, delay, never answer, drop, every malformed kind, CALLERROR, PnC outer status),
// rule counts, usage errors for impossible scripts, and who is blamed when an expectation times out.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LinkError, ProtocolViolation } from '../../drivers/capabilities.ts';
import { CsmsUsageError, PNC_VENDOR_ID } from '../../src/csms/index.ts';
import { cleanup, rawCharger, rpcClient, sig, startCsms } from './helpers.ts';

afterEach(cleanup);
afterAll(cleanup);

const BOOT = { chargePointVendor: 'ACME', chargePointModel: 'X1' };

describe('expectCall', () => {
  it('takes a call already in the inbox, then waits for the next; each call satisfies one expectation', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'E1');
    await raw.call('h1', 'Heartbeat', {});
    const first = await csms.expectCall('E1', 'Heartbeat', { timeoutMs: 1_000, signal: sig() });
    expect(first.uniqueId).toBe('h1');
    const next = csms.expectCall('E1', 'Heartbeat', { timeoutMs: 1_000, signal: sig() });
    await raw.call('h2', 'Heartbeat', {});
    expect((await next).uniqueId).toBe('h2');
    expect(csms.chargePoint('E1').script.pending()).toEqual([]);
  });

  it('filters with match and since', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'E2');
    await raw.call('s1', 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    const mark = performance.timeOrigin + performance.now();
    await raw.call('s2', 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing' });
    await raw.call('s3', 'StatusNotification', { connectorId: 2, errorCode: 'NoError', status: 'Charging' });
    const c = await csms.expectCall('E2', 'StatusNotification', { timeoutMs: 500, signal: sig(), since: mark, match: (x) => x.payload.connectorId === 2 });
    expect(c.uniqueId).toBe('s3');
    const d = await csms.expectCall('E2', 'StatusNotification', { timeoutMs: 500, signal: sig(), since: mark });
    expect(d.uniqueId).toBe('s2');
  });

  it('calls kept in the inbox after they were answered come back whole (PnC facts, payloads, answer), oldest first, at most inboxLimit per action', async () => {
    const csms = await startCsms({ inboxLimit: 3 });
    const raw = await rawCharger(csms, 'E6');
    const authorize = (id: string, emaid: string) =>
      raw.call(id, 'DataTransfer', { vendorId: PNC_VENDOR_ID, messageId: 'Authorize', data: JSON.stringify({ idToken: { idToken: emaid, type: 'eMAID' } }) });
    const answers = new Map<string, unknown[]>();
    for (let i = 1; i <= 5; i++) answers.set(`a${i}`, await authorize(`a${i}`, `DEPNB00000000${i}`));
    await raw.call('h1', 'Heartbeat', {});
    await raw.call('h2', 'Heartbeat', {});
    const pending = csms.chargePoint('E6').script.pending();
    expect(pending.map((c) => c.uniqueId)).toEqual(['a3', 'a4', 'a5', 'h1', 'h2']); // a1, a2 evicted by the limit
    expect(pending.map((c) => c.t)).toEqual([...pending.map((c) => c.t)].sort((a, b) => a - b));
    const c = await csms.expectCall('E6', 'DataTransfer.Authorize', { timeoutMs: 500, signal: sig(), match: (x) => (x.payload.idToken as { idToken: string }).idToken === 'DEPNB000000004' });
    expect(c).toMatchObject({ chargePointId: 'E6', uniqueId: 'a4', action: 'DataTransfer.Authorize', pnc: { vendorId: PNC_VENDOR_ID, messageId: 'Authorize' }, violations: [] });
    expect(c.payload).toEqual({ idToken: { idToken: 'DEPNB000000004', type: 'eMAID' } });
    expect(c.frame.payload).toMatchObject({ vendorId: PNC_VENDOR_ID, messageId: 'Authorize' });
    const sent = answers.get('a4') as [number, string, { status: string; data: string }];
    const answer = await c.answered;
    expect(answer).toMatchObject({ kind: 'result', payload: sent[2], inner: JSON.parse(sent[2].data) as object });
    expect(answer.t).toBeGreaterThanOrEqual(c.t);
    const oldest = await csms.expectCall('E6', 'DataTransfer.Authorize', { timeoutMs: 500, signal: sig() });
    expect(oldest.uniqueId).toBe('a3');
    expect((await csms.expectCall('E6', '*', { timeoutMs: 500, signal: sig() })).uniqueId).toBe('a5');
    expect(csms.chargePoint('E6').script.pending().map((x) => x.uniqueId)).toEqual(['h1', 'h2']);
  });

  it('with respond: answers the next matching call with the plan and resolves with it', async () => {
    const csms = await startCsms();
    const client = await rpcClient(csms, 'E3');
    const exp = csms.expectCall('E3', 'Authorize', { timeoutMs: 2_000, signal: sig(), respond: { status: 'Blocked' } });
    expect(await client.call('Authorize', { idTag: 'T1' })).toEqual({ idTagInfo: { status: 'Blocked' } });
    const call = await exp;
    expect(call.payload).toEqual({ idTag: 'T1' });
    expect(await call.answered).toMatchObject({ kind: 'result', payload: { idTagInfo: { status: 'Blocked' } } });
    expect(await client.call('Authorize', { idTag: 'T1' })).toEqual({ idTagInfo: { status: 'Accepted' } }); // used once
  });

  it('times out as the charger fault when connected, as a link fault when nobody connected; honours abort', async () => {
    const csms = await startCsms();
    await rawCharger(csms, 'E4');
    const e1 = await csms.expectCall('E4', 'Heartbeat', { timeoutMs: 100, signal: sig() }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ProtocolViolation);
    expect((e1 as ProtocolViolation).rule).toBe('csms.expect.timeout');
    const e2 = await csms.expectCall('GHOST', 'Heartbeat', { timeoutMs: 100, signal: sig() }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(LinkError);
    const ac = new AbortController();
    const p = csms.expectCall('E4', 'Heartbeat', { timeoutMs: 5_000, signal: ac.signal });
    ac.abort(new Error('cancelled'));
    await expect(p).rejects.toThrow('cancelled');
  });

  it('rejects with the violation when the expected call breaks the schema', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'E5');
    const p = csms.expectCall('E5', 'BootNotification', { timeoutMs: 1_000, signal: sig() }).catch((e: unknown) => e);
    raw.send(JSON.stringify([2, 'b1', 'BootNotification', { chargePointVendor: 'ACME' }]));
    const e = (await p) as ProtocolViolation;
    expect(e.rule).toBe('ocpp16.schema.BootNotification.req');
  });
});

describe('response plans', () => {
  it('payload and delay', async () => {
    const csms = await startCsms();
    const client = await rpcClient(csms, 'P1');
    csms.respond('P1', 'BootNotification', { payload: { status: 'Pending', currentTime: '2030-01-01T00:00:00Z', interval: 5 } });
    expect(await client.call('BootNotification', BOOT)).toEqual({ status: 'Pending', currentTime: '2030-01-01T00:00:00Z', interval: 5 });
    expect(csms.chargePoint('P1').state.boot?.status).toBe('Pending'); // the state follows what was sent
    csms.respond('P1', 'Heartbeat', { delayMs: 300 });
    const t0 = performance.now();
    await client.call('Heartbeat', {});
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    const x = csms.drainExchanges().find((e) => e.message === 'Heartbeat');
    expect(x?.latencyMs).toBeGreaterThanOrEqual(290);
  });

  it('payload as a function of the call and the default answer', async () => {
    const csms = await startCsms();
    const client = await rpcClient(csms, 'P2');
    csms.respond('P2', 'StartTransaction', { payload: (call, def) => ({ ...def, transactionId: 1000 + (call.payload.connectorId as number) }) });
    expect(await client.call('StartTransaction', { connectorId: 2, idTag: 'X', meterStart: 0, timestamp: new Date().toISOString() })).toMatchObject({ transactionId: 1002 });
    expect(csms.chargePoint('P2').state.transactions.has(1002)).toBe(true);
  });

  it('never answer: the call stays unanswered and is not counted as outstanding', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'P3');
    csms.respond('P3', 'Authorize', { action: 'never' });
    raw.send('[2,"a1","Authorize",{"idTag":"X"}]');
    expect(await raw.quiet(200)).toBe(true);
    expect((await raw.call('h1', 'Heartbeat', {})).slice(0, 2)).toEqual([3, 'h1']);
    expect(csms.violations()).toEqual([]); // the next CALL is not a concurrency violation
  });

  it('drop: closes (or terminates) the connection instead of answering', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'P4');
    csms.respond('P4', 'Heartbeat', { action: 'drop', drop: { code: 4000, reason: 'bench drop' } });
    raw.send('[2,"d1","Heartbeat",{}]');
    expect(await raw.waitClosed()).toEqual({ code: 4000, reason: 'bench drop' });
    const raw2 = await rawCharger(csms, 'P4');
    csms.respond('P4', 'Heartbeat', { action: 'drop', drop: { terminate: true } });
    raw2.send('[2,"d2","Heartbeat",{}]');
    expect((await raw2.waitClosed()).code).toBe(1006);
  });

  it.each([
    ['not-json', (t: string) => expect(() => JSON.parse(t)).toThrow()],
    ['not-array', (t: string) => expect(JSON.parse(t)).toMatchObject({ messageTypeId: 3, uniqueId: 'm1' })],
    ['wrong-unique-id', (t: string) => expect((JSON.parse(t) as unknown[]).slice(0, 2)).toEqual([3, 'm1-x'])],
    ['missing-payload', (t: string) => expect(JSON.parse(t)).toEqual([3, 'm1'])],
    ['schema', (t: string) => expect((JSON.parse(t) as [number, string, Record<string, unknown>])[2]).toMatchObject({ benchUnexpectedProperty: true, currentTime: expect.any(String) })],
  ] as const)('malformed: %s', async (kind, check) => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'P5');
    csms.respond('P5', 'Heartbeat', { action: 'malformed', malformed: kind });
    raw.send('[2,"m1","Heartbeat",{}]');
    check(await raw.next());
  });

  it('malformed raw text with the uniqueId placeholder', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'P6');
    csms.respond('P6', 'Heartbeat', { action: 'malformed', malformed: { raw: '[3,"{uniqueId}",{"currentTime":12}]' } });
    raw.send('[2,"r1","Heartbeat",{}]');
    expect(await raw.next()).toBe('[3,"r1",{"currentTime":12}]');
  });

  it('a scripted payload that fails the schema becomes InternalError unless unchecked', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'P7');
    csms.respond('P7', 'Heartbeat', { payload: { currentTime: 12 } });
    expect((await raw.call('i1', 'Heartbeat', {})).slice(0, 3)).toEqual([4, 'i1', 'InternalError']);
    csms.respond('P7', 'Heartbeat', { payload: { currentTime: 12 }, unchecked: true });
    expect(await raw.call('i2', 'Heartbeat', {})).toEqual([3, 'i2', { currentTime: 12 }]);
    expect(csms.violations()).toEqual([]);
  });

  it('times and *: a rule for every call, removable', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'P8');
    const rule = csms.respond('P8', '*', { action: 'error', error: { code: 'NotSupported', description: 'maintenance' } }, { times: Infinity });
    expect((await raw.call('a', 'Heartbeat', {}))[2]).toBe('NotSupported');
    expect((await raw.call('b', 'Authorize', { idTag: 'X' }))[2]).toBe('NotSupported');
    expect(rule.used).toBe(2);
    rule.remove();
    expect((await raw.call('c', 'Heartbeat', {}))[0]).toBe(3);
  });

  it('PnC: inner status, outer status, and the exchange named DataTransfer.<messageId>', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'P9');
    const auth = JSON.stringify({ idToken: { idToken: 'DEABC123456789Y', type: 'eMAID' } });
    csms.respond('P9', 'DataTransfer.Authorize', { status: 'NotAtThisTime' });
    const [, , c1] = await raw.call('x1', 'DataTransfer', { vendorId: PNC_VENDOR_ID, messageId: 'Authorize', data: auth });
    expect(JSON.parse((c1 as { data: string }).data)).toEqual({ idTokenInfo: { status: 'NotAtThisTime' } });
    csms.respond('P9', 'DataTransfer.Authorize', { outerStatus: 'Rejected' });
    expect(await raw.call('x2', 'DataTransfer', { vendorId: PNC_VENDOR_ID, messageId: 'Authorize', data: auth })).toEqual([3, 'x2', { status: 'Rejected' }]);
    expect(csms.drainExchanges().map((e) => e.message)).toEqual(['DataTransfer.Authorize', 'DataTransfer.Authorize']);
  });

  it('usage errors: a status where the answer has none, an error plan without code, a negative delay, times 0', async () => {
    const c = await startCsms();
    expect(() => c.respond('X', 'Heartbeat', { status: 'Accepted' })).toThrow(CsmsUsageError);
    expect(() => c.respond('X', 'Heartbeat', { action: 'error' })).toThrow(/needs error.code/);
    expect(() => c.respond('X', 'Heartbeat', { delayMs: -1 })).toThrow(/delayMs/);
    expect(() => c.respond('X', 'Heartbeat', {}, { times: 0 })).toThrow(/times/);
  });
});
