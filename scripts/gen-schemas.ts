// Writes the JSON Schemas generated from the zod sources of truth (`npm run schemas`):
//   rigs/rig.schema.json                 rig files, options per built-in driver (src/rig/schema.ts)
//   reports/schema/record-1.schema.json  run records (src/report/record.ts)
//   src/server/events.schema.json        messages of the live event stream (src/server/events.ts)
// test/rig/schemas.test.ts fails when a checked-in file differs from what this script generates,
// so run it after changing a schema or adding a driver.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { builtinDrivers } from '../drivers/index.ts';
import { RECORD_SCHEMA_ID, recordJsonSchema } from '../src/report/record.ts';
import { rigJsonSchema } from '../src/rig/schema.ts';
import { eventsJsonSchema } from '../src/server/events.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface GeneratedFile {
  /** Relative to the repository root. */
  path: string;
  content: string;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Every generated schema file with its content; add new schemas here. */
export function generatedSchemas(): GeneratedFile[] {
  const recordVersion = RECORD_SCHEMA_ID.split('/')[1];
  return [
    { path: 'rigs/rig.schema.json', content: json(rigJsonSchema(builtinDrivers())) },
    { path: `reports/schema/record-${recordVersion}.schema.json`, content: json(recordJsonSchema()) },
    { path: 'src/server/events.schema.json', content: json(eventsJsonSchema()) },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  for (const f of generatedSchemas()) {
    const abs = path.join(REPO_ROOT, f.path);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, f.content);
    console.log(`wrote ${f.path}`);
  }
}
