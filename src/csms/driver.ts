// The mock CSMS as a rig driver providing the `Csms` capability. The rig binds it to a ListenPort;
// chargers connect to ws(s)://<host>:<port>/<chargePointId>. Every frame goes to the driver's
// transcript (JSON lines, see transcript.ts), so each phase carries its OCPP traffic; the runner turns
// the request/response exchanges of each phase into hil_timing points through `timings()`.
//
//   # rigs/<id>.yaml
//   resources: { csms_port: { type: ListenPort, host: 0.0.0.0, port: 8180 } }
//   drivers:
//     csms:
//       driver: MockCsms
//       bind: { listen: csms_port }
//       options: { pki: pki, tls: true, chargePointId: CP1, defaults: { securityProfile: 2, password: "..." } }
//
//   // in a suite phase (uses: { csms: 'Csms' })
//   const csms = asScriptableCsms(d.csms);
//   csms.chargePoint().respond('DataTransfer.Authorize', { status: 'Blocked' });
//   const auth = await d.csms.expectCall('DataTransfer.Authorize', { timeoutMs: 30_000, signal });
import path from 'node:path';
import { z } from 'zod';
import { LinkError, type Csms, type HealthResult, type JsonObject, type TimingPoint } from '../../drivers/capabilities.ts';
import { errorText, settleWithin, waitFor } from '../../drivers/common/abort.ts';
import { nowMs } from '../../drivers/common/time.ts';
import { loadPkiDir, startOcspHttpServer, type OcspHttpServer } from '../pki/index.ts';
import { defineDriver, type DriverContext } from '../rig/registry.ts';
import type { Resource } from '../rig/resources.ts';
import type { ChargePoint } from './chargepoint.ts';
import { ChargerSettingsSchema } from './config.ts';
import { CsmsUsageError } from './errors.ts';
import { MockCsms } from './server.ts';
import { PNC_CSMS_MESSAGES } from './schemas.ts';
import type { ExpectOptions, ReceivedCall } from './types.ts';

const refusalCode = z.number().int().min(400).max(599).optional();

export const MockCsmsOptionsSchema = z
  .object({
    /** the charger `expectCall`/`call` of the Csms capability talk to (default: the only one) */
    chargePointId: z.string().min(1).optional(),
    /** bench PKI directory (`pnc-bench pki init`), relative to the rig file; default a PKI generated from pkiSeed */
    pki: z.string().min(1).optional(),
    pkiSeed: z.string().min(1).optional(),
    /** serve wss:// with the PKI's ECDSA and RSA server certificates (profiles 2 and 3) */
    tls: z.boolean().default(false),
    tlsMinVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    /** also serve the PKI's OCSP URL over HTTP (for chargers that ask the AIA responder themselves) */
    ocspServer: z.boolean().default(false),
    defaults: ChargerSettingsSchema.default({}),
    chargers: z.record(z.string(), ChargerSettingsSchema).default({}),
    unknownChargers: z.enum(['accept', 'reject']).default('accept'),
    callTimeoutMs: z.number().int().positive().default(30_000),
    pingIntervalMs: z.number().int().nonnegative().default(30_000),
    subprotocolMismatch: z.enum(['close', 'reject']).default('close'),
    /** HTTP status per kind of handshake refusal (400–599) */
    refusalStatus: z
      .object({
        badPath: refusalCode,
        unknownCharger: refusalCode,
        transport: refusalCode,
        noCredentials: refusalCode,
        wrongPassword: refusalCode,
        badCertificate: refusalCode,
        subprotocol: refusalCode,
        offline: refusalCode,
      })
      .strict()
      .default({}),
  })
  .strict();
export type MockCsmsDriverOptions = z.output<typeof MockCsmsOptionsSchema>;

/** The Csms capability plus the mock CSMS's scripting API. */
export interface ScriptableCsms extends Csms {
  readonly server: MockCsms;
  /** As Csms.expectCall (match, since), plus `respond`, with the full ReceivedCall (charger id, outer frame, violations, answer). */
  expectCall(action: string, opts: ExpectOptions): Promise<ReceivedCall>;
  /** The charger `id`, or the default one (options.chargePointId, else the only known charger). */
  chargePoint(id?: string): ChargePoint;
  /** Recorded exchanges since the last drain, as timing points (the runner drains them through `timings()` at the end of every phase). */
  drainTimings(): TimingPoint[];
}

