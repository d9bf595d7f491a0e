// Helpers of the throughput suites (bench/throughput/): percentiles of latency samples, link counters
// of the OCPP frames one charger exchanges with the mock CSMS (for hil_throughput, like a CCU's
// linkStats()), and the rounding the suites use for figures. Not a suite (no .suite.ts).
//
//   const counter = countOcppFrames(csms, 'CP1');
//   const a = counter.stats();  … calls …  const b = counter.stats();  counter.stop();
//   ctx.throughput(roundRates(linkThroughput(a, b)));        // link `ocpp:CP1`
//   percentile(sortedAscending, 95)
import type { LinkStats } from '../../drivers/capabilities.ts';
import { nowMs } from '../../drivers/common/time.ts';
import type { ScriptableCsms } from '../../src/csms/driver.ts';

/** Nearest-rank percentile of samples sorted ascending; NaN for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

export const round = (v: number, digits = 3): number => Number(v.toFixed(digits));

/** A throughput point (linkThroughput) with its frame and byte rates rounded as every suite writes them. */
export function roundRates<T extends { framesPerS: number; bytesPerS: number }>(w: T): T {
  return { ...w, framesPerS: round(w.framesPerS), bytesPerS: round(w.bytesPerS) };
}

export interface OcppFrameCounter {
  /**
   * The counters so far (link `ocpp:<cpId>`): rx = frames from the charger, tx = frames to it, bytes as
   * UTF-8 text; errors = CALLERROR frames either way plus the protocol violations the CSMS recorded for
   * this charger; dropped = CSMS-initiated CALLs not (yet) answered by the charger.
   */
  stats(): LinkStats;
  stop(): void;
}

/** The OCPP-J message type id of a frame's text (`[2,…` CALL, 3 CALLRESULT, 4 CALLERROR), or 0. */
function messageType(text: string): number {
  const m = /^\s*\[\s*([234])\s*,/.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Counts every WebSocket frame between the mock CSMS and charger `cpId` from now until stop(). */
export function countOcppFrames(csms: ScriptableCsms, cpId: string): OcppFrameCounter {
  const c = { rxFrames: 0, txFrames: 0, rxBytes: 0, txBytes: 0, errors: 0 };
  let callsOut = 0;
  let answersIn = 0;
  const offFrames = csms.server.on('frame', (e) => {
    if (e.cp !== cpId) return;
    const bytes = Buffer.byteLength(e.text, 'utf8');
    const type = messageType(e.text);
    if (type === 4) c.errors += 1;
    if (e.dir === 'in') {
      c.rxFrames += 1;
      c.rxBytes += bytes;
      if (type === 3 || type === 4) answersIn += 1;
    } else {
      c.txFrames += 1;
      c.txBytes += bytes;
      if (type === 2) callsOut += 1;
    }
  });
  const offViolation = csms.server.on('violation', (v) => {
    if (v.chargePointId === cpId) c.errors += 1;
  });
  return {
    stats: () => ({ link: `ocpp:${cpId}`, ...c, dropped: Math.max(0, callsOut - answersIn), tMs: nowMs() }),
    stop: () => {
      offFrames();
      offViolation();
    },
  };
}
