// Unit tests of src/report/influx.ts without a server: URL parsing, line-protocol escaping and its
// exact inverse, and the point layout computed from the sample run record.
import { describe, expect, it } from 'vitest';
import {
  INFLUX_URL_FORM,
  InfluxLineProtocolError,
  InfluxUrlError,
  firmwareLine,
  msToNs,
  parseInfluxUrl,
  parseLineProtocol,
  pointKey,
  pointsFromRecord,
  redactInfluxUrl,
  toLineProtocol,
  windowSeconds,
  type InfluxPoint,
} from '../../src/report/influx.ts';
import { RunRecord } from '../../src/report/record.ts';
import { sampleRecord } from '../helpers/sample-record.ts';

describe('parseInfluxUrl', () => {
  it('parses a plain URL, defaulting the port to 8086', () => {
    expect(parseInfluxUrl('http://127.0.0.1:8086/hil')).toEqual({ protocol: 'http', host: '127.0.0.1', port: 8086, database: 'hil' });
    expect(parseInfluxUrl('http://influx.lab/hil/')).toEqual({ protocol: 'http', host: 'influx.lab', port: 8086, database: 'hil' });
  });

  it('parses credentials, an explicit default https port, a retention policy and precision=ns', () => {
    expect(parseInfluxUrl('https://bench:s3cr%40t@influx.lab:443/hil%20db?rp=weeks&precision=ns')).toEqual({
      protocol: 'https',
      host: 'influx.lab',
      port: 443,
      database: 'hil db',
      username: 'bench',
      password: 's3cr@t',
      retentionPolicy: 'weeks',
    });
  });

  it('accepts a token as password with an empty user name (InfluxDB 2.x/3.x v1 compatibility) and IPv6 hosts', () => {
    expect(parseInfluxUrl('http://:tok3n@[::1]:9999/bucket')).toEqual({
      protocol: 'http',
      host: '::1',
      port: 9999,
      database: 'bucket',
      username: '',
      password: 'tok3n',
    });
  });

  const bad: Array<[string, RegExp]> = [
    ['influx.lab:8086/hil', /not a URL \(no scheme:\/\/\)/],
    ['HTTP://h:8086', /missing database name/],
    ['127.0.0.1:8086', /not a URL \(no scheme:\/\/\)/],
    ['ftp://h:8086/hil', /scheme must be http or https, not "ftp"/],
    ['http://h:8086', /missing database name in the path/],
    ['http://h:8086/', /missing database name in the path/],
    ['http://h:8086/hil/autogen', /path must be just the database name, got "\/hil\/autogen" \(a retention policy goes in \?rp=\)/],
    ['http://h:99999/hil', /port must be a number 1-65535, not "99999"/],
    ['http://h:/hil', /port must be a number 1-65535, not ""/],
    ['http://h:80a/hil', /port must be a number 1-65535, not "80a"/],
    ['http://h:8086/hil?db=x', /database goes in the path, not in \?db=/],
    ['http://h:8086/hil?retention=x', /unknown query parameter "retention" \(accepted: rp, precision\)/],
    ['http://h:8086/hil?rp=', /empty retention policy/],
    ['http://h:8086/hil?precision=ms', /precision must be n .* not "ms"/],
    ['http://h:8086/hil#x', /unexpected #fragment/],
  ];
  it.each(bad)('rejects %s with a specific message and the expected form', (url, problem) => {
    let error: unknown;
    try {
      parseInfluxUrl(url);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InfluxUrlError);
    expect((error as Error).message).toMatch(problem);
    expect((error as Error).message).toContain(`expected ${INFLUX_URL_FORM}`);
  });

  it('never shows the password in an error', () => {
    expect(() => parseInfluxUrl('ftp://u:hunter2@h/db')).toThrow(/"ftp:\/\/u@h\/db"/);
    expect(() => parseInfluxUrl('ftp://u:hunter2@h/db')).not.toThrow(/hunter2/);
  });

  it('redactInfluxUrl drops only the password', () => {
    expect(redactInfluxUrl('http://bench:secret@influx:8086/hil?rp=w')).toBe('http://bench@influx:8086/hil?rp=w');
    expect(redactInfluxUrl('http://influx:8086/hil')).toBe('http://influx:8086/hil');
  });
});

describe('line protocol', () => {
  const nasty: InfluxPoint = {
    measurement: 'hil m,x',
    tags: { 'k =,': 'v =,"\'', rig: 'bench-a1' },
    fields: {
      s: 'say "hi" \\ path\\\'s\nnext line\t,=',
      f: 1.5,
      attempt: 3,
      ok: true,
      neg: -0.25,
      big: 1e21,
      tiny: 1.5e-7,
      'a b': false,
    },
    timestampNs: 1_767_225_600_123_456_001n,
  };

  it('escapes measurement, tag keys/values, field keys and string values', () => {
    expect(toLineProtocol([nasty])).toBe(
      'hil\\ m\\,x,k\\ \\=\\,=v\\ \\=\\,"\',rig=bench-a1 ' +
        'a\\ b=false,attempt=3i,big=1e+21,f=1.5,neg=-0.25,ok=true,' +
        's="say \\"hi\\" \\\\ path\\\\\'s\nnext line\t,=",tiny=1.5e-7 1767225600123456001\n',
    );
  });

  it('parseLineProtocol exactly inverts toLineProtocol, nasty characters included', () => {
    const plain: InfluxPoint = { measurement: 'hil_phase', tags: { constructor: 'x' }, fields: { seq: 0, toString: 0 }, timestampNs: 0n };
    const points = [nasty, plain];
    const text = toLineProtocol(points);
    const back = parseLineProtocol(text);
    expect(back).toEqual([
      { ...nasty, tags: { 'k =,': 'v =,"\'', rig: 'bench-a1' }, fields: Object.fromEntries(Object.entries(nasty.fields).sort()) },
      plain,
    ]);
    expect(toLineProtocol(back)).toBe(text);
  });

  it('round-trips many generated points with awkward characters', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = 'ab ,="\'é€🔌_-.:/';
    const str = (min: number): string => {
      let s = '';
      const len = min + rnd(8);
      for (let i = 0; i < len; i++) s += alphabet[rnd(alphabet.length)];
      return s;
    };
    const stringAlphabet = alphabet + '\\\n';
    const points: InfluxPoint[] = [];
    for (let i = 0; i < 300; i++) {
      let value = '';
      for (let j = rnd(12); j > 0; j--) value += stringAlphabet[rnd(stringAlphabet.length)];
      points.push({
        measurement: str(1),
        tags: { [`t${str(0)}`]: str(1) },
        fields: { [`f${str(0)}`]: value, n: (rnd(2_000_000) - 1_000_000) / 7, seq: rnd(1000) },
        timestampNs: BigInt(rnd(1_000_000)) * 1_000_000_007n,
      });
    }
    const back = parseLineProtocol(toLineProtocol(points));
    expect(back).toEqual(points);
  });

  it('refuses points it cannot represent exactly', () => {
    const base: InfluxPoint = { measurement: 'm', tags: {}, fields: { v: 1 }, timestampNs: 1n };
    expect(() => toLineProtocol([{ ...base, tags: { k: 'a\\b' } }])).toThrow(InfluxLineProtocolError);
    expect(() => toLineProtocol([{ ...base, tags: { k: 'a\nb' } }])).toThrow(/tag k "a\\nb" contains a backslash or control character/);
    expect(() => toLineProtocol([{ ...base, tags: { k: '' } }])).toThrow(/tag k is empty/);
    expect(() => toLineProtocol([{ ...base, fields: {} }])).toThrow(/m point has no fields/);
    expect(() => toLineProtocol([{ ...base, fields: { v: Number.NaN } }])).toThrow(/m\.v is not a finite number: NaN/);
    expect(() => toLineProtocol([{ ...base, fields: { attempt: 1.5 } }])).toThrow(/m\.attempt is an integer field but the value is 1\.5/);
  });

  it('parse errors name the line and column', () => {
    const ok = 'm,k=v v=1 1\n';
    expect(parseLineProtocol(`# spool\n\n${ok}`)).toEqual([{ measurement: 'm', tags: { k: 'v' }, fields: { v: 1 }, timestampNs: 1n }]);
    expect(() => parseLineProtocol(`${ok}m v=1\n`)).toThrow(/line 2, column 6: expected " " before the timestamp/);
    expect(() => parseLineProtocol(`${ok}${ok}m attempt=1 5\n`)).toThrow(/line 3, column 11: field attempt is an integer field but has the float value 1/);
    expect(() => parseLineProtocol('m v=1i 5\n')).toThrow(/line 1, column 5: field v is written as a float field but has the integer value 1i/);
    expect(() => parseLineProtocol('m s="abc 5\n')).toThrow(/unterminated string in field s/);
    expect(() => parseLineProtocol('m\\x v=1 5\n')).toThrow(/line 1, column 2: unsupported backslash escape in measurement name/);
    expect(() => parseLineProtocol('m v=1u 5\n')).toThrow(/bad value "1u" for field v/);
    expect(() => parseLineProtocol('m v=1 12.5\n')).toThrow(/bad timestamp "12.5"/);
  });
});