export class MockCsmsDriverImpl implements ScriptableCsms {
  private csms: MockCsms | undefined;
  private ocspHttp: OcspHttpServer | undefined;

  constructor(private readonly ctx: DriverContext<MockCsmsDriverOptions>) {}

  get server(): MockCsms {
    if (!this.csms) throw new LinkError(this.ctx.name, 'the mock CSMS is not open');
    return this.csms;
  }

  async open(signal: AbortSignal): Promise<void> {
    if (this.csms) return;
    const o = this.ctx.options;
    const listen = this.ctx.resources.listen as Resource<'ListenPort'> | undefined;
    if (!listen) throw new LinkError(this.ctx.name, 'no ListenPort bound to "listen"');
    let pki;
    if (o.pki !== undefined) {
      const dir = path.resolve(this.ctx.rigDir, o.pki);
      try {
        pki = loadPkiDir(dir);
      } catch (e) {
        throw new LinkError(this.ctx.name, `cannot load the bench PKI from ${dir}: ${errorText(e)} (create it with: pnc-bench pki init ${dir})`);
      }
    }
    const csms = new MockCsms({
      host: listen.host,
      port: listen.port,
      ...(pki ? { pki } : {}),
      ...(o.pkiSeed ? { pkiSeed: o.pkiSeed } : {}),
      ...(o.tls ? { tls: { minVersion: o.tlsMinVersion } } : {}),
      defaults: o.defaults,
      chargers: o.chargers,
      unknownChargers: o.unknownChargers,
      callTimeoutMs: o.callTimeoutMs,
      pingIntervalMs: o.pingIntervalMs,
      subprotocolMismatch: o.subprotocolMismatch,
      refusalStatus: Object.fromEntries(Object.entries(o.refusalStatus).filter(([, v]) => v !== undefined)),
      transcript: this.ctx.transcript,
    });
    csms.on('violation', (v) => this.ctx.log('warn', `${v.chargePointId}: [${v.rule}] ${v.message}`));
    csms.on('refusal', (r) => this.ctx.log('warn', `${r.chargePointId ?? '?'}: handshake refused (${r.status}): ${r.reason}`));
    csms.on('event', (e) => {
      if (e.event === 'connected' || e.event === 'disconnected') this.ctx.log('info', `${e.cp} ${e.event}`);
    });
    csms.warmUp();
    await csms.listen(signal);
    this.csms = csms;
    if (o.ocspServer) {
      const url = csms.pki.ocspUrl;
      if (!url) {
        await this.close(1_000);
        throw new LinkError(this.ctx.name, 'ocspServer is on but the PKI has no OCSP URL (pnc-bench pki init --ocsp-url ...)');
      }
      try {
        this.ocspHttp = await startOcspHttpServer(csms.ocsp, { url });
      } catch (e) {
        await this.close(1_000);
        throw new LinkError(this.ctx.name, `cannot serve OCSP at ${url}: ${errorText(e)}`);
      }
    }
    this.ctx.log('info', `listening on ${csms.url}`);
  }

  async close(deadlineMs: number): Promise<void> {
    const csms = this.csms;
    this.csms = undefined;
    const ocsp = this.ocspHttp;
    this.ocspHttp = undefined;
    await Promise.all([csms?.close(deadlineMs), ocsp ? settleWithin(ocsp.close(), deadlineMs) : undefined]);
  }

  async health(_signal: AbortSignal): Promise<HealthResult> {
    const csms = this.csms;
    if (!csms?.listening) return { ok: false, detail: 'mock CSMS not listening' };
    const cps = csms.chargePoints();
    const connected = cps.filter((c) => c.connected).map((c) => c.id);
    const reconnects = cps.reduce((n, c) => n + Math.max(0, c.state.connects - 1), 0);
    return { ok: true, detail: `listening on ${csms.url}; connected: ${connected.length ? connected.join(', ') : 'none'}`, reconnects };
  }

