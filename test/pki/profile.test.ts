// docs/pki.md's role table and ROLE_PROFILES must say the same thing.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PKI_ROLES, ROLE_PROFILES } from '../../src/pki/index.ts';

const doc = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/pki.md'), 'utf8');
const rows = new Map(
  doc
    .split('\n')
    .filter((l) => /^\| [a-z0-9-]+ \|/.test(l))
    .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()))
    .filter((c) => (PKI_ROLES as readonly string[]).includes(c[0] ?? ''))
    .map((c) => [c[0] as string, c]),
);

describe('docs/pki.md role table', () => {
  it('lists every role once', () => {
    expect([...rows.keys()]).toEqual([...PKI_ROLES]);
  });

  it.each(PKI_ROLES)('%s matches ROLE_PROFILES', (role) => {
    const p = ROLE_PROFILES[role];
    const [, cn, dc, issuer, ca, ku, eku, days, aia] = rows.get(role) ?? [];
    expect(cn).toBe(role === 'contract' ? 'the eMAID' : p.commonName);
    expect(dc).toBe(p.domainComponent ?? '–');
    expect(issuer).toBe(p.issuer ?? 'self');
    expect(ca).toBe(p.ca ? (p.pathLen === undefined ? 'CA' : `CA, ${p.pathLen}`) : 'leaf');
    expect(ku).toBe(p.keyUsage.join(', '));
    expect(eku).toBe(p.extKeyUsage ? 'serverAuth' : '–');
    expect(Number(days)).toBe(p.validityDays);
    expect(aia).toBe(p.ocsp ? 'yes' : 'no');
  });
});
