// PnC authorizations back to back: throughput.pnc.sessions full Plug & Charge sessions through the EV
// emulator (plug in, ISO 15118 Contract session, the charger's DataTransfer Authorize to the bench
// CSMS, power on, stop, unplug), one after the other, measuring authorizations per minute and the
// authorization latencies. This is the honest way to load the charger's Authorize path: the charger
// sends Authorize only when an EV session asks. hil_throughput: one point for the OCPP link during
// the sessions (`ocpp:<chargePointId>`). hil_timing, per session: `pnc AuthorizeToEvAuthorized
// csms->ev`, from the CSMS receiving the charger's DataTransfer Authorize to the EV seeing its
// authorization (the CSMS answer, the charger's decision and its ISO 15118 AuthorizationRes).
// Limits: bench/limits/throughput.yaml (`throughput.pnc.*`; the virtual rig runs more sessions).
import { linkThroughput, ProtocolViolation, type JsonObject } from '../../drivers/capabilities.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers } from '../../src/runner/suite.ts';
import { ensureRootInstalled } from '../lib/certs.ts';
import { chargePoint, charged, checkPncTraffic, ensureContract, evTrail, recording, runContractSession, scriptable } from '../lib/pnc.ts';
import { limitNumber } from '../lib/wait.ts';
import { countOcppFrames, round, roundRates } from './stats.ts';

const uses = { csms: 'Csms', ev: 'EvEmulator', meter: 'EnergyMeter' } as const;
type D = Drivers<typeof uses>;

const prepare = phase<D>(
  { name: 'prepare', description: 'The charger is connected, holds the bench roots, and the EV holds a contract.', timeoutMs: 30_000 },
  async (ctx) => {
    await chargePoint(ctx);
    for (const role of ['v2g-root', 'mo-root'] as const) await ensureRootInstalled(ctx, role);
    ctx.log(`EV contract ${await recording(ctx, (rec) => ensureContract(ctx, rec))}`);
  },
);

const sessions = phase<D>(
  {
    name: 'pnc_authorizations',
    description: 'throughput.pnc.sessions Contract sessions back to back, each authorized through DataTransfer Authorize and charged until the meter shows power.',
    timeoutMs: 60_000,
    measures: [
      measure('sessions').doc('sessions that were authorized and charged'),
      measure('authorizations_per_min').unit('1/min').inRange(limit('throughput.pnc.authorizations_per_min')).doc('authorized sessions ÷ the whole window (plug-in to unplug of the last)'),
      measure('authorize_csms_max_ms').unit('ms').inRange(limit('throughput.pnc.authorize_csms_max_ms')).doc('slowest CSMS Authorize exchange: received → answered'),
      measure('plugin_to_authorized_max_ms').unit('ms').inRange(limit('throughput.pnc.plugin_to_authorized_max_ms')).doc('slowest plug-in → EV Authorized'),
      measure('session_ms').unit('ms').series(['session']).doc('plug-in → unplug, per session'),
    ],
  },
  async (ctx) =>
    recording(ctx, async (rec, cp) => {
      const count = limitNumber(ctx, 'throughput.pnc.sessions');
      const counter = countOcppFrames(scriptable(ctx), cp.id);
      const before = counter.stats();
      const t0 = performance.now();
      let authorizeMax = 0;
      let toAuthorizedMax = 0;
      let done = 0;
      try {
        for (let i = 0; i < count; i++) {
          const s = await runContractSession(ctx, { charge: 'power' });
          checkPncTraffic(rec, s.since);
          const auth = rec.of('DataTransfer.Authorize', s.since)[0];
          if (!auth) throw new ProtocolViolation('pnc.C07.authorize', `session ${i + 1}: no DataTransfer Authorize reached the CSMS; EV: ${evTrail(ctx, s.since)}`);
          const answer = await auth.answered;
          const status = (answer.inner?.idTokenInfo as JsonObject | undefined)?.status;
          if (s.decision?.state !== 'Authorized' || !charged(ctx, s)) throw new ProtocolViolation('pnc.C07.accepted-no-charge', `session ${i + 1}: the CSMS answered ${String(status)} but the EV was not authorized and charging; EV: ${evTrail(ctx, s.since)}`);
          authorizeMax = Math.max(authorizeMax, answer.t - auth.t);
          toAuthorizedMax = Math.max(toAuthorizedMax, s.decision.t - s.since);
          ctx.timing({ protocol: 'pnc', message: 'AuthorizeToEvAuthorized', direction: 'csms->ev', latencyMs: s.decision.t - auth.t });
          ctx.m.series('session_ms').add(i, round(s.endedAt - s.since, 1));
          done += 1;
        }
      } finally {
        const w = linkThroughput(before, counter.stats());
        counter.stop();
        ctx.throughput(roundRates(w));
      }
      const minutes = (performance.now() - t0) / 60_000;
      ctx.m.set('sessions', done);
      ctx.m.set('authorizations_per_min', round(done / minutes, 1));
      ctx.m.set('authorize_csms_max_ms', round(authorizeMax));
      ctx.m.set('plugin_to_authorized_max_ms', round(toAuthorizedMax));
    }),
);

export default defineSuite({
  name: 'throughput-pnc-sessions',
  version: '1.0.0',
  description: 'PnC authorizations back to back through the EV: authorizations per minute and authorization latencies.',
  requires: ['pnc', 'ev', 'meter'],
  uses,
  setup: [prepare],
  main: [sessions],
});
