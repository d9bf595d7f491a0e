// SeccConsole: the Secc capability over the SECC board's serial console (a USB-UART on the
// charger's debug header, or anything on a tty). Bytes become lines (CR, LF or CRLF; ANSI colour
// codes stripped), every line is timestamped on arrival and kept in a bounded history; `send`
// writes a line with the configured ending; `expect` works like pexpect on the lines not yet
// matched (a prompt without a line ending can match too); named event patterns from the rig file
// are counted as lines arrive and can be awaited with `waitForEvent`. The transcript is the hex
// log of drivers/common/hexlog.ts. The port is reopened with backoff when it disappears.
//
//   secc: { driver: SeccConsole, bind: { console: secc_uart }, options: { events: { slacMatched: 'SLAC.*MATCHED' } } }
//
// A pattern that does not show up in time is the charger's fault (ProtocolViolation, with the
// unmatched lines in the message); a console that is gone is the rig's (LinkError).
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { defineDriver, type DriverContext } from '../../src/rig/registry.ts';
import {
  LinkError,
  ProtocolViolation,
  type ConsoleLine,
  type ConsoleMatch,
  type HealthResult,
  type JsonObject,
  type Secc,
} from '../capabilities.ts';
import { errorText, waitFor } from '../common/abort.ts';
import { ReconnectOptions } from '../common/options.ts';
import { SerialLink } from '../common/serial-link.ts';
import { nowMs } from '../common/time.ts';

