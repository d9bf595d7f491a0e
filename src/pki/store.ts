// A bench PKI on disk: one PEM certificate and one PKCS#8 key per role, a `<role>.chain.pem`
// (certificate + its sub-CAs, no root) for every leaf, and `manifest.json`:
//
//   { "version": 1, "seed": "...", "notBefore": "...", "ocspUrl": "...", "organization": "...", "country": "DE",
//     "emaid": "DEPNB...", "certificates": { "<role>": { "cert": "<role>.cert.pem", "key": "<role>.key.pem", "chain"?: "..." } } }
//
// Written by `pnc-bench pki init`, read back by `pki show` and by the mock CSMS / suites. Loading
// checks that every role is present and that each key matches its certificate.
//
//   writePkiDir(generatePki({ seed }), 'rigs/a1/pki');
//   const pki = loadPkiDir('rigs/a1/pki');
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bytesEqual } from './encoding.ts';
import { PkiInputError } from './errors.ts';
import { BenchPki, resolvePkiOptions } from './hierarchy.ts';
import type { CertifiedKey } from './issue.ts';
import { keyPairFromPem, privateKeyPem, spkiDer } from './keys.ts';
import { PKI_ROLES, ROLE_PROFILES, isPkiRole, type PkiRole } from './profile.ts';
import { parseCertificatePem } from './x509.ts';

export const MANIFEST_FILE = 'manifest.json';

export interface ManifestEntry {
  cert: string;
  key: string;
  chain?: string;
}

export interface PkiManifest {
  version: 1;
  seed: string;
  notBefore: string;
  ocspUrl?: string;
  organization: string;
  country: string;
  emaid: string;
  certificates: Record<PkiRole, ManifestEntry>;
}

function writeAtomic(file: string, data: string, mode = 0o644): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

/** Writes the PKI into `dir` (created if needed). Refuses to overwrite an existing manifest unless `force`. */
export function writePkiDir(pki: BenchPki, dir: string, opts: { force?: boolean } = {}): PkiManifest {
  try {
    return writePkiDirUnchecked(pki, dir, opts);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof PkiInputError || typeof code !== 'string') throw e;
    throw new PkiInputError(dir, `cannot write the PKI there (${code}: ${(e as Error).message})`);
  }
}

function writePkiDirUnchecked(pki: BenchPki, dir: string, opts: { force?: boolean }): PkiManifest {
  const manifestPath = path.join(dir, MANIFEST_FILE);
  if (existsSync(manifestPath) && !opts.force) throw new PkiInputError(dir, `already holds a PKI (${MANIFEST_FILE}); use --force to overwrite it`);
  mkdirSync(dir, { recursive: true });
  const certificates = {} as Record<PkiRole, ManifestEntry>;
  for (const [role, { cert, key }] of pki.entries()) {
    const entry: ManifestEntry = { cert: `${role}.cert.pem`, key: `${role}.key.pem` };
    writeAtomic(path.join(dir, entry.cert), cert.pem);
    writeAtomic(path.join(dir, entry.key), privateKeyPem(key), 0o600);
    if (!ROLE_PROFILES[role].ca) {
      entry.chain = `${role}.chain.pem`;
      writeAtomic(path.join(dir, entry.chain), pki.chain(role).map((c) => c.pem).join(''));
    }
    certificates[role] = entry;
  }
  const o = pki.options;
  const manifest: PkiManifest = {
    version: 1,
    seed: o.seed,
    notBefore: o.notBefore.toISOString(),
    ...(o.ocspUrl ? { ocspUrl: o.ocspUrl } : {}),
    organization: o.organization,
    country: o.country,
    emaid: o.emaid,
    certificates,
  };
  writeAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

function readText(file: string, field: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PkiInputError(field, code === 'ENOENT' ? `${file} not found` : `cannot read ${file} (${code ?? (e as Error).message})`);
  }
}

/** Reads and checks `manifest.json`; throws PkiInputError naming the key that is wrong. */
export function readManifest(dir: string): PkiManifest {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file)) throw new PkiInputError(dir, `no ${MANIFEST_FILE} (create one with "pnc-bench pki init ${dir}")`);
  let raw: unknown;
  try {
    raw = JSON.parse(readText(file, file));
  } catch (e) {
    if (e instanceof PkiInputError) throw e;
    throw new PkiInputError(file, `not valid JSON (${(e as Error).message})`);
  }
  const m = raw as Partial<PkiManifest> & Record<string, unknown>;
  const fail = (key: string, msg: string): never => {
    throw new PkiInputError(`${file}: ${key}`, msg);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('(root)', 'must be an object');
  if (m.version !== 1) fail('version', `must be 1, got ${JSON.stringify(m.version)}`);
  for (const k of ['seed', 'notBefore', 'organization', 'country', 'emaid'] as const) if (typeof m[k] !== 'string') fail(k, 'must be a string');
  if (m.ocspUrl !== undefined && typeof m.ocspUrl !== 'string') fail('ocspUrl', 'must be a string');
  if (typeof m.certificates !== 'object' || m.certificates === null) fail('certificates', 'must be an object');
  const certs = m.certificates as Record<string, unknown>;
  for (const k of Object.keys(certs)) if (!isPkiRole(k)) fail(`certificates.${k}`, `unknown role (roles: ${PKI_ROLES.join(' ')})`);
  for (const role of PKI_ROLES) {
    const e = certs[role] as Partial<ManifestEntry> | undefined;
    if (!e || typeof e !== 'object') fail(`certificates.${role}`, 'missing');
    else {
      if (typeof e.cert !== 'string') fail(`certificates.${role}.cert`, 'must be a file name');
      if (typeof e.key !== 'string') fail(`certificates.${role}.key`, 'must be a file name');
    }
  }
  return m as PkiManifest;
}

/** Loads a PKI written by `writePkiDir`. Keys are checked against their certificates. */
export function loadPkiDir(dir: string): BenchPki {
  const manifest = readManifest(dir);
  const options = resolvePkiOptions({
    seed: manifest.seed,
    notBefore: new Date(manifest.notBefore),
    ocspUrl: manifest.ocspUrl,
    organization: manifest.organization,
    country: manifest.country,
    emaid: manifest.emaid,
  });
  const entries = new Map<PkiRole, CertifiedKey>();
  for (const role of PKI_ROLES) {
    const e = manifest.certificates[role];
    const certFile = path.join(dir, e.cert);
    const keyFile = path.join(dir, e.key);
    const cert = parseCertificatePem(readText(certFile, `certificates.${role}.cert`), certFile);
    const key = keyPairFromPem(readText(keyFile, `certificates.${role}.key`), keyFile);
    if (!bytesEqual(spkiDer(key), cert.spki)) throw new PkiInputError(keyFile, `does not belong to ${certFile} (public keys differ)`);
    entries.set(role, { cert, key });
  }
  return new BenchPki(options, entries);
}
