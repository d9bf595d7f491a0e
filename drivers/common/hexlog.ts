// The serial transcript format: one line per chunk the driver wrote (TX) or read (RX), stamped with
// epoch seconds (µs), the bytes in hex and a printable rendering; link events are `#` comments.
//
//   1763727712.123456 TX 73 74 61 74 75 73 0d 0a  |status..|
//   1763727712.131002 RX 73 74 61 74 65 3a 20 42 0d 0a  |state: B..|
//   1763727713.000000 # link down: pty closed
//
// `parseHexLog` reads it back (tests, replay tools).
import { epochSecondsText } from './time.ts';

export type Direction = 'TX' | 'RX';

const printable = (b: number): string => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.');

export function hexLine(tUs: number, dir: Direction, bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `${epochSecondsText(tUs)} ${dir} ${hex}  |${Array.from(bytes, printable).join('')}|\n`;
}

export function hexNote(tUs: number, text: string): string {
  return `${epochSecondsText(tUs)} # ${text.replace(/[\r\n]+/g, ' ')}\n`;
}

export interface HexLogEntry {
  tUs: number;
  dir: Direction | 'note';
  bytes: Uint8Array;
  note?: string;
}

/** Parses a hex log; throws naming the line number on anything it cannot read. */
export function parseHexLog(text: string): HexLogEntry[] {
  const out: HexLogEntry[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line === '') return;
    const m = /^(\d{10})\.(\d{6}) (?:(TX|RX) ((?:[0-9a-f]{2})(?: [0-9a-f]{2})*)  \|.*\||# (.*))$/.exec(line);
    if (!m) throw new Error(`hex log line ${i + 1}: cannot parse ${JSON.stringify(line.slice(0, 80))}`);
    const tUs = Number(m[1]) * 1e6 + Number(m[2]);
    if (m[3]) out.push({ tUs, dir: m[3] as Direction, bytes: Uint8Array.from((m[4] as string).split(' '), (h) => parseInt(h, 16)) });
    else out.push({ tUs, dir: 'note', bytes: new Uint8Array(0), note: m[5] ?? '' });
  });
  return out;
}
