// Test fixture: a realistic, schema-valid RunRecord for tests of record consumers (InfluxDB points,
// JUnit, HTML report). `sampleRecord()` returns a fresh object each call; `overrides` replace
// top-level keys (deep-edit the returned object for anything finer). The run: rig bench-a1, two
// suites (pnc-authorization: a setup phase, an INFRA attempt retried to PASS, a phase with number,
// string, boolean and withinPercent measurements and a power series, teardown; cert-installation:
// a FAIL phase with a failing and a marginal measurement), OCPP/V2G timings (two at the same
// microsecond), CAN/UART throughput windows and rig health checks.
import type { MeasurementRecord, PhaseRecord, RunRecord, SeriesRecord, SuiteRecord } from '../../src/report/record.ts';

/** 2026-01-01T00:00:00.123456Z in epoch ms with µs resolution. */
export const SAMPLE_T0_MS = 1_767_225_600_123.456;

const iso = (tMs: number): string => new Date(Math.floor(tMs)).toISOString();
/** t0 + offset, kept at µs resolution like performance.timeOrigin + performance.now(). */
const at = (offsetMs: number): number => Math.round((SAMPLE_T0_MS + offsetMs) * 1000) / 1000;

function measurement(m: Partial<MeasurementRecord> & Pick<MeasurementRecord, 'name' | 'value' | 't'>): MeasurementRecord {
  return { validators: [], outcome: 'PASS', marginal: false, ...m };
}

function phase(
  p: Partial<PhaseRecord> & Pick<PhaseRecord, 'name' | 'group'> & { startMs: number; durationMs: number },
): PhaseRecord {
  const { startMs, durationMs, ...rest } = p;
  const tStart = at(startMs);
  const tEnd = at(startMs + durationMs);
  return {
    attempt: 1,
    startedAt: iso(tStart),
    endedAt: iso(tEnd),
    tStart,
    tEnd,
    durationMs,
    outcome: 'PASS',
    marginal: false,
    measurements: [],
    series: [],
    attachments: [],
    logs: [],
    ...rest,
  };
}

function suite(s: Pick<SuiteRecord, 'name' | 'version' | 'outcome' | 'marginal' | 'retried' | 'phases'> & Partial<SuiteRecord>): SuiteRecord {
  const first = s.phases[0];
  const last = s.phases[s.phases.length - 1];
  const tStart = first?.tStart ?? SAMPLE_T0_MS;
  const tEnd = last?.tEnd ?? SAMPLE_T0_MS;
  return {
    file: `bench/${s.name}/${s.name}.ts`,
    sha256: 'a'.repeat(64),
    requires: ['csms', 'ev'],
    uses: { csms: 'mock-csms', ev: 'everest-ev' },
    startedAt: iso(tStart),
    endedAt: iso(tEnd),
    tStart,
    tEnd,
    durationMs: Math.round((tEnd - tStart) * 1000) / 1000,
    outcomeDetails: [],
    ...s,
  };
}

const powerSeries: SeriesRecord = {
  name: 'dc_power_w',
  unit: 'W',
  dims: ['t_ms'],
  points: [
    [0, 0],
    [500, 41_000.5],
    [1000, 82_250],
    [1500, 149_875.25],
  ],
  validators: [{ kind: 'inRange', max: 150_000 }],
  outcome: 'PASS',
  marginal: false,
};

