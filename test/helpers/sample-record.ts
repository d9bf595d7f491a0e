// Test fixture: a realistic, schema-valid RunRecord for tests of record consumers (InfluxDB points,
// JUnit, HTML report). `sampleRecord()` returns a fresh object each call; `overrides` replace
// top-level keys (deep-edit the returned object for anything finer). The run: rig bench-a1, two
// suites (pnc-authorization: a setup phase, an INFRA attempt retried to PASS, a phase with number,
// string, boolean and withinPercent measurements and a power series, teardown; cert-installation:
// a FAIL phase with a failing and a marginal measurement), OCPP/V2G timings (two at the same
// microsecond), CAN/UART throughput windows and rig health checks.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JsonObject } from '../../drivers/capabilities.ts';
import { transcriptLine } from '../../src/csms/transcript.ts';
import type { AttachmentRecord, MeasurementRecord, PhaseRecord, RunRecord, SeriesRecord, SuiteRecord } from '../../src/report/record.ts';

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

// ---------------------------------------------------------------------------------------------
// A run folder with traffic, for tests of report.html: `writeSampleRun(dir)` writes the MockCsms
// OCPP transcript and the EverestCarSim transcript (with the virtual EV's V2G_Messages) of the
// pnc_authorization phase into `dir/attachments/…`, attaches them with their SHA-256, adds power,
// energy, current and voltage series, many timing points and a phase failed by a ProtocolViolation.

/** PnC DataTransfer vendorId of the OCA application note. */
const PNC_VENDOR = 'org.openchargealliance.iso15118pnc';

export interface SampleRunOptions {
  /** Extra v2g CurrentDemandReq timing points (default 400). */
  timingPoints?: number;
  /** How many CurrentDemand exchanges the EV transcript holds (default 20). */
  currentDemandLoops?: number;
  /** Points of the power/energy/current/voltage series (default 600). */
  seriesPoints?: number;
  /** Puts markup into transcript text (an idTag, a V2G message name) to test escaping. */
  hostile?: boolean;
  /**
   * Adds a suite `busy-loops` of this many PASS phases, each with the same two transcripts attached
   * (default 0): a run of many phases full of traffic, like the main job's.
   */
  busyPhases?: number;
}

export interface SampleRun {
  record: RunRecord;
  /** Attachment paths relative to the run folder. */
  ocppPath: string;
  evPath: string;
  /** Phase the transcripts are attached to. */
  phase: PhaseRecord;
}

