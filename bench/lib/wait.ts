// Waits every bench suite may use, with no driver or CSMS behind them (the health suites use them
// too): numeric limit values (a wait, a threshold) and a poll for a condition no event announces.
//
//   const timeoutMs = limitNumber(ctx, 'pnc.wait.call_ms');
//   const hit = await pollUntil(ctx, timeoutMs, () => (count() >= 3 ? count() : undefined));
import { nowMs } from '../../drivers/common/time.ts';
import type { PhaseContext } from '../../src/runner/suite.ts';
import { asNumber } from './checks.ts';

/** A numeric limit value the suite itself uses (a wait, a threshold). */
export function limitNumber(ctx: Pick<PhaseContext<unknown>, 'limitValue'>, key: string): number {
  return asNumber(key, ctx.limitValue(key), { min: 0 });
}

/**
 * Calls `probe` at once and then every `intervalMs` until it returns something other than undefined, or
 * `timeoutMs` passed: its value, or undefined. For conditions no event announces (counts, a meter
 * figure, a charger list); a call or an EV state has its own wait (waitForRecorded, waitForEv in
 * bench/lib/pnc.ts).
 */
export async function pollUntil<T>(ctx: Pick<PhaseContext<unknown>, 'sleep'>, timeoutMs: number, probe: () => T | undefined, intervalMs = 20): Promise<T | undefined> {
  const end = nowMs() + timeoutMs;
  for (;;) {
    const hit = probe();
    if (hit !== undefined) return hit;
    const left = end - nowMs();
    if (left <= 0) return undefined;
    await ctx.sleep(Math.min(intervalMs, left));
  }
}
