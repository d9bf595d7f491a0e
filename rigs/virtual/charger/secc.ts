// The simulated charger's SECC: the ISO 15118-2 server the virtual EV talks to, V2GTP over TCP on
// loopback (no TLS, no SDP — the EV is told host and port), EXI through src/exi. It runs the DC
// Plug & Charge sequence (SupportedAppProtocol … SessionStop), asks the charge-point controller
// through the SeccBackend seam for what needs the CSMS (certificate installation, contract
// authorization, transactions) and drives the physical power path on the PowerBus: contactors and
// power module at PowerDelivery, the EV's demand at CurrentDemand. One EV at a time.
//
//   const secc = new SeccServer({ host: '127.0.0.1', port: 0, backend, bus, log: (l) => console.log(l) });
//   const port = await secc.start();   // the EV connects here
//   secc.requestStop();                // charger-initiated stop (EVSENotification StopCharging)
//   await secc.stop();
//
// Rules it enforces: the message sequence (out of order → FAILED_SequenceError, then the connection
// is closed), the SessionID (→ FAILED_UnknownSession, closed), after any other FAILED_* only
// SessionStopReq; the AuthorizationReq signature over GenChallenge with the contract certificate of
// PaymentDetailsReq; a corrupt EXI stream or V2GTP header is logged (with the bit offset) and the
// connection closed. The certificate exchange is forwarded verbatim (app note / catalogue §2.3):
// an exiResponse is sent to the EV unchanged, no answer (`none`) sends nothing (the EV times out),
// status Failed without exiResponse, or an exiResponse that is not base64, is answered with a FAILED
// CertificateInstallationRes/UpdateRes (src/exi certificateFailureBody).
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import {
  bodyElementName,
  certificateFailureBody,
  decodeAppHandshake,
  decodeV2GMessage,
  encodeAppHandshake,
  encodeV2GMessage,
  ExiDecodeError,
  ISO2_NAMESPACE,
  publicKeyFromCertificate,
  toHex,
  verifyV2GSignature,
  type BodyType,
  type DC_EVSEStatusType,
  type responseCodeType,
  type V2GMessage,
} from '../../../src/exi/index.ts';
import { bytesEqual, parseBase64, parseCertificateDer, toBase64 } from '../../../src/pki/index.ts';
import type { PowerBus } from '../physics.ts';
import { encodeV2gtp, physicalNumber, physicalValue, V2gtpDecoder, V2gtpError } from '../v2gtp.ts';
import type { CertificateExchangeResult, ContractChain, PncAuthorizationResult, SeccBackend } from './backend.ts';

export interface SeccTiming {
  /** V2G_SECC_Sequence_Timeout: no request for this long → the connection is closed (ISO 60 s) */
  sequenceTimeoutMs: number;
  /** V2G_SECC_Ongoing_Performance_Time: Authorization stays Ongoing at most this long, then FAILED (ISO 55 s) */
  ongoingTimeoutMs: number;
  /** how long the SECC waits for the backend's certificate exchange before it gives up and sends nothing (EVerest 4.5 s) */
  certificateExchangeTimeoutMs: number;
  /** how long the simulated isolation test (CableCheck Ongoing) takes */
  cableCheckMs: number;
}

export const DEFAULT_SECC_TIMING: Readonly<SeccTiming> = {
  sequenceTimeoutMs: 60_000,
  ongoingTimeoutMs: 55_000,
  certificateExchangeTimeoutMs: 4_500,
  cableCheckMs: 300,
};

export interface SeccServerOptions {
  host: string;
  /** 0 = ephemeral */
  port: number;
  backend: SeccBackend;
  bus: PowerBus;
  /** one line per event (every message in and out), e.g. `<- SessionSetupReq EVCCID=…`, no prefix */
  log: (line: string) => void;
  timing?: Partial<SeccTiming>;
  /** EVSEID of SessionSetupRes / CurrentDemandRes; default `DE*PNB*E1*VIRTUAL1` */
  evseId?: string;
  /** connector the sessions run on (ChargingSessionInfo.connectorId); default 1 */
  connectorId?: number;
  /** largest V2GTP payload accepted; default 65 536 bytes */
  maxPayloadBytes?: number;
}

type Phase =
  | 'setup'
  | 'session'
  | 'discovered'
  | 'payment-selected'
  | 'certificate'
  | 'payment-details'
  | 'authorizing'
  | 'authorized'
  | 'charge-parameters'
  | 'cable-check'
  | 'pre-charge'
  | 'charging'
  | 'power-off'
  | 'failed'
  | 'stopped';

/** The requests of a session after SessionSetupReq (SessionSetupReq and SessionStopReq are handled before the table). */
type SessionRequest =
  | 'ServiceDiscoveryReq'
  | 'ServiceDetailReq'
  | 'PaymentServiceSelectionReq'
  | 'CertificateInstallationReq'
  | 'CertificateUpdateReq'
  | 'PaymentDetailsReq'
  | 'AuthorizationReq'
  | 'ChargeParameterDiscoveryReq'
  | 'CableCheckReq'
  | 'PreChargeReq'
  | 'PowerDeliveryReq'
  | 'CurrentDemandReq'
  | 'WeldingDetectionReq';

