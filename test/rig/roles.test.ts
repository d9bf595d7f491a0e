// Role binding (src/rig/roles.ts): a role goes to the driver named like it when that driver provides
// the capability, else to the only driver providing it; none is 'missing', several 'ambiguous'.
// rigCapabilities reads what drivers provide from the rig config and the registry, creating none.
// suiteFit / ambiguousRoles: whether a rig can run a suite (the executor's and the live server's rule).
import { describe, expect, it } from 'vitest';
import type { CapabilityName } from '../../drivers/capabilities.ts';
import { DriverRegistry, type DriverDefinition } from '../../src/rig/registry.ts';
import { Rig } from '../../src/rig/rig.ts';
import { ambiguousRoles, resolveUses, rigCapabilities, suiteFit, type RigCapabilities, type SuiteNeeds } from '../../src/rig/roles.ts';
import { fakeRig } from '../helpers/fake-rig.ts';

const rig = (drivers: Record<string, CapabilityName[]>): RigCapabilities => ({ id: 'r1', drivers: new Map(Object.entries(drivers)) });

describe('resolveUses', () => {
  it('binds each role to the only driver providing its capability', () => {
    const r = resolveUses(rig({ m1: ['EnergyMeter'], c1: ['ChargeController'] }), { meter: 'EnergyMeter', ccu: 'ChargeController' });
    expect(r).toEqual({ ok: true, bound: { meter: 'm1', ccu: 'c1' } });
  });

  it('binds a role to the driver of the same name when it provides the capability, even among several', () => {
    const r = resolveUses(rig({ meter_b: ['EnergyMeter'], meter: ['EnergyMeter'] }), { meter: 'EnergyMeter' });
    expect(r).toEqual({ ok: true, bound: { meter: 'meter' } });
  });

  it('does not bind a driver of the same name that lacks the capability', () => {
    const r = resolveUses(rig({ meter: ['ChargeController'], m2: ['EnergyMeter'] }), { meter: 'EnergyMeter' });
    expect(r).toEqual({ ok: true, bound: { meter: 'm2' } });
  });

  it("is 'missing' when no driver provides the capability", () => {
    const r = resolveUses(rig({ meter: ['EnergyMeter'] }), { meter: 'EnergyMeter', ccu: 'ChargeController' });
    expect(r).toEqual({ ok: false, kind: 'missing', message: 'rig r1 has no driver providing ChargeController (role "ccu")' });
  });

  it("is 'ambiguous' when several drivers provide it and none is named like the role", () => {
    const r = resolveUses(rig({ meter_a: ['EnergyMeter'], ccu: ['ChargeController'], meter_b: ['EnergyMeter'] }), { meter: 'EnergyMeter' });
    expect(r).toEqual({
      ok: false,
      kind: 'ambiguous',
      message: 'role "meter" needs EnergyMeter, which meter_a, meter_b all provide: name one of them "meter" in the rig file',
    });
  });

  it('binds nothing for a suite without roles', () => {
    expect(resolveUses(rig({}), {})).toEqual({ ok: true, bound: {} });
  });
});

