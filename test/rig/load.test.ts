// Rig file loader: every error kind reported as `file:line:col: path: message` (positions asserted
// exactly), templating, plugins, limits, warnings, the config hash and the shipped rig files.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { builtinDrivers } from '../../drivers/index.ts';
import { canonicalJson, editDistance, loadRig, RigConfigError, type LoadedRig, type LoadRigOptions } from '../../src/rig/load.ts';
import { DriverRegistry } from '../../src/rig/registry.ts';
import type { RunnableRig } from '../../src/runner/executor.ts';
import fakes from '../fakes/drivers.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/rigs');

/** A fixture as a user would name it from the cwd (what the messages show). */
const fx = (name: string) => path.relative(process.cwd(), path.join(FIXTURES, `${name}.yaml`));

async function failure(file: string, opts?: LoadRigOptions): Promise<RigConfigError> {
  try {
    await loadRig(file, opts);
  } catch (e) {
    if (e instanceof RigConfigError) return e;
    throw e;
  }
  throw new Error(`${file} loaded without error`);
}

/** The error message's lines: one formatted issue per line, in file order. */
async function errorLines(name: string, opts?: LoadRigOptions): Promise<string[]> {
  const e = await failure(fx(name), opts);
  const lines = e.message.split('\n');
  expect(lines).toHaveLength(e.issues.length);
  return lines;
}

function fakeRegistry(): DriverRegistry {
  const r = new DriverRegistry();
  for (const d of fakes) r.register(d);
  return r;
}

