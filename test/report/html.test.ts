// report.html as people see it: a realistic run folder (timings, power/energy/current/voltage
// series, the MockCsms OCPP transcript and the EV emulator transcript with the virtual EV's
// V2G_Messages) goes through writeRunOutputs, and headless Chromium (Debian `chromium`, driven by
// playwright-core) opens the file. Checks: no console errors, every plot drawn with a real size and
// marks, the sequence chart's arrows, limits in every measurement row, the failures summary, and
// markup from the record and the transcripts shown as text, never run. Chromium missing is a
// failure with the fix in the message (test/helpers/chromium.ts; ./scripts/test installs it), not a skip.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitText } from '../../src/report/limits-text.ts';
import { writeRunOutputs } from '../../src/report/outputs.ts';
import type { RunRecord } from '../../src/report/record.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { writeSampleRun } from '../helpers/sample-record.ts';

let browser: Browser;
let page: Page;
let dir: string;
let record: RunRecord;
const consoleErrors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'pnc-report-'));
  const run = writeSampleRun(dir, { hostile: true, currentDemandLoops: 200 });
  record = run.record;
  // hostile text in the record itself: a log line and a measurement name
  run.phase.logs.push({ t: run.phase.tStart + 3, level: 'error', msg: 'SECC said: <script>window.__pwned=1</script>' });
  run.phase.measurements.push({
    name: '<script>window.__pwned=2</script>',
    value: 'x',
    t: run.phase.tStart + 4,
    validators: [{ kind: 'matches', pattern: '^x$' }],
    outcome: 'PASS',
    marginal: false,
  });
  const { files } = writeRunOutputs(dir, record);
  expect(files).toContain('report.html');
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  // CSP violations (a blocked inline script or external resource) are not console API messages: collect them too
  await page.addInitScript('window.__csp = []; document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));');
  await page.goto(pathToFileURL(path.join(dir, 'report.html')).href, { waitUntil: 'load' });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function box(l: Locator): Promise<{ width: number; height: number }> {
  await l.scrollIntoViewIfNeeded();
  const b = await l.boundingBox();
  if (!b) throw new Error('element is not rendered');
  return b;
}

