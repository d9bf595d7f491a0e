// `pnc-bench csms`: the mock CSMS on its own, for manual lab work — point a charger at it and watch
// every frame go by. The lead's src/cli/main.ts adds it with `csmsCommands(program, io, setCode)`.
//
//   pnc-bench csms --port 8180 [--host 0.0.0.0] [--profile 0|1|2|3] [--password <key>] [--pki <dir>] [--ocsp-url <url>] [--json]
//
// --pki <dir> loads the bench PKI there, or creates one (src/pki) when the directory has none; the
// charger must trust <dir>/csms-ca.cert.pem for profiles 2 and 3, and profile 3 chargers need a client
// certificate from that CA (their SignCertificate gets one). Without --pki a throw-away PKI is made
// in memory (profiles 0 and 1 only). Runs until SIGINT/SIGTERM. Exit codes: 0 stopped by a signal,
// 2 usage error (message names the option), 3 the port could not be bound.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { LinkError } from '../../drivers/capabilities.ts';
import { errorText } from '../../drivers/common/abort.ts';
import { authorizationKeyProblem, consoleLine, CsmsUsageError, DEFAULT_CHARGER_CONFIG, MockCsms, transcriptLine } from '../csms/index.ts';
import { generatePki, loadPkiDir, MANIFEST_FILE, PkiInputError, startOcspHttpServer, writePkiDir, type BenchPki, type OcspHttpServer } from '../pki/index.ts';

export interface CsmsCliIo {
  out(s: string): void;
  err(s: string): void;
}

export interface CsmsFlags {
  port: string;
  host?: string;
  profile?: string;
  password?: string;
  pki?: string;
  ocspUrl?: string;
  json?: boolean;
}

class UsageError extends Error {}

function parseFlags(f: CsmsFlags): { port: number; host: string; profile: 0 | 1 | 2 | 3; password: string | undefined; pkiDir: string | undefined; json: boolean } {
  const port = Number(f.port);
  if (!/^\d+$/.test(f.port) || port > 65535) throw new UsageError(`--port: "${f.port}" is not a port number (0–65535)`);
  const profile = Number(f.profile ?? '0');
  if (![0, 1, 2, 3].includes(profile) || !/^\d$/.test(f.profile ?? '0')) throw new UsageError(`--profile: "${f.profile}" is not a security profile (0, 1, 2 or 3)`);
  if ((profile === 1 || profile === 2) && !f.password) throw new UsageError(`--profile ${profile} uses HTTP Basic auth: give the AuthorizationKey with --password <key>`);
  if (f.password !== undefined && f.password.length === 0) throw new UsageError('--password must not be empty');
  const keyProblem = f.password === undefined ? undefined : authorizationKeyProblem(DEFAULT_CHARGER_CONFIG.passwordRule, { password: f.password });
  if (keyProblem) throw new UsageError(`--password: ${keyProblem}`);
  if (profile >= 2 && !f.pki) throw new UsageError(`--profile ${profile} needs TLS certificates the charger trusts: give --pki <dir> (created there when missing)`);
  return { port, host: f.host ?? '0.0.0.0', profile: profile as 0 | 1 | 2 | 3, password: f.password, pkiDir: f.pki, json: f.json === true };
}

/** --ocsp-url, else http://127.0.0.1:<port+1>/ocsp (none for an ephemeral port). */
function ocspUrlFor(flags: CsmsFlags, port: number): string | undefined {
  if (flags.ocspUrl !== undefined) return flags.ocspUrl;
  return port === 0 ? undefined : `http://127.0.0.1:${port + 1}/ocsp`;
}

function preparePki(dir: string | undefined, ocspUrl: string | undefined, io: CsmsCliIo): BenchPki {
  const opts = { seed: randomBytes(8).toString('hex'), ...(ocspUrl !== undefined ? { ocspUrl } : {}) };
  if (dir === undefined) {
    io.out('csms: no --pki given: using a throw-away PKI in memory (PnC certificates will not survive a restart)');
    return generatePki(opts);
  }
  if (existsSync(path.join(dir, MANIFEST_FILE))) {
    const pki = loadPkiDir(dir);
    io.out(`csms: PKI loaded from ${dir} (seed ${pki.seed})`);
    return pki;
  }
  const pki = generatePki(opts);
  writePkiDir(pki, dir);
  io.out(`csms: created a PKI in ${dir} (seed ${opts.seed}, OCSP ${ocspUrl ?? 'none'}; the same again: pnc-bench pki init ${dir} --seed ${opts.seed}${ocspUrl ? ` --ocsp-url ${ocspUrl}` : ''})`);
  return pki;
}

