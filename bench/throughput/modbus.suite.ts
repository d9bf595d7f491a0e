// Modbus poll rate: each meter link (roles `meter` and `meter_rtu`: the virtual rig's Modbus TCP and
// RTU links; on a rig with one meter both bind to it and it is measured once) is polled with
// EnergyMeter.poll at a short interval (throughput.modbus.interval_ms) for throughput.modbus.window_ms:
// full readings per second, failed readings, and overruns (intervals skipped because a reading took
// longer than the interval — with a short interval they show the link's limit, and are recorded, not
// judged). With a driver that counts its wire traffic (the built-in ModbusMeter: snapshot() before and
// after the window, modbus-wire.ts) the phase also writes a hil_throughput point, link
// `modbus:<role>:<tcp|rtu>`: Modbus frames (requests + responses) and bytes per second as sent and
// received, reads given up (errors) and requests left unanswered (dropped).
// Limits: bench/limits/throughput.yaml (`throughput.modbus.*`).
import { linkThroughput, type EnergyMeter } from '../../drivers/capabilities.ts';
import { nowMs } from '../../drivers/common/time.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers, type PhaseContext } from '../../src/runner/suite.ts';
import { limitNumber } from '../lib/wait.ts';
import { modbusLinkStats } from './modbus-wire.ts';
import { round, roundRates } from './stats.ts';

const uses = { meter: 'EnergyMeter', meter_rtu: 'EnergyMeter' } as const;
type D = Drivers<typeof uses>;
type Ctx = PhaseContext<D>;
type Role = keyof typeof uses;

async function pollRate(ctx: Ctx, role: Role, meter: EnergyMeter): Promise<void> {
  const windowMs = limitNumber(ctx, 'throughput.modbus.window_ms');
  const intervalMs = limitNumber(ctx, 'throughput.modbus.interval_ms');
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const before = modbusLinkStats(meter.snapshot(), role, nowMs());
  const timer = setTimeout(() => stop.abort(), windowMs);
  const t0 = performance.now();
  let lastError = '';
  try {
    const summary = await meter.poll({ intervalMs, signal: stop.signal, onReading: () => {}, onError: (e) => (lastError = e.message), maxFailures: 5 });
    const seconds = (performance.now() - t0) / 1000;
    const after = modbusLinkStats(meter.snapshot(), role, nowMs());
    ctx.signal.throwIfAborted();
    if (lastError) ctx.warn(`last failed reading: ${lastError}`);
    ctx.m.set('readings', summary.readings);
    ctx.m.set('readings_per_s', round(summary.readings / seconds, 2));
    ctx.m.set('failures', summary.failures);
    ctx.m.set('overruns', summary.overruns);
    if (before && after) {
      const w = linkThroughput(before, after);
      ctx.throughput(roundRates(w));
      ctx.log(
        `${after.link} in ${w.window}: ${after.txFrames - before.txFrames} requests (${after.txBytes - before.txBytes} bytes) sent, ` +
          `${after.rxFrames - before.rxFrames} responses (${after.rxBytes - before.rxBytes} bytes) received, ${w.dropped} unanswered, ${w.errors} reads given up`,
      );
    } else {
      ctx.log('the meter driver reports no wire counters: readings only, no hil_throughput point');
    }
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

const measures = (role: Role) => [
  measure('readings').doc('full readings (voltages, currents, power, energy, frequency) in the window'),
  measure('readings_per_s').unit('1/s').inRange(limit(`throughput.modbus.${role}_readings_per_s`)),
  measure('failures').inRange(limit('throughput.modbus.failures')).doc('readings that failed (timeouts, CRC errors, exceptions)'),
  measure('overruns').doc('intervals skipped because a reading took longer than the interval'),
];

const meterRate = phase<D>(
  { name: 'meter_poll_rate', description: 'EnergyMeter.poll on the `meter` link at a short interval.', timeoutMs: 15_000, measures: measures('meter') },
  (ctx) => pollRate(ctx, 'meter', ctx.d.meter),
);

const meterRtuRate = phase<D>(
  { name: 'meter_rtu_poll_rate', description: 'EnergyMeter.poll on the `meter_rtu` link at a short interval (SKIPPED when it is the same driver as `meter`).', timeoutMs: 15_000, measures: measures('meter_rtu') },
  async (ctx) => {
    if (ctx.d.meter_rtu === ctx.d.meter) return { skip: 'meter_rtu is bound to the same driver as meter (one meter on this rig): measured once, in meter_poll_rate' };
    await pollRate(ctx, 'meter_rtu', ctx.d.meter_rtu);
  },
);

export default defineSuite({
  name: 'throughput-modbus',
  version: '1.0.0',
  description: 'Modbus poll rate over each meter link: readings/s, failures, overruns.',
  requires: ['meter'],
  uses,
  main: [meterRate, meterRtuRate],
});
