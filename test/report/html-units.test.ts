// report.html without a browser: the SVG builders (scales, decimation, line and strip plots), the
// transcript reader behind the sequence chart, and the page and its writing into a run folder
// (missing/corrupt attachments, escaping, page size, rebuild from the journal). The page as drawn by
// Chromium is tested in html.test.ts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderReport, renderReportFailure } from '../../src/report/html.ts';
import { limitText } from '../../src/report/limits-text.ts';
import { decimate, esc, escText, linePlot, niceTicks, percentile, stripPlot, summarize } from '../../src/report/html-svg.ts';
import { parseTraffic, sequenceCaps, sequenceChart, sortItems } from '../../src/report/html-traffic.ts';
import { JOURNAL_FILE, type JournalEvent } from '../../src/report/journal.ts';
import { rebuildRun, writeRunOutputs } from '../../src/report/outputs.ts';
import type { RunRecord } from '../../src/report/record.ts';
import { sampleRecord, writeSampleRun } from '../helpers/sample-record.ts';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), 'pnc-html-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;

describe('html-svg building blocks', () => {
  it('escapes markup, quotes and control characters', () => {
    expect(esc(`<script>alert("x" & 'y')</script>`)).toBe('&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;');
    expect(esc('a\u0000b\u001bc\td')).toBe('a\ufffdb\ufffdc\td');
    // element content only: quotes stay (JSON frames in tooltips), markup does not
    expect(escText(`<b a="1">'x' & \u0000`)).toBe(`&lt;b a="1"&gt;'x' &amp; \ufffd`);
  });

  it('computes nearest-rank percentiles and summaries', () => {
    const v = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
    const s = summarize([...v, Number.NaN]);
    expect(s).toMatchObject({ n: 100, min: 1, p25: 25, p50: 50, p75: 75, p95: 95, max: 100, mean: 50.5 });
    expect(percentile([7], 95)).toBe(7);
    expect(Number.isNaN(summarize([]).p50)).toBe(true);
  });

  it('picks round ticks covering the range', () => {
    expect(niceTicks(0, 150_000)).toEqual([0, 20_000, 40_000, 60_000, 80_000, 100_000, 120_000, 140_000]);
    expect(niceTicks(0.1, 0.9)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(-3, 3)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    expect(niceTicks(5, 5)).toEqual([5]);
  });

  it('decimates a long series keeping its peaks and order', () => {
    const pts: Array<[number, number]> = Array.from({ length: 20_000 }, (_, i) => [i, Math.sin(i / 500)]);
    pts[12_345] = [12_345, 50];
    pts[777] = [777, -40];
    const d = decimate(pts, 1000);
    expect(d.length).toBeLessThanOrEqual(1000);
    expect(d.length).toBeGreaterThan(900);
    expect(d).toContainEqual([12_345, 50]);
    expect(d).toContainEqual([777, -40]);
    for (let i = 1; i < d.length; i++) expect((d[i] as [number, number])[0]).toBeGreaterThan((d[i - 1] as [number, number])[0]);
    expect(decimate([[0, 1]], 10)).toEqual([[0, 1]]);
  });

  it('draws a line plot with every point, limit lines and an escaped legend', () => {
    const points = Array.from({ length: 300 }, (_, i) => [i * 10, i * 100] as [number, number]);
    const svg = linePlot({
      plot: 'power',
      title: 'Power',
      xLabel: 't_ms',
      yLabel: 'W',
      series: [{ label: 'p<b>', points }],
      hlines: [
        { y: 35_000, kind: 'limit', label: 'max 35000' },
        { y: 32_000, kind: 'marginal', label: 'marginal' },
      ],
    });
    const d = /<path class="series" data-points="(\d+)" d="([^"]+)"/.exec(svg);
    expect(d?.[1]).toBe('300');
    expect(count(d?.[2] ?? '', /[ML]/g)).toBe(300);
    expect(svg).toContain('p&lt;b&gt;');
    expect(svg).not.toContain('p<b>');
    expect(count(svg, /class="ref ref-limit"/g)).toBe(1);
    expect(count(svg, /class="ref ref-marginal"/g)).toBe(1);
    // y range reaches the limit line: the series' top (29 900) is below the 35 000 line
    const ys = [...(d?.[2] ?? '').matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]));
    const limY = Number(/class="ref ref-limit"><line x1="\d+" x2="\d+" y1="([\d.]+)"/.exec(svg)?.[1]);
    expect(Math.min(...ys)).toBeGreaterThan(limY);
    expect(linePlot({ plot: 'energy', title: 'E', xLabel: 't', yLabel: 'Wh', series: [{ label: 'e', points: [] }] })).toContain('no points');
  });

  it('draws a strip plot per row, logarithmic over decades, with capped dots and limit marks', () => {
    const many = Array.from({ length: 5000 }, (_, i) => 5 + (i % 50));
    const svg = stripPlot({
      plot: 'timing',
      xLabel: 'latency (ms)',
      maxDots: 100,
      rows: [
        { label: 'ocpp Authorize cp->csms', values: [1612.4], limits: { min: 0, max: 2000, marginalMax: 1500 } },
        { label: 'v2g CurrentDemandReq ev->secc', values: many },
      ],
    });
    expect(count(svg, /<g class="row"/g)).toBe(2);
    expect(svg).toContain('(log scale)');
    expect(svg).toContain('data-n="5000"');
    expect(svg).toContain('data-dots="102"'); // 100 sampled + both extremes
    // min 0 cannot be placed on a log axis: only max and marginalMax are drawn
    expect(count(svg, /class="ref ref-limit"/g)).toBe(1);
    expect(count(svg, /class="ref ref-marginal"/g)).toBe(1);
    const linear = stripPlot({ plot: 'timing', xLabel: 'ms', rows: [{ label: 'a', values: [10, 20, 30] }] });
    expect(linear).not.toContain('log scale');
  });
});

