// The OCPP-J RPC layer of the mock CSMS against independent clients: subprotocol negotiation,
// CALL/CALLRESULT/CALLERROR, one CALLERROR test per OCPP-J 1.6 error code (each with the violation it
// records), one outstanding CSMS CALL at a time, charger concurrency and unknown uniqueIds recorded,
// call timeouts, ping/pong liveness, dropped connections, replaced connections and unknown message types.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { RPCGenericError, RPCInternalError } from 'ocpp-rpc';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LinkError, ProtocolViolation } from '../../drivers/capabilities.ts';
import { OcppCallError, type MockCsms } from '../../src/csms/index.ts';
import { cleanup, rawCharger, refusedWith, rpcClient, sig, startCsms } from './helpers.ts';

afterEach(cleanup);
afterAll(cleanup);

/** Sends a raw WebSocket upgrade and returns the 101 response headers and the first frame the server sends. */
function upgradeAndReadFrame(port: number, path: string, protocol: string): Promise<{ headers: http.IncomingHttpHeaders; frame: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Protocol': protocol },
    });
    req.on('upgrade', (res, socket, head) => {
      const got = (b: Buffer): void => {
        socket.destroy();
        resolve({ headers: res.headers, frame: b });
      };
      if (head.length) got(head);
      else socket.once('data', got);
    });
    req.on('response', (res) => reject(new Error(`HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket client on the bare socket (opening handshake only): it ignores the server's close frame and keeps sending. */
function bareClient(port: number, path: string): Promise<{ sendText(text: string): void; received: () => string; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Protocol': 'ocpp1.6' },
    });
    req.on('upgrade', (_res, socket, head) => {
      let got = head.toString('latin1');
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      socket.on('error', () => {});
      resolve({
        sendText: (text) => {
          const payload = Buffer.from(text);
          if (payload.length >= 126) throw new Error('short frames only');
          // FIN + text, masked with the all-zero key (the payload goes as is)
          socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
        },
        received: () => got,
        close: () => socket.destroy(),
      });
    });
    req.on('response', (res) => reject(new Error(`HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

const BOOT = { chargePointVendor: 'ACME', chargePointModel: 'X1' };

describe('listeners', () => {
  it("'frame' has the frames, 'event' the events, 'entry' both in the order they happened", async () => {
    const csms = await startCsms();
    const frames: string[] = [];
    const events: string[] = [];
    const entries: string[] = [];
    csms.on('frame', (f) => frames.push(`${f.dir} ${f.text}`));
    csms.on('event', (e) => events.push(e.event));
    const off = csms.on('entry', (e) => entries.push('dir' in e ? `${e.dir} ${e.text}` : e.event));
    const raw = await rawCharger(csms, 'LST');
    const out = `out ${JSON.stringify(await raw.call('h1', 'Heartbeat', {}))}`;
    raw.close();
    await expect.poll(() => events).toContain('disconnected');
    expect(frames).toEqual(['in [2,"h1","Heartbeat",{}]', out]);
    expect(events).toEqual(['connected', 'disconnected']);
    expect(entries).toEqual(['connected', 'in [2,"h1","Heartbeat",{}]', out, 'disconnected']);
    off(); // from both channels
    await (await rawCharger(csms, 'LST2')).call('h2', 'Heartbeat', {});
    expect(entries).toHaveLength(4);
    expect(frames).toHaveLength(4);
  });

  it('a listener that unsubscribes while being called does not cost the next one its delivery', async () => {
    const csms = await startCsms();
    const got: string[] = [];
    const offFirst = csms.on('event', (e) => {
      got.push(`first ${e.event}`);
      offFirst();
    });
    csms.on('event', (e) => got.push(`second ${e.event}`));
    await rawCharger(csms, 'UNSUB');
    await expect.poll(() => got).toEqual(['first connected', 'second connected']);
  });
});

describe('handshake: subprotocol', () => {
  it('accepts ocpp1.6 and answers a strict ocpp-rpc client', async () => {
    const csms = await startCsms();
    const client = await rpcClient(csms, 'CP1');
    expect(client.protocol).toBe('ocpp1.6');
    const r = (await client.call('BootNotification', BOOT)) as { status: string; interval: number; currentTime: string };
    expect(r.status).toBe('Accepted');
    expect(r.interval).toBe(300);
    expect(Math.abs(Date.parse(r.currentTime) - Date.now())).toBeLessThan(5_000);
    expect(csms.chargePoint('CP1').connection?.protocol).toBe('ocpp1.6');
    expect(csms.chargePoint('CP1').state.boot?.status).toBe('Accepted');
  });

  it('completes without a subprotocol and closes with 1002 and the reason when ocpp1.6 is not offered (OCPP-J 1.6)', async () => {
    const csms = await startCsms();
    // a plain HTTP upgrade, because a WebSocket library would itself abort on the missing subprotocol
    const { headers, frame } = await upgradeAndReadFrame(csms.port, '/CP2', 'ocpp2.0.1');
    expect(headers['sec-websocket-protocol']).toBeUndefined();
    expect(frame[0]).toBe(0x88); // FIN + close
    const len = (frame[1] as number) & 0x7f;
    expect(frame.readUInt16BE(2)).toBe(1002);
    expect(frame.subarray(4, 2 + len).toString()).toMatch(/this CSMS speaks ocpp1\.6; offered: ocpp2\.0\.1/);
    expect(csms.refusals().at(-1)).toMatchObject({ chargePointId: 'CP2', reason: expect.stringMatching(/offered: ocpp2\.0\.1/) });
  });

  it("refuses with HTTP 400 in 'reject' mode, also when no subprotocol is offered", async () => {
    const csms = await startCsms({ subprotocolMismatch: 'reject' });
    const r = await refusedWith(rawCharger(csms, 'CP3', { protocols: [] }));
    expect(r).toEqual({ status: 400, body: 'this CSMS speaks ocpp1.6; offered: no subprotocol' });
  });

  it('refuses a path without charge point id, and unknown chargers when asked to', async () => {
    const csms = await startCsms({ unknownChargers: 'reject', chargers: { KNOWN: {} } });
    expect(await refusedWith(rawCharger(csms, ''))).toMatchObject({ status: 400, body: expect.stringMatching(/names no charge point/) });
    expect(await refusedWith(rawCharger(csms, 'STRANGER'))).toEqual({ status: 404, body: 'unknown charge point "STRANGER"' });
    await rawCharger(csms, 'KNOWN');
  });
});

describe('CALLERROR codes for charger CALLs', () => {
  let csms: MockCsms;
  const cases: [string, string, string, RegExp, string | undefined][] = [
    ['NotImplemented', '[2,"n1","FlyToTheMoon",{}]', 'n1', /not an OCPP 1\.6 action/, 'ocpp16.action'],
    ['NotSupported', '[2,"n2","Reset",{"type":"Hard"}]', 'n2', /Central System to charge point message/, 'ocpp16.direction'],
    ['ProtocolError', '[2,"n3","Heartbeat"]', 'n3', /incomplete/, 'ocppj.frame'],
    ['FormationViolation', '[2,"n4","Heartbeat",[]]', 'n4', /payload must be a JSON object/, 'ocppj.frame'],
    ['FormationViolation', '[2,"n5","Heartbeat",{}', 'n5', /not valid JSON/, 'ocppj.frame'],
    ['PropertyConstraintViolation', JSON.stringify([2, 'n6', 'BootNotification', { ...BOOT, chargePointVendor: 'V'.repeat(21) }]), 'n6', /chargePointVendor must NOT have more than 20/, 'ocpp16.schema.BootNotification.req'],
    ['PropertyConstraintViolation', '[2,"n7","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Dancing"}]', 'n7', /\/status must be one of/, 'ocpp16.schema.StatusNotification.req'],
    ['OccurenceConstraintViolation', '[2,"n8","BootNotification",{"chargePointVendor":"ACME"}]', 'n8', /missing required property "chargePointModel"/, 'ocpp16.schema.BootNotification.req'],
    ['TypeConstraintViolation', '[2,"n9","StatusNotification",{"connectorId":"1","errorCode":"NoError","status":"Available"}]', 'n9', /connectorId must be integer/, 'ocpp16.schema.StatusNotification.req'],
  ];

  it.each(cases)('%s: %s', async (code, frame, id, message, rule) => {
    csms = await startCsms();
    const raw = await rawCharger(csms, 'NEG');
    raw.send(frame);
    const [type, uniqueId, errorCode, description, details] = await raw.nextJson();
    expect([type, uniqueId, errorCode]).toEqual([4, id, code]);
    expect(description).toMatch(message);
    expect(details).toBeTypeOf('object');
    expect(csms.violations().map((v) => v.rule)).toEqual(rule ? [rule] : []);
    expect(csms.chargePoint('NEG').violations()[0]?.message).toMatch(message);
  });

  it('SecurityError: calls after a Rejected BootNotification', async () => {
    csms = await startCsms({ defaults: { bootStatus: 'Rejected' } });
    const raw = await rawCharger(csms, 'REJ');
    expect(await raw.call('b1', 'BootNotification', BOOT)).toMatchObject([3, 'b1', { status: 'Rejected' }]);
    const [type, id, code, description] = await raw.call('h1', 'Heartbeat', {});
    expect([type, id, code]).toEqual([4, 'h1', 'SecurityError']);
    expect(description).toMatch(/BootNotification was Rejected/);
    expect(csms.violations().map((v) => v.rule)).toEqual(['ocpp16.boot.rejected']);
  });

  it('InternalError: the CSMS handler failed (seen by a strict ocpp-rpc client as RPCInternalError)', async () => {
    csms = await startCsms();
    csms.chargePoint('IE').handle('Heartbeat', () => {
      throw new Error('database on fire');
    });
    const client = await rpcClient(csms, 'IE');
    const e = await client.call('Heartbeat', {}).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RPCInternalError);
    expect((e as Error).message).toMatch(/database on fire/);
    expect(csms.violations()).toEqual([]); // not the charger's fault
  });

  it('GenericError (and any code) when a suite scripts it', async () => {
    csms = await startCsms();
    csms.respond('GE', 'Heartbeat', { action: 'error', error: { code: 'GenericError', description: 'scripted', details: { why: 'test' } } });
    const client = await rpcClient(csms, 'GE');
    const e = await client.call('Heartbeat', {}).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RPCGenericError);
    expect((e as Error).message).toBe('scripted');
    // the rule was used once: the next Heartbeat gets the default answer
    expect(await client.call('Heartbeat', {})).toHaveProperty('currentTime');
  });

  it('ignores an unknown message type id and records it', async () => {
    csms = await startCsms();
    const raw = await rawCharger(csms, 'MT');
    raw.send('[5,"m1","Heartbeat",{}]');
    expect(await raw.quiet(200)).toBe(true);
    expect(csms.violations()[0]).toMatchObject({ rule: 'ocppj.messageType', uniqueId: 'm1' });
  });

  it('answers an unreadable frame with uniqueId "-1"', async () => {
    csms = await startCsms();
    const raw = await rawCharger(csms, 'GARBAGE');
    raw.send('hello');
    expect((await raw.nextJson()).slice(0, 3)).toEqual([4, '-1', 'FormationViolation']);
  });
});

describe('one outstanding CALL per direction', () => {
  it('queues CSMS calls: the second CALL goes out only after the first is answered', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'Q');
    const s = sig();
    const p1 = csms.call('Q', 'ClearCache', {}, { signal: s });
    const p2 = csms.call('Q', 'GetLocalListVersion', {}, { signal: s });
    const p3 = csms.call('Q', 'Reset', { type: 'Soft' }, { signal: s });
    const [, id1, a1] = await raw.nextJson();
    expect(a1).toBe('ClearCache');
    expect(await raw.quiet(150)).toBe(true); // nothing else while the first is outstanding
    raw.send(JSON.stringify([3, id1, { status: 'Accepted' }]));
    const [, id2, a2] = await raw.nextJson();
    expect(a2).toBe('GetLocalListVersion');
    raw.send(JSON.stringify([3, id2, { listVersion: 7 }]));
    const [, id3, a3] = await raw.nextJson();
    expect(a3).toBe('Reset');
    raw.send(JSON.stringify([3, id3, { status: 'Accepted' }]));
    expect(await Promise.all([p1, p2, p3])).toEqual([{ status: 'Accepted' }, { listVersion: 7 }, { status: 'Accepted' }]);
    expect(new Set([id1, id2, id3]).size).toBe(3);
    expect(csms.chargePoint('Q').state.localList.version).toBe(7);
  });

  it('allows more outstanding CALLs only as a fault mode (callConcurrency)', async () => {
    const csms = await startCsms({ callConcurrency: 2 });
    const raw = await rawCharger(csms, 'Q2');
    const s = sig();
    void csms.call('Q2', 'ClearCache', {}, { signal: s }).catch(() => {});
    void csms.call('Q2', 'ClearCache', {}, { signal: s }).catch(() => {});
    await raw.next();
    await raw.next(); // both out before any answer
  });

  it('records a charger that sends a second CALL before the first is answered, and answers both', async () => {
    const csms = await startCsms();
    csms.respond('C2', 'Heartbeat', { delayMs: 150 });
    const raw = await rawCharger(csms, 'C2');
    raw.send('[2,"a","Heartbeat",{}]');
    raw.send('[2,"b","Heartbeat",{}]');
    const ids = [(await raw.nextJson())[1], (await raw.nextJson())[1]];
    expect(ids.sort()).toEqual(['a', 'b']);
    expect(csms.violations().map((v) => v.rule)).toEqual(['ocppj.concurrency']);
    expect(csms.violations()[0]?.message).toMatch(/Heartbeat \(b\) sent while Heartbeat \(a\) is unanswered/);
  });

  it('records a CALLRESULT whose uniqueId matches no CALL', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'U');
    raw.send('[3,"nobody-asked",{}]');
    await expect.poll(() => csms.violations().map((v) => v.rule)).toEqual(['ocppj.uniqueId']);
  });
});

