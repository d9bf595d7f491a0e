// Helpers of the throughput suites (bench/throughput/): percentiles of latency samples, a counter of
// the OCPP frames one charger exchanges with the mock CSMS (for hil_throughput), and the rounding the
// suites use for figures. Not a suite (no .suite.ts).
//
//   const counter = countOcppFrames(csms, 'CP1');  … calls …  const w = counter.stop();
//   ctx.throughput({ link: `ocpp:${cp}`, window: w.window, framesPerS: w.framesPerS, … });
//   percentile(sortedAscending, 95)
import type { ScriptableCsms } from '../../src/csms/driver.ts';

/** Nearest-rank percentile of samples sorted ascending; NaN for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

export const round = (v: number, digits = 3): number => Number(v.toFixed(digits));

export interface OcppWindow {
  /** `1.234s` */
  window: string;
  seconds: number;
  frames: number;
  bytes: number;
  framesPerS: number;
  bytesPerS: number;
  /** CALLERROR frames either way, plus protocol violations the CSMS recorded for this charger */
  errors: number;
  /** CSMS-initiated CALLs in the window minus the answers (CALLRESULT/CALLERROR) the charger sent */
  dropped: number;
}

export interface OcppFrameCounter {
  stop(): OcppWindow;
}

/** The OCPP-J message type id of a frame's text (`[2,…` CALL, 3 CALLRESULT, 4 CALLERROR), or 0. */
function messageType(text: string): number {
  const m = /^\s*\[\s*([234])\s*,/.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Counts every WebSocket frame (text bytes as UTF-8) between the mock CSMS and charger `cpId` until stop(). */
export function countOcppFrames(csms: ScriptableCsms, cpId: string): OcppFrameCounter {
  let frames = 0;
  let bytes = 0;
  let errors = 0;
  let callsOut = 0;
  let answersIn = 0;
  const t0 = performance.now();
  const offEntry = csms.server.on('entry', (e) => {
    if (!('dir' in e) || e.cp !== cpId) return;
    frames += 1;
    bytes += Buffer.byteLength(e.text, 'utf8');
    const type = messageType(e.text);
    if (type === 4) errors += 1;
    if (e.dir === 'out' && type === 2) callsOut += 1;
    if (e.dir === 'in' && (type === 3 || type === 4)) answersIn += 1;
  });
  const offViolation = csms.server.on('violation', (v) => {
    if (v.chargePointId === cpId) errors += 1;
  });
  return {
    stop: () => {
      offEntry();
      offViolation();
      const seconds = Math.max(1e-6, (performance.now() - t0) / 1000);
      return {
        window: `${seconds.toFixed(3)}s`,
        seconds,
        frames,
        bytes,
        framesPerS: frames / seconds,
        bytesPerS: bytes / seconds,
        errors,
        dropped: Math.max(0, callsOut - answersIn),
      };
    },
  };
}
