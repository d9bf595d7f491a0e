// Schema oracle of the mock CSMS: the official OCA JSON schemas (OCPP 1.6 incl. the security
// extension; OCPP 2.0.1 for the inner `data` of PnC DataTransfer), loaded at run time from the copy
// ocpp-rpc ships with every constraint intact, compiled with Ajv 8. Violations map to the OCPP-J 1.6
// CALLERROR code the spec describes (and, for inner 2.0.1 payloads, the 2.0.1 code name, reported only).
//
//   const v = OcppSchemas.shared();
//   const f = v.validate16('BootNotification', 'req', payload);   // null when valid
//   if (f) console.log(f.code, f.message);                         // 'PropertyConstraintViolation', '/chargePointVendor must NOT ...'
//   v.validate201('Authorize', 'req', inner);                      // PnC inner message
//
// The 1.6 and 2.0.1 sets use the same `$id`s (`urn:Authorize.req`), so each lives in its own Ajv.
// Schemas compile on first use (≈1–3 ms each), so startup stays fast.
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import type { Ocpp16ErrorCode } from './errors.ts';

export type SchemaDirection = 'req' | 'conf';

export interface SchemaIssue {
  /** JSON pointer into the payload, '' for the payload itself */
  path: string;
  keyword: string;
  message: string;
}

export interface SchemaFailure {
  /** the OCPP-J 1.6 CALLERROR code for this violation */
  code: Ocpp16ErrorCode;
  /** the OCPP 2.0.1 spelling (FormatViolation, OccurrenceConstraintViolation, ...) for inner PnC payloads */
  code201: string;
  /** one line naming the field and what is wrong */
  message: string;
  issues: SchemaIssue[];
  /** set when the payload passed only with `lenientTimestamps`: a warning, not a violation */
  tolerated?: boolean;
}

/** Actions a charge point sends (1.6 core + security extension). DataTransfer goes both ways. */
export const CP_ACTIONS = [
  'Authorize',
  'BootNotification',
  'DataTransfer',
  'DiagnosticsStatusNotification',
  'FirmwareStatusNotification',
  'Heartbeat',
  'MeterValues',
  'StartTransaction',
  'StatusNotification',
  'StopTransaction',
  'LogStatusNotification',
  'SecurityEventNotification',
  'SignCertificate',
  'SignedFirmwareStatusNotification',
] as const;
export type CpAction = (typeof CP_ACTIONS)[number];

/** Actions the CSMS sends (1.6 core + security extension). */
export const CSMS_ACTIONS = [
  'CancelReservation',
  'ChangeAvailability',
  'ChangeConfiguration',
  'ClearCache',
  'ClearChargingProfile',
  'DataTransfer',
  'GetCompositeSchedule',
  'GetConfiguration',
  'GetDiagnostics',
  'GetLocalListVersion',
  'RemoteStartTransaction',
  'RemoteStopTransaction',
  'ReserveNow',
  'Reset',
  'SendLocalList',
  'SetChargingProfile',
  'TriggerMessage',
  'UnlockConnector',
  'UpdateFirmware',
  'CertificateSigned',
  'DeleteCertificate',
  'ExtendedTriggerMessage',
  'GetInstalledCertificateIds',
  'GetLog',
  'InstallCertificate',
  'SignedUpdateFirmware',
] as const;
export type CsmsAction = (typeof CSMS_ACTIONS)[number];

/** PnC (OCA app note) messages the charger sends inside DataTransfer. */
export const PNC_CP_MESSAGES = ['Authorize', 'Get15118EVCertificate', 'GetCertificateStatus', 'SignCertificate'] as const;
export type PncCpMessage = (typeof PNC_CP_MESSAGES)[number];
/** PnC messages the CSMS sends inside DataTransfer. */
export const PNC_CSMS_MESSAGES = ['CertificateSigned', 'InstallCertificate', 'DeleteCertificate', 'GetInstalledCertificateIds', 'TriggerMessage'] as const;
export type PncCsmsMessage = (typeof PNC_CSMS_MESSAGES)[number];

export const PNC_VENDOR_ID = 'org.openchargealliance.iso15118pnc';

