// Charger configuration of the mock CSMS: the settings schema (the driver's rig options use it too),
// the defaults, and how layers of settings (server defaults, per-charger settings, run-time changes
// through ChargePoint.configure) resolve into one checked ChargerConfig. Every layer is checked
// against `ChargerSettingsSchema`; bad settings throw CsmsUsageError naming the key.
//
//   const config = resolveChargerConfig(opts.defaults, opts.chargers?.CP1);   // server
//   cp.configure({ pnc: { certificateSigned: 'never' } });                    // a suite, at run time
import { z } from 'zod';
import { CsmsUsageError } from './errors.ts';
import { PNC_VENDOR_ID } from './schemas.ts';
import type { ChargerConfig, PasswordRule, PncPolicy, SecurityPolicy } from './types.ts';

/** Per-charger settings: any subset of ChargerConfig (nested pnc / security partial too). */
export type ChargerSettings = Partial<Omit<ChargerConfig, 'pnc' | 'security'>> & { pnc?: Partial<PncPolicy>; security?: Partial<SecurityPolicy> };

const HEX_BYTES = /^([0-9a-fA-F]{2})+$/;
const idTagStatus = z.enum(['Accepted', 'Blocked', 'Expired', 'Invalid', 'ConcurrentTx']);
const followUp = z.enum(['send', 'never']);

/** One layer of charger settings (rig `defaults` / `chargers.<id>`, MockCsmsOptions, `configure()`). */
export const ChargerSettingsSchema = z
  .object({
    /** OCPP security profile 0–3 */
    securityProfile: z.literal([0, 1, 2, 3]).optional(),
    /** AuthorizationKey as text (profiles 1, 2) */
    password: z.string().min(1).optional(),
    /** AuthorizationKey as hex, as ChangeConfiguration AuthorizationKey carries it */
    passwordHex: z.string().regex(HEX_BYTES, 'an even number of hex digits').optional(),
    /** how the charger may present the key: the key itself, its hex text, or either */
    passwordEncoding: z.enum(['raw', 'hex', 'either']).optional(),
    /** length rule of the key: ocpp16 (16–20 bytes, hex in ChangeConfiguration), ocpp201 (16–40 characters), any */
    passwordRule: z.enum(['ocpp16', 'ocpp201', 'any']).optional(),
    /** profile 3: CN of the client certificate (default the charge point id) */
    serialNumber: z.string().min(1).optional(),
    /** the CPO name: O of client certificates and CSRs */
    cpoName: z.string().min(1).optional(),
    /** profile 3: refuse certificates of other chargers (false only for negative tests) */
    bindClientCertificate: z.boolean().optional(),
    bootStatus: z.enum(['Accepted', 'Pending', 'Rejected']).optional(),
    heartbeatIntervalS: z.number().int().positive().optional(),
    idTags: z.record(z.string(), idTagStatus).optional(),
    defaultIdTagStatus: idTagStatus.optional(),
    lenientTimestamps: z.boolean().optional(),
    pnc: z
      .object({
        enabled: z.boolean().optional(),
        vendorIds: z.array(z.string().min(1)).min(1).optional(),
        dialects: z.record(z.string().min(1), z.enum(['oca', 'has2be'])).optional(),
        contractFailureStatus: z.enum(['Blocked', 'Expired', 'Invalid', 'NoCredit', 'NotAllowedTypeEVSE', 'NotAtThisLocation', 'NotAtThisTime', 'Unknown']).optional(),
        centralContractValidationAllowed: z.boolean().optional(),
        emaid: z.string().min(1).optional(),
        certificateSigned: followUp.optional(),
        certificateSignedDelayMs: z.number().int().nonnegative().optional(),
      })
      .strict()
      .optional(),
    security: z.object({ certificateSigned: followUp.optional(), certificateSignedDelayMs: z.number().int().nonnegative().optional() }).strict().optional(),
  })
  .strict();

// ChargerSettings (from ChargerConfig) and the schema name the same keys, nested ones too: a setting
// added to one of them only does not compile.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
type SettingsInput = z.input<typeof ChargerSettingsSchema>;
const settingsKeysMatch: SameKeys<ChargerSettings, SettingsInput> &
  SameKeys<NonNullable<ChargerSettings['pnc']>, NonNullable<SettingsInput['pnc']>> &
  SameKeys<NonNullable<ChargerSettings['security']>, NonNullable<SettingsInput['security']>> = true;

export const DEFAULT_CHARGER_CONFIG: Readonly<ChargerConfig> = Object.freeze({
  securityProfile: 0,
  password: undefined,
  passwordHex: undefined,
  passwordEncoding: 'either',
  passwordRule: 'ocpp16',
  serialNumber: undefined,
  cpoName: undefined,
  bindClientCertificate: true,
  bootStatus: 'Accepted',
  heartbeatIntervalS: 300,
  idTags: {},
  defaultIdTagStatus: 'Accepted',
  lenientTimestamps: false,
  pnc: { enabled: true, vendorIds: [PNC_VENDOR_ID], dialects: { iso15118: 'has2be' }, contractFailureStatus: 'Invalid', certificateSigned: 'send', certificateSignedDelayMs: 0 },
  security: { certificateSigned: 'send', certificateSignedDelayMs: 0 },
}) as ChargerConfig;

