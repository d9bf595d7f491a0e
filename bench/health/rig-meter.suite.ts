// Rig health, energy meters: each meter link is connected and the meter answers a serial-number and
// an energy read in time. Roles `meter` and `meter_rtu` (the virtual rig's Modbus TCP and RTU links;
// on a rig with one meter both bind to it and it is checked once). Runs first (bench/health/); a
// failed check ends the run INFRA (rig-checks.ts). Limits: bench/limits/health.yaml.
import type { EnergyMeter } from '../../drivers/capabilities.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers, type PhaseContext } from '../../src/runner/suite.ts';
import { check, distinct, driverHealth } from './rig-checks.ts';

const uses = { meter: 'EnergyMeter', meter_rtu: 'EnergyMeter' } as const;
type D = Drivers<typeof uses>;
const ROLES = ['meter', 'meter_rtu'] as const;

async function answers(ctx: PhaseContext<D>, role: (typeof ROLES)[number], meter: EnergyMeter): Promise<number> {
  await driverHealth(ctx, role, meter);
  let ms = NaN;
  await check(ctx, role, 'meter_answers', async (signal) => {
    const t0 = performance.now();
    const serial = await meter.serialNumber(signal);
    const r = await meter.read(signal);
    ms = performance.now() - t0;
    return { ok: true, detail: `serial ${serial}: ${r.importedEnergyWh.toFixed(1)} Wh imported, ${r.powerW.toFixed(0)} W (serial + reading in ${ms.toFixed(1)} ms)` };
  });
  return ms;
}

const meters = phase<D>(
  {
    name: 'meters',
    description: 'Per meter link: driver health, then the serial number and a full reading, timed.',
    timeoutMs: 15_000,
    measures: [
      measure('meter_answer_ms').unit('ms').inRange(limit('health.meter_answer_ms')).doc('serial number + one reading over the meter link'),
      measure('meter_rtu_answer_ms').unit('ms').inRange(limit('health.meter_answer_ms')).optional().doc('same for meter_rtu (unset when it is the same driver as meter)'),
    ],
  },
  async (ctx) => {
    const roles = distinct(ctx, ROLES);
    const times = await Promise.all(roles.map((r) => answers(ctx, r, ctx.d[r])));
    roles.forEach((r, i) => ctx.m.set(`${r}_answer_ms`, Number((times[i] as number).toFixed(3))));
  },
);

export default defineSuite({
  name: 'rig-meter',
  version: '1.0.0',
  description: 'Rig health: energy meter links connected, meters answer in time.',
  requires: ['meter'],
  uses,
  main: [meters],
});
