// report.html: one self-contained page per run (inline CSS and server-side SVG, no script, no
// external resource; a Content-Security-Policy forbids both), derived from the run record and the
// driver transcripts attached beside it. writeRunOutputs (src/report/outputs.ts) writes it after
// record.json and junit.xml; `pnc-bench report <runDir>` rebuilds it. What it shows and where each
// part comes from is in docs/report.md.
//
//   const html = renderReport(record, { runDir });   // never throws on missing or corrupt attachments
//
// Everything from the record is escaped (it comes from the charger under test). Attachments are read
// only inside the run folder, checked against their SHA-256, and problems are listed on the page.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { clip, esc, fmtNum, linePlot, stripPlot, summarize, type LineSeries, type RefLine, type RowLimits } from './html-svg.ts';
import { parseTraffic, SEQUENCE_CSS, sequenceCaps, sequenceChart, sortItems, type SeqItem } from './html-traffic.ts';
import { limitsText, limitText } from './limits-text.ts';
import {
  lastAttempts,
  OUTCOMES,
  type AttachmentRecord,
  type MeasurementRecord,
  type Outcome,
  type PhaseRecord,
  type RunRecord,
  type SeriesRecord,
  type SuiteRecord,
  type TimingRecord,
  type ValidatorSpec,
} from './record.ts';

export const REPORT_FILE = 'report.html';

export interface ReportOptions {
  /** The run folder (attachment paths are relative to it); without it no attachment is read. */
  runDir?: string;
  /** Sequence-chart messages per phase (default 150); the rest are counted. */
  maxSequenceItems?: number;
  /** Sequence-chart messages on the whole page (default 600), shared by the phases (`sequenceCaps`). */
  maxSequenceTotal?: number;
  /** Log lines shown per phase (default 500). */
  maxLogLines?: number;
  /** Transcripts larger than this are not read (default 32 MiB). */
  maxAttachmentBytes?: number;
}

// Outcome colours are shared with the live server's web view (src/server/web/style.css; a test compares them).
const CSS = `
:root{--pass:#2e7d32;--fail:#c62828;--marg:#b26a00;--err:#6a1b9a;--infra:#5d4037;--skip:#757575;--line:#dde3ea}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:16px 24px;color:#1d232b;background:#fff}
h1{font-size:22px;margin:4px 0 8px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}h4{font-size:14px;margin:12px 0 4px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f6f9;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;font-size:12px}
.o-PASS{background:var(--pass)}.o-FAIL{background:var(--fail)}.o-TIMEOUT{background:var(--fail)}
.o-ERROR,.o-ABORTED{background:var(--err)}.o-INFRA{background:var(--infra)}.o-SKIPPED{background:var(--skip)}.o-marginal{background:var(--marg)}
tr.r-FAIL td{background:#fdecea}tr.r-marginal td{background:#fff4e0}tr.r-PASS td.outcome{color:var(--pass)}
tr.r-FAIL td.outcome{color:var(--fail);font-weight:600}tr.r-marginal td.outcome{color:var(--marg);font-weight:600}
.failures{border:2px solid var(--fail);background:#fff5f4;border-radius:6px;padding:8px 14px;margin:14px 0}
.failures h2{border:0;margin:4px 0;color:var(--fail)}
.failure{margin:8px 0;padding:6px 0;border-top:1px solid #f3c7c2}.failure:first-of-type{border-top:0}
.rule{font-family:ui-monospace,Menlo,Consolas,monospace;background:#fde2df;padding:0 4px;border-radius:3px}
.ok-box{border:2px solid var(--pass);background:#f1f8f1;border-radius:6px;padding:8px 14px;margin:14px 0}
.notes{border:1px solid #e0c080;background:#fffaf0;border-radius:6px;padding:6px 14px}
.phase{border:1px solid var(--line);border-radius:6px;padding:4px 12px 8px;margin:10px 0}
.phase.superseded{opacity:.75;border-style:dashed}
.muted{color:#67707a}.err{color:var(--fail)}
details>summary{cursor:pointer;font-weight:600;margin:6px 0}
.plots svg{display:block;margin:6px 0 14px;max-width:100%;height:auto}
.logs{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;background:#f7f8fa;border:1px solid var(--line);padding:6px;max-height:420px;overflow:auto}
.l-warn{color:#8a5a00}.l-error{color:var(--fail)}.l-debug{color:#888}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}dl.kv dt{color:#67707a}dl.kv dd{margin:0}
${SEQUENCE_CSS}
`;

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const badge = (o: Outcome | 'marginal', text: string = o): string => `<span class="badge o-${o}">${esc(text)}</span>`;

function value(v: MeasurementRecord['value']): string {
  if (typeof v === 'number') return fmtNum(v);
  if (typeof v === 'string') return clip(v, 300);
  return String(v);
}