describe('rigCapabilities', () => {
  it("takes each driver's provides from the registry without creating any driver", () => {
    const spec = fakeRig({ drivers: { meter_a: { driver: 'FakeMeter' }, ccu: { driver: 'FakeCcu' }, meter_b: { driver: 'FakeMeter' } } });
    const refuse = (def: DriverDefinition): DriverDefinition => ({
      ...def,
      create: () => {
        throw new Error(`${def.name} created`);
      },
    });
    const registry = new DriverRegistry(spec.registry.list().map(refuse));
    const caps = rigCapabilities({ ...spec, registry });
    expect(caps.id).toBe('fake-rig');
    expect([...caps.drivers]).toEqual([
      ['meter_a', ['EnergyMeter']],
      ['ccu', ['ChargeController']],
      ['meter_b', ['EnergyMeter']],
    ]);
  });

  it("names a driver whose type is not registered, as creating the rig's drivers does", () => {
    const spec = fakeRig();
    const bad = { ...spec, config: { ...spec.config, drivers: { ...spec.config.drivers, ev: { driver: 'NoSuchEv', bind: {} } } } };
    const message = 'rig fake-rig: driver "NoSuchEv" of ev is not registered';
    expect(() => rigCapabilities(bad)).toThrow(message);
    expect(() => new Rig(bad, () => {})).toThrow(message);
  });

  it('is what the created Rig binds with, with fixed results', () => {
    const spec = fakeRig({ drivers: { meter_a: { driver: 'FakeMeter' }, meter_b: { driver: 'FakeMeter' }, ccu: { driver: 'FakeCcu' } } });
    const caps = rigCapabilities(spec);
    expect(new Rig(spec, () => {}).capabilities).toEqual(caps);
    expect(resolveUses(caps, { ccu: 'ChargeController' })).toEqual({ ok: true, bound: { ccu: 'ccu' } });
    expect(resolveUses(caps, { meter: 'EnergyMeter' })).toMatchObject({ ok: false, kind: 'ambiguous' });
    expect(resolveUses(caps, { meter_b: 'EnergyMeter' })).toEqual({ ok: true, bound: { meter_b: 'meter_b' } });
    expect(resolveUses(caps, { ev: 'EvEmulator' })).toEqual({ ok: false, kind: 'missing', message: 'rig fake-rig has no driver providing EvEmulator (role "ev")' });
  });
});

describe('suiteFit and ambiguousRoles: what the executor and the live server decide', () => {
  const caps = rig({ meter_a: ['EnergyMeter'], meter_b: ['EnergyMeter'], ccu: ['ChargeController'] });
  const ambiguous = 'role "meter" needs EnergyMeter, which meter_a, meter_b all provide: name one of them "meter" in the rig file';

  it('binds the roles of a suite the rig has every feature for', () => {
    expect(suiteFit(caps, ['dc'], { requires: ['dc'], uses: { ccu: 'ChargeController' } })).toEqual({ ok: true, bound: { ccu: 'ccu' } });
    expect(suiteFit(caps, [], {})).toEqual({ ok: true, bound: {} });
  });

  it("is 'feature' for a missing feature before a role no driver fills", () => {
    expect(suiteFit(caps, ['ac'], { requires: ['dc', 'pnc'], uses: { ev: 'EvEmulator' } })).toEqual({ ok: false, kind: 'feature', message: 'rig r1 lacks feature(s) dc, pnc' });
    expect(suiteFit(caps, ['dc'], { requires: ['dc'], uses: { ev: 'EvEmulator' } })).toMatchObject({ ok: false, kind: 'missing' });
  });

  it("is 'ambiguous' even when a feature is missing too: the run is refused either way", () => {
    expect(suiteFit(caps, [], { requires: ['dc'], uses: { meter: 'EnergyMeter' } })).toEqual({ ok: false, kind: 'ambiguous', message: ambiguous });
  });

  it('ambiguousRoles names every suite of the run with an ambiguous role, and only those', () => {
    const suites: { file: string; def: SuiteNeeds }[] = [
      { file: 'bench/health/m.suite.ts', def: { uses: { meter: 'EnergyMeter' } } },
      { file: 'a.suite.ts', def: { requires: ['dc'], uses: { ev: 'EvEmulator' } } },
      { file: 'b.suite.ts', def: { requires: ['dc'], uses: { meter: 'EnergyMeter' } } },
    ];
    expect(ambiguousRoles(caps, [], suites)).toEqual([`bench/health/m.suite.ts: ${ambiguous}`, `b.suite.ts: ${ambiguous}`]);
    expect(ambiguousRoles(caps, [], suites.slice(1, 2))).toEqual([]);
  });
});
