// The published record schema (reports/schema/record-1.schema.json) is what other tools validate
// our records with: a real record from a run must pass it, and a broken one must not.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.ts';
import { sampleRecord } from '../helpers/sample-record.ts';

const schema = JSON.parse(readFileSync(path.join(ROOT, 'reports/schema/record-1.schema.json'), 'utf8')) as Record<string, unknown>;
const ajv = new Ajv({ allErrors: true, strict: false });
const check = ajv.compile(schema);

describe('record JSON Schema', () => {
  it('accepts a full record', () => {
    const rec = sampleRecord();
    expect(check(JSON.parse(JSON.stringify(rec))), JSON.stringify(check.errors)).toBe(true);
  });

  it('rejects unknown keys, a bad outcome and a missing field', () => {
    const rec = JSON.parse(JSON.stringify(sampleRecord())) as Record<string, unknown>;
    expect(check({ ...rec, extra: 1 })).toBe(false);
    expect(check({ ...rec, outcome: 'GREEN' })).toBe(false);
    const { runId: _, ...noId } = rec;
    expect(check(noId)).toBe(false);
    expect(check.errors?.[0]?.message).toContain("must have required property 'runId'");
  });
});