const rowClass = (x: { outcome: 'PASS' | 'FAIL'; marginal: boolean }): string => (x.outcome === 'FAIL' ? 'r-FAIL' : x.marginal ? 'r-marginal' : 'r-PASS');
const outcomeCell = (x: { outcome: 'PASS' | 'FAIL'; marginal: boolean }): string => (x.outcome === 'FAIL' ? 'FAIL' : x.marginal ? 'PASS (marginal)' : 'PASS');
const ms = (v: number): string => `${fmtNum(Math.round(v * 1000) / 1000)} ms`;
const duration = (v: number): string => (v >= 60_000 ? `${Math.floor(v / 60_000)} min ${fmtNum(Math.round((v % 60_000) / 10) / 100)} s` : v >= 1000 ? `${fmtNum(Math.round(v / 10) / 100)} s` : ms(v));

// ---------------------------------------------------------------------------------------------
// attachments

type Problems = string[];

interface ReadAttachment {
  text?: string;
  problem?: string;
}

/** Reads a JSON-lines attachment inside the run folder, checking its size and SHA-256. */
function readAttachment(a: AttachmentRecord, opts: ReportOptions): ReadAttachment {
  if (!opts.runDir) return { problem: 'not read (no run folder given)' };
  const root = path.resolve(opts.runDir);
  const file = path.resolve(root, a.path);
  if (file !== root && !file.startsWith(root + path.sep)) return { problem: `path ${a.path} is outside the run folder: not read` };
  try {
    const st = statSync(file);
    if (!st.isFile()) return { problem: `${a.path} is not a file` };
    const cap = opts.maxAttachmentBytes ?? 32 * 1024 * 1024;
    if (st.size > cap) return { problem: `${a.path} has ${st.size} bytes, more than the ${cap} read for the report: traffic not drawn` };
    const buf = readFileSync(file);
    const sha = createHash('sha256').update(buf).digest('hex');
    if (sha !== a.sha256) return { problem: `${a.path} does not match its SHA-256 in the record (changed or corrupt since the run): traffic not drawn` };
    return { text: buf.toString('utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { problem: code === 'ENOENT' ? `${a.path} is missing` : `${a.path} could not be read: ${(e as Error).message}` };
  }
}

const isJsonLines = (a: AttachmentRecord): boolean => /\.jsonl$/i.test(a.path) || /jsonl|ndjson|json-seq/i.test(a.mime);

interface PhaseTraffic {
  items: SeqItem[];
  problems: string[];
}

function phaseTraffic(attachments: readonly AttachmentRecord[], opts: ReportOptions): PhaseTraffic {
  const items: SeqItem[] = [];
  const problems: string[] = [];
  for (const a of attachments.filter(isJsonLines)) {
    const r = readAttachment(a, opts);
    if (r.problem !== undefined) {
      problems.push(r.problem);
      continue;
    }
    const parsed = parseTraffic(r.text ?? '');
    if (parsed.badLines > 0 && parsed.sources.size > 0) problems.push(`${a.path}: ${parsed.badLines} line${parsed.badLines === 1 ? ' is not JSON and was' : 's are not JSON and were'} skipped`);
    for (const it of parsed.items) items.push(it);
  }
  return { items: sortItems(items), problems };
}

// ---------------------------------------------------------------------------------------------
// sections

function header(rec: RunRecord): string {
  const phases = rec.suites.flatMap((s) => lastAttempts(s.phases));
  const count = (list: ReadonlyArray<{ outcome: Outcome }>): string =>
    OUTCOMES.map((o) => [o, list.filter((x) => x.outcome === o).length] as const)
      .filter(([, n]) => n > 0)
      .map(([o, n]) => `${badge(o)} ${n}`)
      .join(' ') || '<span class="muted">none</span>';
  const ms_ = rec.suites.flatMap((s) => lastAttempts(s.phases).flatMap((p) => [...p.measurements, ...p.series]));
  const mPass = ms_.filter((m) => m.outcome === 'PASS' && !m.marginal).length;
  const mMarg = ms_.filter((m) => m.outcome === 'PASS' && m.marginal).length;
  const mFail = ms_.filter((m) => m.outcome === 'FAIL').length;
  const dut = [rec.dut.vendor, rec.dut.model].filter(Boolean).join(' ');
  const dutMore = [rec.dut.firmware ? `firmware ${rec.dut.firmware}` : '', rec.dut.hardware ? `hardware ${rec.dut.hardware}` : '', rec.dut.serial ? `serial ${rec.dut.serial}` : ''].filter(Boolean).join(', ');
  const sw = `pnc-bench ${rec.software.benchVersion}${rec.software.gitSha ? ` (${rec.software.gitSha.slice(0, 12)})` : ''}, Node ${rec.software.node}`;
  const trig = [rec.trigger.kind, rec.trigger.operator ? `by ${rec.trigger.operator}` : '', rec.trigger.pipelineId ? `pipeline ${rec.trigger.pipelineId}` : ''].filter(Boolean).join(', ');
  const flags = [rec.marginal ? badge('marginal', 'marginal') : '', rec.retried ? badge('SKIPPED', 'retried') : '', rec.recovered ? '<span class="err">recovered from a journal without run end (crash)</span>' : ''].filter(Boolean).join(' ');
  const kv = (k: string, v: string): string => `<dt>${esc(k)}</dt><dd>${v}</dd>`;
  return (
    `<header><h1>Run <span class="mono">${esc(rec.runId)}</span> ${badge(rec.outcome)} ${flags}</h1><dl class="kv">` +
    kv('rig', `<b>${esc(rec.rig.id)}</b>${rec.rig.class ? ` (${esc(rec.rig.class)})` : ''} <span class="muted mono">${esc(rec.rig.file)}, config ${esc(rec.rig.configHash.slice(0, 12))}</span>`) +
    kv('charger (DUT)', `<b>${esc(dut)}</b>${dutMore ? ` — ${esc(dutMore)}` : ''}`) +
    kv('software', esc(sw)) +
    kv('started', `${esc(rec.startedAt)}`) +
    kv('ended', `${esc(rec.endedAt)}`) +
    kv('duration', esc(duration(rec.durationMs))) +
    kv('trigger', `${esc(trig)}${rec.trigger.ciJobUrl ? ` <span class="mono">${esc(rec.trigger.ciJobUrl)}</span>` : ''}`) +
    kv('host', esc(`${rec.host.hostname} (${rec.host.platform})`)) +
    kv('suites', count(rec.suites)) +
    kv('phases', count(phases)) +
    kv('measurements', `<span class="badge o-PASS">PASS</span> ${mPass} <span class="badge o-marginal">marginal</span> ${mMarg} <span class="badge o-FAIL">FAIL</span> ${mFail}`) +
    `</dl></header>`
  );
}

function failureList(p: PhaseRecord): string {
  const out: string[] = [];
  for (const m of p.measurements.filter((x) => x.outcome === 'FAIL')) {
    out.push(`<li>measurement <b>${esc(m.name)}</b> = ${esc(value(m.value))}${m.unit ? ` ${esc(m.unit)}` : ''}, limit ${esc(limitsText(m.validators, m.unit))}${m.detail ? ` — ${esc(m.detail)}` : ''}${m.limitSource ? ` <span class="muted mono">${esc(m.limitSource)}</span>` : ''}</li>`);
  }
  for (const s of p.series.filter((x) => x.outcome === 'FAIL')) {
    out.push(`<li>series <b>${esc(s.name)}</b>, limit ${esc(limitsText(s.validators, s.unit))}${s.detail ? ` — ${esc(s.detail)}` : ''}${s.limitSource ? ` <span class="muted mono">${esc(s.limitSource)}</span>` : ''}</li>`);
  }
  return out.length ? `<ul>${out.join('')}</ul>` : '';
}

const anchor = (si: number, pi: number): string => `p-${si}-${pi}`;

function failures(rec: RunRecord): string {
  const parts: string[] = [];
  rec.suites.forEach((s, si) => {
    const counted = new Set(lastAttempts(s.phases));
    s.phases.forEach((p, pi) => {
      if (!counted.has(p) || p.outcome === 'PASS' || p.outcome === 'SKIPPED') return;
      const err = p.error
        ? `<div><b>${esc(p.error.type)}</b>${p.error.source ? ` rule <span class="rule">${esc(p.error.source)}</span>` : ''}: ${esc(p.error.message)}</div>`
        : '';
      parts.push(
        `<div class="failure" data-suite="${esc(s.name)}" data-phase="${esc(p.name)}">${badge(p.outcome)} <a href="#${anchor(si, pi)}"><b>${esc(s.name)} › ${esc(p.name)}</b></a>${p.attempt > 1 ? ` (attempt ${p.attempt})` : ''}` +
          `${p.reason ? `<div>${esc(p.reason)}</div>` : ''}${err}${failureList(p)}</div>`,
      );
    });
    const phaseOutcomes = new Set([...counted].map((p) => p.outcome));
    if (s.outcome !== 'PASS' && s.outcome !== 'SKIPPED' && !phaseOutcomes.has(s.outcome)) {
      parts.push(`<div class="failure" data-suite="${esc(s.name)}">${badge(s.outcome)} <b>${esc(s.name)}</b> (suite)${s.outcomeDetails.map((d) => `<div><span class="rule">${esc(d.code)}</span> ${esc(d.message)}</div>`).join('')}</div>`);
    }
  });
  for (const e of rec.emergencyStops) {
    parts.push(`<div class="failure">${badge('ERROR', 'EMERGENCY STOP')} ${esc(e.reason)} <span class="muted">${esc(Object.entries(e.results).map(([k, v]) => `${k}: ${v}`).join(', '))}</span></div>`);
  }
  const details = rec.outcomeDetails.length ? `<ul>${rec.outcomeDetails.map((d) => `<li><span class="rule">${esc(d.code)}</span> ${esc(d.message)}</li>`).join('')}</ul>` : '';
  if (!parts.length && rec.outcome === 'PASS') {
    return `<section id="failures" class="ok-box"><b>No failures.</b>${rec.marginal ? ' Some values passed inside their marginal band (amber below).' : ''}</section>`;
  }
  if (!parts.length && rec.outcome === 'SKIPPED') {
    const why = rec.suites.flatMap((s) => s.outcomeDetails.map((d) => `<li>${esc(s.name)}: <span class="rule">${esc(d.code)}</span> ${esc(d.message)}</li>`)).join('');
    return `<section id="failures" class="notes"><b>Nothing ran: every suite was SKIPPED</b> (the rig cannot run what was asked).${details}${why ? `<ul>${why}</ul>` : ''}</section>`;
  }
  return `<section id="failures" class="failures"><h2>Failures (${parts.length})</h2>${details}${parts.join('') || `<p>${esc(rec.outcome)} without a failing phase.</p>`}</section>`;
}

function measurementTable(p: PhaseRecord): string {
  if (!p.measurements.length && !p.series.length) return '<p class="muted">no measurements</p>';
  const rows: string[] = [];
  for (const m of p.measurements) {
    rows.push(
      `<tr class="measurement ${rowClass(m)}" data-name="${esc(m.name)}"><td><b>${esc(m.name)}</b>${m.description ? `<div class="muted">${esc(m.description)}</div>` : ''}</td>` +
        `<td class="num">${esc(value(m.value))}</td><td>${esc(m.unit ?? '')}</td><td class="limit">${esc(limitsText(m.validators, m.unit))}</td>` +
        `<td class="mono">${esc(m.limitSource ?? 'inline in the suite')}</td><td class="outcome">${outcomeCell(m)}</td><td>${esc(m.detail ?? '')}</td></tr>`,
    );
  }
  for (const s of p.series) {
    const ys = s.points.map((pt) => pt[pt.length - 1]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const sum = summarize(ys);
    const val = sum.n ? `${s.points.length} points, ${fmtNum(sum.min)} … ${fmtNum(sum.max)}` : `${s.points.length} points`;
    rows.push(
      `<tr class="measurement series ${rowClass(s)}" data-name="${esc(s.name)}"><td><b>${esc(s.name)}</b> <span class="muted">series over ${esc(s.dims.join(', ') || 'index')}</span>${s.description ? `<div class="muted">${esc(s.description)}</div>` : ''}</td>` +
        `<td class="num">${esc(val)}</td><td>${esc(s.unit ?? '')}</td><td class="limit">${esc(limitsText(s.validators, s.unit))}</td>` +
        `<td class="mono">${esc(s.limitSource ?? 'inline in the suite')}</td><td class="outcome">${outcomeCell(s)}</td><td>${esc(s.detail ?? '')}</td></tr>`,
    );
  }
  return `<table class="measurements"><thead><tr><th>measurement</th><th>value</th><th>unit</th><th>limit</th><th>limit source</th><th>outcome</th><th>detail</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function measurementsSection(rec: RunRecord): string {
  const parts: string[] = [];
  rec.suites.forEach((s, si) => {
    const counted = new Set(lastAttempts(s.phases));
    const phases = s.phases
      .map((p, pi) => {
        const superseded = !counted.has(p);
        const err = p.error ? `<div class="err"><b>${esc(p.error.type)}</b>${p.error.source ? ` <span class="rule">${esc(p.error.source)}</span>` : ''}: ${esc(p.error.message)}</div>` : '';
        return (
          `<div class="phase${superseded ? ' superseded' : ''}" id="${anchor(si, pi)}"><h4>${esc(p.name)} <span class="muted">${esc(p.group)}${p.attempt > 1 || superseded ? `, attempt ${p.attempt}` : ''}${superseded ? ', retried (a later attempt counts)' : ''}</span> ${badge(p.outcome)}${p.marginal ? ` ${badge('marginal')}` : ''} <span class="muted">${esc(duration(p.durationMs))}</span></h4>` +
          `${p.reason ? `<div>${esc(p.reason)}</div>` : ''}${err}${measurementTable(p)}</div>`
        );
      })
      .join('');
    const det = s.outcomeDetails.length ? `<ul>${s.outcomeDetails.map((d) => `<li><span class="rule">${esc(d.code)}</span> ${esc(d.message)}</li>`).join('')}</ul>` : '';
    parts.push(
      `<details class="suite" open><summary>${esc(s.name)} <span class="muted">${esc(s.version)}</span> ${badge(s.outcome)}${s.marginal ? ` ${badge('marginal')}` : ''} <span class="muted">${esc(duration(s.durationMs))}, ${esc(s.file)}</span></summary>${det}${phases || '<p class="muted">no phases ran</p>'}</details>`,
    );
  });
  return `<section id="measurements"><h2>Measurements and limits</h2>${parts.join('') || '<p class="muted">no suites</p>'}</section>`;
}

// ---------------------------------------------------------------------------------------------
// timing per message

const norm = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '');

interface TimingGroup {
  key: string;
  protocol: string;
  message: string;
  direction: string;
  points: TimingRecord[];
  limit?: { m: MeasurementRecord; suite: string; phase: string; limits: RowLimits };
}

/**
 * The measurement that limits a timing group: a ms measurement with an inRange limit in the same
 * suite (and phase when both name one) whose value equals one of the group's latencies (the suite
 * measured the latency it also wrote to hil_timing), else one whose name contains the message name.
 */
function findLimit(rec: RunRecord, g: TimingGroup): TimingGroup['limit'] {
  const candidates: Array<{ m: MeasurementRecord; suite: string; phase: string; limits: RowLimits }> = [];
  for (const s of rec.suites) {
    for (const p of s.phases) {
      for (const m of p.measurements) {
        const range = m.validators.find((v): v is Extract<ValidatorSpec, { kind: 'inRange' }> => v.kind === 'inRange');
        if (!range || (m.unit ?? '').toLowerCase() !== 'ms') continue;
        const { kind: _kind, ...limits } = range;
        candidates.push({ m, suite: s.name, phase: p.name, limits });
      }
    }
  }
  const sameScope = (c: (typeof candidates)[number], t: TimingRecord): boolean => (t.suite === undefined || t.suite === c.suite) && (t.phase === undefined || t.phase === c.phase);
  // latencies by scope and value (µs resolution, as recorded), so a long run stays linear
  const key = (suite: string | undefined, phase: string | undefined, v: number): string => `${suite ?? ''}\u0000${phase ?? ''}\u0000${Math.round(v * 1000)}`;
  const seen = new Set(g.points.map((t) => key(t.suite, t.phase, t.latencyMs)));
  for (const c of candidates) {
    if (typeof c.m.value !== 'number') continue;
    const v = c.m.value;
    if ([key(c.suite, c.phase, v), key(c.suite, undefined, v), key(undefined, c.phase, v), key(undefined, undefined, v)].some((k) => seen.has(k))) return c;
  }
  const tail = norm(g.message.split('.').pop() ?? g.message).replace(/(req|res|conf)$/, '');
  if (tail.length >= 4) for (const c of candidates) if (norm(c.m.name).includes(tail) && g.points.some((t) => sameScope(c, t))) return c;
  return undefined;
}

function timingSection(rec: RunRecord): string {
  if (!rec.timings.length) return `<section id="timing"><h2>Timing per message</h2><p class="muted">No timing points in this run.</p></section>`;
  const groups = new Map<string, TimingGroup>();
  for (const t of rec.timings) {
    const key = `${t.protocol}\u0000${t.message}\u0000${t.direction}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, protocol: t.protocol, message: t.message, direction: t.direction, points: [] }));
    g.points.push(t);
  }
  const list = [...groups.values()].sort((a, b) => a.protocol.localeCompare(b.protocol) || (a.points[0]?.seq ?? 0) - (b.points[0]?.seq ?? 0));
  for (const g of list) g.limit = findLimit(rec, g);
  const maxRows = 60;
  const plotted = list.slice(0, maxRows);
  const svg = stripPlot({
    plot: 'timing',
    xLabel: 'latency (ms)',
    rows: plotted.map((g) => ({ label: `${g.protocol} ${g.message} ${g.direction}`, values: g.points.map((p) => p.latencyMs), limits: g.limit?.limits })),
  });
  const rows = list.map((g) => {
    const s = summarize(g.points.map((p) => p.latencyMs));
    const lim = g.limit;
    const over = lim ? g.points.filter((p) => (lim.limits.max !== undefined && p.latencyMs > lim.limits.max) || (lim.limits.min !== undefined && p.latencyMs < lim.limits.min)).length : 0;
    const limitCell = lim
      ? `${esc(limitText({ kind: 'inRange', ...lim.limits }, 'ms'))}<div class="muted">${esc(`${lim.m.name} in ${lim.suite} › ${lim.phase}`)}${lim.m.limitSource ? ` <span class="mono">${esc(lim.m.limitSource)}</span>` : ''}</div>`
      : '<span class="muted">no limit measured</span>';
    return (
      `<tr class="${over ? 'r-FAIL' : ''}" data-message="${esc(g.message)}"><td>${esc(g.protocol)}</td><td><b>${esc(g.message)}</b></td><td>${esc(g.direction)}</td><td class="num">${s.n}</td>` +
      `<td class="num">${esc(fmtNum(s.min))}</td><td class="num">${esc(fmtNum(s.p50))}</td><td class="num">${esc(fmtNum(s.p95))}</td><td class="num">${esc(fmtNum(s.max))}</td>` +
      `<td class="limit">${limitCell}</td><td class="num">${lim ? over : ''}</td></tr>`
    );
  });
  const more = list.length > plotted.length ? `<p class="muted">${list.length - plotted.length} more messages in the table only.</p>` : '';
  return (
    `<section id="timing"><h2>Timing per message</h2><p class="muted">${rec.timings.length} timing points (hil_timing). Box: p25–p75 with the median, dashed tick: p95, whiskers: min–max; red: limit, amber dashed: marginal bound.</p>` +
    `<div class="plots">${svg}</div>${more}<table class="timing"><thead><tr><th>protocol</th><th>message</th><th>direction</th><th>n</th><th>min ms</th><th>p50 ms</th><th>p95 ms</th><th>max ms</th><th>limit</th><th>over limit</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`
  );
}

