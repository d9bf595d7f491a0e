// The rig file schema (`rigs/*.yaml`, `schema: pnc-bench-rig/1`) as zod, and its JSON Schema export.
// `RigFileSchema` validates the top level, `dut`, `timeouts`, `resources` (the types from
// resources.ts) and the shape of each `drivers:` entry; a driver's `options` are validated by that
// driver's own zod schema from the registry (see load.ts, which also checks bindings and maps every
// issue to a line and column). `rigJsonSchema(registry)` describes the whole file, options per
// `driver:` name included, for editors (yaml-language-server); scripts/gen-schemas.ts writes it to
// rigs/rig.schema.json.
//
//   const rig = RigFileSchema.parse(yamlData);          // what loadRig does, plus positions
//   writeFile('rigs/rig.schema.json', JSON.stringify(rigJsonSchema(builtinDrivers()), null, 2));
import { z } from 'zod';
import type { DutInfo } from '../report/record.ts';
import { bindingTypes, type DriverRegistry } from './registry.ts';
import { RESOURCE_TYPES, RESOURCE_TYPE_NAMES, ResourceSchema, type ResourceType } from './resources.ts';

export const RIG_SCHEMA_ID = 'pnc-bench-rig/1';

/** Rig ids: lowercase letters, digits, `-` and `_`, starting with a letter or digit. */
export const RIG_ID_PATTERN = /^[a-z0-9][a-z0-9-_]*$/;
/** Names of resources and drivers inside a rig file (suites refer to drivers by these names). */
export const RIG_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/;
/** Feature flags: no spaces, so `pnc ` and `pnc` cannot both exist. */
export const FEATURE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const TIMEOUT_DEFAULTS = { openMs: 10_000, closeMs: 5_000, teardownMs: 30_000 } as const;

const ms = (what: string, dflt: number) =>
  z.number().int().positive().default(dflt).describe(`${what} (milliseconds, default ${dflt}).`);

export const DutSchema = z
  .object({
    model: z.string().min(1).describe('Model of the charger under test; selects the section of the limits files.'),
    vendor: z.string().min(1).optional().describe('Manufacturer of the charger.'),
    serial: z.string().min(1).optional().describe('Serial number of the unit on this rig.'),
    firmware: z.string().min(1).optional().describe('Firmware version installed on the unit.'),
    hardware: z.string().min(1).optional().describe('Hardware revision of the unit.'),
  })
  .strict()
  .describe('The device under test (the charger wired into this rig); copied into every run record.');

// The rig's `dut` must fit the record's DutInfo (src/report/record.ts): this fails to compile if not.
type Assignable<T extends U, U> = T;
export type RigDut = Assignable<z.output<typeof DutSchema>, DutInfo>;

export const TimeoutsSchema = z
  .object({
    openMs: ms('How long every driver may take to open its link', TIMEOUT_DEFAULTS.openMs),
    closeMs: ms('Deadline for each driver to close its link', TIMEOUT_DEFAULTS.closeMs),
    teardownMs: ms('Deadline for a suite teardown, emergency stop included', TIMEOUT_DEFAULTS.teardownMs),
  })
  .strict()
  .describe('Rig-wide deadlines; every key is optional.');

export const DriverEntrySchema = z
  .object({
    driver: z
      .string()
      .min(1)
      .describe('Driver name from the registry: a built-in driver or one loaded by `plugins:`.'),
    bind: z
      .record(z.string(), z.string().min(1))
      .default({})
      .describe("Binding slot → resource name (a key under `resources:`); the driver's slots and accepted resource types are fixed."),
    options: z
      .record(z.string(), z.unknown())
      .default({})
      .describe("Driver options, validated by the driver's own schema (defaults applied)."),
  })
  .strict()
  .describe('A driver instance: HOW to talk to the hardware bound under `bind:`. Suites use it by its key.');

const nameKey = (what: string) =>
  z.string().regex(RIG_NAME_PATTERN, `a ${what} name: letters, digits, "_" and "-", starting with a letter`);

