// The run record: the one canonical, immutable description of a run (reports/<runId>/record.json).
// Everything else (junit.xml, InfluxDB points, report.html) is derived from it and can be rebuilt.
// The zod schemas below are the single source of truth: the TypeScript types are inferred from
// them and `npm run schemas` exports them as the versioned JSON Schema in reports/schema/.
//
// Time: every `t…` field is epoch milliseconds as a float with microsecond resolution
// (performance.timeOrigin + performance.now()); the ISO strings are for people.
import { z } from 'zod';

export const RECORD_SCHEMA_ID = 'pnc-bench-record/1';

export const OUTCOMES = ['PASS', 'FAIL', 'ERROR', 'TIMEOUT', 'ABORTED', 'INFRA', 'SKIPPED'] as const;
export const Outcome = z.enum(OUTCOMES);
export type Outcome = z.infer<typeof Outcome>;

const Scalar = z.union([z.number(), z.string(), z.boolean(), z.null()]);
export type MeasuredValue = z.infer<typeof Scalar>;

export const ValidatorSpec = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('inRange'),
      min: z.number().optional(),
      max: z.number().optional(),
      marginalMin: z.number().optional(),
      marginalMax: z.number().optional(),
    })
    .strict(),
  z.object({ kind: z.literal('equals'), value: Scalar }).strict(),
  z.object({ kind: z.literal('oneOf'), values: z.array(Scalar).min(1) }).strict(),
  z.object({ kind: z.literal('matches'), pattern: z.string(), flags: z.string().optional() }).strict(),
  z
    .object({
      kind: z.literal('withinPercent'),
      target: z.number(),
      percent: z.number().nonnegative(),
      marginalPercent: z.number().nonnegative().optional(),
    })
    .strict(),
]);
export type ValidatorSpec = z.infer<typeof ValidatorSpec>;

/** Outcome of one measurement: PASS or FAIL; `marginal` flags a PASS inside the marginal band. */
export const MeasurementOutcome = z.enum(['PASS', 'FAIL']);

export const MeasurementRecord = z
  .object({
    name: z.string(),
    value: Scalar,
    unit: z.string().optional(),
    t: z.number(),
    validators: z.array(ValidatorSpec),
    /** Where the limits came from: `<file>#<key>`; absent when the suite wrote them inline. */
    limitSource: z.string().optional(),
    outcome: MeasurementOutcome,
    marginal: z.boolean(),
    /** Why it failed or is marginal, in words (which validator, which bound). */
    detail: z.string().optional(),
    description: z.string().optional(),
  })
  .strict();
export type MeasurementRecord = z.infer<typeof MeasurementRecord>;

export const SeriesRecord = z
  .object({
    name: z.string(),
    unit: z.string().optional(),
    /** Names of the coordinates before the value, e.g. ["t_ms"]; each point is [...coords, value]. */
    dims: z.array(z.string()),
    points: z.array(z.array(z.number())),
    validators: z.array(ValidatorSpec),
    limitSource: z.string().optional(),
    outcome: MeasurementOutcome,
    marginal: z.boolean(),
    detail: z.string().optional(),
    description: z.string().optional(),
  })
  .strict();
export type SeriesRecord = z.infer<typeof SeriesRecord>;

export const AttachmentRecord = z
  .object({
    name: z.string(),
    mime: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().nonnegative(),
    /** Relative to the run directory. */
    path: z.string(),
  })
  .strict();
export type AttachmentRecord = z.infer<typeof AttachmentRecord>;

export const ErrorInfo = z
  .object({
    /** LinkError, ProtocolViolation, TimeoutError, AbortError, Error, ... */
    type: z.string(),
    message: z.string(),
    /** The driver or rule that raised it, when known (e.g. a ProtocolViolation's rule id). */
    source: z.string().optional(),
    stack: z.string().optional(),
  })
  .strict();
export type ErrorInfo = z.infer<typeof ErrorInfo>;

export const LogLine = z
  .object({ t: z.number(), level: z.enum(['debug', 'info', 'warn', 'error']), msg: z.string() })
  .strict();
export type LogLine = z.infer<typeof LogLine>;

export const PhaseGroup = z.enum(['setup', 'main', 'teardown']);
export type PhaseGroup = z.infer<typeof PhaseGroup>;

