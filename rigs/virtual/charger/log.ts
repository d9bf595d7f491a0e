// Firmware-like console lines of the simulated charger: `[  uptime] <tag>: <text>`, uptime in seconds
// since power-up with millisecond resolution (like a Linux kernel log). The serial console device
// (rigs/virtual/console.ts) prints them on its pty; the rig file matches a few with regexes (formats
// listed in rigs/virtual/README.md, "Console lines").
//
//   const log = new ConsoleLog((l) => console.log(l));
//   log.line('ocpp', 'BootNotification Accepted interval=300');  // "[   0.012] ocpp: BootNotification Accepted interval=300"

export type LogTag = 'ocpp' | 'pnc' | 'cert' | 'tx' | 'secc' | 'sys';

export class ConsoleLog {
  private readonly t0 = performance.now();

  constructor(private readonly out: (line: string) => void) {}

  line(tag: LogTag, text: string): void {
    const s = ((performance.now() - this.t0) / 1000).toFixed(3).padStart(8);
    try {
      this.out(`[${s}] ${tag}: ${text.replace(/[\r\n]+/g, ' ')}`);
    } catch {
      // a broken console must not take the charger down
    }
  }
}

/** `"a b"` quoting for values with spaces in key=value console lines. */
export function q(v: string | number | undefined): string {
  if (v === undefined) return '-';
  const s = String(v);
  return /[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s;
}
