// Simulated hardware behind a rig file: the `simulator:` section names a module whose default export
// is a SimulatorDefinition. `pnc-bench run` starts it before any driver opens and stops it after the
// last one closed; what it started (ports, pty paths, a PKI directory) reaches the rig file as
// `${HIL_*}` values, so the resources and drivers of a virtual rig are written exactly like those of
// a physical one and reach the devices only through their links.
//
//   # rigs/virtual.yaml
//   simulator: { module: ./virtual/index.ts, options: { faults: [] } }
//   resources: { csms_port: { type: ListenPort, port: "${HIL_VIRTUAL_CSMS_PORT}" } }
//
// Without a running simulator (`pnc-bench rig check`) the declared variables get placeholder values
// of their kind, so the file can be checked without starting anything.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import type { JsonObject } from '../../drivers/capabilities.ts';

/** What a provided variable holds; decides its placeholder when the simulator is not running. */
export type SimulatorValueKind = 'port' | 'path' | 'url' | 'text';

export interface SimulatorContext<O> {
  options: O;
  /** Directory of the rig file. */
  rigDir: string;
  signal: AbortSignal;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void;
}

export interface RunningSimulator {
  /** A value for every name the definition `provides` (HIL_*). */
  env: Record<string, string>;
  /** Stops every simulated device; settles within `deadlineMs`. */
  stop(deadlineMs: number): Promise<void>;
  /** JSON-safe state of the simulated devices; written as the last line of the run's simulator.log. */
  snapshot(): JsonObject;
}

export interface SimulatorDefinition<O = unknown> {
  name: string;
  description: string;
  /** Options schema (`simulator.options`); should be `.strict()`. */
  options: z.ZodType<O>;
  /** The `HIL_*` variables the running simulator hands the rig file, with their kind. */
  provides: Readonly<Record<string, SimulatorValueKind>>;
  start(ctx: SimulatorContext<O>): Promise<RunningSimulator>;
}

export function defineSimulator<S extends z.ZodType>(def: Omit<SimulatorDefinition<z.output<S>>, 'options'> & { options: S }): SimulatorDefinition<z.output<S>> {
  return def as SimulatorDefinition<z.output<S>>;
}

const PLACEHOLDERS: Record<SimulatorValueKind, string> = {
  port: '1',
  path: '/dev/pnc-bench-simulated',
  url: 'mqtt://127.0.0.1:1',
  text: 'simulated',
};

/** Placeholder values for `provides`, for checking a rig file without starting its simulator. */
export function placeholderEnv(def: SimulatorDefinition): Record<string, string> {
  return Object.fromEntries(Object.entries(def.provides).map(([k, kind]) => [k, PLACEHOLDERS[kind]]));
}

export function isSimulatorDefinition(v: unknown): v is SimulatorDefinition {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Partial<SimulatorDefinition>;
  return typeof d.name === 'string' && typeof d.description === 'string' && typeof d.start === 'function' && typeof d.provides === 'object' && d.provides !== null && typeof (d.options as { safeParse?: unknown } | undefined)?.safeParse === 'function';
}

/** Imports `spec` (relative to `dir`) and returns its default export, or a one-line reason. */
export async function importSimulator(dir: string, spec: string): Promise<SimulatorDefinition | string> {
  const file = path.resolve(dir, spec);
  if (!existsSync(file)) return `cannot load simulator "${spec}": no such file (${file})`;
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (e) {
    return `cannot load simulator "${spec}": ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;
  }
  if (!isSimulatorDefinition(mod.default)) return `simulator "${spec}": its default export is not a simulator definition (needs name, description, options (zod), provides, start)`;
  for (const name of Object.keys(mod.default.provides)) {
    if (!/^HIL_[A-Za-z0-9_]+$/.test(name)) return `simulator "${spec}": provided variable "${name}" must be named HIL_*`;
  }
  return mod.default;
}

/**
 * Starts a loaded rig's simulator; rejects when it fails or does not provide every declared value.
 * The caller stops it (also when the run fails).
 */
export async function startSimulator(
  sim: { def: SimulatorDefinition; options: unknown },
  rigDir: string,
  signal: AbortSignal,
  log: SimulatorContext<unknown>['log'],
): Promise<RunningSimulator> {
  const running = await sim.def.start({ options: sim.options, rigDir, signal, log });
  const missing = Object.keys(sim.def.provides).filter((k) => typeof running.env[k] !== 'string');
  if (missing.length > 0) {
    await running.stop(2_000).catch(() => {});
    throw new Error(`simulator ${sim.def.name} did not provide ${missing.join(', ')}`);
  }
  return running;
}