const NEXT: Readonly<Record<Phase, readonly SessionRequest[]>> = {
  setup: [], // only SessionSetupReq
  session: ['ServiceDiscoveryReq'],
  discovered: ['ServiceDetailReq', 'PaymentServiceSelectionReq'],
  'payment-selected': [], // depends on the payment option, see Connection.allowed()
  certificate: ['PaymentDetailsReq'],
  'payment-details': ['AuthorizationReq'],
  authorizing: ['AuthorizationReq'],
  authorized: ['ChargeParameterDiscoveryReq'],
  'charge-parameters': ['ChargeParameterDiscoveryReq', 'CableCheckReq'],
  'cable-check': ['CableCheckReq', 'PreChargeReq'],
  'pre-charge': ['PreChargeReq', 'PowerDeliveryReq'],
  charging: ['CurrentDemandReq', 'PowerDeliveryReq'],
  'power-off': ['WeldingDetectionReq'],
  failed: [],
  stopped: [],
};

const CHARGE_SERVICE_ID = 1;
const CERTIFICATE_SERVICE_ID = 2;
const SA_SCHEDULE_TUPLE_ID = 1;
const ZERO_SESSION = new Uint8Array(8);

const isOneOf = <T extends string>(list: readonly T[], x: string): x is T => (list as readonly string[]).includes(x);

/** The response element of a request: `SessionSetupReq` → `SessionSetupRes`. */
const resName = (req: string): string => req.replace(/Req$/, 'Res');

export class SeccServer {
  private readonly o: SeccServerOptions;
  readonly timing: SeccTiming;
  readonly evseId: string;
  private server: net.Server | undefined;
  private current: Connection | undefined;
  private readonly connections = new Set<Connection>();
  /** SessionID of a session paused with SessionStopReq(Pause), joinable again */
  pausedSessionId: Uint8Array | undefined;
  /** set by requestStop(): the next responses carry EVSENotification StopCharging */
  stopRequested = false;
  private boundPort = 0;
  messagesIn = 0;
  messagesOut = 0;
  sessions = 0;

  constructor(o: SeccServerOptions) {
    this.o = o;
    this.timing = { ...DEFAULT_SECC_TIMING, ...(o.timing ?? {}) };
    this.evseId = o.evseId ?? 'DE*PNB*E1*VIRTUAL1';
  }

  get port(): number {
    return this.boundPort;
  }

  get backend(): SeccBackend {
    return this.o.backend;
  }

  get bus(): PowerBus {
    return this.o.bus;
  }

  get connectorId(): number {
    return this.o.connectorId ?? 1;
  }

  get maxPayloadBytes(): number | undefined {
    return this.o.maxPayloadBytes;
  }

  /** one line, without a prefix (the charger's console adds its `secc:` tag) */
  log(line: string): void {
    this.o.log(line);
  }

  async start(): Promise<number> {
    if (this.server) return this.boundPort;
    const server = net.createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as net.AddressInfo).port;
    this.log(`listening for ISO 15118-2 (V2GTP over TCP) on ${this.o.host}:${this.boundPort}, EVSEID ${this.evseId}`);
    return this.boundPort;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await Promise.all([...this.connections].map((c) => c.close('SECC stopping')));
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  /** Charger-initiated stop of the running session (e.g. RemoteStopTransaction): the EV is told StopCharging. */
  requestStop(): void {
    this.stopRequested = true;
    this.log('stop requested by the charger: EVSENotification StopCharging');
  }

  private accept(sock: net.Socket): void {
    const prev = this.current;
    const c = new Connection(this, sock);
    this.connections.add(c);
    this.current = c;
    sock.once('close', () => {
      this.connections.delete(c);
      if (this.current === c) this.current = undefined;
    });
    if (prev) void prev.close('a new EV connection arrived');
  }

  snapshot(): Record<string, unknown> {
    return {
      port: this.boundPort,
      evseId: this.evseId,
      connected: this.current !== undefined,
      session: this.current?.snapshot() ?? null,
      sessions: this.sessions,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
    };
  }
}

/** One EV's TCP connection and the V2G session on it. */
class Connection {
  private readonly decoder: V2gtpDecoder;
  private readonly abort = new AbortController();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | undefined;
  private seqTimer: NodeJS.Timeout | undefined;
  private readonly peer: string;
  private handshakeDone = false;
  private phase: Phase = 'setup';
  private sessionId: Uint8Array = ZERO_SESSION;
  private payment: 'Contract' | 'ExternalPayment' | undefined;
  private contract: ContractChain | undefined;
  private genChallenge: Uint8Array | undefined;
  private auth: { started: number; result?: PncAuthorizationResult; error?: string; abort: AbortController } | undefined;
  private cableCheckStarted = 0;
  private charging = false;
  private emaid = '';

  constructor(
    private readonly secc: SeccServer,
    private readonly sock: net.Socket,
  ) {
    this.peer = `${sock.remoteAddress}:${sock.remotePort}`;
    this.decoder = new V2gtpDecoder(secc.maxPayloadBytes !== undefined ? { maxPayloadBytes: secc.maxPayloadBytes } : {});
    sock.setNoDelay(true);
    secc.log(`EV connected from ${this.peer}`);
    sock.on('data', (chunk) => this.onData(chunk));
    sock.on('error', (e) => secc.log(`connection ${this.peer}: ${e.message}`));
    sock.on('close', () => void this.close('the EV closed the connection'));
    this.armSequenceTimer();
  }

