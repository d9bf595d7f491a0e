// Charger configuration of the mock CSMS: the defaults and how layers of settings (server defaults,
// per-charger settings, run-time changes through ChargePoint.configure) resolve into one checked
// ChargerConfig. Bad settings throw CsmsUsageError naming the key.
//
//   const config = resolveChargerConfig(opts.defaults, opts.chargers?.CP1);   // server
//   cp.configure({ pnc: { certificateSigned: 'never' } });                    // a suite, at run time
import { CsmsUsageError } from './errors.ts';
import { PNC_VENDOR_ID } from './schemas.ts';
import type { ChargerConfig, PncPolicy, SecurityPolicy } from './types.ts';

/** Per-charger settings: any subset of ChargerConfig (nested pnc / security partial too). */
export type ChargerSettings = Partial<Omit<ChargerConfig, 'pnc' | 'security'>> & { pnc?: Partial<PncPolicy>; security?: Partial<SecurityPolicy> };

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

export function resolveChargerConfig(...layers: (ChargerSettings | undefined)[]): ChargerConfig {
  let c: ChargerConfig = { ...DEFAULT_CHARGER_CONFIG, pnc: { ...DEFAULT_CHARGER_CONFIG.pnc }, security: { ...DEFAULT_CHARGER_CONFIG.security } };
  for (const l of layers) {
    if (!l) continue;
    const { pnc, security, ...rest } = l;
    const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<ChargerConfig>;
    c = { ...c, ...defined, pnc: { ...c.pnc, ...definedOnly(pnc) }, security: { ...c.security, ...definedOnly(security) } };
  }
  if (![0, 1, 2, 3].includes(c.securityProfile)) throw new CsmsUsageError(`securityProfile must be 0, 1, 2 or 3, got ${String(c.securityProfile)}`);
  if (c.passwordHex !== undefined && !/^([0-9a-fA-F]{2})+$/.test(c.passwordHex)) throw new CsmsUsageError('passwordHex must be an even number of hex digits');
  if (!['ocpp16', 'ocpp201', 'any'].includes(c.passwordRule)) throw new CsmsUsageError(`passwordRule must be 'ocpp16', 'ocpp201' or 'any', got ${JSON.stringify(c.passwordRule)}`);
  const keyProblem = authorizationKeyProblem(c);
  if (keyProblem) throw new CsmsUsageError(keyProblem);
  for (const [vendorId, d] of Object.entries(c.pnc.dialects)) {
    if (d !== 'oca' && d !== 'has2be') throw new CsmsUsageError(`pnc.dialects.${vendorId} must be 'oca' or 'has2be', got ${JSON.stringify(d)}`);
  }
  for (const [name, p] of [['pnc', c.pnc], ['security', c.security]] as const) {
    if (p.certificateSigned !== 'send' && p.certificateSigned !== 'never') throw new CsmsUsageError(`${name}.certificateSigned must be 'send' or 'never', got ${JSON.stringify(p.certificateSigned)}`);
    if (!(Number.isFinite(p.certificateSignedDelayMs) && p.certificateSignedDelayMs >= 0)) throw new CsmsUsageError(`${name}.certificateSignedDelayMs must be a number of milliseconds >= 0, got ${JSON.stringify(p.certificateSignedDelayMs)}`);
  }
  return c;
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  return o ? (Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>) : {};
}


/** Why the configured AuthorizationKey breaks `passwordRule`, or undefined. */
function authorizationKeyProblem(c: ChargerConfig): string | undefined {
  if (c.passwordRule === 'any') return undefined;
  const which = c.passwordHex !== undefined ? 'passwordHex' : 'password';
  if (c.passwordHex === undefined && c.password === undefined) return undefined;
  if (c.passwordRule === 'ocpp16') {
    const bytes = c.passwordHex !== undefined ? c.passwordHex.length / 2 : Buffer.byteLength(c.password as string, 'utf8');
    if (bytes < 16 || bytes > 20) return `${which}: the AuthorizationKey is ${bytes} bytes; OCPP 1.6 security needs 16–20 bytes (set passwordRule: 'any' for a charger that deviates)`;
    return undefined;
  }
  const chars = c.passwordHex !== undefined ? Buffer.from(c.passwordHex, 'hex').toString('utf8').length : [...(c.password as string)].length;
  if (chars < 16 || chars > 40) return `${which}: the password is ${chars} characters; the OCPP 2.0.1 rule needs 16–40 (set passwordRule: 'any' for a charger that deviates)`;
  return undefined;
}

/**
 * Checks the value of a ChangeConfiguration AuthorizationKey the CSMS is about to send and returns the
 * new key as the charger will use it, or a problem (a suite bug: CsmsUsageError).
 */
export function authorizationKeyChange(rule: ChargerConfig['passwordRule'], value: string): { ok: true; key: { passwordHex: string } | { password: string } } | { ok: false; problem: string } {
  const isHex = /^([0-9a-fA-F]{2})+$/.test(value);
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
