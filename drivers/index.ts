// The built-in driver registry: every driver shipped with pnc-bench, by the name rig files use.
// Driver families add their definitions here as they land (drivers/<family>/).
import { MockCsmsDriver } from '../src/csms/driver.ts';
import { DriverRegistry } from '../src/rig/registry.ts';
import { CcuCan } from './ccu/driver.ts';
import { EverestCarSim } from './ev/everest.ts';
import { ModbusMeter } from './meter/driver.ts';
import { SeccConsole } from './secc/console.ts';

export function builtinDrivers(): DriverRegistry {
  return new DriverRegistry([CcuCan, EverestCarSim, MockCsmsDriver, ModbusMeter, SeccConsole]);
}
