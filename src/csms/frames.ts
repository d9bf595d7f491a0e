// OCPP-J 1.6 framing: the three message types as JSON arrays
//   CALL        [2, "<uniqueId>", "<Action>", {payload}]
//   CALLRESULT  [3, "<uniqueId>", {payload}]
//   CALLERROR   [4, "<uniqueId>", "<errorCode>", "<errorDescription>", {errorDetails}]
// `parseFrame` never throws: a malformed frame comes back with the CALLERROR code the spec describes
// (FormationViolation for a broken structure, ProtocolError for an incomplete CALL) and, when it can
// be recovered, the uniqueId to answer with. Message type ids other than 2/3/4 are to be ignored by
// the receiver (OCPP-J 1.6 §4.1.3), so they come back with `ignore: true`.
//
//   const r = parseFrame(text);
//   if (!r.ok) answer(r.uniqueId ?? '-1', r.code, r.message);
//   else if (r.frame.type === 2) dispatch(r.frame.action, r.frame.payload);
import type { JsonObject } from '../../drivers/capabilities.ts';
import type { Ocpp16ErrorCode } from './errors.ts';

export const CALL = 2;
export const CALLRESULT = 3;
export const CALLERROR = 4;
/** OCPP-J: uniqueId is a string of at most 36 characters. */
export const MAX_UNIQUE_ID_LENGTH = 36;

export interface CallFrame {
  type: typeof CALL;
  uniqueId: string;
  action: string;
  payload: JsonObject;
}
export interface CallResultFrame {
  type: typeof CALLRESULT;
  uniqueId: string;
  payload: JsonObject;
}
export interface CallErrorFrame {
  type: typeof CALLERROR;
  uniqueId: string;
  errorCode: string;
  errorDescription: string;
  errorDetails: JsonObject;
}
export type Frame = CallFrame | CallResultFrame | CallErrorFrame;

export type ParseResult =
  | { ok: true; frame: Frame; value: unknown[] }
  | {
      ok: false;
      code: Ocpp16ErrorCode;
      message: string;
      /** the uniqueId, when the frame carries a usable one */
      uniqueId?: string;
      /** the message type id, when it is a number */
      messageType?: number;
      /** the action of a broken CALL, when readable */
      action?: string;
      /** the receiver must ignore the frame (unknown message type id) */
      ignore?: boolean;
      /** the parsed JSON (when the text was JSON) */
      value?: unknown;
    };

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const LEADING_ID = /^\s*\[\s*\d+\s*,\s*"([^"\\]{1,36})"/;

type FailureFacts = Omit<Extract<ParseResult, { ok: false }>, 'ok' | 'code' | 'message'>;

function fail(code: Ocpp16ErrorCode, message: string, extra: FailureFacts = {}): ParseResult {
  return { ok: false, code, message, ...extra };
}

/** Parses one OCPP-J text frame. Never throws. */
export function parseFrame(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const id = LEADING_ID.exec(text)?.[1];
    return fail('FormationViolation', `not valid JSON: ${(e as Error).message}`, id !== undefined ? { uniqueId: id } : {});
  }
  return classify(value);
}

/** What a broken frame still tells: its JSON, message type, usable uniqueId and action. */
function facts(value: unknown[], messageType: number, uniqueId: unknown, action?: string): FailureFacts {
  const f: FailureFacts = { value, messageType };
  if (typeof uniqueId === 'string' && uniqueId.length > 0) f.uniqueId = uniqueId;
  if (action !== undefined) f.action = action;
  return f;
}

