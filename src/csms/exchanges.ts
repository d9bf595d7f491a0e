// The request/response exchanges the mock CSMS records for timing points (hil_timing), kept column by
// column in fixed-size chunks (times and latencies in Float64Arrays outside the JS heap, direction and
// outcome in a byte, shared strings) rather than one object per exchange. A busy CSMS records tens of
// thousands per second between two drains: objects, or plain arrays that keep growing (each growth a
// copy the garbage collector then copies again), cost far more than the columns do. Chunks are reused
// after a drain; objects are built only when a suite drains the log.
//
//   log.push('CP1', 'cp->csms', 'Heartbeat', '17', tMs, 0.42, 'result', undefined);
//   for (const x of log.drain()) ...     // Exchange objects, oldest first; the log is empty afterwards
//
// At most `max` exchanges wait; beyond that the oldest go (counted in `dropped`).
import type { Exchange } from './connection.ts';

const DIRECTIONS = ['cp->csms', 'csms->cp'] as const;
const OUTCOMES = ['result', 'error', 'timeout'] as const;
/** exchanges per chunk */
export const EXCHANGE_CHUNK = 4096;

interface Chunk {
  /** entries [start, n) are live; those before `start` were dropped (log full) */
  start: number;
  n: number;
  t: Float64Array;
  lat: Float64Array;
  /** bit 0: direction (1 = csms->cp); bits 1-2: outcome index */
  code: Uint8Array;
  cp: string[];
  msg: string[];
  id: string[];
  /** CALLERROR codes by index (few exchanges have one) */
  err: Map<number, string> | undefined;
}

function newChunk(): Chunk {
  return {
    start: 0,
    n: 0,
    t: new Float64Array(EXCHANGE_CHUNK),
    lat: new Float64Array(EXCHANGE_CHUNK),
    code: new Uint8Array(EXCHANGE_CHUNK),
    cp: new Array<string>(EXCHANGE_CHUNK).fill(''),
    msg: new Array<string>(EXCHANGE_CHUNK).fill(''),
    id: new Array<string>(EXCHANGE_CHUNK).fill(''),
    err: undefined,
  };
}

export class ExchangeLog {
  /** chunks holding exchanges, oldest first; the last one is being filled */
  private chunks: Chunk[] = [];
  /** emptied chunks kept for reuse (at most two) */
  private spare: Chunk[] = [];
  private count = 0;
  /** exchanges dropped because the log was full */
  dropped = 0;

  constructor(private readonly max: number) {}

  get length(): number {
    return this.count;
  }

  push(chargePointId: string, direction: Exchange['direction'], message: string, uniqueId: string, t: number, latencyMs: number, outcome: Exchange['outcome'], errorCode: string | undefined): void {
    if (this.max <= 0) {
      this.dropped++;
      return;
    }
    let c = this.chunks[this.chunks.length - 1];
    if (c === undefined || c.n === EXCHANGE_CHUNK) {
      c = this.spare.pop() ?? newChunk();
      this.chunks.push(c);
    }
    const i = c.n++;
    c.t[i] = t;
    c.lat[i] = latencyMs;
    c.code[i] = (direction === 'cp->csms' ? 0 : 1) | ((outcome === 'result' ? 0 : outcome === 'error' ? 1 : 2) << 1);
    c.cp[i] = chargePointId;
    c.msg[i] = message;
    c.id[i] = uniqueId;
    if (errorCode !== undefined) (c.err ??= new Map()).set(i, errorCode);
    this.count++;
    // full: the oldest goes (a chunk is recycled once all of it went), no shifting of columns
    if (this.count > this.max) {
      const old = this.chunks[0] as Chunk;
      old.start++;
      this.count--;
      this.dropped++;
      if (old.start === old.n && this.chunks.length > 1) this.recycle(this.chunks.shift() as Chunk);
    }
  }

  /** The recorded exchanges as objects, oldest first (the log keeps them). */
  list(): Exchange[] {
    const out: Exchange[] = [];
    for (const c of this.chunks) {
      for (let i = c.start; i < c.n; i++) {
        const code = c.code[i] as number;
        const x: Exchange = {
          chargePointId: c.cp[i] as string,
          direction: DIRECTIONS[code & 1] as Exchange['direction'],
          message: c.msg[i] as string,
          uniqueId: c.id[i] as string,
          t: c.t[i] as number,
          latencyMs: c.lat[i] as number,
          outcome: OUTCOMES[code >> 1] as Exchange['outcome'],
        };
        const e = c.err?.get(i);
        if (e !== undefined) x.errorCode = e;
        out.push(x);
      }
    }
    return out;
  }

  /** Returns the recorded exchanges and empties the log. */
  drain(): Exchange[] {
    const out = this.list();
    for (const c of this.chunks) this.recycle(c);
    this.chunks = [];
    this.count = 0;
    return out;
  }

  private recycle(c: Chunk): void {
    if (this.spare.length >= 2) return;
    c.cp.fill('', 0, c.n);
    c.msg.fill('', 0, c.n);
    c.id.fill('', 0, c.n);
    c.start = 0;
    c.n = 0;
    c.err = undefined;
    this.spare.push(c);
  }
}
