// The charger's SECC (rigs/virtual/charger/secc.ts) and the virtual EV (rigs/virtual/ev/) end to
// end: a real aedes MQTT broker carries the car-simulator commands, the EV and the SECC talk
// ISO 15118-2 EXI over V2GTP on a real TCP port, the power flows on a PowerBus. The SECC's backend
// is a fake charge-point controller in this file that answers the certificate exchange with a REAL
// CertificateInstallationRes (src/exi answerGet15118EVCertificate with the bench PKI) and
// authorizes with a scripted status. Also: a raw V2GTP client checks the SECC's rules (sequence,
// session, signature, corrupt EXI).
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../../rigs/virtual/broker.ts';
import { SeccServer } from '../../rigs/virtual/charger/secc.ts';
import { VirtualEv } from '../../rigs/virtual/ev/index.ts';
import { PowerBus } from '../../rigs/virtual/physics.ts';
import { encodeV2gtp, V2gtpDecoder } from '../../rigs/virtual/v2gtp.ts';
import {
  decodeAppHandshake,
  decodeV2GMessage,
  ecdsaSignP256,
  encodeAppHandshake,
  encodeV2GMessage,
  FAILURE_PLACEHOLDER_EMAID,
  ISO2_NAMESPACE,
  signV2GMessage,
  type BodyType,
  type V2GMessage,
} from '../../src/exi/index.ts';
import { generatePki, issueCertificate, issueContractCertificate, type P256KeyPair } from '../../src/pki/index.ts';
import { evCredentials, FakeBackend, Observer } from './v2g-fixtures.ts';

const pki = generatePki({ seed: 'v2g-session-test' });
const oemKey = (pki.get('oem-prov').key as P256KeyPair).privateKey;
const credentials = evCredentials(pki);