const regexText = z.string().superRefine((s, ctx) => {
  try {
    new RegExp(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(e as Error).message}` });
  }
});

export const SeccConsoleOptions = z
  .object({
    lineEnding: z.enum(['lf', 'cr', 'crlf']).default('lf').describe('What send() appends to a line'),
    encoding: z.enum(['utf8', 'latin1']).default('utf8').describe('Character encoding of the console'),
    stripAnsi: z.boolean().default(true).describe('Remove ANSI escape sequences (colours) from received lines'),
    events: z
      .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, 'event names are identifiers'), regexText)
      .default({})
      .describe('Named event patterns (regular expressions) for waitForEvent, e.g. slacMatched: "SLAC.*MATCHED"'),
    historyLines: z.number().int().min(10).max(1_000_000).default(10_000).describe('Received lines kept for lines() and waitForEvent'),
    promptQuietMs: z.number().int().min(0).default(50).describe('A text without line end (a prompt) can match expect() once the console was quiet this long'),
    reconnect: ReconnectOptions.prefault({}).describe('Backoff when the serial port disappears'),
  })
  .strict();
export type SeccConsoleOptions = z.output<typeof SeccConsoleOptions>;

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]/g;
const ENDINGS = { lf: '\n', cr: '\r', crlf: '\r\n' } as const;

interface Waiter {
  check: () => boolean;
}

export class SeccConsoleDriver implements Secc {
  private readonly link: SerialLink;
  private readonly decoder: StringDecoder;
  private readonly events: [string, RegExp][];
  private history: ConsoleLine[] = [];
  /** lines not consumed by expect() yet */
  private unmatched: ConsoleLine[] = [];
  private partial = '';
  private partialAt = 0;
  /** the current partial line was already matched by expect() */
  private partialConsumed = 0;
  private pendingCr = false;
  private lastByteAt = 0;
  private quietTimer: NodeJS.Timeout | undefined;
  private waiters = new Set<Waiter>();
  private counts: Record<string, number> = {};
  private linesRx = 0;
  private linesTx = 0;
  private downIntervals: [number, number][] = [];
  private downSince = 0;
  private opened = false;

  constructor(private readonly ctx: DriverContext<SeccConsoleOptions>) {
    const r = ctx.resources.console;
    if (!r || r.type !== 'SerialPort') throw new TypeError(`driver ${ctx.name} (SeccConsole): binding "console" must be a SerialPort resource`);
    this.link = new SerialLink({
      name: ctx.name,
      path: r.path,
      baudRate: r.baud,
      dataBits: r.dataBits,
      parity: r.parity,
      stopBits: r.stopBits,
      reconnect: ctx.options.reconnect,
      transcript: ctx.transcript,
      log: (m) => ctx.log('info', m),
    });
    this.decoder = new StringDecoder(ctx.options.encoding);
    this.events = Object.entries(ctx.options.events).map(([k, v]) => [k, new RegExp(v)]);
    this.link.onData((chunk, tUs) => this.onText(this.decoder.write(chunk), tUs / 1000));
    this.link.onDown(() => {
      this.downSince = nowMs();
    });
    this.link.onUp(() => {
      if (this.downSince) this.downIntervals.push([this.downSince, nowMs()]);
      this.downSince = 0;
    });
  }

  async open(signal: AbortSignal): Promise<void> {
    await this.link.open(signal);
    this.opened = true;
  }

  private onText(text: string, t: number): void {
    for (const ch of text) {
      if (ch === '\n') {
        if (this.pendingCr) {
          this.pendingCr = false;
          continue; // CRLF: the CR already ended the line
        }
        this.endLine(t);
      } else if (ch === '\r') {
        this.pendingCr = true;
        this.endLine(t);
      } else {
        this.pendingCr = false;
        if (this.partial === '') this.partialAt = t;
        this.partial += ch;
      }
    }
    this.lastByteAt = nowMs();
    this.notify();
    clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
    if (this.partial && this.waiters.size) this.scheduleQuietCheck();
  }

  /** A prompt becomes matchable once the console has been quiet for promptQuietMs: look again then. */
  private scheduleQuietCheck(): void {
    if (this.quietTimer) return;
    const wait = Math.max(0, this.lastByteAt + this.ctx.options.promptQuietMs - nowMs()) + 1;
    this.quietTimer = setTimeout(() => {
      this.quietTimer = undefined;
      this.notify();
    }, wait);
  }

  private endLine(t: number): void {
    const raw = this.partial;
    const consumed = this.partialConsumed;
    this.partial = '';
    this.partialConsumed = 0;
    const clean = (x: string): string => (this.ctx.options.stripAnsi ? x.replace(ANSI, '') : x);
    const line = clean(raw);
    const entry: ConsoleLine = { line, t };
    this.linesRx += 1;
    this.history.push(entry);
    if (this.history.length > this.ctx.options.historyLines) this.history.splice(0, this.history.length - this.ctx.options.historyLines);
    // what expect() already matched of this line (a prompt) is not offered again, the rest is
    const rest = consumed ? clean(raw.slice(consumed)) : line;
    if (!consumed || rest) {
      this.unmatched.push(consumed ? { line: rest, t } : entry);
      if (this.unmatched.length > this.ctx.options.historyLines) this.unmatched.splice(0, this.unmatched.length - this.ctx.options.historyLines);
    }
    for (const [name, re] of this.events) if (re.test(line)) this.counts[name] = (this.counts[name] ?? 0) + 1;
  }

  private notify(): void {
    for (const w of [...this.waiters]) w.check();
  }

  async send(line: string, signal: AbortSignal): Promise<void> {
    if (/[\r\n]/.test(line)) throw new RangeError(`send: one line at a time; ${JSON.stringify(line)} contains a line break`);
    if (!this.opened) throw new LinkError(this.ctx.name, 'send: the console driver is not open');
    await this.link.write(Buffer.from(line + ENDINGS[this.ctx.options.lineEnding], this.ctx.options.encoding), signal);
    this.linesTx += 1;
  }

  private match(re: RegExp | string, line: string): string[] | undefined {
    if (typeof re === 'string') return line.includes(re) ? [] : undefined;
    const m = re.exec(line);
    return m ? m.slice(1).map((g) => g ?? '') : undefined;
  }

  /** Waits until `probe` returns a value; rejects on abort or with `onTimeout()` after timeoutMs. */
  private waitUntil<T>(probe: () => T | undefined, timeoutMs: number, signal: AbortSignal, onTimeout: () => Error): Promise<T> {
    const first = probe();
    if (first !== undefined) return Promise.resolve(first);
    return waitFor<T>(
      (deliver) => {
        const w: Waiter = {
          check: () => {
            const v = probe();
            if (v === undefined) return false;
            deliver(v);
            return true;
          },
        };
        this.waiters.add(w);
        return () => this.waiters.delete(w);
      },
      timeoutMs,
      signal,
      onTimeout,
    );
  }

  private downMsSince(t0: number): number {
    let ms = 0;
    for (const [a, b] of this.downIntervals) ms += Math.max(0, b - Math.max(a, t0));
    if (this.downSince) ms += nowMs() - Math.max(this.downSince, t0);
    return ms;
  }

  private quote(lines: readonly ConsoleLine[], partial = ''): string {
    const shown = lines.slice(-20).map((l) => JSON.stringify(l.line.length > 200 ? `${l.line.slice(0, 200)}…` : l.line));
    if (partial) shown.push(`${JSON.stringify(partial)} (no line end yet)`);
    const more = lines.length > 20 ? `… ${lines.length - 20} earlier line(s), then ` : '';
    return shown.length ? `${more}${shown.join(', ')}` : '(nothing received)';
  }

  async expect(pattern: RegExp | string, opts: { timeoutMs: number; signal: AbortSignal }): Promise<ConsoleMatch> {
    if (!this.opened) throw new LinkError(this.ctx.name, 'expect: the console driver is not open');
    const started = nowMs();
    const shown = typeof pattern === 'string' ? JSON.stringify(pattern) : String(pattern);
    return this.waitUntil<ConsoleMatch>(
      () => {
        for (let i = 0; i < this.unmatched.length; i++) {
          const l = this.unmatched[i] as ConsoleLine;
          const groups = this.match(pattern, l.line);
          if (groups) {
            this.unmatched.splice(0, i + 1);
            return { line: l.line, groups, t: l.t };
          }
        }
        const rest = this.partial.slice(this.partialConsumed);
        const quiet = nowMs() - this.lastByteAt >= this.ctx.options.promptQuietMs;
        if (rest && !quiet) this.scheduleQuietCheck();
        if (rest && quiet) {
          const clean = this.ctx.options.stripAnsi ? rest.replace(ANSI, '') : rest;
          const groups = this.match(pattern, clean);
          if (groups) {
            this.unmatched = [];
            this.partialConsumed = this.partial.length;
            return { line: clean, groups, t: this.partialAt };
          }
        }
        return undefined;
      },
      opts.timeoutMs,
      opts.signal,
      () => {
        const down = this.downMsSince(started);
        if (down > 0) return new LinkError(this.ctx.name, `expect ${shown}: the console was disconnected for ${Math.round(down)} ms of the ${opts.timeoutMs} ms wait`);
        return new ProtocolViolation(
          'secc.console.expect',
          `SECC console: no line matching ${shown} within ${opts.timeoutMs} ms; unmatched buffer (${this.unmatched.length} line(s)): ${this.quote(this.unmatched, this.partial.slice(this.partialConsumed))}`,
        );
      },
    );
  }

  async waitForEvent(name: string, opts: { timeoutMs: number; signal: AbortSignal; since?: number }): Promise<ConsoleMatch & { event: string }> {
    const ev = this.events.find(([n]) => n === name);
    if (!ev) throw new RangeError(`waitForEvent: no event "${name}" in the rig file's options.events of ${this.ctx.name} (${this.events.map(([n]) => n).join(', ') || 'none defined'})`);
    const re = ev[1];
    const started = nowMs();
    const since = opts.since ?? started;
    return this.waitUntil(
      () => {
        for (const l of this.history) {
          if (l.t < since) continue;
          const m = re.exec(l.line);
          if (m) return { event: name, line: l.line, groups: m.slice(1).map((g) => g ?? ''), t: l.t };
        }
        return undefined;
      },
      opts.timeoutMs,
      opts.signal,
      () => {
        const down = this.downMsSince(started);
        if (down > 0) return new LinkError(this.ctx.name, `waiting for event ${name}: the console was disconnected for ${Math.round(down)} ms of the ${opts.timeoutMs} ms wait`);
        const seen = this.history.filter((l) => l.t >= since);
        return new ProtocolViolation(`secc.event.${name}`, `SECC console: event ${name} (${String(re)}) did not occur within ${opts.timeoutMs} ms; lines seen (${seen.length}): ${this.quote(seen)}`);
      },
    );
  }

  lines(since?: number): readonly ConsoleLine[] {
    return since === undefined ? [...this.history] : this.history.filter((l) => l.t >= since);
  }

  async health(_signal: AbortSignal): Promise<HealthResult> {
    const reconnects = this.link.reconnects;
    if (!this.opened) return { ok: false, detail: `SECC console ${this.link.path}: not open`, reconnects };
    const last = this.history.at(-1);
    const tail = last ? `; last line ${Math.round(nowMs() - last.t)} ms ago` : '; no line received yet';
    return { ok: this.link.isUp, detail: `SECC console ${this.link.describe()}${tail}`, reconnects };
  }

  snapshot(): JsonObject {
    const last = this.history.at(-1);
    return {
      path: this.link.path,
      up: this.link.isUp,
      reconnects: this.link.reconnects,
      linesRx: this.linesRx,
      linesTx: this.linesTx,
      bytesRx: this.link.bytesRx,
      bytesTx: this.link.bytesTx,
      events: { ...this.counts },
      lastLine: last ? { ...last } : null,
      lastError: this.link.lastError || null,
    };
  }

  async close(deadlineMs: number): Promise<void> {
    this.opened = false;
    clearTimeout(this.quietTimer);
    for (const w of [...this.waiters]) this.waiters.delete(w);
    try {
      await this.link.close(deadlineMs);
    } catch (e) {
      this.ctx.log('warn', `close: ${errorText(e)}`);
    }
  }
}

export const SeccConsole = defineDriver({
  name: 'SeccConsole',
  description: 'SECC board serial console: send lines, expect patterns, named events from the rig file.',
  provides: ['Secc'],
  bindings: { console: 'SerialPort' },
  options: SeccConsoleOptions,
  transcript: { ext: 'hexlog', mime: 'text/plain' },
  create: (ctx) => new SeccConsoleDriver(ctx),
});
