// The simulated charger's charge-point controller (the DUT's OCPP side): OCPP 1.6J towards the CSMS and
// the SeccBackend (backend.ts) its SECC calls. Everything a 1.6 charger with the PnC app note does:
//
//   - connection: OcppClient (rpc.ts) with reconnect back-off; BootNotification once per (re)boot,
//     retried per the answer's interval while Pending/Rejected; Heartbeat; StatusNotification;
//   - transactions: StartTransaction (idTag = eMAID, meterStart from the PowerBus energy, Wh),
//     periodic MeterValues (Energy.Active.Import.Register, Power.Active.Import, ...), StopTransaction;
//     all three go through one ordered queue that survives link loss (sent after reconnect; a
//     StartTransaction answered later maps its transactionId onto the queued messages);
//   - CSMS-initiated core messages: Get/ChangeConfiguration, ClearCache, SendLocalList,
//     GetLocalListVersion, Reset, Remote Start/Stop, ChangeAvailability, UnlockConnector,
//     TriggerMessage, DataTransfer (PnC: pnc.ts);
//   - PnC: C07 authorization (authorize.ts), Get15118EVCertificate forwarding, A02/A03 certificate
//     signing with back-off and the renewal check, M03/M04/M05 certificate stores (certstore.ts),
//     M06 OCSP refresh of the SECC chain after CertificateSigned (ocsp.ts);
//   - the fault injections of faults.ts; firmware-like console lines for everything notable.
//
//   const cp = new ChargePointController({ csmsUrl, chargePointId: 'CP1', faults: new Set(), config: new ConfigStore(),
//                                          certs, bus, log: new ConsoleLog(console.log) });
//   cp.start();                        // connects, boots
//   await cp.authorizeContract({ emaid, certificatesDer }, signal);   // what the SECC calls
//   await cp.stop();
import { isPlainObject } from '../../../src/csms/frames.ts';
import type { Ocpp16Calls } from '../../../src/csms/messages.ts';
import { CSMS_ACTIONS, OcppSchemas, PNC_VENDOR_ID, type CsmsAction } from '../../../src/csms/schemas.ts';
import { decodeV2GMessage, encodeV2GMessage } from '../../../src/exi/index.ts';
import type { PowerBus } from '../physics.ts';
import { settleWithin } from '../settle.ts';
import { authorizeContract, cacheIdTagInfo } from './authorize.ts';
import type {
  CertificateExchangeRequest,
  CertificateExchangeResult,
  ChargingSessionInfo,
  ContractChain,
  PncAuthorizationResult,
  SeccBackend,
} from './backend.ts';
import type { CertificateStores } from './certstore.ts';
import type { ConfigStore } from './config.ts';
import type { FaultName } from './faults.ts';
import { LocalAuth } from './localauth.ts';
import { q, type ConsoleLog, type LogTag } from './log.ts';
import { OcspCache } from './ocsp.ts';
import { CertSigning, PncMessages, WRONG_PNC_VENDOR_ID, type PncAnswer, type PncHost } from './pnc.ts';
import { CallTimeoutError, NotConnectedError, OcppClient, OcppRpcError, type JsonObject } from './rpc.ts';

export interface ChargePointOptions {
  csmsUrl: string;
  chargePointId: string;
  password?: string;
  faults: ReadonlySet<FaultName>;
  config: ConfigStore;
  certs: CertificateStores;
  bus: PowerBus;
  log: ConsoleLog;
  /** first SECC-leaf check after BootNotification Accepted (default 1 s; then every RENEWAL_CHECK_INTERVAL_MS) */
  renewalCheckDelayMs?: number;
  /** reconnect back-off (default 200 ms → 5 s) */
  reconnect?: { minMs: number; maxMs: number };
  /** OCPP CALL timeout (default 30 s) */
  callTimeoutMs?: number;
  /** charger-initiated end of the ISO 15118 session (RemoteStop, UnlockConnector, Reset, StartTransaction not accepted) */
  requestSeccStop?: () => void;
}

type ConnectorStatus = 'Available' | 'Preparing' | 'Charging' | 'SuspendedEV' | 'SuspendedEVSE' | 'Finishing' | 'Reserved' | 'Unavailable' | 'Faulted';
type StopReason = 'EmergencyStop' | 'EVDisconnected' | 'HardReset' | 'Local' | 'Other' | 'PowerLoss' | 'Reboot' | 'Remote' | 'SoftReset' | 'UnlockCommand' | 'DeAuthorized';

