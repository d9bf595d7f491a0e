// The Grafana dashboards (grafana/dashboards/*.json) against a real InfluxDB filled by real runs.
// A real influxd (test/helpers/influxd.ts) receives two `pnc-bench run --influx` runs on the virtual
// rig: a healthy one (health, throughput, timing suites; trigger nightly) and one on a copy of the
// rig whose RTU meter is addressed at a unit id nothing answers (health suites only: INFRA). Then
// every panel query is run the way Grafana runs it: template variables resolved in dashboard order
// by running their own queries (values as Grafana's InfluxDB datasource reads them, "All" selected,
// multi-values in its regex format), `$timeFilter` and `$__interval` replaced, then GET /query. Each
// panel query must return at least one series with a non-null value, so a wrong measurement, field,
// tag or variable fails the test (a control below shows that it does).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { INFLUX_MEASUREMENTS } from '../../src/report/influx.ts';
import { RunRecord } from '../../src/report/record.ts';
import { ROOT, runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/fake-rig.ts';
import { startInfluxd, type RunningInfluxd } from '../helpers/influxd.ts';

const DASHBOARDS = path.join(ROOT, 'grafana', 'dashboards');
const DB = 'pncbench';

interface Target {
  refId: string;
  query: string;
  rawQuery?: boolean;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  title: string;
  type: string;
  targets?: Target[];
  datasource?: { type: string; uid: string };
}
interface Variable {
  name: string;
  type: string;
  query: string;
  multi?: boolean;
  includeAll?: boolean;
  datasource?: { type: string; uid: string };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboards: { file: string; d: Dashboard }[] = readdirSync(DASHBOARDS)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({ file, d: JSON.parse(readFileSync(path.join(DASHBOARDS, file), 'utf8')) as Dashboard }));

// ───────────── Grafana's InfluxDB (InfluxQL) interpolation, as far as these dashboards use it ─────────────

interface Range {
  fromMs: number;
  toMs: number;
}

/** Grafana's escaping of a value for a regex (InfluxDatasource.interpolateQueryExpr). */
const escapeRegex = (v: string): string => v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');

/** How Grafana's InfluxDB datasource writes a variable's selected values into a query. */
function formatValues(v: Variable, values: readonly string[]): string {
  if (!v.multi && !v.includeAll) return values[0] ?? '';
  const escaped = values.map(escapeRegex);
  return escaped.length === 1 ? (escaped[0] as string) : `(${escaped.join('|')})`;
}

/** $__interval as Grafana derives it: range ÷ max data points, not below the datasource's timeInterval (10 s). */
function intervalOf(r: Range): string {
  return `${Math.max(10, Math.ceil((r.toMs - r.fromMs) / 1000 / 1000))}s`;
}

function interpolate(text: string, vars: ReadonlyMap<string, string>, r: Range): string {
  const out = text
    .replaceAll('$timeFilter', `time >= ${r.fromMs}ms and time <= ${r.toMs}ms`)
    .replaceAll('$__interval_ms', String(Number(intervalOf(r).slice(0, -1)) * 1000))
    .replaceAll('$__interval', intervalOf(r))
    .replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole: string, a?: string, b?: string, c?: string) => {
      const name = (a ?? b ?? c) as string;
      const v = vars.get(name);
      if (v === undefined) throw new Error(`unknown template variable $${name} in ${JSON.stringify(text)}`);
      return v;
    });
  return out;
}

interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

async function influxQuery(influx: RunningInfluxd, q: string): Promise<Series[]> {
  const res = await fetch(`http://${influx.host}:${influx.port}/query?${new URLSearchParams({ db: DB, q, epoch: 'ms' })}`);
  const body = (await res.json()) as { error?: string; results?: { error?: string; series?: Series[] }[] };
  if (!res.ok || body.error) throw new Error(`HTTP ${res.status} ${body.error ?? ''} for ${q}`);
  const result = body.results?.[0];
  if (result?.error) throw new Error(`${result.error} for ${q}`);
  return result?.series ?? [];
}

/** The values of a variable query as Grafana's ResponseParser reads them (value[1] when present, else value[0]). */
function variableValues(series: readonly Series[]): string[] {
  const out = new Set<string>();
  for (const s of series) for (const row of s.values) out.add(String(row[1] !== undefined ? row[1] : row[0]));
  return [...out];
}

/** Resolves the dashboard's variables in order, "All" selected. */
async function resolveVariables(influx: RunningInfluxd, d: Dashboard, r: Range): Promise<Map<string, string>> {
  const vars = new Map<string, string>();
  for (const v of d.templating.list) {
    if (v.type !== 'query') throw new Error(`${d.uid}: variable ${v.name} has type ${v.type}; this test knows query variables only`);
    const values = variableValues(await influxQuery(influx, interpolate(v.query, vars, r)));
    if (values.length === 0) throw new Error(`${d.uid}: variable ${v.name} has no values (${v.query})`);
    vars.set(v.name, formatValues(v, values));
  }
  return vars;
}

