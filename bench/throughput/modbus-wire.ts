// The traffic of a Modbus meter link as its driver counted it, for the throughput suite's
// hil_throughput point: the built-in ModbusMeter driver reports in snapshot() the request and
// response frames and bytes it wrote to and read from the wire (txFrames, txBytes, rxFrames,
// rxBytes), the requests that got no answer (timeouts) and the reads it gave up (failures).
// modbusLinkStats turns one snapshot into LinkStats; linkThroughput (drivers/capabilities.ts) turns
// two of them into a window's rates. Another EnergyMeter driver gives `undefined`, and the suite
// records readings without a hil_throughput point rather than a guessed one.
//
//   const a = modbusLinkStats(meter.snapshot(), 'meter', nowMs());   … poll …
//   const b = modbusLinkStats(meter.snapshot(), 'meter', nowMs());
//   if (a && b) ctx.throughput(linkThroughput(a, b));
import type { JsonObject, LinkStats } from '../../drivers/capabilities.ts';

/** A numeric counter of a snapshot, or undefined. */
export function counter(snapshot: JsonObject, key: string): number | undefined {
  const v = snapshot[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * The link's counters from a ModbusMeter snapshot ({ link: 'tcp …' | 'rtu …', txFrames, … }), as
 * LinkStats of link `modbus:<role>:<tcp|rtu>` sampled at `tMs`; undefined when the snapshot has no
 * wire counters. errors = reads given up (failures), dropped = requests without an answer (timeouts).
 */
export function modbusLinkStats(snapshot: JsonObject, role: string, tMs: number): LinkStats | undefined {
  const link = snapshot.link;
  const transport = typeof link === 'string' ? /^(tcp|rtu)\b/.exec(link)?.[1] : undefined;
  const [txFrames, txBytes, rxFrames, rxBytes, failures, timeouts] = ['txFrames', 'txBytes', 'rxFrames', 'rxBytes', 'failures', 'timeouts'].map((k) => counter(snapshot, k));
  if (!transport || txFrames === undefined || txBytes === undefined || rxFrames === undefined || rxBytes === undefined) return undefined;
  return { link: `modbus:${role}:${transport}`, txFrames, txBytes, rxFrames, rxBytes, errors: failures ?? 0, dropped: timeouts ?? 0, tMs };
}
