// Every charger-initiated OCPP 1.6 (+ security) handler of the mock CSMS driven by a strict ocpp-rpc
// client (which also checks that every answer is schema-valid), with the state each one leaves
// behind; 1.6 security SignCertificate signs an openssl CSR and follows up with CertificateSigned
// that node:crypto verifies against the CSMS CA; bad CSRs are Rejected with nothing sent after.
import { X509Certificate } from 'node:crypto';
import type { RPCClient } from 'ocpp-rpc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generatePki, type BenchPki } from '../../src/pki/index.ts';
import type { MockCsms } from '../../src/csms/index.ts';
import { cleanup, opensslCsr, rawCharger, removeTmpDirs, rpcClient, sig, startCsms } from './helpers.ts';

let pki: BenchPki;
beforeAll(() => {
  pki = generatePki({ seed: 'csms-handlers', organization: 'ACME CPO' });
});
afterEach(cleanup);
afterAll(async () => {
  await cleanup();
  removeTmpDirs();
});

const iso = () => new Date().toISOString();

describe('core handlers', () => {
  let csms: MockCsms;
  let client: RPCClient;

  it('BootNotification, Heartbeat, StatusNotification and the state they leave', async () => {
    csms = await startCsms({ defaults: { heartbeatIntervalS: 60 } });
    client = await rpcClient(csms, 'CORE');
    const boot = (await client.call('BootNotification', { chargePointVendor: 'ACME', chargePointModel: 'X1', firmwareVersion: '1.2' })) as Record<string, unknown>;
    expect(boot).toMatchObject({ status: 'Accepted', interval: 60 });
    const hb = (await client.call('Heartbeat', {})) as { currentTime: string };
    expect(hb.currentTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(await client.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing', timestamp: iso() })).toEqual({});
    const s = csms.chargePoint('CORE').state;
    expect(s.boot?.payload).toMatchObject({ firmwareVersion: '1.2' });
    expect(s.lastHeartbeatAt).toBeGreaterThan(0);
    expect(s.connectors.get(1)).toMatchObject({ status: 'Preparing', errorCode: 'NoError' });
    expect(csms.violations()).toEqual([]);
  });

  it('BootNotification Pending / Rejected as configured', async () => {
    csms = await startCsms({ chargers: { P: { bootStatus: 'Pending' }, R: { bootStatus: 'Rejected', heartbeatIntervalS: 900 } } });
    expect(await (await rpcClient(csms, 'P')).call('BootNotification', { chargePointVendor: 'A', chargePointModel: 'B' })).toMatchObject({ status: 'Pending' });
    expect(await (await rpcClient(csms, 'R')).call('BootNotification', { chargePointVendor: 'A', chargePointModel: 'B' })).toMatchObject({ status: 'Rejected', interval: 900 });
  });

  it('Authorize, StartTransaction, MeterValues, StopTransaction with the idTag policy', async () => {
    csms = await startCsms({ defaults: { idTags: { STOLEN: 'Blocked' }, defaultIdTagStatus: 'Accepted' } });
    client = await rpcClient(csms, 'TX');
    expect(await client.call('Authorize', { idTag: 'RFID1' })).toEqual({ idTagInfo: { status: 'Accepted' } });
    expect(await client.call('Authorize', { idTag: 'STOLEN' })).toEqual({ idTagInfo: { status: 'Blocked' } });
    const start = (await client.call('StartTransaction', { connectorId: 1, idTag: 'RFID1', meterStart: 1000, timestamp: iso() })) as { transactionId: number; idTagInfo: unknown };
    expect(start.idTagInfo).toEqual({ status: 'Accepted' });
    expect(Number.isInteger(start.transactionId)).toBe(true);
    const mv = { connectorId: 1, transactionId: start.transactionId, meterValue: [{ timestamp: iso(), sampledValue: [{ value: '1500', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] };
    expect(await client.call('MeterValues', mv)).toEqual({});
    expect(await client.call('StopTransaction', { transactionId: start.transactionId, meterStop: 2500, timestamp: iso(), idTag: 'RFID1', reason: 'EVDisconnected' })).toEqual({ idTagInfo: { status: 'Accepted' } });
    const tx = csms.chargePoint('TX').state.transactions.get(start.transactionId);
    expect(tx).toMatchObject({ connectorId: 1, idTag: 'RFID1', meterStartWh: 1000, meterStopWh: 2500, stopReason: 'EVDisconnected', meterValues: 1 });
    expect(tx?.stoppedAt).toBeGreaterThan(0);
    // transaction ids are unique across chargers
    const other = await rpcClient(csms, 'TX2');
    const start2 = (await other.call('StartTransaction', { connectorId: 1, idTag: 'X', meterStart: 0, timestamp: iso() })) as { transactionId: number };
    expect(start2.transactionId).not.toBe(start.transactionId);
  });

  it('notifications: SecurityEvent, LogStatus, SignedFirmwareStatus, FirmwareStatus, DiagnosticsStatus', async () => {
    csms = await startCsms();
    client = await rpcClient(csms, 'N');
    expect(await client.call('SecurityEventNotification', { type: 'StartupOfTheDevice', timestamp: iso(), techInfo: 'cold boot' })).toEqual({});
    expect(await client.call('LogStatusNotification', { status: 'Uploaded', requestId: 1 })).toEqual({});
    expect(await client.call('SignedFirmwareStatusNotification', { status: 'SignatureVerified', requestId: 2 })).toEqual({});
    expect(await client.call('FirmwareStatusNotification', { status: 'Installed' })).toEqual({});
    expect(await client.call('DiagnosticsStatusNotification', { status: 'Uploaded' })).toEqual({});
    const s = csms.chargePoint('N').state;
    expect(s.securityEvents).toMatchObject([{ type: 'StartupOfTheDevice', techInfo: 'cold boot' }]);
    expect(s.notifications.map((n) => n.action)).toEqual(['LogStatusNotification', 'SignedFirmwareStatusNotification', 'FirmwareStatusNotification', 'DiagnosticsStatusNotification']);
  });

  it('DataTransfer of another vendor: UnknownVendorId', async () => {
    csms = await startCsms();
    client = await rpcClient(csms, 'DT');
    expect(await client.call('DataTransfer', { vendorId: 'com.example', messageId: 'Hello', data: 'x' })).toEqual({ status: 'UnknownVendorId' });
  });

  it('zone-less timestamps: a violation by default, a warning with lenientTimestamps', async () => {
    csms = await startCsms({ chargers: { LENIENT: { lenientTimestamps: true } } });
    const strict = await rawCharger(csms, 'STRICT');
    expect((await strict.call('s1', 'SecurityEventNotification', { type: 'X', timestamp: '2025-01-01T10:00:00' }))[2]).toBe('PropertyConstraintViolation');
    const lenient = await rawCharger(csms, 'LENIENT');
    const warnings: string[] = [];
    csms.on('entry', (e) => {
      if ('event' in e && e.event === 'warning') warnings.push(JSON.stringify(e.detail));
    });
    expect(await lenient.call('l1', 'SecurityEventNotification', { type: 'X', timestamp: '2025-01-01T10:00:00' })).toEqual([3, 'l1', {}]);
    expect(warnings.join()).toMatch(/tolerated/);
    expect(csms.chargePoint('LENIENT').violations()).toEqual([]);
  });
});

describe('1.6 security SignCertificate', () => {
  it('signs a valid CSR, answers Accepted, then sends CertificateSigned with a chain verified by the CSMS CA', async () => {
    const csms = await startCsms({ pki, chargers: { 'CP-SEC-1': { cpoName: 'ACME CPO' } } });
    const client = await rpcClient(csms, 'CP-SEC-1');
    const received = new Promise<{ certificateChain: string }>((resolve) => {
      client.handle('CertificateSigned', async ({ params }) => {
        resolve(params as { certificateChain: string });
        return { status: 'Accepted' };
      });
    });
    const { csr } = opensslCsr('/CN=CP-SEC-1/O=ACME CPO');
    expect(await client.call('SignCertificate', { csr })).toEqual({ status: 'Accepted' });
    const { certificateChain } = await received;
    const leaf = new X509Certificate(certificateChain);
    const ca = new X509Certificate(pki.cert('csms-ca').pem);
    expect(leaf.subject).toContain('CN=CP-SEC-1');
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    const store = csms.chargePoint('CP-SEC-1').state.certificates;
    await expect.poll(() => store.security.list('ChargePointCertificate').map((c) => c.source)).toEqual(['signed', 'installed']);
    expect(store.pnc.list()).toEqual([]); // the PnC store is a different store
  });

  it('rejects a CSR whose CN is another charger and sends nothing after', async () => {
    const csms = await startCsms({ pki });
    const client = await rpcClient(csms, 'CP-SEC-2');
    let signed = false;
    client.handle('CertificateSigned', async () => {
      signed = true;
      return { status: 'Accepted' };
    });
    const { csr } = opensslCsr('/CN=SOMEONE-ELSE/O=ACME CPO');
    expect(await client.call('SignCertificate', { csr })).toEqual({ status: 'Rejected' });
    await new Promise((r) => setTimeout(r, 100));
    expect(signed).toBe(false);
    expect(csms.chargePoint('CP-SEC-2').state.certificates.security.list()).toEqual([]);
  });

  it("followUp 'none' accepts and never signs; followUp delayMs sends later", async () => {
    const csms = await startCsms({ pki });
    const client = await rpcClient(csms, 'CP-SEC-3');
    const times: number[] = [];
    client.handle('CertificateSigned', async () => {
      times.push(Date.now());
      return { status: 'Accepted' };
    });
    const { csr } = opensslCsr('/CN=CP-SEC-3/O=ACME CPO');
    csms.respond('CP-SEC-3', 'SignCertificate', { followUp: 'none' });
    expect(await client.call('SignCertificate', { csr })).toEqual({ status: 'Accepted' });
    await new Promise((r) => setTimeout(r, 150));
    expect(times).toEqual([]);
    csms.respond('CP-SEC-3', 'SignCertificate', { followUp: { delayMs: 300 } });
    const t0 = Date.now();
    await client.call('SignCertificate', { csr });
    await expect.poll(() => times.length, { timeout: 2_000 }).toBe(1);
    expect((times[0] as number) - t0).toBeGreaterThanOrEqual(280);
  });

  it('the expectCall of a suite sees the call with its payload', async () => {
    const csms = await startCsms({ pki });
    const client = await rpcClient(csms, 'CP-SEC-4');
    const { csr } = opensslCsr('/CN=CP-SEC-4/O=ACME CPO');
    const [call] = await Promise.all([csms.expectCall('CP-SEC-4', 'SignCertificate', { timeoutMs: 3_000, signal: sig() }), client.call('SignCertificate', { csr })]);
    expect(call.payload.csr).toBe(csr);
    expect(await call.answered).toMatchObject({ kind: 'result', payload: { status: 'Accepted' } });
  });
});
