// Every CSMS-initiated call of the typed API against a strict ocpp-rpc charger (which validates each
// incoming CALL against the official schemas): core 1.6, 1.6 security and PnC (inner payload checked
// by ocpp-rpc's own 2.0.1 validator), the state each leaves (configuration, local list, the two
// certificate stores kept apart), the trigger flows (ExtendedTriggerMessage → SignCertificate →
// CertificateSigned; PnC TriggerMessage SignV2GCertificate → DataTransfer SignCertificate), and what
// happens with bad payloads in either direction.
import { createRequire } from 'node:module';
import { createValidator, type RPCClient } from 'ocpp-rpc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolViolation } from '../../drivers/capabilities.ts';
import { CsmsUsageError, PNC_VENDOR_ID, type MockCsms } from '../../src/csms/index.ts';
import { certificateHashData, generatePki, type BenchPki } from '../../src/pki/index.ts';
import { cleanup, opensslCsr, rawCharger, removeTmpDirs, rpcClient, sig, startCsms } from './helpers.ts';

const require = createRequire(import.meta.url);
const v201 = createValidator('ocpp2.0.1', require('ocpp-rpc/lib/schemas/ocpp2_0_1.json'));

let pki: BenchPki;
beforeAll(() => {
  pki = generatePki({ seed: 'csms-calls', organization: 'ACME CPO' });
});
afterEach(cleanup);
afterAll(async () => {
  await cleanup();
  removeTmpDirs();
});

/** A strict charger that records what it was asked and answers from `answers`. */
async function charger(csms: MockCsms, id: string, answers: Record<string, (p: Record<string, unknown>) => Record<string, unknown>>): Promise<{ client: RPCClient; got: { method: string; params: Record<string, unknown> }[] }> {
  const client = await rpcClient(csms, id);
  const got: { method: string; params: Record<string, unknown> }[] = [];
  client.handle(async ({ method, params }) => {
    const p = params as Record<string, unknown>;
    got.push({ method: method as string, params: p });
    const f = answers[method as string];
    if (!f) throw new Error(`test charger has no answer for ${String(method)}`);
    return f(p);
  });
  return { client, got };
}

/** PnC side of the test charger: validates the inner request with ocpp-rpc's 2.0.1 schemas and answers `inner`. */
function pncAnswer(answers: Record<string, (inner: Record<string, unknown>) => Record<string, unknown>>) {
  return (p: Record<string, unknown>): Record<string, unknown> => {
    expect(p.vendorId).toBe(PNC_VENDOR_ID);
    const id = p.messageId as string;
    const inner = JSON.parse(p.data as string) as Record<string, unknown>;
    v201.validate(`urn:${id}.req`, inner);
    const f = answers[id];
    if (!f) return { status: 'UnknownMessageId' };
    return { status: 'Accepted', data: JSON.stringify(f(inner)) };
  };
}

