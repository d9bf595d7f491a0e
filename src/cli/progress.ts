// Progress output of `pnc-bench run`, fed by journal events. On a TTY: one permanent line per
// finished phase and suite, plus a live status line (suite › phase, last measurement, elapsed)
// redrawn in place. Elsewhere (CI logs, pipes): plain lines only, one per event worth reading.
import { nowMs } from '../../drivers/common/time.ts';
import type { JournalEvent } from '../report/journal.ts';
import type { Outcome } from '../report/record.ts';

const COLORS: Record<Outcome, string> = {
  PASS: '\x1b[32m',
  FAIL: '\x1b[31m',
  ERROR: '\x1b[35m',
  TIMEOUT: '\x1b[33m',
  ABORTED: '\x1b[33m',
  INFRA: '\x1b[36m',
  SKIPPED: '\x1b[90m',
};

const secs = (ms: number): string => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`);

export class Progress {
  private readonly tty: boolean;
  private readonly write: (s: string) => void;
  private suites: string[] = [];
  private phases = new Map<number, { name: string; suite: number; t: number; attempt: number }>();
  private suiteName = '';
  private phaseName = '';
  private lastMeasurement = '';
  private tRun = 0;
  private timer: NodeJS.Timeout | undefined;
  private statusShown = false;

  constructor(stream: NodeJS.WriteStream | { isTTY?: boolean; write(s: string): unknown }) {
    this.tty = !!stream.isTTY && process.env.TERM !== 'dumb';
    this.write = (s) => void stream.write(s);
  }

  private color(o: Outcome, text: string): string {
    return this.tty ? `${COLORS[o]}${text}\x1b[0m` : text;
  }

  private line(s: string): void {
    if (this.tty && this.statusShown) this.write('\r\x1b[K');
    this.write(s + '\n');
    this.statusShown = false;
    if (this.tty) this.status();
  }

  private status(): void {
    if (!this.tty || !this.suiteName) return;
    const elapsed = secs(nowMs() - this.tRun);
    const where = this.phaseName ? `${this.suiteName} › ${this.phaseName}` : this.suiteName;
    const s = `  … ${where}${this.lastMeasurement ? `  (${this.lastMeasurement})` : ''}  ${elapsed}`;
    this.write(`\r\x1b[K${s.slice(0, (process.stdout.columns || 100) - 1)}`);
    this.statusShown = true;
  }

  onEvent(ev: JournalEvent): void {
    switch (ev.type) {
      case 'run.start':
        this.tRun = ev.t;
        this.suites = ev.plan.map((p) => p.name);
        this.line(`run ${ev.runId} on rig ${ev.rig.id} (${ev.dut.model}): ${this.suites.length} suite(s)`);
        if (this.tty) this.timer = setInterval(() => this.status(), 250).unref();
        break;
      case 'suite.start':
        this.suiteName = ev.name;
        this.line(`suite ${ev.name} ${ev.version} (${ev.suite + 1}/${this.suites.length})`);
        break;
      case 'phase.start':
        this.phases.set(ev.phase, { name: ev.name, suite: ev.suite, t: ev.t, attempt: ev.attempt });
        this.phaseName = ev.name;
        this.lastMeasurement = '';
        if (!this.tty && ev.attempt > 1) this.line(`  retry ${ev.name} (attempt ${ev.attempt})`);
        this.status();
        break;
      case 'measurement': {
        const m = ev.m;
        this.lastMeasurement = `${m.name} = ${JSON.stringify(m.value)}${m.unit ? ' ' + m.unit : ''}`;
        if (m.outcome === 'FAIL') this.line(`    ${this.color('FAIL', 'x')} ${this.lastMeasurement}: ${m.detail ?? ''}`);
        else this.status();
        break;
      }
      case 'phase.end': {
        const p = this.phases.get(ev.phase);
        if (!p) break;
        const dur = ev.t - p.t;
        const tag = this.color(ev.outcome, ev.outcome.padEnd(7));
        const att = p.attempt > 1 ? ` [attempt ${p.attempt}]` : '';
        const why = ev.outcome !== 'PASS' && ev.reason ? ` — ${ev.reason}` : '';
        this.phaseName = '';
        this.lastMeasurement = '';
        this.line(`  ${tag} ${p.name}${att}  ${secs(dur)}${ev.marginal ? ' (marginal)' : ''}${why}`);
        break;
      }
      case 'emergency-stop':
        this.line(`  ! emergency stop (${ev.reason}): ${Object.entries(ev.results).map(([k, v]) => `${k} ${v}`).join(', ')}`);
        break;
      case 'suite.end': {
        const tag = this.color(ev.outcome, ev.outcome);
        const details = ev.details.map((d) => `\n    ${d.code}: ${d.message}`).join('');
        this.suiteName = '';
        this.line(`  suite ${this.suites[ev.suite] ?? ''}: ${tag}${ev.marginal ? ' (marginal)' : ''}${ev.retried ? ' (retried)' : ''}${details}`);
        break;
      }
      case 'run.end':
        if (this.timer) clearInterval(this.timer);
        if (this.tty && this.statusShown) this.write('\r\x1b[K');
        this.statusShown = false;
        break;
      default:
        break;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
