// `pnc-bench pki …`: create and inspect a rig's bench PKI (src/pki). The lead's src/cli/main.ts adds
// these commands to its commander program with `pkiCommands(program, io, setCode)`.
//
//   pnc-bench pki init <dir> [--seed <s>] [--ocsp-url <url>] [--not-before <iso>] [--organization <o>] [--emaid <e>] [--force]
//   pnc-bench pki show <dir>
//
// Exit codes (through setCode): 0 ok, 2 usage or bad input (message names the option or file).
import type { Command } from 'commander';
import { PkiInputError } from '../pki/errors.ts';
import { generatePki } from '../pki/hierarchy.ts';
import { PKI_ROLES, ROOT_ROLES } from '../pki/profile.ts';
import { loadPkiDir, MANIFEST_FILE, writePkiDir } from '../pki/store.ts';

export interface PkiCliIo {
  out(s: string): void;
  err(s: string): void;
}

interface InitFlags {
  seed?: string;
  ocspUrl?: string;
  notBefore?: string;
  organization?: string;
  emaid?: string;
  force?: boolean;
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:?\d{2})?)?$/;

function parseNotBefore(s: string): Date {
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s);
  if (!ISO_RE.test(s) || Number.isNaN(d.getTime())) throw new PkiInputError('--not-before', `"${s}" is not an ISO 8601 date (e.g. 2025-01-01 or 2025-01-01T00:00:00Z)`);
  return d;
}

const isoSecond = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '));
}

export function pkiInit(dir: string, flags: InitFlags, io: PkiCliIo): number {
  try {
    if (flags.seed !== undefined && flags.seed.length === 0) throw new PkiInputError('--seed', 'must not be empty');
    const pki = generatePki({
      ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
      ...(flags.ocspUrl !== undefined ? { ocspUrl: flags.ocspUrl } : {}),
      ...(flags.notBefore !== undefined ? { notBefore: parseNotBefore(flags.notBefore) } : {}),
      ...(flags.organization !== undefined ? { organization: flags.organization } : {}),
      ...(flags.emaid !== undefined ? { emaid: flags.emaid } : {}),
    });
    writePkiDir(pki, dir, { force: flags.force === true });
    const o = pki.options;
    io.out(`pki: wrote ${PKI_ROLES.length} certificates and keys to ${dir} (${MANIFEST_FILE})`);
    io.out(`  seed:        ${o.seed}${flags.seed === undefined ? '  (random; pass --seed to regenerate the same PKI)' : ''}`);
    io.out(`  not before:  ${isoSecond(o.notBefore)}`);
    io.out(`  eMAID:       ${o.emaid}`);
    io.out(`  OCSP URL:    ${o.ocspUrl ?? '(none: certificates carry no authorityInfoAccess)'}`);
    io.out(`  trust roots: ${ROOT_ROLES.map((r) => `${r}.cert.pem`).join(', ')}`);
    return 0;
  } catch (e) {
    if (e instanceof PkiInputError) {
      io.err(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

export function pkiShow(dir: string, io: PkiCliIo, now: Date = new Date()): number {
  try {
    const pki = loadPkiDir(dir);
    const o = pki.options;
    io.out(`PKI ${dir}: seed ${o.seed}, eMAID ${o.emaid}, OCSP ${o.ocspUrl ?? 'none'}`);
    const rows = [['role', 'subject', 'serial', 'not before', 'not after', 'state', 'SHA-256 fingerprint']];
    for (const [role, { cert }] of pki.entries()) {
      const state = now < cert.notBefore ? 'not yet valid' : now > cert.notAfter ? 'EXPIRED' : 'valid';
      rows.push([role, cert.subject, cert.serialHex, isoSecond(cert.notBefore), isoSecond(cert.notAfter), state, cert.fingerprintSha256]);
    }
    for (const line of table(rows)) io.out(line);
    return 0;
  } catch (e) {
    if (e instanceof PkiInputError) {
      io.err(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

/** Adds `pki init` and `pki show` to a commander program. */
export function pkiCommands(program: Command, io: PkiCliIo, setCode: (code: number) => void): void {
  const pki = program.command('pki').description('the bench PKI: V2G, MO, OEM, CPS and CSMS certificate hierarchies');
  pki
    .command('init')
    .description('generate a deterministic bench PKI into <dir> (PEM certificates, PKCS#8 keys, manifest.json)')
    .argument('<dir>', 'output directory')
    .option('--seed <s>', 'seed: the same seed (and --not-before) gives the same keys, serials and certificates')
    .option('--ocsp-url <url>', 'OCSP responder URL for authorityInfoAccess, e.g. http://127.0.0.1:8180/ocsp')
    .option('--not-before <iso>', 'start of validity of every certificate (default: today 00:00 UTC)')
    .option('--organization <o>', 'subject O of every certificate (the CPO name; at most 16 characters)', undefined)
    .option('--emaid <e>', 'eMAID of the contract certificate (default: derived from the seed)')
    .option('--force', 'overwrite an existing PKI in <dir>')
    .action((dir: string, flags: InitFlags) => {
      setCode(pkiInit(dir, flags, io));
    });
  pki
    .command('show')
    .description('print the PKI in <dir>: role, subject, serial, validity, SHA-256 fingerprint')
    .argument('<dir>', 'PKI directory (written by pki init)')
    .action((dir: string) => {
      setCode(pkiShow(dir, io));
    });
}