// ---------------------------------------------------------------------------------------------
// power, energy, current, voltage over time

type Quantity = 'power' | 'energy' | 'current' | 'voltage';

/** Unit → quantity and factor to the base unit (W, Wh, A, V). */
const UNITS: Record<string, [Quantity, number]> = {
  w: ['power', 1],
  kw: ['power', 1000],
  mw: ['power', 1e6],
  wh: ['energy', 1],
  kwh: ['energy', 1000],
  mwh: ['energy', 1e6],
  a: ['current', 1],
  ma: ['current', 0.001],
  v: ['voltage', 1],
  kv: ['voltage', 1000],
};
const QUANTITIES: ReadonlyArray<[Quantity, string, string, string]> = [
  ['power', 'Power', 'W', 'kW'],
  ['energy', 'Energy', 'Wh', 'kWh'],
  ['current', 'Current', 'A', 'A'],
  ['voltage', 'Voltage', 'V', 'V'],
];

/** [x, y] of a series against its first coordinate (epoch-ms coordinates made relative to the phase start). */
function seriesPoints(s: SeriesRecord, p: PhaseRecord, factor: number): { points: Array<[number, number]>; xLabel: string } {
  const pts: Array<[number, number]> = [];
  s.points.forEach((pt, i) => {
    const y = pt[pt.length - 1];
    const x = s.dims.length ? pt[0] : i;
    if (typeof x === 'number' && typeof y === 'number' && pt.length >= (s.dims.length ? 2 : 1)) pts.push([x, y * factor]);
  });
  const epoch = pts.length > 0 && pts.every(([x]) => x > 1e12);
  if (epoch) for (const q of pts) q[0] = q[0] - p.tStart;
  const dim = s.dims[0] ?? 'index';
  return { points: pts, xLabel: epoch ? `${dim} − phase start (ms)` : dim };
}

