// The built-in driver registry: every driver shipped with pnc-bench, by the name rig files use.
// Driver families add their definitions here as they land (drivers/<family>/).
import { DriverRegistry } from '../src/rig/registry.ts';

export function builtinDrivers(): DriverRegistry {
  return new DriverRegistry([]);
}
