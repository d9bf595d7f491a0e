// Rig file loader: reads `rigs/<id>.yaml`, applies `${HIL_*}` templating, loads `plugins:`,
// validates everything (schema.ts, then each driver's bindings and options against the registry)
// and returns the resolved config with its hash, or throws ONE RigConfigError listing every issue
// of the file as `<file>:<line>:<col>: <key.path>: <message>`. Nothing here touches hardware.
//
//   const rig = await loadRig('rigs/bench-a1.yaml');            // built-in drivers, process.env
//   rig.config.drivers.meter.options;  rig.configHash;  rig.warnings;
//
// Positions come from the YAML document itself (templating edits scalar values in place, so they
// stay right); zod issues are mapped back to the node at their path: an unknown key to the key,
// a wrong value to the value, a missing key to the map that lacks it.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import type { z } from 'zod';
import { builtinDrivers } from '../../drivers/index.ts';
import { bindingTypes, type DriverDefinition, type DriverRegistry } from './registry.ts';
import { RESOURCE_TYPE_NAMES } from './resources.ts';
import { RigFileSchema, type RigConfig } from './schema.ts';
import { importSimulator, placeholderEnv, type SimulatorDefinition } from './simulator.ts';

export type { RigConfig } from './schema.ts';

/** One problem in a rig file. `line`/`col` are 1-based; both are 0 when the issue is about the whole file (unreadable). */
export interface RigIssue {
  /** The file as the user named it (or relative to the cwd when that is shorter). */
  file: string;
  line: number;
  col: number;
  /** Dotted key path, list items as `[i]` (`drivers.meter.options.pollMs`, `plugins[0]`); `(root)` for the top level. */
  path: string;
  message: string;
}

export function formatRigIssue(i: RigIssue): string {
  return i.line > 0 ? `${i.file}:${i.line}:${i.col}: ${i.path}: ${i.message}` : `${i.file}: ${i.message}`;
}

/** Every issue of one rig file; `message` has one formatted issue per line. */
export class RigConfigError extends Error {
  readonly issues: RigIssue[];
  /** Warnings found along the way (they do not make the file invalid). */
  readonly warnings: RigIssue[];
  constructor(issues: RigIssue[], warnings: RigIssue[] = []) {
    super(issues.map(formatRigIssue).join('\n'));
    this.name = 'RigConfigError';
    this.issues = issues;
    this.warnings = warnings;
  }
}

export interface LoadRigOptions {
  /** Source of `${HIL_*}` values; default process.env. */
  env?: Record<string, string | undefined>;
  /** Drivers known before the rig's own plugins; default builtinDrivers(). Never modified. */
  registry?: DriverRegistry;
  /**
   * Values from the rig's running simulator (RunningSimulator.env); they win over `env`. Without
   * them, the variables the simulator provides get placeholders (enough to check the file).
   */
  simulatorEnv?: Record<string, string>;
}

export interface LoadedRig {
  /** Absolute path of the rig file. */
  file: string;
  /** Directory of the rig file: relative paths in it (plugins, limits, driver files) start here. */
  dir: string;
  /** The resolved file: templating done, defaults applied, each driver's options parsed by its schema. */
  config: RigConfig;
  /** sha256 (hex) of canonicalJson(config). */
  configHash: string;
  /** The registry the drivers were checked against: the given one plus the rig's plugins. */
  registry: DriverRegistry;
  /** Absolute paths of the `limits:` files, in order. */
  limitFiles: string[];
  warnings: RigIssue[];
  /** The `simulator:` module and its parsed options, when the file has one. */
  simulator?: { def: SimulatorDefinition; options: unknown };
}

/** JSON with object keys sorted at every level (undefined members dropped): the input of configHash. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

export async function loadRig(file: string, opts: LoadRigOptions = {}): Promise<LoadedRig> {
  const abs = path.resolve(file);
  const rel = path.relative(process.cwd(), abs);
  const display = rel.length > 0 && rel.length < file.length ? rel : file;
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'rig file not found' : `cannot read rig file (${code ?? (e as Error).message})`;
    throw new RigConfigError([{ file: display, line: 0, col: 0, path: '(root)', message: why }]);
  }
  const ctx = new RigFile(display, abs, text, opts.env ?? process.env, opts.simulatorEnv);
  return ctx.load(opts.registry ?? builtinDrivers());
}

// ---------------------------------------------------------------------------------------------

type Path = readonly (string | number)[];
type Where = 'value' | 'key';

interface Templated {
  /** The scalar's text before templating. */
  source: string;
  /** The scalar was exactly one `${HIL_X}`: its value may be coerced to a number or boolean. */
  whole: boolean;
}

