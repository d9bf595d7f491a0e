// The OCA "Using ISO 15118 Plug & Charge with OCPP 1.6" extension on the CSMS side: OCPP 2.0.1
// messages carried as JSON text in DataTransfer.data, vendorId org.openchargealliance.iso15118pnc,
// messageId = the 2.0.1 action. `routePnc` unwraps a charger DataTransfer and checks the inner data
// against the 2.0.1 schema, answering as the app note says when it cannot be handled (unknown
// messageId → UnknownMessageId, malformed → Rejected). `PNC_HANDLERS` answer the four charger
// messages with the bench PKI (src/pki) and EXI codec (src/exi):
//
//   SignCertificate        CSR checked and signed (V2G: SECC profile under CPO Sub-CA 2), then CertificateSigned
//   Get15118EVCertificate  a real signed CertificateInstallationRes / CertificateUpdateRes
//   GetCertificateStatus   OCSP through the bench responder
//   Authorize              token policy first, then contract chain (`certificate`) or hash data via OCSP
import type { JsonObject } from '../../drivers/capabilities.ts';
import { errorText } from '../../drivers/common/abort.ts';
import { answerGet15118EVCertificate, benchAnswerOptions, bodyElementName, decodeV2GMessage, exiBytes, type CpsSigner as ExiCpsSigner } from '../exi/index.ts';
import {
  checkHashDataStatus,
  getCertificateStatus,
  issueContractCertificate,
  signCsr,
  validateContract,
  type BenchPki,
} from '../pki/index.ts';
import { RULES } from './errors.ts';
import { isPlainObject } from './frames.ts';
import { followUpDelayMs, idTagInfo, later, type Handler, type HandlerContext, type HandlerResult } from './handlers.ts';
import type { AuthorizationStatus201, PncAuthorizeConf } from './messages.ts';
import { PNC_CP_MESSAGES, PNC_CSMS_MESSAGES, type OcppSchemas, type PncCpMessage } from './schemas.ts';
import type { ChargerConfig } from './types.ts';

export type PncRoute =
  | { kind: 'not-pnc' }
  | { kind: 'ok'; messageId: PncCpMessage; inner: JsonObject; tolerated?: string }
  | { kind: 'refuse'; messageId: string | undefined; outer: { status: 'Rejected' | 'UnknownMessageId' | 'UnknownVendorId' }; violation?: { rule: string; message: string } };

/** Classifies a charger DataTransfer payload (already valid against the 1.6 schema). */
export function routePnc(payload: JsonObject, cfg: ChargerConfig, schemas: OcppSchemas): PncRoute {
  const vendorId = payload.vendorId as string;
  if (!cfg.pnc.vendorIds.includes(vendorId)) return { kind: 'not-pnc' };
  const messageId = typeof payload.messageId === 'string' ? payload.messageId : undefined;
  if (!cfg.pnc.enabled) return { kind: 'refuse', messageId, outer: { status: 'UnknownVendorId' } };
  if (messageId === undefined || !(PNC_CP_MESSAGES as readonly string[]).includes(messageId)) {
    const wrongWay = messageId !== undefined && (PNC_CSMS_MESSAGES as readonly string[]).includes(messageId);
    return {
      kind: 'refuse',
      messageId,
      outer: { status: 'UnknownMessageId' },
      violation: wrongWay
        ? { rule: RULES.pncDirection, message: `messageId ${messageId} is sent by the CSMS, not by the charger` }
        : { rule: RULES.pncMessageId, message: messageId === undefined ? 'PnC DataTransfer without messageId' : `unknown PnC messageId "${messageId}" (charger messages: ${PNC_CP_MESSAGES.join(', ')})` },
    };
  }
  const id = messageId as PncCpMessage;
  const data = payload.data;
  if (typeof data !== 'string') return { kind: 'refuse', messageId, outer: { status: 'Rejected' }, violation: { rule: RULES.pncData, message: `${id}: data is missing (it must be the 2.0.1 ${id}Request as JSON text)` } };
  let inner: unknown;
  try {
    inner = JSON.parse(data);
  } catch (e) {
    return { kind: 'refuse', messageId, outer: { status: 'Rejected' }, violation: { rule: RULES.pncData, message: `${id}: data is not JSON: ${(e as Error).message}` } };
  }
  if (!isPlainObject(inner)) return { kind: 'refuse', messageId, outer: { status: 'Rejected' }, violation: { rule: RULES.pncData, message: `${id}: data must be a JSON object text, got ${Array.isArray(inner) ? 'an array' : typeof inner}` } };
  const dialect = cfg.pnc.dialects[vendorId];
  if (dialect === 'has2be') inner = fromHas2be(id, inner);
  const f = schemas.validate201(id, 'req', inner, { lenientTimestamps: cfg.lenientTimestamps });
  if (f && !f.tolerated) {
    return { kind: 'refuse', messageId, outer: { status: 'Rejected' }, violation: { rule: `${RULES.schemaPnc}.${id}.req`, message: `${f.code201}: ${f.message}${dialect === 'has2be' ? ' (has·to·be field names translated)' : ''}` } };
  }
  return f?.tolerated ? { kind: 'ok', messageId: id, inner: inner as JsonObject, tolerated: f.message } : { kind: 'ok', messageId: id, inner: inner as JsonObject };
}

