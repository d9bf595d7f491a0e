// candump log format (can-utils `candump -l` / `-L`), the native transcript of every CAN transport:
//
//   (1700000000.000000) can0 029C00F0#00061A800000C350 T
//   (1700000000.001234) can0 0283F000#43C8000042480000 R
//   (1700000000.002000) can0 123#R4
//
// Seconds 10 digits, µs 6 digits (9-digit ns is accepted on input), SFF ids 3 hex digits, EFF 8,
// `#R[len]` remote frames, a trailing ` T`/` R` marks own transmission vs reception (`candump -x`).
// Error frames (CAN_ERR_FLAG 0x20000000 in an 8-digit id) are read as kind 'error'. CAN FD lines
// (`##`) are refused with a clear error: this bench speaks classic CAN only.
//
// `formatCandump` writes a line, `parseCandump` reads a whole log (line-numbered errors), and
// `replayCandump` sends a log's frames through a transport with their original spacing.
import { sleep } from '../common/abort.ts';
import { epochSecondsText } from '../common/time.ts';
import { canFrame, CanFrameError, hex, type CanFrame } from './frame.ts';

export const CAN_ERR_FLAG = 0x20000000;

export interface CandumpEntry {
  tsUs: number;
  iface: string;
  kind: 'frame' | 'error';
  frame: CanFrame;
  /** 'T' own transmission, 'R' reception, undefined when the log does not say. */
  dir?: 'T' | 'R';
}

export function formatCandump(f: CanFrame, iface: string, dir?: 'T' | 'R'): string {
  const id = f.ext ? f.id.toString(16).toUpperCase().padStart(8, '0') : f.id.toString(16).toUpperCase().padStart(3, '0');
  const body = f.rtr ? `R${f.dlc ? f.dlc : ''}` : hex(f.data);
  return `(${epochSecondsText(f.tsUs)}) ${iface} ${id}#${body}${dir ? ` ${dir}` : ''}\n`;
}

/** An error frame line: the class bits in an 8-digit id with CAN_ERR_FLAG, 8 data bytes. */
export function formatCandumpError(tsUs: number, iface: string, errorClass: number, data: Uint8Array = new Uint8Array(8)): string {
  const id = ((CAN_ERR_FLAG | errorClass) >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `(${epochSecondsText(tsUs)}) ${iface} ${id}#${hex(data)}\n`;
}

export class CandumpParseError extends Error {
  override readonly name = 'CandumpParseError';
}

const LINE = /^\((\d+)\.(\d{6}|\d{9})\)\s+(\S+)\s+([0-9A-Fa-f]+)#(#?)(\S*)(?:\s+([TR]))?\s*$/;

/** Parses one line; `where` names it in errors (`file.log:12`). */
export function parseCandumpLine(line: string, where = 'line'): CandumpEntry {
  const m = LINE.exec(line);
  if (!m) throw new CandumpParseError(`${where}: not a candump log line: ${JSON.stringify(line.slice(0, 80))}`);
  const [, secs, frac, iface, idText, fd, body, dir] = m as unknown as [string, string, string, string, string, string, string, 'T' | 'R' | undefined];
  if (fd) throw new CandumpParseError(`${where}: CAN FD frame (##) — only classic CAN is supported`);
  const tsUs = Number(secs) * 1e6 + (frac.length === 9 ? Math.floor(Number(frac) / 1000) : Number(frac));
  if (idText.length !== 3 && idText.length !== 8) throw new CandumpParseError(`${where}: CAN id "${idText}" must have 3 (standard) or 8 (extended) hex digits`);
  const ext = idText.length === 8;
  let id = parseInt(idText, 16);
  let kind: CandumpEntry['kind'] = 'frame';
  if (ext && id & CAN_ERR_FLAG) {
    kind = 'error';
    id &= ~CAN_ERR_FLAG & 0x1fffffff;
  }
  try {
    let frame: CanFrame;
    if (/^R[0-8]?$/.test(body)) {
      frame = canFrame({ id, ext, rtr: true, dlc: body.length > 1 ? Number(body.slice(1)) : 0, tsUs });
    } else {
      const clean = body.replace(/\./g, '');
      const dlcSuffix = /_[0-9A-Fa-f]$/.exec(clean);
      const digits = dlcSuffix ? clean.slice(0, -2) : clean;
      if (!/^([0-9A-Fa-f]{2})*$/.test(digits)) throw new CanFrameError(`data "${body}" is not an even number of hex digits`);
      const bytes = (digits.match(/../g) ?? []).map((h) => parseInt(h, 16));
      frame = canFrame({ id, ext, data: bytes, tsUs });
    }
    return { tsUs, iface, kind, frame, ...(dir ? { dir } : {}) };
  } catch (e) {
    if (e instanceof CanFrameError) throw new CandumpParseError(`${where}: ${e.message}`);
    throw e;
  }
}

/** Parses a whole log; empty lines and `#` comments are skipped. */
export function parseCandump(text: string, source = 'candump log'): CandumpEntry[] {
  const out: CandumpEntry[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    out.push(parseCandumpLine(line, `${source}:${i + 1}`));
  });
  return out;
}

export interface FrameSink {
  send(frame: CanFrame, signal: AbortSignal): Promise<void>;
}

export interface ReplayOptions {
  signal: AbortSignal;
  /** 'original' keeps the log's spacing between frames (canplayer -I), 'asap' sends back to back. */
  timing?: 'original' | 'asap';
  /** Only entries of these interfaces (default: all). */
  ifaces?: readonly string[];
  /** Only entries with this direction mark (e.g. 'T' to replay what the bench sent). */
  dir?: 'T' | 'R';
}

/** Sends the log's data frames (error frames are skipped); resolves with the number sent. */
export async function replayCandump(entries: readonly CandumpEntry[], sink: FrameSink, opts: ReplayOptions): Promise<number> {
  const chosen = entries.filter((e) => e.kind === 'frame' && (!opts.ifaces || opts.ifaces.includes(e.iface)) && (!opts.dir || e.dir === opts.dir));
  const first = chosen[0];
  if (!first) return 0;
  const start = performance.now();
  let n = 0;
  for (const e of chosen) {
    if (opts.timing === 'original') {
      const due = (e.tsUs - first.tsUs) / 1000 - (performance.now() - start);
      if (due > 1) await sleep(due, opts.signal);
    }
    await sink.send(canFrame({ id: e.frame.id, ext: e.frame.ext, rtr: e.frame.rtr, dlc: e.frame.dlc, data: e.frame.data }), opts.signal);
    n += 1;
  }
  return n;
}
