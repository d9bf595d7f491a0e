// Integration tests of src/report/influx.ts against a real InfluxDB 1.x (`influxd`, started once
// for this file): what we write is exactly what the server stores (tags, field values and types,
// nanosecond timestamps, nasty strings), and the spool → upload path is complete and idempotent.
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INFLUX_MEASUREMENTS,
  exportRunToInflux,
  pointKey,
  pointsFromRecord,
  toLineProtocol,
  uploadRun,
  writeInflux,
  type InfluxPoint,
} from '../../src/report/influx.ts';
import { sampleRecord } from '../helpers/sample-record.ts';
import { closedPort, pointCounts, startInfluxd, type RunningInfluxd } from '../helpers/influxd.ts';

let influx: RunningInfluxd;
let tmp: string;

beforeAll(async () => {
  influx = await startInfluxd();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pnc-influx-it-'));
});
afterAll(async () => {
  await influx?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Everything the server holds in db, as InfluxPoints (tags/fields in sorted key order), sorted by identity. */
async function stored(db: string): Promise<InfluxPoint[]> {
  const out: InfluxPoint[] = [];
  for (const m of INFLUX_MEASUREMENTS) {
    for (const row of await influx.query(db, `SELECT * FROM "${m}" GROUP BY *`)) {
      out.push({
        measurement: row.measurement,
        tags: Object.fromEntries(Object.entries(row.tags).sort()),
        fields: Object.fromEntries(Object.entries(row.values).sort()),
        timestampNs: row.timeNs,
      });
    }
  }
  return sortPoints(out);
}

function sortPoints(points: InfluxPoint[]): InfluxPoint[] {
  return [...points].sort((a, b) => (pointKey(a) < pointKey(b) ? -1 : pointKey(a) > pointKey(b) ? 1 : 0));
}

function countsOf(points: InfluxPoint[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of points) counts[p.measurement] = (counts[p.measurement] ?? 0) + 1;
  return counts;
}

const exists = (file: string): Promise<boolean> => access(file).then(() => true, () => false);
const expectedCounts = { hil_run: 1, hil_phase: 6, hil_measurement: 6, hil_series: 4, hil_timing: 5, hil_throughput: 3, hil_rig_health: 3 };

describe('InfluxDB 1.x round trip', () => {
  it('stores exactly the points written: tags, typed field values, ns timestamps (incl. the +1 ns bump)', async () => {
    const points = pointsFromRecord(sampleRecord());
    expect(await writeInflux(influx.url('roundtrip'), points, { batchSize: 7 })).toEqual({ written: 28 });
    const back = await stored('roundtrip');
    expect(countsOf(back)).toEqual(expectedCounts);
    expect(back).toEqual(sortPoints(points));
  });

  it('keeps integer fields integer (a float write to them is refused by the server)', async () => {
    const bad: InfluxPoint = { measurement: 'hil_phase', tags: { rig: 'x' }, fields: { attempt: 1, duration_ms: 1 }, timestampNs: 1n };
    await writeInflux(influx.url('types'), [bad]);
    const res = await fetch(`http://${influx.host}:${influx.port}/write?db=types&precision=n`, { method: 'POST', body: 'hil_phase,rig=x attempt=2 2' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/field type conflict/);
  });

  it('stores nasty strings, tag characters and float formats exactly', async () => {
    const r = sampleRecord();
    r.dut.serial = 'SN "42" \\ back\\\'slash\nsecond line ,= é€🔌';
    r.rigHealth[0]!.detail = 'C:\\bench\\logs\\ "quoted" \\';
    r.rigHealth[0]!.resource = 'can 0,bus=a';
    const phase = r.suites[0]!.phases[3]!;
    phase.name = 'pnc auth, "quoted"=yes';
    phase.measurements[1]!.value = 'it\'s \\"Accepted\\"\t\r\n';
    phase.measurements[0]!.value = 1.5e-7;
    phase.measurements[3]!.value = 1e21;
    phase.series[0]!.points[1]![1] = -0.1 - 0.2;
    const points = pointsFromRecord(r);
    await writeInflux(influx.url('nasty'), points);
    expect(await stored('nasty')).toEqual(sortPoints(points));
  });
});

describe('spool and upload', () => {
  it('spools when InfluxDB is down, then uploadRun writes every point exactly once, even twice', async () => {
    const runDir = await mkdtemp(path.join(tmp, 'run-'));
    const record = sampleRecord();
    const points = pointsFromRecord(record);
    const down = `http://127.0.0.1:${await closedPort()}/spooled`;

    const exported = await exportRunToInflux(runDir, record, down, { retries: 1, backoffMs: 5 });
    expect(exported).toMatchObject({ spooled: 28, spoolFile: path.join(runDir, 'influx.lp') });
    expect('reason' in exported && exported.reason).toMatch(/unavailable after 2 attempt\(s\): .*ECONNREFUSED/);
    expect(await readFile(path.join(runDir, 'influx.lp'), 'utf8')).toBe(toLineProtocol(points));

    const url = `http://bench:hunter2@${influx.host}:${influx.port}/spooled`;
    expect(await uploadRun(runDir, url)).toEqual({ written: 28, source: 'spool' });
    expect(await pointCounts(influx, 'spooled')).toEqual(expectedCounts);
    expect(await stored('spooled')).toEqual(sortPoints(points));

    const marker = JSON.parse(await readFile(path.join(runDir, 'influx.upload.json'), 'utf8')) as Record<string, unknown>;
    expect(marker).toEqual({ url: `http://bench@${influx.host}:${influx.port}/spooled`, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), points: 28, source: 'spool' });
    expect(await exists(path.join(runDir, 'influx.lp'))).toBe(true);

    expect(await uploadRun(runDir, url)).toEqual({ written: 28, source: 'spool' });
    expect(await pointCounts(influx, 'spooled')).toEqual(expectedCounts);
    expect(await stored('spooled')).toEqual(sortPoints(points));
  });

  it('uploadRun recomputes from record.json when there is no spool file, and matches a direct export', async () => {
    const runDir = await mkdtemp(path.join(tmp, 'run-'));
    const record = sampleRecord();
    await writeFile(path.join(runDir, 'record.json'), JSON.stringify(record, null, 2));
    expect(await uploadRun(runDir, influx.url('fromrecord'))).toEqual({ written: 28, source: 'record' });
    expect(await stored('fromrecord')).toEqual(sortPoints(pointsFromRecord(record)));

    // The live path writes the same points: exporting again adds nothing.
    const live = await mkdtemp(path.join(tmp, 'run-'));
    expect(await exportRunToInflux(live, record, influx.url('fromrecord'))).toEqual({ written: 28 });
    expect(await exists(path.join(live, 'influx.lp'))).toBe(false);
    expect(await pointCounts(influx, 'fromrecord')).toEqual(expectedCounts);
  });
});
