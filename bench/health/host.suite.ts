// Host preflight: is this machine fit to take timing measurements? A bench host whose timers are
// coarse or whose event loop stalls adds its own latency to every timing result, so this suite
// measures both before anything else is trusted. Needs no rig hardware; runs on every rig.
import { measure, limit } from '../../src/runner/measure.ts';
import { defineSuite, phase } from '../../src/runner/suite.ts';

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

const clock = phase(
  {
    name: 'clock',
    description: 'Resolution and monotonicity of the high-resolution clock used for every timestamp.',
    timeoutMs: 5_000,
    measures: [
      measure('timer_resolution_us').unit('us').inRange(limit('health.timer_resolution_us')).doc('smallest non-zero step of performance.now()'),
      measure('clock_monotonic').equals(true).doc('performance.now() never went backwards over 100 000 reads'),
    ],
  },
  ({ m }) => {
    let smallest = Infinity;
    let monotonic = true;
    let prev = performance.now();
    for (let i = 0; i < 100_000; i++) {
      const t = performance.now();
      const d = t - prev;
      if (d < 0) monotonic = false;
      if (d > 0 && d < smallest) smallest = d;
      prev = t;
    }
    m.set('timer_resolution_us', Number((smallest * 1000).toFixed(3)));
    m.set('clock_monotonic', monotonic);
  },
);

const eventLoop = phase(
  {
    name: 'event_loop',
    description: 'How late a 1 ms timer fires: the bench\'s own contribution to a measured latency.',
    timeoutMs: 10_000,
    measures: [
      measure('timer_lateness_p50_ms').unit('ms').inRange(limit('health.timer_lateness_p50_ms')),
      measure('timer_lateness_p99_ms').unit('ms').inRange(limit('health.timer_lateness_p99_ms')),
      measure('timer_lateness_ms').unit('ms').series(['sample']).doc('each sample: actual minus requested delay'),
    ],
  },
  async ({ m, signal, timing }) => {
    const samples: number[] = [];
    const series = m.series('timer_lateness_ms');
    for (let i = 0; i < 200; i++) {
      signal.throwIfAborted();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 1));
      const late = performance.now() - t0 - 1;
      samples.push(late);
      series.add(i, Number(late.toFixed(4)));
    }
    const sorted = [...samples].sort((a, b) => a - b);
    m.set('timer_lateness_p50_ms', Number(percentile(sorted, 50).toFixed(4)));
    m.set('timer_lateness_p99_ms', Number(percentile(sorted, 99).toFixed(4)));
    timing({ protocol: 'host', message: 'timer-1ms', direction: 'local', latencyMs: percentile(sorted, 99) });
  },
);

export default defineSuite({
  name: 'host-health',
  version: '1.0.0',
  description: 'Preflight of the bench host: clock resolution and event-loop lateness.',
  main: [clock, eventLoop],
});
