// The virtual EV's EVCC: one ISO 15118-2 DC session over V2GTP/TCP against an SECC, the way a car
// with an OEM provisioning certificate does Plug & Charge. SupportedAppProtocol, SessionSetup,
// ServiceDiscovery, PaymentServiceSelection, CertificateInstallation (or Update) when needed,
// PaymentDetails, Authorization (signed GenChallenge, repeated while Ongoing),
// ChargeParameterDiscovery, CableCheck, PreCharge, then — once the car has switched CP to C —
// PowerDelivery Start, the CurrentDemand loop, PowerDelivery Stop, WeldingDetection, SessionStop.
// Every response is awaited with the ISO 15118-2 EVCC timeouts (Tables 109/111; options so tests
// can shorten them). The CertificateInstallationRes is checked like a car does: SessionID, CPS
// chain up to one of the car's V2G roots (src/pki validateCertificateChain: path, signatures,
// validity of every certificate and the root, CPS profile), the signature over the four signed
// elements, the decrypted contract key matching the contract certificate. VirtualEv (index.ts)
// owns the session and publishes what it reports through the hooks.
//
//   const s = new EvccSession({ secc: { host, port }, payment: 'Contract', timing, credentials, battery, bus, hooks });
//   const outcome = await s.run();     // never throws: { result: 'charged' | 'installed' | 'failed' | …, reason }
//   s.requestStop();                    // EV-initiated stop (iso_stop_charging)
//   s.abort('unplugged');               // the cable is pulled: the TCP connection is cut
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import {
  APP_PROTOCOL_NAMESPACE,
  bodyElementName,
  decodeAppHandshake,
  decodeV2GMessage,
  decryptContractPrivateKey,
  ecdsaSignP256,
  eMAIDFromCertificate,
  encodeAppHandshake,
  encodeV2GMessage,
  ISO2_NAMESPACE,
  publicKeyFromCertificate,
  publicKeyFromPrivate,
  signV2GMessage,
  toHex,
  verifyV2GSignature,
  type BodyType,
  type DC_EVStatusType,
  type V2GMessage,
} from '../../../src/exi/index.ts';
import { bytesEqual, emaidEquals, issuerSerialOf, parseCertificateDer, validateCertificateChain, type PkiCert } from '../../../src/pki/index.ts';
import type { PowerBus } from '../physics.ts';
import { encodeV2gtp, physicalNumber, physicalValue, V2gtpDecoder } from '../v2gtp.ts';

export interface EvccTiming {
  /** V2G_EVCC_CommunicationSetup_Timeout: TCP connect → SessionSetupRes (ISO 20 s) */
  communicationSetupTimeoutMs: number;
  /** V2G_EVCC_Msg_Timeout of most messages (ISO 2 s) */
  msgTimeoutMs: number;
  /** V2G_EVCC_Msg_Timeout of ServiceDetail, PaymentDetails, CertificateInstallation/Update, PowerDelivery (ISO 5 s) */
  longMsgTimeoutMs: number;
  /** V2G_EVCC_Msg_Timeout of CurrentDemand (ISO 250 ms) */
  currentDemandTimeoutMs: number;
  /** V2G_EVCC_Ongoing_Timeout: Authorization / ChargeParameterDiscovery Ongoing loops (ISO 60 s) */
  ongoingTimeoutMs: number;
  /** V2G_EVCC_CableCheck_Timeout (ISO 40 s) */
  cableCheckTimeoutMs: number;
  /** V2G_EVCC_PreCharge_Timeout (ISO 7 s) */
  preChargeTimeoutMs: number;
  /** V2G_EVCC_Sequence_Performance_Time: how long the EVCC waits for the car to switch CP to C before PowerDelivery (ISO 40 s) */
  powerReadyTimeoutMs: number;
  /** pause between repeated requests (EVSEProcessing=Ongoing, PreCharge, WeldingDetection) */
  loopIntervalMs: number;
  /** CurrentDemandReq period (100–250 ms in practice) */
  currentDemandIntervalMs: number;
}

export const DEFAULT_EVCC_TIMING: Readonly<EvccTiming> = {
  communicationSetupTimeoutMs: 20_000,
  msgTimeoutMs: 2_000,
  longMsgTimeoutMs: 5_000,
  currentDemandTimeoutMs: 250,
  ongoingTimeoutMs: 60_000,
  cableCheckTimeoutMs: 40_000,
  preChargeTimeoutMs: 7_000,
  powerReadyTimeoutMs: 40_000,
  loopIntervalMs: 200,
  currentDemandIntervalMs: 200,
};