describe('core 1.6 calls', () => {
  it('ChangeConfiguration, GetConfiguration, SendLocalList, GetLocalListVersion, ClearCache, Reset, RemoteStart/Stop, ChangeAvailability, UnlockConnector', async () => {
    const csms = await startCsms();
    const { got } = await charger(csms, 'CORE', {
      ChangeConfiguration: (p) => ({ status: p.key === 'ReadOnlyKey' ? 'Rejected' : 'Accepted' }),
      GetConfiguration: () => ({ configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '60' }, { key: 'ChargeProfileMaxStackLevel', readonly: true, value: '8' }], unknownKey: ['Nope'] }),
      SendLocalList: () => ({ status: 'Accepted' }),
      GetLocalListVersion: () => ({ listVersion: 3 }),
      ClearCache: () => ({ status: 'Accepted' }),
      Reset: () => ({ status: 'Accepted' }),
      RemoteStartTransaction: () => ({ status: 'Accepted' }),
      RemoteStopTransaction: () => ({ status: 'Rejected' }),
      ChangeAvailability: () => ({ status: 'Scheduled' }),
      UnlockConnector: () => ({ status: 'Unlocked' }),
    });
    const o = { signal: sig() };
    expect(await csms.call('CORE', 'ChangeConfiguration', { key: 'HeartbeatInterval', value: '60' }, o)).toEqual({ status: 'Accepted' });
    expect(await csms.call('CORE', 'ChangeConfiguration', { key: 'ReadOnlyKey', value: 'x' }, o)).toEqual({ status: 'Rejected' });
    const conf = await csms.call('CORE', 'GetConfiguration', { key: ['HeartbeatInterval', 'ChargeProfileMaxStackLevel', 'Nope'] }, o);
    expect(conf.unknownKey).toEqual(['Nope']);
    expect(await csms.call('CORE', 'SendLocalList', { listVersion: 3, updateType: 'Full', localAuthorizationList: [{ idTag: 'RFID1', idTagInfo: { status: 'Accepted' } }, { idTag: 'RFID2', idTagInfo: { status: 'Blocked' } }] }, o)).toEqual({ status: 'Accepted' });
    expect(await csms.call('CORE', 'GetLocalListVersion', {}, o)).toEqual({ listVersion: 3 });
    expect(await csms.call('CORE', 'ClearCache', {}, o)).toEqual({ status: 'Accepted' });
    expect(await csms.call('CORE', 'Reset', { type: 'Soft' }, o)).toEqual({ status: 'Accepted' });
    expect(await csms.call('CORE', 'RemoteStartTransaction', { connectorId: 1, idTag: 'RFID1' }, o)).toEqual({ status: 'Accepted' });
    expect(await csms.call('CORE', 'RemoteStopTransaction', { transactionId: 42 }, o)).toEqual({ status: 'Rejected' });
    expect(await csms.call('CORE', 'ChangeAvailability', { connectorId: 0, type: 'Inoperative' }, o)).toEqual({ status: 'Scheduled' });
    expect(await csms.call('CORE', 'UnlockConnector', { connectorId: 1 }, o)).toEqual({ status: 'Unlocked' });
    expect(got.map((g) => g.method)).toEqual([
      'ChangeConfiguration',
      'ChangeConfiguration',
      'GetConfiguration',
      'SendLocalList',
      'GetLocalListVersion',
      'ClearCache',
      'Reset',
      'RemoteStartTransaction',
      'RemoteStopTransaction',
      'ChangeAvailability',
      'UnlockConnector',
    ]);
    const s = csms.chargePoint('CORE').state;
    expect(s.config('HeartbeatInterval')).toBe('60');
    expect(s.configuration.get('ChargeProfileMaxStackLevel')).toMatchObject({ value: '8', readonly: true, source: 'GetConfiguration' });
    expect(s.configuration.has('ReadOnlyKey')).toBe(false);
    expect(s.localList.version).toBe(3);
    expect([...s.localList.entries.keys()]).toEqual(['RFID1', 'RFID2']);
    // timings: one csms->cp exchange per call
    const timings = csms.drainTimings();
    expect(timings.filter((t) => t.direction === 'csms->cp')).toHaveLength(11);
    expect(timings[0]).toMatchObject({ protocol: 'ocpp', message: 'ChangeConfiguration', direction: 'csms->cp' });
    expect(csms.drainTimings()).toEqual([]);
  });

  it('refuses to send a payload that fails the schema (suite bug), unless unchecked', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'BAD');
    await expect(csms.call('BAD', 'Reset', { type: 'Warm' } as never, { signal: sig() })).rejects.toBeInstanceOf(CsmsUsageError);
    await expect(csms.call('BAD', 'Heartbeat' as never, {} as never, { signal: sig() })).rejects.toThrow(/sent by charge points/);
    expect(await raw.quiet(100)).toBe(true);
    const p = csms.call('BAD', 'Reset', { type: 'Warm' } as never, { signal: sig(), unchecked: true });
    const [, id, action, payload] = await raw.nextJson();
    expect([action, payload]).toEqual(['Reset', { type: 'Warm' }]);
    raw.send(JSON.stringify([3, id, { status: 'Accepted' }]));
    expect(await p).toEqual({ status: 'Accepted' });
  });

  it('an answer that fails the schema is the charger violation', async () => {
    const csms = await startCsms();
    const raw = await rawCharger(csms, 'BADCONF');
    const p = csms.call('BADCONF', 'Reset', { type: 'Hard' }, { signal: sig() }).catch((e: unknown) => e);
    const [, id] = await raw.nextJson();
    raw.send(JSON.stringify([3, id, { status: 'OK' }]));
    const e = (await p) as ProtocolViolation;
    expect(e).toBeInstanceOf(ProtocolViolation);
    expect(e.rule).toBe('ocpp16.schema.Reset.conf');
    expect(e.message).toMatch(/\/status must be one of "Accepted", "Rejected"/);
  });
});

