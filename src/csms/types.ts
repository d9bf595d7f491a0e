// Shared types of the mock CSMS: charger configuration (security profile, password, PnC policy),
// what a suite receives for every charger CALL (`ReceivedCall`), the response plans a suite scripts
// (`ResponsePlan`), recorded violations and transcript entries. See docs/csms.md for the semantics.
import type { Transcript } from '../rig/transcript.ts';
import type { JsonObject, OcppCall } from '../../drivers/capabilities.ts';
import type { AuthorizationStatus16, AuthorizationStatus201 } from './messages.ts';

export type SecurityProfile = 0 | 1 | 2 | 3;

/** How a charger may present its AuthorizationKey in HTTP Basic auth. */
export type PasswordEncoding = 'raw' | 'hex' | 'either';

/**
 * Length rule of the AuthorizationKey (checked for the configured key and for a ChangeConfiguration
 * AuthorizationKey the CSMS sends):
 *   'ocpp16'   1.6 security whitepaper: 16–20 bytes, sent hex-encoded in ChangeConfiguration (32–40 hex digits)
 *   'ocpp201'  2.0.1 BasicAuthPassword: 16–40 characters, sent as the text itself
 *   'any'      no check (chargers that deviate); ChangeConfiguration values that are hex are taken as hex
 */
export type PasswordRule = 'ocpp16' | 'ocpp201' | 'any';

export type PncDialect = 'oca' | 'has2be';

export interface PncPolicy {
  /** answer PnC DataTransfer at all (false → UnknownVendorId, as for a CSMS without PnC) */
  enabled: boolean;
  /** vendorIds routed to the PnC handlers (default the OCA one) */
  vendorIds: string[];
  /**
   * Field-name dialect per vendorId (default `{ iso15118: 'has2be' }`): 'has2be' (has·to·be's OCPP 1.6
   * ISO 15118 extension 1.3) renames `15118CertificateHashData` / `15118SchemaVersion` in requests to the
   * 2.0.1 names before the 2.0.1 schema check, and supplies a missing Get15118EVCertificate `action` from
   * the EXI request. VendorIds not listed are 'oca' (2.0.1 names as they are).
   */
  dialects: Record<string, PncDialect>;
  /** idTokenInfo.status when the contract certificate / hash data do not validate */
  contractFailureStatus: AuthorizationStatus201;
  /**
   * The charger's CentralContractValidationAllowed as the CSMS should assume it. When false, an
   * Authorize carrying `certificate` is recorded as a violation (rule pnc.C07.central-not-allowed).
   * Undefined: taken from the configuration the charger reported, else not checked.
   */
  centralContractValidationAllowed?: boolean;
  /** eMAID of contracts issued for Get15118EVCertificate (Install); default the PKI's */
  emaid?: string;
  /** SignCertificate(V2G) accepted → CertificateSigned: 'send' after `certificateSignedDelayMs`, or 'never' */
  certificateSigned: 'send' | 'never';
  certificateSignedDelayMs: number;
}

export interface SecurityPolicy {
  /** 1.6 SignCertificate accepted → CertificateSigned: 'send' after the delay, or 'never' */
  certificateSigned: 'send' | 'never';
  certificateSignedDelayMs: number;
}

export interface ChargerConfig {
  securityProfile: SecurityProfile;
  /** AuthorizationKey (profiles 1 and 2), as text */
  password: string | undefined;
  /** AuthorizationKey as hex (what ChangeConfiguration AuthorizationKey carries); wins over `password` */
  passwordHex: string | undefined;
  passwordEncoding: PasswordEncoding;
  /** length rule of the AuthorizationKey (default 'ocpp16') */
  passwordRule: PasswordRule;
  /** profile 3: the client certificate's CN must equal this (default: the charge point id) */
  serialNumber: string | undefined;
  /** the CPO name: O of client certificates (profile 3) and of CSRs; default the PKI organization */
  cpoName: string | undefined;
  /** profile 3: refuse a client certificate whose CN is not this charger's (default true; false for negative tests) */
  bindClientCertificate: boolean;
  bootStatus: 'Accepted' | 'Pending' | 'Rejected';
  heartbeatIntervalS: number;
  /** Authorize / StartTransaction policy: idTag → status; others get `defaultIdTagStatus` */
  idTags: Record<string, AuthorizationStatus16>;
  defaultIdTagStatus: AuthorizationStatus16;
  /** accept date-time values without time zone (recorded as a warning instead of a violation) */
  lenientTimestamps: boolean;
  pnc: PncPolicy;
  security: SecurityPolicy;
}

/** What the CSMS did with a charger CALL. */
export interface AnswerRecord {
  kind: 'result' | 'error' | 'raw' | 'never' | 'dropped';
  /** epoch ms when it was sent (or decided) */
  t: number;
  /** CALLRESULT payload (outer) */
  payload?: JsonObject;
  errorCode?: string;
  /** PnC: the inner response */
  inner?: JsonObject;
}