function refLines(s: SeriesRecord, factor: number, scale: number, unit: string): RefLine[] {
  const out: RefLine[] = [];
  const y = (v: number): number => (v * factor) / scale;
  for (const v of s.validators) {
    if (v.kind === 'inRange') {
      if (v.max !== undefined) out.push({ y: y(v.max), kind: 'limit', label: `${s.name} max ${fmtNum(y(v.max))} ${unit}` });
      if (v.min !== undefined) out.push({ y: y(v.min), kind: 'limit', label: `${s.name} min ${fmtNum(y(v.min))} ${unit}` });
      if (v.marginalMax !== undefined) out.push({ y: y(v.marginalMax), kind: 'marginal', label: `${s.name} marginal above ${fmtNum(y(v.marginalMax))} ${unit}` });
      if (v.marginalMin !== undefined) out.push({ y: y(v.marginalMin), kind: 'marginal', label: `${s.name} marginal below ${fmtNum(y(v.marginalMin))} ${unit}` });
    } else if (v.kind === 'withinPercent') {
      out.push({ y: y(v.target), kind: 'target', label: `${s.name} target ${fmtNum(y(v.target))} ${unit} ± ${v.percent} %` });
      out.push({ y: y(v.target * (1 + v.percent / 100)), kind: 'limit', label: `+${v.percent} %` });
      out.push({ y: y(v.target * (1 - v.percent / 100)), kind: 'limit', label: `−${v.percent} %` });
    }
  }
  return out;
}