/** Runs the standalone CSMS until `signal` aborts. Returns the exit code. */
export async function runCsms(flags: CsmsFlags, io: CsmsCliIo, signal: AbortSignal): Promise<number> {
  let o: ReturnType<typeof parseFlags>;
  let pki: BenchPki;
  let csms: MockCsms;
  try {
    o = parseFlags(flags);
    pki = preparePki(o.pkiDir, ocspUrlFor(flags, o.port), io);
    csms = new MockCsms({
      host: o.host,
      port: o.port,
      pki,
      tls: o.profile >= 2,
      defaults: { securityProfile: o.profile, ...(o.password !== undefined ? { password: o.password } : {}) },
    });
  } catch (e) {
    if (e instanceof UsageError || e instanceof PkiInputError || e instanceof CsmsUsageError) {
      io.err(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }
  // frames and events, in the order they happen
  csms.on('entry', (e) => {
    if (o.json) io.out(transcriptLine(e).trimEnd());
    else io.out(consoleLine(e));
  });
  csms.warmUp();
  try {
    await csms.listen(signal);
  } catch (e) {
    if (e instanceof LinkError) {
      io.err(`error: ${e.message}`);
      return 3;
    }
    throw e;
  }
  let ocsp: OcspHttpServer | undefined;
  if (pki.ocspUrl) {
    try {
      ocsp = await startOcspHttpServer(csms.ocsp, { url: pki.ocspUrl });
      io.out(`csms: OCSP responder at ${pki.ocspUrl}`);
    } catch (e) {
      io.err(`warning: no OCSP responder at ${pki.ocspUrl}: ${errorText(e)}`);
    }
  }
  io.out(`csms: listening on ${csms.url}/<chargePointId> (security profile ${o.profile}${o.profile >= 2 ? ', ECDSA and RSA server certificates' : ''})`);
  if (o.profile >= 2 && o.pkiDir) io.out(`csms: chargers must trust ${path.join(o.pkiDir, 'csms-ca.cert.pem')} (CentralSystemRootCertificate)`);
  io.out('csms: Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  io.out('csms: stopping');
  await Promise.all([csms.close(2_000), ocsp?.close()]);
  const v = csms.violations().length;
  io.out(`csms: stopped; ${csms.chargePoints().length} charger(s) seen, ${v} violation(s) recorded`);
  return 0;
}

/** Adds `csms` to a commander program. */
export function csmsCommands(program: Command, io: CsmsCliIo, setCode: (code: number) => void): void {
  program
    .command('csms')
    .description('run the mock CSMS (OCPP-J 1.6 + PnC DataTransfer) until Ctrl-C, printing every frame')
    .requiredOption('--port <p>', 'port to listen on (chargers connect to ws(s)://<host>:<port>/<chargePointId>)')
    .option('--host <h>', 'address to listen on', '0.0.0.0')
    .option('--profile <n>', 'OCPP security profile: 0 none, 1 Basic auth, 2 TLS + Basic auth, 3 mutual TLS', '0')
    .option('--password <key>', 'AuthorizationKey for profiles 1 and 2, 16–20 bytes (the charger may send the key itself or its hex text)')
    .option('--pki <dir>', 'bench PKI directory: loaded, or created when it has none')
    .option('--ocsp-url <url>', 'OCSP URL baked into a newly created PKI and served over HTTP (default http://127.0.0.1:<port+1>/ocsp)')
    .option('--json', 'print transcript JSON lines instead of readable lines')
    .action(async (flags: CsmsFlags) => {
      const ac = new AbortController();
      const onSignal = (sig: NodeJS.Signals): void => ac.abort(new Error(`received ${sig}`));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        setCode(await runCsms(flags, io, ac.signal));
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
