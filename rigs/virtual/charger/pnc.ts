// The PnC side of the simulated charger's OCPP controller (OCA "ISO 15118 PnC with OCPP 1.6": OCPP
// 2.0.1 payloads as JSON text in DataTransfer.data, vendorId org.openchargealliance.iso15118pnc):
//
//   - `PncMessages.handle(dataTransfer)`: the CSMS-initiated messages — TriggerMessage(SignV2GCertificate),
//     CertificateSigned, InstallCertificate, DeleteCertificate, GetInstalledCertificateIds — answered
//     per rigs/virtual/README.md (outer DataTransfer status for routing/parse problems, inner 2.0.1
//     status for business results);
//   - `CertSigning`: A02/A03 — a fresh P-256 key and a CSR (CN SeccLeafSubjectCommonName, O CpoName,
//     C SeccLeafSubjectCountry, DC=CPO) sent in SignCertificate, resent with the back-off of
//     CertSigningWaitMinimum / CertSigningRepeatTimes until a CertificateSigned comes, whose chain is
//     verified before the SECC leaf and key are installed (else SecurityEventNotification
//     InvalidChargePointCertificate); an accepted one starts the OCSP refresh of the new chain's
//     sub-CAs (GetCertificateStatus, ocsp.ts).
//
//   const signing = new CertSigning(host);  signing.start('trigger');
//   const pnc = new PncMessages(host, signing);  const conf = await pnc.handle(payload);
import {
  buildCsrPem,
  buildPath,
  generateP256KeyPair,
  parseCertificateChainPem,
  pemToDer,
  privateKeyPem,
  spkiDer,
  verifyCertificateSignature,
  type P256KeyPair,
  type PkiCert,
} from '../../../src/pki/index.ts';
import type { CertificateStores } from './certstore.ts';
import type { ConfigStore } from './config.ts';
import type { FaultName } from './faults.ts';
import { q, type LogTag } from './log.ts';
import type { OcspCache } from './ocsp.ts';
import type { JsonObject } from './rpc.ts';

export const PNC_VENDOR_ID = 'org.openchargealliance.iso15118pnc';
/** What the `wrong-vendor-id` fault sends instead. */
export const WRONG_PNC_VENDOR_ID = 'org.openchargealliance.iso15118';

/** The result of a PnC DataTransfer the charger sent. */
export interface PncAnswer {
  /** outer DataTransfer status */
  status: string;
  /** the inner 2.0.1 response, when `data` was JSON object text */
  data?: JsonObject;
}

