// Timing of the PnC exchanges a driver notices: the contract installation round trip against the EV's
// 4.5 s CertificateInstallation budget (ISO 15118-2 V2G2-…: the EV's message timeout), the PnC
// authorization latency, and how long the charger takes to handle a CertificateSigned. Each is a
// measurement judged by bench/limits/timing.yaml; the OCPP exchanges themselves land in hil_timing
// through the CSMS driver's timings (drained by the runner per phase), the EV-side spans through
// ctx.timing. Phases: bench/README.md "timing".
import { ProtocolViolation, type JsonObject } from '../../drivers/capabilities.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers, type PhaseContext } from '../../src/runner/suite.ts';
import { ensureRootInstalled } from '../lib/certs.ts';
import { evDetailText } from '../lib/checks.ts';
import { chargePoint, charged, checkPncTraffic, evTrail, installContract, limitNumber, nowMs, pncCall, recordCalls, runContractSession, type PncContext } from '../lib/pnc.ts';

const uses = { csms: 'Csms', ev: 'EvEmulator', meter: 'EnergyMeter' } as const;
type D = Drivers<typeof uses>;
type Ctx = PhaseContext<D>;
const pc = (ctx: Ctx): PncContext => ctx;

const ms = (v: number): number => Number(v.toFixed(3));

const prepare = phase<D>(
  { name: 'prepare', description: 'The charger is connected and holds the bench roots.', timeoutMs: 20_000 },
  async (ctx) => {
    await chargePoint(pc(ctx));
    for (const role of ['v2g-root', 'mo-root'] as const) await ensureRootInstalled(pc(ctx), role);
  },
);

const installTiming = phase<D>(
  {
    name: 'get15118_ev_certificate',
    description:
      'Contract installation: the CSMS\'s Get15118EVCertificate exchange (request received → answer sent) and the EV-side span from the CSMS receiving the forwarded request to the EV reporting ContractInstalled, against the EV\'s 4.5 s CertificateInstallation budget.',
    timeoutMs: 40_000,
    measures: [
      measure('get15118_csms_ms').unit('ms').inRange(limit('timing.get15118_csms_ms')).doc('CSMS: request received → answer sent'),
      measure('ev_install_ms').unit('ms').inRange(limit('timing.ev_install_ms')).doc('CSMS received the forwarded request → EV ContractInstalled'),
      measure('plugin_to_installed_ms').unit('ms').inRange(limit('timing.plugin_to_installed_ms')).doc('plug-in → EV ContractInstalled'),
    ],
  },
  async (ctx) => {
    const cp = await chargePoint(pc(ctx));
    const rec = recordCalls(pc(ctx), cp);
    try {
      const r = await installContract(pc(ctx), rec);
      checkPncTraffic(rec, r.since);
      if (!r.request) throw new ProtocolViolation('pnc.M01.forward', `no Get15118EVCertificate reached the CSMS; EV: ${evTrail(pc(ctx), r.since)}`);
      const answer = await r.request.answered;
      ctx.m.set('get15118_csms_ms', ms(answer.t - r.request.t));
      if (!r.installed) throw new ProtocolViolation(evDetailText(r.failed?.detail) === 'session-id' ? 'pnc.M01.session-id' : 'pnc.M01.install', `the EV did not install the contract (${evDetailText(r.failed?.detail) ?? 'no report'}); EV: ${evTrail(pc(ctx), r.since)}`);
      const evMs = r.installed.t - r.request.t;
      ctx.m.set('ev_install_ms', ms(evMs));
      ctx.m.set('plugin_to_installed_ms', ms(r.installed.t - r.since));
      ctx.timing({ protocol: 'v2g', message: 'CertificateInstallation', direction: 'csms->ev', latencyMs: evMs });
    } finally {
      rec.stop();
    }
  },
);

const authorizationTiming = phase<D>(
  {
    name: 'pnc_authorization_latency',
    description:
      'PnC authorization: the CSMS\'s DataTransfer Authorize exchange, the span from the CSMS receiving the Authorize to the EV reporting Authorized (charger → EV), and plug-in → Authorized.',
    timeoutMs: 40_000,
    measures: [
      measure('authorize_csms_ms').unit('ms').inRange(limit('timing.authorize_csms_ms')).doc('CSMS: Authorize received → answer sent'),
      measure('authorize_to_ev_ms').unit('ms').inRange(limit('timing.authorize_to_ev_ms')).doc('CSMS received the Authorize → EV Authorized'),
      measure('plugin_to_authorized_ms').unit('ms').inRange(limit('timing.plugin_to_authorized_ms')),
    ],
  },
  async (ctx) => {
    const cp = await chargePoint(pc(ctx));
    const rec = recordCalls(pc(ctx), cp);
    try {
      const s = await runContractSession(pc(ctx), { charge: 'power' });
      checkPncTraffic(rec, s.since);
      const auth = rec.of('DataTransfer.Authorize', s.since)[0];
      if (!auth) throw new ProtocolViolation('pnc.C07.authorize', `no DataTransfer Authorize reached the CSMS; EV: ${evTrail(pc(ctx), s.since)}`);
      const answer = await auth.answered;
      ctx.m.set('authorize_csms_ms', ms(answer.t - auth.t));
      const status = (answer.inner?.idTokenInfo as JsonObject | undefined)?.status;
      if (s.decision?.state !== 'Authorized' || !charged(pc(ctx), s)) throw new ProtocolViolation('pnc.C07.accepted-no-charge', `the CSMS answered ${String(status)} but the EV was not authorized and charging; EV: ${evTrail(pc(ctx), s.since)}`);
      const toEv = s.decision.t - auth.t;
      ctx.m.set('authorize_to_ev_ms', ms(toEv));
      ctx.m.set('plugin_to_authorized_ms', ms(s.decision.t - s.since));
      ctx.timing({ protocol: 'v2g', message: 'Authorization', direction: 'csms->ev', latencyMs: toEv });
    } finally {
      rec.stop();
    }
  },
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
    const cp = await chargePoint(pc(ctx));
    const rule = cp.respond('DataTransfer.SignCertificate', { followUp: 'none' });
    try {
      const before = nowMs();
      const trig = await pncCall(pc(ctx), 'TriggerMessage', { requestedMessage: 'SignV2GCertificate' }, 'pnc.A02.trigger');
      const triggered = nowMs();
      if (trig.status !== 'Accepted') throw new ProtocolViolation('pnc.A02.trigger', `TriggerMessage SignV2GCertificate answered ${trig.status}`);
      const sign = await cp.expectCall('DataTransfer.SignCertificate', { since: before, timeoutMs: limitNumber(pc(ctx), 'pnc.wait.sign_certificate_ms'), signal: ctx.signal });
      ctx.m.set('sign_certificate_after_trigger_ms', ms(Math.max(0, sign.t - triggered)));
      const chain = await cp.certificateChainFor(String(sign.payload.csr), 'valid');
      const t0 = nowMs();
      const r = await pncCall(pc(ctx), 'CertificateSigned', { certificateChain: chain, certificateType: 'V2GCertificate' }, 'pnc.A02.chain');
      const handled = nowMs() - t0;
      if (r.status !== 'Accepted') throw new ProtocolViolation('pnc.A02.chain', `CertificateSigned with a valid chain answered ${r.status}`);
      ctx.m.set('certificate_signed_ms', ms(handled));
    } finally {
      rule.remove();
    }
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