  snapshot(): Record<string, unknown> {
    return { peer: this.peer, sessionId: toHex(this.sessionId), phase: this.phase, payment: this.payment ?? null, emaid: this.emaid || null, charging: this.charging };
  }

  private armSequenceTimer(): void {
    clearTimeout(this.seqTimer);
    const ms = this.secc.timing.sequenceTimeoutMs;
    this.seqTimer = setTimeout(() => void this.close(`no request for ${ms} ms (V2G_SECC_Sequence_Timeout)`), ms);
    this.seqTimer.unref?.();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let msgs;
    try {
      msgs = this.decoder.push(chunk);
    } catch (e) {
      const what = e instanceof V2gtpError ? e.message : String(e);
      this.secc.log(`${what}; closing the connection to ${this.peer}`);
      void this.close('bad V2GTP header');
      return;
    }
    for (const m of msgs) {
      this.queue = this.queue.then(() => (this.closed ? undefined : this.onMessage(m.payload))).catch((e: unknown) => {
        this.secc.log(`internal error handling a message from ${this.peer}: ${(e as Error).stack ?? String(e)}`);
        void this.close('internal error');
      });
    }
  }

  private send(exi: Uint8Array): void {
    if (this.closed) return;
    this.secc.messagesOut += 1;
    this.sock.write(encodeV2gtp(exi));
  }

  private async onMessage(payload: Uint8Array): Promise<void> {
    this.secc.messagesIn += 1;
    this.armSequenceTimer();
    if (!this.handshakeDone) return this.onHandshake(payload);
    let msg: V2GMessage;
    try {
      msg = decodeV2GMessage(payload);
    } catch (e) {
      this.decodeFailed(e, payload);
      return;
    }
    const name = bodyElementName(msg);
    if (!name || !name.endsWith('Req')) {
      this.secc.log(`<- ${name ?? 'empty Body'}: not a request; closing the connection`);
      await this.close('not a request');
      return;
    }
    this.secc.log(`<- ${name}${this.describeReq(msg)}`);
    if (name === 'SessionSetupReq') {
      if (this.phase !== 'setup') return this.fail(name, 'FAILED_SequenceError', `${name} in phase ${this.phase}`, true);
      return this.sessionSetup(msg);
    }
    if (this.phase === 'setup') return this.fail(name, 'FAILED_SequenceError', `${name} before SessionSetupReq`, true);
    if (!bytesEqual(msg.Header.SessionID, this.sessionId)) {
      return this.fail(name, 'FAILED_UnknownSession', `SessionID ${toHex(msg.Header.SessionID)} is not the session's ${toHex(this.sessionId)}`, true);
    }
    if (name === 'SessionStopReq' && this.phase !== 'stopped') return this.sessionStop(msg);
    const allowed = this.allowed();
    if (!isOneOf(allowed, name)) {
      return this.fail(name, 'FAILED_SequenceError', `${name} is not expected in phase ${this.phase} (expected ${[...allowed, 'SessionStopReq'].join(', ')})`, true);
    }
    switch (name) {
      case 'ServiceDiscoveryReq':
        return this.serviceDiscovery();
      case 'ServiceDetailReq':
        return this.serviceDetail(msg);
      case 'PaymentServiceSelectionReq':
        return this.paymentServiceSelection(msg);
      case 'CertificateInstallationReq':
        return this.certificateExchange('Install', payload);
      case 'CertificateUpdateReq':
        return this.certificateExchange('Update', payload);
      case 'PaymentDetailsReq':
        return this.paymentDetails(msg);
      case 'AuthorizationReq':
        return this.authorization(msg);
      case 'ChargeParameterDiscoveryReq':
        return this.chargeParameterDiscovery(msg);
      case 'CableCheckReq':
        return this.cableCheck();
      case 'PreChargeReq':
        return this.preCharge(msg);
      case 'PowerDeliveryReq':
        return this.powerDelivery(msg);
      case 'CurrentDemandReq':
        return this.currentDemand(msg);
      case 'WeldingDetectionReq':
        return this.weldingDetection();
      default: {
        const unhandled: never = name;
        throw new Error(`${String(unhandled)} is in the sequence table but has no handler`);
      }
    }
  }

  private allowed(): readonly SessionRequest[] {
    if (this.phase === 'payment-selected') return this.payment === 'Contract' ? ['CertificateInstallationReq', 'CertificateUpdateReq', 'PaymentDetailsReq'] : ['AuthorizationReq'];
    return NEXT[this.phase];
  }

  private decodeFailed(e: unknown, payload: Uint8Array): void {
    if (e instanceof ExiDecodeError) {
      this.secc.log(`EXI decode error from ${this.peer} (${payload.length} bytes, bit offset ${e.bitOffset}): ${e.message}; closing the connection`);
    } else this.secc.log(`cannot decode the message from ${this.peer}: ${(e as Error).message}; closing the connection`);
    void this.close('corrupt EXI');
  }

