// Builds a runnable rig in memory from the fake drivers (test/fakes/drivers.ts), for executor
// tests that do not need a rig file, and a throw-away run directory.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunnableRig } from '../../src/runner/executor.ts';
import { DriverRegistry } from '../../src/rig/registry.ts';
import { ResourceSchema, type Resource } from '../../src/rig/resources.ts';
import fakes from '../fakes/drivers.ts';

export function fakeRig(opts: {
  features?: string[];
  drivers?: Record<string, { driver: 'FakeMeter' | 'FakeCcu'; options?: Record<string, unknown> }>;
  timeouts?: Partial<RunnableRig['config']['timeouts']>;
} = {}): RunnableRig {
  const registry = new DriverRegistry(fakes);
  const resources: Record<string, Resource> = {
    meter_link: ResourceSchema.parse({ type: 'ModbusTcp', host: '127.0.0.1', port: 5020 }),
    ccu_bus: ResourceSchema.parse({ type: 'CanInterface', transport: 'socketcand', host: '127.0.0.1', port: 29536, iface: 'vcan0' }),
  };
  const drivers: RunnableRig['config']['drivers'] = {};
  for (const [name, d] of Object.entries(opts.drivers ?? { meter: { driver: 'FakeMeter' }, ccu: { driver: 'FakeCcu' } })) {
    const def = registry.get(d.driver);
    if (!def) throw new Error(d.driver);
    drivers[name] = { driver: d.driver, bind: d.driver === 'FakeMeter' ? { link: 'meter_link' } : { bus: 'ccu_bus' }, options: def.options.parse(d.options ?? {}) };
  }
  return {
    file: 'test/fake.yaml',
    dir: process.cwd(),
    registry,
    configHash: 'f'.repeat(64),
    config: {
      id: 'fake-rig',
      features: opts.features ?? ['meter'],
      dut: { model: 'fake-charger', serial: 'SN1', firmware: '1.2.3' },
      resources,
      drivers,
      timeouts: { openMs: 2000, closeMs: 500, teardownMs: 2000, ...opts.timeouts },
    },
  };
}

export function tempDir(prefix = 'pnc-bench-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}
