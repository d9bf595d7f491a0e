// Rig health, CAN: each charge controller's bus link is up, frames arrive on it, and the controller
// reports a fresh status. Roles `ccu` and `ccu_sock` (the virtual rig's slcan and socketcand links to
// one bus; on a rig with one CCU both bind to it and it is checked once). Runs first
// (bench/health/); a failed check ends the run INFRA (rig-checks.ts). Limits: bench/limits/health.yaml.
import { linkThroughput, type ChargeController } from '../../drivers/capabilities.ts';
import { nowMs } from '../../drivers/common/time.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers, type PhaseContext } from '../../src/runner/suite.ts';
import { limitNumber } from '../lib/wait.ts';
import { check, distinct, driverHealth } from './rig-checks.ts';

const uses = { ccu: 'ChargeController', ccu_sock: 'ChargeController' } as const;
type D = Drivers<typeof uses>;
const ROLES = ['ccu', 'ccu_sock'] as const;

async function busUp(ctx: PhaseContext<D>, role: (typeof ROLES)[number], ccu: ChargeController, windowMs: number): Promise<number> {
  await driverHealth(ctx, role, ccu);
  const a = ccu.linkStats();
  await ctx.sleep(windowMs);
  const b = ccu.linkStats();
  const rx = b.rxFrames - a.rxFrames;
  const w = linkThroughput(a, b);
  await check(ctx, role, 'can_bus_up', () => ({
    ok: rx > 0 && w.errors === 0,
    detail: `${b.link}: ${rx} frame(s) received, ${b.txFrames - a.txFrames} sent, ${w.errors} error(s), ${w.dropped} dropped in ${windowMs} ms`,
  }));
  let ageMs = NaN;
  await check(ctx, role, 'controller_status', async (signal) => {
    const s = await ccu.status(signal);
    ageMs = s.ageMs ?? Math.max(0, nowMs() - s.t);
    return { ok: true, detail: `${s.state}, ${s.voltageV.toFixed(1)} V ${s.currentA.toFixed(1)} A${s.faults.length ? `, faults: ${s.faults.join(', ')}` : ''}; status ${Math.round(ageMs)} ms old` };
  });
  return ageMs;
}

const bus = phase<D>(
  {
    name: 'can_bus',
    description: 'Per CCU link: driver health, frames received in a window of health.can_window_ms without errors, a fresh controller status.',
    timeoutMs: 15_000,
    measures: [
      measure('ccu_status_age_ms').unit('ms').inRange(limit('health.ccu_status_age_ms')).doc('age of the status the ccu driver returned'),
      measure('ccu_sock_status_age_ms').unit('ms').inRange(limit('health.ccu_status_age_ms')).optional().doc('same for ccu_sock (unset when it is the same driver as ccu)'),
    ],
  },
  async (ctx) => {
    const windowMs = limitNumber(ctx, 'health.can_window_ms');
    const roles = distinct(ctx, ROLES);
    const ages = await Promise.all(roles.map((r) => busUp(ctx, r, ctx.d[r], windowMs)));
    roles.forEach((r, i) => ctx.m.set(`${r}_status_age_ms`, Number((ages[i] as number).toFixed(1))));
  },
);

export default defineSuite({
  name: 'rig-can',
  version: '1.0.0',
  description: 'Rig health: CCU CAN links up, frames on the bus, fresh controller status.',
  requires: ['ccu'],
  uses,
  main: [bus],
});
