// Errors and rule ids of the mock CSMS. Three kinds of trouble, kept apart so the runner can tell
// whose fault it was (drivers/capabilities.ts):
//   ProtocolViolation  the charger broke a rule (schema, framing, PnC app note, timeouts) -> FAIL
//   LinkError          the charger is not connected / the connection dropped             -> INFRA
//   CsmsUsageError     a suite asked for something impossible (bad payload, bad script)  -> ERROR
// `OcppCallError` is what `call()` throws when the charger answered a CALL with a CALLERROR.
//
//   try { await csms.call('CP1', 'Reset', { type: 'Hard' }, { timeoutMs, signal }); }
//   catch (e) { if (e instanceof OcppCallError) console.log(e.errorCode); }
import { ProtocolViolation } from '../../drivers/capabilities.ts';
import type { JsonObject } from '../../drivers/capabilities.ts';

/** The CALLERROR codes OCPP-J 1.6 allows (note the spec's spelling "Occurence"). */
export const OCPP16_ERROR_CODES = [
  'NotImplemented',
  'NotSupported',
  'InternalError',
  'ProtocolError',
  'SecurityError',
  'FormationViolation',
  'PropertyConstraintViolation',
  'OccurenceConstraintViolation',
  'TypeConstraintViolation',
  'GenericError',
] as const;
export type Ocpp16ErrorCode = (typeof OCPP16_ERROR_CODES)[number];

export function isOcpp16ErrorCode(s: unknown): s is Ocpp16ErrorCode {
  return typeof s === 'string' && (OCPP16_ERROR_CODES as readonly string[]).includes(s);
}

/** A suite (or the standalone user) asked the CSMS for something it cannot do. Outcome ERROR. */
export class CsmsUsageError extends Error {
  override readonly name = 'CsmsUsageError';
}

/** The charger answered a CSMS-initiated CALL with a CALLERROR. */
export class OcppCallError extends ProtocolViolation {
  readonly errorCode: string;
  readonly errorDescription: string;
  readonly errorDetails: JsonObject;
  readonly action: string;
  constructor(action: string, errorCode: string, errorDescription: string, errorDetails: JsonObject) {
    super('ocppj.callerror', `${action}: the charger answered CALLERROR ${errorCode}${errorDescription ? ` "${errorDescription}"` : ''}`);
    this.action = action;
    this.errorCode = errorCode;
    this.errorDescription = errorDescription;
    this.errorDetails = errorDetails;
  }
}

/** Rule ids recorded with violations (ProtocolViolation.rule). Schema rules append the action. */
export const RULES = {
  /** frame is not JSON / not an OCPP-J array / wrong element types */
  frame: 'ocppj.frame',
  /** message type id other than 2, 3, 4 */
  messageType: 'ocppj.messageType',
  /** uniqueId of a CALLRESULT/CALLERROR matches no outstanding CALL */
  uniqueId: 'ocppj.uniqueId',
  /** a second CALL while one is still unanswered */
  concurrency: 'ocppj.concurrency',
  /** the charger did not answer a CSMS CALL in time */
  callTimeout: 'ocppj.callTimeout',
  /** a CALLERROR with a code OCPP-J 1.6 does not define */
  errorCode: 'ocppj.errorCode',
  /** unknown action from the charger */
  unknownAction: 'ocpp16.action',
  /** a CSMS->CP action sent by the charger */
  direction: 'ocpp16.direction',
  /** calls after a Rejected BootNotification */
  bootRejected: 'ocpp16.boot.rejected',
  /** payload against the official 1.6 schema: `ocpp16.schema.<Action>.req|conf` */
  schema16: 'ocpp16.schema',
  /** PnC inner data against the 2.0.1 schema: `pnc.schema.<messageId>.req|conf` */
  schemaPnc: 'pnc.schema',
  /** PnC data that is not a JSON object text */
  pncData: 'pnc.data',
  /** unknown PnC messageId */
  pncMessageId: 'pnc.messageId',
  /** a CSMS->CS PnC message sent by the charger */
  pncDirection: 'pnc.direction',
  /** Authorize with `certificate` while CentralContractValidationAllowed is false */
  pncCentralValidation: 'pnc.C07.central-not-allowed',
  /** the charger did not send an expected call in time */
  expectTimeout: 'csms.expect.timeout',
} as const;
