// Test peer plumbing: a socat pty pair with stable paths (symlinks), so a driver can open one end
// while a simulated device sits on the other — a real tty, not a mocked port. `stop()` makes the
// device "disappear" (socat exits, the pty and its symlink vanish); `start()` brings it back under
// the same path. Every socat this module starts is killed when the test process exits.
//
//   const pty = await ptyPair();   // pty.a for the driver, pty.b for the peer
//   await pty.stop(); await pty.start();   await pty.close();
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export interface PtyPair {
  /** Path for the driver under test. */
  readonly a: string;
  /** Path for the simulated device. */
  readonly b: string;
  readonly running: boolean;
  start(): Promise<void>;
  /** socat exits: both ptys disappear. */
  stop(): Promise<void>;
  /** stop() and remove the directory. */
  close(): Promise<void>;
}

export async function ptyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pnc-pty-'));
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  let proc: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    if (proc) return;
    const p = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    live.add(p);
    proc = p;
    p.once('exit', () => live.delete(p));
    const t0 = Date.now();
    while (!(existsSync(a) && existsSync(b) && stderr.includes('starting data transfer loop'))) {
      if (p.exitCode !== null) throw new Error(`socat exited: ${stderr}`);
      if (Date.now() - t0 > 5000) throw new Error(`socat did not create the pty pair: ${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  const stop = async (): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    await gone;
  };

  await start();
  return {
    a,
    b,
    get running() {
      return proc !== undefined;
    },
    start,
    stop,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