function powerSection(rec: RunRecord): string {
  const blocks: string[] = [];
  rec.suites.forEach((s, si) => {
    s.phases.forEach((p, pi) => {
      const plots: string[] = [];
      for (const [q, title, base, big] of QUANTITIES) {
        const of = p.series
          .map((sr) => ({ sr, u: UNITS[(sr.unit ?? '').trim().toLowerCase()] }))
          .filter((x): x is { sr: SeriesRecord; u: [Quantity, number] } => x.u !== undefined && x.u[0] === q);
        if (!of.length) continue;
        const prepared = of.map(({ sr, u }) => ({ sr, factor: u[1], ...seriesPoints(sr, p, u[1]) }));
        const peak = prepared.reduce((m, x) => x.points.reduce((mm, [, y]) => Math.max(mm, Math.abs(y)), m), 0);
        const scale = big !== base && peak >= 10_000 ? 1000 : 1;
        const unit = scale === 1000 ? big : base;
        const series: LineSeries[] = prepared.map((x) => ({ label: x.sr.name, points: x.points.map(([x_, y_]) => [x_, y_ / scale] as [number, number]) }));
        const hlines = prepared.flatMap((x) => refLines(x.sr, x.factor, scale, unit));
        plots.push(linePlot({ plot: q, title: `${title} — ${s.name} › ${p.name}${p.attempt > 1 ? ` (attempt ${p.attempt})` : ''}`, xLabel: prepared[0]?.xLabel ?? 't', yLabel: unit, series, hlines }));
      }
      if (plots.length) blocks.push(`<div class="plots" data-phase="${esc(p.name)}"><h3><a href="#${anchor(si, pi)}">${esc(s.name)} › ${esc(p.name)}</a></h3>${plots.join('')}</div>`);
    });
  });
  return `<section id="power"><h2>Power and energy over time</h2>${blocks.join('') || '<p class="muted">No power, energy, current or voltage series (units W, kW, Wh, kWh, A, V) in this run.</p>'}</section>`;
}