interface Transaction {
  localId: number;
  connectorId: number;
  idTag: string;
  meterStartWh: number;
  startedAt: Date;
}

interface QueueItem {
  action: 'StartTransaction' | 'MeterValues' | 'StopTransaction';
  localId: number;
  /** payload at send time (transactionId resolved then); undefined → drop */
  build: () => JsonObject | undefined;
  onConf?: (conf: JsonObject) => void;
  attempts: number;
  delivered: () => void;
}

const RENEWAL_THRESHOLD_MS = 30 * 86_400_000;
/** the SECC-leaf renewal check after the first one */
const RENEWAL_CHECK_INTERVAL_MS = 3_600_000;
const MAX_QUEUE = 1_000;
/**
 * The CSMS-initiated 1.6 actions this charge point handles; the rest of CSMS_ACTIONS (reservations,
 * smart charging, diagnostics, firmware, and the 1.6 security extension — the charger runs security
 * profile 0/1 without it) is answered NotSupported.
 */
const HANDLED_CALLS = [
  'GetConfiguration',
  'ChangeConfiguration',
  'ClearCache',
  'GetLocalListVersion',
  'SendLocalList',
  'Reset',
  'RemoteStartTransaction',
  'RemoteStopTransaction',
  'ChangeAvailability',
  'UnlockConnector',
  'TriggerMessage',
  'DataTransfer',
] as const satisfies readonly CsmsAction[];
type HandledCall = (typeof HANDLED_CALLS)[number];
type Req<A extends HandledCall> = Ocpp16Calls[A]['req'];

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class ChargePointController implements SeccBackend, PncHost {
  readonly config: ConfigStore;
  readonly faults: ReadonlySet<FaultName>;
  readonly certs: CertificateStores;
  readonly localAuth = new LocalAuth();
  private readonly o: ChargePointOptions;
  private readonly rpc: OcppClient;
  private readonly signing: CertSigning;
  private readonly pncMessages: PncMessages;
  /** OCSP status of the SECC chain's sub-CAs (GetCertificateStatus after CertificateSigned, M06) */
  readonly ocsp: OcspCache;
  private readonly bus: PowerBus;
  private readonly consoleLog: ConsoleLog;

  private bootStatus: 'None' | 'Pending' | 'Accepted' | 'Rejected' = 'None';
  private bootInFlight = false;
  private bootTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private renewalTimer: NodeJS.Timeout | undefined;
  private meterTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private connectorStatus: ConnectorStatus = 'Available';
  private availability: 'Operative' | 'Inoperative' = 'Operative';
  private pendingInoperative = false;
  private tx: Transaction | undefined;
  private txSeq = 0;
  private readonly txIds = new Map<number, number>();
  private readonly queue: QueueItem[] = [];
  private pumping = false;
  private pumpRetry: NodeJS.Timeout | undefined;
  private connects = 0;
  private bootCount = 0;

  constructor(o: ChargePointOptions) {
    this.o = o;
    this.config = o.config;
    this.faults = o.faults;
    this.certs = o.certs;
    this.bus = o.bus;
    this.consoleLog = o.log;
    const url = `${o.csmsUrl.replace(/\/+$/, '')}/${encodeURIComponent(o.chargePointId)}`;
    this.rpc = new OcppClient({
      url,
      identity: o.chargePointId,
      ...(o.password !== undefined ? { password: o.password } : {}),
      callTimeoutMs: o.callTimeoutMs ?? 30_000,
      reconnect: o.reconnect ?? { minMs: 200, maxMs: 5_000 },
      handleCall: (action, payload) => this.handleCall(action, payload),
      onOpen: () => this.onOpen(url),
      onClose: (i) => this.onClose(i),
    });
    this.signing = new CertSigning(this);
    this.ocsp = new OcspCache(this);
    this.pncMessages = new PncMessages(this, this.signing, this.ocsp);
    this.config.onChange((key) => {
      if (key === 'HeartbeatInterval') this.scheduleHeartbeat();
      if (key === 'MeterValueSampleInterval' && this.tx) this.scheduleMeterValues();
    });
  }

  // ------------------------------------------------------------------ lifecycle

  start(): void {
    this.logLine('sys', `power on: charge point ${this.o.chargePointId}, faults=${this.faults.size ? [...this.faults].join(',') : 'none'}`);
    this.rpc.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.signing.stop();
    this.clearTimers();
    clearTimeout(this.meterTimer);
    clearTimeout(this.pumpRetry);
    await this.rpc.stop();
    this.logLine('sys', 'power off');
  }

  private clearTimers(): void {
    clearTimeout(this.bootTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.renewalTimer);
    this.bootTimer = this.heartbeatTimer = this.renewalTimer = undefined;
  }

  logLine(tag: LogTag, text: string): void {
    this.consoleLog.line(tag, text);
  }

  online(): boolean {
    return this.rpc.connected && this.bootStatus === 'Accepted';
  }

  private onOpen(url: string): void {
    this.connects++;
    this.logLine('ocpp', `connected to ${url}`);
    if (this.bootStatus === 'Accepted') this.afterOnline();
    else void this.boot();
  }

  private onClose(i: { code: number; reason: string; wasOpen: boolean; retryInMs: number | undefined }): void {
    clearTimeout(this.bootTimer);
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    const retry = i.retryInMs === undefined ? 'no reconnect' : `reconnect in ${i.retryInMs} ms`;
    if (i.wasOpen) this.logLine('ocpp', `disconnected code=${i.code} reason=${q(i.reason)} (${retry})`);
    else this.logLine('ocpp', `connection failed: ${i.reason || `code ${i.code}`} (${retry})`);
  }

  // ------------------------------------------------------------------ boot, heartbeat, status

  private async boot(): Promise<void> {
    if (this.bootInFlight || this.stopped) return;
    this.bootInFlight = true;
    clearTimeout(this.bootTimer);
    let retryS = 30;
    try {
      const conf = await this.rpc.call('BootNotification', {
        chargePointVendor: 'pnc-bench',
        chargePointModel: 'VirtualCharger',
        chargePointSerialNumber: this.o.chargePointId.slice(0, 25),
        chargeBoxSerialNumber: this.o.chargePointId.slice(0, 25),
        firmwareVersion: '1.0.0-sim',
      });
      const status = conf.status;
      const interval = Number.isInteger(conf.interval) ? (conf.interval as number) : 0;
      this.logLine('ocpp', `BootNotification ${String(status)} interval=${interval}`);
      if (status === 'Accepted') {
        this.bootStatus = 'Accepted';
        this.bootCount++;
        if (interval > 0) this.config.setInternal('HeartbeatInterval', String(interval));
        this.afterBoot();
        return;
      }
      this.bootStatus = status === 'Pending' ? 'Pending' : 'Rejected';
      if (interval > 0) retryS = interval;
    } catch (e) {
      this.logLine('ocpp', `BootNotification failed: ${errText(e)}`);
      if (e instanceof NotConnectedError) return; // retried on reconnect
    } finally {
      this.bootInFlight = false;
    }
    if (!this.stopped && this.rpc.connected) this.bootTimer = setTimeout(() => void this.boot(), retryS * 1000);
  }

  private afterBoot(): void {
    this.scheduleHeartbeat();
    clearTimeout(this.renewalTimer);
    const first = this.o.renewalCheckDelayMs ?? 1_000;
    const tick = (delay: number): void => {
      this.renewalTimer = setTimeout(() => {
        this.renewalCheck();
        tick(RENEWAL_CHECK_INTERVAL_MS);
      }, delay);
    };
    tick(first);
    this.afterOnline();
  }

  /** Connected and booted: connector status, then the queued transaction messages. */
  private afterOnline(): void {
    if (this.bootStatus !== 'Accepted') return;
    this.scheduleHeartbeat();
    void this.sendStatus(0, this.availability === 'Operative' ? 'Available' : 'Unavailable');
    void this.sendStatus(1, this.connectorStatus);
    this.pump();
  }

  private scheduleHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    const s = this.config.int('HeartbeatInterval');
    if (s <= 0 || this.stopped || !this.online()) return;
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), s * 1000);
  }

  private async heartbeat(): Promise<void> {
    if (!this.online()) return;
    try {
      await this.rpc.call('Heartbeat', {});
    } catch (e) {
      this.logLine('ocpp', `Heartbeat failed: ${errText(e)}`);
    }
  }

  private async sendStatus(connectorId: number, status: ConnectorStatus): Promise<void> {
    if (!this.online()) return;
    try {
      await this.rpc.call('StatusNotification', { connectorId, errorCode: 'NoError', status, timestamp: new Date().toISOString() });
    } catch (e) {
      this.logLine('ocpp', `StatusNotification failed: ${errText(e)}`);
    }
  }

  private setConnectorStatus(status: ConnectorStatus): void {
    if (this.connectorStatus === status) return;
    this.connectorStatus = status;
    this.logLine('ocpp', `connector 1 status=${status}`);
    void this.sendStatus(1, status);
  }

  private renewalCheck(): void {
    const secc = this.certs.secc;
    const leaf = secc?.chain[0];
    if (this.signing.retrying) return; // a flow is still sending; an exhausted one is restarted here
    if (!leaf) {
      this.logLine('pnc', 'renewal check: no SECC certificate → SignCertificate');
      this.signing.start('renewal:missing');
    } else if (leaf.notAfter.getTime() - Date.now() < RENEWAL_THRESHOLD_MS) {
      this.logLine('pnc', `renewal check: SECC certificate expires ${leaf.notAfter.toISOString()} (< 30 days) → SignCertificate`);
      this.signing.start('renewal:expiring');
    }
  }

  // ------------------------------------------------------------------ sending

  async sendCore(action: string, payload: JsonObject, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<JsonObject> {
    return this.rpc.call(action, payload, opts);
  }

  async sendPnc(messageId: string, inner: JsonObject, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<PncAnswer> {
    const vendorId = this.faults.has('wrong-vendor-id') ? WRONG_PNC_VENDOR_ID : PNC_VENDOR_ID;
    const conf = await this.rpc.call('DataTransfer', { vendorId, messageId, data: JSON.stringify(inner) }, opts);
    const status = typeof conf.status === 'string' ? conf.status : 'Rejected';
    let data: JsonObject | undefined;
    if (typeof conf.data === 'string') {
      try {
        const parsed: unknown = JSON.parse(conf.data);
        if (isPlainObject(parsed)) data = parsed;
      } catch {
        this.logLine('pnc', `${messageId}: answer data is not JSON`);
      }
    }
    return { status, ...(data ? { data } : {}) };
  }

  // ------------------------------------------------------------------ transaction queue

  private enqueue(item: Omit<QueueItem, 'attempts' | 'delivered'>): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.queue.length >= MAX_QUEUE) {
        const i = this.queue.findIndex((x) => x.action === 'MeterValues');
        const dropped = this.queue.splice(i >= 0 ? i : 0, 1)[0];
        dropped?.delivered();
        this.logLine('tx', `queue full: dropped a queued ${dropped?.action ?? 'message'}`);
      }
      this.queue.push({ ...item, attempts: 0, delivered: resolve });
      this.pump();
    });
  }

  private pump(): void {
    if (this.pumping || this.stopped || !this.online()) return;
    this.pumping = true;
    void this.drain().finally(() => {
      this.pumping = false;
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && this.online() && !this.stopped) {
      const item = this.queue[0] as QueueItem;
      const payload = item.build();
      if (!payload) {
        this.queue.shift();
        this.logLine('tx', `${item.action} dropped: transaction ${item.localId} has no transactionId (StartTransaction failed)`);
        item.delivered();
        continue;
      }
      try {
        const conf = await this.rpc.call(item.action, payload);
        this.queue.shift();
        item.onConf?.(conf);
        item.delivered();
      } catch (e) {
        if (e instanceof NotConnectedError) return; // stays queued; sent after reconnect
        item.attempts++;
        const max = this.config.int('TransactionMessageAttempts');
        if (item.attempts >= max) {
          this.queue.shift();
          this.logLine('tx', `${item.action} dropped after ${item.attempts} attempt(s): ${errText(e)}`);
          item.delivered();
          continue;
        }
        const waitMs = e instanceof CallTimeoutError ? 0 : this.config.int('TransactionMessageRetryInterval') * 1000 * item.attempts;
        this.logLine('tx', `${item.action} attempt ${item.attempts} failed (${errText(e)}); retry in ${waitMs} ms`);
        clearTimeout(this.pumpRetry);
        this.pumpRetry = setTimeout(() => this.pump(), waitMs);
        return;
      }
    }
  }

  private meterReading(): { energyWh: number; powerW: number; currentA: number; voltageV: number } {
    const s = this.bus.sample();
    return { energyWh: s.energyWh, powerW: s.powerW, currentA: s.currentA, voltageV: s.voltageV };
  }

  private sampledValues(context: string): JsonObject[] {
    const m = this.meterReading();
    const out: JsonObject[] = [];
    for (const measurand of this.config.list('MeterValuesSampledData')) {
      const [value, unit] =
        measurand === 'Energy.Active.Import.Register'
          ? [Math.round(m.energyWh), 'Wh']
          : measurand === 'Power.Active.Import'
            ? [Math.round(m.powerW), 'W']
            : measurand === 'Current.Import'
              ? [Math.round(m.currentA * 10) / 10, 'A']
              : [Math.round(m.voltageV * 10) / 10, 'V'];
      out.push({ value: String(value), context, measurand, location: 'Outlet', unit });
    }
    return out;
  }

  private startTransaction(idTag: string, connectorId: number, how: string): Promise<void> {
    const meterStartWh = Math.round(this.meterReading().energyWh);
    const tx: Transaction = { localId: ++this.txSeq, connectorId, idTag, meterStartWh, startedAt: new Date() };
    this.tx = tx;
    this.logLine('tx', `transaction started local=${tx.localId} connector=${connectorId} idTag=${idTag} meterStart=${meterStartWh} Wh via=${how} online=${this.online()}`);
    this.setConnectorStatus('Charging');
    this.scheduleMeterValues();
    return this.enqueue({
      action: 'StartTransaction',
      localId: tx.localId,
      build: () => ({ connectorId, idTag, meterStart: meterStartWh, timestamp: tx.startedAt.toISOString() }),
      onConf: (conf) => {
        const id = conf.transactionId;
        const info: unknown = conf.idTagInfo;
        const status = isPlainObject(info) ? info.status : undefined;
        if (!Number.isInteger(id)) {
          this.logLine('tx', `StartTransaction answer without transactionId for local=${tx.localId}`);
          return;
        }
        this.txIds.set(tx.localId, id as number);
        this.logLine('tx', `transaction id assigned local=${tx.localId} transactionId=${String(id)} idTagInfo=${String(status)}`);
        cacheIdTagInfo(this, this.localAuth, idTag, info);
        if (status !== 'Accepted' && this.tx === tx && this.config.bool('StopTransactionOnInvalidId')) {
          this.logLine('tx', `StartTransaction idTagInfo ${String(status)}: stopping transaction ${String(id)}`);
          this.haltPower();
          void this.stopTransaction('DeAuthorized');
        }
      },
    });
  }

  private scheduleMeterValues(): void {
    clearTimeout(this.meterTimer);
    const s = this.config.int('MeterValueSampleInterval');
    if (s <= 0 || !this.tx) return;
    this.meterTimer = setTimeout(() => {
      this.queueMeterValues('Sample.Periodic');
      this.scheduleMeterValues();
    }, s * 1000);
  }

  private queueMeterValues(context: string): void {
    const tx = this.tx;
    if (!tx) return;
    const meterValue = [{ timestamp: new Date().toISOString(), sampledValue: this.sampledValues(context) }];
    void this.enqueue({
      action: 'MeterValues',
      localId: tx.localId,
      build: () => {
        const id = this.txIds.get(tx.localId);
        return id === undefined ? undefined : { connectorId: tx.connectorId, transactionId: id, meterValue };
      },
    });
  }

  private stopTransaction(reason: StopReason): Promise<void> {
    const tx = this.tx;
    if (!tx) return Promise.resolve();
    const stoppedAt = new Date(); // the StopTransaction carries it also when it waits in the offline queue
    this.tx = undefined;
    clearTimeout(this.meterTimer);
    const energyWh = this.meterReading().energyWh;
    const meterStopWh = this.faults.has('meter-stop-mismatch') ? Math.round(energyWh * 1.05) : Math.round(energyWh);
    this.logLine('tx', `transaction stopped local=${tx.localId} transactionId=${this.txIds.get(tx.localId) ?? 'pending'} meterStop=${meterStopWh} Wh reason=${reason}`);
    const p = this.enqueue({
      action: 'StopTransaction',
      localId: tx.localId,
      build: () => {
        const id = this.txIds.get(tx.localId);
        return id === undefined ? undefined : { transactionId: id, idTag: tx.idTag, meterStop: meterStopWh, timestamp: stoppedAt.toISOString(), reason };
      },
      onConf: (conf) => cacheIdTagInfo(this, this.localAuth, tx.idTag, conf.idTagInfo),
    });
    if (this.pendingInoperative) {
      this.pendingInoperative = false;
      this.availability = 'Inoperative';
      this.setConnectorStatus('Unavailable');
    } else this.setConnectorStatus('Available');
    return p;
  }

  /** Ends power delivery from the charger side: the SECC stops the session, the contactors open. */
  private haltPower(): void {
    try {
      this.o.requestSeccStop?.();
    } catch (e) {
      this.logLine('secc', `stop request failed: ${errText(e)}`);
    }
    this.bus.setContactors(false);
  }

  /**
   * Waits for a queued Start/StopTransaction to be answered while online, at most 2 s: the SECC calls
   * this inside PowerDelivery, whose answer the EV expects within seconds; a slower CSMS only delays
   * the queue, not the EV.
   */
  private async deliveredOrLater(p: Promise<void>): Promise<void> {
    if (this.online()) await settleWithin(p, Math.min(2_000, this.o.callTimeoutMs ?? 30_000));
  }

  // ------------------------------------------------------------------ SeccBackend

  async exchangeCertificate(req: CertificateExchangeRequest, signal: AbortSignal): Promise<CertificateExchangeResult> {
    const none = (reason: string): CertificateExchangeResult => {
      this.logLine('pnc', `Get15118EVCertificate action=${req.action}: nothing to forward (${reason})`);
      return { kind: 'none', reason };
    };
    if (!this.config.bool('ISO15118PnCEnabled')) return none('ISO15118PnCEnabled is false');
    if (!this.online()) return none('offline');
    let a: PncAnswer;
    try {
      a = await this.sendPnc('Get15118EVCertificate', { iso15118SchemaVersion: req.iso15118SchemaVersion, action: req.action, exiRequest: req.exiRequest }, { signal });
    } catch (e) {
      return none(errText(e));
    }
    if (a.status !== 'Accepted' || !a.data) return none(`DataTransfer answered ${a.status}${a.data ? '' : ' without data'}`);
    const status = a.data.status;
    let exiResponse = typeof a.data.exiResponse === 'string' ? a.data.exiResponse : '';
    if (status !== 'Accepted' && status !== 'Failed') return none(`inner status ${String(status)}`);
    if (this.faults.has('session-id-changed') && exiResponse !== '') {
      try {
        const msg = decodeV2GMessage(new Uint8Array(Buffer.from(exiResponse, 'base64')));
        const sid = Uint8Array.from(msg.Header.SessionID);
        sid[sid.length - 1] = ((sid[sid.length - 1] ?? 0) ^ 0xff) & 0xff;
        msg.Header.SessionID = sid;
        exiResponse = Buffer.from(encodeV2GMessage(msg)).toString('base64');
      } catch (e) {
        this.logLine('pnc', `exiResponse could not be re-encoded: ${errText(e)}`);
      }
    }
    this.logLine('pnc', `Get15118EVCertificate action=${req.action} → ${status} (${exiResponse.length} base64 characters forwarded)`);
    return { kind: 'answer', status, exiResponse };
  }

  authorizeContract(chain: ContractChain, signal: AbortSignal): Promise<PncAuthorizationResult> {
    return authorizeContract(this, this.localAuth, chain, signal, { available: this.availability === 'Operative' });
  }

  async startCharging(session: ChargingSessionInfo): Promise<void> {
    if (this.tx) {
      this.logLine('tx', `startCharging ignored: transaction local=${this.tx.localId} already running`);
      return;
    }
    const idTag = this.faults.has('idtag-not-emaid') ? `PNC-${session.idTag.slice(0, 10)}` : session.idTag.slice(0, 20);
    await this.deliveredOrLater(this.startTransaction(idTag, session.connectorId, 'pnc'));
  }

  async stopCharging(reason: 'EVDisconnected' | 'Local' | 'Remote' | 'Other'): Promise<void> {
    if (!this.tx) return;
    await this.deliveredOrLater(this.stopTransaction(reason));
  }

  // ------------------------------------------------------------------ CSMS-initiated CALLs

  private async handleCall(action: string, p: JsonObject): Promise<JsonObject> {
    if (this.bootStatus === 'Rejected') throw new OcppRpcError('SecurityError', 'BootNotification was rejected');
    if (!(HANDLED_CALLS as readonly string[]).includes(action)) {
      if ((CSMS_ACTIONS as readonly string[]).includes(action)) throw new OcppRpcError('NotSupported', `${action} is not supported by this charge point`);
      throw new OcppRpcError('NotImplemented', `unknown action ${action}`);
    }
    // the official 1.6 schema decides what is well-formed, and which CALLERROR a violation gets
    const bad = OcppSchemas.shared().validate16(action, 'req', p);
    if (bad) throw new OcppRpcError(bad.code, `${action}: ${bad.message}`);
    return this.dispatch(action as HandledCall, p);
  }

  /** `p`: the payload of `action`, valid per its 1.6 schema. */
  private async dispatch(action: HandledCall, p: JsonObject): Promise<JsonObject> {
    switch (action) {
      case 'GetConfiguration': {
        const { key: keys } = p as Req<'GetConfiguration'>;
        const max = this.config.int('GetConfigurationMaxKeys');
        if (keys && keys.length > max) throw new OcppRpcError('OccurenceConstraintViolation', `at most ${max} keys (GetConfigurationMaxKeys)`);
        const r = this.config.read(keys);
        return { configurationKey: r.configurationKey, ...(r.unknownKey.length ? { unknownKey: r.unknownKey } : {}) };
      }
      case 'ChangeConfiguration': {
        const { key, value } = p as Req<'ChangeConfiguration'>;
        const status = this.config.change(key, value);
        this.logLine('ocpp', `ChangeConfiguration ${key}=${q(value)} → ${status}`);
        return { status };
      }
      case 'ClearCache':
        if (!this.config.bool('AuthorizationCacheEnabled')) return { status: 'Rejected' };
        this.localAuth.clearCache();
        this.logLine('ocpp', 'ClearCache → Accepted');
        return { status: 'Accepted' };
      case 'GetLocalListVersion':
        return { listVersion: this.config.bool('LocalAuthListEnabled') ? this.localAuth.listVersion : -1 };
      case 'SendLocalList': {
        const req = p as Req<'SendLocalList'>;
        const r = this.localAuth.sendLocalList(req, { enabled: this.config.bool('LocalAuthListEnabled'), maxSend: this.config.int('SendLocalListMaxLength'), maxLength: this.config.int('LocalAuthListMaxLength') });
        this.logLine('ocpp', `SendLocalList ${req.updateType} version=${req.listVersion} → ${r.status} (${r.reason})`);
        return { status: r.status };
      }
      case 'Reset': {
        const { type } = p as Req<'Reset'>;
        this.logLine('sys', `Reset ${type} → Accepted`);
        setTimeout(() => void this.reset(type), 0);
        return { status: 'Accepted' };
      }
      case 'RemoteStartTransaction': {
        const { idTag, connectorId = 1 } = p as Req<'RemoteStartTransaction'>;
        if (connectorId !== 1 || this.tx || this.availability === 'Inoperative') {
          this.logLine('ocpp', `RemoteStartTransaction idTag=${idTag} connector=${connectorId} → Rejected`);
          return { status: 'Rejected' };
        }
        this.logLine('ocpp', `RemoteStartTransaction idTag=${idTag} → Accepted`);
        setTimeout(() => void this.startTransaction(idTag, connectorId, 'remote'), 0);
        return { status: 'Accepted' };
      }
      case 'RemoteStopTransaction': {
        const { transactionId: id } = p as Req<'RemoteStopTransaction'>;
        if (!this.tx || this.txIds.get(this.tx.localId) !== id) {
          this.logLine('ocpp', `RemoteStopTransaction transactionId=${id} → Rejected`);
          return { status: 'Rejected' };
        }
        this.logLine('ocpp', `RemoteStopTransaction transactionId=${id} → Accepted`);
        setTimeout(() => {
          this.haltPower();
          void this.stopTransaction('Remote');
        }, 0);
        return { status: 'Accepted' };
      }
      case 'ChangeAvailability': {
        const { connectorId, type } = p as Req<'ChangeAvailability'>;
        if (connectorId !== 0 && connectorId !== 1) return { status: 'Rejected' };
        if (type === 'Inoperative' && this.tx) {
          this.pendingInoperative = true;
          this.logLine('ocpp', `ChangeAvailability ${connectorId} Inoperative → Scheduled`);
          return { status: 'Scheduled' };
        }
        this.pendingInoperative = false;
        this.availability = type;
        this.logLine('ocpp', `ChangeAvailability ${connectorId} ${type} → Accepted`);
        setTimeout(() => {
          if (connectorId === 0) void this.sendStatus(0, type === 'Operative' ? 'Available' : 'Unavailable');
          this.setConnectorStatus(type === 'Operative' ? (this.tx ? 'Charging' : 'Available') : 'Unavailable');
        }, 0);
        return { status: 'Accepted' };
      }
      case 'UnlockConnector': {
        const { connectorId } = p as Req<'UnlockConnector'>;
        if (connectorId !== 1) return { status: 'NotSupported' };
        if (this.tx) {
          setTimeout(() => {
            this.haltPower();
            void this.stopTransaction('UnlockCommand');
          }, 0);
        }
        this.logLine('ocpp', 'UnlockConnector 1 → Unlocked');
        return { status: 'Unlocked' };
      }
      case 'TriggerMessage':
        return this.triggerMessage(p as Req<'TriggerMessage'>);
      case 'DataTransfer': {
        const req = p as Req<'DataTransfer'>;
        if (req.vendorId !== PNC_VENDOR_ID) {
          this.logLine('ocpp', `DataTransfer vendorId=${req.vendorId} → UnknownVendorId`);
          return { status: 'UnknownVendorId' };
        }
        return this.pncMessages.handle(req);
      }
    }
  }

  private triggerMessage({ requestedMessage: what, connectorId }: Req<'TriggerMessage'>): JsonObject {
    if (connectorId !== undefined && connectorId !== 0 && connectorId !== 1) {
      this.logLine('ocpp', `TriggerMessage ${what} connector=${connectorId} → Rejected`);
      return { status: 'Rejected' };
    }
    this.logLine('ocpp', `TriggerMessage ${what} → Accepted`);
    setTimeout(() => {
      switch (what) {
        case 'BootNotification':
          void this.boot();
          break;
        case 'Heartbeat':
          void this.heartbeat();
          break;
        case 'StatusNotification':
          if (connectorId === undefined || connectorId === 0) void this.sendStatus(0, this.availability === 'Operative' ? 'Available' : 'Unavailable');
          if (connectorId === undefined || connectorId === 1) void this.sendStatus(1, this.connectorStatus);
          break;
        case 'MeterValues': {
          const id = this.tx ? this.txIds.get(this.tx.localId) : undefined;
          const payload = { connectorId: 1, ...(id !== undefined ? { transactionId: id } : {}), meterValue: [{ timestamp: new Date().toISOString(), sampledValue: this.sampledValues('Trigger') }] };
          void this.sendCore('MeterValues', payload).catch((e: unknown) => this.logLine('ocpp', `MeterValues failed: ${errText(e)}`));
          break;
        }
        case 'DiagnosticsStatusNotification':
        case 'FirmwareStatusNotification':
          void this.sendCore(what, { status: 'Idle' }).catch((e: unknown) => this.logLine('ocpp', `${what} failed: ${errText(e)}`));
          break;
        default:
          break;
      }
    }, 0);
    return { status: 'Accepted' };
  }

  private async reset(type: 'Hard' | 'Soft'): Promise<void> {
    if (this.tx) {
      this.haltPower();
      await settleWithin(this.stopTransaction(type === 'Hard' ? 'HardReset' : 'SoftReset'), 2_000);
    }
    this.logLine('sys', `rebooting (${type} reset)`);
    this.clearTimers();
    this.signing.reset();
    this.bootStatus = 'None';
    this.rpc.reconnectNow(type === 'Hard' ? 500 : 100);
  }

  /** A few console lines of the state (the serial console's `status`). */
  statusLines(): string[] {
    const tx = this.tx;
    return [
      `ocpp: ${this.online() ? 'online' : this.rpc.connected ? 'connected' : 'offline'} boot=${this.bootStatus}`,
      `connector 1: ${this.connectorStatus} (${this.availability})`,
      `transaction: ${tx ? `local=${tx.localId} transactionId=${this.txIds.get(tx.localId) ?? 'pending'} idTag=${tx.idTag}` : 'none'}`,
      `queue: ${this.queue.length} message(s)`,
    ];
  }

  snapshot(): Record<string, unknown> {
    return {
      chargePointId: this.o.chargePointId,
      connected: this.rpc.connected,
      online: this.online(),
      bootStatus: this.bootStatus,
      boots: this.bootCount,
      connects: this.connects,
      connector: { status: this.connectorStatus, availability: this.availability },
      transaction: this.tx ? { local: this.tx.localId, transactionId: this.txIds.get(this.tx.localId) ?? null, idTag: this.tx.idTag, meterStartWh: this.tx.meterStartWh, startedAt: this.tx.startedAt.toISOString() } : null,
      queue: this.queue.map((i) => i.action),
      faults: [...this.faults],
      config: this.config.snapshot(),
      certificates: this.certs.snapshot(),
      signing: this.signing.snapshot(),
      ocsp: this.ocsp.snapshot(),
      localAuth: this.localAuth.snapshot(),
    };
  }
}