export const PhaseRecord = z
  .object({
    name: z.string(),
    group: PhaseGroup,
    attempt: z.number().int().positive(),
    startedAt: z.string(),
    endedAt: z.string(),
    tStart: z.number(),
    tEnd: z.number(),
    durationMs: z.number().nonnegative(),
    outcome: Outcome,
    marginal: z.boolean(),
    /** Why the phase ended as it did when not PASS, in words. */
    reason: z.string().optional(),
    error: ErrorInfo.optional(),
    measurements: z.array(MeasurementRecord),
    series: z.array(SeriesRecord),
    attachments: z.array(AttachmentRecord),
    logs: z.array(LogLine),
  })
  .strict();
export type PhaseRecord = z.infer<typeof PhaseRecord>;

export const OutcomeDetail = z.object({ code: z.string(), message: z.string() }).strict();
export type OutcomeDetail = z.infer<typeof OutcomeDetail>;

export const SuiteRecord = z
  .object({
    name: z.string(),
    version: z.string(),
    file: z.string(),
    sha256: z.string(),
    requires: z.array(z.string()),
    /** role → rig driver name it was bound to. */
    uses: z.record(z.string(), z.string()),
    startedAt: z.string(),
    endedAt: z.string(),
    tStart: z.number(),
    tEnd: z.number(),
    durationMs: z.number().nonnegative(),
    outcome: Outcome,
    marginal: z.boolean(),
    retried: z.boolean(),
    outcomeDetails: z.array(OutcomeDetail),
    phases: z.array(PhaseRecord),
  })
  .strict();
export type SuiteRecord = z.infer<typeof SuiteRecord>;

export const TimingRecord = z
  .object({
    t: z.number(),
    suite: z.string().optional(),
    phase: z.string().optional(),
    /** v2g, slac, ocpp, can, modbus, ... */
    protocol: z.string(),
    /** e.g. Authorize, CertificateInstallationReq, DataTransfer.Get15118EVCertificate */
    message: z.string(),
    /** cp->csms, csms->cp, ev->secc, ... */
    direction: z.string(),
    latencyMs: z.number(),
    seq: z.number().int().nonnegative(),
  })
  .strict();
export type TimingRecord = z.infer<typeof TimingRecord>;

export const ThroughputRecord = z
  .object({
    t: z.number(),
    suite: z.string().optional(),
    phase: z.string().optional(),
    link: z.string(),
    window: z.string(),
    framesPerS: z.number(),
    bytesPerS: z.number(),
    errors: z.number().int().nonnegative(),
    dropped: z.number().int().nonnegative(),
  })
  .strict();
export type ThroughputRecord = z.infer<typeof ThroughputRecord>;

export const RigHealthRecord = z
  .object({
    t: z.number(),
    resource: z.string(),
    check: z.string(),
    ok: z.boolean(),
    reconnects: z.number().int().nonnegative(),
    detail: z.string(),
  })
  .strict();
export type RigHealthRecord = z.infer<typeof RigHealthRecord>;

export const EmergencyStopRecord = z
  .object({
    t: z.number(),
    reason: z.string(),
    /** driver name → "ok" or the error message */
    results: z.record(z.string(), z.string()),
  })
  .strict();
export type EmergencyStopRecord = z.infer<typeof EmergencyStopRecord>;

export const Trigger = z
  .object({
    kind: z.enum(['manual', 'ci', 'nightly', 'precert']),
    operator: z.string().optional(),
    ciJobUrl: z.string().optional(),
    pipelineId: z.string().optional(),
  })
  .strict();
export type Trigger = z.infer<typeof Trigger>;

