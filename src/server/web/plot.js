// Live SVG plots of the web view (app.js): one plot per quantity (power W, current A, message
// latency ms), a line per source (a driver field, a measurement, a protocol message), redrawn at
// most once per animation frame as samples arrive. No library: plain inline SVG.
//
//   const p = new LivePlot(document.getElementById('plot-power'), { title: 'Power', unit: 'W' });
//   p.add(Date.now(), 7400, 'meter.lastReading.powerW');
//   p.clear();

const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['#0969da', '#1a7f37', '#bc4c00', '#8250df', '#cf222e', '#bf8700', '#1b7c83', '#6e7781'];
const W = 360;
const H = 180;
const PAD = { l: 46, r: 8, t: 18, b: 34 };

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A readable number for an axis label. */
function fmt(v) {
  const a = Math.abs(v);
  if (a >= 10000) return `${(v / 1000).toFixed(a >= 100000 ? 0 : 1)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1);
  if (a === 0) return '0';
  return v.toPrecision(2);
}

export class LivePlot {
  /**
   * @param {HTMLElement} host
   * @param {{ title: string, unit: string, points?: boolean, maxPoints?: number }} opts
   */
  constructor(host, opts) {
    this.host = host;
    this.opts = { points: false, maxPoints: 600, ...opts };
    /** @type {Map<string, {t: number, v: number}[]>} */
    this.series = new Map();
    this.pending = false;
    this.svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${opts.title} (${opts.unit})`, 'data-quantity': opts.unit });
    host.replaceChildren(this.svg);
    this.draw();
  }

  /** Number of points currently shown (all sources). */
  get size() {
    let n = 0;
    for (const s of this.series.values()) n += s.length;
    return n;
  }

  add(t, v, source) {
    if (!Number.isFinite(t) || !Number.isFinite(v)) return;
    let s = this.series.get(source);
    if (!s) {
      s = [];
      this.series.set(source, s);
    }
    s.push({ t, v });
    if (s.length > this.opts.maxPoints) s.splice(0, s.length - this.opts.maxPoints);
    this.schedule();
  }

  clear() {
    this.series.clear();
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw() {
    const { title, unit } = this.opts;
    const svg = this.svg;
    svg.replaceChildren();
    svg.setAttribute('data-points', String(this.size));
    svg.append(el('text', { x: PAD.l, y: 12, class: 'title' }, `${title} (${unit})`));
    const all = [...this.series.values()].flat();
    const x0 = PAD.l;
    const x1 = W - PAD.r;
    const y0 = H - PAD.b;
    const y1 = PAD.t;
    svg.append(el('rect', { x: x0, y: y1, width: x1 - x0, height: y0 - y1, fill: 'none', stroke: '#d0d7de' }));
    if (all.length === 0) {
      svg.append(el('text', { x: (x0 + x1) / 2, y: (y0 + y1) / 2, 'text-anchor': 'middle' }, 'no data yet'));
      return;
    }
    let tMin = Math.min(...all.map((p) => p.t));
    let tMax = Math.max(...all.map((p) => p.t));
    if (tMax - tMin < 1000) tMax = tMin + 1000;
    let vMin = Math.min(0, ...all.map((p) => p.v));
    let vMax = Math.max(...all.map((p) => p.v));
    if (vMax - vMin < 1e-9) vMax = vMin + 1;
    vMax += (vMax - vMin) * 0.05;
    const sx = (t) => x0 + ((t - tMin) / (tMax - tMin)) * (x1 - x0);
    const sy = (v) => y0 - ((v - vMin) / (vMax - vMin)) * (y0 - y1);
    for (let i = 0; i <= 4; i++) {
      const v = vMin + ((vMax - vMin) * i) / 4;
      const y = sy(v);
      svg.append(el('line', { x1: x0, x2: x1, y1: y, y2: y, stroke: '#eaeef2' }));
      svg.append(el('text', { x: x0 - 4, y: y + 3, 'text-anchor': 'end' }, fmt(v)));
    }
    const spanS = (tMax - tMin) / 1000;
    for (let i = 0; i <= 4; i++) {
      const x = x0 + ((x1 - x0) * i) / 4;
      svg.append(el('text', { x, y: y0 + 12, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' }, `${fmt((spanS * i) / 4)} s`));
    }
    let k = 0;
    let legendX = x0;
    for (const [source, pts] of this.series) {
      const color = COLORS[k++ % COLORS.length];
      if (pts.length > 1 && !this.opts.points) {
        svg.append(el('polyline', { points: pts.map((p) => `${sx(p.t).toFixed(1)},${sy(p.v).toFixed(1)}`).join(' '), fill: 'none', stroke: color, 'stroke-width': 1.5 }));
      } else {
        for (const p of pts) svg.append(el('circle', { cx: sx(p.t).toFixed(1), cy: sy(p.v).toFixed(1), r: 2.2, fill: color }));
      }
      const label = source.length > 28 ? `…${source.slice(-27)}` : source;
      if (legendX < x1 - 40) {
        svg.append(el('rect', { x: legendX, y: H - 12, width: 8, height: 8, fill: color }));
        svg.append(el('text', { x: legendX + 11, y: H - 4 }, label));
        legendX += 16 + label.length * 5.2;
      }
    }
  }
}
