// Default answers of the mock CSMS to charger CALLs (OCPP 1.6 core + security extension). A
// handler computes the answer; `commit` runs after the answer went out, with the payload actually
// sent (a script may have changed it), and updates the charger state or starts a follow-up
// (SignCertificate accepted → CertificateSigned). PnC DataTransfer messages are in pnc.ts.
//
//   const h = DEFAULT_HANDLERS.BootNotification;
//   const { payload, commit } = await h(call, ctx);   // { status: 'Accepted', currentTime, interval }
import type { JsonObject } from '../../drivers/capabilities.ts';
import { errorText } from '../../drivers/common/abort.ts';
import type { BenchPki, OcspTransport } from '../pki/index.ts';
import { signCsr } from '../pki/index.ts';
import type { CpAction } from './schemas.ts';
import type { ChargePointState } from './state.ts';
import type { ChargerConfig, ReceivedCall, ResponsePlan } from './types.ts';
import type { AuthorizationStatus16, IdTagInfo } from './messages.ts';

/** What handlers may use of the CSMS and of the charger they answer. */
export interface HandlerContext {
  readonly chargePointId: string;
  readonly config: ChargerConfig;
  readonly state: ChargePointState;
  pki(): BenchPki;
  readonly ocspTransport: OcspTransport;
  /** aborted when the CSMS closes */
  readonly signal: AbortSignal;
  /** records a transcript event */
  event(name: string, detail?: JsonObject | string): void;
  /** records a violation of the charger */
  violation(rule: string, message: string): void;
  /** sends a CSMS CALL to this charger (follow-ups); resolves with the CALLRESULT payload */
  sendCall(action: string, payload: JsonObject, opts: { pnc?: boolean }): Promise<JsonObject | undefined>;
  /** next transaction id (CSMS-wide) */
  nextTransactionId(): number;
}

export interface CommitInfo {
  /** the payload that went out (PnC: the inner payload); undefined when none did */
  sent: JsonObject | undefined;
  plan: ResponsePlan | undefined;
}

export interface HandlerResult {
  payload: JsonObject;
  commit?: (info: CommitInfo) => void;
}

export type Handler = (call: ReceivedCall, ctx: HandlerContext) => HandlerResult | Promise<HandlerResult>;