/** A zod issue, as far as this file reads it (zod's own union type is too narrow to walk generically). */
interface ZIssue {
  code: string;
  path: PropertyKey[];
  message: string;
  input?: unknown;
  expected?: string;
  keys?: string[];
  values?: unknown[];
  errors?: ZIssue[][];
  issues?: ZIssue[];
  note?: string;
  discriminator?: string;
  options?: unknown[];
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  format?: string;
  pattern?: string;
  divisor?: number;
}

type ParseResult = { ok: true; data: unknown } | { ok: false; issues: ZIssue[]; data: unknown };

const WHOLE_PLACEHOLDER = /^\$\{(HIL_[A-Za-z0-9_]+)\}$/;
const HIL_NAME = /^HIL_[A-Za-z0-9_]+$/;
const UNSTABLE_SERIAL = /^\/dev\/tty(USB|ACM)\d+$/;

class RigFile {
  private readonly lc = new LineCounter();
  private readonly doc: Document.Parsed;
  private readonly issues: RigIssue[] = [];
  private readonly warnings: RigIssue[] = [];
  private readonly templated = new Map<string, Templated>();
  /** Scalars whose templating failed (already reported): schema issues there would only repeat it. */
  private readonly templateFailed = new Set<string>();
  private readonly dir: string;

