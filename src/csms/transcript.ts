// Evidence of the mock CSMS: transcript lines (JSON lines, one per frame or event, microsecond epoch
// timestamps) and exchange → timing-point conversion for `PhaseContext.timing()` (hil_timing).
//
//   transcriptLine({ tUs, cp: 'CP1', dir: 'in', text: '[2,"1","Heartbeat",{}]', json: true })
//     → '{"tUs":1763719871234567,"cp":"CP1","dir":"in","frame":[2,"1","Heartbeat",{}]}\n'
//   for (const p of csms.drainTimings()) ctx.timing(p);   // { protocol: 'ocpp', message, direction, latencyMs }
//   consoleLine(entry)   // '11:31:11.234567 CP1 <- [2,"1","Heartbeat",{}]' for the standalone command
import type { Exchange } from './connection.ts';
import type { TranscriptEntry, TranscriptWriter } from './types.ts';

/** The shape of the runner's TimingPoint (src/runner/suite.ts), protocol 'ocpp'. */
export interface OcppTimingPoint {
  protocol: 'ocpp';
  message: string;
  direction: 'cp->csms' | 'csms->cp';
  latencyMs: number;
}

export function timingPoint(x: Exchange): OcppTimingPoint {
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

/**
 * Writes the line of one frame as `frameLine` builds it, in three writes (head, the frame text as
 * received or sent, tail) so the frame is copied once, straight into the transcript, instead of first
 * into a line string. `heads` are the per-charger constant parts (see `frameLineHeads`).
 */
export function writeFrameLine(w: TranscriptWriter, tUs: number, heads: FrameLineHeads, dir: 'in' | 'out', text: string, json: boolean): void {
  if (json && !hasLineBreak(text)) {
    w.write(`{"tUs":${tUs}${dir === 'in' ? heads.in : heads.out}`);
    w.write(text);
    w.write('}\n');
  } else w.write(frameLine(tUs, '', dir, text, json, heads.cpJson));
}

/** The constant parts of a charger's frame lines. */
export interface FrameLineHeads {
  cpJson: string;
  /** `,"cp":"CP1","dir":"in","frame":` */
  in: string;
  out: string;
}

export function frameLineHeads(cp: string): FrameLineHeads {
  const cpJson = stringify(cp);
  return { cpJson, in: `,"cp":${cpJson},"dir":"in","frame":`, out: `,"cp":${cpJson},"dir":"out","frame":` };
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
