// Evidence of the mock CSMS: transcript lines (JSON lines, one per frame or event, microsecond epoch
// timestamps) and exchange → timing-point conversion for `PhaseContext.timing()` (hil_timing).
//
//   transcriptLine({ tUs, cp: 'CP1', dir: 'in', text: '[2,"1","Heartbeat",{}]', json: true })
//     → '{"tUs":1763719871234567,"cp":"CP1","dir":"in","frame":[2,"1","Heartbeat",{}]}\n'
//   for (const p of csms.drainTimings()) ctx.timing(p);   // { protocol: 'ocpp', message, direction, latencyMs }
//   consoleLine(entry)   // '11:31:11.234567 CP1 <- [2,"1","Heartbeat",{}]' for the standalone command
import type { TimingPoint } from '../../drivers/capabilities.ts';
import type { Exchange } from './connection.ts';
import type { TranscriptEntry, TranscriptWriter } from './types.ts';

/** An exchange as a timing point (protocol 'ocpp') for hil_timing. */
export function timingPoint(x: Exchange): TimingPoint {
  return { protocol: 'ocpp', message: x.message, direction: x.direction, latencyMs: x.latencyMs };
}

/** Epoch microseconds (integer) from epoch milliseconds with a fraction. */
export const toUs = (tMs: number): number => Math.round(tMs * 1000);

/** JSON.stringify leaves U+2028/U+2029 unescaped; some line readers treat them as line breaks. */
export const stringify = (v: unknown): string => JSON.stringify(v).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/** True when `text` holds a character some line readers take for a line break (indexOf is much faster than a regex here). */
function hasLineBreak(text: string): boolean {
  return text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0 || text.indexOf('\u2028') >= 0 || text.indexOf('\u2029') >= 0;
}

/** The line of one frame; `frame` is embedded as is when it is JSON on one line, else `raw` holds the text. */
export function frameLine(tUs: number, cp: string, dir: 'in' | 'out', text: string, json: boolean, cpJson: string = stringify(cp)): string {
  const head = `{"tUs":${tUs},"cp":${cpJson},"dir":"${dir}",`;
  if (json && !hasLineBreak(text)) return `${head}"frame":${text}}\n`;
  return `${head}"raw":${stringify(text)}}\n`;
}

const LINE_OPEN = Buffer.from('{"tUs":');
/** digits of an epoch-microsecond timestamp, with room to spare */
const MAX_DIGITS = 20;

/**
 * Writes the line of one frame as `frameLine` builds it. A frame that is JSON on one line is copied
 * into the transcript from `bytes` (its UTF-8 as received or sent), around it the per-charger constant
 * parts (`heads`, see `frameLineHeads`) and the timestamp's digits: no string is built, nothing is
 * left for the garbage collector. Anything else goes as text (`raw`).
 */
export function writeFrameLine(w: TranscriptWriter, tUs: number, heads: FrameLineHeads, dir: 'in' | 'out', text: string, json: boolean, bytes: Uint8Array): void {
  if (json && !hasLineBreak(text)) {
    const head = dir === 'in' ? heads.in : heads.out;
    const block = w.reserve(LINE_OPEN.length + MAX_DIGITS + head.length + bytes.length + 2);
    const start = w.end;
    let at = start;
    block.set(LINE_OPEN, at);
    at = putDigits(block, at + LINE_OPEN.length, tUs);
    block.set(head, at);
    at += head.length;
    block.set(bytes, at);
    at += bytes.length;
    block[at++] = 0x7d; // }
    block[at++] = 0x0a; // \n
    w.commit(at - start);
  } else w.write(frameLine(tUs, '', dir, text, json, heads.cpJson));
}

let cachedSeconds = -1;
let cachedSecondsDigits: Buffer = Buffer.alloc(0);

/**
 * Writes the decimal digits of a non-negative integer (epoch microseconds) at `at`; returns the offset
 * after them. The seconds' digits are cached (they change once a second) and the six digits of the
 * microseconds come from integer arithmetic: the plain loop over a 16-digit double costs a floating
 * point remainder per digit.
 */
export function putDigits(b: Uint8Array, at: number, n: number): number {
  if (!(n >= 1e6 && n <= Number.MAX_SAFE_INTEGER)) return putPlainDigits(b, at, n);
  const seconds = Math.floor(n / 1e6);
  let us = n - seconds * 1e6;
  if (seconds !== cachedSeconds) {
    cachedSeconds = seconds;
    cachedSecondsDigits = Buffer.from(String(seconds), 'latin1');
  }
  b.set(cachedSecondsDigits, at);
  at += cachedSecondsDigits.length;
  for (let i = at + 5; i >= at; i--) {
    const q = (us / 10) | 0;
    b[i] = 48 + us - q * 10;
    us = q;
  }
  return at + 6;
}

function putPlainDigits(b: Uint8Array, at: number, n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  for (let i = at + digits - 1; i >= at; i--) {
    b[i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return at + digits;
}

/** The constant parts of a charger's frame lines. */
export interface FrameLineHeads {
  cpJson: string;
  /** UTF-8 of `,"cp":"CP1","dir":"in","frame":` */
  in: Buffer;
  out: Buffer;
}

export function frameLineHeads(cp: string): FrameLineHeads {
  const cpJson = stringify(cp);
  return { cpJson, in: Buffer.from(`,"cp":${cpJson},"dir":"in","frame":`), out: Buffer.from(`,"cp":${cpJson},"dir":"out","frame":`) };
}

/** One JSON line (with the newline). A frame that is JSON on one line is embedded as is. */
export function transcriptLine(e: TranscriptEntry): string {
  if ('dir' in e) return frameLine(e.tUs, e.cp, e.dir, e.text, e.json);
  return `${stringify(e)}\n`;
}

function clock(tUs: number): string {
  const d = new Date(Math.floor(tUs / 1000));
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(tUs % 1_000_000, 6)}`;
}

/** A human line for the standalone command: time, charger, arrow (<- from the charger, -> to it), frame. */
export function consoleLine(e: TranscriptEntry, maxChars = 2000): string {
  const cut = (s: string) => (s.length > maxChars ? `${s.slice(0, maxChars)}… (${s.length} chars)` : s);
  if ('dir' in e) return `${clock(e.tUs)} ${e.cp} ${e.dir === 'in' ? '<-' : '->'} ${cut(e.text)}`;
  const detail = e.detail === undefined ? '' : ` ${typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail)}`;
  return `${clock(e.tUs)} ${e.cp} ** ${e.event}${cut(detail)}`;
}