/** A contract the car holds (installed through CertificateInstallation). */
export interface EvContract {
  emaid: string;
  /** contract certificate first, then its sub-CAs (DER) */
  chainDer: Buffer[];
  /** P-256 private scalar, 32 bytes */
  privateKey: Uint8Array;
}

export interface EvCredentials {
  oemProvisioning: { chainDer: Buffer[]; privateKey: Uint8Array };
  v2gRootsDer: Buffer[];
}

/** The car's battery (mutated by the session as energy flows). */
export interface Battery {
  capacityWh: number;
  socPercent: number;
  targetVoltageV: number;
  maxCurrentA: number;
}

export type V2gDirection = 'EV->SECC' | 'SECC->EV';

export interface EvccHooks {
  log(line: string): void;
  /** an ISO 15118 EV variable: ContractInstalled, ContractInstallFailed, Authorized, AuthorizationFailed, DC_PowerOn, AC_StopFromCharger */
  emit(name: string, data?: unknown): void;
  /** every V2G message sent or received */
  message(dir: V2gDirection, message: string, responseCode?: string): void;
  /** PreCharge is done: the car may switch CP to C; resolves once it has (iso_wait_pwr_ready), false on timeout */
  powerReady(timeoutMs: number, signal: AbortSignal): Promise<boolean>;
  contract(): EvContract | undefined;
  setContract(c: EvContract): void;
}

export interface EvccSessionOptions {
  secc: { host: string; port: number };
  payment: 'Contract' | 'ExternalPayment';
  /** certinstall: install a new contract and end; certupdate: update the contract and end */
  certAction?: 'certinstall' | 'certupdate';
  timing: EvccTiming;
  credentials: EvCredentials;
  battery: Battery;
  bus: PowerBus;
  /** EVCCID (6 bytes, the car's MAC) */
  evccId: Uint8Array;
  hooks: EvccHooks;
}

/** charged: power flowed and the session ended normally; stopped: the EV stopped before charging */
export type SessionResult = 'charged' | 'installed' | 'stopped' | 'failed' | 'aborted';

export interface SessionOutcome {
  result: SessionResult;
  reason: string;
  /** energy the car measured flowing into it during this session, Wh */
  energyWh: number;
  /** the charger ended the charge loop (EVSENotification StopCharging / EVSE_Shutdown) */
  stoppedByCharger: boolean;
}

class Timeout extends Error {
  override readonly name = 'Timeout';
}
class LinkClosed extends Error {
  override readonly name = 'LinkClosed';
}
/** The session cannot go on; `reason` is what VirtualEv publishes (e.g. `session-id`). */
class SessionEnd extends Error {
  override readonly name = 'SessionEnd';
  constructor(
    readonly reason: string,
    message: string,
    /** a FAILED response came: the EV still says SessionStopReq */
    readonly sayStop = false,
  ) {
    super(message);
  }
}

/** iso_stop_charging before the charge loop: the EV ends the session with SessionStop. */
class StopRequested extends Error {
  override readonly name = 'StopRequested';
}

