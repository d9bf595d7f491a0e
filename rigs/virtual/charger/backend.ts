// The seam inside the simulated charger between its SECC (ISO 15118-2 towards the EV, secc.ts)
// and its charge-point controller (OCPP 1.6J + PnC towards the CSMS, chargepoint.ts). In a real
// charger this is the EVSE manager's internal API; here the SECC calls it and the controller
// implements it. Both halves stay testable alone: a test gives the SECC a fake backend, or the
// controller a fake SECC.
import type { AuthorizationStatus201 } from '../../../src/csms/messages.ts';

/** A PEM chain as the EV sent it in PaymentDetailsReq: contract leaf first, then its sub-CAs. */
export interface ContractChain {
  emaid: string;
  /** DER certificates, leaf first */
  certificatesDer: Buffer[];
}

export interface PncAuthorizationResult {
  /** OCPP 2.0.1 AuthorizationStatusEnumType, what a PnC Authorize decides */
  status: AuthorizationStatus201;
  /** from the CSMS's AuthorizeResponse or the local decision (Accepted, CertificateExpired, …) */
  certificateStatus?: string;
  /** how it was decided, for the console log: `csms`, `local-list`, `cache`, `offline-rule`, `pnc-disabled`, … */
  decidedBy: string;
}

export interface CertificateExchangeRequest {
  action: 'Install' | 'Update';
  /** `urn:iso:15118:2:2013:MsgDef` */
  iso15118SchemaVersion: string;
  /** the EV's CertificateInstallationReq/CertificateUpdateReq V2G message as EXI, base64 */
  exiRequest: string;
}

export type CertificateExchangeResult =
  | { kind: 'answer'; status: 'Accepted' | 'Failed'; exiResponse: string }
  /** the CSMS did not answer in time, answered outer Rejected or without data: nothing to forward */
  | { kind: 'none'; reason: string };

export interface ChargingSessionInfo {
  /** the eMAID that was authorized */
  idTag: string;
  connectorId: number;
}

/** What the SECC asks of the charge-point controller. Every call may be slow (OCPP round trip). */
export interface SeccBackend {
  /** Get15118EVCertificate through the CSMS (M01/M02); resolves with what to forward to the EV. */
  exchangeCertificate(req: CertificateExchangeRequest, signal: AbortSignal): Promise<CertificateExchangeResult>;
  /** PnC authorization of a contract (C07), online or offline per the app note. */
  authorizeContract(chain: ContractChain, signal: AbortSignal): Promise<PncAuthorizationResult>;
  /** Power is about to flow (PowerDelivery Start): StartTransaction with meterStart (queued when offline). */
  startCharging(session: ChargingSessionInfo): Promise<void>;
  /** The session ended (PowerDelivery Stop / SessionStop / link loss): StopTransaction with meterStop. */
  stopCharging(reason: 'EVDisconnected' | 'Local' | 'Remote' | 'Other'): Promise<void>;
}