describe('pointsFromRecord', () => {
  const record = sampleRecord();
  const points = pointsFromRecord(record);
  const of = (m: string): InfluxPoint[] => points.filter((p) => p.measurement === m);
  const runId = record.runId;
  const ns = (t: number): bigint => msToNs(t);

  it('uses a schema-valid fixture', () => {
    expect(RunRecord.parse(record)).toEqual(record);
  });

  it('produces one point per run, phase attempt, measurement, series sample, timing, window, health check', () => {
    const counts = Object.fromEntries(['hil_run', 'hil_phase', 'hil_measurement', 'hil_series', 'hil_timing', 'hil_throughput', 'hil_rig_health'].map((m) => [m, of(m).length]));
    expect(counts).toEqual({ hil_run: 1, hil_phase: 6, hil_measurement: 6, hil_series: 4, hil_timing: 5, hil_throughput: 3, hil_rig_health: 3 });
    expect(points).toHaveLength(28);
  });

  it('hil_run: bounded tags, ids in fields, failures counted on final attempts', () => {
    expect(of('hil_run')).toEqual([
      {
        measurement: 'hil_run',
        tags: { dut_model: 'acme-dc150', fw_line: '2.13', outcome: 'FAIL', rig: 'bench-a1', rig_class: 'dc-ccs2-150kw', suite: 'multi', trigger: 'nightly' },
        fields: {
          duration_s: 17,
          dut_serial: 'SN-0042-7781',
          fw_version: 'v2.13.1-rc2',
          git_sha: '3f9c2e1d0b7a6958473625140f1e2d3c4b5a6978',
          marginal: true,
          measurements_failed: 1,
          phases_failed: 1,
          recovered: false,
          retried: true,
          run_id: runId,
          suites: 'cert-installation,pnc-authorization',
        },
        timestampNs: 1_767_225_617_123_456_000n,
      },
    ]);
  });

  it('hil_run: suite tag is the name for one suite, absent for none; unknown firmware and missing ids are omitted', () => {
    const one = sampleRecord({ suites: [record.suites[1]!], dut: { model: 'acme-dc150' }, software: { ...record.software, gitSha: undefined } });
    delete one.software.gitSha;
    const [run] = pointsFromRecord(one);
    expect(run!.tags.suite).toBe('cert-installation');
    expect(run!.tags.fw_line).toBe('unknown');
    expect(run!.fields).toEqual({
      duration_s: 17,
      marginal: true,
      measurements_failed: 1,
      phases_failed: 1,
      recovered: false,
      retried: true,
      run_id: runId,
      suites: 'cert-installation',
    });
    const none = pointsFromRecord(sampleRecord({ suites: [] }));
    expect(none[0]!.tags).not.toHaveProperty('suite');
    expect(none[0]!.fields).not.toHaveProperty('suites');
  });

  it('fw_line is major.minor', () => {
    expect(firmwareLine('v2.13.1-rc2')).toBe('2.13');
    expect(firmwareLine('ACME-FW 03.07.0012')).toBe('3.7');
    expect(firmwareLine('build 7')).toBe('7');
    expect(firmwareLine('beta')).toBe('unknown');
    expect(firmwareLine(undefined)).toBe('unknown');
  });

  it('hil_phase: one point per attempt at the phase end, attempt as integer', () => {
    const plugIn = of('hil_phase').filter((p) => p.tags.phase === 'plug_in');
    const phases = record.suites[0]!.phases;
    expect(plugIn).toEqual([
      {
        measurement: 'hil_phase',
        tags: { fw_line: '2.13', group: 'main', outcome: 'INFRA', phase: 'plug_in', rig: 'bench-a1', suite: 'pnc-authorization' },
        fields: { attempt: 1, duration_ms: 2000, run_id: runId },
        timestampNs: ns(phases[1]!.tEnd),
      },
      {
        measurement: 'hil_phase',
        tags: { fw_line: '2.13', group: 'main', outcome: 'PASS', phase: 'plug_in', rig: 'bench-a1', suite: 'pnc-authorization' },
        fields: { attempt: 2, duration_ms: 1450.5, run_id: runId },
        timestampNs: ns(phases[2]!.tEnd),
      },
    ]);
    expect(toLineProtocol(plugIn)).toContain(' attempt=2i,duration_ms=1450.5,run_id="01JH3Q9V7R8ZK2M4N6P8Q0S2T4" ');
  });

  it('hil_measurement: failing value with limits, string in value_str, boolean as 1, withinPercent limits', () => {
    const byName = (n: string): InfluxPoint => of('hil_measurement').find((p) => p.tags.name === n)!;
    expect(byName('install_latency_ms')).toEqual({
      measurement: 'hil_measurement',
      tags: { fw_line: '2.13', name: 'install_latency_ms', outcome: 'FAIL', phase: 'install_certificate', rig: 'bench-a1', rig_class: 'dc-ccs2-150kw', suite: 'cert-installation', unit: 'ms' },
      fields: { limit_high: 5000, limit_low: 0, marginal: false, run_id: runId, value: 6123.7 },
      timestampNs: 1_767_225_616_247_156_000n,
    });
    expect(byName('id_token_status').fields).toEqual({ marginal: false, run_id: runId, value_str: 'Accepted' });
    expect(byName('id_token_status').tags).not.toHaveProperty('unit');
    expect(byName('contract_cert_valid').fields).toEqual({ marginal: false, run_id: runId, value: 1 });
    expect(byName('energy_delivered_wh').fields).toEqual({ limit_high: 1020, limit_low: 980, marginal: false, run_id: runId, value: 1012.5 });
    expect(byName('auth_latency_ms').fields).toEqual({ limit_high: 2000, marginal: true, run_id: runId, value: 1612.4 });
  });

  it('hil_series: t_ms offsets from the phase start, coordinates as fields', () => {
    const tStart = record.suites[0]!.phases[3]!.tStart;
    expect(of('hil_series').map((p) => [p.timestampNs, p.fields])).toEqual([
      [ns(tStart), { run_id: runId, t_ms: 0, value: 0 }],
      [ns(tStart + 500), { run_id: runId, t_ms: 500, value: 41_000.5 }],
      [ns(tStart + 1000), { run_id: runId, t_ms: 1000, value: 82_250 }],
      [ns(tStart + 1500), { run_id: runId, t_ms: 1500, value: 149_875.25 }],
    ]);
    expect(of('hil_series')[0]!.tags).toEqual({ name: 'dc_power_w', phase: 'pnc_authorization', rig: 'bench-a1', suite: 'pnc-authorization', unit: 'W' });
  });

  it('hil_series: first dim `t` is absolute epoch ms, other dims index the phase start in µs', () => {
    const r = sampleRecord();
    const phase = r.suites[0]!.phases[3]!;
    const base = phase.series[0]!;
    phase.series = [
      { ...base, name: 'abs', dims: ['t'], points: [[1_767_225_700_000.25, 1]] },
      { ...base, name: 'iv', unit: 'A', dims: ['voltage_v', 'value'], points: [[400, 1, 10], [410, 2, 11]] },
    ];
    const series = pointsFromRecord(r).filter((p) => p.measurement === 'hil_series');
    expect(series.map((p) => [p.tags.name, p.timestampNs, p.fields])).toEqual([
      ['abs', 1_767_225_700_000_250_000n, { run_id: runId, t: 1_767_225_700_000.25, value: 1 }],
      ['iv', ns(phase.tStart), { dim_value: 1, run_id: runId, value: 10, voltage_v: 400 }],
      ['iv', ns(phase.tStart) + 1000n, { dim_value: 2, run_id: runId, value: 11, voltage_v: 410 }],
    ]);
    phase.series = [{ ...base, points: [[1, 2, 3]] }];
    expect(() => pointsFromRecord(r)).toThrow(/series "dc_power_w" of phase "pnc_authorization" \(suite "pnc-authorization"\): point 0 has 3 numbers, expected 2/);
  });

  it('hil_timing / hil_throughput / hil_rig_health: tags, integer fields, and a same-µs collision bumped by 1 ns', () => {
    const power = of('hil_timing').filter((p) => p.tags.message === 'PowerDeliveryReq');
    const t = ns(record.timings[2]!.t);
    expect(power.map((p) => [p.timestampNs, p.fields])).toEqual([
      [t, { latency_ms: 12.5, run_id: runId, seq: 2 }],
      [t + 1n, { latency_ms: 13.75, run_id: runId, seq: 3 }],
    ]);
    expect(of('hil_timing')[4]!.tags).toEqual({ direction: 'cp->csms', fw_line: '2.13', message: 'DataTransfer.Get15118EVCertificate', protocol: 'ocpp', rig: 'bench-a1', suite: 'cert-installation' });
    expect(of('hil_throughput')[1]).toEqual({
      measurement: 'hil_throughput',
      tags: { link: 'can0', rig: 'bench-a1' },
      fields: { bytes_per_s: 6396, dropped: 1, errors: 2, frames_per_s: 799.5, run_id: runId, window_s: 1 },
      timestampNs: ns(record.throughput[1]!.t),
    });
    expect(of('hil_rig_health')[2]).toEqual({
      measurement: 'hil_rig_health',
      tags: { check: 'console', resource: 'secc_uart', rig: 'bench-a1', rig_class: 'dc-ccs2-150kw' },
      fields: { detail: 'no prompt after 3 s: "login:" expected', ok: false, reconnects: 3, run_id: runId },
      timestampNs: ns(record.rigHealth[2]!.t),
    });
    const lp = toLineProtocol(points);
    expect(lp).toContain('bytes_per_s=6396,dropped=1i,errors=2i,frames_per_s=799.5,');
    expect(lp).toContain(',measurements_failed=1i,phases_failed=1i,');
    expect(lp).toContain('ok=false,reconnects=3i,');
    expect(lp).toContain('latency_ms=13.75,run_id="01JH3Q9V7R8ZK2M4N6P8Q0S2T4",seq=3i ');
  });

  it('hil_throughput: windows of different measured length are one series; the length is the field window_s', () => {
    const seriesKey = (p: InfluxPoint): string => `${p.measurement},${Object.entries(p.tags).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',')}`;
    const throughputOf = (window: string): InfluxPoint => {
      const r = sampleRecord();
      r.throughput = [{ ...r.throughput[0]!, window }];
      return pointsFromRecord(RunRecord.parse(r)).find((p) => p.measurement === 'hil_throughput')!;
    };
    const a = throughputOf('1.003s');
    const b = throughputOf('0.998s');
    expect(seriesKey(a)).toBe('hil_throughput,link=can0,rig=bench-a1');
    expect(seriesKey(b)).toBe(seriesKey(a));
    expect([a.fields.window_s, b.fields.window_s]).toEqual([1.003, 0.998]);
    expect(toLineProtocol([a])).toMatch(/^hil_throughput,link=can0,rig=bench-a1 .*,window_s=1\.003 \d+\n$/);
    expect(windowSeconds('2s')).toBe(2);
    expect(windowSeconds('250ms')).toBe(0.25);
    expect(windowSeconds('2min')).toBe(120);
    expect(windowSeconds('1h')).toBe(3600);
    expect(windowSeconds('10 frames')).toBeUndefined();
    expect(throughputOf('10 frames').fields).not.toHaveProperty('window_s');
  });

  it('keeps tags bounded: only the documented tag keys, never ids, serials, SHAs or versions', () => {
    const allowed: Record<string, string[]> = {
      hil_run: ['dut_model', 'fw_line', 'outcome', 'rig', 'rig_class', 'suite', 'trigger'],
      hil_phase: ['fw_line', 'group', 'outcome', 'phase', 'rig', 'suite'],
      hil_measurement: ['fw_line', 'name', 'outcome', 'phase', 'rig', 'rig_class', 'suite', 'unit'],
      hil_series: ['name', 'phase', 'rig', 'suite', 'unit'],
      hil_timing: ['direction', 'fw_line', 'message', 'protocol', 'rig', 'suite'],
      hil_throughput: ['link', 'rig'],
      hil_rig_health: ['check', 'resource', 'rig', 'rig_class'],
    };
    const unbounded = [runId, record.dut.serial, record.software.gitSha, record.dut.firmware];
    for (const p of points) {
      for (const k of Object.keys(p.tags)) expect(allowed[p.measurement]).toContain(k);
      for (const v of Object.values(p.tags)) expect(unbounded).not.toContain(v);
      expect(p.fields.run_id).toBe(runId);
    }
  });

  it('makes (measurement, tags, timestamp) unique and is deterministic', () => {
    expect(new Set(points.map(pointKey)).size).toBe(points.length);
    const again = pointsFromRecord(RunRecord.parse(JSON.parse(JSON.stringify(sampleRecord()))));
    expect(toLineProtocol(again)).toBe(toLineProtocol(points));
    expect(again).toEqual(points);
  });

  it('omits empty tags and sanitises tag values line protocol cannot carry', () => {
    const r = sampleRecord();
    delete r.rig.class;
    r.suites[0]!.phases[3]!.measurements[0]!.unit = '';
    r.suites[0]!.phases[3]!.name = 'pnc\\auth\nphase';
    const ps = pointsFromRecord(r);
    expect(ps.some((p) => 'rig_class' in p.tags)).toBe(false);
    const m = ps.find((p) => p.measurement === 'hil_measurement' && p.tags.name === 'auth_latency_ms')!;
    expect(m.tags).toEqual({ fw_line: '2.13', name: 'auth_latency_ms', outcome: 'PASS', phase: 'pnc/auth phase', rig: 'bench-a1', suite: 'pnc-authorization' });
    expect(parseLineProtocol(toLineProtocol(ps))).toEqual(ps);
  });

  it('rounds timestamps to the microsecond', () => {
    expect(msToNs(1_767_225_600_123.456)).toBe(1_767_225_600_123_456_000n);
    expect(msToNs(0.0015)).toBe(2000n);
    expect(() => msToNs(Number.NaN)).toThrow(RangeError);
  });
});