/** One TCP connection carrying V2GTP: send a payload, await the next one. */
class V2gLink {
  private readonly sock: net.Socket;
  private readonly decoder = new V2gtpDecoder();
  private readonly inbox: Uint8Array[] = [];
  private waiter: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  private error: Error | undefined;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on('data', (chunk) => {
      try {
        for (const m of this.decoder.push(chunk)) this.deliver(m.payload);
      } catch (e) {
        this.fail(e as Error);
        sock.destroy();
      }
    });
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new LinkClosed('the SECC closed the connection')));
  }

  static connect(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<V2gLink> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port });
      const t = setTimeout(() => {
        sock.destroy();
        reject(new Timeout(`TCP connect to ${host}:${port} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      const onAbort = (): void => {
        clearTimeout(t);
        sock.destroy();
        reject(new LinkClosed('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      sock.once('connect', () => {
        clearTimeout(t);
        signal.removeEventListener('abort', onAbort);
        resolve(new V2gLink(sock));
      });
      sock.once('error', (e) => {
        clearTimeout(t);
        signal.removeEventListener('abort', onAbort);
        reject(new LinkClosed(`cannot connect to the SECC at ${host}:${port}: ${e.message}`));
      });
    });
  }

  private deliver(b: Uint8Array): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(b);
    } else this.inbox.push(b);
  }

  private fail(e: Error): void {
    if (this.error) return;
    this.error = e;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(e);
  }

  send(payload: Uint8Array): void {
    if (this.error) throw this.error;
    this.sock.write(encodeV2gtp(payload));
  }

  /** The next message; Timeout after `timeoutMs`, LinkClosed when the connection ends. */
  next(timeoutMs: number): Promise<Uint8Array> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Timeout(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        resolve: (b) => {
          clearTimeout(t);
          resolve(b);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** What VirtualEv publishes for an error that ended a step (ContractInstallFailed, AuthorizationFailed, the session result). */
function reasonOf(e: unknown): string {
  return e instanceof SessionEnd ? e.reason : e instanceof Timeout ? 'timeout' : e instanceof LinkClosed ? 'connection-closed' : 'error';
}

export class EvccSession {
  private readonly o: EvccSessionOptions;
  private readonly abortCtl = new AbortController();
  private readonly stopCtl = new AbortController();
  private link: V2gLink | undefined;
  private sessionId: Uint8Array = new Uint8Array(8);
  private stopRequested = false;
  private pauseRequested = false;
  private energyWh = 0;
  private powerOnSent = false;
  private stoppedByCharger = false;
  private lastSampleT = 0;
  private emaid = '';
  private abortReason = '';

  constructor(o: EvccSessionOptions) {
    this.o = o;
  }

  get aborted(): boolean {
    return this.abortCtl.signal.aborted;
  }

  /** EV-initiated stop: the charge loop ends with PowerDelivery Stop, WeldingDetection, SessionStop. */
  requestStop(pause = false): void {
    this.stopRequested = true;
    this.pauseRequested = pause;
    this.stopCtl.abort();
  }

  /** Before power flows a stop request ends the session at the next step. */
  private checkStop(): void {
    if (this.stopRequested) throw new StopRequested(`stop requested by the EV before charging`);
  }

  /** The cable is pulled / the car gives up: the connection is cut without SessionStop. */
  abort(reason: string): void {
    if (this.aborted) return;
    this.abortReason = reason;
    this.abortCtl.abort();
    this.link?.close();
  }

  private log(line: string): void {
    this.o.hooks.log(`[EVCC] ${line}`);
  }

  async run(): Promise<SessionOutcome> {
    const done = (result: SessionResult, reason: string): SessionOutcome => ({ result, reason, energyWh: this.energyWh, stoppedByCharger: this.stoppedByCharger });
    try {
      const r = await this.sequence();
      return done(r.result, r.reason);
    } catch (e) {
      if (this.aborted) return done('aborted', this.abortReason || 'aborted');
      if (e instanceof StopRequested) {
        this.log(e.message);
        try {
          await this.sessionStop(this.pauseRequested ? 'Pause' : 'Terminate');
          return done('stopped', e.message);
        } catch (x) {
          this.log(`SessionStop failed: ${(x as Error).message}`);
          return done('failed', reasonOf(x));
        }
      }
      const reason = reasonOf(e);
      this.log(`session ended: ${(e as Error).message}`);
      if (e instanceof SessionEnd && e.sayStop) await this.sessionStop('Terminate').catch(() => undefined);
      return done('failed', reason);
    } finally {
      this.releaseDemand();
      this.link?.close();
    }
  }

  /** The car opens its own contactors: it no longer draws current. */
  private releaseDemand(): void {
    const bus = this.o.bus;
    if (bus.evDemand.currentA > 0) bus.setEvDemand({ voltageV: bus.evDemand.voltageV, currentA: 0 });
  }

  // ----------------------------------------------------------------- messaging

  private async exchange(body: BodyType, expect: string, timeoutMs: number, sign?: { ids: string[]; key: Uint8Array }): Promise<{ msg: V2GMessage; raw: Uint8Array; code: string }> {
    if (this.aborted) throw new LinkClosed('aborted');
    const reqName = Object.keys(body)[0]!;
    let msg: V2GMessage = { Header: { SessionID: this.sessionId }, Body: body };
    if (sign) msg = await signV2GMessage(msg, sign.ids, (d) => ecdsaSignP256(sign.key, d));
    const exi = encodeV2GMessage(msg);
    this.o.hooks.message('EV->SECC', reqName);
    this.link!.send(exi);
    let raw: Uint8Array;
    try {
      raw = await this.link!.next(timeoutMs);
    } catch (e) {
      if (e instanceof Timeout) throw new Timeout(`no ${expect} within ${timeoutMs} ms (V2G_EVCC_Msg_Timeout)`);
      throw e;
    }
    let res: V2GMessage;
    try {
      res = decodeV2GMessage(raw);
    } catch (e) {
      throw new SessionEnd('decode', `${expect} does not decode: ${(e as Error).message}`);
    }
    const name = bodyElementName(res) ?? 'empty Body';
    const code = ((res.Body as Record<string, { ResponseCode?: string } | undefined>)[name]?.ResponseCode ?? '') as string;
    this.o.hooks.message('SECC->EV', name, code || undefined);
    if (name !== expect) throw new SessionEnd('sequence', `expected ${expect}, got ${name}`);
    return { msg: res, raw, code };
  }

  /** exchange + SessionID check + ResponseCode OK*; a FAILED code ends the session with SessionStop. */
  private async request(body: BodyType, expect: string, timeoutMs: number, sign?: { ids: string[]; key: Uint8Array }): Promise<V2GMessage> {
    const r = await this.exchange(body, expect, timeoutMs, sign);
    if (!bytesEqual(r.msg.Header.SessionID, this.sessionId)) throw new SessionEnd('session-id', `${expect} has SessionID ${toHex(r.msg.Header.SessionID)}, the session is ${toHex(this.sessionId)}`);
    if (!r.code.startsWith('OK')) throw new SessionEnd(`response-code:${r.code}`, `${expect} ${r.code}`, true);
    return r.msg;
  }

  private evStatus(): DC_EVStatusType {
    return { EVReady: true, EVErrorCode: 'NO_ERROR', EVRESSSOC: Math.max(0, Math.min(100, Math.round(this.o.battery.socPercent))) };
  }

  // ----------------------------------------------------------------- the sequence

  private async sequence(): Promise<{ result: SessionResult; reason: string }> {
    const o = this.o;
    const t = o.timing;
    const setupDeadline = Date.now() + t.communicationSetupTimeoutMs;
    this.link = await V2gLink.connect(o.secc.host, o.secc.port, t.communicationSetupTimeoutMs, this.abortCtl.signal);
    this.log(`connected to the SECC at ${o.secc.host}:${o.secc.port}`);

    // SupportedAppProtocol
    this.o.hooks.message('EV->SECC', 'supportedAppProtocolReq');
    this.link.send(encodeAppHandshake({ supportedAppProtocolReq: { AppProtocol: [{ ProtocolNamespace: ISO2_NAMESPACE, VersionNumberMajor: 2, VersionNumberMinor: 0, SchemaID: 1, Priority: 1 }] } }));
    const hsRaw = await this.link.next(Math.max(1, Math.min(t.msgTimeoutMs, setupDeadline - Date.now()))).catch((e: unknown) => {
      throw e instanceof Timeout ? new Timeout(`no supportedAppProtocolRes within ${t.msgTimeoutMs} ms`) : e;
    });
    let hs;
    try {
      hs = decodeAppHandshake(hsRaw);
    } catch (e) {
      throw new SessionEnd('decode', `supportedAppProtocolRes does not decode: ${(e as Error).message}`);
    }
    const hsRes = hs.supportedAppProtocolRes;
    this.o.hooks.message('SECC->EV', 'supportedAppProtocolRes', hsRes?.ResponseCode);
    if (!hsRes || !hsRes.ResponseCode.startsWith('OK') || hsRes.SchemaID !== 1) throw new SessionEnd('handshake', `no ISO 15118-2 (${APP_PROTOCOL_NAMESPACE}): ${hsRes?.ResponseCode ?? 'not a response'}`);

    // SessionSetup
    const setup = await this.exchange({ SessionSetupReq: { EVCCID: o.evccId } }, 'SessionSetupRes', Math.max(1, Math.min(t.msgTimeoutMs, setupDeadline - Date.now())));
    if (!setup.code.startsWith('OK')) throw new SessionEnd(`response-code:${setup.code}`, `SessionSetupRes ${setup.code}`);
    this.sessionId = setup.msg.Header.SessionID;
    this.log(`session ${toHex(this.sessionId)} with EVSE ${setup.msg.Body.SessionSetupRes!.EVSEID}`);

    // ServiceDiscovery
    const sd = (await this.request({ ServiceDiscoveryReq: {} }, 'ServiceDiscoveryRes', t.msgTimeoutMs)).Body.ServiceDiscoveryRes!;
    if (!sd.PaymentOptionList.PaymentOption.includes(o.payment)) throw new SessionEnd('payment-option', `the EVSE does not offer ${o.payment} (offers ${sd.PaymentOptionList.PaymentOption.join(', ')})`, true);
    const modes = sd.ChargeService.SupportedEnergyTransferMode.EnergyTransferMode;
    const mode = modes.includes('DC_extended') ? 'DC_extended' : modes.includes('DC_core') ? 'DC_core' : undefined;
    if (!mode) throw new SessionEnd('energy-transfer-mode', `the EVSE offers no DC mode (${modes.join(', ')})`, true);

    // PaymentServiceSelection
    await this.request(
      { PaymentServiceSelectionReq: { SelectedPaymentOption: o.payment, SelectedServiceList: { SelectedService: [{ ServiceID: sd.ChargeService.ServiceID }] } } },
      'PaymentServiceSelectionRes',
      t.msgTimeoutMs,
    );

    if (o.payment === 'Contract') {
      const have = o.hooks.contract();
      if (o.certAction === 'certupdate' && have) {
        await this.certificateExchange('update', have);
        await this.sessionStop('Terminate');
        return { result: 'installed', reason: 'contract updated' };
      }
      if (o.certAction || !have) {
        await this.certificateExchange('install');
        if (o.certAction) {
          await this.sessionStop('Terminate');
          return { result: 'installed', reason: 'contract installed' };
        }
      }
      this.checkStop();
      const contract = o.hooks.contract()!;
      this.emaid = contract.emaid;
      const [leaf, ...subs] = contract.chainDer;
      const pd = (
        await this.request(
          { PaymentDetailsReq: { eMAID: contract.emaid, ContractSignatureCertChain: { Certificate: leaf!, ...(subs.length ? { SubCertificates: { Certificate: subs } } : {}) } } },
          'PaymentDetailsRes',
          t.longMsgTimeoutMs,
        )
      ).Body.PaymentDetailsRes!;
      this.checkStop();
      await this.authorize({ GenChallenge: pd.GenChallenge, key: contract.privateKey });
    } else {
      await this.authorize(undefined);
    }
    this.checkStop();

    // ChargeParameterDiscovery (repeated while Ongoing)
    const b = o.battery;
    const maxVoltageV = Math.round(b.targetVoltageV * 1.1);
    let tupleId = 0;
    const cpdDeadline = Date.now() + t.ongoingTimeoutMs;
    for (;;) {
      const res = (
        await this.request(
          {
            ChargeParameterDiscoveryReq: {
              RequestedEnergyTransferMode: mode,
              DC_EVChargeParameter: {
                DC_EVStatus: this.evStatus(),
                EVMaximumCurrentLimit: physicalValue(b.maxCurrentA, 'A'),
                EVMaximumPowerLimit: physicalValue(b.maxCurrentA * maxVoltageV, 'W'),
                EVMaximumVoltageLimit: physicalValue(maxVoltageV, 'V'),
                EVEnergyCapacity: physicalValue(b.capacityWh, 'Wh'),
                EVEnergyRequest: physicalValue(Math.max(0, ((100 - b.socPercent) / 100) * b.capacityWh), 'Wh'),
                FullSOC: 100,
                BulkSOC: 80,
              },
            },
          },
          'ChargeParameterDiscoveryRes',
          t.msgTimeoutMs,
        )
      ).Body.ChargeParameterDiscoveryRes!;
      if (res.EVSEProcessing === 'Finished') {
        tupleId = res.SAScheduleList?.SAScheduleTuple[0]?.SAScheduleTupleID ?? 0;
        if (!tupleId) throw new SessionEnd('no-schedule', 'ChargeParameterDiscoveryRes has no SAScheduleTuple', true);
        break;
      }
      if (Date.now() > cpdDeadline) throw new SessionEnd('timeout', `ChargeParameterDiscovery still Ongoing after ${t.ongoingTimeoutMs} ms`, true);
      await sleep(t.loopIntervalMs, this.abortCtl.signal);
      this.checkStop();
    }
    this.checkStop();

    // CableCheck (repeated while Ongoing)
    const ccDeadline = Date.now() + t.cableCheckTimeoutMs;
    for (;;) {
      const res = (await this.request({ CableCheckReq: { DC_EVStatus: this.evStatus() } }, 'CableCheckRes', t.msgTimeoutMs)).Body.CableCheckRes!;
      if (res.EVSEProcessing === 'Finished') break;
      if (Date.now() > ccDeadline) throw new SessionEnd('timeout', `CableCheck still Ongoing after ${t.cableCheckTimeoutMs} ms`, true);
      await sleep(t.loopIntervalMs, this.abortCtl.signal);
      this.checkStop();
    }
    this.checkStop();

    // PreCharge until the EVSE output is within 10 V of the battery voltage
    const pcDeadline = Date.now() + t.preChargeTimeoutMs;
    for (;;) {
      const res = (
        await this.request(
          { PreChargeReq: { DC_EVStatus: this.evStatus(), EVTargetVoltage: physicalValue(b.targetVoltageV, 'V'), EVTargetCurrent: physicalValue(2, 'A') } },
          'PreChargeRes',
          t.msgTimeoutMs,
        )
      ).Body.PreChargeRes!;
      if (Math.abs(physicalNumber(res.EVSEPresentVoltage) - b.targetVoltageV) <= 10) break;
      if (Date.now() > pcDeadline) throw new SessionEnd('timeout', `PreCharge did not reach ${b.targetVoltageV} V within ${t.preChargeTimeoutMs} ms`, true);
      await sleep(t.loopIntervalMs, this.abortCtl.signal);
      this.checkStop();
    }
    this.checkStop();

    // the car switches CP to C (iso_wait_pwr_ready), then asks for power
    this.log('pre-charge done; ready for power');
    const ready = await o.hooks.powerReady(t.powerReadyTimeoutMs, AbortSignal.any([this.abortCtl.signal, this.stopCtl.signal]));
    if (this.aborted) throw new LinkClosed('aborted');
    this.checkStop();
    if (!ready) throw new SessionEnd('power-ready', `CP state C not reached within ${t.powerReadyTimeoutMs} ms`, true);
    await this.request(
      { PowerDeliveryReq: { ChargeProgress: 'Start', SAScheduleTupleID: tupleId, DC_EVPowerDeliveryParameter: { DC_EVStatus: this.evStatus(), ChargingComplete: false } } },
      'PowerDeliveryRes',
      t.longMsgTimeoutMs,
    );

    // CurrentDemand loop
    this.lastSampleT = Date.now();
    let reason = 'stopped by the EV';
    for (;;) {
      const complete = b.socPercent >= 100;
      const res = (
        await this.request(
          {
            CurrentDemandReq: {
              DC_EVStatus: this.evStatus(),
              EVTargetCurrent: physicalValue(complete ? 0 : b.maxCurrentA, 'A'),
              EVMaximumVoltageLimit: physicalValue(maxVoltageV, 'V'),
              EVMaximumCurrentLimit: physicalValue(b.maxCurrentA, 'A'),
              EVMaximumPowerLimit: physicalValue(b.maxCurrentA * maxVoltageV, 'W'),
              BulkChargingComplete: b.socPercent >= 80,
              ChargingComplete: complete,
              EVTargetVoltage: physicalValue(b.targetVoltageV, 'V'),
            },
          },
          'CurrentDemandRes',
          t.currentDemandTimeoutMs,
        )
      ).Body.CurrentDemandRes!;
      this.measure();
      const st = res.DC_EVSEStatus;
      if (st.EVSENotification === 'StopCharging' || st.EVSEStatusCode === 'EVSE_Shutdown' || st.EVSEStatusCode === 'EVSE_EmergencyShutdown') {
        this.stoppedByCharger = true;
        reason = `stopped by the charger (${st.EVSENotification}, ${st.EVSEStatusCode})`;
        this.o.hooks.emit('AC_StopFromCharger');
        break;
      }
      if (complete) {
        reason = 'battery full';
        break;
      }
      if (this.stopRequested || this.aborted) break;
      await sleep(t.currentDemandIntervalMs, this.abortCtl.signal);
      this.measure();
      if (this.stopRequested) break;
    }
    this.log(`charge loop ended: ${reason}; ${this.energyWh.toFixed(2)} Wh, SoC ${b.socPercent.toFixed(2)} %`);
    this.releaseDemand();
    await this.request(
      { PowerDeliveryReq: { ChargeProgress: 'Stop', SAScheduleTupleID: tupleId, DC_EVPowerDeliveryParameter: { DC_EVStatus: { ...this.evStatus(), EVReady: false }, ChargingComplete: b.socPercent >= 100 } } },
      'PowerDeliveryRes',
      t.longMsgTimeoutMs,
    );
    for (let i = 0; i < 10; i++) {
      const res = (await this.request({ WeldingDetectionReq: { DC_EVStatus: { ...this.evStatus(), EVReady: false } } }, 'WeldingDetectionRes', t.msgTimeoutMs)).Body.WeldingDetectionRes!;
      if (physicalNumber(res.EVSEPresentVoltage) < 60) break;
      await sleep(t.loopIntervalMs, this.abortCtl.signal);
    }
    await this.sessionStop(this.pauseRequested ? 'Pause' : 'Terminate');
    return { result: 'charged', reason };
  }

  /** What the car's own current sensor sees on the DC bus, integrated into its battery. */
  private measure(): void {
    const now = Date.now();
    const s = this.o.bus.sample();
    const dtMs = now - this.lastSampleT;
    this.lastSampleT = now;
    if (s.currentA > 0 && !this.powerOnSent) {
      this.powerOnSent = true;
      this.log(`DC power on: ${s.voltageV} V ${s.currentA} A`);
      this.o.hooks.emit('DC_PowerOn');
    }
    if (dtMs > 0 && s.powerW > 0) {
      const wh = (s.powerW * dtMs) / 3_600_000;
      this.energyWh += wh;
      const b = this.o.battery;
      b.socPercent = Math.min(100, b.socPercent + (wh / b.capacityWh) * 100);
    }
  }

  private async sessionStop(kind: 'Terminate' | 'Pause'): Promise<void> {
    if (!this.link || this.aborted) return;
    await this.request({ SessionStopReq: { ChargingSession: kind } }, 'SessionStopRes', this.o.timing.msgTimeoutMs);
    this.log(`session ${toHex(this.sessionId)} stopped (${kind})`);
  }

  private async authorize(pnc: { GenChallenge: Uint8Array; key: Uint8Array } | undefined): Promise<void> {
    const t = this.o.timing;
    const deadline = Date.now() + t.ongoingTimeoutMs;
    for (;;) {
      let res;
      try {
        res = pnc
          ? await this.request({ AuthorizationReq: { Id: 'ID1', GenChallenge: pnc.GenChallenge } }, 'AuthorizationRes', t.msgTimeoutMs, { ids: ['ID1'], key: pnc.key })
          : await this.request({ AuthorizationReq: {} }, 'AuthorizationRes', t.msgTimeoutMs);
      } catch (e) {
        if (!this.aborted) this.o.hooks.emit('AuthorizationFailed', reasonOf(e));
        throw e;
      }
      if (res.Body.AuthorizationRes!.EVSEProcessing === 'Finished') {
        this.log(`authorized${this.emaid ? ` (eMAID ${this.emaid})` : ''}`);
        this.o.hooks.emit('Authorized', this.emaid || null);
        return;
      }
      if (Date.now() > deadline) {
        this.o.hooks.emit('AuthorizationFailed', 'timeout');
        throw new SessionEnd('timeout', `Authorization still Ongoing after ${t.ongoingTimeoutMs} ms (V2G_EVCC_Ongoing_Timeout)`, true);
      }
      await sleep(t.loopIntervalMs, AbortSignal.any([this.abortCtl.signal, this.stopCtl.signal]));
      this.checkStop();
    }
  }

  /** CertificateInstallation (OEM provisioning key) or CertificateUpdate (current contract key). */
  private async certificateExchange(kind: 'install' | 'update', current?: EvContract): Promise<void> {
    const o = this.o;
    const report = (reason: string, why: string): void => {
      this.log(`contract ${kind === 'install' ? 'installation' : 'update'} failed (${reason}): ${why}`);
      o.hooks.emit('ContractInstallFailed', reason);
    };
    const fail = (reason: string, why: string): SessionEnd => {
      report(reason, why);
      return new SessionEnd(reason, why, true);
    };
    // the car's V2G roots, parsed once: named in ListOfRootCertificateIDs, then the CPS chain must end at one
    const v2gRoots = o.credentials.v2gRootsDer.map((d, i) => parseCertificateDer(d, `v2gRootsDer[${i}]`));
    const roots = { RootCertificateID: v2gRoots.map(issuerSerialOf).map((id) => ({ X509IssuerName: id.issuerName, X509SerialNumber: id.serialNumber })) };
    const oem = o.credentials.oemProvisioning;
    let body: BodyType;
    let key: Uint8Array;
    let expect: string;
    if (kind === 'update' && current) {
      const [leaf, ...subs] = current.chainDer;
      body = { CertificateUpdateReq: { Id: 'ID1', ContractSignatureCertChain: { Certificate: leaf!, ...(subs.length ? { SubCertificates: { Certificate: subs } } : {}) }, eMAID: current.emaid, ListOfRootCertificateIDs: roots } };
      key = current.privateKey;
      expect = 'CertificateUpdateRes';
    } else {
      body = { CertificateInstallationReq: { Id: 'ID1', OEMProvisioningCert: oem.chainDer[0]!, ListOfRootCertificateIDs: roots } };
      key = oem.privateKey;
      expect = 'CertificateInstallationRes';
    }
    this.log(`${Object.keys(body)[0]} with ${roots.RootCertificateID.length} V2G root id(s): ${roots.RootCertificateID.map((r) => r.X509IssuerName).join(' | ')}`);
    let msg: V2GMessage;
    try {
      msg = await this.request(body, expect, o.timing.longMsgTimeoutMs, { ids: ['ID1'], key });
    } catch (e) {
      if (!this.aborted) report(reasonOf(e), (e as Error).message);
      throw e;
    }
    const res = msg.Body.CertificateInstallationRes ?? msg.Body.CertificateUpdateRes!;
    let cpsChain: PkiCert[];
    try {
      const der = [res.SAProvisioningCertificateChain.Certificate, ...(res.SAProvisioningCertificateChain.SubCertificates?.Certificate ?? [])];
      cpsChain = der.map((d, i) => parseCertificateDer(d, `SAProvisioningCertificateChain certificate ${i}`));
    } catch (e) {
      throw fail('signature', (e as Error).message);
    }
    const failed = validateCertificateChain({ chain: cpsChain, trustAnchors: v2gRoots, domain: 'CPS' }).checks.filter((c) => !c.ok);
    if (failed.length) throw fail('signature', `SAProvisioningCertificateChain: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}`);
    const ids = [res.ContractSignatureCertChain.Id, res.ContractSignatureEncryptedPrivateKey.Id, res.DHpublickey.Id, res.eMAID.Id].filter((x): x is string => typeof x === 'string');
    if (ids.length !== 4) throw fail('signature', 'a signed element of the response has no Id');
    const check = verifyV2GSignature(msg, cpsChain[0]!.p256PublicKey('CPS leaf'), ids);
    if (!check.valid) throw fail('signature', `signature with the CPS leaf: ${check.problems.join('; ')}`);
    const contractChain = [res.ContractSignatureCertChain.Certificate, ...(res.ContractSignatureCertChain.SubCertificates?.Certificate ?? [])];
    let privateKey: Uint8Array;
    try {
      privateKey = decryptContractPrivateKey({ encryptedPrivateKey: res.ContractSignatureEncryptedPrivateKey.CONTENT, dhPublicKey: res.DHpublickey.CONTENT, recipientPrivateKey: key });
      if (!bytesEqual(publicKeyFromPrivate(privateKey), publicKeyFromCertificate(contractChain[0]!))) throw new Error('the decrypted key does not belong to the contract certificate');
    } catch (e) {
      throw fail('decrypt', (e as Error).message);
    }
    const emaid = res.eMAID.CONTENT;
    let cn = '';
    try {
      cn = eMAIDFromCertificate(contractChain[0]!);
    } catch {
      // the check below reports it
    }
    if (!emaidEquals(emaid, cn)) this.log(`warning: eMAID ${emaid} is not the contract certificate's CN (${cn || 'none'})`);
    o.hooks.setContract({ emaid, chainDer: contractChain.map((c) => Buffer.from(c)), privateKey });
    this.log(`contract installed: eMAID ${emaid}, ${contractChain.length} certificate(s)`);
    o.hooks.emit('ContractInstalled', emaid);
  }
}

/** A random locally administered unicast MAC for EVCCID. */
export function randomEvccId(): Uint8Array {
  const b = new Uint8Array(randomBytes(6));
  b[0] = (b[0]! & 0xfe) | 0x02;
  return b;
}
