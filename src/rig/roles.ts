// Binding a suite's roles (`uses: { meter: 'EnergyMeter' }`) to a rig's drivers, and whether a rig
// can run a suite at all. Pure: it needs only each driver's name and what its definition provides,
// taken from the loaded rig file and the driver registry, and the rig's features, so the live server
// decides exactly as the executor does without creating any driver.
//
//   const caps = rigCapabilities(loaded);
//   const refused = ambiguousRoles(caps, loaded.config.features, suites);  // non-empty: the run is refused
//   const fit = suiteFit(caps, loaded.config.features, suite.def);
//   if (fit.ok) fit.bound;   // role → driver name; else fit.kind and fit.message say why it is SKIPPED
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

/** What the rig must have for a suite: its `requires` features and its `uses` roles. */
export interface SuiteNeeds {
  requires?: readonly string[];
  uses?: Readonly<Record<string, CapabilityName>>;
}

/**
 * Whether a rig can run a suite: 'ambiguous' when two drivers could fill one of its roles (the run is
 * refused: see ambiguousRoles), else 'feature' when the rig lacks a required feature and 'missing'
 * when no driver provides a used capability (the suite is SKIPPED, MISSING_FEATURE / MISSING_DRIVER).
 */
export type SuiteFit = UsesResolution | { ok: false; kind: 'feature'; message: string };

/** The registry's definition of driver `name` of the rig; throws when its `driver:` type is not registered. */
export function driverDefinition(spec: Pick<RigSpec, 'registry' | 'config'>, name: string): DriverDefinition {
  const driver = spec.config.drivers[name]?.driver;
  if (driver === undefined) throw new Error(`rig ${spec.config.id} has no driver "${name}"`);
  const def = spec.registry.get(driver);
  if (!def) throw new Error(`rig ${spec.config.id}: driver "${driver}" of ${name} is not registered`);
  return def;
}

/** The rig's drivers and what each provides, from its config and registry; creates no driver. */
export function rigCapabilities(spec: Pick<RigSpec, 'registry' | 'config'>): RigCapabilities {
  const drivers = new Map<string, readonly CapabilityName[]>();
  for (const name of Object.keys(spec.config.drivers)) drivers.set(name, driverDefinition(spec, name).provides);
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

/** See SuiteFit; an ambiguous role counts before a missing feature, as it refuses the whole run. */
export function suiteFit(rig: RigCapabilities, features: readonly string[], suite: SuiteNeeds): SuiteFit {
  const uses = resolveUses(rig, suite.uses ?? {});
  if (!uses.ok && uses.kind === 'ambiguous') return uses;
  const missing = (suite.requires ?? []).filter((f) => !features.includes(f));
  if (missing.length) return { ok: false, kind: 'feature', message: `rig ${rig.id} lacks feature(s) ${missing.join(', ')}` };
  return uses;
}

/**
 * Why a run of these suites is refused before it starts, one `<file>: <reason>` per suite with a role
 * two drivers could fill (a rig/suite mismatch the rig file must resolve); empty: it may run.
 */
export function ambiguousRoles(rig: RigCapabilities, features: readonly string[], suites: readonly { file: string; def: SuiteNeeds }[]): string[] {
  return suites.flatMap((s) => {
    const fit = suiteFit(rig, features, s.def);
    return !fit.ok && fit.kind === 'ambiguous' ? [`${s.file}: ${fit.message}`] : [];
  });
}