describe('1.6 security calls', () => {
  it('InstallCertificate, GetInstalledCertificateIds, DeleteCertificate, CertificateSigned into the security store only', async () => {
    const csms = await startCsms({ pki });
    const root = pki.cert('csms-ca');
    const hash = certificateHashData(root, root);
    await charger(csms, 'SEC', {
      InstallCertificate: () => ({ status: 'Accepted' }),
      GetInstalledCertificateIds: () => ({ status: 'Accepted', certificateHashData: [hash] }),
      DeleteCertificate: () => ({ status: 'Accepted' }),
      CertificateSigned: () => ({ status: 'Rejected' }),
    });
    const o = { signal: sig() };
    expect(await csms.call('SEC', 'InstallCertificate', { certificateType: 'CentralSystemRootCertificate', certificate: root.pem }, o)).toEqual({ status: 'Accepted' });
    expect(await csms.call('SEC', 'GetInstalledCertificateIds', { certificateType: 'CentralSystemRootCertificate' }, o)).toEqual({ status: 'Accepted', certificateHashData: [hash] });
    const store = csms.chargePoint('SEC').state.certificates;
    expect(store.security.list('CentralSystemRootCertificate').map((c) => c.source)).toEqual(['installed', 'reported']);
    expect(await csms.call('SEC', 'DeleteCertificate', { certificateHashData: hash }, o)).toEqual({ status: 'Accepted' });
    expect(store.security.list('CentralSystemRootCertificate').map((c) => c.source)).toEqual(['installed']);
    expect(await csms.call('SEC', 'CertificateSigned', { certificateChain: pki.cert('csms-server-ecdsa').pem }, o)).toEqual({ status: 'Rejected' });
    expect(store.pnc.list()).toEqual([]);
  });

  it('ExtendedTriggerMessage SignChargePointCertificate → SignCertificate → CertificateSigned', async () => {
    const csms = await startCsms({ pki });
    const { csr } = opensslCsr('/CN=TRIG/O=ACME CPO');
    let resolveChain!: (pem: string) => void;
    const chain = new Promise<string>((r) => (resolveChain = r));
    const { client } = await charger(csms, 'TRIG', {
      ExtendedTriggerMessage: (p) => {
        expect(p.requestedMessage).toBe('SignChargePointCertificate');
        setTimeout(() => void client.call('SignCertificate', { csr }), 10); // after answering, as a charger does
        return { status: 'Accepted' };
      },
      CertificateSigned: (p) => {
        resolveChain(p.certificateChain as string);
        return { status: 'Accepted' };
      },
    });
    expect(await csms.call('TRIG', 'ExtendedTriggerMessage', { requestedMessage: 'SignChargePointCertificate' }, { signal: sig() })).toEqual({ status: 'Accepted' });
    expect(await chain).toMatch(/BEGIN CERTIFICATE/);
    expect(csms.chargePoint('TRIG').state.certificates.security.list('ChargePointCertificate')).not.toEqual([]);
  });
});