const CODE16: Readonly<Record<string, Ocpp16ErrorCode>> = {
  type: 'TypeConstraintViolation',
  required: 'OccurenceConstraintViolation',
  minItems: 'OccurenceConstraintViolation',
  maxItems: 'OccurenceConstraintViolation',
  additionalItems: 'OccurenceConstraintViolation',
  minProperties: 'OccurenceConstraintViolation',
  maxProperties: 'OccurenceConstraintViolation',
  additionalProperties: 'PropertyConstraintViolation',
  enum: 'PropertyConstraintViolation',
  const: 'PropertyConstraintViolation',
  pattern: 'PropertyConstraintViolation',
  format: 'PropertyConstraintViolation',
  maxLength: 'PropertyConstraintViolation',
  minLength: 'PropertyConstraintViolation',
  maximum: 'PropertyConstraintViolation',
  minimum: 'PropertyConstraintViolation',
  exclusiveMaximum: 'PropertyConstraintViolation',
  exclusiveMinimum: 'PropertyConstraintViolation',
  multipleOf: 'PropertyConstraintViolation',
};

const CODE201: Readonly<Record<string, string>> = {
  type: 'TypeConstraintViolation',
  required: 'OccurrenceConstraintViolation',
  minItems: 'OccurrenceConstraintViolation',
  maxItems: 'OccurrenceConstraintViolation',
  additionalItems: 'OccurrenceConstraintViolation',
  additionalProperties: 'PropertyConstraintViolation',
  enum: 'PropertyConstraintViolation',
  pattern: 'PropertyConstraintViolation',
  maxLength: 'FormatViolation',
  minLength: 'FormatViolation',
  maximum: 'FormatViolation',
  minimum: 'FormatViolation',
  format: 'FormatViolation',
};

