// Headless Chromium for the two browser tests (test/report/html.test.ts, test/server/web.test.ts),
// driven by playwright-core: `$PNC_BENCH_CHROMIUM` when set, else Debian's /usr/bin/chromium (or
// /usr/bin/chromium-browser, or `chromium` on PATH). A missing browser is a failure naming the
// paths looked at and the fix, never a skip.
//
//   const browser = await launchChromium();
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const executable = (p: string): boolean => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The Chromium executable; throws with the paths it looked at and how to install one. */
function findChromium(): string {
  const fix = 'run ./scripts/test (it installs chromium) or `apt-get install chromium`, or set PNC_BENCH_CHROMIUM to its path; the browser tests need a real browser';
  const env = process.env.PNC_BENCH_CHROMIUM;
  if (env) {
    if (executable(env)) return env;
    throw new Error(`PNC_BENCH_CHROMIUM=${env} is not an executable file: ${fix}`);
  }
  const paths = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
  for (const p of paths) if (executable(p)) return p;
  try {
    const p = execFileSync('which', ['chromium'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (p) return p;
  } catch {
    // not on PATH
  }
  throw new Error(`Chromium is not installed (looked for ${paths.join(', ')} and \`chromium\` on PATH): ${fix}`);
}

/** Launches headless Chromium (no sandbox: tests run as root in containers). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 60_000 });
}
