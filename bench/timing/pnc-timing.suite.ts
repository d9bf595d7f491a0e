// Timing of the PnC exchanges a driver notices: the contract installation round trip against the EV's
// 4.5 s CertificateInstallation budget (ISO 15118-2 V2G2-…: the EV's message timeout), the PnC
// authorization latency, and how long the charger takes to handle a CertificateSigned. Each is a
// measurement judged by bench/limits/timing.yaml; the OCPP exchanges themselves land in hil_timing
// through the CSMS driver's timings (drained by the runner per phase), the EV-side spans through
// ctx.timing. The charger is judged only on its own share: spans start when the bench's CSMS sent its
// answer, never when it received the request (the CSMS's own processing is the bench's, recorded as an
// informative measurement with a sanity bound that makes the phase ERROR, not FAIL, when the bench
// itself was too slow). Phases: bench/README.md "timing".
import { ProtocolViolation, type JsonObject } from '../../drivers/capabilities.ts';
import type { ReceivedCall } from '../../src/csms/index.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers, type PhaseContext } from '../../src/runner/suite.ts';
import { ensureRootInstalled } from '../lib/certs.ts';
import { chainFor, chargePoint, charged, checkInstalled, checkPncTraffic, evTrail, installContract, recording, runContractSession, sendValidChain, triggerSignCertificate } from '../lib/pnc.ts';
import { limitNumber } from '../lib/wait.ts';

const uses = { csms: 'Csms', ev: 'EvEmulator', meter: 'EnergyMeter' } as const;
type D = Drivers<typeof uses>;
type Ctx = PhaseContext<D>;

const ms = (v: number): number => Number(v.toFixed(3));

/**
 * The bench CSMS's own time for an exchange (request received → answer sent): recorded, never held
 * against the charger. Beyond `timing.bench_csms_sanity_ms` the bench was too slow for the phase to
 * judge the charger (the EV's budget may have run out because of it): a plain Error → ERROR.
 */
function benchCsmsMs(ctx: Ctx, call: ReceivedCall, answeredT: number, name: string): number {
  const took = answeredT - call.t;
  ctx.m.set(name, ms(took));
  const saneMs = limitNumber(ctx, 'timing.bench_csms_sanity_ms');
  if (took > saneMs) throw new Error(`the bench's CSMS took ${Math.round(took)} ms to answer ${call.action} (more than timing.bench_csms_sanity_ms = ${saneMs} ms): the bench host is too slow to time the charger; rerun on a less loaded host`);
  return took;
}

const prepare = phase<D>(
  { name: 'prepare', description: 'The charger is connected and holds the bench roots.', timeoutMs: 20_000 },
  async (ctx) => {
    await chargePoint(ctx);
    for (const role of ['v2g-root', 'mo-root'] as const) await ensureRootInstalled(ctx, role);
  },
);

const installTiming = phase<D>(
  {
    name: 'get15118_ev_certificate',
    description:
      'Contract installation: the charger\'s share of the EV\'s 4.5 s CertificateInstallation budget — from the bench CSMS sending the Get15118EVCertificate answer to the EV reporting ContractInstalled (relaying the exiResponse); the CSMS\'s own processing is recorded, not judged.',
    timeoutMs: 40_000,
    measures: [
      measure('get15118_csms_ms').unit('ms').doc('bench CSMS: request received → answer sent (informative; sanity bound timing.bench_csms_sanity_ms → ERROR)'),
      measure('ev_install_ms').unit('ms').inRange(limit('timing.ev_install_ms')).doc('CSMS answer sent → EV ContractInstalled (the charger relaying the answer)'),
      measure('plugin_to_installed_ms').unit('ms').inRange(limit('timing.plugin_to_installed_ms')).doc('plug-in → EV ContractInstalled'),
    ],
  },
  async (ctx) =>
    recording(ctx, async (rec) => {
      const r = await installContract(ctx, rec);
      checkPncTraffic(rec, r.since);
      if (!r.request) throw new ProtocolViolation('pnc.M01.forward', `no Get15118EVCertificate reached the CSMS; EV: ${evTrail(ctx, r.since)}`);
      const answer = await r.request.answered;
      benchCsmsMs(ctx, r.request, answer.t, 'get15118_csms_ms');
      checkInstalled(ctx, r);
      const evMs = r.installed.t - answer.t;
      ctx.m.set('ev_install_ms', ms(evMs));
      ctx.m.set('plugin_to_installed_ms', ms(r.installed.t - r.since));
      ctx.timing({ protocol: 'v2g', message: 'CertificateInstallation', direction: 'csms->ev', latencyMs: evMs });
    }),
);