describe('PnC calls', () => {
  it('InstallCertificate, GetInstalledCertificateIds, DeleteCertificate, CertificateSigned, TriggerMessage into the PnC store only', async () => {
    const csms = await startCsms({ pki });
    const v2gRoot = pki.cert('v2g-root');
    const rootHash = certificateHashData(v2gRoot, v2gRoot);
    const { got } = await charger(csms, 'PNC', {
      DataTransfer: pncAnswer({
        InstallCertificate: () => ({ status: 'Accepted' }),
        GetInstalledCertificateIds: (inner) => (Array.isArray(inner.certificateType) && inner.certificateType.includes('MORootCertificate') ? { status: 'NotFound' } : { status: 'Accepted', certificateHashDataChain: [{ certificateType: 'V2GRootCertificate', certificateHashData: rootHash }] }),
        DeleteCertificate: () => ({ status: 'NotFound' }),
        CertificateSigned: () => ({ status: 'Rejected', statusInfo: { reasonCode: 'InvalidChain' } }),
        TriggerMessage: () => ({ status: 'Accepted' }),
      }),
    });
    const o = { signal: sig(), pnc: true as const };
    expect(await csms.call('PNC', 'InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: v2gRoot.pem }, o)).toMatchObject({ status: 'Accepted', response: { status: 'Accepted' } });
    const ids = await csms.call('PNC', 'GetInstalledCertificateIds', { certificateType: ['V2GRootCertificate'] }, o);
    expect(ids.response?.certificateHashDataChain?.[0]?.certificateHashData).toEqual(rootHash);
    expect((await csms.call('PNC', 'GetInstalledCertificateIds', { certificateType: ['MORootCertificate'] }, o)).response).toEqual({ status: 'NotFound' });
    expect((await csms.call('PNC', 'GetInstalledCertificateIds', {}, o)).response?.status).toBe('Accepted');
    expect((await csms.call('PNC', 'DeleteCertificate', { certificateHashData: rootHash }, o)).response).toEqual({ status: 'NotFound' });
    expect((await csms.call('PNC', 'CertificateSigned', { certificateChain: pki.cert('secc-leaf').pem, certificateType: 'V2GCertificate' }, o)).response).toEqual({ status: 'Rejected', statusInfo: { reasonCode: 'InvalidChain' } });
    expect((await csms.call('PNC', 'TriggerMessage', { requestedMessage: 'SignV2GCertificate' }, o)).response).toEqual({ status: 'Accepted' });
    expect(got.every((g) => g.method === 'DataTransfer')).toBe(true);
    expect(got.map((g) => g.params.messageId)).toEqual(['InstallCertificate', 'GetInstalledCertificateIds', 'GetInstalledCertificateIds', 'GetInstalledCertificateIds', 'DeleteCertificate', 'CertificateSigned', 'TriggerMessage']);
    const store = csms.chargePoint('PNC').state.certificates;
    expect(store.pnc.list('V2GRootCertificate').map((c) => c.source).sort()).toEqual(['installed', 'reported']);
    expect(store.security.list()).toEqual([]);
    expect(csms.drainTimings().map((t) => t.message)).toContain('DataTransfer.TriggerMessage');
  });

  it('refuses a PnC payload that fails the 2.0.1 schema (e.g. TriggerMessage SignCertificate) unless unchecked', async () => {
    const csms = await startCsms({ pki });
    const raw = await rawCharger(csms, 'PNCBAD');
    const e = await csms.call('PNCBAD', 'TriggerMessage', { requestedMessage: 'SignCertificate' }, { signal: sig(), pnc: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CsmsUsageError);
    expect((e as Error).message).toMatch(/requestedMessage must be one of/);
    const p = csms.call('PNCBAD', 'TriggerMessage', { requestedMessage: 'SignCertificate' }, { signal: sig(), pnc: true, unchecked: true });
    const [, id, , payload] = await raw.nextJson();
    expect(JSON.parse((payload as { data: string }).data)).toEqual({ requestedMessage: 'SignCertificate' });
    // outer Rejected with plain text data (what EVerest does when CpoName is unset) is tolerated
    raw.send(JSON.stringify([3, id, { status: 'Rejected', data: 'CpoName not set' }]));
    expect(await p).toEqual({ status: 'Rejected', data: 'CpoName not set', response: undefined });
    expect(csms.violations()).toEqual([]);
  });

  it('an inner answer that is not JSON or fails the 2.0.1 schema is the charger violation', async () => {
    const csms = await startCsms({ pki });
    const raw = await rawCharger(csms, 'PNCCONF');
    const p1 = csms.call('PNCCONF', 'DeleteCertificate', { certificateHashData: certificateHashData(pki.cert('mo-root'), pki.cert('mo-root')) }, { signal: sig(), pnc: true }).catch((x: unknown) => x);
    const [, id1] = await raw.nextJson();
    raw.send(JSON.stringify([3, id1, { status: 'Accepted', data: JSON.stringify({ status: 'Deleted' }) }]));
    expect(((await p1) as ProtocolViolation).rule).toBe('pnc.schema.DeleteCertificate.conf');
    const p2 = csms.call('PNCCONF', 'TriggerMessage', { requestedMessage: 'SignV2GCertificate' }, { signal: sig(), pnc: true }).catch((x: unknown) => x);
    const [, id2] = await raw.nextJson();
    raw.send(JSON.stringify([3, id2, { status: 'Accepted', data: 'ok' }]));
    expect(((await p2) as ProtocolViolation).rule).toBe('pnc.data');
  });

  it('TriggerMessage SignV2GCertificate → DataTransfer SignCertificate → DataTransfer CertificateSigned', async () => {
    const csms = await startCsms({ pki });
    const { csr } = opensslCsr('/CN=DEPNX100002/O=ACME CPO/C=DE/DC=CPO');
    let client!: RPCClient;
    const signed = new Promise<Record<string, unknown>>((resolve) => {
      void charger(csms, 'A02', {
        DataTransfer: pncAnswer({
          TriggerMessage: () => {
            setTimeout(() => void client.call('DataTransfer', { vendorId: PNC_VENDOR_ID, messageId: 'SignCertificate', data: JSON.stringify({ csr, certificateType: 'V2GCertificate' }) }), 10);
            return { status: 'Accepted' };
          },
          CertificateSigned: (inner) => {
            resolve(inner);
            return { status: 'Accepted' };
          },
        }),
      }).then((c) => (client = c.client));
    });
    await expect.poll(() => csms.chargePoint('A02').connected).toBe(true);
    const sign = csms.expectCall('A02', 'DataTransfer.SignCertificate', { timeoutMs: 3_000, signal: sig() });
    expect((await csms.call('A02', 'TriggerMessage', { requestedMessage: 'SignV2GCertificate' }, { signal: sig(), pnc: true })).response).toEqual({ status: 'Accepted' });
    expect((await sign).payload).toEqual({ csr, certificateType: 'V2GCertificate' });
    expect((await signed).certificateType).toBe('V2GCertificate');
  });
});
