// Binding a suite's roles (`uses: { meter: 'EnergyMeter' }`) to a rig's drivers. Pure: it needs only
// each driver's name and what its definition provides, taken from the loaded rig file and the driver
// registry, so the live server can tell whether a suite fits a rig without creating any driver. The
// executor binds through Rig.resolveUses, which calls resolveUses here.
//
//   const r = resolveUses(rigCapabilities(loaded), suite.def.uses ?? {});
//   if (r.ok) r.bound;   // role → driver name
import type { CapabilityName } from '../../drivers/capabilities.ts';
import type { DriverDefinition } from './registry.ts';
import type { RigSpec } from './rig.ts';

/** What role binding needs of a rig: its id and, per driver in rig-file order, what its definition provides. */
export interface RigCapabilities {
  id: string;
  drivers: ReadonlyMap<string, readonly CapabilityName[]>;
}

export type UsesResolution =
  | { ok: true; bound: Record<string, string> }
  | { ok: false; kind: 'missing' | 'ambiguous'; message: string };

/** The registry's definition of driver `name` of the rig; throws when its `driver:` type is not registered. */
export function driverDefinition(spec: Pick<RigSpec, 'registry' | 'config'>, name: string, driver: string): DriverDefinition {
  const def = spec.registry.get(driver);
  if (!def) throw new Error(`rig ${spec.config.id}: driver "${driver}" of ${name} is not registered`);
  return def;
}

/** The rig's drivers and what each provides, from its config and registry; creates no driver. */
export function rigCapabilities(spec: Pick<RigSpec, 'registry' | 'config'>): RigCapabilities {
  const drivers = new Map<string, readonly CapabilityName[]>();
  for (const [name, d] of Object.entries(spec.config.drivers)) drivers.set(name, driverDefinition(spec, name, d.driver).provides);
  return { id: spec.config.id, drivers };
}

/**
 * Binds a suite's roles to drivers: the driver with the role's name when it provides the
 * capability, otherwise the only driver that provides it ('missing' when none does, 'ambiguous'
 * when several do).
 */
export function resolveUses(rig: RigCapabilities, uses: Readonly<Record<string, CapabilityName>>): UsesResolution {
  const bound: Record<string, string> = {};
  for (const [role, cap] of Object.entries(uses)) {
    if (rig.drivers.get(role)?.includes(cap)) {
      bound[role] = role;
      continue;
    }
    const candidates = [...rig.drivers].filter(([, provides]) => provides.includes(cap)).map(([name]) => name);
    if (candidates.length === 0) return { ok: false, kind: 'missing', message: `rig ${rig.id} has no driver providing ${cap} (role "${role}")` };
    if (candidates.length > 1)
      return {
        ok: false,
        kind: 'ambiguous',
        message: `role "${role}" needs ${cap}, which ${candidates.join(', ')} all provide: name one of them "${role}" in the rig file`,
      };
    bound[role] = candidates[0] as string;
  }
  return { ok: true, bound };
}
