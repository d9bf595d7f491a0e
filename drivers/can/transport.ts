// The CAN transport interface and what the three transports share: listeners, bus statistics and
// the candump transcript. A transport moves CanFrames between the bench and a bus; it knows nothing
// about what the frames mean (that is the CCU codec's job).
//
//   const bus = createCanTransport(resource, options, { name: 'ccu', transcript, log });
//   bus.onFrame((f) => ...);  await bus.open(signal);  await bus.send(canFrame({...}), signal);
//   bus.stats();  // counters for hil_throughput; throughputBetween(a, b) turns two into rates
//   await bus.close(1000);
//
// Transports reconnect on their own (backoff) when the link drops; `send` during an outage rejects
// with LinkError at once instead of queueing frames for a bus the bench cannot see.
import { linkThroughput, type LinkStats } from '../capabilities.ts';
import type { Transcript } from '../../src/rig/transcript.ts';
import { nowMs, nowUs } from '../common/time.ts';
import { formatCandump, formatCandumpError } from './candump.ts';
import type { CanFrame } from './frame.ts';

export type CanTransportKind = 'socketcan' | 'slcan' | 'socketcand';

/** Counters since the transport was created (the capability-level LinkStats). */
export type BusStats = LinkStats;

/** The shape of a `hil_throughput` point (suite ThroughputPoint) between two stats samples. */
export type ThroughputWindow = ReturnType<typeof linkThroughput>;

export const throughputBetween = linkThroughput;

export interface CanTransport {
  readonly kind: CanTransportKind;
  readonly link: string;
  open(signal: AbortSignal): Promise<void>;
  /** Resolves when the frame left for the bus (for slcan: when the adapter acknowledged it). */
  send(frame: CanFrame, signal: AbortSignal): Promise<void>;
  /** Every received frame; returns the unsubscribe function. */
  onFrame(fn: (f: CanFrame) => void): () => void;
  /** Link up/down notifications (down carries the reason). */
  onLink(fn: (up: boolean, reason?: string) => void): () => void;
  stats(): BusStats;
  readonly isUp: boolean;
  readonly reconnects: number;
  /** One line for health(): link state and counters. */
  describe(): string;
  close(deadlineMs: number): Promise<void>;
}

export interface TransportContext {
  /** Rig name for LinkError messages (`ccu`). */
  name: string;
  /** candump transcript; omitted → no transcript. */
  transcript?: Transcript;
  /** Interface name written into candump lines. */
  iface: string;
  log?: (msg: string) => void;
}

/** Listener plumbing, counters and the candump transcript for the concrete transports. */
export abstract class TransportBase {
  private frameFns = new Set<(f: CanFrame) => void>();
  private linkFns = new Set<(up: boolean, reason?: string) => void>();
  protected counters = { rxFrames: 0, txFrames: 0, rxBytes: 0, txBytes: 0, errors: 0, dropped: 0 };

  constructor(protected readonly ctx: TransportContext) {}

  abstract readonly link: string;

  onFrame(fn: (f: CanFrame) => void): () => void {
    this.frameFns.add(fn);
    return () => this.frameFns.delete(fn);
  }

  onLink(fn: (up: boolean, reason?: string) => void): () => void {
    this.linkFns.add(fn);
    return () => this.linkFns.delete(fn);
  }

  stats(): BusStats {
    return { link: this.link, ...this.counters, tMs: nowMs() };
  }

  protected received(f: CanFrame): void {
    this.counters.rxFrames += 1;
    this.counters.rxBytes += f.dlc;
    this.ctx.transcript?.write(formatCandump(f, this.ctx.iface, 'R'));
    for (const fn of this.frameFns) {
      try {
        fn(f);
      } catch (e) {
        this.ctx.log?.(`frame listener threw: ${(e as Error).message}`);
      }
    }
  }

  protected sent(f: CanFrame): void {
    this.counters.txFrames += 1;
    this.counters.txBytes += f.dlc;
    this.ctx.transcript?.write(formatCandump(f, this.ctx.iface, 'T'));
  }

  /** An error reported by the bus or adapter; recorded as an error frame line in the transcript. */
  protected busError(what: string, errorClass = 0): void {
    this.counters.errors += 1;
    this.ctx.log?.(what);
    this.ctx.transcript?.write(formatCandumpError(nowUs(), this.ctx.iface, errorClass));
  }

  protected linkChanged(up: boolean, reason?: string): void {
    for (const fn of this.linkFns) fn(up, reason);
  }

  protected counterText(): string {
    const c = this.counters;
    return `rx ${c.rxFrames}, tx ${c.txFrames}, errors ${c.errors}, dropped ${c.dropped}`;
  }
}
