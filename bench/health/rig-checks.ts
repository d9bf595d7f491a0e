// Shared steps of the rig health suites (bench/health/rig-*.suite.ts): each check is written to
// hil_rig_health with ctx.health({ resource, check, ok, detail }) whether it passes or not, and a
// failed check throws LinkError, so the phase — and the run — ends INFRA (the rig is broken), never
// FAIL (the charger is not to blame). `resource` is the suite's role name (on the virtual rig and the
// lab template the driver's name), a bounded tag. Every check is bounded in time (CHECK_TIMEOUT_MS unless
// given): its function gets a signal that aborts at the bound, and a driver call that ignores the
// signal and never settles fails the check all the same ("no answer within … ms") instead of hanging
// the phase until its own timeout.
//
//   const drivers = distinct(ctx, ['meter', 'meter_rtu']);   // roles bound to the same driver once
//   await check(ctx, 'meter', 'meter_answers', async (signal) => ({ ok: true, detail: '…' }));
import { LinkError, type Lifecycle } from '../../drivers/capabilities.ts';
import { abortable, errorText } from '../../drivers/common/abort.ts';
import type { PhaseContext } from '../../src/runner/suite.ts';

export interface CheckResult {
  ok: boolean;
  detail: string;
  reconnects?: number;
}

/** How long one check may take unless its caller says otherwise (a health() or status() call, a read). */
export const CHECK_TIMEOUT_MS = 4_000; // below the shortest health phase timeout (5 s), so the check, not the phase, reports it

/**
 * Runs one check and records it. `fn` gets a signal that aborts when the phase is aborted or after
 * `timeoutMs`; the check fails at that bound even if `fn` never settles. A check that throws counts
 * as failed (its error is the detail), except when the phase itself was aborted (timeout,
 * cancellation): that propagates unchanged.
 */
export async function check<D>(
  ctx: PhaseContext<D>,
  resource: string,
  name: string,
  fn: (signal: AbortSignal) => Promise<CheckResult> | CheckResult,
  timeoutMs: number = CHECK_TIMEOUT_MS,
): Promise<CheckResult> {
  const bound = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
  let r: CheckResult;
  try {
    // settles at the bound even when fn never does
    r = await abortable(Promise.resolve().then(() => fn(bound)), bound);
  } catch (e) {
    if (ctx.signal.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : e;
    r = { ok: false, detail: bound.aborted ? `no answer within ${timeoutMs} ms` : errorText(e) };
  }
  ctx.health({ resource, check: name, ok: r.ok, detail: r.detail, ...(r.reconnects !== undefined ? { reconnects: r.reconnects } : {}) });
  if (!r.ok) throw new LinkError(resource, `${name}: ${r.detail}`);
  ctx.log(`${resource} ${name}: ${r.detail}`);
  return r;
}

/**
 * The roles of `roles` that are bound to distinct drivers, in order. On a rig with one CCU both `ccu`
 * and `ccu_sock` bind to it; it is checked once, under the first role.
 */
export function distinct<D extends Record<string, unknown>>(ctx: PhaseContext<D>, roles: readonly (keyof D & string)[]): (keyof D & string)[] {
  const seen = new Set<unknown>();
  const out: (keyof D & string)[] = [];
  for (const role of roles) {
    const drv = ctx.d[role];
    if (seen.has(drv)) {
      ctx.log(`role ${role} is bound to the same driver as an earlier role: checked once`);
      continue;
    }
    seen.add(drv);
    out.push(role);
  }
  return out;
}

/** The driver's own health() as a check named `driver_health` (link up, last answer), bounded like every check. */
export async function driverHealth<D>(ctx: PhaseContext<D>, resource: string, drv: Lifecycle): Promise<CheckResult> {
  return check(ctx, resource, 'driver_health', (signal) => drv.health(signal));
}
