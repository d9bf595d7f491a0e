// The web view of `pnc-bench serve` in headless Chromium (Debian `chromium` through playwright-core):
// rig status, start a run from the page (rig health suites first, the default) and watch its phases
// turn green and the plots fill, then start a long run without the health suites and abort it from
// the page and see ABORTED. A missing Chromium FAILS this test with the paths it looked at
// (test/helpers/chromium.ts); it is never skipped.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../src/report/html.ts';
import { OUTCOMES, RunRecord } from '../../src/report/record.ts';
import { WEB_DIR, type BenchServer } from '../../src/server/server.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { sampleRecord } from '../helpers/sample-record.ts';
import { startTestServer, SUITES } from './helpers.ts';

/** Checks exactly these suites in the picker. */
async function pick(page: Page, ids: string[]): Promise<void> {
  for (const box of await page.locator('input[name="suite"]').all()) {
    if (ids.includes((await box.getAttribute('value')) ?? '')) await box.check();
    else await box.uncheck();
  }
}

describe('web view in headless Chromium', () => {
  let browser: Browser;
  let server: BenchServer;
  let reports: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    ({ server, reports } = await startTestServer());
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows the rig, runs suites started from the page with phases turning green, and aborts a run', async () => {
    const page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(server.url);
    await page.locator('#conn[data-state="open"]').waitFor({ timeout: 15_000 });
    await page.locator('#drivers li[data-driver="meter"][data-ok="true"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#rig-title').textContent()).toContain('rig simulated');
    expect(await page.locator('input[name="suite"]').count()).toBe(4);
    expect(await page.locator('#health').isChecked()).toBe(true);

    // start from the page: host-health and the meter suite (the other health suites are added and skip themselves)
    await pick(page, [SUITES.host, SUITES.meter]);
    await page.click('#start');
    await page.locator('.phase[data-phase="clock"][data-outcome="PASS"]').waitFor({ timeout: 20_000 });
    await page.locator('.phase[data-phase="event_loop"][data-outcome="PASS"]').waitFor({ timeout: 20_000 });
    await page.locator('.phase[data-phase="charge"][data-outcome="PASS"]').waitFor({ timeout: 20_000 });
    await page.locator('#run-status[data-outcome="PASS"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('.phase[data-phase="charge"] tr.m[data-measurement="power_w"][data-outcome="PASS"]').textContent()).toContain('7000 W');
    expect(await page.locator('.phase[data-phase="charge"] tr.m[data-measurement="power_w"] td.muted').first().textContent()).toBe('1000 … 22000 W');
    // live plots filled from samples (power and current measurements, modbus timing points)
    const points = async (id: string) => Number(await page.locator(`#${id} svg`).getAttribute('data-points'));
    expect(await points('plot-power')).toBeGreaterThan(0);
    expect(await points('plot-current')).toBeGreaterThan(0);
    expect(await points('plot-latency')).toBeGreaterThanOrEqual(8);
    expect(await page.locator('#plot-latency svg circle').count()).toBeGreaterThanOrEqual(8);
    const firstRun = (await page.locator('#run-status').textContent())?.match(/run (\S+)/)?.[1] as string;
    expect(firstRun).toMatch(/-simulated-/);
    // the past runs table links its report
    const link = page.locator(`#runs-body tr[data-run="${firstRun}"] a`, { hasText: 'report' });
    await link.waitFor({ timeout: 10_000 });
    const href = await link.getAttribute('href');
    expect(href).toBe(`/api/runs/${firstRun}/report.html`);
    const report = await page.request.get(new URL(href as string, server.url).href);
    expect(report.status()).toBe(200);
    expect(await report.text()).toContain(firstRun);
    const first = RunRecord.parse(JSON.parse(readFileSync(path.join(reports, firstRun, 'record.json'), 'utf8')));
    expect(first.suites.map((x) => x.name)).toEqual(['host-health', 'rig-can', 'rig-charger', 'rig-console', 'rig-ev', 'rig-meter', 'live-meter']);

    // a long run without the health suites, aborted from the page
    await pick(page, [SUITES.long]);
    await page.uncheck('#health');
    await page.click('#start');
    await page.locator('.phase[data-phase="hang"][data-outcome="RUNNING"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('.phase[data-phase="first"]').getAttribute('data-outcome')).toBe('PASS');
    expect(await page.locator('#start').isDisabled()).toBe(true);
    await page.click('#abort');
    await page.locator('#run-status[data-outcome="ABORTED"]').waitFor({ timeout: 20_000 });
    await page.locator('.phase[data-phase="hang"][data-outcome="ABORTED"]').waitFor();
    await page.locator('.phase[data-phase="tidy"][data-outcome="PASS"]').waitFor();
    await page.locator('.suite[data-suite="long"][data-outcome="ABORTED"]').waitFor();
    const abortedRun = (await page.locator('#run-status').textContent())?.match(/run (\S+)/)?.[1] as string;
    const rec = RunRecord.parse(JSON.parse(readFileSync(path.join(reports, abortedRun, 'record.json'), 'utf8')));
    expect(rec.outcome).toBe('ABORTED');
    expect(rec.suites.map((x) => x.name)).toEqual(['long']);
    await page.locator(`#runs-body tr[data-run="${abortedRun}"][data-outcome="ABORTED"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator('#start').isEnabled()).toBe(true);

    // a reload mid-nothing still shows the last run from the stream's hello
    await page.reload();
    await page.locator('#run-status[data-outcome="ABORTED"]').waitFor({ timeout: 15_000 });
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});

describe('web view with a token', () => {
  it('takes the token from ?token= once and uses it for the API and the stream', async () => {
    const browser = await launchChromium();
    const token = 'a-long-enough-token-for-tests';
    const { server } = await startTestServer({ host: '127.0.0.2', token, probeOnStart: false });
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}?token=${token}`);
      await page.locator('#conn[data-state="open"]').waitFor({ timeout: 15_000 });
      expect(await page.locator('input[name="suite"]').count()).toBe(4);
      expect(page.url()).not.toContain(token); // removed from the address bar
      await page.locator('#drivers li[data-driver="meter"]').waitFor();
      // without the token the page asks for it
      const other = await browser.newPage();
      await other.goto(server.url);
      await other.locator('#token-form:not([hidden])').waitFor({ timeout: 15_000 });
    } finally {
      await browser.close();
      await server.close();
    }
  });
});