/** OCPP date-time without milliseconds, UTC. */
const isoNow = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export function idTagInfo(cfg: ChargerConfig, idTag: string): IdTagInfo {
  const status: AuthorizationStatus16 = Object.prototype.hasOwnProperty.call(cfg.idTags, idTag) ? (cfg.idTags[idTag] as AuthorizationStatus16) : cfg.defaultIdTagStatus;
  return { status };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** When the follow-up of an accepted signing request goes out (or null: never). */
export function followUpDelayMs(plan: ResponsePlan | undefined, policy: { certificateSigned: 'send' | 'never'; certificateSignedDelayMs: number }): number | null {
  const f = plan?.followUp ?? 'default';
  if (f === 'none') return null;
  if (typeof f === 'object') return f.delayMs;
  return policy.certificateSigned === 'never' ? null : policy.certificateSignedDelayMs;
}

/** Runs `fn` after `delayMs` unless the CSMS closes first; errors are reported as events. */
export function later(ctx: HandlerContext, delayMs: number, what: string, fn: () => Promise<unknown>): void {
  const run = (): void => {
    if (ctx.signal.aborted) return;
    fn().catch((e: unknown) => ctx.event('follow-up-failed', { what, error: errorText(e) }));
  };
  if (delayMs <= 0) setImmediate(run);
  else setTimeout(run, delayMs).unref();
}

const notification: Handler = (call, ctx) => ({
  payload: {},
  commit: () => {
    ctx.state.notifications.push({ action: call.action, payload: call.payload, t: call.t });
    if (ctx.state.notifications.length > 1000) ctx.state.notifications.splice(0, ctx.state.notifications.length - 1000);
  },
});

export const DEFAULT_HANDLERS: Readonly<Record<CpAction, Handler>> = {
  BootNotification: (call, ctx) => ({
    payload: { status: ctx.config.bootStatus, currentTime: isoNow(), interval: ctx.config.heartbeatIntervalS },
    commit: ({ sent }) => {
      if (sent) ctx.state.boot = { payload: call.payload, status: str(sent.status), t: call.t };
    },
  }),
  Heartbeat: (call, ctx) => ({
    payload: { currentTime: isoNow() },
    commit: () => {
      ctx.state.lastHeartbeatAt = call.t;
    },
  }),
  StatusNotification: (call, ctx) => ({
    payload: {},
    commit: () => {
      const p = call.payload;
      ctx.state.connectors.set(num(p.connectorId), { status: str(p.status), errorCode: str(p.errorCode), t: call.t, ...(typeof p.info === 'string' ? { info: p.info } : {}) });
    },
  }),
  Authorize: (call, ctx) => ({ payload: { idTagInfo: idTagInfo(ctx.config, str(call.payload.idTag)) } }),
  StartTransaction: (call, ctx) => {
    const transactionId = ctx.nextTransactionId();
    return {
      payload: { transactionId, idTagInfo: idTagInfo(ctx.config, str(call.payload.idTag)) },
      commit: ({ sent }) => {
        if (!sent) return;
        const p = call.payload;
        ctx.state.transactions.set(num(sent.transactionId), {
          transactionId: num(sent.transactionId),
          connectorId: num(p.connectorId),
          idTag: str(p.idTag),
          meterStartWh: num(p.meterStart),
          timestamp: str(p.timestamp),
          startedAt: call.t,
          meterValues: 0,
        });
      },
    };
  },
  StopTransaction: (call, ctx) => {
    const p = call.payload;
    return {
      payload: typeof p.idTag === 'string' ? { idTagInfo: idTagInfo(ctx.config, p.idTag) } : {},
      commit: () => {
        const tx = ctx.state.transactions.get(num(p.transactionId));
        if (!tx) {
          ctx.event('unknown-transaction', { transactionId: num(p.transactionId), action: 'StopTransaction' });
          return;
        }
        tx.stoppedAt = call.t;
        tx.meterStopWh = num(p.meterStop);
        if (typeof p.reason === 'string') tx.stopReason = p.reason;
      },
    };
  },
  MeterValues: (call, ctx) => ({
    payload: {},
    commit: () => {
      const id = call.payload.transactionId;
      if (typeof id === 'number') {
        const tx = ctx.state.transactions.get(id);
        if (tx) tx.meterValues++;
      }
    },
  }),
  DataTransfer: () => ({ payload: { status: 'UnknownVendorId' } }),
  SecurityEventNotification: (call, ctx) => ({
    payload: {},
    commit: () => {
      const p = call.payload;
      ctx.state.securityEvents.push({ type: str(p.type), timestamp: str(p.timestamp), ...(typeof p.techInfo === 'string' ? { techInfo: p.techInfo } : {}), t: call.t });
    },
  }),
  SignCertificate: async (call, ctx) => {
    // OCPP 1.6 security: always the ChargePointCertificate; CSR checked first (key, signature, O = CpoName, CN = serial)
    const pki = ctx.pki();
    const cpoName = ctx.config.cpoName ?? ctx.state.config('CpoName') ?? pki.options.organization;
    const serial = ctx.config.serialNumber ?? ctx.chargePointId;
    const r = await signCsr(pki, str(call.payload.csr), { profile: 'charge-point', cpoName, chargePointSerial: serial });
    if (!r.ok) {
      ctx.event('csr-rejected', { family: 'security', code: r.code, reason: r.reason });
      return { payload: { status: 'Rejected' } };
    }
    return {
      payload: { status: 'Accepted' },
      commit: ({ sent, plan }) => {
        if (sent?.status !== 'Accepted') return;
        ctx.state.certificates.security.add({ certificateType: 'ChargePointCertificate', pem: r.cert.pem, source: 'signed', t: Date.now() });
        const delay = followUpDelayMs(plan, ctx.config.security);
        if (delay === null) return;
        later(ctx, delay, 'CertificateSigned', () => ctx.sendCall('CertificateSigned', { certificateChain: r.chainPem }, {}));
      },
    };
  },
  LogStatusNotification: notification,
  SignedFirmwareStatusNotification: notification,
  FirmwareStatusNotification: notification,
  DiagnosticsStatusNotification: notification,
};

/** Where `ResponsePlan.status` goes in each answer. */
export const STATUS_PATHS: Readonly<Record<string, readonly string[]>> = {
  BootNotification: ['status'],
  Authorize: ['idTagInfo', 'status'],
  StartTransaction: ['idTagInfo', 'status'],
  StopTransaction: ['idTagInfo', 'status'],
  SignCertificate: ['status'],
  DataTransfer: ['status'],
  'DataTransfer.Authorize': ['idTokenInfo', 'status'],
  'DataTransfer.Get15118EVCertificate': ['status'],
  'DataTransfer.GetCertificateStatus': ['status'],
  'DataTransfer.SignCertificate': ['status'],
};

/** A copy of `payload` with the status at `path` replaced (intermediate objects created). */
export function withStatus(payload: JsonObject, path: readonly string[], status: string): JsonObject {
  const out: JsonObject = structuredClone(payload);
  let o: JsonObject = out;
  path.forEach((k, i) => {
    if (i === path.length - 1) o[k] = status;
    else {
      const next = o[k];
      o = o[k] = typeof next === 'object' && next !== null && !Array.isArray(next) ? (next as JsonObject) : {};
    }
  });
  return out;
}
