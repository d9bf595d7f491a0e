// Building blocks of report.html: HTML escaping, number formatting, statistics and the SVG plots
// drawn server-side (no script in the page): a line plot (power, energy, current, voltage over
// time) and a strip/box plot (latency per message). Every function returns markup as a string;
// every piece of text that reaches the markup goes through `esc` (or `escText`, for element content
// only), because record text comes from the charger under test and is untrusted.
//
//   linePlot({ plot: 'power', title: 'Power', xLabel: 't_ms', yLabel: 'kW', series: [{ label, points }], hlines: [] })
//   stripPlot({ plot: 'timing', xLabel: 'latency (ms)', rows: [{ label, values, limits }] })

/**
 * Escapes text for HTML element content only (not for attributes): `&`, `<` and `>`, and control
 * characters and non-characters (invisible or garbled) become U+FFFD. Quotes stay as they are,
 * which keeps JSON frame text in tooltips short.
 */
export function escText(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]/g, '\ufffd')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
  );
}

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function esc(text: string): string {
  return escText(text).replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Shortens text to `max` characters with an ellipsis (before escaping). */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, Math.max(0, max - 1))}…` : text;
}

/** A number for people: integers as they are, others with up to 3 decimals (6 significant digits for small ones). */
export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return String(Math.round(v * 10) / 10);
  if (a >= 1) return String(Math.round(v * 1000) / 1000);
  if (a === 0) return '0';
  return String(Number(v.toPrecision(4)));
}

/** Coordinates in SVG: two decimals are below a pixel's resolution and keep files small. */
export const px = (v: number): string => String(Math.round(v * 100) / 100);

/** Nearest-rank percentile (p in 0..100) of an ascending array; NaN when empty. */
export function percentile(sortedAsc: readonly number[], p: number): number {
  const n = sortedAsc.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
  return sortedAsc[rank - 1] as number;
}

export interface Summary {
  n: number;
  min: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
  max: number;
  mean: number;
}

/** Count, quartiles, p95, extremes and mean of finite values (non-finite ones are ignored). */
export function summarize(values: readonly number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const sum = v.reduce((s, x) => s + x, 0);
  return {
    n: v.length,
    min: v[0] ?? Number.NaN,
    p25: percentile(v, 25),
    p50: percentile(v, 50),
    p75: percentile(v, 75),
    p95: percentile(v, 95),
    max: v[v.length - 1] ?? Number.NaN,
    mean: v.length ? sum / v.length : Number.NaN,
  };
}

/** About `count` round tick values covering [min, max] (1, 2, 5 × 10^k steps). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10) * mag;
  const ticks: number[] = [];
  const first = Math.ceil(min / step - 1e-9) * step;
  for (let t = first; t <= max + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : Number(t.toPrecision(12)));
  return ticks;
}

/** A mapping from data to pixels, linear or logarithmic, with its ticks. */
export interface Scale {
  map(v: number): number;
  ticks: number[];
  log: boolean;
}

/** Range [min, max] → pixels [p0, p1]; logarithmic when asked and every value is positive. */
export function makeScale(min: number, max: number, p0: number, p1: number, log = false): Scale {
  if (log && min > 0 && max > 0) {
    const lo = Math.floor(Math.log10(min));
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(max)));
    const ticks: number[] = [];
    for (let k = lo; k <= hi; k++) {
      ticks.push(10 ** k);
      if (hi - lo <= 3 && k < hi) ticks.push(2 * 10 ** k, 5 * 10 ** k);
    }
    const map = (v: number): number => p0 + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (p1 - p0);
    return { map, ticks: ticks.sort((a, b) => a - b), log: true };
  }
  let lo = min;
  let hi = max;
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const ticks = niceTicks(lo, hi);
  // widen to the outer ticks so the frame ends on a labelled value
  const step = ticks.length > 1 ? (ticks[1] as number) - (ticks[0] as number) : 0;
  if (step > 0) {
    if ((ticks[0] as number) > lo) ticks.unshift((ticks[0] as number) - step);
    if ((ticks[ticks.length - 1] as number) < hi) ticks.push((ticks[ticks.length - 1] as number) + step);
    lo = Math.min(lo, ticks[0] as number);
    hi = Math.max(hi, ticks[ticks.length - 1] as number);
  }
  const map = (v: number): number => p0 + ((v - lo) / (hi - lo)) * (p1 - p0);
  return { map, ticks, log: false };
}

/**
 * At most `max` points of an x-sorted polyline, keeping each bucket's lowest and highest value
 * (so peaks survive); the points are returned in x order.
 */
export function decimate(points: ReadonlyArray<readonly [number, number]>, max: number): Array<[number, number]> {
  if (points.length <= max) return points.map(([x, y]) => [x, y]);
  const buckets = Math.max(1, Math.floor(max / 2));
  const per = points.length / buckets;
  const out: Array<[number, number]> = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor(b * per);
    const to = Math.min(points.length, Math.floor((b + 1) * per));
    let lo = from;
    let hi = from;
    for (let i = from; i < to; i++) {
      if ((points[i] as readonly [number, number])[1] < (points[lo] as readonly [number, number])[1]) lo = i;
      if ((points[i] as readonly [number, number])[1] > (points[hi] as readonly [number, number])[1]) hi = i;
    }
    for (const i of lo === hi ? [lo] : lo < hi ? [lo, hi] : [hi, lo]) {
      const p = points[i] as readonly [number, number];
      out.push([p[0], p[1]]);
    }
  }
  return out;
}

export const PALETTE = ['#1f6fb2', '#d9731a', '#2e9e5b', '#8e44ad', '#c0392b', '#16a5a5', '#7f8c8d', '#b8860b'];

export interface LineSeries {
  label: string;
  points: ReadonlyArray<readonly [number, number]>;
}

/** A horizontal reference line: a limit (red), a marginal bound (amber dashed) or a target (grey); its label goes in the legend. */
export interface RefLine {
  y: number;
  label: string;
  kind: 'limit' | 'marginal' | 'target';
}

export interface LinePlotSpec {
  /** Kind of plot, written as `data-plot` (e.g. power, energy, current, voltage). */
  plot: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  hlines?: readonly RefLine[];
  width?: number;
  height?: number;
  /** Points drawn per series at most (default 2000); more are decimated keeping peaks. */
  maxPoints?: number;
}

const REF_STYLE: Record<RefLine['kind'], string> = {
  limit: 'stroke="#c62828" stroke-width="1.5"',
  marginal: 'stroke="#e69500" stroke-width="1.2" stroke-dasharray="6 4"',
  target: 'stroke="#555" stroke-width="1" stroke-dasharray="2 3"',
};

function axisFrame(x0: number, y0: number, x1: number, y1: number): string {
  return `<rect class="frame" x="${px(x0)}" y="${px(y1)}" width="${px(x1 - x0)}" height="${px(y0 - y1)}" fill="none" stroke="#999"/>`;
}

/** A line plot of one or more series against their first coordinate, with limit lines. */
export function linePlot(spec: LinePlotSpec): string {
  const W = spec.width ?? 1000;
  const plotH = spec.height ?? 200;
  const m = { l: 70, r: 16, b: 42 };
  const x0 = m.l;
  const x1 = W - m.r;
  const maxPoints = spec.maxPoints ?? 2000;
  const drawn = spec.series.map((s) => ({
    label: s.label,
    total: s.points.length,
    points: decimate(
      s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1])).slice().sort((a, b) => a[0] - b[0]),
      maxPoints,
    ),
  }));
  const xs = drawn.flatMap((s) => s.points.map((p) => p[0]));
  const ys = drawn.flatMap((s) => s.points.map((p) => p[1]));
  const refs = (spec.hlines ?? []).filter((h) => Number.isFinite(h.y));
  for (const h of refs) ys.push(h.y);
  const minOf = (a: number[]): number => a.reduce((p, v) => (v < p ? v : p), Number.POSITIVE_INFINITY);
  const maxOf = (a: number[]): number => a.reduce((p, v) => (v > p ? v : p), Number.NEGATIVE_INFINITY);
  const title = `<text class="title" x="${x0}" y="18" font-weight="bold">${esc(spec.title)}</text>`;
  if (xs.length === 0) {
    return `<svg class="plot" data-plot="${esc(spec.plot)}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="60" viewBox="0 0 ${W} 60" role="img" font-size="11" font-family="sans-serif">${title}<text x="${x0}" y="42" fill="#777">no points</text></svg>`;
  }
  // legend under the title: the series, then the reference lines, wrapped to the plot width
  const entries = [
    ...drawn.map((s, i) => ({ label: clip(s.label, 40), mark: `<rect width="14" height="4" y="-4" fill="${PALETTE[i % PALETTE.length]}"/>` })),
    ...refs.map((h) => ({ label: clip(h.label, 48), mark: `<line x1="0" x2="14" y1="-2" y2="-2" ${REF_STYLE[h.kind]}/>` })),
  ];
  const legend: string[] = [];
  let lx = x0;
  let ly = 34;
  for (const e of entries) {
    const w = e.label.length * 6 + 30;
    if (lx + w > x1 && lx > x0) {
      lx = x0;
      ly += 15;
    }
    legend.push(`<g class="legend" transform="translate(${px(lx)} ${ly})">${e.mark}<text x="18" y="2">${esc(e.label)}</text></g>`);
    lx += w;
  }
  const yTop = ly + 12;
  const H = yTop + plotH + m.b;
  const yBot = yTop + plotH;
  const sx = makeScale(minOf(xs), maxOf(xs), x0, x1);
  const sy = makeScale(Math.min(0, minOf(ys)), maxOf(ys), yBot, yTop);
  const parts: string[] = [title, ...legend];
  for (const t of sy.ticks) {
    const y = sy.map(t);
    parts.push(`<line x1="${x0}" x2="${x1}" y1="${px(y)}" y2="${px(y)}" stroke="#e4e4e4"/><text x="${x0 - 6}" y="${px(y + 4)}" text-anchor="end">${esc(fmtNum(t))}</text>`);
  }
  for (const t of sx.ticks) {
    const x = sx.map(t);
    parts.push(`<line x1="${px(x)}" x2="${px(x)}" y1="${yTop}" y2="${yBot}" stroke="#f0f0f0"/><text x="${px(x)}" y="${yBot + 16}" text-anchor="middle">${esc(fmtNum(t))}</text>`);
  }
  parts.push(axisFrame(x0, yBot, x1, yTop));
  parts.push(`<text x="${px((x0 + x1) / 2)}" y="${H - 6}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${px((yTop + yBot) / 2)}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`);
  for (const h of refs) {
    const y = sy.map(h.y);
    parts.push(`<g class="ref ref-${h.kind}"><line x1="${x0}" x2="${x1}" y1="${px(y)}" y2="${px(y)}" ${REF_STYLE[h.kind]}/><title>${esc(h.label)}</title></g>`);
  }
  drawn.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length] as string;
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${px(sx.map(p[0]))} ${px(sy.map(p[1]))}`).join('');
    const note = s.total > s.points.length ? ` (${s.points.length} of ${s.total} points drawn, peaks kept)` : ` (${s.total} points)`;
    parts.push(`<path class="series" data-points="${s.points.length}" d="${d}" fill="none" stroke="${color}" stroke-width="1.6"><title>${esc(s.label + note)}</title></path>`);
    if (s.points.length === 1) {
      const p = s.points[0] as [number, number];
      parts.push(`<circle cx="${px(sx.map(p[0]))}" cy="${px(sy.map(p[1]))}" r="3" fill="${color}"/>`);
    }
  });
  return `<svg class="plot" data-plot="${esc(spec.plot)}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" font-size="11" font-family="sans-serif">${parts.join('')}</svg>`;
}

/** Limits of one strip-plot row, in the row's unit. */
export interface RowLimits {
  min?: number;
  max?: number;
  marginalMin?: number;
  marginalMax?: number;
}

export interface StripRow {
  label: string;
  values: readonly number[];
  limits?: RowLimits;
}

export interface StripPlotSpec {
  plot: string;
  xLabel: string;
  rows: readonly StripRow[];
  width?: number;
  /** Dots drawn per row at most (default 300, evenly sampled, the extremes always kept); the box uses all values. */
  maxDots?: number;
}

/** Small deterministic jitter in [-1, 1] so overlapping dots stay visible and output is reproducible. */
const jitter = (i: number): number => (((i * 2654435761) >>> 0) % 1000) / 500 - 1;

/**
 * One row per message: dots for the values, a box from p25 to p75 with the median, whiskers to
 * the extremes, a p95 tick, and the limits as red (hard) and amber dashed (marginal) marks. The
 * axis is logarithmic when the values span more than two decades.
 */
export function stripPlot(spec: StripPlotSpec): string {
  const W = spec.width ?? 1000;
  const rowH = 26;
  const m = { l: 300, r: 20, t: 10, b: 40 };
  const H = m.t + m.b + rowH * Math.max(1, spec.rows.length);
  const x0 = m.l;
  const x1 = W - m.r;
  const maxDots = spec.maxDots ?? 300;
  const values: number[] = [];
  const limits: number[] = [];
  for (const r of spec.rows) {
    for (const v of r.values) if (Number.isFinite(v)) values.push(v);
    for (const l of [r.limits?.min, r.limits?.max, r.limits?.marginalMin, r.limits?.marginalMax]) if (l !== undefined && Number.isFinite(l)) limits.push(l);
  }
  if (values.length === 0 && limits.length === 0) {
    return `<svg class="plot" data-plot="${esc(spec.plot)}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img"><text x="10" y="20" fill="#777">no values</text></svg>`;
  }
  const range = (a: number[], lo0: number, hi0: number): [number, number] => a.reduce<[number, number]>(([l, h], v) => [Math.min(l, v), Math.max(h, v)], [lo0, hi0]);
  let [lo, hi] = range(values, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
  // logarithmic when the (positive) values span more than two decades; limits at or below 0 then sit on the left edge
  const log = values.length > 0 && lo > 0 && hi / lo > 100;
  [lo, hi] = range(log ? limits.filter((l) => l > 0) : limits, lo, hi);
  const sx = makeScale(log ? lo : Math.min(0, lo), hi, x0, x1, log);
  const yBot = H - m.b;
  const parts: string[] = [];
  for (const t of sx.ticks) {
    const x = sx.map(t);
    parts.push(`<line x1="${px(x)}" x2="${px(x)}" y1="${m.t}" y2="${yBot}" stroke="#ececec"/><text x="${px(x)}" y="${yBot + 16}" text-anchor="middle">${esc(fmtNum(t))}</text>`);
  }
  parts.push(axisFrame(x0, yBot, x1, m.t));
  parts.push(`<text x="${px((x0 + x1) / 2)}" y="${H - 6}" text-anchor="middle">${esc(spec.xLabel + (log ? ' (log scale)' : ''))}</text>`);
  spec.rows.forEach((r, i) => {
    const yc = m.t + rowH * i + rowH / 2;
    const values = r.values.filter((v) => Number.isFinite(v));
    const s = summarize(values);
    const g: string[] = [];
    if (i % 2 === 1) g.push(`<rect x="${x0}" y="${px(yc - rowH / 2)}" width="${px(x1 - x0)}" height="${rowH}" fill="#f7f9fc"/>`);
    g.push(`<text x="${x0 - 8}" y="${px(yc + 4)}" text-anchor="end">${esc(clip(r.label, 48))}<title>${esc(r.label)}</title></text>`);
    if (s.n > 0) {
      const xmn = sx.map(s.min);
      const xmx = sx.map(s.max);
      g.push(`<line class="whisker" x1="${px(xmn)}" x2="${px(xmx)}" y1="${px(yc)}" y2="${px(yc)}" stroke="#888"/>`);
      g.push(`<rect class="box" x="${px(sx.map(s.p25))}" y="${px(yc - 7)}" width="${px(Math.max(1, sx.map(s.p75) - sx.map(s.p25)))}" height="14" fill="#cfe0f3" stroke="#1f6fb2"/>`);
      g.push(`<line class="median" x1="${px(sx.map(s.p50))}" x2="${px(sx.map(s.p50))}" y1="${px(yc - 8)}" y2="${px(yc + 8)}" stroke="#0b3d6e" stroke-width="2"/>`);
      g.push(`<line class="p95" x1="${px(sx.map(s.p95))}" x2="${px(sx.map(s.p95))}" y1="${px(yc - 5)}" y2="${px(yc + 5)}" stroke="#0b3d6e" stroke-dasharray="2 1"/>`);
      // dots: evenly sampled when there are many, the extremes always included
      const idx: number[] = [];
      if (values.length <= maxDots) for (let k = 0; k < values.length; k++) idx.push(k);
      else {
        for (let k = 0; k < maxDots; k++) idx.push(Math.floor((k * values.length) / maxDots));
        idx.push(values.indexOf(s.min), values.indexOf(s.max));
      }
      const dots = idx.map((k) => `<circle cx="${px(sx.map(values[k] as number))}" cy="${px(yc + jitter(k) * 5)}" r="2"/>`).join('');
      g.push(`<g class="dots" data-dots="${idx.length}" fill="#1f6fb2" fill-opacity="0.55">${dots}</g>`);
      g.push(`<title>${esc(`${r.label}: n=${s.n} min=${fmtNum(s.min)} p50=${fmtNum(s.p50)} p95=${fmtNum(s.p95)} max=${fmtNum(s.max)}`)}</title>`);
    }
    const lim = r.limits ?? {};
    const mark = (v: number | undefined, kind: 'limit' | 'marginal', name: string): void => {
      if (v === undefined || !Number.isFinite(v) || (sx.log && v <= 0)) return;
      const x = sx.map(v);
      g.push(`<line class="ref ref-${kind}" x1="${px(x)}" x2="${px(x)}" y1="${px(yc - rowH / 2 + 2)}" y2="${px(yc + rowH / 2 - 2)}" ${REF_STYLE[kind]}><title>${esc(`${name} ${fmtNum(v)}`)}</title></line>`);
    };
    mark(lim.min, 'limit', 'min');
    mark(lim.max, 'limit', 'max');
    mark(lim.marginalMin, 'marginal', 'marginalMin');
    mark(lim.marginalMax, 'marginal', 'marginalMax');
    parts.push(`<g class="row" data-n="${s.n}">${g.join('')}</g>`);
  });
  return `<svg class="plot" data-plot="${esc(spec.plot)}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" font-size="11" font-family="sans-serif">${parts.join('')}</svg>`;
}