// ------------------------------------------------------------------------------------ transcripts

const PNC = 'org.openchargealliance.iso15118pnc';
const ocppLine = (tUs: number, dir: 'in' | 'out', frame: unknown, cp = 'CP1'): string => JSON.stringify({ tUs, cp, dir, frame });
const v2gLine = (t: number, dir: string, message: string, responseCode?: string): string =>
  JSON.stringify({ t: t + 0.2, dir: 'rx', topic: 'everest/modules/iso15118_car/impl/ev/var/V2G_Messages', payload: JSON.stringify({ data: { dir, message, ...(responseCode ? { responseCode } : {}), t } }) });

describe('transcript reader', () => {
  it('labels PnC DataTransfer by messageId and matches answers to their CALL', () => {
    const text = [
      ocppLine(1_000_000, 'in', [2, 'a1', 'DataTransfer', { vendorId: PNC, messageId: 'Authorize', data: '{}' }]),
      ocppLine(1_002_000, 'in', [2, 'a2', 'DataTransfer', { vendorId: 'com.acme', messageId: 'Foo' }]),
      ocppLine(1_050_000, 'out', [3, 'a1', { status: 'Accepted', data: JSON.stringify({ idTokenInfo: { status: 'Invalid' } }) }]),
      ocppLine(1_060_000, 'out', [4, 'a2', 'NotImplemented', '', {}]),
      ocppLine(1_070_000, 'out', [3, 'zz', {}]),
      ocppLine(1_080_000, 'out', [2, 'c1', 'TriggerMessage', { requestedMessage: 'BootNotification' }]),
      ocppLine(1_090_000, 'in', [3, 'c1', { status: 'Accepted' }]),
      JSON.stringify({ tUs: 1_095_000, cp: 'CP1', dir: 'in', raw: 'not json at all' }),
      JSON.stringify({ tUs: 1_096_000, cp: 'CP1', event: 'violation', detail: { rule: 'pnc.schema.Authorize.req', message: 'x' } }),
      JSON.stringify({ tUs: 1_097_000, cp: 'CP1', event: 'listening' }),
      '{"tUs": 1, "cp": "CP1", "dir": "in", "fra',
    ].join('\n');
    const r = parseTraffic(text);
    expect(r.sources).toEqual(new Set(['ocpp']));
    expect(r.badLines).toBe(1);
    expect(r.items.map((i) => [i.label, i.from, i.to, i.kind, i.bad])).toEqual([
      ['DataTransfer.Authorize', 'charger', 'csms', 'call', false],
      ['DataTransfer.Foo (com.acme)', 'charger', 'csms', 'call', false],
      ['DataTransfer.Authorize.conf Accepted (data: Invalid)', 'csms', 'charger', 'result', false],
      ['DataTransfer.Foo (com.acme) CALLERROR NotImplemented', 'csms', 'charger', 'error', true],
      ['#zz (no matching CALL).conf', 'csms', 'charger', 'result', true],
      ['TriggerMessage', 'csms', 'charger', 'call', false],
      ['TriggerMessage.conf Accepted', 'charger', 'csms', 'result', false],
      ['unreadable frame', 'charger', 'csms', 'error', true],
      ['violation pnc.schema.Authorize.req', 'csms', 'csms', 'note', true],
    ]);
    expect(r.items[0]?.t).toBe(1000);
  });

  it('prefixes labels with the charge point once a transcript holds two', () => {
    const r = parseTraffic([ocppLine(1000, 'in', [2, '1', 'Heartbeat', {}], 'A'), ocppLine(2000, 'in', [2, '1', 'Heartbeat', {}], 'B'), ocppLine(3000, 'out', [3, '1', {}], 'A')].join('\n'));
    expect(r.items.map((i) => i.label)).toEqual(['Heartbeat', '[B] Heartbeat', '[A] Heartbeat.conf']);
  });

  it('reads the virtual EV V2G_Messages from the EV driver transcript and ignores other topics', () => {
    const text = [
      JSON.stringify({ t: 1, event: 'connect', url: 'mqtt://127.0.0.1:1' }),
      JSON.stringify({ t: 2, dir: 'tx', topic: 'everest_external/nodered/1/carsim/cmd/enable', payload: 'true' }),
      JSON.stringify({ t: 3, dir: 'rx', topic: 'everest/modules/ev_manager/impl/ev_manager/var/bsp_event', payload: '{"data":"C"}' }),
      v2gLine(10.5, 'EV->SECC', 'SessionSetupReq'),
      v2gLine(20.25, 'SECC->EV', 'SessionSetupRes', 'OK_NewSessionEstablished'),
      v2gLine(30, 'SECC->EV', 'AuthorizationRes', 'FAILED_CertificateRevoked'),
      v2gLine(40, 'sideways', 'PowerDeliveryReq'),
      JSON.stringify({ t: 50, dir: 'rx', topic: 'everest/modules/x/impl/ev/var/V2G_Messages', payload: 'garbage' }),
    ].join('\n');
    const r = parseTraffic(text);
    expect(r.sources).toEqual(new Set(['ev']));
    expect(r.items.map((i) => [i.t, i.label, i.from, i.to, i.bad])).toEqual([
      [10.5, 'SessionSetupReq', 'ev', 'charger', false],
      [20.25, 'SessionSetupRes OK_NewSessionEstablished', 'charger', 'ev', false],
      [30, 'AuthorizationRes FAILED_CertificateRevoked', 'charger', 'ev', true],
      [40, 'PowerDeliveryReq (dir sideways)', 'ev', 'ev', true],
      [50, 'unreadable V2G_Messages payload', 'ev', 'ev', true],
    ]);
  });

  it('caps the sequence chart and says how many messages were left out', () => {
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) lines.push(v2gLine(1000 + i, i % 2 ? 'SECC->EV' : 'EV->SECC', i % 2 ? 'CurrentDemandRes' : 'CurrentDemandReq', i % 2 ? 'OK' : undefined));
    const items = sortItems(parseTraffic(lines.reverse().join('\n')).items);
    expect(items[0]?.t).toBe(1000);
    const svg = sequenceChart(items, { t0: 900, maxItems: 25 });
    expect(count(svg, /<g class="msg /g)).toBe(25);
    expect(count(svg, /<polygon class="head"/g)).toBe(25);
    expect(svg).toContain('data-omitted="15"');
    expect(svg).toContain('15 more messages in this phase not drawn');
    expect(svg).toContain('+100 ms');
    const all = sequenceChart(items, { t0: 900 });
    expect(all).toContain('data-omitted="0"');
    expect(all).not.toContain('more messages');
  });

  it('shares a page-wide message budget among the charts, small ones first', () => {
    expect(sequenceCaps([5, 300, 300, 10], 150, 1000)).toEqual([5, 150, 150, 10]);
    // 5 + 10 kept whole; 85 left for the two large ones, shared evenly (the odd one to the last)
    expect(sequenceCaps([5, 300, 300, 10], 150, 100)).toEqual([5, 42, 43, 10]);
    expect(sequenceCaps([300, 1, 300, 300], 150, 301)).toEqual([100, 1, 100, 100]);
    expect(sequenceCaps([3, 3, 3], 150, 0)).toEqual([0, 0, 0]);
    expect(sequenceCaps([], 150, 600)).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------ the page

describe('report page', () => {
  it('shows every measurement with its limit and the failures with their rule', () => {
    const dir = tempDir();
    const { record } = writeSampleRun(dir);
    const html = renderReport(record, { runDir: dir });
    const rows = [...html.matchAll(/<tr class="measurement[^"]*" data-name="([^"]*)">(.*?)<\/tr>/g)];
    const expected = record.suites.flatMap((s) => s.phases.flatMap((p) => [...p.measurements, ...p.series]));
    expect(rows.length).toBe(expected.length);
    for (const m of expected) {
      const row = rows.find((r) => r[1] === esc(m.name));
      const limit = /<td class="limit">(.*?)<\/td>/.exec(row?.[2] ?? '')?.[1];
      const want = m.validators.length ? m.validators.map((v) => esc(limitText(v, m.unit))).join('; ') : 'none (recorded only)';
      expect(limit, m.name).toBe(want);
    }
    expect(limitText({ kind: 'inRange', max: 2000, marginalMax: 1500 }, 'ms')).toBe('≤ 2000 ms, marginal > 1500');
    expect(limitText({ kind: 'withinPercent', target: 1000, percent: 2, marginalPercent: 1 }, 'Wh')).toBe('1000 Wh ± 2 %, marginal beyond ± 1 %');
    expect(limitText({ kind: 'oneOf', values: ['Accepted', 1] })).toBe('one of "Accepted", 1');
    const failures = /<section id="failures"[^>]*>(.*?)<\/section>/s.exec(html)?.[1] ?? '';
    expect(failures).toContain('pnc.C07.central-not-allowed');
    expect(failures).toContain('install_latency_ms');
    expect(failures).not.toContain('plug_in'); // the INFRA attempt was retried to PASS
    // the timing table links Authorize to auth_latency_ms by value
    expect(html).toMatch(/data-message="Authorize">.*?≤ 2000 ms, marginal &gt; 1500.*?auth_latency_ms/);
  });

  it('escapes record text everywhere', () => {
    const rec = sampleRecord();
    const p = rec.suites[0]?.phases[3];
    if (!p) throw new Error('sample changed');
    p.logs.push({ t: p.tStart + 1, level: 'error', msg: '<script>window.__pwned=1</script>' });
    p.measurements.push({ name: '<img src=x onerror=alert(1)>', value: '"><b>', t: p.tStart, validators: [{ kind: 'equals', value: '</td>' }], outcome: 'PASS', marginal: false });
    rec.dut.model = '<svg onload=alert(1)>';
    const html = renderReport(rec);
    expect(html).not.toMatch(/<script|<img|<svg onload/);
    expect(html).toContain('&quot;&gt;&lt;b&gt;');
    expect(html).toContain('= &quot;&lt;/td&gt;&quot;');
    expect(html).toContain('&lt;script&gt;window.__pwned=1&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain("default-src 'none'");
    expect(renderReportFailure(rec, new Error('<boom>'))).toContain('Error: &lt;boom&gt;');
  });

  it('links timing rows to limits by value, else by name, and says when there is none', () => {
    const rec = sampleRecord();
    const inst = rec.suites[1]?.phases[0];
    if (!inst) throw new Error('sample changed');
    // the Get15118EVCertificate point has no phase: a measurement in its suite named after the message counts
    inst.measurements.push({ name: 'get15118evcertificate_rtt_ms', value: 1, unit: 'ms', t: inst.tStart, validators: [{ kind: 'inRange', max: 7000 }], outcome: 'PASS', marginal: false });
    inst.measurements = inst.measurements.filter((m) => m.name !== 'install_latency_ms');
    const html = renderReport(rec);
    expect(html).toMatch(/data-message="DataTransfer.Get15118EVCertificate">.*?≤ 7000 ms<div class="muted">get15118evcertificate_rtt_ms in cert-installation/);
    expect(html).toMatch(/data-message="Authorize">.*?auth_latency_ms/);
    expect(html).toMatch(/data-message="SessionSetupReq">.*?no limit measured/);
  });

  it('says so when every suite was skipped, and shows a green box for a clean run', () => {
    const skipped = sampleRecord({ outcome: 'SKIPPED', outcomeDetails: [], marginal: false });
    skipped.suites = skipped.suites.map((s) => ({ ...s, outcome: 'SKIPPED' as const, phases: [], outcomeDetails: [{ code: 'MISSING_FEATURE', message: 'rig lacks feature(s) dc' }] }));
    const html = renderReport(skipped);
    expect(html).toContain('Nothing ran: every suite was SKIPPED');
    expect(html).toContain('pnc-authorization: <span class="rule">MISSING_FEATURE</span> rig lacks feature(s) dc');
    const clean = sampleRecord({ outcome: 'PASS', outcomeDetails: [], marginal: false });
    clean.suites = clean.suites.slice(0, 1);
    expect(renderReport(clean)).toContain('<section id="failures" class="ok-box"><b>No failures.</b></section>');
  });

  it('notes missing, corrupt and out-of-folder attachments instead of failing', () => {
    const dir = tempDir();
    const { record, ocppPath, evPath, phase } = writeSampleRun(dir);
    unlinkSync(path.join(dir, evPath));
    const ocppFile = path.join(dir, ocppPath);
    writeFileSync(ocppFile, readFileSync(ocppFile, 'utf8').replace('BootNotification', 'BootNotificatioN'));
    phase.attachments.push({ name: 'evil.jsonl', mime: 'application/jsonl', sha256: 'd'.repeat(64), bytes: 3, path: '../../etc/passwd' });
    const { files } = writeRunOutputs(dir, record);
    expect(files).toEqual(['record.json', 'junit.xml', 'report.html']);
    expect(JSON.parse(readFileSync(path.join(dir, 'record.json'), 'utf8')).runId).toBe(record.runId);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    const notes = /<section id="notes"[^>]*>(.*?)<\/section>/s.exec(html)?.[1] ?? '';
    expect(notes).toContain(`${evPath} is missing`);
    expect(notes).toContain(`${ocppPath} does not match its SHA-256 in the record`);
    expect(notes).toContain('../../etc/passwd is outside the run folder');
    expect(html).toContain('No OCPP or ISO 15118 transcript attached to this run.');
  });

  it('writes record.json and junit.xml before report.html', () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'report.html')); // a folder in the way: report.html cannot be written
    expect(() => writeRunOutputs(dir, sampleRecord())).toThrow(/report\.html/);
    expect(readFileSync(path.join(dir, 'record.json'), 'utf8')).toContain('"runId"');
    expect(readFileSync(path.join(dir, 'junit.xml'), 'utf8')).toContain('<testsuites');
  });

  it('stays under a megabyte with thousands of timing points, long series and many busy phases', () => {
    // the size of a run like the main job's: ~40 phases with OCPP and ISO 15118 traffic (render time: scripts/perf/report.ts)
    const dir = tempDir();
    const { record } = writeSampleRun(dir, { timingPoints: 8000, seriesPoints: 20_000, currentDemandLoops: 2000, busyPhases: 40 });
    const html = renderReport(record, { runDir: dir });
    expect(Buffer.byteLength(html)).toBeLessThan(1_000_000);
    expect(html).toContain('data-n="8000"');
    expect(html).toMatch(/data-omitted="\d{3,}"/); // the CurrentDemand loop was capped
    // 41 charts with traffic, at most 600 arrows on the page, and every chart keeps some
    const items = [...html.matchAll(/data-plot="sequence" data-items="(\d+)"/g)].map((m) => Number(m[1]));
    expect(items.length).toBe(41);
    expect(items.reduce((a, b) => a + b, 0)).toBe(600);
    expect(Math.min(...items)).toBeGreaterThan(10);
    expect(count(html, /<g class="msg /g)).toBe(600);
  });

  it('is rebuilt from the journal by rebuildRun (pnc-bench report)', () => {
    const dir = tempDir();
    const { record, phase } = writeSampleRun(dir);
    const ev: JournalEvent[] = [
      { type: 'run.start', t: record.tStart, runId: record.runId, trigger: record.trigger, software: record.software, host: record.host, rig: record.rig, dut: record.dut, plan: [{ name: 'pnc-authorization', file: 'x.suite.ts' }] },
      { type: 'suite.start', t: phase.tStart, suite: 0, name: 'pnc-authorization', version: '1', file: 'x.suite.ts', sha256: 'e'.repeat(64), requires: [] },
      { type: 'phase.start', t: phase.tStart, suite: 0, phase: 0, name: phase.name, group: 'main', attempt: 1 },
      ...phase.attachments.map((a): JournalEvent => ({ type: 'attachment', phase: 0, a })),
      { type: 'phase.end', t: phase.tEnd, phase: 0, outcome: 'PASS', marginal: false, series: phase.series },
      { type: 'suite.end', t: phase.tEnd, suite: 0, outcome: 'PASS', marginal: false, retried: false, details: [] },
      { type: 'run.end', t: phase.tEnd, outcome: 'PASS', details: [] },
    ];
    writeFileSync(path.join(dir, JOURNAL_FILE), ev.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const r = rebuildRun(dir);
    expect(r.files).toContain('report.html');
    expect(r.reportError).toBeUndefined();
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('data-label="DataTransfer.Authorize"');
    expect(html).toContain('data-plot="power"');
    expect(html).toContain('<section id="failures" class="ok-box">');
    const rec: RunRecord = r.record;
    expect(rec.outcome).toBe('PASS');
  });
});
