// The generated JSON Schemas: the checked-in files must equal what `npm run schemas` writes, the
// rig schema must constrain each driver entry by its `driver:` name and document every key, and the
// event stream schema must keep its id, title and one strict definition per message type.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedSchemas, REPO_ROOT } from '../../scripts/gen-schemas.ts';
import { DriverRegistry } from '../../src/rig/registry.ts';
import { RESOURCE_TYPE_NAMES } from '../../src/rig/resources.ts';
import { RESOURCE_DOCS, rigJsonSchema } from '../../src/rig/schema.ts';
import { EVENTS_SCHEMA_ID, eventsJsonSchema } from '../../src/server/events.ts';
import fakes from '../fakes/drivers.ts';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => v as Json;

describe('generated schema files', () => {
  it('writes the rig schema, the record schema and the event stream schema', () => {
    expect(generatedSchemas().map((f) => f.path)).toEqual(['rigs/rig.schema.json', 'reports/schema/record-1.schema.json', 'src/server/events.schema.json']);
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

describe('eventsJsonSchema', () => {
  const schema = eventsJsonSchema();
  const defs = obj(schema.definitions);
  const messages = (schema.oneOf as Json[]).map((r) => obj(defs[String(r.$ref).replace('#/definitions/', '')]));

  it('is draft-07 with the stream id and title', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.$id).toBe('https://pnc-bench.local/schema/events-1.schema.json');
    expect(schema.title).toBe(EVENTS_SCHEMA_ID);
    expect(obj(obj(messages[0]?.properties).schema).const).toBe(EVENTS_SCHEMA_ID);
  });

  it('has one strict definition per message type, each requiring type, seq and t', () => {
    expect(messages.map((m) => obj(obj(m.properties).type).const)).toEqual([
      'hello',
      'rig.status',
      'run.started',
      'run.abort',
      'run.ended',
      'suite.started',
      'suite.ended',
      'phase.started',
      'phase.ended',
      'measurement',
      'sample',
      'driver.snapshot',
      'driver.health',
      'log',
    ]);
    for (const m of messages) {
      expect(m.additionalProperties).toBe(false);
      expect((m.required as string[]).slice(0, 3)).toEqual(['type', 'seq', 't']);
    }
  });
});
