// Reconnect with exponential backoff: a ReconnectLoop retries `connect()` after min, 2×min, 4×min …
// up to max milliseconds until it succeeds or is stopped, and counts the successful reconnects.
// Drivers start it when their link drops unexpectedly and stop it in close():
//
//   const loop = new ReconnectLoop({ minMs: 100, maxMs: 5000 }, () => this.connectOnce(), log);
//   link.on('close', () => loop.start('pty closed'));   ...   loop.stop();
import { errorText } from './abort.ts';

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions) {}
  /** Delay before the next attempt; grows ×2 per call up to maxMs. */
  next(): number {
    const d = Math.min(this.opts.maxMs, this.opts.minMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return d;
  }
  reset(): void {
    this.attempt = 0;
  }
  get attempts(): number {
    return this.attempt;
  }
}

export class ReconnectLoop {
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  /** Successful reconnects since construction. */
  reconnects = 0;
  /** Failed attempts of the current outage. */
  failures = 0;
  lastError = '';
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(
    opts: BackoffOptions,
    private readonly connect: () => Promise<void>,
    private readonly log: (msg: string) => void = () => {},
  ) {
    this.backoff = new Backoff(opts);
  }

  get active(): boolean {
    return this.running;
  }

  /** Starts retrying (no-op while already running or after stop()). */
  start(reason: string): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.failures = 0;
    this.backoff.reset();
    this.log(`link down (${reason}); reconnecting`);
    this.schedule();
  }

  private schedule(): void {
    const delay = this.backoff.next();
    this.timer = setTimeout(() => void this.attempt(), delay);
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.connect();
    } catch (e) {
      this.failures += 1;
      this.lastError = errorText(e);
      if (!this.stopped) this.schedule();
      return;
    }
    if (this.stopped) return;
    this.running = false;
    this.reconnects += 1;
    this.log(`link up again after ${this.failures + 1} attempt(s)`);
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Resolves when the current outage ends (immediately when none). */
  whenUp(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  stop(): void {
    this.stopped = true;
    this.running = false;
    clearTimeout(this.timer);
    for (const w of this.waiters.splice(0)) w.reject(new Error('driver closed'));
  }
}
