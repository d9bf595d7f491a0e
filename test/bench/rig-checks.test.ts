// The rig health suites' shared check (bench/health/rig-checks.ts): every check is bounded in time —
// a driver call that ignores its signal and never settles fails the check with "no answer within …
// ms" (recorded for hil_rig_health, then LinkError: INFRA) instead of hanging the phase; the check's
// function gets a signal that aborts at the bound; a phase that is itself aborted propagates.
import { describe, expect, it } from 'vitest';
import { LinkError } from '../../drivers/capabilities.ts';
import type { HealthPoint, PhaseContext } from '../../src/runner/suite.ts';
import { check, CHECK_TIMEOUT_MS, driverHealth } from '../../bench/health/rig-checks.ts';

/** The part of a phase context check() uses: the phase's signal, health() and log(). */
function phaseContext(signal: AbortSignal = new AbortController().signal): { ctx: PhaseContext<Record<string, never>>; health: HealthPoint[]; logs: string[] } {
  const health: HealthPoint[] = [];
  const logs: string[] = [];
  const ctx = { signal, health: (p: HealthPoint) => health.push(p), log: (m: string) => logs.push(m) } as unknown as PhaseContext<Record<string, never>>;
  return { ctx, health, logs };
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

describe('rig health checks are bounded', () => {
  it('a check whose call never settles fails at its bound, recorded with the reason', async () => {
    const { ctx, health } = phaseContext();
    let seen: AbortSignal | undefined;
    const t0 = performance.now();
    const e = await check(ctx, 'ccu', 'controller_status', (signal) => {
      seen = signal;
      return never();
    }, 150).catch((x: unknown) => x);
    const ms = performance.now() - t0;
    expect(e).toBeInstanceOf(LinkError);
    expect((e as Error).message).toBe('ccu: controller_status: no answer within 150 ms');
    expect(ms).toBeGreaterThanOrEqual(140);
    expect(ms).toBeLessThan(2000);
    expect(seen?.aborted).toBe(true);
    expect(health).toEqual([{ resource: 'ccu', check: 'controller_status', ok: false, detail: 'no answer within 150 ms' }]);
  });

  it('driverHealth bounds a health() that hangs, by CHECK_TIMEOUT_MS', async () => {
    const { ctx, health } = phaseContext();
    const hanging = { open: never, close: never, health: () => never(), snapshot: () => ({}) };
    const t0 = performance.now();
    await expect(driverHealth(ctx, 'ev', hanging as never)).rejects.toThrow(`ev: driver_health: no answer within ${CHECK_TIMEOUT_MS} ms`);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(CHECK_TIMEOUT_MS - 20);
    expect(health[0]).toMatchObject({ resource: 'ev', check: 'driver_health', ok: false });
  }, CHECK_TIMEOUT_MS + 5000);

  it('a check that answers in time passes and is logged; one that throws fails with its error', async () => {
    const { ctx, health, logs } = phaseContext();
    const r = await check(ctx, 'meter', 'meter_answers', async (signal) => {
      await new Promise((res) => setTimeout(res, 20));
      return { ok: !signal.aborted, detail: 'serial 1234', reconnects: 1 };
    }, 1000);
    expect(r).toEqual({ ok: true, detail: 'serial 1234', reconnects: 1 });
    expect(logs).toEqual(['meter meter_answers: serial 1234']);
    await expect(check(ctx, 'meter', 'meter_answers', () => Promise.reject(new Error('exception 2')), 1000)).rejects.toThrow('meter: meter_answers: exception 2');
    expect(health.map((h) => [h.ok, h.detail])).toEqual([
      [true, 'serial 1234'],
      [false, 'exception 2'],
    ]);
  });

  it('an aborted phase propagates its own reason and records nothing', async () => {
    const phase = new AbortController();
    const { ctx, health } = phaseContext(phase.signal);
    setTimeout(() => phase.abort(new Error('phase timed out')), 30);
    await expect(check(ctx, 'csms', 'charger_booted', () => never(), 5000)).rejects.toThrow('phase timed out');
    expect(health).toEqual([]);
  });
});
