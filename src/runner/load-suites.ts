// Finds and loads suite files: `*.suite.ts` (or .js/.mts/.mjs) given directly or found under the
// given directories, each default-exporting a defineSuite(...) value. Suites are imported at run
// time (the CLI runs under tsx, so TypeScript suite files need no build step).
//
// Order: health suites first (suite files whose own directory is named `health`, e.g.
// bench/health/*.suite.ts), then the rest; within each group files keep the order given (directories expand
// in name order). A rig that fails its health suites is then recorded as INFRA before any suite
// can blame the charger for it.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from './errors.ts';
import type { LoadedSuite } from './executor.ts';
import { defineSuite, isSuite } from './suite.ts';

const SUITE_RE = /\.suite\.(ts|mts|js|mjs)$/;

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else if (SUITE_RE.test(entry.name)) out.push(p);
  }
}

/** True for a suite file whose own directory is named `health` (a rig or host preflight suite). */
export function isHealthSuiteFile(file: string): boolean {
  return path.basename(path.dirname(path.resolve(file))) === 'health';
}

/**
 * Expands files and directories into suite files without duplicates: health suites first, then the
 * others, each group in the order given.
 */
export function findSuiteFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new ConfigError(`${p}: no such suite file or directory`);
    }
    if (st.isDirectory()) {
      const found: string[] = [];
      walk(p, found);
      if (found.length === 0) throw new ConfigError(`${p}: no *.suite.ts files in this directory`);
      out.push(...found);
    } else if (SUITE_RE.test(p)) out.push(p);
    else throw new ConfigError(`${p}: a suite file's name ends in .suite.ts`);
  }
  const unique = [...new Set(out.map((f) => path.resolve(f)))];
  return [...unique.filter(isHealthSuiteFile), ...unique.filter((f) => !isHealthSuiteFile(f))];
}

/** Imports suite files; `displayRoot` makes the recorded paths relative (the package root). */
export async function loadSuites(files: readonly string[], displayRoot: string): Promise<LoadedSuite[]> {
  const suites: LoadedSuite[] = [];
  const names = new Map<string, string>();
  for (const file of files) {
    const shown = path.relative(displayRoot, file).startsWith('..') ? file : path.relative(displayRoot, file);
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const hint = /require\(\) ES Module|ERR_REQUIRE/.test(msg) ? ' (outside this package, name the file .suite.mts so it loads as an ES module)' : '';
      throw new ConfigError(`${shown}: cannot load suite: ${msg}${hint}`);
    }
    if (!isSuite(mod.default)) throw new ConfigError(`${shown}: the default export is not a suite (export default defineSuite({...}))`);
    try {
      defineSuite(mod.default); // re-checks names, phase lists and measurement declarations
    } catch (e) {
      throw new ConfigError(`${shown}: ${(e as Error).message}`);
    }
    const other = names.get(mod.default.name);
    if (other) throw new ConfigError(`${shown}: suite name "${mod.default.name}" is already used by ${other}`);
    names.set(mod.default.name, shown);
    suites.push({ def: mod.default, file: shown.split(path.sep).join('/'), sha256: createHash('sha256').update(readFileSync(file)).digest('hex') });
  }
  return suites;
}
