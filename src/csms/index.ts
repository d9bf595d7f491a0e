// Public API of the mock CSMS (src/csms): an OCPP-J 1.6 server with the OCA PnC DataTransfer
// extension, security profiles 1–3, scripting for suites and evidence capture. Import from here.
//
//   import { MockCsms } from '../csms/index.ts';
//   const csms = new MockCsms({ port: 0, defaults: { securityProfile: 1, password: 'sixteen-chars-pw' } });
//   await csms.listen(signal);
//   const boot = await csms.expectCall('CP1', 'BootNotification', { timeoutMs: 60_000, signal });
//   await csms.call('CP1', 'TriggerMessage', { requestedMessage: 'SignV2GCertificate' }, { signal, pnc: true });
//
// Suites that got the capability `Csms` from the rig use `asScriptableCsms(d.csms)` for the richer API.
export { MockCsms, DEFAULT_CHARGER_CONFIG, OCPP16_SUBPROTOCOL, resolveChargerConfig, type MockCsmsOptions, type ChargerSettings, type CsmsEvents, type Refusal } from './server.ts';
export { ChargerSettingsSchema, authorizationKeyProblem } from './config.ts';
export { ChargePoint, malformedText, type CallOptions, type ConnectionInfo } from './chargepoint.ts';
export { RpcConnection, type Exchange, type CallOutcome } from './connection.ts';
export { CsmsUsageError, OcppCallError, OCPP16_ERROR_CODES, RULES, isOcpp16ErrorCode, type Ocpp16ErrorCode } from './errors.ts';
export { parseFrame, callText, resultText, errorText, type Frame, type ParseResult } from './frames.ts';
export { OcppSchemas, CP_ACTIONS, CSMS_ACTIONS, PNC_CP_MESSAGES, PNC_CSMS_MESSAGES, PNC_VENDOR_ID, type SchemaFailure, type SchemaIssue } from './schemas.ts';
export { DEFAULT_HANDLERS, STATUS_PATHS, type Handler, type HandlerContext, type HandlerResult, type CommitInfo } from './handlers.ts';
export { PNC_HANDLERS, routePnc } from './pnc.ts';
export { CallScript, type RuleHandle, type RuleOptions } from './script.ts';
export { checkHandshake, serverTlsOptions, DEFAULT_REFUSAL_STATUS, REFUSAL_KINDS, type RefusalKind, type TlsSettings } from './security.ts';
export { certificateChainFor, CHAIN_VARIANTS, type ChainVariant, type ChainOptions } from './chains.ts';
export { ChargePointState, CertificateStore, type StoredCertificate, type TransactionRecord } from './state.ts';
export { transcriptLine, consoleLine, timingPoint } from './transcript.ts';
export type * from './messages.ts';
export type * from './types.ts';
