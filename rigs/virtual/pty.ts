// A socat pty pair with stable paths (symlinks in a private temp directory): the bench opens one
// end (`a`) as if it were a USB-serial adapter, a simulated device sits on the other (`b`) — a real
// tty, not a mocked port. `stop()` makes the device "disappear" (socat exits, both ptys and their
// links vanish); `start()` brings it back under the same paths; `close()` also removes the
// directory. socat survives the bench closing and reopening its end. Every socat started here is
// killed when the process exits.
//
//   const pty = await ptyPair();   // pty.a for the bench driver, pty.b for the simulated device
//   await pty.stop(); await pty.start();   await pty.close();
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** How long stop() waits for socat to exit after SIGTERM before it sends SIGKILL. */
const KILL_AFTER_MS = 1000;

export interface PtyPair {
  /** Path for the bench (the driver under test). */
  readonly a: string;
  /** Path for the simulated device. */
  readonly b: string;
  readonly running: boolean;
  start(): Promise<void>;
  /** socat exits: both ptys disappear. Settles within ~1 s. */
  stop(): Promise<void>;
  /** stop() and remove the directory. */
  close(): Promise<void>;
}

export async function ptyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pnc-pty-'));
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  let proc: ChildProcess | undefined;

  const stop = async (): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), KILL_AFTER_MS);
    await gone;
    clearTimeout(timer);
  };

  const start = async (): Promise<void> => {
    if (proc) return;
    const p = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let spawnError: Error | undefined;
    p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('error', (e) => (spawnError = e));
    live.add(p);
    proc = p;
    p.once('exit', () => live.delete(p));
    const t0 = Date.now();
    while (!(existsSync(a) && existsSync(b) && stderr.includes('starting data transfer loop'))) {
      if (spawnError) {
        proc = undefined;
        throw new Error(`cannot start socat for a pty pair (is the Debian package socat installed?): ${spawnError.message}`);
      }
      if (p.exitCode !== null) {
        proc = undefined;
        throw new Error(`socat exited: ${stderr}`);
      }
      if (Date.now() - t0 > 5000) {
        await stop();
        throw new Error(`socat did not create the pty pair within 5 s: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
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
