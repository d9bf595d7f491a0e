// Each built-in driver is documented: its family README has an options table naming every option
// (nested ones as dotted keys) and a rig-file snippet that uses the driver, and drivers/README.md
// lists it. Adding an option without documenting it fails here.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinDrivers } from '../../drivers/index.ts';
import { ROOT } from '../helpers/cli.ts';

const README: Record<string, string> = {
  CcuCan: 'drivers/ccu/README.md',
  EverestCarSim: 'drivers/ev/README.md',
  MockCsms: 'docs/csms.md',
  ModbusMeter: 'drivers/meter/README.md',
  SeccConsole: 'drivers/secc/README.md',
};

type Json = { properties?: Record<string, Json>; type?: string };

/** Dotted option keys that are leaves (message/signal/values of a reference are documented with it). */
function leafKeys(s: Json, prefix = ''): string[] {
  return Object.entries(s.properties ?? {}).flatMap(([k, v]) => {
    const name = prefix ? `${prefix}.${k}` : k;
    const children = v.properties ? leafKeys(v, name).filter((c) => !/\.(message|signal|values)$/.test(c)) : [];
    return children.length ? children : [name];
  });
}

describe('driver READMEs', () => {
  const drivers = builtinDrivers().list();

  it('cover every built-in driver', () => {
    expect(drivers.map((d) => d.name).sort()).toEqual(Object.keys(README).sort());
    const index = readFileSync(path.join(ROOT, 'drivers/README.md'), 'utf8');
    for (const d of drivers) expect(index).toContain(`| \`${d.name}\` |`);
  });

  for (const d of builtinDrivers().list()) {
    it(`${README[d.name]} documents every option of ${d.name} and shows a rig snippet`, () => {
      const text = readFileSync(path.join(ROOT, README[d.name] as string), 'utf8');
      const keys = leafKeys(z.toJSONSchema(d.options, { target: 'draft-7', io: 'input', unrepresentable: 'any' }) as Json);
      expect(keys.length).toBeGreaterThan(3);
      const missing = keys.filter((k) => !text.includes(`\`${k}\``));
      expect(missing).toEqual([]);
      expect(text).toMatch(new RegExp(`\`\`\`yaml[\\s\\S]*driver: ${d.name}[\\s\\S]*\`\`\``));
    });
  }

  it('the CAN family README documents the transport options drivers embed', () => {
    const text = readFileSync(path.join(ROOT, 'drivers/can/README.md'), 'utf8');
    for (const k of ['serialBaud', 'listenOnly', 'timestamps', 'ackTimeoutMs', 'connectTimeoutMs', 'reconnect.minMs', 'reconnect.maxMs']) expect(text).toContain(`| \`${k}\` |`);
  });
});
