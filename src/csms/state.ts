// What the mock CSMS knows about one charger, built from the traffic: boot notification and the
// status it was given, connector statuses, configuration keys it reported or accepted, the local
// authorisation list, transactions, security events, and two certificate stores kept apart — the
// OCPP 1.6 security one (ChargePointCertificate, CentralSystem/Manufacturer roots) and the PnC one
// (V2G certificates, V2G/MO roots) — because the two families share message names but not meaning.
//
//   const s = csms.chargePoint('CP1').state;
//   s.boot?.status; s.configuration.get('HeartbeatInterval')?.value; s.transactions.get(1)?.stoppedAt;
//   s.certificates.pnc.list('V2GCertificate');
import type { JsonObject } from '../../drivers/capabilities.ts';
import { hashDataMatches, type CertificateHashData } from '../pki/index.ts';
import type { IdTagInfo } from './messages.ts';

export type CertificateFamily = 'security' | 'pnc';

export interface StoredCertificate {
  /** certificateType as the family names it (ChargePointCertificate, V2GCertificate, V2GRootCertificate, ...) */
  certificateType: string;
  /** PEM when the CSMS saw the certificate itself */
  pem?: string;
  hashData?: CertificateHashData;
  /** how the CSMS learnt about it */
  source: 'signed' | 'installed' | 'reported';
  /** epoch ms */
  t: number;
}

/** One family's certificates as far as the CSMS knows them; nothing here crosses families. */
export class CertificateStore {
  private readonly entries: StoredCertificate[] = [];
  constructor(readonly family: CertificateFamily) {}

  add(e: StoredCertificate): void {
    this.entries.push(e);
  }

  list(certificateType?: string): StoredCertificate[] {
    return this.entries.filter((e) => certificateType === undefined || e.certificateType === certificateType);
  }

  /** Replaces what the charger last reported for these types (GetInstalledCertificateIds). */
  replaceReported(types: readonly string[], reported: StoredCertificate[]): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i] as StoredCertificate;
      if (e.source === 'reported' && (types.length === 0 || types.includes(e.certificateType))) this.entries.splice(i, 1);
    }
    this.entries.push(...reported);
  }

  /** Removes entries whose hash data matches (after an Accepted DeleteCertificate). */
  removeByHash(h: CertificateHashData): number {
    let n = 0;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const d = this.entries[i]?.hashData;
      if (d && hashDataMatches(d, h)) {
        this.entries.splice(i, 1);
        n++;
      }
    }
    return n;
  }

  toJSON(): StoredCertificate[] {
    return this.entries.map((e) => ({ ...e }));
  }
}

export interface TransactionRecord {
  transactionId: number;
  connectorId: number;
  idTag: string;
  meterStartWh: number;
  /** the charger's timestamp */
  timestamp: string;
  /** epoch ms when StartTransaction arrived */
  startedAt: number;
  meterValues: number;
  stoppedAt?: number;
  meterStopWh?: number;
  stopReason?: string;
}

export interface ConfigurationEntry {
  value: string | undefined;
  readonly?: boolean;
  source: 'GetConfiguration' | 'ChangeConfiguration';
  t: number;
}

export interface SecurityEvent {
  type: string;
  timestamp: string;
  techInfo?: string;
  t: number;
}

export class ChargePointState {
  /** last BootNotification payload and what the CSMS answered */
  boot: { payload: JsonObject; status: string; t: number } | undefined;
  // created on first use: a bench may hold thousands of idle chargers
  #connectors: Map<number, { status: string; errorCode: string; t: number; info?: string }> | undefined;
  #configuration: Map<string, ConfigurationEntry> | undefined;
  #localList: { version: number | undefined; entries: Map<string, IdTagInfo | undefined> } | undefined;
  #transactions: Map<number, TransactionRecord> | undefined;
  #securityEvents: SecurityEvent[] | undefined;
  #notifications: { action: string; payload: JsonObject; t: number }[] | undefined;
  #certificates: { security: CertificateStore; pnc: CertificateStore } | undefined;

  /** connectorId → last StatusNotification */
  get connectors(): Map<number, { status: string; errorCode: string; t: number; info?: string }> {
    return (this.#connectors ??= new Map());
  }
  get configuration(): Map<string, ConfigurationEntry> {
    return (this.#configuration ??= new Map());
  }
  get localList(): { version: number | undefined; entries: Map<string, IdTagInfo | undefined> } {
    return (this.#localList ??= { version: undefined, entries: new Map() });
  }
  get transactions(): Map<number, TransactionRecord> {
    return (this.#transactions ??= new Map());
  }
  get securityEvents(): SecurityEvent[] {
    return (this.#securityEvents ??= []);
  }
  /** LogStatusNotification / SignedFirmwareStatusNotification / FirmwareStatusNotification / DiagnosticsStatusNotification */
  get notifications(): { action: string; payload: JsonObject; t: number }[] {
    return (this.#notifications ??= []);
  }
  /** the two certificate stores, kept apart */
  get certificates(): { security: CertificateStore; pnc: CertificateStore } {
    return (this.#certificates ??= { security: new CertificateStore('security'), pnc: new CertificateStore('pnc') });
  }
  lastHeartbeatAt: number | undefined;
  connects = 0;
  /** configuration value as last seen, or undefined */
  config(key: string): string | undefined {
    return this.#configuration?.get(key)?.value;
  }

  toJSON(): JsonObject {
    return {
      boot: this.boot ? { status: this.boot.status, t: this.boot.t, payload: this.boot.payload } : null,
      connectors: Object.fromEntries([...this.connectors].map(([k, v]) => [String(k), v])),
      configuration: Object.fromEntries(this.configuration),
      localList: { version: this.localList.version ?? null, entries: Object.fromEntries(this.localList.entries) },
      transactions: [...this.transactions.values()],
      securityEvents: this.securityEvents,
      notifications: this.notifications.length,
      certificates: { security: this.certificates.security.toJSON(), pnc: this.certificates.pnc.toJSON() },
      lastHeartbeatAt: this.lastHeartbeatAt ?? null,
      connects: this.connects,
    };
  }
}
