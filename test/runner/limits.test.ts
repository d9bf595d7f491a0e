// Limit files: order of precedence, per-model overrides, sources, and positioned errors.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLimits } from '../../src/runner/limits.ts';
import { tempDir } from '../helpers/fake-rig.ts';

function file(dir: string, name: string, lines: string[]): string {
  const f = path.join(dir, name);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

describe('limit files', () => {
  it('later files override earlier ones and the DUT model section overrides its file', async () => {
    const dir = tempDir();
    const a = file(dir, 'a.yaml', ['schema: pnc-bench-limits/1', 'limits:', '  t.x: { max: 1 }', '  t.y: Accepted', 'models:', '  m1:', '    t.y: Blocked']);
    const b = file(dir, 'b.yaml', ['schema: pnc-bench-limits/1', 'limits:', '  t.x: { max: 2 }']);
    const forM1 = await loadLimits([a, b], 'm1');
    expect(forM1.get('t.x')?.value).toEqual({ max: 2 });
    expect(forM1.get('t.x')?.source).toMatch(/b\.yaml#limits\.t\.x$/);
    expect(forM1.get('t.y')).toMatchObject({ value: 'Blocked' });
    expect(forM1.get('t.y')?.source).toMatch(/a\.yaml#models\.m1\.t\.y$/);
    const forOther = await loadLimits([a, b], 'other');
    expect(forOther.get('t.y')?.value).toBe('Accepted');
    expect(forOther.keys()).toEqual(['t.x', 't.y']);
  });

  it('reports errors with file, line and column', async () => {
    const dir = tempDir();
    const bad = file(dir, 'bad.yaml', ['schema: pnc-bench-limits/1', 'limits:', '  t.x: { max: 1 }', 'limitz: {}']);
    await expect(loadLimits([bad], 'm')).rejects.toThrow(/bad\.yaml:4:1: unknown key "limitz"/);
    const schema = file(dir, 'schema.yaml', ['schema: limits/0', 'limits: {}']);
    await expect(loadLimits([schema], 'm')).rejects.toThrow(/schema\.yaml:1:9: schema: expected "pnc-bench-limits\/1"/);
    const key = file(dir, 'key.yaml', ['schema: pnc-bench-limits/1', 'limits:', '  "bad key": 1']);
    await expect(loadLimits([key], 'm')).rejects.toThrow(/key\.yaml:3:3: limits: limit key "bad key"/);
    const syntax = file(dir, 'syntax.yaml', ['schema: pnc-bench-limits/1', 'limits:', '  a: [1, 2']);
    await expect(loadLimits([syntax], 'm')).rejects.toThrow(/syntax\.yaml:\d+:\d+: /);
    const dup = file(dir, 'dup.yaml', ['schema: pnc-bench-limits/1', 'limits:', '  a: 1', '  a: 2']);
    await expect(loadLimits([dup], 'm')).rejects.toThrow(/dup\.yaml:4:3: .*[Uu]nique/);
    await expect(loadLimits([path.join(dir, 'missing.yaml')], 'm')).rejects.toThrow(/missing\.yaml: cannot read limit file \(ENOENT\)/);
  });
});
