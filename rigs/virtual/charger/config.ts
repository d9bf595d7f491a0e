// The simulated charger's configuration keys (OCPP 1.6 GetConfiguration / ChangeConfiguration): the
// core keys a 1.6 charger reports plus the PnC / security keys of the app note, with types, bounds,
// read-only flags and defaults (rigs/virtual/README.md, "The simulated charger"). Factory overrides
// (`VirtualChargerOptions.config`) are validated here; a bad one is an error naming the key.
//
//   const cfg = new ConfigStore({ CertSigningWaitMinimum: '1' });
//   cfg.bool('ISO15118PnCEnabled'); cfg.int('HeartbeatInterval');
//   cfg.change('HeartbeatInterval', '60')   // 'Accepted' | 'Rejected' | 'NotSupported'
//   cfg.onChange((key, value) => ...)
import type { Ocpp16Calls } from '../../../src/csms/messages.ts';

export type ConfigKeyType = 'bool' | 'int' | 'string' | 'list';

export interface ConfigKeyDef {
  type: ConfigKeyType;
  readonly: boolean;
  default: string;
  /** int: inclusive range */
  min?: number;
  max?: number;
  /** string: length range and pattern */
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
  /** list: allowed members (comma-separated value) */
  members?: readonly string[];
}

export const SUPPORTED_MEASURANDS = ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import', 'Voltage'] as const;

const bool = (def: boolean, readonly = false): ConfigKeyDef => ({ type: 'bool', readonly, default: String(def) });
const int = (def: number, min: number, max: number, readonly = false): ConfigKeyDef => ({ type: 'int', readonly, default: String(def), min, max });

/** Every key the charger knows. README "The simulated charger" documents the PnC/security ones. */
export const CONFIG_KEYS = {
  // PnC (OCA app note) and security
  ISO15118PnCEnabled: bool(true),
  CentralContractValidationAllowed: bool(false),
  ContractValidationOffline: bool(true),
  CertSigningWaitMinimum: int(30, 0, 86_400),
  CertSigningRepeatTimes: int(2, 0, 100),
  CertificateSignedMaxChainSize: int(10_000, 1, 100_000, true),
  CertificateStoreMaxLength: int(20, 1, 1_000, true),
  CpoName: { type: 'string', readonly: false, default: 'PNCBENCH', minLength: 1, maxLength: 64 },
  SeccLeafSubjectCommonName: { type: 'string', readonly: false, default: 'DEPNB1VIRTUAL1', minLength: 7, maxLength: 64 },
  SeccLeafSubjectCountry: { type: 'string', readonly: false, default: 'DE', pattern: /^[A-Z]{2}$/ },
  SecurityProfile: int(0, 0, 1, true),
  // Core
  AllowOfflineTxForUnknownId: bool(false),
  AuthorizationCacheEnabled: bool(true),
  AuthorizeRemoteTxRequests: bool(false),
  ClockAlignedDataInterval: int(0, 0, 86_400),
  ConnectionTimeOut: int(60, 1, 3_600),
  GetConfigurationMaxKeys: int(100, 1, 1_000, true),
  HeartbeatInterval: int(300, 0, 86_400),
  LocalAuthorizeOffline: bool(true),
  LocalPreAuthorize: bool(false),
  MeterValuesAlignedData: { type: 'list', readonly: false, default: '', members: SUPPORTED_MEASURANDS },
  MeterValuesSampledData: { type: 'list', readonly: false, default: 'Energy.Active.Import.Register,Power.Active.Import', members: SUPPORTED_MEASURANDS },
  MeterValueSampleInterval: int(60, 0, 86_400),
  NumberOfConnectors: int(1, 1, 1, true),
  ResetRetries: int(1, 0, 10),
  StopTransactionOnEVSideDisconnect: bool(true),
  StopTransactionOnInvalidId: bool(true),
  SupportedFeatureProfiles: { type: 'list', readonly: true, default: 'Core,LocalAuthListManagement,RemoteTrigger' },
  TransactionMessageAttempts: int(3, 1, 100),
  TransactionMessageRetryInterval: int(60, 0, 3_600),
  UnlockConnectorOnEVSideDisconnect: bool(true),
  // Local auth list management
  LocalAuthListEnabled: bool(true),
  LocalAuthListMaxLength: int(100, 1, 10_000, true),
  SendLocalListMaxLength: int(100, 1, 10_000, true),
} satisfies Record<string, ConfigKeyDef>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export const CONFIG_KEY_NAMES: readonly ConfigKey[] = Object.freeze(Object.keys(CONFIG_KEYS) as ConfigKey[]);