export const DriverInfo = z
  .object({
    driver: z.string(),
    provides: z.array(z.string()),
    snapshotAtOpen: z.record(z.string(), z.unknown()).optional(),
    snapshotAtClose: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const RigInfo = z
  .object({
    id: z.string(),
    class: z.string().optional(),
    file: z.string(),
    features: z.array(z.string()),
    /** sha256 of the canonical JSON of resolvedConfig */
    configHash: z.string(),
    resolvedConfig: z.record(z.string(), z.unknown()),
    drivers: z.record(z.string(), DriverInfo),
  })
  .strict();
export type RigInfo = z.infer<typeof RigInfo>;

export const DutInfo = z
  .object({
    model: z.string(),
    vendor: z.string().optional(),
    serial: z.string().optional(),
    firmware: z.string().optional(),
    hardware: z.string().optional(),
  })
  .strict();
export type DutInfo = z.infer<typeof DutInfo>;

export const SoftwareInfo = z
  .object({
    benchVersion: z.string(),
    gitSha: z.string().optional(),
    node: z.string(),
    packages: z.record(z.string(), z.string()),
  })
  .strict();
export type SoftwareInfo = z.infer<typeof SoftwareInfo>;

export const RunRecord = z
  .object({
    schema: z.literal(RECORD_SCHEMA_ID),
    runId: z.string(),
    startedAt: z.string(),
    endedAt: z.string(),
    tStart: z.number(),
    tEnd: z.number(),
    durationMs: z.number().nonnegative(),
    outcome: Outcome,
    marginal: z.boolean(),
    retried: z.boolean(),
    /** true when the record was rebuilt from a journal that ended without `run.end` (crash, kill -9). */
    recovered: z.boolean(),
    outcomeDetails: z.array(OutcomeDetail),
    trigger: Trigger,
    software: SoftwareInfo,
    host: z.object({ hostname: z.string(), platform: z.string() }).strict(),
    rig: RigInfo,
    dut: DutInfo,
    suites: z.array(SuiteRecord),
    /** Driver traffic outside any phase (opening, preflight, emergency stops, closing). */
    attachments: z.array(AttachmentRecord),
    timings: z.array(TimingRecord),
    throughput: z.array(ThroughputRecord),
    rigHealth: z.array(RigHealthRecord),
    emergencyStops: z.array(EmergencyStopRecord),
  })
  .strict();
export type RunRecord = z.infer<typeof RunRecord>;

/** The JSON Schema (draft-07) of run records; scripts/gen-schemas.ts writes it to reports/schema/. */
export function recordJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(RunRecord, { target: 'draft-7' });
  return { $schema, title: `pnc-bench run record (${RECORD_SCHEMA_ID})`, ...rest };
}

/**
 * The attempt of each phase that counts: the last one (phase names are unique within a suite).
 * Keeps the order in which the phases first ran.
 */
export function lastAttempts<T extends { name: string; attempt: number }>(phases: readonly T[]): T[] {
  const last = new Map<string, T>();
  for (const p of phases) {
    const seen = last.get(p.name);
    if (seen === undefined || p.attempt >= seen.attempt) last.set(p.name, p);
  }
  return [...last.values()];
}

/**
 * Severity order used to fold many outcomes into one (a suite from its phases, a run from its
 * suites): the first in this list that occurs wins. INFRA/ERROR/ABORTED outrank FAIL because a
 * run with a rig fault or a suite bug is not trustworthy evidence either way.
 */
export const OUTCOME_SEVERITY: readonly Outcome[] = ['ABORTED', 'ERROR', 'INFRA', 'TIMEOUT', 'FAIL', 'PASS', 'SKIPPED'];

export function aggregateOutcome(outcomes: Iterable<Outcome>): Outcome {
  let best = OUTCOME_SEVERITY.length - 1; // SKIPPED when there is nothing
  for (const o of outcomes) best = Math.min(best, OUTCOME_SEVERITY.indexOf(o));
  return OUTCOME_SEVERITY[best] as Outcome;
}

/**
 * The exit code of a run: as exitCodeFor(outcome), except that a run which is INFRA or ERROR but in
 * which a suite FAILed or TIMED OUT exits 1: that is evidence against the charger, and CI pipelines
 * retry exit 3 (a rig fault) — a retry must never wash a charger failure away.
 */
export function exitCodeForRun(
  run: { outcome: Outcome; suites: readonly { outcome: Outcome; file: string }[] },
  /** the rig health suites the run added ahead of the chosen ones */
  isHealth: (suite: { file: string }) => boolean = () => false,
): number {
  const code = exitCodeFor(run.outcome);
  // every suite that was asked for SKIPPED (only the added health suites ran): the rig cannot run what was asked
  const asked = run.suites.filter((s) => !isHealth(s));
  if (code === 0 && asked.length > 0 && asked.every((s) => s.outcome === 'SKIPPED')) return exitCodeFor('SKIPPED');
  if ((run.outcome === 'INFRA' || run.outcome === 'ERROR') && run.suites.some((s) => s.outcome === 'FAIL' || s.outcome === 'TIMEOUT')) return 1;
  return code;
}

/**
 * Process exit code for a run outcome: 0 PASS, 1 FAIL/TIMEOUT, 2 when every suite was SKIPPED (the
 * rig cannot run what was asked: a configuration mismatch, not a green run), 3 INFRA/ERROR/ABORTED.
 */
export function exitCodeFor(outcome: Outcome): number {
  switch (outcome) {
    case 'PASS':
      return 0;
    case 'FAIL':
    case 'TIMEOUT':
      return 1;
    case 'SKIPPED':
      return 2;
    default:
      return 3;
  }
}
