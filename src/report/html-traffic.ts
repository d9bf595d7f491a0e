// The message sequence chart of report.html: OCPP and ISO 15118-2 traffic read back from the driver
// transcripts attached to a phase, drawn as arrows between three lifelines (EV, Charger (SECC/CP),
// CSMS). Sources, recognised line by line so the attachment's name does not matter:
//   - the MockCsms OCPP transcript (docs/csms.md): {"tUs", "cp", "dir": "in"|"out", "frame"|"raw"}
//     and events {"tUs", "cp", "event", "detail"}; a PnC DataTransfer is labelled with its inner
//     messageId (DataTransfer.Authorize), a CALLRESULT/CALLERROR with the CALL it answers;
//   - the EverestCarSim transcript (drivers/ev/everest.ts): received MQTT messages
//     {"t", "dir": "rx", "topic": "…/impl/ev/var/V2G_Messages", "payload": "{\"data\":{dir, message, responseCode?, t}}"}.
//
//   const items = parseTraffic(text)          // one transcript's chart items (lines it does not know are skipped)
//   const caps = sequenceCaps(counts, 150, 600)   // per-chart caps under a page-wide budget
//   sequenceChart(items, { t0: phase.tStart, maxItems: caps[i] })   // SVG, the first ones with a note of the rest

import { clip, esc, escText, fmtNum, px } from './html-svg.ts';

export type Actor = 'ev' | 'charger' | 'csms';

export interface SeqItem {
  /** Epoch milliseconds. */
  t: number;
  from: Actor;
  /** Same as `from` for a note on one lifeline (a violation, a connection event). */
  to: Actor;
  protocol: 'ocpp' | 'v2g';
  kind: 'call' | 'result' | 'error' | 'v2g' | 'note';
  label: string;
  /** Full text for the tooltip (frame text, clipped). */
  detail: string;
  /** Drawn in red: CALLERROR, a violation, a failed V2G response code. */
  bad: boolean;
}