/** The frame, or what is wrong with it. A well-formed frame builds nothing but its result (the hot path). */
function classify(value: unknown): ParseResult {
  if (!Array.isArray(value)) return fail('FormationViolation', `an OCPP-J frame is a JSON array, got ${value === null ? 'null' : typeof value}`, { value });
  const type: unknown = value[0];
  const uniqueId: unknown = value[1];
  if (typeof type !== 'number') return fail('FormationViolation', `element 0 (message type id) must be a number, got ${JSON.stringify(type) ?? 'nothing'}`, { value });
  const idOk = typeof uniqueId === 'string' && uniqueId.length > 0;
  if (type !== CALL && type !== CALLRESULT && type !== CALLERROR) {
    return fail('ProtocolError', `message type id ${type} is not defined (2 CALL, 3 CALLRESULT, 4 CALLERROR); ignored`, { ...facts(value, type, uniqueId), ignore: true });
  }
  if (!idOk) return fail('FormationViolation', `element 1 (uniqueId) must be a non-empty string, got ${JSON.stringify(uniqueId) ?? 'nothing'}`, facts(value, type, uniqueId));
  if (uniqueId.length > MAX_UNIQUE_ID_LENGTH) return fail('FormationViolation', `uniqueId is ${uniqueId.length} characters; OCPP-J allows at most ${MAX_UNIQUE_ID_LENGTH}`, facts(value, type, uniqueId));
  if (type === CALL) {
    const action: unknown = value[2];
    if (typeof action !== 'string' || action.length === 0) return fail('FormationViolation', `CALL element 2 (action) must be a non-empty string, got ${JSON.stringify(action) ?? 'nothing'}`, facts(value, type, uniqueId));
    if (value.length < 4) return fail('ProtocolError', `CALL ${action} is incomplete: the payload (element 3) is missing`, facts(value, type, uniqueId, action));
    if (value.length > 4) return fail('FormationViolation', `CALL has ${value.length} elements; OCPP-J defines 4`, facts(value, type, uniqueId, action));
    if (!isPlainObject(value[3])) return fail('FormationViolation', `CALL ${action} payload must be a JSON object, got ${Array.isArray(value[3]) ? 'an array' : JSON.stringify(value[3])}`, facts(value, type, uniqueId, action));
    return { ok: true, frame: { type: CALL, uniqueId, action, payload: value[3] }, value };
  }
  if (type === CALLRESULT) {
    if (value.length !== 3) return fail('FormationViolation', `CALLRESULT has ${value.length} elements; OCPP-J defines 3`, facts(value, type, uniqueId));
    if (!isPlainObject(value[2])) return fail('FormationViolation', `CALLRESULT payload must be a JSON object, got ${JSON.stringify(value[2])}`, facts(value, type, uniqueId));
    return { ok: true, frame: { type: CALLRESULT, uniqueId, payload: value[2] }, value };
  }
  if (value.length !== 5) return fail('FormationViolation', `CALLERROR has ${value.length} elements; OCPP-J defines 5`, facts(value, type, uniqueId));
  const [, , errorCode, errorDescription, errorDetails] = value;
  if (typeof errorCode !== 'string') return fail('FormationViolation', 'CALLERROR element 2 (errorCode) must be a string', facts(value, type, uniqueId));
  if (typeof errorDescription !== 'string') return fail('FormationViolation', 'CALLERROR element 3 (errorDescription) must be a string', facts(value, type, uniqueId));
  if (!isPlainObject(errorDetails)) return fail('FormationViolation', 'CALLERROR element 4 (errorDetails) must be a JSON object', facts(value, type, uniqueId));
  return { ok: true, frame: { type: CALLERROR, uniqueId, errorCode, errorDescription, errorDetails }, value };
}

export function callText(uniqueId: string, action: string, payload: unknown): string {
  return JSON.stringify([CALL, uniqueId, action, payload]);
}

export function resultText(uniqueId: string, payload: unknown): string {
  return JSON.stringify([CALLRESULT, uniqueId, payload]);
}

export function errorText(uniqueId: string, code: string, description: string, details: JsonObject = {}): string {
  return JSON.stringify([CALLERROR, uniqueId, code, description.length > 255 ? `${description.slice(0, 252)}...` : description, details]);
}