describe('report.html in Chromium', () => {
  it('loads without console errors or blocked content and shows the run header', async () => {
    expect(consoleErrors).toEqual([]);
    expect(await page.evaluate('window.__csp')).toEqual([]);
    const header = await page.locator('header').innerText();
    expect(header).toContain(record.runId);
    expect(header).toContain('bench-a1');
    expect(header).toContain('acme-dc150');
    expect(header).toContain('v2.13.1-rc2');
    expect(header).toContain('pnc-bench 0.1.0');
    expect(await page.locator('header .badge.o-FAIL').first().innerText()).toBe('FAIL');
    expect(await page.title()).toContain('FAIL');
  });

  it('draws the power, energy, current and voltage plots with all their points', async () => {
    for (const plot of ['power', 'energy', 'current', 'voltage']) {
      const svg = page.locator(`#power svg[data-plot="${plot}"]`);
      expect(await svg.count(), plot).toBe(1);
      const b = await box(svg);
      expect(b.width, plot).toBeGreaterThan(500);
      expect(b.height, plot).toBeGreaterThan(150);
    }
    const power = page.locator('#power svg[data-plot="power"] path.series', { hasText: 'power_w (600 points)' });
    const d = (await power.getAttribute('d')) ?? '';
    expect((d.match(/[ML]/g) ?? []).length).toBe(600);
    const pb = await box(power);
    expect(pb.width).toBeGreaterThan(400); // spans the time axis
    expect(pb.height).toBeGreaterThan(100); // ramps up to ~150 kW
    // the series' limits are drawn as lines: power max, current max, voltage min and max
    expect(await page.locator('#power svg[data-plot="power"] .ref-limit').count()).toBe(2); // dc_power_w and power_w
    expect(await page.locator('#power svg[data-plot="power"] .ref-marginal').count()).toBe(1);
    expect(await page.locator('#power svg[data-plot="voltage"] .ref-limit').count()).toBe(2);
    expect(await page.locator('#power svg[data-plot="energy"] path.series').getAttribute('data-points')).toBe('600');
  });

  it('draws the latency of every message with its limit and lists p50/p95/max', async () => {
    const svg = page.locator('#timing svg[data-plot="timing"]');
    const b = await box(svg);
    expect(b.width).toBeGreaterThan(500);
    const rows = svg.locator('g.row');
    expect(await rows.count()).toBe(5); // Authorize, Get15118EVCertificate, SessionSetupReq, PowerDeliveryReq, CurrentDemandReq
    const cd = svg.locator('g.row[data-n="400"]');
    expect(Number(await cd.locator('g.dots').getAttribute('data-dots'))).toBeGreaterThanOrEqual(300);
    expect((await box(cd.locator('rect.box'))).width).toBeGreaterThan(2);
    // Authorize has its limit (auth_latency_ms max 2000, marginal 1500) drawn in its row
    const auth = rows.nth(0);
    expect(await auth.locator('text').first().textContent()).toContain('Authorize');
    expect(await auth.locator('.ref-limit').count()).toBe(1);
    expect(await auth.locator('.ref-marginal').count()).toBe(1);
    const table = page.locator('#timing table.timing tr[data-message="CurrentDemandReq"]');
    const cells = await table.locator('td').allInnerTexts();
    expect(cells[3]).toBe('400');
    const [min, p50, p95, max] = cells.slice(4, 8).map(Number);
    expect(min).toBeLessThanOrEqual(p50 as number);
    expect(p50).toBeLessThanOrEqual(p95 as number);
    expect(p95).toBeLessThanOrEqual(max as number);
    expect(await page.locator('#timing tr[data-message="Authorize"] td.limit').innerText()).toContain('≤ 2000 ms');
  });

  it('draws the message sequence of OCPP and ISO 15118 traffic on three lifelines', async () => {
    const svg = page.locator('#sequence svg[data-plot="sequence"]');
    expect(await svg.count()).toBe(1);
    expect((await box(svg)).height).toBeGreaterThan(1000);
    expect(await svg.locator('g.lifeline').allTextContents()).toEqual(['EV', 'Charger (SECC/CP)', 'CSMS']);
    const authorize = svg.locator('g.msg[data-label="DataTransfer.Authorize"]');
    expect(await authorize.count()).toBe(1);
    expect(await authorize.getAttribute('data-from')).toBe('charger');
    expect(await authorize.getAttribute('data-to')).toBe('csms');
    expect(await authorize.locator('text.label').textContent()).toBe('DataTransfer.Authorize');
    const ab = await box(authorize.locator('line'));
    expect(ab.width).toBeGreaterThan(200); // an arrow across from the charger to the CSMS
    expect(await authorize.locator('polygon.head').count()).toBe(1);
    const answer = svg.locator('g.msg[data-label="DataTransfer.Authorize.conf Accepted (data: Accepted)"]');
    expect(await answer.getAttribute('data-from')).toBe('csms');
    const setup = svg.locator('g.msg[data-protocol="v2g"][data-label="SessionSetupReq"]');
    expect(await setup.count()).toBe(1);
    expect(await setup.getAttribute('data-from')).toBe('ev');
    expect(await setup.locator('text.label').textContent()).toBe('SessionSetupReq');
    expect((await box(setup.locator('line'))).width).toBeGreaterThan(200);
    expect(await svg.locator('g.msg[data-label="MeterValues CALLERROR FormationViolation"]').count()).toBe(1);
    expect(await svg.locator('g.msg-note', { hasText: 'violation ocpp16.schema.MeterValues.req' }).count()).toBe(1);
    // capped: 150 drawn, the rest of the CurrentDemand loop counted
    expect(await svg.getAttribute('data-items')).toBe('150');
    expect(Number(await svg.getAttribute('data-omitted'))).toBeGreaterThan(200);
    expect(await svg.locator('text.omitted').textContent()).toMatch(/… \d+ more messages in this phase not drawn/);
    // the torn last line of the OCPP transcript is noted, not fatal
    expect(await page.locator('#notes').innerText()).toContain('1 line is not JSON and was skipped');
  });

  it('shows every measurement with its limit', async () => {
    const all = record.suites.flatMap((s) => s.phases.flatMap((p) => [...p.measurements, ...p.series]));
    const rows = page.locator('#measurements tr.measurement');
    expect(await rows.count()).toBe(all.length);
    const texts = await rows.evaluateAll((els) => els.map((e) => [e.getAttribute('data-name'), e.querySelector('td.limit')?.textContent ?? null] as const));
    for (const m of all) {
      const want = m.validators.length ? m.validators.map((v) => limitText(v, m.unit)).join('; ') : 'none (recorded only)';
      expect(texts.find(([n]) => n === m.name)?.[1], m.name).toBe(want);
    }
    const failed = page.locator('#measurements tr.measurement.r-FAIL');
    expect(await failed.count()).toBe(1);
    expect(await failed.locator('td').nth(4).innerText()).toBe('bench/limits/dc-ccs2-150kw.yaml#pki.install_latency_ms');
    expect(await page.locator('#measurements tr.measurement.r-marginal').getAttribute('data-name')).toBe('auth_latency_ms');
  });

  it('puts the failures at the top with the broken rule', async () => {
    const failures = page.locator('#failures');
    const y = (await failures.boundingBox())?.y ?? Infinity;
    const yMeasurements = (await page.locator('#measurements').boundingBox())?.y ?? 0;
    expect(y).toBeLessThan(yMeasurements);
    const text = await failures.innerText();
    expect(text).toContain('cert-installation › central_contract_validation');
    expect(text).toContain('ProtocolViolation rule pnc.C07.central-not-allowed');
    expect(text).toContain('install_latency_ms = 6123.7 ms, limit 0 … 5000 ms');
    expect(await failures.locator('.failure').count()).toBe(2);
  });

  it('shows markup from the record and the transcripts as text and runs none of it', async () => {
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('#logs').innerText()).toContain('SECC said: <script>window.__pwned=1</script>');
    expect(await page.locator('#measurements').innerText()).toContain('<script>window.__pwned=2</script>');
    const seq = page.locator('#sequence svg[data-plot="sequence"]');
    expect(await seq.locator('g.msg[data-protocol="v2g"]', { hasText: 'CertificateInstallationReq<script>' }).count()).toBe(1);
    // the hostile idTag is in the arrow's tooltip as text
    const tip = await seq.locator('g.msg[data-label="DataTransfer.Authorize"] > title').textContent();
    expect(tip).toContain('EMP77TWTW00<img src=x onerror=');
  });
});
