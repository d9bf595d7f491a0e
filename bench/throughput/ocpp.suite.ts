// OCPP message throughput through the charger's real WebSocket link: the bench CSMS sends N
// CSMS-initiated calls back to back — GetConfiguration (the charger's OCPP core) and DataTransfer PnC
// GetInstalledCertificateIds (its PnC certificate store) — and measures calls/s and the round-trip
// percentiles as the bench sees them (CALL sent → CALLRESULT received, the charger's processing
// included). Full PnC authorizations through the EV are pnc-sessions.suite.ts. Each phase writes one
// hil_throughput point (link `ocpp:<chargePointId>`: every frame either way, its bytes, CALLERRORs
// and violations, unanswered calls) and the CSMS driver's exchanges land in hil_timing.
// Limits: bench/limits/throughput.yaml (`throughput.ocpp.*`).
import { LinkError, linkThroughput, ProtocolViolation } from '../../drivers/capabilities.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers, type PhaseContext } from '../../src/runner/suite.ts';
import { chargePoint, scriptable } from '../lib/pnc.ts';
import { limitNumber } from '../lib/wait.ts';
import { countOcppFrames, percentile, round, roundRates } from './stats.ts';

const uses = { csms: 'Csms' } as const;
type D = Drivers<typeof uses>;
type Ctx = PhaseContext<D>;

const measures = () => [
  measure('calls').doc('round trips completed (answered with a CALLRESULT)'),
  measure('calls_per_s').unit('1/s').inRange(limit('throughput.ocpp.calls_per_s')).doc('completed round trips ÷ window'),
  measure('round_trip_p50_ms').unit('ms').inRange(limit('throughput.ocpp.round_trip_p50_ms')),
  measure('round_trip_p95_ms').unit('ms').inRange(limit('throughput.ocpp.round_trip_p95_ms')),
  measure('round_trip_p99_ms').unit('ms').inRange(limit('throughput.ocpp.round_trip_p99_ms')),
  measure('round_trip_max_ms').unit('ms').doc('slowest round trip (no limit: one slow call is normal; the percentiles are judged)'),
  measure('errors').inRange(limit('throughput.ocpp.errors')).doc('calls answered with a CALLERROR or a violating answer'),
  measure('round_trip_ms').unit('ms').series(['call']).doc('each round trip, in order'),
];

/**
 * Sends `count` calls back to back with `send` (each resolves when answered), records the figures and
 * the link's hil_throughput point. A CALLERROR or a violating answer counts as an error and the run
 * goes on; a link fault (LinkError) ends the phase INFRA; more than `maxErrors` errors stop early.
 */
async function roundTrips(ctx: Ctx, send: () => Promise<unknown>): Promise<void> {
  const count = limitNumber(ctx, 'throughput.ocpp.calls');
  const cp = await chargePoint(ctx);
  const counter = countOcppFrames(scriptable(ctx), cp.id);
  const before = counter.stats();
  const samples: number[] = [];
  const series = ctx.m.series('round_trip_ms');
  let errors = 0;
  const t0 = performance.now();
  try {
    for (let i = 0; i < count; i++) {
      ctx.signal.throwIfAborted();
      const s = performance.now();
      try {
        await send();
      } catch (e) {
        if (e instanceof LinkError || ctx.signal.aborted || !(e instanceof ProtocolViolation)) throw e;
        errors += 1;
        ctx.warn(`call ${i + 1}: ${e.message}`);
        if (errors > 10) break;
        continue;
      }
      const ms = performance.now() - s;
      samples.push(ms);
      series.add(i, round(ms, 4));
    }
  } finally {
    const after = counter.stats();
    counter.stop();
    const w = linkThroughput(before, after);
    ctx.throughput(roundRates(w));
    ctx.log(`${after.rxFrames + after.txFrames - before.rxFrames - before.txFrames} frames, ${after.rxBytes + after.txBytes - before.rxBytes - before.txBytes} bytes in ${w.window} (${w.errors} errors, ${w.dropped} unanswered)`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const sorted = [...samples].sort((a, b) => a - b);
  ctx.m.set('calls', samples.length);
  ctx.m.set('calls_per_s', round(samples.length / seconds, 1));
  ctx.m.set('errors', errors);
  if (sorted.length === 0) throw new ProtocolViolation('throughput.ocpp', `none of ${count} calls was answered with a CALLRESULT`);
  ctx.m.set('round_trip_p50_ms', round(percentile(sorted, 50)));
  ctx.m.set('round_trip_p95_ms', round(percentile(sorted, 95)));
  ctx.m.set('round_trip_p99_ms', round(percentile(sorted, 99)));
  ctx.m.set('round_trip_max_ms', round(sorted[sorted.length - 1] as number));
}

const getConfiguration = phase<D>(
  {
    name: 'get_configuration_round_trips',
    description: 'throughput.ocpp.calls GetConfiguration (HeartbeatInterval) calls back to back through the charger\'s OCPP link.',
    timeoutMs: 30_000,
    measures: measures(),
  },
  async (ctx) => {
    const cp = await chargePoint(ctx);
    const timeoutMs = limitNumber(ctx, 'pnc.wait.call_ms');
    await roundTrips(ctx, () => cp.call('GetConfiguration', { key: ['HeartbeatInterval'] }, { timeoutMs, signal: ctx.signal }));
  },
);

const pncCertificateIds = phase<D>(
  {
    name: 'pnc_certificate_ids_round_trips',
    description:
      'throughput.ocpp.calls DataTransfer PnC GetInstalledCertificateIds (V2GRootCertificate) back to back: the PnC DataTransfer path and the charger\'s certificate store.',
    timeoutMs: 30_000,
    measures: measures(),
  },
  async (ctx) => {
    const cp = await chargePoint(ctx);
    const timeoutMs = limitNumber(ctx, 'pnc.wait.call_ms');
    await roundTrips(ctx, async () => {
      const r = await cp.call('GetInstalledCertificateIds', { certificateType: ['V2GRootCertificate'] }, { pnc: true, timeoutMs, signal: ctx.signal });
      if (r.status !== 'Accepted' || r.response === undefined) throw new ProtocolViolation('pnc.data', `GetInstalledCertificateIds: DataTransfer answered ${r.status}${r.response === undefined ? ' without a 2.0.1 response' : ''}`);
    });
  },
);

export default defineSuite({
  name: 'throughput-ocpp',
  version: '1.0.0',
  description: 'OCPP throughput through the charger\'s link: CSMS-initiated calls back to back (core and PnC DataTransfer), calls/s and round-trip percentiles.',
  requires: ['pnc'],
  uses,
  main: [getConfiguration, pncCertificateIds],
});