  private describeReq(msg: V2GMessage): string {
    const b = msg.Body;
    if (b.SessionSetupReq) return ` EVCCID=${toHex(b.SessionSetupReq.EVCCID)}`;
    if (b.PaymentServiceSelectionReq) return ` ${b.PaymentServiceSelectionReq.SelectedPaymentOption}`;
    if (b.PaymentDetailsReq) return ` eMAID=${b.PaymentDetailsReq.eMAID}`;
    if (b.PowerDeliveryReq) return ` ${b.PowerDeliveryReq.ChargeProgress}`;
    if (b.CurrentDemandReq) return ` target ${physicalNumber(b.CurrentDemandReq.EVTargetVoltage)} V ${physicalNumber(b.CurrentDemandReq.EVTargetCurrent)} A SoC ${b.CurrentDemandReq.DC_EVStatus.EVRESSSOC} %`;
    if (b.SessionStopReq) return ` ${b.SessionStopReq.ChargingSession}`;
    return '';
  }

  // ------------------------------------------------------------------ responses

  private respond(body: BodyType, note = ''): void {
    const name = Object.keys(body)[0] ?? '?';
    const code = (Object.values(body)[0] as { ResponseCode?: string } | undefined)?.ResponseCode ?? '';
    const exi = encodeV2GMessage({ Header: { SessionID: this.sessionId }, Body: body });
    this.secc.log(`-> ${name} ${code}${note ? ` ${note}` : ''}`);
    this.send(exi);
  }

  /** Answers `req` with a failed ResponseCode; `closeAfter` for sequence and session errors. */
  private async fail(req: string, code: responseCodeType, why: string, closeAfter: boolean): Promise<void> {
    this.secc.log(`${req}: ${why} → ${code}`);
    const body = this.failedBody(req, code);
    if (body) this.respond(body);
    if (this.phase !== 'stopped') this.phase = 'failed';
    if (closeAfter) await this.close(`${code} sent`);
  }

  private evseStatus(processing = false): DC_EVSEStatusType {
    const stop = this.secc.stopRequested;
    return {
      NotificationMaxDelay: 0,
      EVSENotification: stop ? 'StopCharging' : 'None',
      EVSEIsolationStatus: processing ? 'Invalid' : 'Valid',
      EVSEStatusCode: stop ? 'EVSE_Shutdown' : 'EVSE_Ready',
    };
  }

  private presentVoltage(): ReturnType<typeof physicalValue> {
    return physicalValue(this.secc.bus.sample().voltageV, 'V');
  }

  /** A schema-valid response of the right type with a failed ResponseCode (mandatory fields filled). */
  private failedBody(req: string, code: responseCodeType): BodyType | undefined {
    const ResponseCode = code;
    const DC_EVSEStatus = this.evseStatus();
    const V = physicalValue(0, 'V');
    const res = resName(req);
    switch (res) {
      case 'SessionSetupRes':
        return { SessionSetupRes: { ResponseCode, EVSEID: this.secc.evseId } };
      case 'ServiceDiscoveryRes':
        return { ServiceDiscoveryRes: { ResponseCode, PaymentOptionList: { PaymentOption: ['Contract', 'ExternalPayment'] }, ChargeService: this.chargeService() } };
      case 'ServiceDetailRes':
        return { ServiceDetailRes: { ResponseCode, ServiceID: 0 } };
      case 'PaymentServiceSelectionRes':
        return { PaymentServiceSelectionRes: { ResponseCode } };
      case 'PaymentDetailsRes':
        return { PaymentDetailsRes: { ResponseCode, GenChallenge: new Uint8Array(16), EVSETimeStamp: BigInt(Math.floor(Date.now() / 1000)) } };
      case 'AuthorizationRes':
        return { AuthorizationRes: { ResponseCode, EVSEProcessing: 'Finished' } };
      case 'ChargeParameterDiscoveryRes':
        return { ChargeParameterDiscoveryRes: { ResponseCode, EVSEProcessing: 'Finished', DC_EVSEChargeParameter: this.evseChargeParameter() } };
      case 'CableCheckRes':
        return { CableCheckRes: { ResponseCode, DC_EVSEStatus, EVSEProcessing: 'Finished' } };
      case 'PreChargeRes':
        return { PreChargeRes: { ResponseCode, DC_EVSEStatus, EVSEPresentVoltage: V } };
      case 'PowerDeliveryRes':
        return { PowerDeliveryRes: { ResponseCode, DC_EVSEStatus } };
      case 'CurrentDemandRes':
        return { CurrentDemandRes: this.currentDemandRes(code) };
      case 'WeldingDetectionRes':
        return { WeldingDetectionRes: { ResponseCode, DC_EVSEStatus, EVSEPresentVoltage: V } };
      case 'SessionStopRes':
        return { SessionStopRes: { ResponseCode } };
      case 'ChargingStatusRes':
        return { ChargingStatusRes: { ResponseCode, EVSEID: this.secc.evseId, SAScheduleTupleID: SA_SCHEDULE_TUPLE_ID, AC_EVSEStatus: { NotificationMaxDelay: 0, EVSENotification: 'None', RCD: false } } };
      case 'MeteringReceiptRes':
        return { MeteringReceiptRes: { ResponseCode, DC_EVSEStatus } };
      case 'CertificateInstallationRes':
      case 'CertificateUpdateRes':
        return certificateFailureBody(res, { responseCode: code });
      default:
        return undefined;
    }
  }

  private chargeService() {
    return {
      ServiceID: CHARGE_SERVICE_ID,
      ServiceCategory: 'EVCharging' as const,
      FreeService: false,
      SupportedEnergyTransferMode: { EnergyTransferMode: ['DC_extended' as const, 'DC_core' as const] },
    };
  }