/**
 * Series of a panel query that have at least one non-null value besides time — none when any column
 * is null in every row of every series (a misspelt field among several selected ones).
 */
async function panelSeries(influx: RunningInfluxd, query: string, vars: ReadonlyMap<string, string>, r: Range): Promise<Series[]> {
  const series = await influxQuery(influx, interpolate(query, vars, r));
  const columns = new Set(series.flatMap((s) => s.columns.filter((c) => c !== 'time')));
  for (const c of columns) {
    const filled = series.some((s) => {
      const i = s.columns.indexOf(c);
      return i >= 0 && s.values.some((row) => row[i] !== null && row[i] !== undefined);
    });
    if (!filled) return [];
  }
  return series.filter((s) => s.values.some((row) => row.some((cell, i) => s.columns[i] !== 'time' && cell !== null)));
}

// ───────────── the runs ─────────────

let influx: RunningInfluxd;
let range: Range;
const records: RunRecord[] = [];

function brokenRigFile(): string {
  const dir = tempDir('pnc-bench-grafana-');
  const text = readFileSync(path.join(ROOT, 'rigs', 'virtual.yaml'), 'utf8');
  const broken = text
    .replace(/^id: virtual$/m, 'id: virtual-broken')
    .replace(/^(\s+)firmware: virtual-1$/m, '$1firmware: virtual-2.1.0')
    .replace('module: ./virtual/index.ts', `module: ${path.join(ROOT, 'rigs', 'virtual', 'index.ts')}`)
    .replace(/(meter_rtu: \{ type: ModbusRtu, .*unitId: )1 \}/, '$17 }');
  expect(broken).toContain('id: virtual-broken');
  expect(broken).toMatch(/meter_rtu: \{ type: ModbusRtu, .*unitId: 7 \}/);
  const file = path.join(dir, 'virtual-broken.yaml');
  writeFileSync(file, broken);
  return file;
}

async function runWithInflux(args: string[], expectCode: number): Promise<RunRecord> {
  const reports = tempDir();
  const r = await runCli(['run', ...args, '--reports', reports, '--influx', influx.url(DB), '--json']);
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(expectCode);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { dir: string };
  expect(r.stderr).not.toMatch(/spooled/);
  return RunRecord.parse(JSON.parse(readFileSync(path.join(out.dir, 'record.json'), 'utf8')));
}

beforeAll(async () => {
  influx = await startInfluxd();
  const t0 = Date.now();
  records.push(await runWithInflux(['bench/health', 'bench/throughput', 'bench/timing', '--trigger', 'nightly'], 0));
  records.push(await runWithInflux(['bench/health', '--rig', brokenRigFile(), '--trigger', 'nightly'], 3));
  range = { fromMs: t0 - 60_000, toMs: Date.now() + 60_000 };
}, 240_000);

afterAll(async () => {
  await influx?.stop();
});