let broker: { url: string; stop: () => Promise<void> };
beforeAll(async () => {
  broker = await startBroker({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await broker.stop();
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function rig(o: { evTiming?: Record<string, number>; seccTiming?: Record<string, number>; credentials?: ReturnType<typeof evCredentials> } = {}) {
  const bus = new PowerBus();
  const backend = new FakeBackend(pki);
  const seccLog: string[] = [];
  const evLog: string[] = [];
  const secc = new SeccServer({ host: '127.0.0.1', port: 0, backend, bus, log: (l) => seccLog.push(l), timing: { cableCheckMs: 100, ...(o.seccTiming ?? {}) } });
  await secc.start();
  cleanup.push(() => secc.stop());
  const ev = new VirtualEv({
    mqttUrl: broker.url,
    secc: () => ({ host: '127.0.0.1', port: secc.port }),
    pki: o.credentials ?? credentials,
    bus,
    loopMs: 50,
    timing: { currentDemandTimeoutMs: 2000, loopIntervalMs: 50, currentDemandIntervalMs: 100, ...(o.evTiming ?? {}) },
    log: (l) => evLog.push(l),
  });
  await ev.start();
  cleanup.push(() => ev.stop());
  const obs = new Observer();
  await obs.start(broker.url);
  cleanup.push(() => obs.stop());
  await obs.cmd('enable', 'true');
  await obs.waitFor('enabled', 0);
  return { bus, backend, secc, seccLog, ev, evLog, obs };
}

const CHARGE = 'iso_wait_slac_matched;iso_start_v2g_session dc,contract;iso_wait_pwr_ready;iso_dc_power_on;iso_wait_for_stop 36000;iso_wait_v2g_session_stopped';
const INSTALL = 'iso_wait_slac_matched;iso_start_v2g_session dc,contract,certinstall;iso_wait_v2g_session_stopped';

describe('SECC and virtual EV over V2GTP/TCP', () => {
  it('installs a contract with a real CertificateInstallationRes, then authorizes with it and charges: energy flows on the bus', async () => {
    const { bus, backend, obs, ev, seccLog } = await rig();
    let i = obs.vars.length;
    await obs.cmd('execute_charging_session', INSTALL);
    const installed = await obs.waitFor('ContractInstalled', i);
    expect(installed.data).toBe(pki.emaid);
    expect(backend.issuedEmaid).toBe(pki.emaid);
    await obs.waitFor('V2G_Session_Finished', i);
    expect(backend.exchanges).toHaveLength(1);
    expect(backend.exchanges[0]).toMatchObject({ action: 'Install', iso15118SchemaVersion: ISO2_NAMESPACE });
    // the exiRequest is the EV's signed CertificateInstallationReq document
    const req = decodeV2GMessage(Buffer.from(backend.exchanges[0]!.exiRequest, 'base64'));
    expect(req.Body.CertificateInstallationReq?.ListOfRootCertificateIDs.RootCertificateID).toHaveLength(1);
    expect(obs.messages(i)).toEqual([
      '>supportedAppProtocolReq',
      '<supportedAppProtocolRes OK_SuccessfulNegotiation',
      '>SessionSetupReq',
      '<SessionSetupRes OK_NewSessionEstablished',
      '>ServiceDiscoveryReq',
      '<ServiceDiscoveryRes OK',
      '>PaymentServiceSelectionReq',
      '<PaymentServiceSelectionRes OK',
      '>CertificateInstallationReq',
      '<CertificateInstallationRes OK',
      '>SessionStopReq',
      '<SessionStopRes OK',
    ]);
    expect(backend.started).toEqual([]);
    expect(ev.installedContract?.emaid).toBe(pki.emaid);
    const shape = obs.since(i, 'V2G_Messages')[0]!.data as Record<string, unknown>;
    expect(Object.keys(shape).sort()).toEqual(['dir', 'message', 't']);
    expect(typeof shape.t).toBe('number');

    // a later session authorizes with the installed contract (Ongoing first) and charges
    backend.authorizeDelayMs = 300;
    i = obs.vars.length;
    const e0 = bus.sample().energyWh;
    await obs.cmd('modify_charging_session', CHARGE);
    expect((await obs.waitFor('Authorized', i)).data).toBe(pki.emaid);
    await obs.waitFor('DC_PowerOn', i);
    expect(bus.contactorsClosed).toBe(true);
    expect(bus.moduleState.on).toBe(true);
    const s1 = bus.sample();
    expect(s1.currentA).toBe(100);
    expect(s1.voltageV).toBe(400);
    await new Promise((r) => setTimeout(r, 600));
    expect(bus.sample().energyWh).toBeGreaterThan(e0 + 1); // 40 kW for > 0.1 s
    expect(backend.started).toEqual([{ idTag: pki.emaid, connectorId: 1 }]);
    expect(backend.authorizations).toHaveLength(1);
    expect(backend.authorizations[0]!.emaid).toBe(pki.emaid);
    expect(backend.authorizations[0]!.certificatesDer.map((c) => c.length)).toHaveLength(3);
    expect(obs.since(i, 'bsp_event').map((v) => (v.data as { event: string }).event)).toContain('C');

    await obs.cmd('modify_charging_session', 'iso_stop_charging;iso_wait_v2g_session_stopped');
    await obs.waitFor('V2G_Session_Finished', i);
    expect(bus.contactorsClosed).toBe(false);
    expect(bus.moduleState.on).toBe(false);
    expect(bus.sample().currentA).toBe(0);
    expect(backend.stopped).toEqual(['Local']);
    const seq = obs.messages(i).filter((m) => !/CurrentDemand|Authorization|CableCheck|PreCharge|WeldingDetection/.test(m));
    expect(seq).toEqual([
      '>supportedAppProtocolReq',
      '<supportedAppProtocolRes OK_SuccessfulNegotiation',
      '>SessionSetupReq',
      '<SessionSetupRes OK_NewSessionEstablished',
      '>ServiceDiscoveryReq',
      '<ServiceDiscoveryRes OK',
      '>PaymentServiceSelectionReq',
      '<PaymentServiceSelectionRes OK',
      '>PaymentDetailsReq',
      '<PaymentDetailsRes OK',
      '>ChargeParameterDiscoveryReq',
      '<ChargeParameterDiscoveryRes OK',
      '>PowerDeliveryReq',
      '<PowerDeliveryRes OK',
      '>PowerDeliveryReq',
      '<PowerDeliveryRes OK',
      '>SessionStopReq',
      '<SessionStopRes OK',
    ]);
    const all = obs.messages(i);
    expect(all.filter((m) => m === '<AuthorizationRes OK').length).toBeGreaterThan(1); // Ongoing, then Finished
    expect(all.filter((m) => m === '>CurrentDemandReq').length).toBeGreaterThan(2);
    expect(all).toContain('>WeldingDetectionReq');
    const snap = ev.snapshot() as { battery: { socPercent: number }; lastSession: { result: string; energyWh: number } };
    expect(snap.lastSession.result).toBe('charged');
    expect(snap.lastSession.energyWh).toBeGreaterThan(1);
    expect(snap.battery.socPercent).toBeGreaterThan(30);
    expect(seccLog.some((l) => l.startsWith('<- PaymentDetailsReq eMAID='))).toBe(true);
    expect(seccLog.some((l) => /^-> CertificateInstallationRes OK \(\d+ bytes forwarded unchanged, CSMS status Accepted\)$/.test(l))).toBe(true);
  });

  it('a Blocked contract: AuthorizationFailed, no transaction, no power', async () => {
    const { bus, backend, obs } = await rig();
    backend.authorizeStatus = 'Blocked';
    const i = obs.vars.length;
    const e0 = bus.sample().energyWh;
    await obs.cmd('execute_charging_session', CHARGE);
    await obs.waitFor('ContractInstalled', i); // a fresh EV installs first
    expect((await obs.waitFor('AuthorizationFailed', i)).data).toBe('response-code:FAILED');
    await obs.waitFor('V2G_Session_Finished', i);
    expect(obs.since(i, 'Authorized')).toEqual([]);
    expect(obs.since(i, 'DC_PowerOn')).toEqual([]);
    expect(backend.started).toEqual([]);
    expect(bus.contactorsClosed).toBe(false);
    expect(bus.sample().energyWh).toBe(e0);
    expect(obs.messages(i).slice(-4)).toEqual(['>AuthorizationReq', '<AuthorizationRes FAILED', '>SessionStopReq', '<SessionStopRes OK']);
  });

  it('an exiResponse with a changed SessionID: ContractInstallFailed session-id, no contract kept', async () => {
    const { backend, obs, ev, seccLog } = await rig();
    backend.exchangeMode = 'session-id';
    const i = obs.vars.length;
    await obs.cmd('execute_charging_session', INSTALL);
    expect((await obs.waitFor('ContractInstallFailed', i)).data).toBe('session-id');
    await obs.waitFor('V2G_Session_Finished', i);
    expect(obs.since(i, 'ContractInstalled')).toEqual([]);
    expect(ev.installedContract).toBeUndefined();
    expect(seccLog.some((l) => /CertificateInstallationRes OK .* its SessionID [0-9A-F]{16} is not the session's [0-9A-F]{16}$/.test(l))).toBe(true);
  });

  it('no answer from the CSMS: the SECC sends nothing and the EV times out (ContractInstallFailed timeout)', async () => {
    const { backend, obs, seccLog } = await rig({ evTiming: { longMsgTimeoutMs: 700 } });
    backend.exchangeMode = 'none';
    const i = obs.vars.length;
    await obs.cmd('execute_charging_session', INSTALL);
    expect((await obs.waitFor('ContractInstallFailed', i)).data).toBe('timeout');
    expect(obs.messages(i).at(-1)).toBe('>CertificateInstallationReq');
    expect(seccLog).toContain('CertificateInstallationReq: nothing to forward (the CSMS did not answer (test)); no response is sent, the EV times out');
  });

  it('Failed without exiResponse: the SECC answers FAILED itself (ContractInstallFailed response-code:FAILED)', async () => {
    const { backend, obs } = await rig();
    backend.exchangeMode = 'failed-empty';
    const i = obs.vars.length;
    await obs.cmd('execute_charging_session', INSTALL);
    expect((await obs.waitFor('ContractInstallFailed', i)).data).toBe('response-code:FAILED');
    await obs.waitFor('V2G_Session_Finished', i);
    expect(obs.messages(i).slice(-4)).toEqual(['>CertificateInstallationReq', '<CertificateInstallationRes FAILED', '>SessionStopReq', '<SessionStopRes OK']);
  });

  it('a contract key encrypted for another key: ContractInstallFailed decrypt', async () => {
    const { backend, obs, ev } = await rig();
    backend.exchangeMode = 'wrong-key';
    const i = obs.vars.length;
    await obs.cmd('execute_charging_session', INSTALL);
    expect((await obs.waitFor('ContractInstallFailed', i)).data).toBe('decrypt');
    await obs.waitFor('V2G_Session_Finished', i);
    expect(ev.installedContract).toBeUndefined();
    expect(obs.messages(i).slice(-3)).toEqual(['<CertificateInstallationRes OK', '>SessionStopReq', '<SessionStopRes OK']);
  });

  it('an EV that names no V2G root of the CPS: the CPS answers FAILED_NoCertificateAvailable (ContractInstallFailed response-code)', async () => {
    const { obs, backend } = await rig({ credentials: { ...credentials, v2gRootsDer: [Buffer.from(pki.cert('mo-root').der)] } });
    const i = obs.vars.length;
    await obs.cmd('execute_charging_session', INSTALL);
    expect((await obs.waitFor('ContractInstallFailed', i)).data).toBe('response-code:FAILED_NoCertificateAvailable');
    const req = decodeV2GMessage(Buffer.from(backend.exchanges[0]!.exiRequest, 'base64')).Body.CertificateInstallationReq!;
    expect(req.ListOfRootCertificateIDs.RootCertificateID).toEqual([{ X509IssuerName: 'DC=MO,C=DE,O=pnc-bench,CN=MORootCA', X509SerialNumber: pki.cert('mo-root').serialNumber }]);
    expect(backend.issuedEmaid).toBe('');
  });

  it('a CPS chain that does not reach one of the EV V2G roots: ContractInstallFailed signature, naming the failed check', async () => {
    const { backend, obs, evLog } = await rig();
    backend.exchangeMode = 'cps-leaf-only';
    const i = obs.vars.length;
    await obs.cmd('execute_charging_session', INSTALL);
    expect((await obs.waitFor('ContractInstallFailed', i)).data).toBe('signature');
    expect(evLog).toContain(
      '[EVCC] contract installation failed (signature): SAProvisioningCertificateChain: path: issuer "CN=CPSSubCA2, O=pnc-bench, C=DE, DC=CPS" of "CPSLeaf" is neither in the chain nor a trusted root',
    );
  });

  it('an expired V2G root in the EV: the CPS chain is refused (the root validity counts too)', async () => {
    // the same root (name, serial, key) but valid only in 2000: the CPS picks it by issuer and serial, the EV must not trust it
    const root = pki.get('v2g-root');
    const expired = issueCertificate({
      subject: root.cert.subjectDer,
      subjectKey: root.key,
      issuer: { self: root.key as P256KeyPair },
      serialNumber: root.cert.serialBytes,
      notBefore: new Date('2000-01-01T00:00:00Z'),
      notAfter: new Date('2001-01-01T00:00:00Z'),
      ca: true,
      keyUsage: ['keyCertSign', 'crlSign'],
    });
    const { obs, evLog, ev } = await rig({ credentials: { ...credentials, v2gRootsDer: [Buffer.from(expired.der)] } });
    const i = obs.vars.length;
    await obs.cmd('execute_charging_session', INSTALL);
    expect((await obs.waitFor('ContractInstallFailed', i)).data).toBe('signature');
    expect(evLog).toContain('[EVCC] contract installation failed (signature): SAProvisioningCertificateChain: validity: "V2GRootCA" expired at 2001-01-01T00:00:00.000Z');
    expect(ev.installedContract).toBeUndefined();
  });

  it('an exiResponse that is not base64: the SECC answers FAILED instead of forwarding what Node would make of it', async () => {
    const { backend, obs, ev, seccLog } = await rig();
    backend.exchangeMode = 'not-base64';
    const i = obs.vars.length;
    await obs.cmd('execute_charging_session', INSTALL);
    expect((await obs.waitFor('ContractInstallFailed', i)).data).toBe('response-code:FAILED');
    await obs.waitFor('V2G_Session_Finished', i);
    expect(ev.installedContract).toBeUndefined();
    expect(seccLog.some((l) => /^CertificateInstallationReq: exiResponse is not base64 \(\d+ characters, CSMS status Accepted\); nothing can be forwarded → FAILED$/.test(l))).toBe(true);
  });

  it('certupdate replaces the installed contract through CertificateUpdateReq/Res', async () => {
    const { backend, obs, ev } = await rig();
    let i = obs.vars.length;
    await obs.cmd('execute_charging_session', INSTALL);
    await obs.waitFor('V2G_Session_Finished', i);
    const first = ev.installedContract!;
    i = obs.vars.length;
    await obs.cmd('modify_charging_session', 'iso_start_v2g_session dc,contract,certupdate;iso_wait_v2g_session_stopped');
    expect((await obs.waitFor('ContractInstalled', i)).data).toBe(pki.emaid);
    await obs.waitFor('V2G_Session_Finished', i);
    expect(backend.exchanges.map((x) => x.action)).toEqual(['Install', 'Update']);
    expect(obs.messages(i)).toContain('<CertificateUpdateRes OK');
    const second = ev.installedContract!;
    expect(Buffer.compare(second.chainDer[0]!, first.chainDer[0]!)).not.toBe(0);
    expect(Buffer.from(second.privateKey).equals(Buffer.from(first.privateKey))).toBe(false);
  });

  it('authorization still Ongoing when the EV gives up: AuthorizationFailed timeout; at the SECC limit: FAILED', async () => {
    const a = await rig({ evTiming: { ongoingTimeoutMs: 400 } });
    a.backend.authorizeDelayMs = 3000;
    let i = a.obs.vars.length;
    await a.obs.cmd('execute_charging_session', CHARGE);
    expect((await a.obs.waitFor('AuthorizationFailed', i)).data).toBe('timeout');
    expect(a.obs.messages(i).filter((m) => m === '<AuthorizationRes OK').length).toBeGreaterThan(2);
    expect(a.backend.authorizations).toHaveLength(1);

    const b = await rig({ seccTiming: { ongoingTimeoutMs: 300 } });
    b.backend.authorizeDelayMs = 3000;
    i = b.obs.vars.length;
    await b.obs.cmd('execute_charging_session', CHARGE);
    expect((await b.obs.waitFor('AuthorizationFailed', i)).data).toBe('response-code:FAILED');
    expect(b.seccLog.some((l) => l.includes('no authorization decision within 300 ms (V2G_SECC_Ongoing_Performance_Time) → FAILED'))).toBe(true);
  });

  it('a charger-initiated stop (requestStop) ends the charge loop: AC_StopFromCharger, power off, session finished', async () => {
    const { bus, backend, obs, secc } = await rig();
    const i = obs.vars.length;
    await obs.cmd('execute_charging_session', CHARGE);
    await obs.waitFor('DC_PowerOn', i);
    secc.requestStop();
    await obs.waitFor('AC_StopFromCharger', i);
    await obs.waitFor('V2G_Session_Finished', i);
    expect(bus.contactorsClosed).toBe(false);
    expect(backend.stopped).toEqual(['Local']);
    expect(obs.messages(i).slice(-2)).toEqual(['>SessionStopReq', '<SessionStopRes OK']);
  });

  it('unplugging while charging cuts the link: the SECC opens the contactors and ends the transaction (EVDisconnected)', async () => {
    const { bus, backend, obs } = await rig();
    const i = obs.vars.length;
    await obs.cmd('execute_charging_session', CHARGE);
    await obs.waitFor('DC_PowerOn', i);
    await obs.cmd('modify_charging_session', 'unplug');
    await obs.waitFor('V2G_Session_Finished', i);
    const t0 = Date.now();
    while (backend.stopped.length === 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
    expect(backend.stopped).toEqual(['EVDisconnected']);
    expect(bus.contactorsClosed).toBe(false);
    expect(bus.sample().currentA).toBe(0);
    expect(obs.since(i, 'bsp_event').at(-1)?.data).toEqual({ event: 'A' });
  });
});

// ------------------------------------------------------------------ the SECC's rules, with a raw client

class RawEv {
  private readonly dec = new V2gtpDecoder();
  private readonly inbox: Uint8Array[] = [];
  closed = false;
  sessionId: Uint8Array = new Uint8Array(8);
  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (c) => this.inbox.push(...this.dec.push(c).map((m) => m.payload)));
    sock.on('close', () => (this.closed = true));
  }
  static async open(port: number): Promise<RawEv> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => s.once('connect', () => r()));
    return new RawEv(s);
  }
  sendRaw(b: Uint8Array): void {
    this.sock.write(encodeV2gtp(b));
  }
  async next(timeoutMs = 2000): Promise<Uint8Array> {
    const t0 = Date.now();
    while (!this.inbox.length) {
      if (Date.now() - t0 > timeoutMs) throw new Error('no response');
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.inbox.shift()!;
  }
  async handshake(): Promise<void> {
    this.sendRaw(encodeAppHandshake({ supportedAppProtocolReq: { AppProtocol: [{ ProtocolNamespace: ISO2_NAMESPACE, VersionNumberMajor: 2, VersionNumberMinor: 0, SchemaID: 10, Priority: 1 }] } }));
    expect(decodeAppHandshake(await this.next()).supportedAppProtocolRes).toEqual({ ResponseCode: 'OK_SuccessfulNegotiation', SchemaID: 10 });
  }
  async req(body: BodyType, sign?: Uint8Array): Promise<V2GMessage> {
    let msg: V2GMessage = { Header: { SessionID: this.sessionId }, Body: body };
    if (sign) msg = await signV2GMessage(msg, ['ID1'], (d) => ecdsaSignP256(sign, d));
    this.sendRaw(encodeV2GMessage(msg));
    return decodeV2GMessage(await this.next());
  }
  async setup(): Promise<void> {
    await this.handshake();
    const r = await this.req({ SessionSetupReq: { EVCCID: Uint8Array.of(2, 0, 0, 0, 0, 1) } });
    this.sessionId = r.Header.SessionID;
  }
  async waitClosed(timeoutMs = 2000): Promise<boolean> {
    const t0 = Date.now();
    while (!this.closed && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 5));
    return this.closed;
  }
  destroy(): void {
    this.sock.destroy();
  }
}

describe('SECC rules', () => {
  let secc: SeccServer;
  let backend: FakeBackend;
  const log: string[] = [];
  beforeAll(async () => {
    backend = new FakeBackend(pki);
    secc = new SeccServer({ host: '127.0.0.1', port: 0, backend, bus: new PowerBus(), log: (l) => log.push(l) });
    await secc.start();
  });
  afterAll(async () => {
    await secc.stop();
  });

  it('corrupt EXI: logs the ExiDecodeError with its bit offset and closes the connection', async () => {
    const ev = await RawEv.open(secc.port);
    await ev.handshake();
    const from = log.length;
    ev.sendRaw(Uint8Array.of(0x80, 0x98, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff));
    expect(await ev.waitClosed()).toBe(true);
    const line = log.slice(from).find((l) => l.includes('EXI decode error'));
    expect(line).toMatch(/^EXI decode error from 127\.0\.0\.1:\d+ \(8 bytes, bit offset \d+\): at bit \d+ \(byte \d+\).*; closing the connection$/);
  });

  it('a bad V2GTP header closes the connection with a clear log line', async () => {
    const ev = await RawEv.open(secc.port);
    const from = log.length;
    (ev as unknown as { sock: net.Socket }).sock.write(Buffer.from('02fd800100000000', 'hex'));
    expect(await ev.waitClosed()).toBe(true);
    expect(log.slice(from).filter((l) => l.startsWith('V2GTP'))).toEqual([expect.stringMatching(/^V2GTP header at byte 0: version 02 fd, expected 01 fe; closing the connection to 127\.0\.0\.1:\d+$/)]);
  });

  it('out of sequence → FAILED_SequenceError and the connection closed; a wrong SessionID → FAILED_UnknownSession', async () => {
    const a = await RawEv.open(secc.port);
    await a.setup();
    const r = await a.req({ PaymentDetailsReq: { eMAID: 'DEPNB1234567890', ContractSignatureCertChain: { Certificate: Uint8Array.of(0x30) } } });
    expect(r.Body.PaymentDetailsRes?.ResponseCode).toBe('FAILED_SequenceError');
    expect(await a.waitClosed()).toBe(true);

    const b = await RawEv.open(secc.port);
    await b.setup();
    b.sessionId = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const u = await b.req({ ServiceDiscoveryReq: {} });
    expect(u.Body.ServiceDiscoveryRes?.ResponseCode).toBe('FAILED_UnknownSession');
    expect(await b.waitClosed()).toBe(true);
  });

  it('a session paused with SessionStop(Pause) is joined again with its SessionID; a zero SessionID gets a new one', async () => {
    const a = await RawEv.open(secc.port);
    await a.setup();
    const paused = a.sessionId;
    expect((await a.req({ SessionStopReq: { ChargingSession: 'Pause' } })).Body.SessionStopRes?.ResponseCode).toBe('OK');
    expect(await a.waitClosed()).toBe(true);
    const b = await RawEv.open(secc.port);
    await b.handshake();
    b.sessionId = paused;
    const r = await b.req({ SessionSetupReq: { EVCCID: Uint8Array.of(2, 0, 0, 0, 0, 1) } });
    expect(r.Body.SessionSetupRes?.ResponseCode).toBe('OK_OldSessionJoined');
    expect(Buffer.from(r.Header.SessionID).equals(Buffer.from(paused))).toBe(true);
    b.destroy();
    const c = await RawEv.open(secc.port);
    await c.handshake();
    const n = await c.req({ SessionSetupReq: { EVCCID: Uint8Array.of(2, 0, 0, 0, 0, 1) } });
    expect(n.Body.SessionSetupRes?.ResponseCode).toBe('OK_NewSessionEstablished');
    expect(Buffer.from(n.Header.SessionID).equals(Buffer.from(paused))).toBe(false);
    c.destroy();
  });

  it('answers every out-of-sequence request type with its own response type, FAILED_SequenceError, then closes', async () => {
    const st = { EVReady: true, EVErrorCode: 'NO_ERROR' as const, EVRESSSOC: 50 };
    const A = (v: number) => ({ Multiplier: 0, Unit: 'A' as const, Value: v });
    const V = (v: number) => ({ Multiplier: 0, Unit: 'V' as const, Value: v });
    const roots = { RootCertificateID: [{ X509IssuerName: 'CN=V2GRootCA', X509SerialNumber: 1n }] };
    const requests: BodyType[] = [
      { ServiceDetailReq: { ServiceID: 1 } },
      { PaymentServiceSelectionReq: { SelectedPaymentOption: 'Contract', SelectedServiceList: { SelectedService: [{ ServiceID: 1 }] } } },
      { CertificateInstallationReq: { Id: 'ID1', OEMProvisioningCert: Uint8Array.of(0x30), ListOfRootCertificateIDs: roots } },
      { CertificateUpdateReq: { Id: 'ID1', ContractSignatureCertChain: { Certificate: Uint8Array.of(0x30) }, eMAID: 'DEPNB1234567890', ListOfRootCertificateIDs: roots } },
      { AuthorizationReq: {} },
      { ChargeParameterDiscoveryReq: { RequestedEnergyTransferMode: 'DC_extended', DC_EVChargeParameter: { DC_EVStatus: st, EVMaximumCurrentLimit: A(100), EVMaximumVoltageLimit: V(450) } } },
      { CableCheckReq: { DC_EVStatus: st } },
      { PreChargeReq: { DC_EVStatus: st, EVTargetVoltage: V(400), EVTargetCurrent: A(2) } },
      { PowerDeliveryReq: { ChargeProgress: 'Start', SAScheduleTupleID: 1 } },
      { CurrentDemandReq: { DC_EVStatus: st, EVTargetCurrent: A(100), ChargingComplete: false, EVTargetVoltage: V(400) } },
      { WeldingDetectionReq: { DC_EVStatus: st } },
      { ChargingStatusReq: {} },
      { MeteringReceiptReq: { SessionID: new Uint8Array(8), MeterInfo: { MeterID: 'M1' } } },
    ];
    for (const body of requests) {
      const name = Object.keys(body)[0]!;
      const ev = await RawEv.open(secc.port);
      await ev.setup();
      const r = await ev.req(body);
      const resName = name.replace(/Req$/, 'Res');
      expect([Object.keys(r.Body)[0], (Object.values(r.Body)[0] as { ResponseCode: string }).ResponseCode]).toEqual([resName, 'FAILED_SequenceError']);
      const cert = r.Body.CertificateInstallationRes ?? r.Body.CertificateUpdateRes;
      if (cert) expect(cert.eMAID.CONTENT).toBe(FAILURE_PLACEHOLDER_EMAID); // the same placeholders as the CPS's refusals (src/exi)
      expect(await ev.waitClosed()).toBe(true);
    }
  });

  it('an AuthorizationReq not signed by the contract key → FAILED_SignatureError, the CSMS is never asked', async () => {
    const contract = issueContractCertificate(pki, { emaid: pki.emaid });
    const ev = await RawEv.open(secc.port);
    await ev.setup();
    await ev.req({ ServiceDiscoveryReq: {} });
    await ev.req({ PaymentServiceSelectionReq: { SelectedPaymentOption: 'Contract', SelectedServiceList: { SelectedService: [{ ServiceID: 1 }] } } });
    const pd = await ev.req({
      PaymentDetailsReq: { eMAID: contract.emaid, ContractSignatureCertChain: { Certificate: contract.cert.der, SubCertificates: { Certificate: contract.subCertificates.map((c) => c.der) } } },
    });
    const challenge = pd.Body.PaymentDetailsRes!.GenChallenge;
    expect(challenge).toHaveLength(16);
    const before = backend.authorizations.length;
    const bad = await ev.req({ AuthorizationReq: { Id: 'ID1', GenChallenge: challenge } }, oemKey);
    expect(bad.Body.AuthorizationRes).toEqual({ ResponseCode: 'FAILED_SignatureError', EVSEProcessing: 'Finished' });
    expect(backend.authorizations.length).toBe(before);
    // after a FAILED response only SessionStopReq is accepted
    const stop = await ev.req({ SessionStopReq: { ChargingSession: 'Terminate' } });
    expect(stop.Body.SessionStopRes?.ResponseCode).toBe('OK');
    expect(await ev.waitClosed()).toBe(true);

    // the right key and a wrong challenge → FAILED_ChallengeInvalid; the right challenge → OK
    const ev2 = await RawEv.open(secc.port);
    await ev2.setup();
    await ev2.req({ ServiceDiscoveryReq: {} });
    await ev2.req({ PaymentServiceSelectionReq: { SelectedPaymentOption: 'Contract', SelectedServiceList: { SelectedService: [{ ServiceID: 1 }] } } });
    const pd2 = await ev2.req({
      PaymentDetailsReq: { eMAID: contract.emaid, ContractSignatureCertChain: { Certificate: contract.cert.der, SubCertificates: { Certificate: contract.subCertificates.map((c) => c.der) } } },
    });
    const ok = await ev2.req({ AuthorizationReq: { Id: 'ID1', GenChallenge: pd2.Body.PaymentDetailsRes!.GenChallenge } }, contract.key.privateKey);
    expect(ok.Body.AuthorizationRes).toEqual({ ResponseCode: 'OK', EVSEProcessing: 'Finished' });
    expect(backend.authorizations.at(-1)?.emaid).toBe(contract.emaid);
    ev2.destroy();

    // a certificate OpenSSL would read (a trailing byte after the DER) but src/pki, and so the charger's controller, would not
    const ev4 = await RawEv.open(secc.port);
    await ev4.setup();
    await ev4.req({ ServiceDiscoveryReq: {} });
    await ev4.req({ PaymentServiceSelectionReq: { SelectedPaymentOption: 'Contract', SelectedServiceList: { SelectedService: [{ ServiceID: 1 }] } } });
    const from = log.length;
    const trailing = await ev4.req({ PaymentDetailsReq: { eMAID: contract.emaid, ContractSignatureCertChain: { Certificate: Uint8Array.from([...contract.cert.der, 0]) } } });
    expect(trailing.Body.PaymentDetailsRes?.ResponseCode).toBe('FAILED_CertChainError');
    expect(log.slice(from)).toContain('PaymentDetailsReq: certificate 0 of ContractSignatureCertChain: not a DER X.509 certificate (Certificate: 1 trailing byte(s)) → FAILED_CertChainError');
    ev4.destroy();

    const ev3 = await RawEv.open(secc.port);
    await ev3.setup();
    await ev3.req({ ServiceDiscoveryReq: {} });
    await ev3.req({ PaymentServiceSelectionReq: { SelectedPaymentOption: 'Contract', SelectedServiceList: { SelectedService: [{ ServiceID: 1 }] } } });
    await ev3.req({ PaymentDetailsReq: { eMAID: contract.emaid, ContractSignatureCertChain: { Certificate: contract.cert.der } } });
    const wrong = await ev3.req({ AuthorizationReq: { Id: 'ID1', GenChallenge: new Uint8Array(16) } }, contract.key.privateKey);
    expect(wrong.Body.AuthorizationRes?.ResponseCode).toBe('FAILED_ChallengeInvalid');
    ev3.destroy();
  });
});