describe('loadRig: valid files', () => {
  it('resolves a rig with plugin drivers: defaults applied, options parsed, paths absolute', async () => {
    const rig = await loadRig(fx('valid-fake'), { registry: new DriverRegistry() }); // the plugins' drivers only
    expect(rig.file).toBe(path.join(FIXTURES, 'valid-fake.yaml'));
    expect(rig.dir).toBe(FIXTURES);
    expect(rig.warnings).toEqual([]);
    const c = rig.config;
    expect(c.id).toBe('fake-a1');
    expect(c.features).toEqual(['pnc', 'dc', 'iso15118-2']);
    expect(c.dut).toEqual({ model: 'acme-dc150', vendor: 'ACME', serial: 'SN-0001', firmware: '1.2.3' });
    expect(c.resources.ccu_bus).toEqual({ type: 'CanInterface', transport: 'socketcan', iface: 'can0', bitrate: 500000 });
    expect(c.drivers.meter).toEqual({
      driver: 'FakeMeter',
      bind: { link: 'meter_link' },
      options: { openFails: false, closeHangs: false, failReads: 0, unhealthy: false, energyWh: 1000, powerW: 11000, serial: 'FAKE-0001' },
    });
    expect(c.drivers.ccu?.options).toEqual({ openFails: false, closeHangs: false, failReads: 0, unhealthy: false });
    expect(c.timeouts).toEqual({ openMs: 2000, closeMs: 5000, teardownMs: 30000 });
    expect(c.limits).toEqual(['./limits/placeholder.yaml']);
    expect(rig.limitFiles).toEqual([path.join(FIXTURES, 'limits/placeholder.yaml')]);
    expect(rig.registry.names()).toEqual(['FakeCcu', 'FakeMeter']);
    expect(rig.configHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives the runner what it needs (LoadedRig fits RunnableRig)', async () => {
    const rig: LoadedRig = await loadRig(fx('valid-fake'));
    const runnable: RunnableRig = rig;
    expect(runnable.config.drivers.meter?.driver).toBe('FakeMeter');
  });

  it('loads rigs/virtual.yaml with the built-in registry, without fake drivers', async () => {
    const rig = await loadRig(path.join(ROOT, 'rigs/virtual.yaml'), { env: {} });
    expect(rig.config.id).toBe('virtual');
    expect(rig.config.dut.model).toBe('virtual-charger');
    expect(rig.config.features).toEqual(['pnc', 'ev', 'meter', 'ccu', 'console']);
    expect(rig.config.plugins).toEqual([]);
    expect(rig.simulator?.def.name).toBe('virtual');
    // every driver is a built-in one reaching a simulated device over its link (placeholders here: rig check does not start the simulator)
    expect(Object.values(rig.config.drivers).map((d) => d.driver).sort()).toEqual(['CcuCan', 'CcuCan', 'EverestCarSim', 'MockCsms', 'ModbusMeter', 'ModbusMeter', 'SeccConsole']);
    expect(rig.warnings).toEqual([]);
  });

  it('loads every shipped rigs/*.yaml with the built-in registry', async () => {
    const files = readdirSync(path.join(ROOT, 'rigs')).filter((f) => /\.ya?ml$/.test(f));
    expect(files).toContain('virtual.yaml');
    for (const f of files) {
      const rig = await loadRig(path.join(ROOT, 'rigs', f), { registry: builtinDrivers(), env: {} });
      expect(rig.config.plugins.filter((p) => p.includes('fakes'))).toEqual([]);
    }
  });

  it('uses the given registry and never modifies it', async () => {
    const base = fakeRegistry();
    const rig = await loadRig(fx('no-plugins-fake'), { registry: base });
    expect(rig.config.drivers.meter?.driver).toBe('FakeMeter');
    const plugged = await loadRig(fx('plugin-ok'), { registry: base });
    expect(plugged.registry.names()).toEqual(['FakeCcu', 'FakeMeter', 'LabRelay']);
    expect(base.names()).toEqual(['FakeCcu', 'FakeMeter']);
  });

  it('registers plugin drivers and validates their options', async () => {
    const rig = await loadRig(fx('plugin-ok'));
    expect(rig.registry.get('LabRelay')?.provides).toEqual([]);
    expect(rig.config.drivers.relay).toEqual({ driver: 'LabRelay', bind: { port: 'relay_port' }, options: { channel: 3 } });
    expect(builtinDrivers().get('LabRelay')).toBeUndefined();
  });
});

describe('loadRig: errors with file, line, column and key path', () => {
  it('reports a YAML syntax error at the parser position', async () => {
    expect(await errorLines('yaml-syntax')).toEqual([
      `${fx('yaml-syntax')}:6:1: dut.vendor[0]: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`,
    ]);
  });

  it('explains an unquoted ${...} inside a flow map', async () => {
    expect(await errorLines('flow-placeholder')).toEqual([
      `${fx('flow-placeholder')}:5:40: resources.ev_link.host: YAML: Unexpected flow-map-start at node end; a \${...} placeholder inside a flow collection { } or [ ] must be quoted: "\${HIL_NAME}"`,
    ]);
  });

  it('rejects duplicate keys', async () => {
    expect(await errorLines('duplicate-key')).toEqual([
      `${fx('duplicate-key')}:6:3: resources.meter_link: YAML: duplicate key "meter_link" (map keys must be unique)`,
    ]);
  });

  it('points at unknown keys and suggests the closest valid key', async () => {
    expect(await errorLines('unknown-key')).toEqual([
      `${fx('unknown-key')}:3:1: featurs: unknown key "featurs"; did you mean "features"?`,
      `${fx('unknown-key')}:6:3: dut.modle: unknown key "modle"; did you mean "model"?`,
      `${fx('unknown-key')}:8:50: resources.meter_link.unitid: unknown key "unitid"; did you mean "unitId"?`,
      `${fx('unknown-key')}:11:3: timeouts.bananas: unknown key "bananas"`,
    ]);
  });

  it('reports wrong types and values at the value', async () => {
    expect(await errorLines('wrong-type')).toEqual([
      `${fx('wrong-type')}:5:13: dut.firmware: expected a string, got number 1.2; quote it to make it a string: "1.20"`,
      `${fx('wrong-type')}:6:11: features: expected a list, got string "pnc"`,
      `${fx('wrong-type')}:8:56: resources.meter_link.port: expected a number, got string "fast"`,
      `${fx('wrong-type')}:9:79: resources.console.parity: expected one of "none", "even", "odd", got string "evn" (did you mean "even"?)`,
      `${fx('wrong-type')}:9:94: resources.console.dataBits: expected one of 7, 8, got number 9`,
      `${fx('wrong-type')}:11:11: timeouts.openMs: expected a number, got string "fast"`,
      `${fx('wrong-type')}:12:12: timeouts.closeMs: must be > 0, got number -5`,
      `${fx('wrong-type')}:13:10: limits[0]: expected a string, got number 5; quote it to make it a string: "5"`,
    ]);
  });

  it('reports a missing required key at the map that lacks it', async () => {
    expect(await errorLines('missing-key')).toEqual([
      `${fx('missing-key')}:1:1: (root): missing required key "id"`,
      `${fx('missing-key')}:3:3: dut: missing required key "model"`,
      `${fx('missing-key')}:5:15: resources.meter_link: missing required key "type" (one of SerialPort, CanInterface, ModbusTcp, ModbusRtu, TcpEndpoint, MqttBroker, ListenPort)`,
      `${fx('missing-key')}:7:5: resources.ev_link: missing required key "port"`,
    ]);
  });

  it('requires what each CAN transport needs to reach the bus', async () => {
    expect(await errorLines('can-transport')).toEqual([
      `${fx('can-transport')}:6:6: resources.a.path: transport slcan needs "path"`,
      `${fx('can-transport')}:7:6: resources.b.port: transport socketcand needs "port"`,
    ]);
  });

  it('names the registered drivers for an unknown driver', async () => {
    // an empty base registry keeps the lists below to the plugins' drivers
    expect(await errorLines('unknown-driver', { registry: new DriverRegistry() })).toEqual([
      `${fx('unknown-driver')}:8:20: drivers.meter.driver: unknown driver "FakeMetr" (did you mean "FakeMeter"?); registered drivers: FakeCcu, FakeMeter`,
      `${fx('unknown-driver')}:9:18: drivers.sdm.driver: unknown driver "Sdm630"; registered drivers: FakeCcu, FakeMeter`,
    ]);
    expect(await errorLines('no-plugins-fake', { registry: new DriverRegistry() })).toEqual([
      `${fx('no-plugins-fake')}:8:20: drivers.meter.driver: unknown driver "FakeMeter"; no drivers are registered (a plugin module under plugins: can add some)`,
    ]);
  });

  it('checks bindings: missing slot, extra slot, unknown resource, wrong resource type', async () => {
    expect(await errorLines('bindings')).toEqual([
      `${fx('bindings')}:11:11: drivers.m1.bind: missing binding "link" (FakeMeter needs a ModbusTcp or ModbusRtu resource there)`,
      `${fx('bindings')}:14:31: drivers.m2.bind.lnk: unknown binding slot "lnk" (did you mean "link"?); FakeMeter binds: link`,
      `${fx('bindings')}:17:19: drivers.m3.bind.link: no resource named "meter_lnk" (did you mean "meter_link"?); resources: meter_link, ccu_bus`,
      `${fx('bindings')}:20:19: drivers.m4.bind.link: resource "ccu_bus" is a CanInterface, but slot "link" of FakeMeter accepts ModbusTcp or ModbusRtu`,
      `${fx('bindings')}:22:5: drivers.ccu: missing binding "bus" (FakeCcu needs a CanInterface resource there)`,
    ]);
  });

  it("validates driver options with the driver's schema, paths under drivers.<name>.options", async () => {
    expect(await errorLines('options')).toEqual([
      `${fx('options')}:13:15: drivers.meter.options.powerW: expected a number, got string "fast"`,
      `${fx('options')}:14:7: drivers.meter.options.failReeds: unknown key "failReeds"; did you mean "failReads"?`,
      `${fx('options')}:15:18: drivers.meter.options.failReads: must be >= 0, got number -1`,
      `${fx('options')}:19:27: drivers.ccu.options.openFails: expected a boolean, got string "yes please"`,
    ]);
  });

  it('reports plugins that cannot be loaded or define no drivers at their list item', async () => {
    expect(await errorLines('plugin-errors')).toEqual([
      `${fx('plugin-errors')}:5:5: plugins[0]: cannot load plugin "./plugins/missing.ts": no such file (${path.relative(process.cwd(), path.join(FIXTURES, 'plugins/missing.ts'))})`,
      `${fx('plugin-errors')}:6:5: plugins[1]: plugin "./plugins/no-definitions.ts" exports no driver definitions (its default export must be a driver definition or an array of them)`,
      `${fx('plugin-errors')}:7:5: plugins[2]: cannot load plugin "./plugins/throws.ts": plugin exploded while loading`,
      `${fx('plugin-errors')}:8:5: plugins[3]: plugin "./plugins/not-a-definition.ts": default export item [0] is not a driver definition (needs name, description, provides, bindings, options (zod), transcript, create)`,
    ]);
  });

  it('rejects a limits file that does not exist', async () => {
    expect(await errorLines('limits-missing')).toEqual([
      `${fx('limits-missing')}:6:5: limits[1]: limits file not found: ${path.relative(process.cwd(), path.join(FIXTURES, 'limits/nope.yaml'))}`,
    ]);
  });

  it('rejects an empty file and a top level that is not a map', async () => {
    expect(await errorLines('empty')).toEqual([`${fx('empty')}:1:1: (root): the file is empty; expected a map with schema, id, dut, ...`]);
    expect(await errorLines('not-a-map')).toEqual([`${fx('not-a-map')}:1:1: (root): expected a map at the top level, got a list`]);
  });

  it('collects every issue of a file in one error, warnings kept apart', async () => {
    const e = await failure(fx('many-errors'));
    expect(e.message.split('\n')).toEqual([
      `${fx('many-errors')}:1:9: schema: expected "pnc-bench-rig/1", got string "pnc-bench-rig/2"`,
      `${fx('many-errors')}:2:5: id: expected a rig id: lowercase letters, digits, "-" and "_", starting with a letter or digit, got string "Bad Id"`,
      `${fx('many-errors')}:3:6: dut: missing required key "model"`,
      `${fx('many-errors')}:4:1: featurs: unknown key "featurs"; did you mean "features"?`,
      `${fx('many-errors')}:7:23: resources.meter_link.type: unknown type "ModbusTcpp" (did you mean "ModbusTcp"?); expected one of SerialPort, CanInterface, ModbusTcp, ModbusRtu, TcpEndpoint, MqttBroker, ListenPort`,
      `${fx('many-errors')}:9:45: drivers.meter.bind.link: no resource named "nowhere"; resources: meter_link`,
      `${fx('many-errors')}:9:75: drivers.meter.options.powerW: expected a number, got string "lots"`,
    ]);
    expect(e.issues[2]).toEqual({ file: fx('many-errors'), line: 3, col: 6, path: 'dut', message: 'missing required key "model"' });
    expect(e.warnings.map((w) => `${w.line}:${w.col} ${w.path}`)).toEqual(['7:3 resources.meter_link']);
  });

  it('reports a file that does not exist without a position', async () => {
    const e = await failure('rigs/no-such-rig.yaml');
    expect(e.message).toBe('rigs/no-such-rig.yaml: rig file not found');
    expect(e.issues).toEqual([{ file: 'rigs/no-such-rig.yaml', line: 0, col: 0, path: '(root)', message: 'rig file not found' }]);
  });

  it('shows the file relative to the cwd when that is shorter than the path given', async () => {
    const e = await failure(path.join(FIXTURES, 'empty.yaml'));
    expect(e.issues[0]?.file).toBe(fx('empty'));
  });
});

describe('loadRig: ${HIL_*} templating', () => {
  const env = { HIL_LAB: '2', HIL_SERIAL: '00123', HIL_METER_HOST: '10.1.1.1', HIL_METER_PORT: '5020', HIL_UNIT: '7', HIL_FAIL_OPEN: 'true' };

  it('substitutes HIL_ variables; a whole placeholder becomes a number or boolean only where the schema wants one', async () => {
    const rig = await loadRig(fx('templated'), { env });
    const c = rig.config;
    expect(c.location).toBe('lab-2/rack-3');
    expect(c.description).toBe('costs $$5; literal ${HIL_NOT_TEMPLATED} stays');
    expect(c.dut.serial).toBe('00123'); // a string field keeps the text, leading zeros included
    expect(c.resources.meter_link).toEqual({ type: 'ModbusTcp', host: '10.1.1.1', port: 5020, unitId: 7 });
    expect(c.drivers.meter?.options).toMatchObject({ openFails: true });
  });

  it('reports bad templated values with the placeholder they came from', async () => {
    expect(await errorLines('templated', { env: { ...env, HIL_METER_HOST: '', HIL_METER_PORT: 'abc', HIL_UNIT: '700', HIL_FAIL_OPEN: '1' } })).toEqual([
      `${fx('templated')}:12:11: resources.meter_link.host: must not be empty (templated from "\${HIL_METER_HOST}")`,
      `${fx('templated')}:13:11: resources.meter_link.port: expected a number, got string "abc" (templated from "\${HIL_METER_PORT}")`,
      `${fx('templated')}:14:13: resources.meter_link.unitId: must be <= 255, got number 700 (templated from "\${HIL_UNIT}")`,
      `${fx('templated')}:20:18: drivers.meter.options.openFails: expected a boolean, got string "1" (templated from "\${HIL_FAIL_OPEN}")`,
    ]);
  });

  it('reports unset HIL_ variables, non-HIL variables and unterminated placeholders at the scalar', async () => {
    expect(await errorLines('template-errors', { env: { HOME: '/root' } })).toEqual([
      `${fx('template-errors')}:3:11: location: "\${HOME}": only HIL_* environment variables are templated (write "$\${HOME}" for a literal "\${HOME}")`,
      `${fx('template-errors')}:5:10: dut.model: environment variable HIL_MODEL is not set (used as "\${HIL_MODEL}")`,
      `${fx('template-errors')}:9:11: resources.meter_link.host: environment variable HIL_METER_HOST is not set (used as "\${HIL_METER_HOST}")`,
      `${fx('template-errors')}:10:11: resources.meter_link.port: environment variable HIL_METER_PORT is not set (used as "\${HIL_METER_PORT}")`,
      `${fx('template-errors')}:13:11: resources.ev.host: unterminated placeholder "\${HIL_EV_HOST" (write "$\${" for a literal "\${")`,
    ]);
  });

  it('templates a value once where it is written and follows it through aliases and merge keys', async () => {
    const rig = await loadRig(fx('anchors'), { env: { HIL_H: 'meter.lab', HIL_P: '5020' } });
    expect(rig.config.resources).toEqual({
      m1: { type: 'ModbusTcp', host: 'meter.lab', port: 5020, unitId: 1 },
      m2: { type: 'ModbusTcp', host: 'meter.lab', port: 5020, unitId: 2 },
      m3: { type: 'ModbusTcp', host: 'meter.lab', port: 5020, unitId: 1 },
    });
    expect(await errorLines('anchors', { env: { HIL_H: 'meter.lab', HIL_P: 'x' } })).toEqual([
      `${fx('anchors')}:9:11: resources.m1.port: expected a number, got string "x" (templated from "\${HIL_P}")`,
      `${fx('anchors')}:9:11: resources.m3.port: expected a number, got string "x" (templated from "\${HIL_P}")`,
      `${fx('anchors')}:11:5: resources.m2.port: expected a number, got string "x" (templated from "\${HIL_P}")`,
    ]);
  });

  it('reads process.env by default', async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, env);
      const rig = await loadRig(fx('templated'));
      expect(rig.config.resources.meter_link).toMatchObject({ port: 5020 });
    } finally {
      for (const k of Object.keys(env)) if (!(k in saved)) delete process.env[k];
    }
  });
});