// ---------------------------------------------------------------------------------------------
// message sequence

function sequenceSection(rec: RunRecord, opts: ReportOptions, problems: Problems): string {
  const charts: Array<{ title: string; items: SeqItem[]; t0: number; phaseName?: string; href?: string }> = [];
  const read = (title: string, attachments: readonly AttachmentRecord[], t0: number, phaseName?: string, href?: string): void => {
    if (!attachments.some(isJsonLines)) return;
    const { items, problems: pr } = phaseTraffic(attachments, opts);
    for (const x of pr) problems.push(`${title}: ${x}`);
    if (items.length) charts.push({ title, items, t0, phaseName, href });
  };
  rec.suites.forEach((s, si) => s.phases.forEach((p, pi) => read(`${s.name} › ${p.name}${p.attempt > 1 ? ` (attempt ${p.attempt})` : ''}`, p.attachments, p.tStart, p.name, anchor(si, pi))));
  read('outside phases (opening, preflight, closing)', rec.attachments, rec.tStart);
  // a page-wide budget besides the per-phase cap: a run of many busy phases stays a page of bounded size
  const caps = sequenceCaps(
    charts.map((c) => c.items.length),
    opts.maxSequenceItems ?? 150,
    opts.maxSequenceTotal ?? 600,
  );
  const blocks = charts.map(({ title, items, t0, phaseName, href }, i) => {
    const ocpp = items.filter((it) => it.protocol === 'ocpp').length;
    const v2g = items.length - ocpp;
    const h = href ? `<a href="#${href}">${esc(title)}</a>` : esc(title);
    return `<details class="seq-block" open${phaseName !== undefined ? ` data-phase="${esc(phaseName)}"` : ''}><summary>${h} <span class="muted">${ocpp} OCPP, ${v2g} ISO 15118 messages</span></summary><div class="plots">${sequenceChart(items, { t0, maxItems: caps[i] ?? 0 })}</div></details>`;
  });
  return (
    `<section id="sequence"><h2>Message sequence</h2><p class="muted">OCPP frames from the CSMS transcript and ISO 15118-2 messages from the EV emulator transcript, per phase; times from the phase start; hover an arrow for the frame. Dashed: answers; red: CALLERROR, violations, failed response codes.</p>` +
    `${blocks.join('') || '<p class="muted">No OCPP or ISO 15118 transcript attached to this run.</p>'}</section>`
  );
}

