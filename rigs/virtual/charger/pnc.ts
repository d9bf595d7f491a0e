// The PnC side of the simulated charger's OCPP controller (OCA "ISO 15118 PnC with OCPP 1.6": OCPP
// 2.0.1 payloads as JSON text in DataTransfer.data, vendorId org.openchargealliance.iso15118pnc):
//
//   - `PncMessages.handle(dataTransfer)`: the CSMS-initiated messages — TriggerMessage(SignV2GCertificate),
//     CertificateSigned, InstallCertificate, DeleteCertificate, GetInstalledCertificateIds — answered
//     per rigs/virtual/README.md (outer DataTransfer status for routing problems and data that is not
//     JSON or fails its official 2.0.1 request schema, inner 2.0.1 status for business results);
//   - `CertSigning`: A02/A03 — a fresh P-256 key and a CSR (CN SeccLeafSubjectCommonName, O CpoName,
//     C SeccLeafSubjectCountry, DC=CPO) sent in SignCertificate, resent with the back-off of
//     CertSigningWaitMinimum / CertSigningRepeatTimes until a CertificateSigned comes, whose chain is
//     verified (src/pki validateCertificateChain, SECC profile) before the SECC leaf and key are
//     installed (else SecurityEventNotification InvalidChargePointCertificate); an accepted one starts
//     the OCSP refresh of the new chain's sub-CAs (GetCertificateStatus, ocsp.ts).
//
//   const signing = new CertSigning(host);  signing.start('trigger');
//   const pnc = new PncMessages(host, signing);  const conf = await pnc.handle(payload);
import { isPlainObject } from '../../../src/csms/frames.ts';
import type { PncCalls } from '../../../src/csms/messages.ts';
import { OcppSchemas, PNC_CSMS_MESSAGES, type PncCsmsMessage } from '../../../src/csms/schemas.ts';
import { buildCsrPem, bytesEqual, generateP256KeyPair, parseCertificateChainPem, pemToDer, privateKeyPem, spkiDer, validateCertificateChain, type P256KeyPair, type PkiCert } from '../../../src/pki/index.ts';
import type { CertificateStores } from './certstore.ts';
import type { ConfigStore } from './config.ts';
import type { FaultName } from './faults.ts';
import { q, type LogTag } from './log.ts';
import type { OcspCache } from './ocsp.ts';
import type { JsonObject } from './rpc.ts';

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
  async certificateSigned(req: PncCalls['CertificateSigned']['req']): Promise<{ status: 'Accepted' | 'Rejected'; reason: string }> {
    this.stopRetries('CertificateSigned received');
    const s = this.state;
    const result = this.verify(req, s);
    if (result.ok && s) {
      const pkcs8 = Buffer.from(pemToDer(privateKeyPem(s.key), 'PRIVATE KEY', 'key'));
      this.host.certs.setSecc(result.chain, result.path, pkcs8);
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

  /** The chain of a CertificateSigned: the outstanding CSR's key, then src/pki's SECC chain validation against the installed V2G roots. */
  private verify(req: PncCalls['CertificateSigned']['req'], s: SigningState | undefined): { ok: true; chain: PkiCert[]; path: PkiCert[] } | { ok: false; reason: string } {
    const fail = (reason: string) => ({ ok: false as const, reason });
    if (!s) return fail('no outstanding CSR');
    const type = req.certificateType;
    if (type !== undefined && type !== 'V2GCertificate') return fail(`certificateType ${type} is not V2GCertificate`);
    const pem = req.certificateChain;
    const max = this.host.config.int('CertificateSignedMaxChainSize');
    if (pem.length > max) return fail(`certificateChain is ${pem.length} characters; CertificateSignedMaxChainSize is ${max}`);
    let chain: PkiCert[];
    try {
      chain = parseCertificateChainPem(pem, 'certificateChain');
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e));
    }
    const leaf = chain[0] as PkiCert;
    if (!bytesEqual(leaf.spki, spkiDer(s.key))) return fail(`leaf "${leaf.subject}" does not carry the public key of the outstanding CSR`);
    const withoutRoot = chain.filter((c, i) => i === 0 || !c.isSelfIssued);
    // path to an installed V2G root, signatures, validity (root included), SECC profile (leaf DC=CPO, sub-CAs DC=V2G)
    const v = validateCertificateChain({ chain: withoutRoot, trustAnchors: this.host.certs.v2gRoots, domain: 'SECC' });
    const ignored = this.host.faults.has('accept-wrong-chain') ? ['path', 'signature'] : [];
    const bad = v.checks.find((c) => !c.ok && !ignored.includes(c.name));
    if (bad) return fail(bad.name === 'path' ? `chain does not lead to an installed V2G root: ${bad.detail}` : `${bad.name}: ${bad.detail}`);
    return { ok: true, chain: withoutRoot, path: v.path };
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

type PncReq<M extends PncCsmsMessage> = PncCalls[M]['req'];

export class PncMessages {
  constructor(
    private readonly host: PncHost,
    private readonly signing: CertSigning,
    /** refreshed right after a CertificateSigned is accepted (M06) */
    private readonly ocsp?: OcspCache,
  ) {}

  /** A CSMS DataTransfer with the PnC vendorId; returns the DataTransfer.conf payload. */
  async handle(payload: { messageId?: string; data?: string }): Promise<JsonObject> {
    const messageId = payload.messageId ?? '';
    if (!(PNC_CSMS_MESSAGES as readonly string[]).includes(messageId)) {
      this.host.logLine('pnc', `DataTransfer messageId=${q(messageId)} → UnknownMessageId`);
      return { status: 'UnknownMessageId' };
    }
    const m = messageId as PncCsmsMessage;
    let inner: unknown;
    try {
      inner = JSON.parse(payload.data ?? '');
    } catch {
      this.host.logLine('pnc', `${m}: data is not JSON → Rejected`);
      return { status: 'Rejected' };
    }
    // libocpp: GetInstalledCertificateIds with an empty type list → NotFound (the 2.0.1 schema's minItems 1 would reject it)
    if (m === 'GetInstalledCertificateIds' && isPlainObject(inner) && Array.isArray(inner.certificateType) && inner.certificateType.length === 0) {
      this.host.logLine('cert', 'GetInstalledCertificateIds types=none → NotFound (0)');
      return { status: 'Accepted', data: JSON.stringify({ status: 'NotFound' }) };
    }
    const bad = OcppSchemas.shared().validate201(m, 'req', inner);
    if (bad) {
      this.host.logLine('pnc', `${m}: data violates the 2.0.1 schema (${bad.message}) → Rejected`);
      return { status: 'Rejected' };
    }
    const conf = await this.dispatch(m, inner as JsonObject);
    return { status: 'Accepted', data: JSON.stringify(conf) };
  }

  /** `r`: the inner request, valid per its 2.0.1 schema. */
  private async dispatch(messageId: PncCsmsMessage, r: JsonObject): Promise<JsonObject> {
    const c = this.host.config;
    switch (messageId) {
      case 'TriggerMessage': {
        const { requestedMessage: what } = r as PncReq<'TriggerMessage'>;
        if (what !== 'SignV2GCertificate') {
          this.host.logLine('pnc', `TriggerMessage requestedMessage=${what} → Rejected`);
          return { status: 'Rejected' };
        }
        this.host.logLine('pnc', 'TriggerMessage requestedMessage=SignV2GCertificate → Accepted');
        setTimeout(() => this.signing.start('trigger'), 0); // after the answer is on its way
        return { status: 'Accepted' };
      }
      case 'CertificateSigned': {
        const res = await this.signing.certificateSigned(r as PncReq<'CertificateSigned'>);
        // M06 (libocpp): a new SECC chain gets its sub-CAs' OCSP status at once, after this answer is on its way
        if (res.status === 'Accepted' && this.ocsp) {
          const ocsp = this.ocsp;
          setTimeout(() => void ocsp.refresh('certificate-signed'), 0);
        }
        return { status: res.status };
      }
      case 'InstallCertificate': {
        const { certificateType: type, certificate } = r as PncReq<'InstallCertificate'>;
        const res = this.host.certs.install(type, certificate, { maxLength: c.int('CertificateStoreMaxLength'), allowNonRoot: this.host.faults.has('accept-non-root-install') });
        if (res.status === 'Accepted' && res.cert) this.host.logLine('cert', `certificate installed type=${type} subject=${q(res.cert.subject)} serial=${res.cert.serialHex}`);
        else this.host.logLine('cert', `InstallCertificate type=${type} → ${res.status}: ${res.reason}`);
        return { status: res.status };
      }
      case 'DeleteCertificate': {
        const res = this.host.certs.delete((r as PncReq<'DeleteCertificate'>).certificateHashData, { allowLastV2GRoot: this.host.faults.has('delete-last-root') });
        this.host.logLine('cert', `DeleteCertificate → ${res.status}: ${res.reason}${res.cert ? ` subject=${q(res.cert.subject)}` : ''}`);
        return { status: res.status };
      }
      case 'GetInstalledCertificateIds': {
        const { certificateType: types } = r as PncReq<'GetInstalledCertificateIds'>;
        if (types === undefined && this.host.faults.has('installed-ids-omitted-type-notfound')) {
          this.host.logLine('cert', 'GetInstalledCertificateIds (type omitted) → NotFound');
          return { status: 'NotFound' };
        }
        const res = this.host.certs.installedIds(types);
        this.host.logLine('cert', `GetInstalledCertificateIds types=${types === undefined ? 'all' : types.join(',')} → ${res.status} (${res.certificateHashDataChain.length})`);
        return res.status === 'Accepted' ? { status: 'Accepted', certificateHashDataChain: res.certificateHashDataChain } : { status: 'NotFound' };
      }
    }
  }
}