describe('web view colours', () => {
  // report.html's badge colour of each outcome (.o-<OUTCOME> → var(--x) → hex) and the web view's
  // (.badge[data-outcome="<OUTCOME>"] → var(--y) → hex) must be the same; INFRA has its own.
  const vars = (css: string): Map<string, string> => new Map([...css.matchAll(/(--[a-z-]+)\s*:\s*(#[0-9a-f]{6})/gi)].map((m) => [m[1] as string, (m[2] as string).toLowerCase()]));
  const resolve = (v: Map<string, string>, value: string | undefined): string | undefined => (value?.startsWith('var(') ? v.get(value.slice(4, -1).trim()) : value);
  const reportCss = /<style>(.*?)<\/style>/s.exec(renderReport(sampleRecord()))?.[1] ?? '';
  const webCss = readFileSync(path.join(WEB_DIR, 'style.css'), 'utf8');
  const reportColour = (o: string): string | undefined =>
    resolve(vars(reportCss), [...reportCss.matchAll(/([^{}]+)\{background:([^;}]+)\}/g)].find((m) => (m[1] as string).split(',').map((x) => x.trim()).includes(`.o-${o}`))?.[2]);
  const webColour = (o: string): string | undefined =>
    resolve(vars(webCss), [...webCss.matchAll(/([^{}]+)\{\s*background:\s*([^;}]+);?\s*\}/g)].find((m) => (m[1] as string).includes(`.badge[data-outcome="${o}"]`))?.[2]?.trim());

  it('gives each outcome the colour report.html gives it, and INFRA a colour of its own', () => {
    for (const o of OUTCOMES) {
      expect(reportColour(o), o).toMatch(/^#[0-9a-f]{6}$/);
      expect(webColour(o), o).toBe(reportColour(o));
    }
    const infra = webColour('INFRA');
    expect(OUTCOMES.filter((o) => o !== 'INFRA').map(webColour)).not.toContain(infra);
    expect(vars(webCss).get('--running')).not.toBe(infra);
    expect(webCss).toContain('.phase[data-outcome="INFRA"]');
  });
});