export function sampleRecord(overrides: Partial<RunRecord> = {}): RunRecord {
  const authorization = suite({
    name: 'pnc-authorization',
    version: '1.2.0',
    outcome: 'PASS',
    marginal: true,
    retried: true,
    phases: [
      phase({ name: 'connect', group: 'setup', startMs: 0, durationMs: 812.125 }),
      phase({
        name: 'plug_in',
        group: 'main',
        startMs: 1000,
        durationMs: 2000,
        outcome: 'INFRA',
        reason: 'CCU link dropped',
        error: { type: 'LinkError', message: 'can0: no heartbeat for 500 ms', source: 'ccu' },
      }),
      phase({ name: 'plug_in', group: 'main', attempt: 2, startMs: 3500, durationMs: 1450.5 }),
      phase({
        name: 'pnc_authorization',
        group: 'main',
        startMs: 5000,
        durationMs: 4000.25,
        marginal: true,
        measurements: [
          measurement({
            name: 'auth_latency_ms',
            value: 1612.4,
            unit: 'ms',
            t: at(6612.4),
            validators: [{ kind: 'inRange', max: 2000, marginalMax: 1500 }],
            limitSource: 'bench/limits/dc-ccs2-150kw.yaml#pnc.auth_latency_ms',
            marginal: true,
            detail: 'above marginalMax 1500',
          }),
          measurement({
            name: 'id_token_status',
            value: 'Accepted',
            t: at(6613),
            validators: [{ kind: 'equals', value: 'Accepted' }],
          }),
          measurement({
            name: 'contract_cert_valid',
            value: true,
            t: at(6614.001),
            validators: [{ kind: 'equals', value: true }],
          }),
          measurement({
            name: 'energy_delivered_wh',
            value: 1012.5,
            unit: 'Wh',
            t: at(8900),
            validators: [{ kind: 'withinPercent', target: 1000, percent: 2, marginalPercent: 1 }],
          }),
        ],
        series: [powerSeries],
      }),
      phase({ name: 'unplug', group: 'teardown', startMs: 9100, durationMs: 300 }),
    ],
  });
  const installation = suite({
    name: 'cert-installation',
    version: '0.9.1',
    outcome: 'FAIL',
    marginal: false,
    retried: false,
    outcomeDetails: [{ code: 'LIMIT', message: 'install_latency_ms 6123.7 > max 5000' }],
    phases: [
      phase({
        name: 'install_certificate',
        group: 'main',
        startMs: 10_000,
        durationMs: 6500,
        outcome: 'FAIL',
        reason: 'measurement install_latency_ms failed',
        measurements: [
          measurement({
            name: 'install_latency_ms',
            value: 6123.7,
            unit: 'ms',
            t: at(16_123.7),
            validators: [{ kind: 'inRange', min: 0, max: 5000, marginalMax: 4000 }],
            limitSource: 'bench/limits/dc-ccs2-150kw.yaml#pki.install_latency_ms',
            outcome: 'FAIL',
            detail: '6123.7 > max 5000',
          }),
          measurement({
            name: 'exi_response_bytes',
            value: 1834,
            unit: 'B',
            t: at(16_200),
            validators: [{ kind: 'inRange', min: 100, max: 4096 }],
          }),
        ],
      }),
    ],
  });

  const tEnd = at(17_000);
  const record: RunRecord = {
    schema: 'pnc-bench-record/1',
    runId: '01JH3Q9V7R8ZK2M4N6P8Q0S2T4',
    startedAt: iso(SAMPLE_T0_MS),
    endedAt: iso(tEnd),
    tStart: SAMPLE_T0_MS,
    tEnd,
    durationMs: 17_000,
    outcome: 'FAIL',
    marginal: true,
    retried: true,
    recovered: false,
    outcomeDetails: [{ code: 'LIMIT', message: 'cert-installation: install_latency_ms 6123.7 > max 5000' }],
    trigger: { kind: 'nightly', pipelineId: '48213', ciJobUrl: 'https://ci.example.com/jobs/48213' },
    software: { benchVersion: '0.1.0', gitSha: '3f9c2e1d0b7a6958473625140f1e2d3c4b5a6978', node: 'v20.19.0', packages: { influx: '5.12.0' } },
    host: { hostname: 'lab-runner-3', platform: 'linux' },
    rig: {
      id: 'bench-a1',
      class: 'dc-ccs2-150kw',
      file: 'rigs/bench-a1.yaml',
      features: ['pnc', 'dc'],
      configHash: 'b'.repeat(64),
      resolvedConfig: { id: 'bench-a1' },
      drivers: { csms: { driver: 'mock-csms', provides: ['csms'] } },
    },
    dut: { model: 'acme-dc150', vendor: 'ACME', serial: 'SN-0042-7781', firmware: 'v2.13.1-rc2', hardware: 'rev C' },
    suites: [authorization, installation],
    attachments: [{ name: 'ccu.candump', mime: 'text/plain', sha256: 'c'.repeat(64), bytes: 120, path: 'attachments/rig/000-ccu.candump' }],
    timings: [
      { t: at(6612.4), suite: 'pnc-authorization', phase: 'pnc_authorization', protocol: 'ocpp', message: 'Authorize', direction: 'cp->csms', latencyMs: 1612.4, seq: 0 },
      { t: at(6700), suite: 'pnc-authorization', phase: 'pnc_authorization', protocol: 'v2g', message: 'SessionSetupReq', direction: 'ev->secc', latencyMs: 41.25, seq: 1 },
      // Two exchanges logged at the same microsecond: same tags and timestamp → the second point is bumped.
      { t: at(6800), suite: 'pnc-authorization', phase: 'pnc_authorization', protocol: 'v2g', message: 'PowerDeliveryReq', direction: 'ev->secc', latencyMs: 12.5, seq: 2 },
      { t: at(6800), suite: 'pnc-authorization', phase: 'pnc_authorization', protocol: 'v2g', message: 'PowerDeliveryReq', direction: 'ev->secc', latencyMs: 13.75, seq: 3 },
      { t: at(16_123.7), suite: 'cert-installation', protocol: 'ocpp', message: 'DataTransfer.Get15118EVCertificate', direction: 'cp->csms', latencyMs: 6123.7, seq: 4 },
    ],
    throughput: [
      { t: at(2000), link: 'can0', window: '1s', framesPerS: 812, bytesPerS: 6496, errors: 0, dropped: 0 },
      { t: at(3000), link: 'can0', window: '1s', framesPerS: 799.5, bytesPerS: 6396, errors: 2, dropped: 1 },
      { t: at(3000), link: 'secc_uart', window: '1s', framesPerS: 14, bytesPerS: 1120.25, errors: 0, dropped: 0 },
    ],
    rigHealth: [
      { t: at(-500), resource: 'can0', check: 'link_up', ok: true, reconnects: 0, detail: 'bitrate 500000' },
      { t: at(-400), resource: 'meter', check: 'modbus_read', ok: true, reconnects: 1, detail: 'read 0x0000 in 12 ms' },
      { t: at(-300), resource: 'secc_uart', check: 'console', ok: false, reconnects: 3, detail: 'no prompt after 3 s: "login:" expected' },
    ],
    emergencyStops: [],
  };
  return { ...record, ...overrides };
}