/** Deterministic pseudo-random numbers in [0, 1). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function writeSampleRun(runDir: string, opts: SampleRunOptions = {}): SampleRun {
  const record = sampleRecord();
  const auth = record.suites[0] as SuiteRecord;
  const phaseRec = auth.phases.find((p) => p.name === 'pnc_authorization') as PhaseRecord;
  const rand = prng(7);
  const cp = 'CP-ACME-0042';
  const t0 = phaseRec.tStart;
  const us = (offsetMs: number): number => Math.round((t0 + offsetMs) * 1000);

  // OCPP transcript lines as the MockCsms writes them (docs/csms.md), offsets in ms from the phase start
  const ocpp: string[] = [];
  const frame = (offsetMs: number, dir: 'in' | 'out', f: unknown): void => {
    ocpp.push(transcriptLine({ tUs: us(offsetMs), cp, dir, text: JSON.stringify(f), json: true }));
  };
  const event = (offsetMs: number, name: string, detail: JsonObject): void => {
    ocpp.push(transcriptLine({ tUs: us(offsetMs), cp, event: name, detail }));
  };
  const pnc = (messageId: string, data: unknown): unknown => ({ vendorId: PNC_VENDOR, messageId, data: JSON.stringify(data) });
  event(1, 'connected', { protocol: 'ocpp1.6', profile: 0 });
  frame(2, 'in', [2, '1', 'BootNotification', { chargePointVendor: 'ACME', chargePointModel: 'acme-dc150' }]);
  frame(3.2, 'out', [3, '1', { status: 'Accepted', currentTime: '2026-01-01T00:00:05.000Z', interval: 300 }]);
  frame(10, 'in', [2, '2', 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing' }]);
  frame(10.8, 'out', [3, '2', {}]);
  frame(400, 'in', [2, '3', 'DataTransfer', pnc('Get15118EVCertificate', { iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', action: 'Install', exiRequest: 'gAAAAA==' })]);
  frame(640.5, 'out', [3, '3', { status: 'Accepted', data: JSON.stringify({ status: 'Accepted', exiResponse: 'gAAAAB==' }) }]);
  const idToken = opts.hostile ? 'EMP77TWTW00<img src=x onerror="window.__pwned=1">' : 'EMP77TWTW00023';
  frame(1000, 'in', [2, '4', 'DataTransfer', pnc('Authorize', { idToken: { idToken, type: 'eMAID' }, iso15118CertificateHashData: [] })]);
  frame(1612.4, 'out', [3, '4', { status: 'Accepted', data: JSON.stringify({ idTokenInfo: { status: 'Accepted' } }) }]);
  frame(1700, 'in', [2, '5', 'StartTransaction', { connectorId: 1, idTag: 'EMP77TWTW00023', meterStart: 0, timestamp: '2026-01-01T00:00:06.700Z' }]);
  frame(1701.5, 'out', [3, '5', { transactionId: 1, idTagInfo: { status: 'Accepted' } }]);
  frame(2500, 'in', [2, '6', 'MeterValues', { connectorId: 1, transactionId: 1, meterValue: [] }]);
  frame(2501, 'out', [4, '6', 'FormationViolation', 'meterValue must not be empty', {}]);
  event(2501.2, 'violation', { rule: 'ocpp16.schema.MeterValues.req', message: 'meterValue: must NOT have fewer than 1 items' });
  frame(3000, 'out', [2, 'c1', 'TriggerMessage', { requestedMessage: 'MeterValues' }]);
  frame(3004, 'in', [3, 'c1', { status: 'Accepted' }]);
  ocpp.push('{"tUs": 1767225605123456, "cp": "CP-ACME-0042", "dir": "in", "fr\n'); // a torn line, as after a crash

  // EverestCarSim transcript with the virtual EV's V2G_Messages (epoch ms)
  const topic = 'everest/modules/iso15118_car/impl/ev/var/V2G_Messages';
  const ev: string[] = [JSON.stringify({ t: t0 + 0.5, event: 'connect', url: 'mqtt://127.0.0.1:1883', reconnects: 0 })];
  ev.push(JSON.stringify({ t: t0 + 1, dir: 'tx', topic: 'everest_external/nodered/1/carsim/cmd/execute_charging_session', payload: 'sleep 1;iso_wait_slac_matched;iso_start_v2g_session contract,dc', qos: 1 }));
  const v2g = (offsetMs: number, dir: 'EV->SECC' | 'SECC->EV', message: string, responseCode?: string): void => {
    const t = t0 + offsetMs;
    const data = { dir, message, ...(responseCode ? { responseCode } : {}), t };
    ev.push(JSON.stringify({ t: t + 0.3, dir: 'rx', topic, payload: JSON.stringify({ data }) }));
  };
  let t = 100;
  const pair = (req: string, res: string, gapMs = 20, code = 'OK'): void => {
    v2g(t, 'EV->SECC', req);
    v2g(t + gapMs, 'SECC->EV', res, code);
    t += gapMs + 10;
  };
  v2g(t, 'EV->SECC', 'supportedAppProtocolReq');
  v2g(t + 5, 'SECC->EV', 'supportedAppProtocolRes', 'OK_SuccessfulNegotiation');
  t += 20;
  pair('SessionSetupReq', 'SessionSetupRes', 20, 'OK_NewSessionEstablished');
  pair('ServiceDiscoveryReq', 'ServiceDiscoveryRes');
  pair('PaymentServiceSelectionReq', 'PaymentServiceSelectionRes');
  t = 380;
  pair(opts.hostile ? 'CertificateInstallationReq<script>window.__pwned=1</script>' : 'CertificateInstallationReq', 'CertificateInstallationRes', 270);
  t = 960;
  pair('PaymentDetailsReq', 'PaymentDetailsRes', 25);
  for (let i = 0; i < 3; i++) pair('AuthorizationReq', 'AuthorizationRes', 15);
  t = 1650;
  pair('ChargeParameterDiscoveryReq', 'ChargeParameterDiscoveryRes');
  pair('CableCheckReq', 'CableCheckRes');
  pair('PreChargeReq', 'PreChargeRes');
  pair('PowerDeliveryReq', 'PowerDeliveryRes');
  for (let i = 0; i < (opts.currentDemandLoops ?? 20); i++) pair('CurrentDemandReq', 'CurrentDemandRes', 8 + Math.round(rand() * 10));
  ev.push(JSON.stringify({ t: t0 + 50, dir: 'rx', topic: 'everest/modules/ev_manager/impl/ev_manager/var/bsp_event', payload: '{"data":"C"}' }));

  const dir = path.join('attachments', 's0-pnc-authorization', 'p3-pnc_authorization-a1');
  mkdirSync(path.join(runDir, dir), { recursive: true });
  const attach = (name: string, text: string): AttachmentRecord => {
    const rel = `${dir}/${name}`;
    const data = Buffer.from(text, 'utf8');
    writeFileSync(path.join(runDir, rel), data);
    return { name, mime: 'application/jsonl', sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length, path: rel };
  };
  const ocppAtt = attach('csms.jsonl', ocpp.join(''));
  const evAtt = attach('ev.jsonl', ev.join('\n') + '\n');
  phaseRec.attachments.push(ocppAtt, evAtt);

  // power ramp to ~150 kW, energy integrated, DC current and voltage
  const n = opts.seriesPoints ?? 600;
  const power: number[][] = [];
  const energy: number[][] = [];
  const current: number[][] = [];
  const voltage: number[][] = [];
  let wh = 0;
  for (let i = 0; i < n; i++) {
    const tMs = Math.round((i * 4000 * 1000) / n) / 1000;
    const v = 400 + 20 * (i / n) + rand();
    const a = Math.min(350, (i / n) * 700) + rand() * 2;
    const w = Math.round(v * a * 10) / 10;
    if (i > 0) wh += (w * (4000 / n)) / 3_600_000;
    power.push([tMs, w]);
    energy.push([tMs, Math.round(wh * 1000) / 1000]);
    current.push([tMs, Math.round(a * 100) / 100]);
    voltage.push([tMs, Math.round(v * 100) / 100]);
  }
  const ser = (name: string, unit: string, points: number[][], validators: SeriesRecord['validators'] = []): SeriesRecord => ({ name, unit, dims: ['t_ms'], points, validators, outcome: 'PASS', marginal: false });
  phaseRec.series.push(
    ser('power_w', 'W', power, [{ kind: 'inRange', max: 160_000, marginalMax: 155_000 }]),
    ser('energy_wh', 'Wh', energy),
    ser('current_a', 'A', current, [{ kind: 'inRange', max: 400 }]),
    ser('voltage_v', 'V', voltage, [{ kind: 'inRange', min: 150, max: 500 }]),
  );
  phaseRec.logs.push(
    { t: t0 + 5, level: 'info', msg: 'EV plugged in, CP state B' },
    { t: t0 + 2501.5, level: 'warn', msg: 'csms: violation ocpp16.schema.MeterValues.req' },
  );

  // a phase failed by the charger breaking a rule
  const inst = record.suites[1] as SuiteRecord;
  inst.phases.push(
    phase({
      name: 'central_contract_validation',
      group: 'main',
      startMs: 16_500,
      durationMs: 400,
      outcome: 'FAIL',
      reason: 'the charger broke pnc.C07.central-not-allowed',
      error: {
        type: 'ProtocolViolation',
        message: 'Authorize carried iso15118CertificateHashData although CentralContractValidationAllowed=true and the full certificate was available',
        source: 'pnc.C07.central-not-allowed',
      },
    }),
  );

  const busy = opts.busyPhases ?? 0;
  if (busy > 0) {
    const phases = Array.from({ length: busy }, (_, i) =>
      phase({ name: `loop_${i}`, group: 'main', startMs: 17_000 + i * 100, durationMs: 90, attachments: [ocppAtt, evAtt], logs: [{ t: at(17_000 + i * 100 + 1), level: 'info', msg: `loop ${i}` }] }),
    );
    record.suites.push(suite({ name: 'busy-loops', version: '1.0.0', outcome: 'PASS', marginal: false, retried: false, phases }));
  }

  // many timing points, like a CurrentDemand loop
  const base = record.timings.length;
  for (let i = 0; i < (opts.timingPoints ?? 400); i++) {
    record.timings.push({
      t: at(7000 + i),
      suite: 'pnc-authorization',
      phase: 'pnc_authorization',
      protocol: 'v2g',
      message: 'CurrentDemandReq',
      direction: 'ev->secc',
      latencyMs: Math.round((6 + rand() * 20 + (i % 97 === 0 ? 40 : 0)) * 1000) / 1000,
      seq: base + i,
    });
  }
  return { record, ocppPath: ocppAtt.path, evPath: evAtt.path, phase: phaseRec };
}