  private maxPowerW(): number {
    const bus = this.secc.bus;
    return bus.ratedMaxVoltageV * bus.ratedMaxCurrentA;
  }

  private evseChargeParameter() {
    const bus = this.secc.bus;
    return {
      DC_EVSEStatus: this.evseStatus(),
      EVSEMaximumCurrentLimit: physicalValue(bus.ratedMaxCurrentA, 'A'),
      EVSEMaximumPowerLimit: physicalValue(this.maxPowerW(), 'W'),
      EVSEMaximumVoltageLimit: physicalValue(bus.ratedMaxVoltageV, 'V'),
      EVSEMinimumCurrentLimit: physicalValue(0, 'A'),
      EVSEMinimumVoltageLimit: physicalValue(150, 'V'),
      EVSEPeakCurrentRipple: physicalValue(1, 'A'),
    };
  }

  private currentDemandRes(code: responseCodeType, targetCurrentA = 0) {
    const bus = this.secc.bus;
    const s = bus.sample();
    return {
      ResponseCode: code,
      DC_EVSEStatus: this.evseStatus(),
      EVSEPresentVoltage: physicalValue(s.voltageV, 'V'),
      EVSEPresentCurrent: physicalValue(s.currentA, 'A'),
      EVSECurrentLimitAchieved: s.currentA > 0 && s.currentA + 0.5 < targetCurrentA,
      EVSEVoltageLimitAchieved: false,
      EVSEPowerLimitAchieved: false,
      EVSEMaximumVoltageLimit: physicalValue(bus.ratedMaxVoltageV, 'V'),
      EVSEMaximumCurrentLimit: physicalValue(bus.ratedMaxCurrentA, 'A'),
      EVSEMaximumPowerLimit: physicalValue(this.maxPowerW(), 'W'),
      EVSEID: this.secc.evseId,
      SAScheduleTupleID: SA_SCHEDULE_TUPLE_ID,
      MeterInfo: { MeterID: 'VIRTUAL-METER', MeterReading: BigInt(Math.round(s.energyWh)) },
    };
  }

  // ------------------------------------------------------------------ handlers

  private async onHandshake(payload: Uint8Array): Promise<void> {
    let req;
    try {
      req = decodeAppHandshake(payload);
    } catch (e) {
      this.decodeFailed(e, payload);
      return;
    }
    if (!req.supportedAppProtocolReq) {
      this.secc.log('<- supportedAppProtocolRes instead of a request; closing the connection');
      await this.close('not a handshake request');
      return;
    }
    const offered = req.supportedAppProtocolReq.AppProtocol;
    this.secc.log(`<- supportedAppProtocolReq ${offered.map((p) => `${p.ProtocolNamespace} ${p.VersionNumberMajor}.${p.VersionNumberMinor} (SchemaID ${p.SchemaID}, priority ${p.Priority})`).join('; ')}`);
    const iso2 = offered.filter((p) => p.ProtocolNamespace === ISO2_NAMESPACE && p.VersionNumberMajor === 2).sort((a, b) => a.Priority - b.Priority)[0];
    this.handshakeDone = true;
    if (!iso2) {
      this.secc.log('-> supportedAppProtocolRes Failed_NoNegotiation (no ISO 15118-2:2013 offered)');
      this.send(encodeAppHandshake({ supportedAppProtocolRes: { ResponseCode: 'Failed_NoNegotiation' } }));
      await this.close('no common protocol');
      return;
    }
    const code = iso2.VersionNumberMinor === 0 ? 'OK_SuccessfulNegotiation' : 'OK_SuccessfulNegotiationWithMinorDeviation';
    this.secc.log(`-> supportedAppProtocolRes ${code} SchemaID ${iso2.SchemaID}`);
    this.send(encodeAppHandshake({ supportedAppProtocolRes: { ResponseCode: code, SchemaID: iso2.SchemaID } }));
  }

  private sessionSetup(msg: V2GMessage): void {
    const requested = msg.Header.SessionID;
    const paused = this.secc.pausedSessionId;
    let code: responseCodeType;
    if (paused && !bytesEqual(requested, ZERO_SESSION) && bytesEqual(requested, paused)) {
      this.sessionId = paused;
      code = 'OK_OldSessionJoined';
    } else {
      this.sessionId = new Uint8Array(randomBytes(8));
      code = 'OK_NewSessionEstablished';
    }
    this.secc.pausedSessionId = undefined;
    this.secc.stopRequested = false;
    this.secc.sessions += 1;
    this.phase = 'session';
    this.respond({ SessionSetupRes: { ResponseCode: code, EVSEID: this.secc.evseId, EVSETimeStamp: BigInt(Math.floor(Date.now() / 1000)) } }, `SessionID ${toHex(this.sessionId)}`);
  }

  private serviceDiscovery(): void {
    this.phase = 'discovered';
    this.respond({
      ServiceDiscoveryRes: {
        ResponseCode: 'OK',
        PaymentOptionList: { PaymentOption: ['Contract', 'ExternalPayment'] },
        ChargeService: this.chargeService(),
        ServiceList: { Service: [{ ServiceID: CERTIFICATE_SERVICE_ID, ServiceCategory: 'ContractCertificate', FreeService: true }] },
      },
    });
  }