  constructor(
    private readonly display: string,
    private readonly abs: string,
    private readonly text: string,
    private env: Record<string, string | undefined>,
    private readonly simulatorEnv: Record<string, string> | undefined,
  ) {
    this.dir = path.dirname(abs);
    this.doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, keepSourceTokens: true, merge: true, lineCounter: this.lc });
  }

  async load(baseRegistry: DriverRegistry): Promise<LoadedRig> {
    if (this.yamlErrors()) this.fail();
    const root = this.doc.contents;
    if (!isMap(root)) {
      this.issue([], root === null ? 'the file is empty; expected a map with schema, id, dut, ...' : `expected a map at the top level, got ${describeNode(root)}`);
      this.fail();
    }

    const simulator = await this.loadSimulator();
    this.template(root, []);
    const raw = this.doc.toJS({ maxAliasCount: 1000 }) as Record<string, unknown>;

    const top = this.parse(RigFileSchema, raw, []);
    if (!top.ok) this.zodIssues(top.issues, [], RigFileSchema, top.data);

    const registry = baseRegistry.clone();
    const pluginFailed = await this.loadPlugins(raw.plugins, registry);
    const driverOptions = this.checkDrivers(raw, registry, pluginFailed);
    const limitFiles = this.checkLimits(raw.limits);
    const simulatorOptions = simulator ? this.checkSimulatorOptions(simulator, raw.simulator) : undefined;
    this.checkWarnings(raw);

    if (this.issues.length > 0 || !top.ok) this.fail();
    const config = top.data as RigConfig;
    for (const [name, options] of driverOptions) {
      const entry = config.drivers[name];
      if (entry) entry.options = options as Record<string, unknown>;
    }
    return {
      file: this.abs,
      dir: this.dir,
      config,
      configHash: createHash('sha256').update(canonicalJson(config)).digest('hex'),
      registry,
      limitFiles,
      warnings: sortIssues(this.warnings),
      ...(simulator ? { simulator: { def: simulator, options: simulatorOptions } } : {}),
    };
  }

  /**
   * Imports the `simulator:` module (before templating: the variables it provides must be known)
   * and merges its values into the templating environment: the running simulator's values, else
   * placeholders behind the caller's own environment.
   */
  private async loadSimulator(): Promise<SimulatorDefinition | undefined> {
    // resolved (aliases and merge keys followed), as the rest of the file is read
    const pre = this.doc.toJS({ maxAliasCount: 1000 }) as Record<string, unknown> | null;
    const section = pre?.simulator;
    if (!isPlainObject(section) || typeof section.module !== 'string' || section.module.length === 0) return undefined; // the schema reports it
    const def = await importSimulator(this.dir, section.module);
    if (typeof def === 'string') {
      this.issue(['simulator', 'module'], def);
      return undefined;
    }
    this.env = { ...placeholderEnv(def), ...this.env, ...this.simulatorEnv };
    return def;
  }

  private checkSimulatorOptions(def: SimulatorDefinition, section: unknown): unknown {
    const options = isPlainObject(section) && section.options !== undefined ? section.options : {};
    if (!isPlainObject(options)) return undefined; // the schema reported it
    const op = ['simulator', 'options'];
    const r = this.parse(def.options as z.ZodType, options, op);
    if (r.ok) return r.data;
    for (const iss of r.issues) this.zodIssue(iss, op, def.options as z.ZodType, r.data);
    return undefined;
  }

  private fail(): never {
    throw new RigConfigError(sortIssues(dedupe(this.issues)), sortIssues(this.warnings));
  }

  // --- positions -------------------------------------------------------------------------------

  private pos(offset: number): { line: number; col: number } {
    return this.lc.linePos(offset);
  }

  /** The node at `p` (or the deepest ancestor that exists) and, when it is a map value, its pair. */
  private locate(p: Path): { node: Node | null; pair: Pair | null; found: boolean } {
    let node: Node | null = this.doc.contents;
    let pair: Pair | null = null;
    for (const seg of p) {
      if (isAlias(node)) node = node.resolve(this.doc) ?? null;
      if (isMap(node)) {
        const hit = node.items.find((it) => keyString(it.key) === String(seg));
        if (!hit) return { node, pair, found: false };
        pair = hit;
        node = isNodeLike(hit.value) ? hit.value : null;
        if (node === null) return { node: null, pair, found: true };
      } else if (isSeq(node) && typeof seg === 'number' && isNodeLike(node.items[seg])) {
        pair = null;
        node = node.items[seg] as Node;
      } else {
        return { node, pair, found: false };
      }
    }
    return { node, pair, found: true };
  }

  private offsetOf(p: Path, where: Where): number {
    const { node, pair } = this.locate(p);
    const key = isPair(pair) && isNodeLike(pair.key) ? (pair.key as Node) : null;
    if (where === 'key' && key?.range) return key.range[0];
    // An empty value (`key:`) has a zero-width range: point at its key instead.
    if (node?.range && (node.range[1] > node.range[0] || !key)) return node.range[0];
    if (key?.range) return key.range[0];
    return node?.range?.[0] ?? 0;
  }

  /** The source text of the scalar at `p` (as written, before YAML typed it). */
  private sourceText(p: Path): string {
    const { node, found } = this.locate(p);
    return found && isScalar(node) && node.range ? this.text.slice(node.range[0], node.range[1]) : String(getAt(this.doc.toJS(), p));
  }

  private issue(p: Path, message: string, where: Where = 'value'): void {
    this.issues.push(this.makeIssue(p, message, where));
  }

  private warn(p: Path, message: string, where: Where = 'value'): void {
    this.warnings.push(this.makeIssue(p, message, where));
  }

  private makeIssue(p: Path, message: string, where: Where): RigIssue {
    const { line, col } = this.pos(this.offsetOf(p, where));
    const t = this.templated.get(pathKey(p));
    const note = t && where === 'value' && !message.includes('${') ? ` (templated from "${t.source}")` : '';
    return { file: this.display, line, col, path: formatPath(p), message: message + note };
  }

  // --- YAML ------------------------------------------------------------------------------------

  /** Reports YAML errors; true when there were any (the document is then not trustworthy). */
  private yamlErrors(): boolean {
    let first = true;
    const lines = new Set<number>();
    for (const e of this.doc.errors) {
      // Once the stream has derailed, the composer reports every following token; only the first
      // of those is useful, and only the first error of a line.
      if (!first && /in YAML stream/.test(e.message)) continue;
      const offset = e.pos[0];
      const { line, col } = this.pos(offset);
      if (lines.has(line)) continue;
      lines.add(line);
      let message = e.message.split('\n')[0] ?? e.message;
      if (e.code === 'DUPLICATE_KEY') {
        const key = /^[^\s:,{}[\]]+/.exec(this.text.slice(offset))?.[0] ?? 'key';
        message = `duplicate key "${key.replace(/^["']|["']$/g, '')}" (map keys must be unique)`;
      } else if (this.text[offset] === '{' && this.text[offset - 1] === '$') {
        message += '; a ${...} placeholder inside a flow collection { } or [ ] must be quoted: "${HIL_NAME}"';
      }
      this.issues.push({ file: this.display, line, col, path: formatPath(this.pathAtOffset(offset)), message: `YAML: ${message}` });
      first = false;
    }
    for (const w of this.doc.warnings) {
      const { line, col } = this.pos(w.pos[0]);
      this.warnings.push({ file: this.display, line, col, path: formatPath(this.pathAtOffset(w.pos[0])), message: `YAML: ${w.message.split('\n')[0]}` });
    }
    return this.doc.errors.length > 0;
  }

  /** Key path of the innermost node whose range holds `offset` (best effort, for YAML errors). */
  private pathAtOffset(offset: number): Path {
    const out: (string | number)[] = [];
    let node: unknown = this.doc.contents;
    for (;;) {
      if (isMap(node)) {
        const hit = node.items.find((it) => {
          const start = (it.key as Node | null)?.range?.[0] ?? Infinity;
          const end = (it.value as Node | null)?.range?.[2] ?? (it.key as Node | null)?.range?.[2] ?? -1;
          return start <= offset && offset <= end;
        });
        if (!hit) break;
        out.push(keyString(hit.key));
        node = hit.value;
      } else if (isSeq(node)) {
        const i = node.items.findIndex((it) => {
          const r = (it as Node | null)?.range;
          return r !== undefined && r !== null && r[0] <= offset && offset <= r[2];
        });
        if (i < 0) break;
        out.push(i);
        node = node.items[i];
      } else break;
    }
    return out;
  }

  // --- templating ------------------------------------------------------------------------------

  /**
   * Templates every string scalar once, where it is written. Scalars reached again through an alias
   * (`*x`, `<<: *x`) are not substituted twice, but their templating is recorded under the alias's
   * path too, so number coercion and messages work there as well.
   */
  private template(node: unknown, p: Path, seen = new Map<Node, Templated | 'failed'>(), viaAlias = false): void {
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (target) this.template(target, p, seen, true);
    } else if (isMap(node)) {
      for (const it of node.items) {
        const k = keyString(it.key);
        // A merge key's entries land in this map, not under "<<".
        this.template(it.value, k === '<<' && isAlias(it.value) ? p : [...p, k], seen, viaAlias);
      }
    } else if (isSeq(node)) {
      node.items.forEach((it, i) => this.template(it, [...p, i], seen, viaAlias));
    } else if (isScalar(node)) {
      let t = seen.get(node);
      if (t === undefined && !viaAlias && typeof node.value === 'string' && node.value.includes('$')) {
        const source = node.value;
        const r = this.substitute(source, p);
        if (r === undefined) t = 'failed';
        else if (r !== source || source.includes('${')) {
          node.value = r;
          t = { source, whole: WHOLE_PLACEHOLDER.test(source) };
        }
        if (t !== undefined) seen.set(node, t);
      }
      if (t === 'failed') this.templateFailed.add(pathKey(p));
      else if (t !== undefined) this.templated.set(pathKey(p), t);
    }
  }

  /** `${HIL_X}` → value, `$${` → literal `${`; undefined (after reporting) on any error. */
  private substitute(s: string, p: Path): string | undefined {
    let out = '';
    let ok = true;
    let i = 0;
    while (i < s.length) {
      if (s.startsWith('$${', i)) {
        out += '${';
        i += 3;
      } else if (s.startsWith('${', i)) {
        const end = s.indexOf('}', i + 2);
        if (end < 0) {
          this.issue(p, `unterminated placeholder "${s.slice(i)}" (write "$\${" for a literal "\${")`);
          return undefined;
        }
        const name = s.slice(i + 2, end);
        if (!HIL_NAME.test(name)) {
          this.issue(p, `"\${${name}}": only HIL_* environment variables are templated (write "$\${${name}}" for a literal "\${${name}}")`);
          ok = false;
        } else {
          const v = this.env[name];
          if (v === undefined) {
            this.issue(p, `environment variable ${name} is not set (used as "\${${name}}")`);
            ok = false;
          } else out += v;
        }
        i = end + 1;
      } else {
        out += s[i];
        i += 1;
      }
    }
    return ok ? out : undefined;
  }

  // --- zod -------------------------------------------------------------------------------------

  /**
   * safeParse with the templating rule: a scalar that was exactly one `${HIL_X}` is a string, but
   * where the schema rejects a string and the text is a number (or true/false) it becomes that.
   */
  private parse(schema: z.ZodType, data: unknown, base: Path): ParseResult {
    let cur = data;
    for (let round = 0; round < 4; round++) {
      const r = schema.safeParse(cur, { reportInput: true });
      if (r.success) return { ok: true, data: r.data };
      const issues = r.error.issues as unknown as ZIssue[];
      let changed = false;
      for (const iss of issues) {
        const rel = iss.path as (string | number)[];
        if (!this.templated.get(pathKey([...base, ...rel]))?.whole) continue;
        const v = getAt(cur, rel);
        if (typeof v !== 'string') continue;
        const c = coerceScalar(v, wanted(iss));
        if (c === undefined) continue;
        if (!changed) cur = structuredClone(cur);
        cur = setAt(cur, rel, c);
        changed = true;
      }
      if (!changed) return { ok: false, issues, data: cur };
    }
    const last = schema.safeParse(cur, { reportInput: true });
    return last.success ? { ok: true, data: last.data } : { ok: false, issues: last.error.issues as unknown as ZIssue[], data: cur };
  }

  private zodIssues(issues: ZIssue[], base: Path, schema: z.ZodType, data: unknown): void {
    for (const iss of issues) this.zodIssue(iss, base, schema, data);
  }

  private zodIssue(iss: ZIssue, base: Path, schema: z.ZodType, data: unknown): void {
    const rel = iss.path as (string | number)[];
    const p = [...base, ...rel];
    if (this.templateFailed.has(pathKey(p))) return;
    switch (iss.code) {
      case 'unrecognized_keys': {
        const valid = objectKeysAt(schema, rel, data);
        for (const k of iss.keys ?? []) this.issue([...p, k], unknownKey(k, valid), 'key');
        return;
      }
      case 'invalid_type': {
        const parent = getAt(data, rel.slice(0, -1));
        const last = rel[rel.length - 1];
        if (iss.input === undefined && last !== undefined && isPlainObject(parent) && !(String(last) in parent)) {
          this.issue(p.slice(0, -1), `missing required key "${String(last)}"`);
        } else {
          const quote =
            iss.expected === 'string' && (typeof iss.input === 'number' || typeof iss.input === 'boolean') ? `; quote it to make it a string: "${this.sourceText(p)}"` : '';
          this.issue(p, `expected ${typeName(iss.expected)}, got ${describeValue(iss.input)}${quote}`);
        }
        return;
      }
      case 'invalid_union': {
        if (iss.note === 'No matching discriminator' && iss.discriminator) {
          const owner = getAt(data, rel.slice(0, -1));
          const options = (iss.options ?? []).map(String);
          const v = isPlainObject(owner) ? owner[iss.discriminator] : undefined;
          if (v === undefined) this.issue(p.slice(0, -1), `missing required key "${iss.discriminator}" (one of ${options.join(', ')})`);
          else this.issue(p, `unknown ${iss.discriminator} ${literal(v)}${suggest(String(v), options)}; expected one of ${options.join(', ')}`);
          return;
        }
        const branches = iss.errors ?? [];
        const flat = branches.every((b) => b.length === 1 && (b[0]?.path.length ?? 1) === 0 && ['invalid_type', 'invalid_value'].includes(b[0]?.code ?? ''));
        if (flat && branches.length > 0) {
          const expected = branches.map((b) => {
            const e = b[0] as ZIssue;
            return e.code === 'invalid_type' ? typeName(e.expected) : (e.values ?? []).map(literal).join(', ');
          });
          const allValues = branches.every((b) => b[0]?.code === 'invalid_value');
          this.issue(p, `expected ${allValues ? `one of ${expected.join(', ')}` : expected.join(' or ')}, got ${describeValue(iss.input)}`);
          return;
        }
        // The branch that got furthest into the value explains best what is wrong.
        const depth = (b: ZIssue[]) => Math.max(...b.map((e) => e.path.length));
        const best = [...branches].sort((a, b) => depth(b) - depth(a) || a.length - b.length)[0];
        if (best && best.length > 0) {
          for (const e of best) this.zodIssue({ ...e, path: [...rel, ...e.path] }, base, schema, data);
        } else this.issue(p, `invalid value ${describeValue(iss.input)}`);
        return;
      }
      case 'invalid_value': {
        const values = iss.values ?? [];
        const got = describeValue(iss.input);
        const hint = typeof iss.input === 'string' && values.length > 1 ? suggest(iss.input, values.filter((v): v is string => typeof v === 'string')) : '';
        this.issue(p, values.length === 1 ? `expected ${literal(values[0])}, got ${got}${hint}` : `expected one of ${values.map(literal).join(', ')}, got ${got}${hint}`);
        return;
      }
      case 'too_small':
      case 'too_big': {
        this.issue(p, boundMessage(iss));
        return;
      }
      case 'invalid_format': {
        const custom = !iss.message.startsWith('Invalid');
        const got = describeValue(iss.input);
        if (custom) this.issue(p, /^(a|an|the) /.test(iss.message) ? `expected ${iss.message}, got ${got}` : `${iss.message} (got ${got})`);
        else if (iss.format === 'regex' && iss.pattern) this.issue(p, `must match ${iss.pattern}, got ${got}`);
        else this.issue(p, `expected a valid ${iss.format ?? 'value'}, got ${got}`);
        return;
      }
      case 'invalid_key': {
        const inner = iss.issues?.[0];
        const why = inner && !inner.message.startsWith('Invalid') ? `; expected ${inner.message}` : inner?.pattern ? `; must match ${inner.pattern}` : '';
        this.issue(p, `invalid name "${String(rel[rel.length - 1])}"${why}`, 'key');
        return;
      }
      case 'not_multiple_of': {
        this.issue(p, `must be a multiple of ${iss.divisor ?? '?'}, got ${describeValue(iss.input)}`);
        return;
      }
      default:
        this.issue(p, iss.message);
    }
  }

  // --- plugins, drivers, limits, warnings --------------------------------------------------------

  /** Loads `plugins:` into `registry`; true when one failed (drivers it would define are then "unknown"). */
  private async loadPlugins(plugins: unknown, registry: DriverRegistry): Promise<boolean> {
    if (!Array.isArray(plugins)) return false;
    let failed = false;
    for (const [i, spec] of plugins.entries()) {
      if (typeof spec !== 'string' || spec.length === 0) continue; // the schema reported it
      const p = ['plugins', i];
      const file = path.resolve(this.dir, spec);
      if (!existsSync(file)) {
        this.issue(p, `cannot load plugin "${spec}": no such file (${displayPath(file)})`);
        failed = true;
        continue;
      }
      let mod: { default?: unknown };
      try {
        mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
      } catch (e) {
        this.issue(p, `cannot load plugin "${spec}": ${firstLine(e instanceof Error ? e.message : String(e))}`);
        failed = true;
        continue;
      }
      const exported = mod.default;
      const list = Array.isArray(exported) ? (exported as unknown[]) : exported === undefined ? [] : [exported];
      const bad = list.findIndex((d) => !isDriverDefinition(d));
      if (list.length === 0 || bad >= 0) {
        this.issue(
          p,
          list.length === 0
            ? `plugin "${spec}" exports no driver definitions (its default export must be a driver definition or an array of them)`
            : `plugin "${spec}": default export ${Array.isArray(exported) ? `item [${bad}] ` : ''}is not a driver definition (needs name, description, provides, bindings, options (zod), transcript, create)`,
        );
        failed = true;
        continue;
      }
      for (const d of list as DriverDefinition[]) {
        if (registry.get(d.name)) {
          this.issue(p, `plugin "${spec}": driver "${d.name}" is already registered`);
          failed = true;
        } else registry.register(d);
      }
    }
    return failed;
  }

  /** Checks driver names, bindings and options; returns the parsed options per driver. */
  private checkDrivers(raw: Record<string, unknown>, registry: DriverRegistry, pluginFailed: boolean): Map<string, unknown> {
    const parsed = new Map<string, unknown>();
    const drivers = raw.drivers;
    if (!isPlainObject(drivers)) return parsed;
    const resources = isPlainObject(raw.resources) ? raw.resources : {};
    const resourceNames = Object.keys(resources);
    for (const [name, entry] of Object.entries(drivers)) {
      if (!isPlainObject(entry) || typeof entry.driver !== 'string') continue; // the schema reported it
      const base = ['drivers', name];
      const def = registry.get(entry.driver);
      if (!def) {
        const names = registry.names();
        const known = names.length > 0 ? `registered drivers: ${names.join(', ')}` : 'no drivers are registered (a plugin module under plugins: can add some)';
        const why = pluginFailed ? ' (a plugin of this rig failed to load)' : '';
        this.issue([...base, 'driver'], `unknown driver "${entry.driver}"${suggest(entry.driver, names)}${why}; ${known}`);
        continue;
      }

      // bindings
      const slots = Object.keys(def.bindings);
      const bind = entry.bind;
      if (bind === undefined || isPlainObject(bind)) {
        const given = bind ?? {};
        for (const slot of slots) {
          if (!(slot in given)) {
            const types = bindingTypes(def.bindings[slot] ?? []).join(' or ');
            this.issue(bind === undefined ? base : [...base, 'bind'], `missing binding "${slot}" (${def.name} needs a ${types} resource there)`);
          }
        }
        for (const [slot, target] of Object.entries(given)) {
          const bp = [...base, 'bind', slot];
          const spec = def.bindings[slot];
          if (spec === undefined) {
            const has = slots.length > 0 ? `${def.name} binds: ${slots.join(', ')}` : `${def.name} takes no bindings`;
            this.issue(bp, `unknown binding slot "${slot}"${suggest(slot, slots)}; ${has}`, 'key');
            continue;
          }
          if (typeof target !== 'string') continue; // the schema reported it
          const accepted = bindingTypes(spec);
          const res = resources[target];
          if (res === undefined) {
            const has = resourceNames.length > 0 ? `resources: ${resourceNames.join(', ')}` : 'the rig declares no resources';
            this.issue(bp, `no resource named "${target}"${suggest(target, resourceNames)}; ${has}`);
            continue;
          }
          const type = isPlainObject(res) ? res.type : undefined;
          if (typeof type === 'string' && (RESOURCE_TYPE_NAMES as string[]).includes(type) && !(accepted as string[]).includes(type)) {
            this.issue(bp, `resource "${target}" is a ${type}, but slot "${slot}" of ${def.name} accepts ${accepted.join(' or ')}`);
          }
        }
      }

      // options
      const options = entry.options === undefined ? {} : entry.options;
      if (!isPlainObject(options)) continue; // the schema reported it
      const op = [...base, 'options'];
      const r = this.parse(def.options as z.ZodType, options, op);
      if (r.ok) parsed.set(name, r.data);
      else {
        // A required option while `options:` is absent altogether: point at the entry.
        for (const iss of r.issues) {
          if (entry.options === undefined && iss.code === 'invalid_type' && iss.input === undefined && iss.path.length === 1) {
            this.issue(base, `missing required option "${String(iss.path[0])}" (the entry has no options:)`);
          } else this.zodIssue(iss, op, def.options as z.ZodType, r.data);
        }
      }
    }
    return parsed;
  }

  private checkLimits(limits: unknown): string[] {
    const list: [Path, unknown][] =
      typeof limits === 'string' ? [[['limits'], limits]] : Array.isArray(limits) ? limits.map((l, i) => [['limits', i], l]) : [];
    const out: string[] = [];
    for (const [p, l] of list) {
      if (typeof l !== 'string' || l.length === 0) continue; // the schema reported it
      const file = path.resolve(this.dir, l);
      if (!existsSync(file)) this.issue(p, `limits file not found: ${displayPath(file)}`);
      out.push(file);
    }
    return out;
  }

  private checkWarnings(raw: Record<string, unknown>): void {
    const resources = isPlainObject(raw.resources) ? raw.resources : {};
    const bound = new Set<string>();
    if (isPlainObject(raw.drivers)) {
      for (const entry of Object.values(raw.drivers)) {
        if (isPlainObject(entry) && isPlainObject(entry.bind)) for (const t of Object.values(entry.bind)) if (typeof t === 'string') bound.add(t);
      }
    }
    for (const [name, res] of Object.entries(resources)) {
      if (!bound.has(name)) this.warn(['resources', name], `resource "${name}" is not bound by any driver`, 'key');
      if (isPlainObject(res) && typeof res.path === 'string' && UNSTABLE_SERIAL.test(res.path)) {
        this.warn(
          ['resources', name, 'path'],
          `"${res.path}" is numbered in plug-in order and may name another adapter after a re-plug or reboot; use a stable path such as /dev/serial/by-id/...`,
        );
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

function isNodeLike(v: unknown): v is Node {
  return v !== null && typeof v === 'object' && 'range' in v;
}

function keyString(k: unknown): string {
  // yaml represents a merge key `<<` (with `merge: true`) as a symbol.
  if (isScalar(k)) return typeof k.value === 'symbol' ? (k.value.description ?? '<<') : String(k.value);
  return String(k);
}

function pathKey(p: Path): string {
  return JSON.stringify(p.map(String));
}

function formatPath(p: Path): string {
  if (p.length === 0) return '(root)';
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_$-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function displayPath(abs: string): string {
  const rel = path.relative(process.cwd(), abs);
  return rel.length > 0 && rel.length < abs.length ? rel : abs;
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).trim();
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function getAt(v: unknown, p: readonly PropertyKey[]): unknown {
  let cur = v;
  for (const seg of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function setAt(root: unknown, p: readonly PropertyKey[], value: unknown): unknown {
  if (p.length === 0) return value;
  const parent = getAt(root, p.slice(0, -1));
  if (parent !== null && typeof parent === 'object') (parent as Record<PropertyKey, unknown>)[p[p.length - 1] as PropertyKey] = value;
  return root;
}

/** The scalar types (other than string) a failed issue says the schema wanted at its path. */
function wanted(iss: ZIssue): Set<'number' | 'boolean'> {
  const out = new Set<'number' | 'boolean'>();
  if (iss.code === 'invalid_type') {
    if (iss.expected === 'number' || iss.expected === 'int') out.add('number');
    if (iss.expected === 'boolean') out.add('boolean');
  } else if (iss.code === 'invalid_value') {
    for (const v of iss.values ?? []) if (typeof v === 'number' || typeof v === 'boolean') out.add(typeof v as 'number' | 'boolean');
  } else if (iss.code === 'invalid_union') {
    for (const b of iss.errors ?? []) for (const e of b) if (e.path.length === 0) for (const w of wanted(e)) out.add(w);
  }
  return out;
}

function coerceScalar(s: string, want: Set<'number' | 'boolean'>): number | boolean | undefined {
  const t = s.trim();
  if (want.has('boolean') && t === 'true') return true;
  if (want.has('boolean') && t === 'false') return false;
  if (want.has('number') && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^0x[0-9a-fA-F]+$/.test(t)) {
    const n = Number(t);
    if (Number.isFinite(n)) return n;
  }
  return undefined;
}

function typeName(t: string | undefined): string {
  switch (t) {
    case 'object':
    case 'record':
      return 'a map';
    case 'array':
      return 'a list';
    case 'int':
      return 'an integer';
    case 'number':
    case 'string':
    case 'boolean':
      return `a ${t}`;
    default:
      return t ?? 'something else';
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'an empty value (null)';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return `string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof v} ${String(v)}`;
    case 'object':
      return 'a map';
    default:
      return typeof v;
  }
}

function describeNode(n: unknown): string {
  if (isSeq(n)) return 'a list';
  if (isScalar(n)) return describeValue(n.value);
  return 'something else';
}

function literal(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function boundMessage(iss: ZIssue): string {
  const small = iss.code === 'too_small';
  const bound = small ? iss.minimum : iss.maximum;
  const got = describeValue(iss.input);
  const n = Number(bound);
  switch (iss.origin) {
    case 'string':
      if (small && n === 1) return `must not be empty`;
      return `must have ${small ? 'at least' : 'at most'} ${n} characters, got ${got}`;
    case 'array':
    case 'set':
      if (small && n === 1) return `must not be an empty list`;
      return `must have ${small ? 'at least' : 'at most'} ${n} items`;
    default: {
      const op = small ? (iss.inclusive ? '>=' : '>') : iss.inclusive ? '<=' : '<';
      return `must be ${op} ${n}, got ${got}`;
    }
  }
}

/** Keys a strict object at `p` accepts, read from the schema (for "did you mean"). */
function objectKeysAt(schema: z.ZodType, p: readonly PropertyKey[], data: unknown): string[] {
  const found = walkSchema(schema as unknown as CoreSchema, p, data);
  const keys = new Set<string>();
  for (const s of found) {
    const def = unwrap(s)._zod.def;
    if (def.type === 'object' && def.shape) for (const k of Object.keys(def.shape)) keys.add(k);
  }
  return [...keys];
}

interface CoreDef {
  type: string;
  innerType?: CoreSchema;
  in?: CoreSchema;
  shape?: Record<string, CoreSchema>;
  valueType?: CoreSchema;
  element?: CoreSchema;
  options?: CoreSchema[];
  left?: CoreSchema;
  right?: CoreSchema;
  getter?: () => CoreSchema;
  values?: unknown[];
}
interface CoreSchema {
  _zod: { def: CoreDef };
}

function unwrap(s: CoreSchema): CoreSchema {
  for (let i = 0; i < 32; i++) {
    const d = s._zod.def;
    if (d.innerType && ['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(d.type)) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else if (d.type === 'lazy' && d.getter) s = d.getter();
    else break;
  }
  return s;
}

/** All candidate schemas at `p` (unions fan out; discriminated unions follow the data when they can). */
function walkSchema(s: CoreSchema, p: readonly PropertyKey[], data: unknown): CoreSchema[] {
  const u = unwrap(s);
  const d = u._zod.def;
  if (d.type === 'union' && d.options) {
    // Follow the option(s) whose literal fields (a discriminator such as `type`) fit the data.
    const fitting = d.options.filter((o) => fitsLiterals(o, data));
    return (fitting.length > 0 ? fitting : d.options).flatMap((o) => walkSchema(o, p, data));
  }
  if (d.type === 'intersection' && d.left && d.right) return [...walkSchema(d.left, p, data), ...walkSchema(d.right, p, data)];
  if (p.length === 0) return [u];
  const [seg, ...rest] = p;
  const next = getAt(data, [seg as PropertyKey]);
  if (d.type === 'object' && d.shape) {
    const child = d.shape[String(seg)];
    return child ? walkSchema(child, rest, next) : [];
  }
  if (d.type === 'record' && d.valueType) return walkSchema(d.valueType, rest, next);
  if (d.type === 'array' && d.element) return walkSchema(d.element, rest, next);
  return [];
}

function fitsLiterals(s: CoreSchema, data: unknown): boolean {
  const d = unwrap(s)._zod.def;
  if (d.type !== 'object' || !d.shape || !isPlainObject(data)) return true;
  for (const [k, f] of Object.entries(d.shape)) {
    const fd = unwrap(f)._zod.def;
    if (fd.type === 'literal' && fd.values && k in data && !fd.values.includes(data[k])) return false;
  }
  return true;
}

function isDriverDefinition(d: unknown): d is DriverDefinition {
  if (!isPlainObject(d)) return false;
  const o = d.options as { safeParse?: unknown } | undefined;
  return (
    typeof d.name === 'string' &&
    d.name.length > 0 &&
    Array.isArray(d.provides) &&
    isPlainObject(d.bindings) &&
    o !== undefined &&
    typeof o.safeParse === 'function' &&
    typeof d.create === 'function'
  );
}

function unknownKey(k: string, valid: string[]): string {
  const s = suggest(k, valid);
  return `unknown key "${k}"${s ? `; ${s.slice(2, -1)}` : ''}`;
}

/** ` (did you mean "x"?)` when one candidate is close enough, else ''. */
function suggest(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return best !== undefined && bestD <= limit && best !== word ? ` (did you mean "${best}"?)` : '';
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) => Array.from({ length: n + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      let v = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = v;
    }
  }
  return (d[m] as number[])[n] as number;
}

function sortIssues(list: RigIssue[]): RigIssue[] {
  return [...list].sort((a, b) => a.line - b.line || a.col - b.col || a.path.localeCompare(b.path));
}

function dedupe(list: RigIssue[]): RigIssue[] {
  const seen = new Set<string>();
  return list.filter((i) => {
    const k = formatRigIssue(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