describe('loadRig: warnings', () => {
  it('warns about unstable serial paths and resources no driver binds', async () => {
    const rig = await loadRig(fx('warnings'));
    const f = fx('warnings');
    expect(rig.warnings.map((w) => `${w.file}:${w.line}:${w.col}: ${w.path}: ${w.message}`)).toEqual([
      `${f}:6:40: resources.meter_link.path: "/dev/ttyUSB0" is numbered in plug-in order and may name another adapter after a re-plug or reboot; use a stable path such as /dev/serial/by-id/...`,
      `${f}:7:3: resources.console: resource "console" is not bound by any driver`,
      `${f}:7:38: resources.console.path: "/dev/ttyACM1" is numbered in plug-in order and may name another adapter after a re-plug or reboot; use a stable path such as /dev/serial/by-id/...`,
      `${f}:8:3: resources.spare_link: resource "spare_link" is not bound by any driver`,
    ]);
  });
});

describe('configHash', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pnc-bench-rig-hash-'));
  async function hashOf(name: string, text: string): Promise<LoadedRig> {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return loadRig(file, { env: {} });
  }
  const a = `schema: pnc-bench-rig/1
id: hash
dut: { model: acme, vendor: ACME }
features: [pnc, dc]
resources:
  link: { type: ModbusTcp, host: 10.0.0.5, port: 502 }
  console: { type: SerialPort, path: /dev/serial/by-id/x }
`;
  const reordered = `resources:
  console: { path: /dev/serial/by-id/x, type: SerialPort }
  link: { port: 502, host: 10.0.0.5, type: ModbusTcp }
features: [pnc, dc]
dut: { vendor: ACME, model: acme }
id: hash
schema: pnc-bench-rig/1
timeouts: { openMs: 10000 }
`;

  it('is the sha256 of the canonical JSON of the resolved config', async () => {
    const rig = await hashOf('a.yaml', a);
    expect(rig.configHash).toBe(createHash('sha256').update(canonicalJson(rig.config)).digest('hex'));
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[{"y":2,"z":1}]},"b":1}');
  });

  it('does not change with key order or with defaults written out', async () => {
    const h1 = (await hashOf('a.yaml', a)).configHash;
    const h2 = (await hashOf('b.yaml', reordered)).configHash;
    expect(h2).toBe(h1);
  });

  it('changes when a value changes', async () => {
    const h1 = (await hashOf('a.yaml', a)).configHash;
    const h2 = (await hashOf('c.yaml', a.replace('port: 502', 'port: 503'))).configHash;
    const h3 = (await hashOf('d.yaml', a.replace('[pnc, dc]', '[dc, pnc]'))).configHash;
    expect(h2).not.toBe(h1);
    expect(h3).not.toBe(h1); // list order is meaningful
  });
});

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and adjacent swaps', () => {
    expect(editDistance('features', 'featurs')).toBe(1);
    expect(editDistance('features', 'featuers')).toBe(1);
    expect(editDistance('link', 'bus')).toBe(4);
    expect(editDistance('', 'abc')).toBe(3);
  });
});