  private serviceDetail(msg: V2GMessage): Promise<void> | void {
    const id = msg.Body.ServiceDetailReq!.ServiceID;
    if (id === CHARGE_SERVICE_ID) return this.respond({ ServiceDetailRes: { ResponseCode: 'OK', ServiceID: id } });
    if (id === CERTIFICATE_SERVICE_ID) {
      return this.respond({
        ServiceDetailRes: {
          ResponseCode: 'OK',
          ServiceID: id,
          ServiceParameterList: {
            ParameterSet: [
              { ParameterSetID: 1, Parameter: [{ Name: 'Service', stringValue: 'Installation' }] },
              { ParameterSetID: 2, Parameter: [{ Name: 'Service', stringValue: 'Update' }] },
            ],
          },
        },
      });
    }
    return this.fail('ServiceDetailReq', 'FAILED_ServiceIDInvalid', `unknown ServiceID ${id}`, false);
  }

  private paymentServiceSelection(msg: V2GMessage): Promise<void> | void {
    const req = msg.Body.PaymentServiceSelectionReq!;
    const services = req.SelectedServiceList.SelectedService.map((s) => s.ServiceID);
    if (req.SelectedPaymentOption !== 'Contract' && req.SelectedPaymentOption !== 'ExternalPayment') {
      return this.fail('PaymentServiceSelectionReq', 'FAILED_PaymentSelectionInvalid', `payment option ${String(req.SelectedPaymentOption)}`, false);
    }
    if (!services.includes(CHARGE_SERVICE_ID)) return this.fail('PaymentServiceSelectionReq', 'FAILED_NoChargeServiceSelected', `services ${services.join(', ')}`, false);
    const unknown = services.filter((s) => s !== CHARGE_SERVICE_ID && s !== CERTIFICATE_SERVICE_ID);
    if (unknown.length) return this.fail('PaymentServiceSelectionReq', 'FAILED_ServiceSelectionInvalid', `unknown ServiceID ${unknown.join(', ')}`, false);
    this.payment = req.SelectedPaymentOption;
    this.phase = 'payment-selected';
    this.respond({ PaymentServiceSelectionRes: { ResponseCode: 'OK' } });
  }

