// `pnc-bench rig check`: exit 0 with a summary for a valid rig, 2 with every issue for an invalid
// one or a missing file, never a stack trace.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { rigCheck } from '../../src/cli/rig.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/rigs');
const fx = (name: string) => path.relative(process.cwd(), path.join(FIXTURES, `${name}.yaml`));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) } };
}

describe('rigCheck', () => {
  it('returns 0 and prints id, dut, features, drivers with provides and bindings', async () => {
    const c = capture();
    expect(await rigCheck(fx('valid-fake'), c.io)).toBe(0);
    expect(c.err).toEqual([]);
    expect(c.out[0]).toBe(`rig fake-a1: OK (${fx('valid-fake')})`);
    expect(c.out).toContain('  dut:       acme-dc150 (vendor ACME, serial SN-0001, firmware 1.2.3)');
    expect(c.out).toContain('  features:  pnc, dc, iso15118-2');
    expect(c.out).toContain('    meter: FakeMeter, provides EnergyMeter, bind link=meter_link (ModbusTcp)');
    expect(c.out).toContain('    ccu: FakeCcu, provides ChargeController, bind bus=ccu_bus (CanInterface)');
    expect(c.out.some((l) => /^ {2}config: {4}sha256 [0-9a-f]{64}$/.test(l))).toBe(true);
  });

  it('prints warnings of a valid rig', async () => {
    const c = capture();
    expect(await rigCheck(fx('warnings'), c.io)).toBe(0);
    expect(c.out).toContain('warnings (4):');
    expect(c.out).toContain(`  ${fx('warnings')}:8:3: resources.spare_link: resource "spare_link" is not bound by any driver`);
  });

  it('passes the environment for templating', async () => {
    const env = { HIL_LAB: '2', HIL_SERIAL: 'S', HIL_METER_HOST: 'h', HIL_METER_PORT: '1', HIL_UNIT: '1', HIL_FAIL_OPEN: 'false' };
    expect(await rigCheck(fx('templated'), capture().io, { env })).toBe(0);
    const c = capture();
    expect(await rigCheck(fx('templated'), c.io, { env: {} })).toBe(2);
    expect(c.err).toContain(`${fx('templated')}:4:11: location: environment variable HIL_LAB is not set (used as "\${HIL_LAB}")`);
  });

  it('returns 2 and prints every issue, one per line, without a stack trace', async () => {
    const c = capture();
    expect(await rigCheck(fx('bindings'), c.io)).toBe(2);
    expect(c.out).toEqual([]);
    expect(c.err).toHaveLength(6);
    expect(c.err[0]).toBe(
      `${fx('bindings')}:11:11: drivers.m1.bind: missing binding "link" (FakeMeter needs a ModbusTcp or ModbusRtu resource there)`,
    );
    expect(c.err[5]).toBe(`${fx('bindings')}: invalid rig file (5 issues)`);
    expect(c.err.join('\n')).not.toMatch(/\n\s+at /);
  });

  it('returns 2 with a clear message for a file that does not exist', async () => {
    const c = capture();
    expect(await rigCheck('rigs/nope.yaml', c.io)).toBe(2);
    expect(c.err).toEqual(['rigs/nope.yaml: rig file not found']);
  });
});
