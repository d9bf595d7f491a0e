// Test helper: the Debian `openssl` binary as the independent oracle for the PKI tests. Runs it
// synchronously in a per-test temp directory and returns exit code, stdout and stderr (never throws
// on a non-zero exit, so tests can assert rejections).
//
//   const o = new OpenSsl();  o.write('root.pem', pem);  o.run(['verify', '-CAfile', 'root.pem', 'leaf.pem']).code === 0
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const OPENSSL = '/usr/bin/openssl';

export interface OpenSslResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout + stderr */
  all: string;
}

export class OpenSsl {
  readonly dir: string;

  constructor() {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'pnc-pki-test-'));
  }

  path(name: string): string {
    return path.join(this.dir, name);
  }

  write(name: string, data: string | Uint8Array): string {
    const p = this.path(name);
    writeFileSync(p, data);
    return p;
  }

  read(name: string): Buffer {
    return readFileSync(this.path(name));
  }

  run(args: string[], input?: string | Uint8Array): OpenSslResult {
    const r = spawnSync(OPENSSL, args, { cwd: this.dir, input, encoding: 'buffer', timeout: 20_000 });
    const stdout = r.stdout?.toString() ?? '';
    const stderr = r.stderr?.toString() ?? '';
    return { code: r.status ?? -1, stdout, stderr, all: `${stdout}${stderr}` };
  }

  /** Like run, without blocking the event loop (needed when openssl talks to a server in this process). */
  runAsync(args: string[]): Promise<OpenSslResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(OPENSSL, args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, all: `${stdout}${stderr}` }));
    });
  }

  /** Like run, but throws with openssl's output if it exits non-zero. */
  ok(args: string[], input?: string | Uint8Array): string {
    const r = this.run(args, input);
    if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} exited ${r.code}: ${r.all}`);
    return r.stdout;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