const authorizationTiming = phase<D>(
  {
    name: 'pnc_authorization_latency',
    description:
      'PnC authorization: from the bench CSMS sending its Authorize answer to the EV reporting Authorized (the charger relaying the decision), and plug-in → Authorized; the CSMS\'s own processing is recorded, not judged.',
    timeoutMs: 40_000,
    measures: [
      measure('authorize_csms_ms').unit('ms').doc('bench CSMS: Authorize received → answer sent (informative; sanity bound timing.bench_csms_sanity_ms → ERROR)'),
      measure('authorize_to_ev_ms').unit('ms').inRange(limit('timing.authorize_to_ev_ms')).doc('CSMS answer sent → EV Authorized'),
      measure('plugin_to_authorized_ms').unit('ms').inRange(limit('timing.plugin_to_authorized_ms')),
    ],
  },
  async (ctx) =>
    recording(ctx, async (rec) => {
      const s = await runContractSession(ctx, { charge: 'power' });
      checkPncTraffic(rec, s.since);
      const auth = rec.of('DataTransfer.Authorize', s.since)[0];
      if (!auth) throw new ProtocolViolation('pnc.C07.authorize', `no DataTransfer Authorize reached the CSMS; EV: ${evTrail(ctx, s.since)}`);
      const answer = await auth.answered;
      benchCsmsMs(ctx, auth, answer.t, 'authorize_csms_ms');
      const status = (answer.inner?.idTokenInfo as JsonObject | undefined)?.status;
      if (s.decision?.state !== 'Authorized' || !charged(ctx, s)) throw new ProtocolViolation('pnc.C07.accepted-no-charge', `the CSMS answered ${String(status)} but the EV was not authorized and charging; EV: ${evTrail(ctx, s.since)}`);
      const toEv = s.decision.t - answer.t;
      ctx.m.set('authorize_to_ev_ms', ms(toEv));
      ctx.m.set('plugin_to_authorized_ms', ms(s.decision.t - s.since));
      ctx.timing({ protocol: 'v2g', message: 'Authorization', direction: 'csms->ev', latencyMs: toEv });
    }),
);

const certificateSignedTiming = phase<D>(
  {
    name: 'certificate_signed_handling',
    description: 'CertificateSigned: the CSMS sends a valid chain for the charger\'s fresh CSR; time until the charger answers (chain verification and installation).',
    timeoutMs: 30_000,
    measures: [
      measure('sign_certificate_after_trigger_ms').unit('ms').inRange(limit('timing.sign_certificate_after_trigger_ms')).doc('TriggerMessage answered → SignCertificate received'),
      measure('certificate_signed_ms').unit('ms').inRange(limit('timing.certificate_signed_ms')).doc('CertificateSigned sent → answer received'),
    ],
  },
  async (ctx) => {
    const cp = await chargePoint(ctx);
    const { sign, triggeredAt } = await triggerSignCertificate(ctx, cp);
    ctx.m.set('sign_certificate_after_trigger_ms', ms(Math.max(0, sign.t - triggeredAt)));
    const chain = await chainFor(cp, sign, 'valid');
    ctx.m.set('certificate_signed_ms', ms(await sendValidChain(ctx, chain)));
  },
);

export default defineSuite({
  name: 'pnc-timing',
  version: '1.0.0',
  description: 'PnC timing: Get15118EVCertificate round trip against the EV budget, authorization latency, CertificateSigned handling.',
  requires: ['pnc', 'ev', 'meter'],
  uses,
  setup: [prepare],
  main: [installTiming, authorizationTiming, certificateSignedTiming],
});