describe('timeouts, liveness, dropped connections', () => {
  it('times a CSMS call out as the charger fault, with a timeout exchange', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'T');
    const e = await csms.call('T', 'ClearCache', {}, { signal: sig(), timeoutMs: 200 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProtocolViolation);
    expect((e as ProtocolViolation).rule).toBe('ocppj.callTimeout');
    expect(csms.exchanges().at(-1)).toMatchObject({ direction: 'csms->cp', message: 'ClearCache', outcome: 'timeout' });
    expect((await raw.nextJson())[2]).toBe('ClearCache');
    // a late answer is then an unknown uniqueId
  });

  it('rejects with LinkError when the charger is not connected within the timeout, or drops during a call', async () => {
    const csms = await startCsms();
    const e1 = await csms.call('NOBODY', 'ClearCache', {}, { signal: sig(), timeoutMs: 100 }).catch((x: unknown) => x);
    expect(e1).toBeInstanceOf(LinkError);
    const raw = await rawCharger(csms, 'DROP');
    const p = csms.call('DROP', 'ClearCache', {}, { signal: sig() });
    await raw.next();
    raw.close();
    const e2 = await p.catch((x: unknown) => x);
    expect(e2).toBeInstanceOf(LinkError);
    expect((e2 as Error).message).toMatch(/connection closed/);
  });

  it('honours the AbortSignal of a call', async () => {
    const csms = await startCsms();
    await rawCharger(csms, 'AB');
    const ac = new AbortController();
    const p = csms.call('AB', 'ClearCache', {}, { signal: ac.signal });
    ac.abort(new Error('phase timeout'));
    await expect(p).rejects.toThrow('phase timeout');
  });

  it('drops a charger that does not answer pings', async () => {
    const csms = await startCsms({ pingIntervalMs: 80 });
    const raw = await rawCharger(csms, 'PING', { autoPong: false });
    const closed = await raw.waitClosed(2_000);
    expect(closed.code).toBe(1006);
    const live = await rawCharger(csms, 'PONG');
    expect(await live.quiet(300)).toBe(true);
    expect(live.closed).toBeUndefined();
  });

  it('a CALL on a replaced connection is never answered on the connection that replaced it', async () => {
    const csms = await startCsms();
    const a = await bareClient(csms.port, '/DUP');
    const b = await rawCharger(csms, 'DUP'); // replaces A: the CSMS closes A, which does not go
    a.sendText('[2,"on-a","Heartbeat",{}]');
    const call = await csms.expectCall('DUP', 'Heartbeat', { timeoutMs: 3_000, signal: sig() });
    expect(call.uniqueId).toBe('on-a'); // the CSMS did read A's CALL
    expect(await b.quiet(300)).toBe(true); // and its answer did not go to B
    expect(a.received()).not.toContain('on-a'); // nor to A, which is closing
    expect(await b.call('on-b', 'Heartbeat', {})).toMatchObject([3, 'on-b', { currentTime: expect.any(String) }]);
    a.close();
  });

  it('answers CALLERROR from the charger with OcppCallError and records non-1.6 codes', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'ERR');
    const p = csms.call('ERR', 'Reset', { type: 'Hard' }, { signal: sig() }).catch((x: unknown) => x);
    const [, id] = await raw.nextJson();
    raw.send(JSON.stringify([4, id, 'FormatViolation', 'bad', {}]));
    const e = (await p) as OcppCallError;
    expect(e).toBeInstanceOf(OcppCallError);
    expect(e.errorCode).toBe('FormatViolation');
    expect(csms.violations().map((v) => v.rule)).toEqual(['ocppj.errorCode']);
  });
});