/** The file's schema, parameterised by the resource schema (the JSON Schema export passes a documented copy). */
function rigFileSchema<R extends z.ZodType>(resource: R) {
  return z
    .object({
      schema: z.literal(RIG_SCHEMA_ID).describe(`Format and version of this file; always "${RIG_SCHEMA_ID}".`),
      id: z
        .string()
        .regex(RIG_ID_PATTERN, 'a rig id: lowercase letters, digits, "-" and "_", starting with a letter or digit')
        .describe('Unique id of the rig (lowercase letters, digits, "-", "_"); recorded in every run and used as an InfluxDB tag.'),
      description: z.string().optional().describe('Free text for people.'),
      class: z.string().min(1).optional().describe('Rig class (e.g. dc-ccs2-150kw); limits can be keyed by it.'),
      location: z.string().min(1).optional().describe('Where the rig stands (e.g. lab-2/rack-3).'),
      features: z
        .array(z.string().regex(FEATURE_PATTERN, 'a feature name without spaces'))
        .default([])
        .describe('Feature flags of this rig; a suite that `requires` a flag missing here is SKIPPED, not failed.'),
      dut: DutSchema,
      plugins: z
        .array(z.string().min(1))
        .default([])
        .describe(
          'Modules (paths relative to this file) whose default export is a driver definition or an array of them; registered before drivers are checked.',
        ),
      simulator: z
        .object({
          module: z.string().min(1).describe('Module (path relative to this file) whose default export is a simulator definition (src/rig/simulator.ts).'),
          options: z.record(z.string(), z.unknown()).default({}).describe("The simulator's options, checked by its own schema."),
        })
        .strict()
        .optional()
        .describe(
          'Simulated hardware started before the drivers open and stopped after they close (the virtual rig); it provides ${HIL_*} values (ports, pty paths) to the rest of the file.',
        ),
      resources: z
        .record(nameKey('resource'), resource)
        .default({})
        .describe('WHERE things are: named, passive descriptions of links (serial path, CAN interface, Modbus host, listen port).'),
      drivers: z
        .record(nameKey('driver'), DriverEntrySchema)
        .default({})
        .describe('HOW to talk to them: named driver instances, each bound to resources. Suites ask for capabilities these provide.'),
      limits: z
        .union([z.string().min(1), z.array(z.string().min(1))])
        .optional()
        .transform((v): string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : v))
        .describe('Limits file(s) for this rig, relative to this file: one path or a list.'),
      timeouts: TimeoutsSchema.prefault({}),
    })
    .strict()
    .describe('A pnc-bench rig: the charger under test, the hardware around it and how to reach it.');
}

/** Validates a whole rig file (driver options only as a map; load.ts checks them per driver). */
export const RigFileSchema = rigFileSchema(ResourceSchema);

/** A rig file after validation: defaults applied, `limits` as a list (paths as written). */
export type RigConfig = z.output<typeof RigFileSchema>;
export type RigDriverEntry = RigConfig['drivers'][string];

// ---------------------------------------------------------------------------------------------
// Documentation of the resource types for the JSON Schema (editor hover help). The mapped type
// makes the compiler insist on a description for every field of every type in resources.ts.

type ResourceDocs = {
  [T in ResourceType]: { description: string; fields: { [K in keyof (typeof RESOURCE_TYPES)[T]['shape']]: string } };
};

const STABLE = 'Prefer /dev/serial/by-id/... (stable across re-plugging) over /dev/ttyUSB0.';

export const RESOURCE_DOCS: ResourceDocs = {
  SerialPort: {
    description: 'A serial device (SECC console, USB-serial adapter).',
    fields: {
      type: 'Resource type.',
      path: `Device path. ${STABLE}`,
      baud: 'Baud rate (default 115200).',
      dataBits: 'Data bits: 7 or 8 (default 8).',
      parity: 'Parity: none, even or odd (default none).',
      stopBits: 'Stop bits: 1 or 2 (default 1).',
    },
  },
  CanInterface: {
    description: 'A CAN bus, reached through socketcan (can0), an slcan serial adapter or a socketcand daemon.',
    fields: {
      type: 'Resource type.',
      transport: 'socketcan (Linux interface), slcan (serial-line CAN adapter) or socketcand (TCP daemon).',
      iface: 'socketcan / socketcand: interface name on the host (e.g. can0).',
      path: `slcan: serial device of the adapter. ${STABLE}`,
      host: 'socketcand: host the daemon runs on.',
      port: 'socketcand: TCP port of the daemon.',
      bitrate: 'Bus bit rate in bit/s (default 500000).',
    },
  },
  ModbusTcp: {
    description: 'A Modbus TCP device (energy meter behind a gateway or with Ethernet).',
    fields: {
      type: 'Resource type.',
      host: 'Host name or IP address.',
      port: 'TCP port (default 502).',
      unitId: 'Modbus unit id 0-255 (default 1).',
    },
  },
  ModbusRtu: {
    description: 'A Modbus RTU device on a serial line (RS-485 adapter).',
    fields: {
      type: 'Resource type.',
      path: `Serial device of the RS-485 adapter. ${STABLE}`,
      baud: 'Baud rate (default 9600).',
      parity: 'Parity: none, even or odd (default none).',
      stopBits: 'Stop bits: 1 or 2 (default 1).',
      unitId: 'Modbus unit id 0-255 (default 1).',
    },
  },
  TcpEndpoint: {
    description: 'A TCP server the bench connects to (e.g. an EV emulator).',
    fields: { type: 'Resource type.', host: 'Host name or IP address.', port: 'TCP port.' },
  },
  MqttBroker: {
    description: 'An MQTT broker (e.g. the EVerest car simulator commands).',
    fields: { type: 'Resource type.', url: 'Broker URL: mqtt://host:port or mqtts://host:port.' },
  },
  ListenPort: {
    description: 'A port the bench listens on (the mock CSMS, the live view).',
    fields: {
      type: 'Resource type.',
      host: 'Address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces).',
      port: 'TCP port; 0 picks a free one.',
    },
  },
};

