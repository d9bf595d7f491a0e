// The rig at run time: the drivers a loaded rig file describes, created from the registry, opened
// on demand (only the ones a suite uses), probed, emergency-stopped and closed under deadlines.
// The runner talks to hardware only through this object and the capability interfaces.
import type { ChargeController, HealthResult, Lifecycle } from '../../drivers/capabilities.ts';
import { LinkError } from '../../drivers/capabilities.ts';
import type { DriverDefinition, DriverRegistry } from './registry.ts';
import type { Resource } from './resources.ts';
import { driverDefinition, rigCapabilities, type RigCapabilities } from './roles.ts';
import { Transcript } from './transcript.ts';

/** What the runtime needs of a loaded rig file (src/rig/load.ts gives more). */
export interface RigSpec {
  dir: string;
  registry: DriverRegistry;
  config: {
    id: string;
    resources: Record<string, Resource>;
    drivers: Record<string, { driver: string; bind: Record<string, string>; options?: unknown }>;
  };
}

export interface DriverSlot {
  name: string;
  def: DriverDefinition;
  instance: Lifecycle;
  transcript: Transcript;
  opened: boolean;
}

/** Races `p` against a deadline; resolves 'timeout' when the deadline wins. */
export async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export class Rig {
  readonly id: string;
  /** Its drivers and what each provides, to bind suites' roles (suiteFit in src/rig/roles.ts). */
  readonly capabilities: RigCapabilities;
  private readonly slots = new Map<string, DriverSlot>();

  constructor(spec: RigSpec, log: (driver: string, level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void) {
    this.id = spec.config.id;
    this.capabilities = rigCapabilities(spec);
    for (const [name, d] of Object.entries(spec.config.drivers)) {
      const def = driverDefinition(spec, name);
      const resources: Record<string, Resource> = {};
      for (const [slot, res] of Object.entries(d.bind)) {
        const r = spec.config.resources[res];
        if (!r) throw new Error(`rig ${this.id}: ${name} binds ${slot} to unknown resource ${res}`);
        resources[slot] = r;
      }
      const transcript = new Transcript(def.transcript);
      const instance = def.create({
        name,
        options: d.options,
        resources,
        transcript,
        rigDir: spec.dir,
        log: (level, msg) => log(name, level, msg),
      });
      this.slots.set(name, { name, def, instance, transcript, opened: false });
    }
  }

  names(): string[] {
    return [...this.slots.keys()];
  }

  slot(name: string): DriverSlot {
    const s = this.slots.get(name);
    if (!s) throw new Error(`rig ${this.id} has no driver "${name}"`);
    return s;
  }

  openSlots(): DriverSlot[] {
    return [...this.slots.values()].filter((s) => s.opened);
  }

  /** Opens the named drivers that are not open yet; any failure is a LinkError (outcome INFRA). */
  async open(names: readonly string[], signal: AbortSignal, timeoutMs: number): Promise<string[]> {
    const opened: string[] = [];
    for (const name of names) {
      const s = this.slot(name);
      if (s.opened) continue;
      const sig = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
      try {
        await Promise.race([
          s.instance.open(sig),
          new Promise<never>((_, reject) => sig.addEventListener('abort', () => reject(sig.reason), { once: true })),
        ]);
      } catch (e) {
        // a half-open link (a socket, a port) must not outlive the failure
        await withDeadline(Promise.resolve().then(() => s.instance.close(timeoutMs)).catch(() => {}), timeoutMs);
        if (signal.aborted) throw e;
        if (e instanceof LinkError) throw e;
        const why = sig.aborted ? `did not open within ${timeoutMs} ms` : `failed to open: ${e instanceof Error ? e.message : String(e)}`;
        throw new LinkError(name, why, { cause: e });
      }
      s.opened = true;
      opened.push(name);
    }
    return opened;
  }

  /** Health of the named drivers; a probe that throws or hangs counts as not ok. */
  async health(names: readonly string[], signal: AbortSignal, timeoutMs: number): Promise<Record<string, HealthResult>> {
    const out: Record<string, HealthResult> = {};
    for (const name of names) {
      const s = this.slot(name);
      try {
        const r = await withDeadline(s.instance.health(AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])), timeoutMs);
        out[name] = r === 'timeout' ? { ok: false, detail: `health probe did not answer within ${timeoutMs} ms` } : r;
      } catch (e) {
        out[name] = { ok: false, detail: `health probe threw (a driver bug): ${(e as Error).message}` };
      }
    }
    return out;
  }

  /** Calls emergencyStop() on every open ChargeController; never throws; bounded by `timeoutMs` each. */
  async emergencyStop(timeoutMs: number): Promise<Record<string, string>> {
    const results: Record<string, string> = {};
    const ccus = [...this.slots.values()].filter((s) => s.opened && s.def.provides.includes('ChargeController'));
    await Promise.all(
      ccus.map(async (s) => {
        try {
          const r = await withDeadline((s.instance as ChargeController).emergencyStop(), timeoutMs);
          results[s.name] = r === 'timeout' ? `no confirmation within ${timeoutMs} ms` : 'ok';
        } catch (e) {
          results[s.name] = `failed: ${(e as Error).message}`;
        }
      }),
    );
    return results;
  }

  /** Closes every open driver in parallel; each gets `deadlineMs` and is dropped after it. */
  async closeAll(deadlineMs: number): Promise<Record<string, string>> {
    const results: Record<string, string> = {};
    await Promise.all(
      this.openSlots().map(async (s) => {
        try {
          const r = await withDeadline(s.instance.close(deadlineMs), deadlineMs + 100);
          results[s.name] = r === 'timeout' ? `close did not settle within ${deadlineMs} ms; dropped` : 'ok';
        } catch (e) {
          results[s.name] = `close failed: ${(e as Error).message}`;
        }
        s.opened = false;
      }),
    );
    return results;
  }
}
