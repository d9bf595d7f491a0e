// TypeScript shapes of the messages the mock CSMS sends and answers, written from the official
// schemas (src/csms/schemas.ts validates every frame against those; these types only give suites
// autocompletion and catch typos at compile time). Two maps drive the typed call API:
//
//   Ocpp16Calls[A]  CSMS-initiated OCPP 1.6 (+ security extension) actions: { req, conf }
//   PncCalls[M]     CSMS-initiated PnC messages (OCPP 2.0.1 shapes inside DataTransfer.data)
//
//   const r = await csms.call('CP1', 'ChangeConfiguration', { key: 'HeartbeatInterval', value: '60' }, opts);
//   r.status;   // 'Accepted' | 'Rejected' | 'RebootRequired' | 'NotSupported'
//   const p = await csms.call('CP1', 'InstallCertificate', { certificateType: 'V2GRootCertificate', certificate }, { ...opts, pnc: true });
//   p.response?.status;
import type { JsonObject } from '../../drivers/capabilities.ts';
import type { CertificateHashData, OcspRequestData } from '../pki/index.ts';

// the hash data types are the PKI's (src/pki/hash-data.ts computes them as a charger does)
export type { CertificateHashData, HashAlgorithm } from '../pki/index.ts';

export type AuthorizationStatus16 = 'Accepted' | 'Blocked' | 'Expired' | 'Invalid' | 'ConcurrentTx';

export interface IdTagInfo {
  status: AuthorizationStatus16;
  expiryDate?: string;
  parentIdTag?: string;
}

export interface StatusInfo {
  reasonCode: string;
  additionalInfo?: string;
}

// ------------------------------------------------------------------ OCPP 1.6 CSMS-initiated

export interface ChargingSchedulePeriod {
  startPeriod: number;
  limit: number;
  numberPhases?: number;
}
export interface ChargingProfile {
  chargingProfileId: number;
  transactionId?: number;
  stackLevel: number;
  chargingProfilePurpose: 'ChargePointMaxProfile' | 'TxDefaultProfile' | 'TxProfile';
  chargingProfileKind: 'Absolute' | 'Recurring' | 'Relative';
  recurrencyKind?: 'Daily' | 'Weekly';
  validFrom?: string;
  validTo?: string;
  chargingSchedule: {
    duration?: number;
    startSchedule?: string;
    chargingRateUnit: 'A' | 'W';
    chargingSchedulePeriod: ChargingSchedulePeriod[];
    minChargingRate?: number;
  };
}

export interface Ocpp16Calls {
  ChangeConfiguration: { req: { key: string; value: string }; conf: { status: 'Accepted' | 'Rejected' | 'RebootRequired' | 'NotSupported' } };
  GetConfiguration: {
    req: { key?: string[] };
    conf: { configurationKey?: { key: string; readonly: boolean; value?: string }[]; unknownKey?: string[] };
  };
  SendLocalList: {
    req: { listVersion: number; localAuthorizationList?: { idTag: string; idTagInfo?: IdTagInfo }[]; updateType: 'Differential' | 'Full' };
    conf: { status: 'Accepted' | 'Failed' | 'NotSupported' | 'VersionMismatch' };
  };
  GetLocalListVersion: { req: Record<string, never>; conf: { listVersion: number } };
  ClearCache: { req: Record<string, never>; conf: { status: 'Accepted' | 'Rejected' } };
  Reset: { req: { type: 'Hard' | 'Soft' }; conf: { status: 'Accepted' | 'Rejected' } };
  RemoteStartTransaction: { req: { connectorId?: number; idTag: string; chargingProfile?: ChargingProfile }; conf: { status: 'Accepted' | 'Rejected' } };
  RemoteStopTransaction: { req: { transactionId: number }; conf: { status: 'Accepted' | 'Rejected' } };
  ChangeAvailability: { req: { connectorId: number; type: 'Inoperative' | 'Operative' }; conf: { status: 'Accepted' | 'Rejected' | 'Scheduled' } };
  UnlockConnector: { req: { connectorId: number }; conf: { status: 'Unlocked' | 'UnlockFailed' | 'NotSupported' } };
  TriggerMessage: {
    req: {
      requestedMessage: 'BootNotification' | 'DiagnosticsStatusNotification' | 'FirmwareStatusNotification' | 'Heartbeat' | 'MeterValues' | 'StatusNotification';
      connectorId?: number;
    };
    conf: { status: 'Accepted' | 'Rejected' | 'NotImplemented' };
  };
  DataTransfer: {
    req: { vendorId: string; messageId?: string; data?: string };
    conf: { status: 'Accepted' | 'Rejected' | 'UnknownMessageId' | 'UnknownVendorId'; data?: string };
  };
  // security extension
  ExtendedTriggerMessage: {
    req: {
      requestedMessage: 'BootNotification' | 'LogStatusNotification' | 'FirmwareStatusNotification' | 'Heartbeat' | 'MeterValues' | 'SignChargePointCertificate' | 'StatusNotification';
      connectorId?: number;
    };
    conf: { status: 'Accepted' | 'Rejected' | 'NotImplemented' };
  };
  CertificateSigned: { req: { certificateChain: string }; conf: { status: 'Accepted' | 'Rejected' } };
  InstallCertificate: {
    req: { certificateType: 'CentralSystemRootCertificate' | 'ManufacturerRootCertificate'; certificate: string };
    conf: { status: 'Accepted' | 'Failed' | 'Rejected' };
  };
  DeleteCertificate: { req: { certificateHashData: CertificateHashData }; conf: { status: 'Accepted' | 'Failed' | 'NotFound' } };
  GetInstalledCertificateIds: {
    req: { certificateType: 'CentralSystemRootCertificate' | 'ManufacturerRootCertificate' };
    conf: { status: 'Accepted' | 'NotFound'; certificateHashData?: CertificateHashData[] };
  };
  // the rest of the CSMS-initiated 1.6 actions, with loose shapes
  CancelReservation: { req: { reservationId: number }; conf: { status: 'Accepted' | 'Rejected' } };
  ClearChargingProfile: { req: JsonObject; conf: { status: 'Accepted' | 'Unknown' } };
  GetCompositeSchedule: { req: { connectorId: number; duration: number; chargingRateUnit?: 'A' | 'W' }; conf: JsonObject & { status: 'Accepted' | 'Rejected' } };
  GetDiagnostics: { req: JsonObject & { location: string }; conf: { fileName?: string } };
  ReserveNow: { req: JsonObject; conf: { status: 'Accepted' | 'Faulted' | 'Occupied' | 'Rejected' | 'Unavailable' } };
  SetChargingProfile: { req: { connectorId: number; csChargingProfiles: ChargingProfile }; conf: { status: 'Accepted' | 'Rejected' | 'NotSupported' } };
  UpdateFirmware: { req: JsonObject & { location: string; retrieveDate: string }; conf: Record<string, never> };
  GetLog: { req: JsonObject; conf: { status: 'Accepted' | 'Rejected' | 'AcceptedCanceled'; filename?: string } };
  SignedUpdateFirmware: { req: JsonObject; conf: { status: 'Accepted' | 'Rejected' | 'AcceptedCanceled' | 'InvalidCertificate' | 'RevokedCertificate' } };
}
export type Ocpp16CallAction = keyof Ocpp16Calls;