export interface ParsedTraffic {
  items: SeqItem[];
  /** Lines that were not JSON at all (a corrupt or truncated transcript). */
  badLines: number;
  /** Which kinds of transcript lines were recognised. */
  sources: Set<'ocpp' | 'ev'>;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObj = { [k: string]: Json };

const isObj = (v: unknown): v is JsonObj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** the OCA PnC vendorId (src/csms PNC_VENDOR_ID; not imported: the report does not load the CSMS and its schemas) */
const PNC_VENDOR = 'org.openchargealliance.iso15118pnc';
const V2G_TOPIC = /\/impl\/[^/]+\/var\/V2G_Messages$/;
/** Frame text kept for an arrow's tooltip (the transcripts hold all of it). */
const DETAIL_CHARS = 200;

/** The status a response carries: `status`, else `idTagInfo.status` / `idTokenInfo.status`. */
function statusOf(o: JsonObj): string | undefined {
  const direct = str(o.status);
  if (direct !== undefined) return direct;
  for (const k of ['idTagInfo', 'idTokenInfo']) {
    const inner = o[k];
    if (isObj(inner) && typeof inner.status === 'string') return inner.status;
  }
  return undefined;
}

/** Parses a DataTransfer `data` string as JSON when it is one. */
function innerData(payload: JsonObj): JsonObj | undefined {
  const d = payload.data;
  if (typeof d !== 'string') return undefined;
  try {
    const v: unknown = JSON.parse(d);
    return isObj(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

class OcppReader {
  /** `${cp}|${dir of the CALL}|${uniqueId}` → label of the CALL, until its answer arrives. */
  private pending = new Map<string, string>();
  private cps = new Set<string>();

  constructor(private readonly out: SeqItem[]) {}

  line(o: JsonObj): void {
    const tUs = o.tUs as number;
    const t = tUs / 1000;
    const cp = str(o.cp) ?? '?';
    this.cps.add(cp);
    const ev = str(o.event);
    if (ev !== undefined) {
      if (!['violation', 'connected', 'disconnected', 'handshake-refused', 'subprotocol-mismatch', 'tls-handshake-failed'].includes(ev)) return;
      const detail = o.detail === undefined ? '' : typeof o.detail === 'string' ? o.detail : JSON.stringify(o.detail);
      const rule = isObj(o.detail) ? str(o.detail.rule) : undefined;
      const label = ev === 'violation' ? `violation ${rule ?? ''}`.trim() : ev;
      this.out.push({ t, from: 'csms', to: 'csms', protocol: 'ocpp', kind: 'note', label, detail: clip(`${cp} ${ev} ${detail}`, DETAIL_CHARS), bad: ev !== 'connected' && ev !== 'disconnected' });
      return;
    }
    const dir = o.dir === 'in' ? 'in' : o.dir === 'out' ? 'out' : undefined;
    if (!dir) return;
    const from: Actor = dir === 'in' ? 'charger' : 'csms';
    const to: Actor = dir === 'in' ? 'csms' : 'charger';
    const frame = o.frame;
    const text = frame === undefined ? (str(o.raw) ?? '') : JSON.stringify(frame);
    const detail = clip(`${cp} ${text}`, DETAIL_CHARS);
    if (!Array.isArray(frame)) {
      this.out.push({ t, from, to, protocol: 'ocpp', kind: 'error', label: 'unreadable frame', detail, bad: true });
      return;
    }
    const [type, id] = frame;
    const uid = typeof id === 'string' ? id : JSON.stringify(id);
    const other = dir === 'in' ? 'out' : 'in';
    if (type === 2) {
      const action = str(frame[2]) ?? '?';
      const payload = frame[3];
      let label = action;
      if (action === 'DataTransfer' && isObj(payload)) {
        const mid = str(payload.messageId);
        if (mid !== undefined) label = `DataTransfer.${mid}`;
        const vendor = str(payload.vendorId);
        if (vendor !== undefined && vendor !== PNC_VENDOR) label += ` (${vendor})`;
      }
      this.pending.set(`${cp}|${dir}|${uid}`, label);
      this.out.push({ t, from, to, protocol: 'ocpp', kind: 'call', label: this.prefix(cp, label), detail, bad: false });
      return;
    }
    if (type === 3 || type === 4) {
      const key = `${cp}|${other}|${uid}`;
      const call = this.pending.get(key);
      this.pending.delete(key);
      const base = call ?? `#${clip(uid, 12)} (no matching CALL)`;
      if (type === 3) {
        const payload = frame[2];
        let status = isObj(payload) ? statusOf(payload) : undefined;
        const inner = isObj(payload) ? innerData(payload) : undefined;
        const innerStatus = inner ? statusOf(inner) : undefined;
        if (innerStatus !== undefined) status = `${status ?? ''} (data: ${innerStatus})`.trim();
        const label = `${base}.conf${status ? ` ${status}` : ''}`;
        this.out.push({ t, from, to, protocol: 'ocpp', kind: 'result', label: this.prefix(cp, label), detail, bad: call === undefined });
      } else {
        const code = str(frame[2]) ?? '?';
        this.out.push({ t, from, to, protocol: 'ocpp', kind: 'error', label: this.prefix(cp, `${base} CALLERROR ${code}`), detail, bad: true });
      }
      return;
    }
    this.out.push({ t, from, to, protocol: 'ocpp', kind: 'error', label: `frame type ${clip(JSON.stringify(type) ?? '?', 10)}`, detail, bad: true });
  }

  /** The charge point id in front of labels once a transcript holds more than one charger. */
  private prefix(cp: string, label: string): string {
    return this.cps.size > 1 ? `[${clip(cp, 16)}] ${label}` : label;
  }
}

function evLine(o: JsonObj, out: SeqItem[]): boolean {
  const topic = str(o.topic);
  if (o.dir !== 'rx' || topic === undefined || !V2G_TOPIC.test(topic)) return false;
  const text = str(o.payload);
  if (text === undefined) return false;
  let data: unknown;
  try {
    const parsed: unknown = JSON.parse(text);
    data = isObj(parsed) && 'data' in parsed ? parsed.data : parsed;
  } catch {
    data = undefined;
  }
  const lineT = typeof o.t === 'number' ? o.t : Number.NaN;
  if (!isObj(data) || typeof data.message !== 'string') {
    out.push({ t: lineT, from: 'ev', to: 'ev', protocol: 'v2g', kind: 'note', label: 'unreadable V2G_Messages payload', detail: clip(text, DETAIL_CHARS), bad: true });
    return true;
  }
  const dir = str(data.dir);
  const toSecc = dir === 'EV->SECC';
  const code = str(data.responseCode);
  const bad = code !== undefined && !code.startsWith('OK');
  const t = typeof data.t === 'number' && Number.isFinite(data.t) ? data.t : lineT;
  const label = `${data.message}${code !== undefined ? ` ${code}` : ''}`;
  if (dir !== 'EV->SECC' && dir !== 'SECC->EV') {
    out.push({ t, from: 'ev', to: 'ev', protocol: 'v2g', kind: 'note', label: `${label} (dir ${dir ?? 'missing'})`, detail: clip(text, DETAIL_CHARS), bad: true });
    return true;
  }
  out.push({ t, from: toSecc ? 'ev' : 'charger', to: toSecc ? 'charger' : 'ev', protocol: 'v2g', kind: 'v2g', label, detail: clip(text, DETAIL_CHARS), bad });
  return true;
}

/** Chart items from one JSON-lines transcript (OCPP, EV or neither); never throws. */
export function parseTraffic(text: string): ParsedTraffic {
  const items: SeqItem[] = [];
  const sources = new Set<'ocpp' | 'ev'>();
  const ocpp = new OcppReader(items);
  let badLines = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (!line) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      badLines++;
      continue;
    }
    if (!isObj(v)) continue;
    if (typeof v.tUs === 'number' && typeof v.cp === 'string') {
      sources.add('ocpp');
      ocpp.line(v);
    } else if (evLine(v, items)) {
      sources.add('ev');
    }
  }
  return { items: items.filter((i) => Number.isFinite(i.t)), badLines, sources };
}

export interface SequenceOptions {
  /** Epoch ms the time column counts from (the phase start). */
  t0: number;
  /** Items drawn at most; the rest are counted in a note (default 150). */
  maxItems?: number;
  width?: number;
}

const LANES: readonly Actor[] = ['ev', 'charger', 'csms'];
const LANE_TITLE: Record<Actor, string> = { ev: 'EV', charger: 'Charger (SECC/CP)', csms: 'CSMS' };

/** Sorts items by time (stable: same-time items keep transcript order). */
export function sortItems(items: readonly SeqItem[]): SeqItem[] {
  return items
    .map((it, i) => ({ it, i }))
    .sort((a, b) => a.it.t - b.it.t || a.i - b.i)
    .map((x) => x.it);
}

/**
 * How many messages each of several charts may draw: at most `perChart` each and at most `total`
 * together. Smallest first, each chart takes what it has, up to an even share of the budget left, so
 * small charts keep all their messages and the large ones share the rest evenly: every phase stays
 * visible and a run with many long phases still gives a page of bounded size.
 */
export function sequenceCaps(counts: readonly number[], perChart: number, total: number): number[] {
  const caps = counts.map(() => 0);
  const order = counts.map((n, i) => ({ n, i })).sort((a, b) => a.n - b.n);
  let left = total;
  order.forEach(({ n, i }, k) => {
    caps[i] = Math.min(n, perChart, Math.floor(left / (order.length - k)));
    left -= caps[i] as number;
  });
  return caps;
}

/**
 * The chart's styles, in the page's CSS: colours and strokes by class instead of attributes on each
 * of hundreds of arrows (red: bad, green: ISO 15118, light blue: answers, blue: OCPP calls).
 */
export const SEQUENCE_CSS =
  '.seq .c-call{--c:#1f4e8c}.seq .c-result{--c:#4a6fa5}.seq .c-v2g{--c:#2e7d32}.seq .c-bad{--c:#c62828}' +
  '.seq .msg line{stroke:var(--c);stroke-width:1.4}.seq .msg rect{stroke:var(--c)}.seq .msg polygon,.seq .msg text{fill:var(--c)}' +
  '.seq .msg text.t{fill:#666}.seq .msg text.label{text-anchor:middle}';

/** SVG of the first `maxItems` items (already sorted) on the three lifelines; styled by `SEQUENCE_CSS`. */
export function sequenceChart(items: readonly SeqItem[], opts: SequenceOptions): string {
  const W = opts.width ?? 1000;
  const max = opts.maxItems ?? 150;
  const shown = items.slice(0, max);
  const left = items.length - shown.length;
  const rowH = 24;
  const top = 44;
  const H = top + rowH * shown.length + (left > 0 ? 34 : 14);
  const timeCol = 96;
  const laneX: Record<Actor, number> = { ev: timeCol + 90, charger: timeCol + 90 + (W - timeCol - 180) / 2, csms: W - 90 };
  const parts: string[] = [];
  for (const a of LANES) {
    const x = laneX[a];
    parts.push(
      `<g class="lifeline" data-actor="${a}"><rect x="${x - 70}" y="6" width="140" height="22" rx="3" fill="#eef2f7" stroke="#8aa"/><text x="${x}" y="21" text-anchor="middle" font-weight="bold">${esc(LANE_TITLE[a])}</text><line x1="${x}" x2="${x}" y1="28" y2="${H - 6}" stroke="#aab" stroke-dasharray="4 3"/></g>`,
    );
  }
  shown.forEach((it, i) => {
    const y = top + rowH * i + 14;
    const color = it.bad ? 'c-bad' : it.protocol === 'v2g' ? 'c-v2g' : it.kind === 'result' ? 'c-result' : 'c-call';
    const time = `+${fmtNum(Math.round((it.t - opts.t0) * 1000) / 1000)} ms`;
    const g: string[] = [`<title>${escText(`${time} ${it.label}\n${it.detail}`)}</title>`, `<text class="t" x="4" y="${y + 4}">${escText(time)}</text>`];
    const x1 = laneX[it.from];
    const x2 = laneX[it.to];
    if (x1 === x2) {
      const room = it.to === 'csms' ? x1 - timeCol - 12 : W - x1 - 12;
      const label = clip(it.label, Math.max(8, Math.floor((room - 12) / 6.2)));
      const w = Math.min(room, label.length * 6.2 + 12);
      const xr = it.to === 'csms' ? x1 - w - 6 : x1 + 6;
      g.push(`<rect x="${px(xr)}" y="${y - 9}" width="${px(w)}" height="16" fill="#fff7e6"/><text x="${px(xr + 6)}" y="${y + 3}">${escText(label)}</text>`);
    } else {
      const dirn = x2 > x1 ? 1 : -1;
      const tip = x2 - dirn * 1;
      const dash = it.kind === 'result' || (it.protocol === 'v2g' && it.label.includes('Res')) ? ' stroke-dasharray="5 3"' : '';
      g.push(`<line x1="${x1}" x2="${tip - dirn * 7}" y1="${y}" y2="${y}"${dash}/>`);
      g.push(`<polygon class="head" points="${tip},${y} ${tip - dirn * 8},${y - 4} ${tip - dirn * 8},${y + 4}"/>`);
      const span = Math.abs(x2 - x1);
      g.push(`<text class="label" x="${(x1 + x2) / 2}" y="${y - 4}">${escText(clip(it.label, Math.max(12, Math.floor(span / 5.8))))}</text>`);
    }
    parts.push(`<g class="msg msg-${it.kind} ${color}" data-protocol="${it.protocol}" data-from="${it.from}" data-to="${it.to}" data-label="${esc(it.label)}">${g.join('')}</g>`);
  });
  if (left > 0) {
    parts.push(`<text class="omitted" x="${W / 2}" y="${H - 12}" text-anchor="middle" fill="#8a5a00">… ${left} more message${left === 1 ? '' : 's'} in this phase not drawn (first ${shown.length} shown; see the transcripts)</text>`);
  }
  return `<svg class="plot seq" data-plot="sequence" data-items="${shown.length}" data-omitted="${left}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" font-size="11" font-family="sans-serif">${parts.join('')}</svg>`;
}