function documentedResourceSchema(): z.ZodType {
  const variants = RESOURCE_TYPE_NAMES.map((t) => {
    const base = RESOURCE_TYPES[t] as unknown as z.ZodObject<Record<string, z.ZodType>>;
    const docs = RESOURCE_DOCS[t] as { description: string; fields: Record<string, string> };
    const shape: Record<string, z.ZodType> = {};
    for (const [k, s] of Object.entries(base.shape)) shape[k] = s.describe(docs.fields[k] ?? '');
    return base.safeExtend(shape).describe(`${t}: ${docs.description}`);
  });
  return z.discriminatedUnion('type', variants as unknown as [z.ZodObject, ...z.ZodObject[]]);
}

// ---------------------------------------------------------------------------------------------
// JSON Schema export

type Json = Record<string, unknown>;

const JSON_SCHEMA_OPTIONS = { target: 'draft-7', io: 'input', unrepresentable: 'any' } as const;

/**
 * JSON Schema (draft-07, the dialect yaml-language-server handles best) of a rig file for this
 * registry: every key documented, and each `drivers:` entry's `bind` and `options` constrained by
 * its `driver:` name through `if`/`then`. Drivers that are not in the registry (plugins) are still
 * accepted, with unconstrained `bind` and `options`.
 */
export function rigJsonSchema(registry: DriverRegistry): Json {
  const root = z.toJSONSchema(rigFileSchema(documentedResourceSchema()), JSON_SCHEMA_OPTIONS) as Json;
  const defs = registry.list();
  const definitions = ((root.definitions as Json | undefined) ?? {}) as Json;

  // All option schemas in one conversion, so shared sub-schemas land in one `definitions` table.
  const optionsRoot = z.toJSONSchema(
    z.object(Object.fromEntries(defs.map((d) => [d.name, d.options]))),
    JSON_SCHEMA_OPTIONS,
  ) as Json;
  for (const [k, v] of Object.entries((optionsRoot.definitions as Json | undefined) ?? {})) {
    if (k in definitions) throw new Error(`JSON Schema definition "${k}" is defined twice`);
    definitions[k] = v;
  }
  const optionSchemas = (optionsRoot.properties ?? {}) as Json;

  const props = root.properties as Json;
  const drivers = props.drivers as Json;
  const entry = drivers.additionalProperties as Json;
  const entryProps = entry.properties as Json;
  const driverProp = entryProps.driver as Json;
  const names = defs.map((d) => d.name);
  entryProps.driver = {
    description: driverProp.description,
    // An enum for completion, plus any string so plugin drivers are not flagged by the editor.
    anyOf: [...(names.length > 0 ? [{ type: 'string', enum: names }] : []), { type: 'string', minLength: 1 }],
  };
  if (defs.length > 0) {
    entry.allOf = defs.map((d) => {
      const slots = Object.entries(d.bindings);
      const bind: Json = {
        type: 'object',
        properties: Object.fromEntries(
          slots.map(([slot, types]) => [slot, { type: 'string', description: `Name of a ${bindingTypes(types).join(' or ')} resource.` }]),
        ),
        required: slots.map(([slot]) => slot),
        additionalProperties: false,
      };
      const options = { ...((optionSchemas[d.name] as Json | undefined) ?? {}) };
      options.description = `Options of ${d.name}.`;
      return {
        if: { properties: { driver: { const: d.name } }, required: ['driver'] },
        then: {
          properties: {
            driver: { description: `${d.name}: ${d.description} Provides ${d.provides.join(', ')}.` },
            bind,
            options,
          },
          ...(slots.length > 0 ? { required: ['bind'] } : {}),
        },
      };
    });
  }
  if (Object.keys(definitions).length > 0) root.definitions = definitions;

  const { $schema, ...rest } = root;
  return {
    $schema,
    title: `pnc-bench rig file (${RIG_SCHEMA_ID})`,
    ...rest,
  };
}