describe('Grafana dashboards', () => {
  it('the runs wrote what the dashboards show: a PASS run and an INFRA run of another rig', () => {
    expect(records.map((r) => [r.rig.id, r.outcome])).toEqual([
      ['virtual', 'PASS'],
      ['virtual-broken', 'INFRA'],
    ]);
    expect(records[1]?.rigHealth.some((h) => h.resource === 'meter_rtu' && !h.ok)).toBe(true);
  });

  it('are provisioning-ready: unique uids and panel ids, every target a raw InfluxQL query on the provisioned datasource', () => {
    const ds = parseYaml(readFileSync(path.join(ROOT, 'grafana/provisioning/datasources/pnc-bench-influxdb.yaml'), 'utf8')) as {
      apiVersion: number;
      datasources: { uid: string; type: string; jsonData: { version: string } }[];
    };
    expect(ds.apiVersion).toBe(1);
    const source = ds.datasources[0];
    expect(source).toMatchObject({ type: 'influxdb', jsonData: { version: 'InfluxQL' } });
    const provider = parseYaml(readFileSync(path.join(ROOT, 'grafana/provisioning/dashboards/pnc-bench.yaml'), 'utf8')) as { providers: { type: string; options: { path: string } }[] };
    expect(provider.providers[0]?.type).toBe('file');
    expect(dashboards.length).toBeGreaterThanOrEqual(4);
    expect(new Set(dashboards.map((x) => x.d.uid)).size).toBe(dashboards.length);
    for (const { file, d } of dashboards) {
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size, `${file}: panel ids`).toBe(ids.length);
      for (const p of d.panels) {
        expect(p.datasource?.uid, `${file} ${p.title}`).toBe(source?.uid);
        expect(p.targets?.length, `${file} ${p.title}: targets`).toBeGreaterThan(0);
        for (const t of p.targets ?? []) {
          expect(t.rawQuery, `${file} ${p.title}`).toBe(true);
          expect(t.datasource?.uid).toBe(source?.uid);
          for (const m of t.query.matchAll(/FROM\s+"([^"]+)"/g)) expect(INFLUX_MEASUREMENTS, `${file} ${p.title}`).toContain(m[1]);
        }
      }
      for (const v of d.templating.list) expect(v.datasource?.uid, `${file} variable ${v.name}`).toBe(source?.uid);
    }
  });

  it('covers per-rig outcomes, timing by message and firmware line, throughput per link, rig health', () => {
    const all = dashboards.flatMap(({ d }) => d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.query)));
    expect(all.some((q) => /FROM "hil_run".*GROUP BY .*"outcome"/.test(q))).toBe(true);
    expect(all.some((q) => /percentile\("latency_ms", 95\).*FROM "hil_timing".*"message"/.test(q))).toBe(true);
    expect(dashboards.some(({ d }) => d.templating.list.some((v) => v.name === 'fw_line'))).toBe(true);
    expect(all.some((q) => /FROM "hil_throughput".*GROUP BY .*"link"/.test(q))).toBe(true);
    expect(all.some((q) => /FROM "hil_rig_health"/.test(q))).toBe(true);
  });

  it('uses only bounded tags: suite timing filters by the fw_line tag itself (no hidden run_id variable), throughput groups by link, not by window', () => {
    const { d } = dashboards.find((x) => x.file === 'suite-timing.json') as { d: Dashboard };
    expect(d.templating.list.map((v) => v.name)).toEqual(['rig', 'fw_line', 'suite', 'protocol']);
    for (const p of d.panels) for (const t of p.targets ?? []) expect(t.query, p.title).toContain('"fw_line" =~ /^$fw_line$/');
    for (const { file, d: x } of dashboards) {
      for (const q of [...x.panels.flatMap((p) => (p.targets ?? []).map((t) => t.query)), ...x.templating.list.map((v) => v.query)]) {
        expect(q, file).not.toMatch(/run_id" =~|\$run_id|metric_window/);
      }
    }
    const table = (dashboards.find((x) => x.file === 'throughput.json')?.d.panels.find((p) => p.title === 'Latest window per link')?.targets?.[0] as Target).query;
    expect(table).toMatch(/last\("window_s"\).* GROUP BY "rig", "link"$/);
  });

  it('the fw_line filter of suite timing selects one firmware line\'s points alone', async () => {
    const { d } = dashboards.find((x) => x.file === 'suite-timing.json') as { d: Dashboard };
    const vars = await resolveVariables(influx, d, range);
    const phaseQuery = (d.panels.find((p) => p.title === 'Phase duration by suite and phase')?.targets?.[0] as Target).query;
    // the broken rig's firmware (virtual-2.1.0 → 2.1) ran only the health suites
    const only21 = new Map(vars).set('fw_line', '2\\.1');
    const suites = new Set((await panelSeries(influx, phaseQuery, only21, range)).map((x) => x.tags?.suite));
    expect(suites.size).toBeGreaterThan(0);
    expect([...suites].filter((n) => n !== 'host-health' && !String(n).startsWith('rig-'))).toEqual([]);
    const all = new Set((await panelSeries(influx, phaseQuery, vars, range)).map((x) => x.tags?.suite));
    expect(all.has('throughput-ocpp')).toBe(true);
  });

  for (const { file, d } of dashboards) {
    it(`${file}: every panel's query returns data`, async () => {
      const vars = await resolveVariables(influx, d, range);
      const empty: string[] = [];
      for (const p of d.panels) {
        for (const t of p.targets ?? []) {
          const series = await panelSeries(influx, t.query, vars, range);
          if (series.length === 0) empty.push(`${p.title} (${t.refId}): ${interpolate(t.query, vars, range)}`);
        }
      }
      expect(empty, 'panels whose query returned no series').toEqual([]);
    });
  }

  it('a panel query with a wrong measurement, field, tag or variable is caught (control)', async () => {
    const { d } = dashboards.find((x) => x.file === 'throughput.json') as { d: Dashboard };
    const vars = await resolveVariables(influx, d, range);
    const q = (d.panels[0]?.targets?.[0] as Target).query;
    expect(await panelSeries(influx, q, vars, range)).not.toHaveLength(0);
    for (const [from, to] of [
      ['"hil_throughput"', '"hil_througput"'],
      ['"frames_per_s"', '"frame_per_s"'],
      ['"link" =~', '"links" =~'],
    ]) {
      const bad = q.replace(from as string, to as string);
      expect(bad).not.toBe(q);
      expect(await panelSeries(influx, bad, vars, range), bad).toHaveLength(0);
    }
    expect(() => interpolate(q.replace('$link', '$lnk'), vars, range)).toThrow(/unknown template variable \$lnk/);
    // one misspelt field among several selected ones
    const table = (d.panels.find((p) => p.title === 'Latest window per link')?.targets?.[0] as Target).query;
    expect(await panelSeries(influx, table, vars, range)).not.toHaveLength(0);
    expect(await panelSeries(influx, table.replace('last("bytes_per_s")', 'last("byte_per_s")'), vars, range)).toHaveLength(0);
  });
});
