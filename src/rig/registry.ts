// Driver registry: maps the `driver:` name used in rig files to a definition that says which
// capabilities the driver provides, which resources it binds to, how its `options:` are validated
// (a zod schema, so rig files get path-precise errors and the exported JSON Schema documents them)
// and how to create it. Built-in drivers register in drivers/index.ts; a rig file may load more
// from its `plugins:` (a lab's own hardware), each module default-exporting definitions.
//
//   export const ModbusMeter = defineDriver({
//     name: 'ModbusMeter', provides: ['EnergyMeter'], bindings: { link: ['ModbusTcp', 'ModbusRtu'] },
//     options: z.object({ registerMap: z.enum(['sdm630']) }).strict(),
//     transcript: { ext: 'jsonl', mime: 'application/jsonl' },
//     create: (ctx) => new ModbusMeterDriver(ctx),
//   });
import type { z } from 'zod';
import type { CapabilityName, Lifecycle } from '../../drivers/capabilities.ts';
import type { Resource, ResourceType } from './resources.ts';
import type { Transcript, TranscriptFormat } from './transcript.ts';

export interface DriverContext<O> {
  /** The driver's name in the rig file (`meter`, `ccu`, ...). */
  name: string;
  options: O;
  /** binding slot → the resolved resource it is bound to */
  resources: Record<string, Resource>;
  transcript: Transcript;
  /** Directory of the rig file, for options that name files (DBC files, certificates). */
  rigDir: string;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void;
}

export interface DriverDefinition<O = unknown> {
  name: string;
  description: string;
  provides: readonly CapabilityName[];
  /** binding slot → accepted resource type(s) */
  bindings: Readonly<Record<string, ResourceType | readonly ResourceType[]>>;
  /** Options schema; should be `.strict()` so unknown keys are reported. */
  options: z.ZodType<O>;
  transcript: TranscriptFormat;
  create(ctx: DriverContext<O>): Lifecycle;
}

export function defineDriver<S extends z.ZodType>(
  def: Omit<DriverDefinition<z.output<S>>, 'options'> & { options: S },
): DriverDefinition<z.output<S>> {
  return def as DriverDefinition<z.output<S>>;
}

export class DriverRegistry {
  private readonly defs = new Map<string, DriverDefinition>();

  constructor(defs: Iterable<DriverDefinition<unknown>> = []) {
    for (const d of defs) this.register(d);
  }

  register<O>(def: DriverDefinition<O>): void {
    if (this.defs.has(def.name)) throw new Error(`driver "${def.name}" is registered twice`);
    this.defs.set(def.name, def as unknown as DriverDefinition);
  }

  get(name: string): DriverDefinition | undefined {
    return this.defs.get(name);
  }

  names(): string[] {
    return [...this.defs.keys()].sort();
  }

  list(): DriverDefinition[] {
    return this.names().map((n) => this.defs.get(n) as DriverDefinition);
  }

  /** A copy that plugins can extend without touching this registry. */
  clone(): DriverRegistry {
    const r = new DriverRegistry();
    for (const d of this.defs.values()) r.register(d);
    return r;
  }
}

/** Accepted resource types of a binding slot, as a list. */
export function bindingTypes(spec: ResourceType | readonly ResourceType[]): readonly ResourceType[] {
  return typeof spec === 'string' ? [spec] : spec;
}