/** What the PnC parts need from the charge-point controller. */
export interface PncHost {
  readonly config: ConfigStore;
  readonly faults: ReadonlySet<FaultName>;
  readonly certs: CertificateStores;
  logLine(tag: LogTag, text: string): void;
  /** WebSocket open and BootNotification accepted */
  online(): boolean;
  /** DataTransfer(PnC vendorId, messageId, JSON text of `inner`) */
  sendPnc(messageId: string, inner: JsonObject, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<PncAnswer>;
  /** a plain OCPP 1.6 CALL */
  sendCore(action: string, payload: JsonObject, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<JsonObject>;
}

const isObj = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

// ------------------------------------------------------------------ A02 / A03

interface SigningState {
  key: P256KeyPair;
  csr: string;
  reason: string;
  sends: number;
  timer: NodeJS.Timeout | undefined;
  retrying: boolean;
}

export class CertSigning {
  private state: SigningState | undefined;
  private stopped = false;
  /** epoch ms of each SignCertificate send of the current flow (for snapshots and tests) */
  readonly sendTimes: number[] = [];

  constructor(private readonly host: PncHost) {}

  /** A flow is waiting for its CertificateSigned (whether or not resends are still scheduled). */
  get outstanding(): boolean {
    return this.state !== undefined;
  }

  get retrying(): boolean {
    return this.state?.retrying === true;
  }

  /** Starts a new flow with a fresh key and CSR (replacing any outstanding one). */
  start(reason: string): void {
    if (this.stopped) return;
    this.cancelTimer();
    const c = this.host.config;
    const key = generateP256KeyPair();
    const subject = { CN: c.get('SeccLeafSubjectCommonName'), O: c.get('CpoName'), C: c.get('SeccLeafSubjectCountry'), DC: 'CPO' };
    let csr: string;
    try {
      csr = buildCsrPem(key, subject);
    } catch (e) {
      this.host.logLine('pnc', `SignCertificate not sent: cannot build the CSR (${e instanceof Error ? e.message : String(e)})`);
      return;
    }
    this.state = { key, csr, reason, sends: 0, timer: undefined, retrying: true };
    this.sendTimes.length = 0;
    this.host.logLine('pnc', `CSR created reason=${reason} subject=${q(`CN=${subject.CN}, O=${subject.O}, C=${subject.C}, DC=CPO`)}`);
    void this.send(this.state);
  }

  private cancelTimer(): void {
    if (this.state?.timer) clearTimeout(this.state.timer);
    if (this.state) this.state.timer = undefined;
  }

  /** Stops the retries (the flow stays outstanding for a late CertificateSigned). */
  private stopRetries(why: string): void {
    if (!this.state) return;
    this.cancelTimer();
    if (this.state.retrying) this.host.logLine('pnc', `SignCertificate retries stopped: ${why}`);
    this.state.retrying = false;
  }

  private async send(s: SigningState): Promise<void> {
    if (this.state !== s || this.stopped) return;
    s.sends++;
    this.sendTimes.push(Date.now());
    const n = s.sends;
    const repeat = this.host.config.int('CertSigningRepeatTimes');
    // schedule the next resend from this send (A02.FR.17–19): k-th resend WaitMinimum × 2^(k-1) after the previous send
    if (n <= repeat) {
      const delayMs = this.host.faults.has('no-backoff') ? 100 : this.host.config.int('CertSigningWaitMinimum') * 1000 * 2 ** (n - 1);
      s.timer = setTimeout(() => void this.send(s), delayMs);
    } else {
      s.timer = undefined;
      s.retrying = false;
    }
    this.host.logLine('pnc', `SignCertificate send=${n}/${repeat + 1} certificateType=V2GCertificate`);
    try {
      const a = await this.host.sendPnc('SignCertificate', { csr: s.csr, certificateType: 'V2GCertificate' });
      const inner = a.data?.status;
      this.host.logLine('pnc', `SignCertificate answer outer=${a.status} status=${q(typeof inner === 'string' ? inner : undefined)}`);
      if (this.state === s && (a.status !== 'Accepted' || inner !== 'Accepted')) this.stopRetries(`SignCertificate answered ${a.status}/${String(inner)}`);
    } catch (e) {
      this.host.logLine('pnc', `SignCertificate send=${n} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** CertificateSigned (A02/A03): verify, install, or reject with a security event. */
  async certificateSigned(req: JsonObject): Promise<{ status: 'Accepted' | 'Rejected'; reason: string }> {
    this.stopRetries('CertificateSigned received');
    const s = this.state;
    const result = this.verify(req, s);
    if (result.ok && s) {
      const pkcs8 = Buffer.from(pemToDer(privateKeyPem(s.key), 'PRIVATE KEY', 'key'));
      this.host.certs.setSecc(result.chain, pkcs8);
      this.state = undefined;
      const leaf = result.chain[0] as PkiCert;
      this.host.logLine('cert', `certificate installed type=V2GCertificateChain subject=${q(leaf.subject)} serial=${leaf.serialHex} notAfter=${leaf.notAfter.toISOString()}`);
      return { status: 'Accepted', reason: 'installed' };
    }
    const reason = result.ok ? 'no outstanding CSR' : result.reason;
    this.host.logLine('cert', `CertificateSigned rejected: ${reason}`);
    void this.host
      .sendCore('SecurityEventNotification', { type: 'InvalidChargePointCertificate', timestamp: new Date().toISOString(), techInfo: reason.slice(0, 255) })
      .then(() => this.host.logLine('ocpp', 'SecurityEventNotification InvalidChargePointCertificate sent'))
      .catch((e: unknown) => this.host.logLine('ocpp', `SecurityEventNotification not sent: ${e instanceof Error ? e.message : String(e)}`));
    return { status: 'Rejected', reason };
  }

  private verify(req: JsonObject, s: SigningState | undefined): { ok: true; chain: PkiCert[] } | { ok: false; reason: string } {
    const fail = (reason: string) => ({ ok: false as const, reason });
    if (!s) return fail('no outstanding CSR');
    const type = req.certificateType;
    if (type !== undefined && type !== 'V2GCertificate') return fail(`certificateType ${String(type)} is not V2GCertificate`);
    const pem = req.certificateChain as string;
    const max = this.host.config.int('CertificateSignedMaxChainSize');
    if (pem.length > max) return fail(`certificateChain is ${pem.length} characters; CertificateSignedMaxChainSize is ${max}`);
    let chain: PkiCert[];
    try {
      chain = parseCertificateChainPem(pem, 'certificateChain');
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e));
    }
    const leaf = chain[0] as PkiCert;
    if (Buffer.compare(Buffer.from(leaf.spki), Buffer.from(spkiDer(s.key))) !== 0) return fail(`leaf "${leaf.subject}" does not carry the public key of the outstanding CSR`);
    if (!leaf.subjectField('DC').includes('CPO')) return fail(`leaf "${leaf.subject}" has no DC=CPO`);
    const now = Date.now();
    for (const c of chain) {
      if (c.notBefore.getTime() > now + 60_000 || c.notAfter.getTime() < now) return fail(`"${c.subject}" is not valid now (${c.notBefore.toISOString()} .. ${c.notAfter.toISOString()})`);
    }
    const withoutRoot = chain.filter((c, i) => i === 0 || !c.isSelfIssued);
    if (!this.host.faults.has('accept-wrong-chain')) {
      const roots = this.host.certs.v2gRoots;
      const { path, error } = buildPath(withoutRoot, roots);
      if (error) return fail(`chain does not lead to an installed V2G root: ${error}`);
      for (let i = 0; i + 1 < path.length; i++) {
        const child = path[i] as PkiCert;
        const parent = path[i + 1] as PkiCert;
        if (!verifyCertificateSignature(child, parent.spki)) return fail(`signature of "${child.subject}" does not verify with "${parent.subject}"`);
        if (i > 0 && child.basicConstraints?.ca !== true) return fail(`"${child.subject}" issues a certificate but is not a CA`);
      }
      const root = path[path.length - 1] as PkiCert;
      if (root.notAfter.getTime() < now) return fail(`V2G root "${root.subject}" has expired`);
    }
    return { ok: true, chain: withoutRoot };
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer();
  }

  /** After a reboot: the flow is forgotten (a new CSR will be made when needed). */
  reset(): void {
    this.cancelTimer();
    this.state = undefined;
  }

  snapshot(): Record<string, unknown> {
    return { outstanding: this.outstanding, retrying: this.retrying, sends: this.state?.sends ?? 0, reason: this.state?.reason ?? null, sendTimes: [...this.sendTimes] };
  }
}

// ------------------------------------------------------------------ CSMS → charger PnC messages

const CSMS_MESSAGES = ['TriggerMessage', 'CertificateSigned', 'InstallCertificate', 'DeleteCertificate', 'GetInstalledCertificateIds'] as const;
const INSTALL_TYPES = ['V2GRootCertificate', 'MORootCertificate', 'CSMSRootCertificate', 'ManufacturerRootCertificate'];
const GET_IDS_TYPES = ['V2GRootCertificate', 'MORootCertificate', 'CSMSRootCertificate', 'V2GCertificateChain', 'ManufacturerRootCertificate'];
const HASH_ALGS = ['SHA256', 'SHA384', 'SHA512'];
const TRIGGER_VALUES = [
  'BootNotification',
  'LogStatusNotification',
  'FirmwareStatusNotification',
  'Heartbeat',
  'MeterValues',
  'SignChargingStationCertificate',
  'SignV2GCertificate',
  'StatusNotification',
  'TransactionEvent',
  'SignCombinedCertificate',
  'PublishFirmwareStatusNotification',
];

class BadData extends Error {}

function str(o: JsonObject, k: string, maxLength: number, optional = false): string | undefined {
  const v = o[k];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string') throw new BadData(`${k} must be a string`);
  if (v.length > maxLength) throw new BadData(`${k} longer than ${maxLength}`);
  return v;
}

function checkHashData(v: unknown): void {
  if (!isObj(v)) throw new BadData('certificateHashData must be an object');
  const alg = v.hashAlgorithm;
  if (typeof alg !== 'string' || !HASH_ALGS.includes(alg)) throw new BadData(`hashAlgorithm ${JSON.stringify(alg)} is not one of ${HASH_ALGS.join(', ')}`);
  str(v, 'issuerNameHash', 128);
  str(v, 'issuerKeyHash', 128);
  str(v, 'serialNumber', 40);
}

export class PncMessages {
  constructor(
    private readonly host: PncHost,
    private readonly signing: CertSigning,
    /** refreshed right after a CertificateSigned is accepted (M06) */
    private readonly ocsp?: OcspCache,
  ) {}

  /** A CSMS DataTransfer with the PnC vendorId; returns the DataTransfer.conf payload. */
  async handle(payload: JsonObject): Promise<JsonObject> {
    const messageId = typeof payload.messageId === 'string' ? payload.messageId : '';
    if (!(CSMS_MESSAGES as readonly string[]).includes(messageId)) {
      this.host.logLine('pnc', `DataTransfer messageId=${q(messageId)} → UnknownMessageId`);
      return { status: 'UnknownMessageId' };
    }
    let inner: unknown;
    try {
      inner = JSON.parse(typeof payload.data === 'string' ? payload.data : '');
    } catch {
      this.host.logLine('pnc', `${messageId}: data is not JSON → Rejected`);
      return { status: 'Rejected' };
    }
    if (!isObj(inner)) {
      this.host.logLine('pnc', `${messageId}: data is not a JSON object → Rejected`);
      return { status: 'Rejected' };
    }
    let conf: JsonObject;
    try {
      conf = await this.dispatch(messageId as (typeof CSMS_MESSAGES)[number], inner);
    } catch (e) {
      if (!(e instanceof BadData)) throw e;
      this.host.logLine('pnc', `${messageId}: ${e.message} → Rejected`);
      return { status: 'Rejected' };
    }
    return { status: 'Accepted', data: JSON.stringify(conf) };
  }

  private async dispatch(messageId: (typeof CSMS_MESSAGES)[number], r: JsonObject): Promise<JsonObject> {
    const c = this.host.config;
    switch (messageId) {
      case 'TriggerMessage': {
        const what = str(r, 'requestedMessage', 50) as string;
        if (!TRIGGER_VALUES.includes(what)) throw new BadData(`requestedMessage "${what}" is not a MessageTriggerEnumType value`);
        if (what !== 'SignV2GCertificate') {
          this.host.logLine('pnc', `TriggerMessage requestedMessage=${what} → Rejected`);
          return { status: 'Rejected' };
        }
        this.host.logLine('pnc', 'TriggerMessage requestedMessage=SignV2GCertificate → Accepted');
        setTimeout(() => this.signing.start('trigger'), 0); // after the answer is on its way
        return { status: 'Accepted' };
      }
      case 'CertificateSigned': {
        str(r, 'certificateChain', 100_000);
        const t = str(r, 'certificateType', 50, true);
        if (t !== undefined && t !== 'ChargingStationCertificate' && t !== 'V2GCertificate') throw new BadData(`certificateType "${t}" is not a CertificateSigningUseEnumType value`);
        const res = await this.signing.certificateSigned(r);
        // M06 (libocpp): a new SECC chain gets its sub-CAs' OCSP status at once, after this answer is on its way
        if (res.status === 'Accepted' && this.ocsp) {
          const ocsp = this.ocsp;
          setTimeout(() => void ocsp.refresh('certificate-signed'), 0);
        }
        return { status: res.status };
      }
      case 'InstallCertificate': {
        const type = str(r, 'certificateType', 50) as string;
        if (!INSTALL_TYPES.includes(type)) throw new BadData(`certificateType "${type}" is not an InstallCertificateUseEnumType value`);
        str(r, 'certificate', 5_500);
        const res = this.host.certs.install(type, r.certificate, { maxLength: c.int('CertificateStoreMaxLength'), allowNonRoot: this.host.faults.has('accept-non-root-install') });
        if (res.status === 'Accepted' && res.cert) this.host.logLine('cert', `certificate installed type=${type} subject=${q(res.cert.subject)} serial=${res.cert.serialHex}`);
        else this.host.logLine('cert', `InstallCertificate type=${type} → ${res.status}: ${res.reason}`);
        return { status: res.status };
      }
      case 'DeleteCertificate': {
        checkHashData(r.certificateHashData);
        const res = this.host.certs.delete(r.certificateHashData, { allowLastV2GRoot: this.host.faults.has('delete-last-root') });
        this.host.logLine('cert', `DeleteCertificate → ${res.status}: ${res.reason}${res.cert ? ` subject=${q(res.cert.subject)}` : ''}`);
        return { status: res.status };
      }
      case 'GetInstalledCertificateIds': {
        const types = r.certificateType;
        if (types !== undefined) {
          if (!Array.isArray(types) || types.some((t) => typeof t !== 'string' || !GET_IDS_TYPES.includes(t))) throw new BadData(`certificateType ${JSON.stringify(types)} is not a list of GetCertificateIdUseEnumType values`);
        } else if (this.host.faults.has('installed-ids-omitted-type-notfound')) {
          this.host.logLine('cert', 'GetInstalledCertificateIds (type omitted) → NotFound');
          return { status: 'NotFound' };
        }
        const res = this.host.certs.installedIds(types as string[] | undefined);
        this.host.logLine('cert', `GetInstalledCertificateIds types=${types === undefined ? 'all' : (types as string[]).join(',') || 'none'} → ${res.status} (${res.certificateHashDataChain.length})`);
        return res.status === 'Accepted' ? { status: 'Accepted', certificateHashDataChain: res.certificateHashDataChain as unknown as JsonObject[] } : { status: 'NotFound' };
      }
    }
  }
}
