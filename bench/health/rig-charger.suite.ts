// Rig health, charger side: the bench's CSMS listens, the charger under test is connected and booted
// (BootNotification Accepted), and it answers a CSMS call in time. Runs first (bench/health/), on every
// rig with a Csms driver; a failed check is recorded in hil_rig_health and ends the run INFRA
// (bench/health/rig-checks.ts). Limits: bench/limits/health.yaml.
import type { JsonObject } from '../../drivers/capabilities.ts';
import { asScriptableCsms } from '../../src/csms/driver.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers } from '../../src/runner/suite.ts';
import { limitNumber, pollUntil } from '../lib/wait.ts';
import { check, driverHealth } from './rig-checks.ts';

const uses = { csms: 'Csms' } as const;
type D = Drivers<typeof uses>;

const csmsListening = phase<D>(
  { name: 'csms_listening', description: 'The bench CSMS driver is open and listening.', timeoutMs: 5_000 },
  async (ctx) => {
    await driverHealth(ctx, 'csms', ctx.d.csms);
  },
);

const chargerBooted = phase<D>(
  {
    name: 'charger_booted',
    description: 'The charger is connected to the bench CSMS and its BootNotification was Accepted (waits up to health.wait.charger_boot_ms).',
    timeoutMs: 60_000,
  },
  async (ctx) => {
    const waitMs = limitNumber(ctx, 'health.wait.charger_boot_ms');
    await check(
      ctx,
      'csms',
      'charger_booted',
      async (signal) => {
        let csms;
        try {
          csms = asScriptableCsms(ctx.d.csms);
        } catch {
          // another Csms driver: a CSMS-initiated call that is answered shows the charger is there
          await ctx.d.csms.call('GetConfiguration', { key: ['HeartbeatInterval'] }, { timeoutMs: waitMs, signal });
          return { ok: true, detail: 'the charger answered GetConfiguration (boot state not visible through this Csms driver)' };
        }
        const booted = await pollUntil(ctx, waitMs, () => csms.server.chargePoints().find((c) => c.connected && c.state.boot?.status === 'Accepted'), 50);
        if (booted) {
          const b = booted.state.boot as { payload: JsonObject; status: string; t: number };
          const vendor = [b.payload.chargePointVendor, b.payload.chargePointModel, b.payload.firmwareVersion].filter((x) => typeof x === 'string').join(' ');
          return { ok: true, detail: `${booted.id} connected, BootNotification Accepted${vendor ? ` (${vendor})` : ''}`, reconnects: Math.max(0, booted.state.connects - 1) };
        }
        const seen = csms.server.chargePoints().map((c) => `${c.id}: ${c.connected ? 'connected' : 'not connected'}, boot ${c.state.boot?.status ?? 'none'}`).join('; ');
        return { ok: false, detail: `no charger connected with BootNotification Accepted within ${waitMs} ms (${seen || 'no charger has connected'})` };
      },
      waitMs + 5_000, // the wait itself is bounded by health.wait.charger_boot_ms
    );
  },
);

const chargerAnswers = phase<D>(
  {
    name: 'charger_answers',
    description: 'A CSMS-initiated GetConfiguration (HeartbeatInterval) is answered; its round trip is measured.',
    timeoutMs: 20_000,
    measures: [measure('ocpp_round_trip_ms').unit('ms').inRange(limit('health.ocpp_round_trip_ms')).doc('GetConfiguration sent → CALLRESULT received')],
  },
  async (ctx) => {
    const timeoutMs = limitNumber(ctx, 'health.wait.call_ms');
    let roundTripMs = NaN;
    await check(
      ctx,
      'csms',
      'charger_answers',
      async (signal) => {
        const t0 = performance.now();
        const conf = await ctx.d.csms.call('GetConfiguration', { key: ['HeartbeatInterval'] }, { timeoutMs, signal });
        roundTripMs = performance.now() - t0;
        const keys = Array.isArray(conf.configurationKey) ? conf.configurationKey.length : 0;
        return { ok: true, detail: `GetConfiguration answered in ${roundTripMs.toFixed(1)} ms (${keys} key(s))` };
      },
      timeoutMs + 2_000, // the call has its own timeout (health.wait.call_ms)
    );
    ctx.m.set('ocpp_round_trip_ms', Number(roundTripMs.toFixed(3)));
  },
);

export default defineSuite({
  name: 'rig-charger',
  version: '1.0.0',
  description: 'Rig health: the bench CSMS listens, the charger is connected and booted, and answers a call.',
  uses,
  main: [csmsListening, chargerBooted, chargerAnswers],
});
