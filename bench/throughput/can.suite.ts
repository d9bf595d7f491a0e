// CAN frame rate on the CCU bus: for each charge-controller link (roles `ccu` and `ccu_sock`: the
// virtual rig reaches one bus through slcan and through socketcand; on a rig with one CCU both bind
// to it and it is measured once) the driver's link counters (ChargeController.linkStats) are sampled
// before and after a window of throughput.can.window_ms while the bench reads the controller's status
// every throughput.can.status_interval_ms. Per link: frames/s and bytes/s (rx + tx), errors and drops
// (hil_throughput, link `can:<role>:<transport>`), and how many fresh status values the driver's own
// polling delivered per second. Limits: bench/limits/throughput.yaml (`throughput.can.*`).
import { linkThroughput, type ChargeController } from '../../drivers/capabilities.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers, type PhaseContext } from '../../src/runner/suite.ts';
import { limitNumber } from '../lib/wait.ts';
import { round, roundRates } from './stats.ts';

const uses = { ccu: 'ChargeController', ccu_sock: 'ChargeController' } as const;
type D = Drivers<typeof uses>;
type Ctx = PhaseContext<D>;
const ROLES = ['ccu', 'ccu_sock'] as const;
type Role = (typeof ROLES)[number];

const perRole = (role: Role) => {
  const opt = <T extends { optional(): T }>(m: T): T => (role === 'ccu' ? m : m.optional());
  return [
    opt(measure(`${role}_frames_per_s`).unit('1/s').inRange(limit('throughput.can.frames_per_s')).doc(`${role}: frames received + sent per second on its link`)),
    opt(measure(`${role}_bytes_per_s`).unit('B/s').doc(`${role}: CAN payload bytes received + sent per second`)),
    opt(measure(`${role}_errors`).inRange(limit('throughput.can.errors')).doc(`${role}: bus or adapter errors in the window`)),
    opt(measure(`${role}_dropped`).inRange(limit('throughput.can.dropped')).doc(`${role}: frames the link dropped in the window`)),
    opt(measure(`${role}_status_updates_per_s`).unit('1/s').inRange(limit('throughput.can.status_updates_per_s')).doc(`${role}: fresh controller status values per second`)),
  ];
};

async function window(ctx: Ctx, role: Role, ccu: ChargeController, windowMs: number, intervalMs: number): Promise<void> {
  const a = ccu.linkStats();
  const end = performance.now() + windowMs;
  const seen = new Set<number>();
  while (performance.now() < end) {
    const s = await ccu.status(ctx.signal);
    seen.add(s.t);
    await ctx.sleep(Math.max(0, Math.min(intervalMs, end - performance.now())));
  }
  const b = ccu.linkStats();
  const w = linkThroughput(a, b);
  const seconds = (b.tMs - a.tMs) / 1000;
  const transport = b.link.split(':')[0] || 'can';
  ctx.throughput({ ...roundRates(w), link: `can:${role}:${transport}` });
  ctx.log(`${role} ${b.link}: rx ${b.rxFrames - a.rxFrames}, tx ${b.txFrames - a.txFrames} frames in ${w.window}`);
  ctx.m.set(`${role}_frames_per_s`, round(w.framesPerS, 1));
  ctx.m.set(`${role}_bytes_per_s`, round(w.bytesPerS, 1));
  ctx.m.set(`${role}_errors`, w.errors);
  ctx.m.set(`${role}_dropped`, w.dropped);
  ctx.m.set(`${role}_status_updates_per_s`, round(seen.size / seconds, 2));
}

const frameRate = phase<D>(
  {
    name: 'ccu_bus_frame_rate',
    description: 'Each CCU link\'s frame rate, errors and drops over one window, both links measured at the same time.',
    timeoutMs: 15_000,
    measures: [...perRole('ccu'), ...perRole('ccu_sock')],
  },
  async (ctx) => {
    const windowMs = limitNumber(ctx, 'throughput.can.window_ms');
    const intervalMs = limitNumber(ctx, 'throughput.can.status_interval_ms');
    const roles = ctx.d.ccu_sock === ctx.d.ccu ? (['ccu'] as const) : ROLES;
    if (roles.length === 1) ctx.log('ccu_sock is bound to the same driver as ccu: measured once');
    await Promise.all(roles.map((r) => window(ctx, r, ctx.d[r], windowMs, intervalMs)));
  },
);

export default defineSuite({
  name: 'throughput-can',
  version: '1.0.0',
  description: 'CAN frame rate on the CCU bus: frames/s, errors, drops and status updates per link.',
  requires: ['ccu'],
  uses,
  main: [frameRate],
});