/** has·to·be 1.3 request field names → OCPP 2.0.1 names (only when the 2.0.1 name is not there too). */
const HAS2BE_FIELDS: Readonly<Record<string, string>> = { '15118CertificateHashData': 'iso15118CertificateHashData', '15118SchemaVersion': 'iso15118SchemaVersion' };

/** A has·to·be dialect request as the 2.0.1 request it stands for (a new object; the wire text is untouched). */
export function fromHas2be(messageId: PncCpMessage, inner: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(inner)) {
    const renamed = HAS2BE_FIELDS[k];
    out[renamed !== undefined && !(renamed in inner) ? renamed : k] = v;
  }
  if (messageId === 'Get15118EVCertificate' && out.action === undefined && typeof out.exiRequest === 'string') {
    // has·to·be's request has no action: the EXI request tells Install from Update
    let action = 'Install';
    try {
      if (bodyElementName(decodeV2GMessage(exiBytes(out.exiRequest))) === 'CertificateUpdateReq') action = 'Update';
    } catch {
      /* undecodable: the handler answers Failed with the reason */
    }
    out.action = action;
  }
  return out;
}

/** statusInfo.reasonCode is at most 20 characters in 2.0.1. */
function statusInfo(reasonCode: string, additionalInfo: string): { reasonCode: string; additionalInfo: string } {
  return { reasonCode: reasonCode.slice(0, 20), additionalInfo: additionalInfo.slice(0, 512) };
}

