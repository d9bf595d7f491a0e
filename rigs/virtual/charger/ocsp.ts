// The simulated charger's OCSP cache of its SECC certificate chain (M06, OCA 1.6 PnC app note
// GetCertificateStatus; behaviour as libocpp's 1.6 implementation, reference/pnc-test-catalog.md
// §2.1): right after a CertificateSigned is accepted the charger refreshes the OCSP status of every
// V2G sub-CA of its new SECC chain with one DataTransfer GetCertificateStatus each (ocspRequestData =
// the sub-CA's hash data and the responderURL of its OCSP AIA). An answer Accepted with an ocspResult
// that verifies (RFC 6960: a response for that certificate, signed by its issuer or a delegated
// responder, current) is cached; anything else is logged and the old entry kept.
//
//   const ocsp = new OcspCache(host);
//   await ocsp.refresh('certificate-signed');   // → { requested: 2, cached: 2 }
//   ocsp.snapshot();                            // serial → status, producedAt, responderURL
import { ocspRequestData, verifyOcspResponse, type OcspRequestData, type PkiCert } from '../../../src/pki/index.ts';
import { seccIssuer } from './certstore.ts';
import { q } from './log.ts';
import type { PncHost } from './pnc.ts';

export interface OcspCacheEntry {
  subject: string;
  serialHex: string;
  responderURL: string;
  /** good / revoked / unknown, as the verified response says */
  certStatus: string;
  /** epoch ms the entry was cached */
  cachedAt: number;
  /** base64 DER OCSPResponse as the CSMS sent it */
  ocspResult: string;
}

export interface OcspRefreshResult {
  /** GetCertificateStatus requests sent */
  requested: number;
  /** responses verified and cached */
  cached: number;
}

/** The sub-CAs of the installed SECC chain with their issuers (an installed V2G root for the top one). */
function subCas(host: PncHost): { cert: PkiCert; issuer: PkiCert | undefined }[] {
  const secc = host.certs.secc;
  return secc ? secc.chain.slice(1).map((cert) => ({ cert, issuer: seccIssuer(secc, cert) })) : [];
}

export class OcspCache {
  private readonly entries = new Map<string, OcspCacheEntry>();
  private running: Promise<void> | undefined;
  private refreshes = 0;

  constructor(private readonly host: PncHost) {}

  /** The cached entry of a certificate (by serial, lower-case hex), if any. */
  get(serialHex: string): OcspCacheEntry | undefined {
    return this.entries.get(serialHex.toLowerCase());
  }

  /** Refreshes every sub-CA of the SECC chain (then installed); refreshes run one after another. */
  refresh(reason: string): Promise<OcspRefreshResult> {
    const next = (this.running ?? Promise.resolve()).then(() => this.doRefresh(reason));
    this.running = next.catch(() => undefined).then(() => undefined);
    return next;
  }

  private async doRefresh(reason: string): Promise<OcspRefreshResult> {
    const out: OcspRefreshResult = { requested: 0, cached: 0 };
    if (!this.host.online()) {
      this.host.logLine('pnc', `OCSP refresh reason=${reason} skipped: offline`);
      return out;
    }
    const list = subCas(this.host);
    this.refreshes++;
    this.host.logLine('pnc', `OCSP refresh reason=${reason} sub-CAs=${list.length}`);
    for (const { cert, issuer } of list) {
      if (!issuer) {
        this.host.logLine('pnc', `GetCertificateStatus not sent for ${q(cert.subject)}: its issuer is not installed`);
        continue;
      }
      let data: OcspRequestData;
      try {
        data = ocspRequestData(cert, issuer);
      } catch (e) {
        this.host.logLine('pnc', `GetCertificateStatus not sent for ${q(cert.subject)}: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      out.requested++;
      try {
        const a = await this.host.sendPnc('GetCertificateStatus', { ocspRequestData: { ...data } });
        const status = a.data?.status;
        const result = a.data?.ocspResult;
        if (a.status !== 'Accepted' || status !== 'Accepted' || typeof result !== 'string' || result === '') {
          this.host.logLine('pnc', `GetCertificateStatus serial=${cert.serialHex} answer outer=${a.status} status=${q(typeof status === 'string' ? status : undefined)}${typeof result === 'string' && result !== '' ? '' : ' without ocspResult'}: not cached`);
          continue;
        }
        const v = verifyOcspResponse(new Uint8Array(Buffer.from(result, 'base64')), { cert, issuer });
        if (!v.ok) {
          this.host.logLine('pnc', `GetCertificateStatus serial=${cert.serialHex}: ocspResult rejected (${v.error}): not cached`);
          continue;
        }
        this.entries.set(cert.serialHex.toLowerCase(), { subject: cert.subject, serialHex: cert.serialHex, responderURL: data.responderURL, certStatus: v.status.status, cachedAt: Date.now(), ocspResult: result });
        out.cached++;
        this.host.logLine('pnc', `GetCertificateStatus serial=${cert.serialHex} → Accepted: OCSP ${v.status.status} for ${q(cert.subject)} cached`);
      } catch (e) {
        this.host.logLine('pnc', `GetCertificateStatus serial=${cert.serialHex} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return out;
  }

  snapshot(): Record<string, unknown> {
    return {
      refreshes: this.refreshes,
      entries: [...this.entries.values()].map((e) => ({ subject: e.subject, serial: e.serialHex, responderURL: e.responderURL, certStatus: e.certStatus, cachedAt: new Date(e.cachedAt).toISOString() })),
    };
  }
}
