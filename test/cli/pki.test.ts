// `pnc-bench pki init` / `pki show` through a commander program wired with pkiCommands: files and
// manifest, byte-identical regeneration from a seed, openssl on the files, and exit code 2 with a
// specific message for every kind of bad input.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { pkiCommands } from '../../src/cli/pki.ts';
import { loadPkiDir, PKI_ROLES } from '../../src/pki/index.ts';
import { OpenSsl } from '../pki/openssl.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'pnc-pki-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `pki …` through a fresh commander program, the way src/cli/main.ts wires it. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  const io = { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) };
  const program = new Command('pnc-bench').exitOverride().configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  pkiCommands(program, io, (c) => (code = c));
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    code = 2;
  }
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('pnc-bench pki init', () => {
  const a = path.join(tmp, 'a');
  const b = path.join(tmp, 'b');
  const args = ['--seed', 'cli-seed', '--not-before', '2026-06-01T00:00:00Z', '--ocsp-url', 'http://127.0.0.1:18181/ocsp'];

  it('writes PEM files and manifest.json with every role and the eMAID', async () => {
    const r = await cli(['pki', 'init', a, ...args]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`wrote ${PKI_ROLES.length} certificates and keys to ${a}`);
    const manifest = JSON.parse(readFileSync(path.join(a, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.certificates)).toEqual([...PKI_ROLES]);
    expect(manifest.emaid).toMatch(/^DEPNBC[A-Z0-9]{9}$/);
    expect(manifest.seed).toBe('cli-seed');
    for (const role of PKI_ROLES) {
      const e = manifest.certificates[role];
      expect(readFileSync(path.join(a, e.cert), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(readFileSync(path.join(a, e.key), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    }
    expect(r.out).toContain(`eMAID:       ${manifest.emaid}`);
  });

  it('a second run with the same seed gives byte-identical files', async () => {
    const r = await cli(['pki', 'init', b, ...args]);
    expect(r.code).toBe(0);
    const files = readdirSync(a).sort();
    expect(readdirSync(b).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(path.join(b, f)).equals(readFileSync(path.join(a, f))), f).toBe(true);
  });

  it('files on disk verify with openssl and load back', () => {
    const o = new OpenSsl();
    try {
      const m = JSON.parse(readFileSync(path.join(a, 'manifest.json'), 'utf8'));
      const r = o.run(['verify', '-attime', String(Date.parse('2026-06-02T00:00:00Z') / 1000), '-CAfile', path.join(a, m.certificates['mo-root'].cert), '-untrusted', path.join(a, m.certificates.contract.chain), path.join(a, m.certificates.contract.cert)]);
      expect(r.all).toContain(': OK');
    } finally {
      o.cleanup();
    }
    const pki = loadPkiDir(a);
    expect(pki.seed).toBe('cli-seed');
    expect(pki.ocspUrl).toBe('http://127.0.0.1:18181/ocsp');
  });

  it('refuses to overwrite without --force, overwrites with it', async () => {
    const r = await cli(['pki', 'init', a, ...args]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/already holds a PKI \(manifest.json\); use --force/);
    expect((await cli(['pki', 'init', a, ...args, '--force'])).code).toBe(0);
  });

  it('without --seed uses a random seed and says so', async () => {
    const r = await cli(['pki', 'init', path.join(tmp, 'random')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/seed: {8}[0-9a-f]{32} {2}\(random; pass --seed/);
  });

  it.each([
    [['--not-before', 'yesterday'], /^error: --not-before: "yesterday" is not an ISO 8601 date/],
    [['--not-before', '2026-13-45'], /^error: --not-before: "2026-13-45" is not an ISO 8601 date/],
    [['--ocsp-url', 'localhost:8080'], /^error: ocspUrl: "localhost:8080" must be an http/],
    [['--seed', ''], /^error: --seed: must not be empty/],
    [['--emaid', 'DEABC123456789X'], /^error: emaid: "DEABC123456789X" has check digit X, expected Y/],
  ])('bad input %j → exit 2 with the reason', async (extra, msg) => {
    const r = await cli(['pki', 'init', path.join(tmp, 'bad'), ...extra]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg);
  });

  it('an unwritable place → exit 2 naming it', async () => {
    const file = path.join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const r = await cli(['pki', 'init', path.join(file, 'sub'), '--seed', 's']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/a-file\/sub: cannot write the PKI there \((ENOTDIR|EEXIST)/);
  });

  it('a missing <dir> is a usage error', async () => {
    const r = await cli(['pki', 'init']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/missing required argument 'dir'/);
  });
});

describe('pnc-bench pki show', () => {
  it('prints role, subject, serial, validity and fingerprint for every role', async () => {
    const dir = path.join(tmp, 'show');
    await cli(['pki', 'init', dir, '--seed', 'show-seed', '--not-before', '2026-01-01']);
    const r = await cli(['pki', 'show', dir]);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^PKI .*: seed show-seed, eMAID DEPNB\w+, OCSP none$/);
    expect(lines[1]).toMatch(/^role\s+subject\s+serial\s+not before\s+not after\s+state\s+SHA-256 fingerprint$/);
    const pki = loadPkiDir(dir);
    for (const role of PKI_ROLES) {
      const line = lines.find((l) => l.startsWith(`${role} `)) ?? '';
      const c = pki.cert(role);
      expect(line).toContain(c.subject);
      expect(line).toContain(c.serialHex);
      expect(line).toContain('2026-01-01T00:00:00Z');
      expect(line).toContain(c.fingerprintSha256);
    }
    // openssl agrees on the fingerprint
    const o = new OpenSsl();
    try {
      const fp = o.ok(['x509', '-in', path.join(dir, 'v2g-root.cert.pem'), '-noout', '-fingerprint', '-sha256']).trim().split('=')[1];
      expect(lines.find((l) => l.startsWith('v2g-root '))).toContain(fp);
    } finally {
      o.cleanup();
    }
    // the 60-day SECC leaf from 2026-01-01 has expired by now; show says so
    expect(lines.find((l) => l.startsWith('secc-leaf '))).toMatch(new Date() > new Date('2026-03-02') ? /EXPIRED/ : /valid/);
  });

  it('a directory without a PKI → exit 2 naming the fix', async () => {
    const r = await cli(['pki', 'show', path.join(tmp, 'nothing-here')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no manifest.json \(create one with "pnc-bench pki init/);
  });

  it('a key that does not match its certificate → exit 2 naming the files', async () => {
    const dir = path.join(tmp, 'tampered');
    await cli(['pki', 'init', dir, '--seed', 'tamper']);
    writeFileSync(path.join(dir, 'mo-sub1.key.pem'), readFileSync(path.join(dir, 'mo-sub2.key.pem')));
    const r = await cli(['pki', 'show', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/mo-sub1\.key\.pem: does not belong to .*mo-sub1\.cert\.pem/);
  });

  it('a broken manifest → exit 2 naming the key', async () => {
    const dir = path.join(tmp, 'broken');
    await cli(['pki', 'init', dir, '--seed', 'broken']);
    const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    delete m.certificates['oem-sub1'];
    m.certificates['oem-sub9'] = { cert: 'x', key: 'y' };
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
    const r = await cli(['pki', 'show', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/manifest.json: certificates.oem-sub9: unknown role/);
  });
});