// ---------------------------------------------------------------------------------------------
// rig, attachments, logs

function rigSection(rec: RunRecord, opts: ReportOptions, problems: Problems): string {
  const parts: string[] = [];
  const drivers = Object.entries(rec.rig.drivers);
  if (drivers.length) {
    parts.push(`<table><thead><tr><th>role</th><th>driver</th><th>provides</th></tr></thead><tbody>${drivers.map(([k, d]) => `<tr><td>${esc(k)}</td><td>${esc(d.driver)}</td><td>${esc(d.provides.join(', '))}</td></tr>`).join('')}</tbody></table>`);
  }
  if (rec.rigHealth.length) {
    parts.push(
      `<h3>Rig health</h3><table><thead><tr><th>time</th><th>resource</th><th>check</th><th>ok</th><th>reconnects</th><th>detail</th></tr></thead><tbody>${rec.rigHealth
        .map((h) => `<tr class="${h.ok ? '' : 'r-FAIL'}"><td class="num">${esc(ms(h.t - rec.tStart))}</td><td>${esc(h.resource)}</td><td>${esc(h.check)}</td><td>${h.ok ? 'yes' : '<b class="err">no</b>'}</td><td class="num">${h.reconnects}</td><td>${esc(h.detail)}</td></tr>`)
        .join('')}</tbody></table>`,
    );
  }
  if (rec.throughput.length) {
    const rows = rec.throughput.slice(0, 200);
    parts.push(
      `<h3>Link throughput</h3><table><thead><tr><th>time</th><th>link</th><th>window</th><th>frames/s</th><th>bytes/s</th><th>errors</th><th>dropped</th></tr></thead><tbody>${rows
        .map((t) => `<tr class="${t.errors || t.dropped ? 'r-marginal' : ''}"><td class="num">${esc(ms(t.t - rec.tStart))}</td><td>${esc(t.link)}</td><td>${esc(t.window)}</td><td class="num">${esc(fmtNum(t.framesPerS))}</td><td class="num">${esc(fmtNum(t.bytesPerS))}</td><td class="num">${t.errors}</td><td class="num">${t.dropped}</td></tr>`)
        .join('')}</tbody></table>${rec.throughput.length > rows.length ? `<p class="muted">${rec.throughput.length - rows.length} more windows in record.json.</p>` : ''}`,
    );
  }
  // attachments: existence and size (content is checked where a transcript is drawn)
  const all: Array<{ where: string; a: AttachmentRecord }> = [];
  for (const s of rec.suites) for (const p of s.phases) for (const a of p.attachments) all.push({ where: `${s.name} › ${p.name}${p.attempt > 1 ? ` (attempt ${p.attempt})` : ''}`, a });
  for (const a of rec.attachments) all.push({ where: 'run', a });
  if (all.length) {
    const rows = all.map(({ where, a }) => {
      let state = 'ok';
      if (opts.runDir) {
        const root = path.resolve(opts.runDir);
        const file = path.resolve(root, a.path);
        if (!file.startsWith(root + path.sep)) state = 'outside the run folder';
        else {
          try {
            const st = statSync(file);
            if (st.size !== a.bytes) state = `size ${st.size} ≠ ${a.bytes} recorded`;
          } catch {
            state = 'missing';
          }
        }
        if (state !== 'ok') problems.push(`attachment ${a.path} (${where}): ${state}`);
      } else state = 'not checked';
      const link = state === 'ok' && !/^[a-z][a-z0-9+.-]*:/i.test(a.path) ? `<a href="${esc(a.path.split('/').map(encodeURIComponent).join('/'))}">${esc(a.path)}</a>` : esc(a.path);
      return `<tr class="${state === 'ok' || state === 'not checked' ? '' : 'r-FAIL'}"><td>${esc(where)}</td><td>${esc(a.name)}</td><td class="mono">${link}</td><td>${esc(a.mime)}</td><td class="num">${a.bytes}</td><td class="mono">${esc(a.sha256.slice(0, 16))}…</td><td>${esc(state)}</td></tr>`;
    });
    parts.push(`<details><summary>Attachments (${all.length})</summary><table><thead><tr><th>where</th><th>name</th><th>file</th><th>type</th><th>bytes</th><th>sha256</th><th>state</th></tr></thead><tbody>${rows.join('')}</tbody></table></details>`);
  }
  return `<section id="rig"><h2>Rig</h2>${parts.join('') || '<p class="muted">nothing recorded</p>'}</section>`;
}

