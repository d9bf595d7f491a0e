// Shared steps of the rig health suites (bench/health/rig-*.suite.ts): each check is written to
// hil_rig_health with ctx.health({ resource, check, ok, detail }) whether it passes or not, and a
// failed check throws LinkError, so the phase — and the run — ends INFRA (the rig is broken), never
// FAIL (the charger is not to blame). `resource` is the suite's role name (on the virtual rig and the
// lab template the driver's name), a bounded tag.
//
//   const drivers = distinct(ctx, ['meter', 'meter_rtu']);   // roles bound to the same driver once
//   await check(ctx, 'meter', 'meter_answers', async () => ({ ok: true, detail: '…' }));
import { LinkError, type Lifecycle } from '../../drivers/capabilities.ts';
import type { PhaseContext } from '../../src/runner/suite.ts';

export interface CheckResult {
  ok: boolean;
  detail: string;
  reconnects?: number;
}

const text = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Runs one check and records it. A check that throws counts as failed (its error is the detail),
 * except when the phase itself was aborted (timeout, cancellation): that propagates unchanged.
 */
export async function check<D>(ctx: PhaseContext<D>, resource: string, name: string, fn: () => Promise<CheckResult> | CheckResult): Promise<CheckResult> {
  let r: CheckResult;
  try {
    r = await fn();
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    r = { ok: false, detail: text(e) };
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

/** The driver's own health() as a check named `driver_health` (link up, last answer). */
export async function driverHealth<D>(ctx: PhaseContext<D>, resource: string, drv: Lifecycle): Promise<CheckResult> {
  return check(ctx, resource, 'driver_health', () => drv.health(ctx.signal));
}

/** A number from a limit file, checked to be a finite number ≥ 0. */
export function limitMs<D>(ctx: PhaseContext<D>, key: string): number {
  const v = ctx.limitValue(key);
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`limit ${key} must be a number ≥ 0 (ms), got ${JSON.stringify(v)}`);
  return v;
}