export function isConfigKey(k: string): k is ConfigKey {
  return Object.prototype.hasOwnProperty.call(CONFIG_KEYS, k);
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Why `value` is not acceptable for `key`, or undefined when it is. */
export function checkValue(key: ConfigKey, value: string): string | undefined {
  const d: ConfigKeyDef = CONFIG_KEYS[key];
  if (typeof value !== 'string') return 'value must be a string';
  if (value.length > 500) return 'value longer than 500 characters (CiString500)';
  switch (d.type) {
    case 'bool':
      return /^(true|false)$/i.test(value) ? undefined : `"${value}" is not true or false`;
    case 'int': {
      if (!/^-?\d+$/.test(value)) return `"${value}" is not an integer`;
      const n = Number(value);
      if (d.min !== undefined && n < d.min) return `${n} is below ${d.min}`;
      if (d.max !== undefined && n > d.max) return `${n} is above ${d.max}`;
      return undefined;
    }
    case 'string':
      if (d.minLength !== undefined && value.length < d.minLength) return `"${value}" is shorter than ${d.minLength} characters`;
      if (d.maxLength !== undefined && value.length > d.maxLength) return `"${value}" is longer than ${d.maxLength} characters`;
      if (d.pattern && !d.pattern.test(value)) return `"${value}" does not match ${d.pattern.source}`;
      return undefined;
    case 'list': {
      if (value === '' || !d.members) return undefined;
      const bad = value.split(',').map((s) => s.trim()).filter((m) => !d.members?.includes(m));
      return bad.length ? `unsupported member(s) ${bad.join(', ')}; supported: ${d.members.join(', ')}` : undefined;
    }
  }
}

export type ChangeConfigurationStatus = Ocpp16Calls['ChangeConfiguration']['conf']['status'];

export interface KeyValue {
  key: string;
  readonly: boolean;
  value: string;
}

export class ConfigStore {
  private readonly values = new Map<ConfigKey, string>();
  private readonly listeners: ((key: ConfigKey, value: string) => void)[] = [];

  /** `overrides`: factory values (read-only keys included); unknown keys and bad values throw ConfigError. */
  constructor(overrides: Record<string, string> = {}, field = 'config') {
    for (const k of CONFIG_KEY_NAMES) this.values.set(k, CONFIG_KEYS[k].default);
    for (const [k, v] of Object.entries(overrides)) {
      if (!isConfigKey(k)) throw new ConfigError(`${field}.${k}: unknown configuration key; known keys: ${CONFIG_KEY_NAMES.join(', ')}`);
      const why = checkValue(k, v);
      if (why) throw new ConfigError(`${field}.${k}: ${why}`);
      this.values.set(k, normalise(k, v));
    }
  }

  get(key: ConfigKey): string {
    return this.values.get(key) as string;
  }

  bool(key: ConfigKey): boolean {
    return this.get(key).toLowerCase() === 'true';
  }

  int(key: ConfigKey): number {
    return Number(this.get(key));
  }

  list(key: ConfigKey): string[] {
    const v = this.get(key);
    return v === '' ? [] : v.split(',').map((s) => s.trim());
  }

  /** Firmware-side write (no read-only check), e.g. HeartbeatInterval from the BootNotification answer. */
  setInternal(key: ConfigKey, value: string): void {
    const why = checkValue(key, value);
    if (why) throw new ConfigError(`${key}: ${why}`);
    this.set(key, normalise(key, value));
  }

  /** ChangeConfiguration semantics. */
  change(key: string, value: string): ChangeConfigurationStatus {
    if (!isConfigKey(key)) return 'NotSupported';
    if (CONFIG_KEYS[key].readonly) return 'Rejected';
    if (checkValue(key, value)) return 'Rejected';
    this.set(key, normalise(key, value));
    return 'Accepted';
  }

  /** GetConfiguration semantics: `keys` absent or empty → all keys. */
  read(keys?: readonly string[]): { configurationKey: KeyValue[]; unknownKey: string[] } {
    const wanted = keys && keys.length > 0 ? keys : CONFIG_KEY_NAMES;
    const configurationKey: KeyValue[] = [];
    const unknownKey: string[] = [];
    for (const k of wanted) {
      if (isConfigKey(k)) configurationKey.push({ key: k, readonly: CONFIG_KEYS[k].readonly, value: this.get(k) });
      else unknownKey.push(k);
    }
    return { configurationKey, unknownKey };
  }

  onChange(fn: (key: ConfigKey, value: string) => void): void {
    this.listeners.push(fn);
  }

  snapshot(): Record<string, string> {
    return Object.fromEntries(this.values);
  }

  private set(key: ConfigKey, value: string): void {
    const old = this.values.get(key);
    this.values.set(key, value);
    if (old !== value) for (const l of this.listeners) l(key, value);
  }
}

function normalise(key: ConfigKey, value: string): string {
  const t = CONFIG_KEYS[key].type;
  if (t === 'bool') return value.toLowerCase();
  if (t === 'int') return String(Number(value));
  if (t === 'list') return value.split(',').map((s) => s.trim()).filter((s) => s !== '').join(',');
  return value;
}
