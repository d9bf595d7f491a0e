// The request/response exchanges the mock CSMS records for timing points (hil_timing), kept column by
// column (numbers in unboxed arrays, shared strings) rather than one object per exchange: a busy CSMS
// records tens of thousands per second between two drains, and objects that live that long cost the
// garbage collector far more than the columns do. Objects are built when a suite drains the log.
//
//   log.push('CP1', 'cp->csms', 'Heartbeat', '17', tMs, 0.42, 'result', undefined);
//   for (const x of log.drain()) ...     // Exchange objects, oldest first; the log is empty afterwards
import type { Exchange } from './connection.ts';

const DIRECTIONS = ['cp->csms', 'csms->cp'] as const;
const OUTCOMES = ['result', 'error', 'timeout'] as const;

export class ExchangeLog {
  private cp: string[] = [];
  private dir: number[] = [];
  private msg: string[] = [];
  private id: string[] = [];
  private t: number[] = [];
  private lat: number[] = [];
  private out: number[] = [];
  private err: (string | undefined)[] = [];
  /** exchanges dropped because the log was full */
  dropped = 0;

  constructor(private readonly max: number) {}

  get length(): number {
    return this.t.length;
  }

  push(chargePointId: string, direction: Exchange['direction'], message: string, uniqueId: string, t: number, latencyMs: number, outcome: Exchange['outcome'], errorCode: string | undefined): void {
    this.cp.push(chargePointId);
    this.dir.push(direction === 'cp->csms' ? 0 : 1);
    this.msg.push(message);
    this.id.push(uniqueId);
    this.t.push(t);
    this.lat.push(latencyMs);
    this.out.push(outcome === 'result' ? 0 : outcome === 'error' ? 1 : 2);
    this.err.push(errorCode);
    // the oldest go, in chunks, so a full log does not cost a shift per exchange
    if (this.t.length > this.max + Math.max(1, this.max >> 4)) this.trim(this.t.length - this.max);
  }

  private trim(n: number): void {
    this.dropped += n;
    for (const col of [this.cp, this.dir, this.msg, this.id, this.t, this.lat, this.out, this.err] as unknown[][]) col.splice(0, n);
  }

  /** The recorded exchanges as objects, oldest first (the log keeps them). */
  list(): Exchange[] {
    const out: Exchange[] = [];
    for (let i = 0; i < this.t.length; i++) {
      const x: Exchange = {
        chargePointId: this.cp[i] as string,
        direction: DIRECTIONS[this.dir[i] as number] as Exchange['direction'],
        message: this.msg[i] as string,
        uniqueId: this.id[i] as string,
        t: this.t[i] as number,
        latencyMs: this.lat[i] as number,
        outcome: OUTCOMES[this.out[i] as number] as Exchange['outcome'],
      };
      const e = this.err[i];
      if (e !== undefined) x.errorCode = e;
      out.push(x);
    }
    return out;
  }

  /** Returns the recorded exchanges and empties the log. */
  drain(): Exchange[] {
    const out = this.list();
    this.cp = [];
    this.dir = [];
    this.msg = [];
    this.id = [];
    this.t = [];
    this.lat = [];
    this.out = [];
    this.err = [];
    return out;
  }
}