// ------------------------------------------------------------------ PnC (OCPP 2.0.1 inside DataTransfer)

export type InstallCertificateUse = 'V2GRootCertificate' | 'MORootCertificate' | 'CSMSRootCertificate' | 'ManufacturerRootCertificate';
export type GetCertificateIdUse = 'V2GRootCertificate' | 'MORootCertificate' | 'CSMSRootCertificate' | 'V2GCertificateChain' | 'ManufacturerRootCertificate';

export interface CertificateHashDataChain {
  certificateType: GetCertificateIdUse;
  certificateHashData: CertificateHashData;
  childCertificateHashData?: CertificateHashData[];
}

export interface PncCalls {
  CertificateSigned: {
    req: { certificateChain: string; certificateType?: 'ChargingStationCertificate' | 'V2GCertificate' };
    conf: { status: 'Accepted' | 'Rejected'; statusInfo?: StatusInfo };
  };
  InstallCertificate: {
    req: { certificateType: InstallCertificateUse; certificate: string };
    conf: { status: 'Accepted' | 'Rejected' | 'Failed'; statusInfo?: StatusInfo };
  };
  DeleteCertificate: { req: { certificateHashData: CertificateHashData }; conf: { status: 'Accepted' | 'Failed' | 'NotFound'; statusInfo?: StatusInfo } };
  GetInstalledCertificateIds: {
    req: { certificateType?: GetCertificateIdUse[] };
    conf: { status: 'Accepted' | 'NotFound'; certificateHashDataChain?: CertificateHashDataChain[]; statusInfo?: StatusInfo };
  };
  TriggerMessage: {
    req: { requestedMessage: string; evse?: { id: number; connectorId?: number } };
    conf: { status: 'Accepted' | 'Rejected' | 'NotImplemented'; statusInfo?: StatusInfo };
  };
}
export type PncCallMessage = keyof PncCalls;

/** What a PnC call resolves with: the outer DataTransfer status, and the inner response when there is one. */
export interface PncCallResult<R> {
  /** DataTransfer.conf status */
  status: 'Accepted' | 'Rejected' | 'UnknownMessageId' | 'UnknownVendorId';
  /** DataTransfer.conf data as received (may be plain text when status is not Accepted) */
  data: string | undefined;
  /** the parsed and schema-checked inner 2.0.1 response (status Accepted with data) */
  response: R | undefined;
}

// ------------------------------------------------------------------ PnC charger-initiated (inner)

export interface IdToken201 {
  idToken: string;
  type: string;
  additionalInfo?: { additionalIdToken: string; type: string }[];
}

export type OcspRequestDataType = OcspRequestData;

export interface PncAuthorizeReq {
  idToken: IdToken201;
  certificate?: string;
  iso15118CertificateHashData?: OcspRequestDataType[];
}
export type AuthorizationStatus201 =
  | 'Accepted'
  | 'Blocked'
  | 'ConcurrentTx'
  | 'Expired'
  | 'Invalid'
  | 'NoCredit'
  | 'NotAllowedTypeEVSE'
  | 'NotAtThisLocation'
  | 'NotAtThisTime'
  | 'Unknown';
export interface PncAuthorizeConf {
  idTokenInfo: { status: AuthorizationStatus201; cacheExpiryDateTime?: string; [k: string]: unknown };
  certificateStatus?: 'Accepted' | 'SignatureError' | 'CertificateExpired' | 'CertificateRevoked' | 'NoCertificateAvailable' | 'CertChainError' | 'ContractCancelled';
}
export interface PncGet15118EVCertificateReq {
  iso15118SchemaVersion: string;
  action: 'Install' | 'Update';
  exiRequest: string;
}
export interface PncGet15118EVCertificateConf {
  status: 'Accepted' | 'Failed';
  exiResponse: string;
  statusInfo?: StatusInfo;
}
export interface PncSignCertificateReq {
  csr: string;
  certificateType?: 'ChargingStationCertificate' | 'V2GCertificate';
}
export interface PncGetCertificateStatusReq {
  ocspRequestData: OcspRequestDataType;
}