  private async certificateExchange(action: 'Install' | 'Update', payload: Uint8Array): Promise<void> {
    const req = action === 'Install' ? 'CertificateInstallationReq' : 'CertificateUpdateReq';
    const ms = this.secc.timing.certificateExchangeTimeoutMs;
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(ms)]);
    const exiRequest = toBase64(payload);
    this.secc.log(`${req}: asking the charge-point controller (Get15118EVCertificate ${action}, ${exiRequest.length} base64 characters)`);
    let r: CertificateExchangeResult;
    try {
      r = await this.secc.backend.exchangeCertificate({ action, iso15118SchemaVersion: ISO2_NAMESPACE, exiRequest }, signal);
    } catch (e) {
      r = { kind: 'none', reason: signal.aborted && !this.abort.signal.aborted ? `no answer within ${ms} ms` : `the controller failed: ${(e as Error).message}` };
    }
    if (this.closed) return;
    if (r.kind === 'none') {
      this.secc.log(`${req}: nothing to forward (${r.reason}); no response is sent, the EV times out`);
      return;
    }
    if (r.exiResponse === '') {
      if (r.status === 'Failed') {
        await this.fail(req, 'FAILED', 'the CSMS answered Failed without exiResponse', false);
        return;
      }
      this.secc.log(`${req}: the CSMS answered Accepted without exiResponse; nothing to forward, the EV times out`);
      return;
    }
    const exi = parseBase64(r.exiResponse);
    if (!exi) {
      await this.fail(req, 'FAILED', `exiResponse is not base64 (${r.exiResponse.length} characters, CSMS status ${r.status}); nothing can be forwarded`, false);
      return;
    }
    let note = `(${exi.length} bytes forwarded unchanged, CSMS status ${r.status})`;
    let ok = true;
    try {
      const res = decodeV2GMessage(exi);
      const body = res.Body.CertificateInstallationRes ?? res.Body.CertificateUpdateRes;
      const code = body?.ResponseCode ?? `no ${resName(req)} in the Body`;
      ok = code.startsWith('OK');
      note = `${code} ${note}`;
      if (!bytesEqual(res.Header.SessionID, this.sessionId)) note += ` — its SessionID ${toHex(res.Header.SessionID)} is not the session's ${toHex(this.sessionId)}`;
    } catch (e) {
      note += ` — does not decode: ${(e as Error).message}`;
    }
    this.secc.log(`-> ${resName(req)} ${note}`);
    this.send(exi);
    this.phase = ok ? 'certificate' : 'failed';
  }

  private paymentDetails(msg: V2GMessage): Promise<void> | void {
    const req = msg.Body.PaymentDetailsReq!;
    const chain = [req.ContractSignatureCertChain.Certificate, ...(req.ContractSignatureCertChain.SubCertificates?.Certificate ?? [])];
    for (const [i, der] of chain.entries()) {
      try {
        parseCertificateDer(der, `certificate ${i} of ContractSignatureCertChain`);
      } catch (e) {
        return this.fail('PaymentDetailsReq', 'FAILED_CertChainError', (e as Error).message, false);
      }
    }
    this.contract = { emaid: req.eMAID, certificatesDer: chain.map((c) => Buffer.from(c)) };
    this.emaid = req.eMAID;
    this.genChallenge = new Uint8Array(randomBytes(16));
    this.phase = 'payment-details';
    this.respond({ PaymentDetailsRes: { ResponseCode: 'OK', GenChallenge: this.genChallenge, EVSETimeStamp: BigInt(Math.floor(Date.now() / 1000)) } });
  }

  private async authorization(msg: V2GMessage): Promise<void> {
    const req = msg.Body.AuthorizationReq!;
    if (this.payment === 'ExternalPayment') {
      return this.fail('AuthorizationReq', 'FAILED', 'ExternalPayment: this charger has no external identification means (PnC only)', false);
    }
    const contract = this.contract!;
    // the first request must carry the signed challenge; later ones (while Ongoing) are checked when they do
    if (!this.auth || req.GenChallenge !== undefined || msg.Header.Signature !== undefined) {
      if (req.GenChallenge === undefined || req.Id === undefined) return this.fail('AuthorizationReq', 'FAILED_ChallengeInvalid', 'no GenChallenge/Id in a Contract AuthorizationReq', false);
      if (!bytesEqual(req.GenChallenge, this.genChallenge!)) return this.fail('AuthorizationReq', 'FAILED_ChallengeInvalid', `GenChallenge ${toHex(req.GenChallenge)} is not the one sent (${toHex(this.genChallenge!)})`, false);
      let check;
      try {
        check = verifyV2GSignature(msg, publicKeyFromCertificate(contract.certificatesDer[0]!), [req.Id]);
      } catch (e) {
        return this.fail('AuthorizationReq', 'FAILED_SignatureError', `contract certificate key: ${(e as Error).message}`, false);
      }
      if (!check.valid) return this.fail('AuthorizationReq', 'FAILED_SignatureError', `signature check with the contract certificate: ${check.problems.join('; ')}`, false);
    }
    if (!this.auth) {
      const abort = new AbortController();
      const auth: NonNullable<Connection['auth']> = { started: Date.now(), abort };
      this.auth = auth;
      this.phase = 'authorizing';
      this.secc.log(`AuthorizationReq: signature valid; authorizing eMAID ${contract.emaid} (${contract.certificatesDer.length} certificates) with the charge-point controller`);
      this.secc.backend.authorizeContract(contract, AbortSignal.any([abort.signal, this.abort.signal])).then(
        (r) => {
          auth.result = r;
          this.secc.log(`authorization of ${contract.emaid}: ${r.status}${r.certificateStatus ? ` (certificate ${r.certificateStatus})` : ''} decided by ${r.decidedBy}`);
        },
        (e: unknown) => {
          auth.error = (e as Error).message;
          this.secc.log(`authorization of ${contract.emaid} failed: ${auth.error}`);
        },
      );
      // a decision that is already there (local rule) goes out in this response
      await new Promise((r) => setImmediate(r));
    }
    const a = this.auth;
    if (a.result) {
      if (a.result.status === 'Accepted') {
        this.phase = 'authorized';
        this.respond({ AuthorizationRes: { ResponseCode: 'OK', EVSEProcessing: 'Finished' } });
        return;
      }
      const code: responseCodeType = a.result.certificateStatus === 'CertificateRevoked' ? 'FAILED_CertificateRevoked' : a.result.certificateStatus === 'CertificateExpired' ? 'FAILED_CertificateExpired' : 'FAILED';
      return this.fail('AuthorizationReq', code, `authorization ${a.result.status}`, false);
    }
    if (a.error !== undefined) return this.fail('AuthorizationReq', 'FAILED', `authorization error: ${a.error}`, false);
    if (Date.now() - a.started > this.secc.timing.ongoingTimeoutMs) {
      a.abort.abort();
      return this.fail('AuthorizationReq', 'FAILED', `no authorization decision within ${this.secc.timing.ongoingTimeoutMs} ms (V2G_SECC_Ongoing_Performance_Time)`, false);
    }
    this.respond({ AuthorizationRes: { ResponseCode: 'OK', EVSEProcessing: 'Ongoing' } });
  }

  private chargeParameterDiscovery(msg: V2GMessage): Promise<void> | void {
    const req = msg.Body.ChargeParameterDiscoveryReq!;
    if (!req.DC_EVChargeParameter || (req.RequestedEnergyTransferMode !== 'DC_extended' && req.RequestedEnergyTransferMode !== 'DC_core')) {
      return this.fail('ChargeParameterDiscoveryReq', 'FAILED_WrongEnergyTransferMode', `requested ${req.RequestedEnergyTransferMode}; this EVSE offers DC_extended, DC_core`, false);
    }
    this.phase = 'charge-parameters';
    this.respond({
      ChargeParameterDiscoveryRes: {
        ResponseCode: 'OK',
        EVSEProcessing: 'Finished',
        SAScheduleList: {
          SAScheduleTuple: [
            {
              SAScheduleTupleID: SA_SCHEDULE_TUPLE_ID,
              PMaxSchedule: { PMaxScheduleEntry: [{ RelativeTimeInterval: { start: 0, duration: 86400 }, PMax: physicalValue(this.maxPowerW(), 'W') }] },
            },
          ],
        },
        DC_EVSEChargeParameter: this.evseChargeParameter(),
      },
    });
  }

  private cableCheck(): void {
    if (this.phase !== 'cable-check') {
      this.phase = 'cable-check';
      this.cableCheckStarted = Date.now();
    }
    const done = Date.now() - this.cableCheckStarted >= this.secc.timing.cableCheckMs;
    this.respond({ CableCheckRes: { ResponseCode: 'OK', DC_EVSEStatus: this.evseStatus(!done), EVSEProcessing: done ? 'Finished' : 'Ongoing' } });
  }

  private preCharge(msg: V2GMessage): void {
    const req = msg.Body.PreChargeReq!;
    this.phase = 'pre-charge';
    // the module pre-charges the cable to the EV's battery voltage (simulated as immediate)
    const v = Math.min(physicalNumber(req.EVTargetVoltage), this.secc.bus.ratedMaxVoltageV);
    this.respond({ PreChargeRes: { ResponseCode: 'OK', DC_EVSEStatus: this.evseStatus(), EVSEPresentVoltage: physicalValue(v, 'V') } });
  }

  private async powerDelivery(msg: V2GMessage): Promise<void> {
    const req = msg.Body.PowerDeliveryReq!;
    const bus = this.secc.bus;
    if (req.ChargeProgress === 'Start') {
      if (this.phase !== 'pre-charge') return this.fail('PowerDeliveryReq', 'FAILED_SequenceError', `PowerDelivery Start in phase ${this.phase}`, true);
      if (req.SAScheduleTupleID !== SA_SCHEDULE_TUPLE_ID) return this.fail('PowerDeliveryReq', 'FAILED_TariffSelectionInvalid', `SAScheduleTupleID ${req.SAScheduleTupleID} was not offered`, false);
      try {
        await this.secc.backend.startCharging({ idTag: this.emaid, connectorId: this.secc.connectorId });
      } catch (e) {
        return this.fail('PowerDeliveryReq', 'FAILED_PowerDeliveryNotApplied', `the charge-point controller could not start the transaction: ${(e as Error).message}`, false);
      }
      if (this.closed) return;
      bus.setContactors(true);
      bus.setModule({ on: true });
      this.charging = true;
      this.phase = 'charging';
      this.respond({ PowerDeliveryRes: { ResponseCode: 'OK', DC_EVSEStatus: this.evseStatus() } }, 'contactors closed, module on');
      return;
    }
    if (req.ChargeProgress === 'Stop') {
      await this.stopPower('Local');
      this.phase = 'power-off';
      this.respond({ PowerDeliveryRes: { ResponseCode: 'OK', DC_EVSEStatus: this.evseStatus() } }, 'contactors open, module off');
      return;
    }
    return this.fail('PowerDeliveryReq', 'FAILED', `ChargeProgress ${req.ChargeProgress} (renegotiation) is not supported by this SECC`, false);
  }

  private currentDemand(msg: V2GMessage): void {
    const req = msg.Body.CurrentDemandReq!;
    const targetV = physicalNumber(req.EVTargetVoltage);
    const targetA = physicalNumber(req.EVTargetCurrent);
    this.secc.bus.setEvDemand({ voltageV: targetV, currentA: this.secc.stopRequested ? 0 : targetA });
    this.respond({ CurrentDemandRes: this.currentDemandRes('OK', targetA) });
  }

  private weldingDetection(): void {
    this.respond({ WeldingDetectionRes: { ResponseCode: 'OK', DC_EVSEStatus: this.evseStatus(), EVSEPresentVoltage: this.presentVoltage() } });
  }

  private async sessionStop(msg: V2GMessage): Promise<void> {
    const kind = msg.Body.SessionStopReq!.ChargingSession;
    if (this.charging) await this.stopPower('Local');
    this.phase = 'stopped';
    this.secc.pausedSessionId = kind === 'Pause' ? this.sessionId : undefined;
    this.respond({ SessionStopRes: { ResponseCode: 'OK' } });
    await this.close(`session stopped (${kind})`);
  }

  /** Opens the contactors, switches the module off and ends the transaction (once). */
  private async stopPower(reason: 'EVDisconnected' | 'Local' | 'Remote' | 'Other'): Promise<void> {
    const bus = this.secc.bus;
    bus.setEvDemand({ voltageV: 0, currentA: 0 });
    if (!this.charging) return;
    this.charging = false;
    bus.setContactors(false);
    bus.setModule({ on: false });
    this.secc.log(`power off (${reason}): contactors open, module off, ${bus.sample().energyWh.toFixed(1)} Wh on the meter`);
    try {
      await this.secc.backend.stopCharging(reason);
    } catch (e) {
      this.secc.log(`the charge-point controller could not stop the transaction: ${(e as Error).message}`);
    }
  }

  close(why: string): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    clearTimeout(this.seqTimer);
    this.abort.abort();
    this.auth?.abort.abort();
    this.closing = (async () => {
      this.secc.log(`connection to ${this.peer} closed: ${why}`);
      if (this.charging) await this.stopPower(this.phase === 'stopped' ? 'Local' : 'EVDisconnected');
      else this.secc.bus.setEvDemand({ voltageV: 0, currentA: 0 });
      await new Promise<void>((resolve) => {
        if (this.sock.destroyed) return resolve();
        this.sock.once('close', () => resolve());
        this.sock.end();
        setTimeout(() => this.sock.destroy(), 200).unref?.();
      });
    })();
    return this.closing;
  }
}