function centralValidationAllowed(ctx: HandlerContext): boolean | undefined {
  if (ctx.config.pnc.centralContractValidationAllowed !== undefined) return ctx.config.pnc.centralContractValidationAllowed;
  const v = ctx.state.config('CentralContractValidationAllowed');
  return v === undefined ? undefined : v.toLowerCase() === 'true';
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

async function authorizeContract(ctx: HandlerContext, idToken: string, certificate: unknown, hashData: unknown): Promise<HandlerResult> {
  const pki = ctx.pki();
  const out: PncAuthorizeConf = { idTokenInfo: { status: 'Accepted' } };
  if (typeof certificate === 'string') {
    if (centralValidationAllowed(ctx) === false) {
      ctx.violation(RULES.pncCentralValidation, 'Authorize carries the contract certificate although CentralContractValidationAllowed is false');
    }
    const r = await validateContract({
      certificate,
      emaid: idToken,
      trustAnchors: pki.contractTrustAnchors(),
      intermediates: [pki.cert('mo-sub2'), pki.cert('mo-sub1')],
      ocsp: { transport: ctx.ocspTransport },
      signal: ctx.signal,
    });
    ctx.event('contract-validation', { path: 'certificate', status: r.status, reason: r.reason });
    out.certificateStatus = r.status;
  } else {
    try {
      const r = await checkHashDataStatus(hashData as unknown[], { transport: ctx.ocspTransport, knownIssuers: pki.authorities().map((a) => a.cert), signal: ctx.signal });
      ctx.event('contract-validation', { path: 'hash-data', status: r.status, reason: r.reason });
      out.certificateStatus = r.status;
    } catch (e) {
      ctx.event('contract-validation', { path: 'hash-data', status: 'CertChainError', reason: errorText(e) });
      out.certificateStatus = 'CertChainError';
    }
  }
  if (out.certificateStatus !== 'Accepted') out.idTokenInfo.status = ctx.config.pnc.contractFailureStatus;
  return { payload: out as unknown as JsonObject };
}

export const PNC_HANDLERS: Readonly<Record<PncCpMessage, Handler>> = {
  SignCertificate: async (call, ctx) => {
    const pki = ctx.pki();
    const type = call.payload.certificateType === 'ChargingStationCertificate' ? 'ChargingStationCertificate' : 'V2GCertificate';
    const cpoName = ctx.config.cpoName ?? ctx.state.config('CpoName');
    const r =
      type === 'V2GCertificate'
        ? await signCsr(pki, str(call.payload.csr), { profile: 'secc', ...(cpoName !== undefined ? { cpoName } : {}) })
        : await signCsr(pki, str(call.payload.csr), { profile: 'charge-point', cpoName: cpoName ?? pki.options.organization, chargePointSerial: ctx.config.serialNumber ?? ctx.chargePointId });
    if (!r.ok) {
      ctx.event('csr-rejected', { family: 'pnc', certificateType: type, code: r.code, reason: r.reason });
      return { payload: { status: 'Rejected', statusInfo: statusInfo('InvalidCSR', `${r.code}: ${r.reason}`) } };
    }
    return {
      payload: { status: 'Accepted' },
      commit: ({ sent, plan }) => {
        if (sent?.status !== 'Accepted') return;
        const store = type === 'V2GCertificate' ? ctx.state.certificates.pnc : ctx.state.certificates.security;
        store.add({ certificateType: type, pem: r.cert.pem, source: 'signed', t: Date.now() });
        const delay = followUpDelayMs(plan, ctx.config.pnc);
        if (delay === null) return;
        later(ctx, delay, 'DataTransfer.CertificateSigned', () => ctx.sendCall('CertificateSigned', { certificateChain: r.chainPem, certificateType: type }, { pnc: true }));
      },
    };
  },

  Get15118EVCertificate: async (call, ctx) => {
    const pki = ctx.pki();
    const action = str(call.payload.action);
    try {
      const { request, response, assessment } = await answerGet15118EVCertificate(str(call.payload.exiRequest), {
        ...benchAnswerOptions(pki),
        issueContract: (req) => {
          const emaid = req.kind === 'CertificateUpdateReq' ? req.eMAID : (ctx.config.pnc.emaid ?? pki.emaid);
          const b = issueContractCertificate(pki, { emaid });
          ctx.event('contract-issued', { emaid: b.emaid, serial: b.cert.serialHex, for: req.kind });
          return { certificateChain: b.chain.map((c) => c.der), privateKey: b.key.privateKey };
        },
      });
      const expected = request.kind === 'CertificateUpdateReq' ? 'Update' : 'Install';
      if (action !== expected) ctx.violation(`${RULES.schemaPnc}.Get15118EVCertificate.action`, `action "${action}" but exiRequest is a ${request.kind} (expected action "${expected}")`);
      for (const w of response.warnings) ctx.event('warning', w);
      if (!assessment.ok) ctx.event('certificate-request-refused', { responseCode: assessment.responseCode, reason: assessment.reason });
      return { payload: { status: 'Accepted', exiResponse: response.exiBase64 } };
    } catch (e) {
      const msg = errorText(e);
      ctx.event('get15118-failed', msg);
      return { payload: { status: 'Failed', exiResponse: '', statusInfo: statusInfo('InvalidExiRequest', msg) } };
    }
  },

  GetCertificateStatus: async (call, ctx) => {
    try {
      const r = await getCertificateStatus(call.payload.ocspRequestData, { transport: ctx.ocspTransport, signal: ctx.signal });
      return { payload: r.status === 'Accepted' ? { status: 'Accepted', ocspResult: r.ocspResult } : { status: 'Failed', statusInfo: statusInfo(r.statusInfo.reasonCode, r.statusInfo.additionalInfo) } };
    } catch (e) {
      return { payload: { status: 'Failed', statusInfo: statusInfo('InvalidRequest', errorText(e)) } };
    }
  },

  Authorize: (call, ctx) => {
    const idToken = isPlainObject(call.payload.idToken) ? str(call.payload.idToken.idToken) : '';
    const status = idTagInfo(ctx.config, idToken).status as AuthorizationStatus201;
    const certificate = call.payload.certificate;
    const hashData = call.payload.iso15118CertificateHashData;
    // token first; only an accepted token with certificate data needs the (asynchronous) checks
    if (status !== 'Accepted' || (typeof certificate !== 'string' && !Array.isArray(hashData))) return { payload: { idTokenInfo: { status } } };
    return authorizeContract(ctx, idToken, certificate, hashData);
  },
};
