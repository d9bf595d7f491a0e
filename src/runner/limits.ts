// Limit files (bench/limits/*.yaml and the rig's `limits:` files): the numbers a suite's
// measurements are judged against, kept as data so a DUT model or rig class can have its own.
//
//   schema: pnc-bench-limits/1
//   limits:                                   # key -> validator parameter
//     timing.auth_latency_ms: { max: 2000, marginalMax: 1500 }
//     pnc.authorize_status: Accepted
//   models:                                   # per dut.model overrides
//     acme-dc150:
//       timing.auth_latency_ms: { max: 3000 }
//
// Files are applied in order (bench files by name, then the rig's), later keys override earlier
// ones, and a `models.<dut.model>` entry overrides the plain entry of the same file. Every value
// keeps its source (`<file>#<yaml path>`) for the record.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Node } from 'yaml';

export interface LimitEntry {
  value: unknown;
  /** `<file relative to cwd>#limits.<key>` or `#models.<model>.<key>` */
  source: string;
}

export class LimitFileError extends Error {
  override readonly name = 'LimitFileError';
}

export class LimitSet {
  private readonly entries = new Map<string, LimitEntry>();

  set(key: string, entry: LimitEntry): void {
    this.entries.set(key, entry);
  }
  get(key: string): LimitEntry | undefined {
    return this.entries.get(key);
  }
  keys(): string[] {
    return [...this.entries.keys()].sort();
  }
}

const KEY_RE = /^[A-Za-z0-9_.-]+$/;

/** Loads limit files in order into one set, applying `models.<dutModel>` overrides. */
export async function loadLimits(files: readonly string[], dutModel: string): Promise<LimitSet> {
  const set = new LimitSet();
  for (const file of files) {
    const shown = path.relative(process.cwd(), file) || file;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new LimitFileError(`${shown}: cannot read limit file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
    const at = (node: Node | null | undefined, msg: string): LimitFileError => {
      const pos = node?.range ? lc.linePos(node.range[0]) : { line: 1, col: 1 };
      return new LimitFileError(`${shown}:${pos.line}:${pos.col}: ${msg}`);
    };
    const err = doc.errors[0];
    if (err) {
      const pos = lc.linePos(err.pos[0]);
      throw new LimitFileError(`${shown}:${pos.line}:${pos.col}: ${err.message.split('\n')[0]}`);
    }
    const root = doc.contents;
    if (!isMap(root)) throw at(root, 'a limit file is a map with `schema`, `limits` and optionally `models`');
    const readSection = (node: unknown, prefix: string, into: Map<string, LimitEntry>) => {
      if (node === undefined || node === null) return;
      if (!isMap(node)) throw at(node as Node, `${prefix}: expected a map of limit keys`);
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : '';
        if (!KEY_RE.test(k)) throw at(pair.key as Node, `${prefix}: limit key "${k}" must match ${KEY_RE.source}`);
        const value = (pair.value as Node | null)?.toJSON() ?? null;
        into.set(k, { value, source: `${shown}#${prefix}.${k}` });
      }
    };
    for (const pair of root.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!['schema', 'limits', 'models'].includes(k)) throw at(pair.key as Node, `unknown key "${k}" (expected schema, limits, models)`);
    }
    const schemaNode = root.get('schema', true);
    if (!isScalar(schemaNode) || (schemaNode.value as unknown) !== 'pnc-bench-limits/1') throw at(schemaNode ?? root, 'schema: expected "pnc-bench-limits/1"');
    const plain = new Map<string, LimitEntry>();
    readSection(root.get('limits', true), 'limits', plain);
    const models = root.get('models', true);
    const forModel = new Map<string, LimitEntry>();
    if (models !== undefined) {
      if (!isMap(models)) throw at(models as Node, 'models: expected a map of DUT model -> limits');
      for (const pair of models.items) {
        const model = isScalar(pair.key) ? String(pair.key.value) : '';
        if (model === dutModel) readSection(pair.value, `models.${model}`, forModel);
        else readSection(pair.value, `models.${model}`, new Map()); // still checked
      }
    }
    for (const [k, v] of plain) set.set(k, v);
    for (const [k, v] of forModel) set.set(k, v);
  }
  return set;
}