function logsSection(rec: RunRecord, opts: ReportOptions): string {
  const max = opts.maxLogLines ?? 500;
  const blocks: string[] = [];
  for (const s of rec.suites) {
    for (const p of s.phases) {
      if (!p.logs.length) continue;
      const shown = p.logs.slice(0, max);
      const warn = p.logs.filter((l) => l.level === 'warn' || l.level === 'error').length;
      const lines = shown.map((l) => `<div class="l-${l.level}">${esc(`${`+${fmtNum(Math.round((l.t - p.tStart) * 1000) / 1000)} ms`.padStart(14)}  ${l.level.padEnd(5)} ${l.msg}`)}</div>`).join('');
      const more = p.logs.length > shown.length ? `<div class="muted">… ${p.logs.length - shown.length} more lines in record.json</div>` : '';
      blocks.push(`<details class="log"${warn ? ' open' : ''}><summary>${esc(s.name)} › ${esc(p.name)}${p.attempt > 1 ? ` (attempt ${p.attempt})` : ''} <span class="muted">${p.logs.length} line${p.logs.length === 1 ? '' : 's'}${warn ? `, ${warn} warning${warn === 1 ? '' : 's'} or error${warn === 1 ? '' : 's'}` : ''}</span></summary><div class="logs">${lines}${more}</div></details>`);
    }
  }
  return `<section id="logs"><h2>Logs</h2>${blocks.join('') || '<p class="muted">no log lines</p>'}</section>`;
}

/** The whole page. Never throws for bad attachments: their problems are listed under "Report notes". */
export function renderReport(rec: RunRecord, opts: ReportOptions = {}): string {
  const problems: Problems = [];
  const body = [header(rec), failures(rec), measurementsSection(rec), timingSection(rec), powerSection(rec), sequenceSection(rec, opts, problems), rigSection(rec, opts, problems), logsSection(rec, opts)];
  const unique = [...new Set(problems)];
  const notes = unique.length
    ? `<section id="notes" class="notes"><h2>Report notes</h2><p>Some attachments could not be used for this page; the record itself is complete.</p><ul>${unique.map((p) => `<li>${esc(p)}</li>`).join('')}</ul></section>`
    : '';
  // notes go right after the failures summary
  body.splice(2, 0, notes);
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(`pnc-bench ${rec.runId} — ${rec.outcome}`)}</title><style>${CSS}</style></head>\n<body>\n` +
    body.join('\n') +
    `\n<footer class="muted"><p>Derived from record.json (${esc(rec.schema)}) by pnc-bench ${esc(rec.software.benchVersion)}; rebuild with <code>pnc-bench report &lt;runDir&gt;</code>.</p></footer>\n</body></html>\n`
  );
}

/** A page that says the report could not be built, and why (written instead of a half page). */
export function renderReportFailure(rec: Pick<RunRecord, 'runId' | 'outcome'>, error: unknown): string {
  const msg = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error);
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}"><title>${esc(`pnc-bench ${rec.runId} — ${rec.outcome}`)}</title></head>` +
    `<body><h1>Run ${esc(rec.runId)}: ${esc(rec.outcome)}</h1><p>The HTML report could not be built; record.json and junit.xml are complete. Rebuild with <code>pnc-bench report &lt;runDir&gt;</code> after fixing the cause.</p><pre>${esc(msg)}</pre></body></html>\n`
  );
}