/** The defaults with `layers` applied in order (later layers win), checked. */
export function resolveChargerConfig(...layers: (ChargerSettings | undefined)[]): ChargerConfig {
  return applyChargerSettings(DEFAULT_CHARGER_CONFIG, ...layers);
}

/** A resolved configuration with further layers applied (ChargePoint.configure); `base` is not checked again. */
export function applyChargerSettings(base: Readonly<ChargerConfig>, ...layers: (ChargerSettings | undefined)[]): ChargerConfig {
  let c: ChargerConfig = { ...base, pnc: { ...base.pnc }, security: { ...base.security } };
  for (const l of layers) {
    if (!l) continue;
    const checked = ChargerSettingsSchema.safeParse(l, { reportInput: true });
    if (!checked.success) throw new CsmsUsageError(checked.error.issues.map(issueText).join('; '));
    const { pnc, security, ...rest } = checked.data;
    c = { ...c, ...definedOnly(rest), pnc: { ...c.pnc, ...definedOnly(pnc) }, security: { ...c.security, ...definedOnly(security) } };
  }
  // the one rule across keys: the AuthorizationKey against passwordRule
  const which = c.passwordHex !== undefined ? 'passwordHex' : 'password';
  const keyProblem = authorizationKeyProblem(c.passwordRule, c);
  if (keyProblem) throw new CsmsUsageError(`${which}: ${keyProblem} (set passwordRule: 'any' for a charger that deviates)`);
  return c;
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  return o ? (Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>) : {};
}

/** `pnc.certificateSigned must be 'send' or 'never', got "later"` — one zod issue, naming the key. */
function issueText(i: z.core.$ZodIssue): string {
  const key = i.path.map(String).join('.');
  const got = JSON.stringify(i.input) ?? String(i.input);
  if (i.code === 'invalid_value') {
    const values = i.values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v)));
    const list = values.length > 1 ? `${values.slice(0, -1).join(', ')} or ${values.at(-1) as string}` : (values[0] ?? '?');
    return `${key} must be ${list}, got ${got}`;
  }
  if (i.code === 'unrecognized_keys') return i.keys.map((k) => `${key ? `${key}.` : ''}${k}: not a charger setting`).join('; ');
  return `${key || 'settings'}: ${i.message} (got ${got})`;
}

/**
 * Why an AuthorizationKey (`passwordHex` wins over `password`) breaks `rule`, e.g. 'the AuthorizationKey is
 * 5 bytes; OCPP 1.6 security needs 16–20 bytes', or undefined (also when there is no key).
 */
export function authorizationKeyProblem(rule: PasswordRule, key: { password?: string | undefined; passwordHex?: string | undefined }): string | undefined {
  if (rule === 'any') return undefined;
  if (key.passwordHex === undefined && key.password === undefined) return undefined;
  if (rule === 'ocpp16') {
    const bytes = key.passwordHex !== undefined ? key.passwordHex.length / 2 : Buffer.byteLength(key.password as string, 'utf8');
    if (bytes < 16 || bytes > 20) return `the AuthorizationKey is ${bytes} bytes; OCPP 1.6 security needs 16–20 bytes`;
    return undefined;
  }
  const chars = key.passwordHex !== undefined ? Buffer.from(key.passwordHex, 'hex').toString('utf8').length : [...(key.password as string)].length;
  if (chars < 16 || chars > 40) return `the password is ${chars} characters; the OCPP 2.0.1 rule needs 16–40`;
  return undefined;
}

/**
 * Checks the value of a ChangeConfiguration AuthorizationKey the CSMS is about to send and returns the
 * new key as the charger will use it, or a problem (a suite bug: CsmsUsageError).
 */
export function authorizationKeyChange(rule: ChargerConfig['passwordRule'], value: string): { ok: true; key: { passwordHex: string } | { password: string } } | { ok: false; problem: string } {
  const isHex = HEX_BYTES.test(value);
  if (rule === 'ocpp16') {
    if (!isHex) return { ok: false, problem: 'ChangeConfiguration AuthorizationKey: OCPP 1.6 security sends the key hex-encoded; the value is not hex' };
    const bytes = value.length / 2;
    if (bytes < 16 || bytes > 20) return { ok: false, problem: `ChangeConfiguration AuthorizationKey: ${bytes} bytes (${value.length} hex digits); OCPP 1.6 security needs 16–20 bytes (32–40 hex digits)` };
    return { ok: true, key: { passwordHex: value.toLowerCase() } };
  }
  if (rule === 'ocpp201') {
    const chars = [...value].length;
    if (chars < 16 || chars > 40) return { ok: false, problem: `ChangeConfiguration AuthorizationKey: ${chars} characters; the OCPP 2.0.1 rule needs 16–40` };
    return { ok: true, key: { password: value } };
  }
  return { ok: true, key: isHex ? { passwordHex: value.toLowerCase() } : { password: value } };
}