export interface ViolationRecord {
  /** epoch ms */
  t: number;
  chargePointId: string;
  rule: string;
  message: string;
  uniqueId?: string;
  action?: string;
}

/** A charger CALL as a suite sees it. */
export interface ReceivedCall extends OcppCall {
  chargePointId: string;
  /** `Authorize`, or for PnC DataTransfer `DataTransfer.<messageId>` */
  action: string;
  /** the payload; for PnC DataTransfer the parsed inner 2.0.1 payload */
  payload: JsonObject;
  /** the OCPP action and payload as on the wire */
  frame: { action: string; payload: JsonObject };
  pnc?: { vendorId: string; messageId: string };
  /** rule violations found in this call (schema, PnC data, ...) */
  readonly violations: readonly ViolationRecord[];
  /** settles when the CSMS has answered (or decided not to) */
  answered: Promise<AnswerRecord>;
}

/**
 * How the CSMS answers one charger CALL. Default action 'answer' with the default handler's payload.
 *
 *   { status: 'Blocked' }                        default answer, status replaced (Authorize: idTagInfo.status; PnC Authorize: idTokenInfo.status)
 *   { payload: { ... } }                         this payload (validated unless `unchecked`)
 *   { delayMs: 4000 }                            default answer after 4 s
 *   { action: 'never' }                          no answer at all
 *   { action: 'drop', drop: { terminate: true } } close the connection instead of answering
 *   { action: 'error', error: { code: 'GenericError' } }
 *   { action: 'malformed', malformed: 'not-json' }
 *   { outerStatus: 'Rejected' }                  PnC: DataTransfer status without data
 *   { followUp: 'none' }                         SignCertificate accepted, CertificateSigned never sent
 */
export interface ResponsePlan {
  delayMs?: number;
  action?: 'answer' | 'never' | 'drop' | 'malformed' | 'error';
  status?: string;
  payload?: JsonObject | ((call: ReceivedCall, defaultPayload: JsonObject | undefined) => JsonObject | Promise<JsonObject>);
  outerStatus?: 'Accepted' | 'Rejected' | 'UnknownMessageId' | 'UnknownVendorId';
  error?: { code: string; description?: string; details?: JsonObject };
  malformed?: 'not-json' | 'not-array' | 'wrong-unique-id' | 'missing-payload' | 'schema' | { raw: string };
  drop?: { code?: number; reason?: string; terminate?: boolean };
  /** send a payload that fails the schema as is (otherwise it is replaced by an InternalError CALLERROR) */
  unchecked?: boolean;
  /** SignCertificate: 'default' (charger policy), 'none' (never send CertificateSigned), or send after delayMs */
  followUp?: 'default' | 'none' | { delayMs: number };
}

export interface ExpectOptions {
  timeoutMs: number;
  signal: AbortSignal;
  /** only calls whose (inner) payload satisfies this */
  match?: (call: ReceivedCall) => boolean;
  /**
   * Without `respond`: the oldest unconsumed matching call received at or after `since` (epoch ms;
   * default: any still in the inbox), else the next one to arrive. With `respond`: only a call arriving
   * after this point, answered with the plan.
   */
  since?: number;
  respond?: ResponsePlan;
}

/**
 * One line of the JSON-lines transcript: a frame (`frame` is the frame itself when it is JSON on one
 * line, else `raw` holds the text) or an event (connect, refused handshake, violation, close, ...).
 *
 *   {"tUs":1763719871234567,"cp":"CP1","dir":"in","frame":[2,"1","Heartbeat",{}]}
 *   {"tUs":1763719871234901,"cp":"CP1","dir":"out","frame":[3,"1",{"currentTime":"..."}]}
 *   {"tUs":1763719871300000,"cp":"CP1","event":"violation","detail":{"rule":"ocpp16.schema.Authorize.req","message":"..."}}
 */
export type TranscriptEntry = TranscriptFrame | TranscriptEvent;
export interface TranscriptFrame {
  tUs: number;
  cp: string;
  dir: 'in' | 'out';
  text: string;
  json: boolean;
}
export interface TranscriptEvent {
  tUs: number;
  cp: string;
  event: string;
  detail?: JsonObject | string;
}

/**
 * Where transcript lines go: the driver's `ctx.transcript` (src/rig/transcript.ts) or anything with
 * its append methods. Event lines come as text; a frame's line is assembled as bytes in place
 * (`reserve`, fill from `end`, `commit`), its frame copied from the bytes received or sent. Each line
 * ends with its newline, and no line is interleaved with another.
 */
export type TranscriptWriter = Pick<Transcript, 'write' | 'reserve' | 'end' | 'commit'>;