  snapshot(): JsonObject {
    return this.csms ? this.csms.snapshot() : { listening: false };
  }

  chargePoint(id?: string): ChargePoint {
    const csms = this.server;
    const want = id ?? this.ctx.options.chargePointId;
    if (want !== undefined) return csms.chargePoint(want);
    const known = csms.chargePoints();
    if (known.length === 1) return known[0] as ChargePoint;
    if (known.length === 0) throw new CsmsUsageError(`${this.ctx.name}: no charger has connected yet and options.chargePointId is not set`);
    throw new CsmsUsageError(`${this.ctx.name}: several chargers are known (${known.map((c) => c.id).join(', ')}); set options.chargePointId or pass the id`);
  }

  /** The default charger, waiting (within the timeout) for the first one to connect when none is known. */
  private async defaultChargePoint(opts: { timeoutMs: number; signal: AbortSignal }): Promise<ChargePoint> {
    const csms = this.server;
    if (this.ctx.options.chargePointId !== undefined || csms.chargePoints().length > 0) return this.chargePoint();
    return waitFor<ChargePoint>(
      (deliver) =>
        csms.on('event', (e) => {
          if (e.event === 'connected') deliver(csms.chargePoint(e.cp));
        }),
      opts.timeoutMs,
      opts.signal,
      () => new LinkError(this.ctx.name, `no charger connected within ${opts.timeoutMs} ms`),
    );
  }

  /**
   * Csms capability: waits for `action` (`DataTransfer.<messageId>` for PnC) from the default charger;
   * `match` and `since` narrow which calls count, `respond` scripts the answer (ExpectOptions).
   */
  async expectCall(action: string, opts: ExpectOptions): Promise<ReceivedCall> {
    const start = nowMs();
    const cp = await this.defaultChargePoint(opts);
    const left = Math.max(1, opts.timeoutMs - (nowMs() - start));
    return cp.expectCall(action, { ...opts, timeoutMs: left });
  }

  /**
   * Csms capability: a CSMS-initiated call to the default charger. `DataTransfer.<messageId>` sends a
   * PnC message and resolves with `{ status, data, response }` (outer status, raw data, inner answer).
   */
  async call(action: string, payload: JsonObject, opts: { timeoutMs: number; signal: AbortSignal }): Promise<JsonObject> {
    const cp = await this.defaultChargePoint(opts);
    const m = /^DataTransfer\.(.+)$/.exec(action);
    if (m && (PNC_CSMS_MESSAGES as readonly string[]).includes(m[1] as string)) {
      const r = await cp.callAny(m[1] as string, payload, { ...opts, pnc: true });
      return { status: r.status, ...(r.data !== undefined ? { data: r.data } : {}), ...(r.response !== undefined ? { response: r.response } : {}) };
    }
    return (await cp.callAny(action, payload, opts)).response as JsonObject;
  }

  drainTimings(): TimingPoint[] {
    return this.csms ? this.csms.drainTimings() : [];
  }

  /** Lifecycle.timings(): the runner drains the exchanges at the end of every phase (same as drainTimings). */
  timings(): TimingPoint[] {
    return this.drainTimings();
  }
}

/** The richer API of a `Csms` that is the built-in mock CSMS; a clear error for any other driver. */
export function asScriptableCsms(csms: Csms): ScriptableCsms {
  if (csms instanceof MockCsmsDriverImpl) return csms;
  throw new CsmsUsageError('this Csms is not the built-in MockCsms driver: the scripting API (respond, chargePoint, drainTimings) is not available');
}

export const MockCsmsDriver = defineDriver({
  name: 'MockCsms',
  description: 'Built-in mock CSMS: OCPP-J 1.6 server with the OCA PnC DataTransfer extension, security profiles 1–3, scripting and JSON-lines transcript',
  provides: ['Csms'],
  bindings: { listen: 'ListenPort' },
  options: MockCsmsOptionsSchema,
  transcript: { ext: 'jsonl', mime: 'application/jsonl' },
  create: (ctx) => new MockCsmsDriverImpl(ctx),
});