function describe(e: ErrorObject): SchemaIssue {
  const path = e.instancePath;
  let message = e.message ?? e.keyword;
  if (e.keyword === 'additionalProperties') message = `has unknown property "${String((e.params as { additionalProperty?: unknown }).additionalProperty)}"`;
  else if (e.keyword === 'enum') message = `must be one of ${((e.params as { allowedValues?: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
  else if (e.keyword === 'required') message = `is missing required property "${String((e.params as { missingProperty?: unknown }).missingProperty)}"`;
  return { path, keyword: e.keyword, message };
}

function failureOf(errors: readonly ErrorObject[] | null | undefined): SchemaFailure {
  const list = (errors ?? []).map(describe);
  const first = list[0] ?? { path: '', keyword: 'unknown', message: 'is invalid' };
  return {
    code: CODE16[first.keyword] ?? 'FormationViolation',
    code201: CODE201[first.keyword] ?? 'FormatViolation',
    message: list.map((i) => `${i.path || '(payload)'} ${i.message}`).join('; '),
    issues: list,
  };
}

interface SchemaFile extends Record<string, unknown> {
  $id: string;
}

/** RFC 3339 date-time, but the time zone may be missing (what many chargers send). */
const LENIENT_DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$/;

function makeAjv(schemas: readonly SchemaFile[], lenientDateTime: boolean): Ajv {
  const ajv = new Ajv({ strict: false, strictTypes: false, strictSchema: false, strictTuples: false, allErrors: false, multipleOfPrecision: 6 });
  // ajv-formats is CommonJS: module.exports is the plugin and module.exports.default too
  ajvFormats.default.default(ajv, ['date-time', 'uri']);
  if (lenientDateTime) ajv.addFormat('date-time', { type: 'string', validate: (s: string) => LENIENT_DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)) });
  // The ids (`urn:Authorize.req`) are URNs without a namespace id, which Ajv's URI library refuses
  // to serialise; register each schema under the plain key `Authorize.req` instead.
  for (const s of schemas) {
    const { $id, $schema: _draft, ...body } = s;
    ajv.addSchema(body, $id.replace(/^urn:/, ''));
  }
  return ajv;
}


function loadSchemaFile(file: 'ocpp1_6.json' | 'ocpp2_0_1.json'): SchemaFile[] {
  const require = createRequire(import.meta.url);
  const list: unknown = require(`ocpp-rpc/lib/schemas/${file}`);
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'object' && s !== null && typeof (s as SchemaFile).$id === 'string')) {
    throw new Error(`ocpp-rpc/lib/schemas/${file} is not the expected array of JSON schemas`);
  }
  return list as SchemaFile[];
}

class SchemaSet {
  private readonly ids: Set<string>;
  /** action names that have a `.req` schema */
  readonly actions: Set<string>;
  /** action → [req, conf] compiled validators, the cache of the strict ones (the hot path: no string building per frame) */
  readonly fast = new Map<string, [ValidateFunction | undefined, ValidateFunction | undefined]>();
  /** the lenient-timestamp validators by schema id, compiled when a payload first needs them */
  private lenient: { ajv: Ajv; cache: Map<string, ValidateFunction> } | undefined;
  private readonly ajv: Ajv;
  constructor(private readonly schemas: SchemaFile[]) {
    this.ids = new Set(schemas.map((s) => s.$id.replace(/^urn:/, '')));
    this.actions = new Set([...this.ids].filter((i) => i.endsWith('.req')).map((i) => i.slice(0, -4)));
    this.ajv = makeAjv(schemas, false);
  }
  has(id: string): boolean {
    return this.ids.has(id);
  }
  /** The strict validator of schema `id` (compiled now; the caller keeps it in `fast`). */
  strict(id: string): ValidateFunction {
    return this.ajv.getSchema(id) as ValidateFunction;
  }
  lenientValidator(id: string): ValidateFunction {
    this.lenient ??= { ajv: makeAjv(this.schemas, true), cache: new Map() };
    let f = this.lenient.cache.get(id);
    if (!f) this.lenient.cache.set(id, (f = this.lenient.ajv.getSchema(id) as ValidateFunction));
    return f;
  }
}

export interface ValidateOptions {
  /** accept date-time values without a time zone (reported by the caller as a warning) */
  lenientTimestamps?: boolean;
}

/** The compiled official schemas. One per process is enough: `OcppSchemas.shared()`. */
export class OcppSchemas {
  private static instance: OcppSchemas | undefined;
  private readonly v16: SchemaSet;
  private readonly v201: SchemaSet;

  constructor() {
    this.v16 = new SchemaSet(loadSchemaFile('ocpp1_6.json'));
    this.v201 = new SchemaSet(loadSchemaFile('ocpp2_0_1.json'));
  }

  static shared(): OcppSchemas {
    return (OcppSchemas.instance ??= new OcppSchemas());
  }

  /** True when OCPP 1.6 (incl. security) defines `action`. */
  has16(action: string): boolean {
    return this.v16.actions.has(action);
  }

  has201(action: string): boolean {
    return this.v201.actions.has(action);
  }

  /** Compiles every schema the CSMS uses (1.6 and the PnC 2.0.1 messages) now, so no call pays for it later. */
  warmUp(): void {
    for (const a of this.v16.actions) {
      this.validate16(a, 'req', {});
      this.validate16(a, 'conf', {});
    }
    for (const a of [...PNC_CP_MESSAGES, ...PNC_CSMS_MESSAGES]) {
      this.validate201(a, 'req', {});
      this.validate201(a, 'conf', {});
    }
  }

  /**
   * Validates a 1.6 payload; null when valid. With `lenientTimestamps`, a payload that fails only on a
   * zone-less date-time comes back with `tolerated: true`. Throws for an action 1.6 does not define.
   */
  validate16(action: string, dir: SchemaDirection, payload: unknown, opts: ValidateOptions = {}): SchemaFailure | null {
    return this.check(this.v16, action, dir, payload, opts);
  }

  /** Validates an OCPP 2.0.1 payload (PnC inner data); null when valid. */
  validate201(action: string, dir: SchemaDirection, payload: unknown, opts: ValidateOptions = {}): SchemaFailure | null {
    return this.check(this.v201, action, dir, payload, opts);
  }

  private check(set: SchemaSet, action: string, dir: SchemaDirection, payload: unknown, opts: ValidateOptions): SchemaFailure | null {
    let pair = set.fast.get(action);
    if (pair === undefined) {
      if (!set.actions.has(action)) throw new Error(`no schema ${action}.${dir}`);
      pair = [undefined, undefined];
      set.fast.set(action, pair);
    }
    const i = dir === 'req' ? 0 : 1;
    let f = pair[i];
    if (f === undefined) {
      const id = `${action}.${dir}`;
      if (!set.has(id)) throw new Error(`no schema ${id}`);
      f = pair[i] = set.strict(id);
    }
    if (f(payload)) return null;
    const id = `${action}.${dir}`;
    const failure = failureOf(f.errors);
    if (opts.lenientTimestamps && failure.issues[0]?.keyword === 'format') {
      const g = set.lenientValidator(id);
      if (g(payload)) return { ...failure, tolerated: true };
      return failureOf(g.errors);
    }
    return failure;
  }
}
