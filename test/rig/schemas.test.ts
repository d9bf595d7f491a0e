// The generated JSON Schemas: the checked-in files must equal what `npm run schemas` writes, and
// the rig schema must constrain each driver entry by its `driver:` name and document every key.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedSchemas, REPO_ROOT } from '../../scripts/gen-schemas.ts';
import { DriverRegistry } from '../../src/rig/registry.ts';
import { RESOURCE_TYPE_NAMES } from '../../src/rig/resources.ts';
import { RESOURCE_DOCS, rigJsonSchema } from '../../src/rig/schema.ts';
import fakes from '../fakes/drivers.ts';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => v as Json;

describe('generated schema files', () => {
  it('writes the rig schema and the record schema', () => {
    expect(generatedSchemas().map((f) => f.path)).toEqual(['rigs/rig.schema.json', 'reports/schema/record-1.schema.json']);
  });

  for (const f of generatedSchemas()) {
    it(`${f.path} is up to date (run \`npm run schemas\` after changing a schema or a driver)`, () => {
      const onDisk = readFileSync(path.join(REPO_ROOT, f.path), 'utf8');
      expect(onDisk).toBe(f.content);
      expect(onDisk.endsWith('}\n')).toBe(true);
    });
  }
});

describe('rigJsonSchema', () => {
  const registry = new DriverRegistry();
  for (const d of fakes) registry.register(d);
  const schema = rigJsonSchema(registry);
  const entry = obj(obj(obj(schema.properties).drivers).additionalProperties);

  it('is draft-07 with a title and a strict top level', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.title).toBe('pnc-bench rig file (pnc-bench-rig/1)');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['schema', 'id', 'dut']);
  });

  it('constrains bind and options per driver name with if/then', () => {
    const rules = entry.allOf as Json[];
    expect(rules.map((r) => obj(obj(obj(r.if).properties).driver).const)).toEqual(['FakeCcu', 'FakeMeter']);
    const meter = obj(obj(rules[1]).then);
    const props = obj(meter.properties);
    expect(obj(props.bind).required).toEqual(['link']);
    expect(obj(props.bind).additionalProperties).toBe(false);
    expect(obj(obj(props.bind).properties).link).toEqual({ type: 'string', description: 'Name of a ModbusTcp or ModbusRtu resource.' });
    const options = obj(props.options);
    expect(options.additionalProperties).toBe(false);
    expect(Object.keys(obj(options.properties))).toEqual(['openFails', 'closeHangs', 'failReads', 'unhealthy', 'energyWh', 'powerW', 'serial']);
    expect(obj(obj(options.properties).powerW)).toMatchObject({ type: 'number', default: 7400 });
  });

  it('offers registered driver names but accepts plugin drivers', () => {
    const driver = obj(obj(entry.properties).driver);
    expect(driver.anyOf).toEqual([{ type: 'string', enum: ['FakeCcu', 'FakeMeter'] }, { type: 'string', minLength: 1 }]);
  });

  it('documents every key of the file and of every resource type', () => {
    const undocumented: string[] = [];
    const walk = (s: Json, where: string) => {
      for (const [k, v] of Object.entries(obj(s.properties ?? {}))) {
        if (typeof obj(v).description !== 'string' || obj(v).description === '') undocumented.push(`${where}.${k}`);
        if (obj(v).properties) walk(obj(v), `${where}.${k}`);
      }
    };
    walk(schema, '');
    walk(entry, '.drivers.*');
    const variants = obj(obj(obj(schema.properties).resources).additionalProperties).oneOf as Json[];
    expect(variants).toHaveLength(RESOURCE_TYPE_NAMES.length);
    for (const v of variants) walk(v, `.resources.${String(obj(obj(v.properties).type).const)}`);
    expect(undocumented).toEqual([]);
    expect(Object.keys(RESOURCE_DOCS).sort()).toEqual([...RESOURCE_TYPE_NAMES].sort());
  });

  it('has no constraints per driver for an empty registry', () => {
    const empty = rigJsonSchema(new DriverRegistry());
    const e = obj(obj(obj(empty.properties).drivers).additionalProperties);
    expect(e.allOf).toBeUndefined();
    expect(obj(obj(e.properties).driver).anyOf).toEqual([{ type: 'string', minLength: 1 }]);
  });
});
