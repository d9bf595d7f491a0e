// Folds a run journal into the run record. Used at the normal end of every run and by
// `pnc-bench report` after a crash: a journal that stops early (kill -9, power cut) still yields a
// valid record in which every finished phase is intact, the phase that was running is ABORTED,
// suites that never started are SKIPPED, and `recovered` is true.
import type { JournalEvent } from './journal.ts';
import {
  aggregateOutcome,
  lastAttempts,
  RECORD_SCHEMA_ID,
  RunRecord,
  type Outcome,
  type OutcomeDetail,
  type PhaseRecord,
  type SuiteRecord,
} from './record.ts';

export const iso = (t: number): string => new Date(t).toISOString();

/** Suite outcome from its phases: the last attempt of each phase counts, plus suite-level outcomes. */
export type PhaseSummary = Pick<PhaseRecord, 'name' | 'attempt' | 'outcome' | 'marginal'>;

export function summarizeSuite(phases: readonly PhaseSummary[], extra: readonly Outcome[] = []): { outcome: Outcome; marginal: boolean; retried: boolean } {
  const last = lastAttempts(phases);
  const outcome = aggregateOutcome([...last.map((p) => p.outcome), ...extra]);
  return {
    outcome,
    marginal: outcome === 'PASS' && last.some((p) => p.marginal),
    retried: phases.some((p) => p.attempt > 1),
  };
}

export function foldJournal(events: readonly JournalEvent[], opts: { truncatedTail?: boolean } = {}): RunRecord {
  const start = events[0];
  if (!start || start.type !== 'run.start') throw new Error('journal does not start with run.start');
  let tLast = start.t;
  const suites = new Map<number, SuiteRecord & { ended: boolean }>();
  const phases = new Map<number, PhaseRecord & { ended: boolean; suite: number }>();
  const rec: RunRecord = {
    schema: RECORD_SCHEMA_ID,
    runId: start.runId,
    startedAt: iso(start.t),
    endedAt: iso(start.t),
    tStart: start.t,
    tEnd: start.t,
    durationMs: 0,
    outcome: 'SKIPPED',
    marginal: false,
    retried: false,
    recovered: false,
    outcomeDetails: [],
    trigger: start.trigger,
    software: start.software,
    host: start.host,
    rig: structuredClone(start.rig),
    dut: start.dut,
    suites: [],
    attachments: [],
    timings: [],
    throughput: [],
    rigHealth: [],
    emergencyStops: [],
  };
  let runEnd: Extract<JournalEvent, { type: 'run.end' }> | undefined;
  const phaseOf = (id: number) => {
    const p = phases.get(id);
    if (!p) throw new Error(`journal refers to unknown phase ${id}`);
    return p;
  };

  for (const ev of events.slice(1)) {
    if ('t' in ev && typeof ev.t === 'number') tLast = Math.max(tLast, ev.t);
    switch (ev.type) {
      case 'run.start':
        throw new Error('journal holds two run.start events');
      case 'suite.start':
        suites.set(ev.suite, {
          name: ev.name,
          version: ev.version,
          file: ev.file,
          sha256: ev.sha256,
          requires: ev.requires,
          uses: {},
          startedAt: iso(ev.t),
          endedAt: iso(ev.t),
          tStart: ev.t,
          tEnd: ev.t,
          durationMs: 0,
          outcome: 'SKIPPED',
          marginal: false,
          retried: false,
          outcomeDetails: [],
          phases: [],
          ended: false,
        });
        break;
      case 'suite.bind': {
        const s = suites.get(ev.suite);
        if (s) s.uses = ev.uses;
        break;
      }
      case 'phase.start': {
        const p = {
          name: ev.name,
          group: ev.group,
          attempt: ev.attempt,
          startedAt: iso(ev.t),
          endedAt: iso(ev.t),
          tStart: ev.t,
          tEnd: ev.t,
          durationMs: 0,
          outcome: 'ABORTED' as Outcome,
          marginal: false,
          measurements: [],
          series: [],
          attachments: [],
          logs: [],
          ended: false,
          suite: ev.suite,
        };
        phases.set(ev.phase, p);
        suites.get(ev.suite)?.phases.push(p);
        break;
      }
      case 'measurement': {
        // setting a measurement again replaces the earlier value
        const ms = phaseOf(ev.phase).measurements;
        const i = ms.findIndex((m) => m.name === ev.m.name);
        if (i >= 0) ms[i] = ev.m;
        else ms.push(ev.m);
        break;
      }
      case 'attachment':
        if (ev.phase === null) rec.attachments.push(ev.a);
        else phaseOf(ev.phase).attachments.push(ev.a);
        break;
      case 'log':
        phaseOf(ev.phase).logs.push(ev.line);
        break;
      case 'phase.end': {
        const p = phaseOf(ev.phase);
        Object.assign(p, {
          ended: true,
          outcome: ev.outcome,
          marginal: ev.marginal,
          endedAt: iso(ev.t),
          tEnd: ev.t,
          durationMs: ev.t - p.tStart,
          series: ev.series,
        });
        if (ev.reason !== undefined) p.reason = ev.reason;
        if (ev.error !== undefined) p.error = ev.error;
        break;
      }
      case 'suite.end': {
        const s = suites.get(ev.suite);
        if (!s) throw new Error(`journal ends suite ${ev.suite} that never started`);
        Object.assign(s, {
          ended: true,
          outcome: ev.outcome,
          marginal: ev.marginal,
          retried: ev.retried,
          outcomeDetails: ev.details,
          endedAt: iso(ev.t),
          tEnd: ev.t,
          durationMs: ev.t - s.tStart,
        });
        break;
      }
      case 'timing': {
        const { type: _, ...r } = ev;
        rec.timings.push(r);
        break;
      }
      case 'throughput': {
        const { type: _, ...r } = ev;
        rec.throughput.push(r);
        break;
      }
      case 'health': {
        const { type: _, ...r } = ev;
        rec.rigHealth.push(r);
        break;
      }
      case 'emergency-stop': {
        const { type: _, ...r } = ev;
        rec.emergencyStops.push(r);
        break;
      }
      case 'driver.snapshot': {
        const d = rec.rig.drivers[ev.driver];
        if (d) d[ev.when === 'open' ? 'snapshotAtOpen' : 'snapshotAtClose'] = ev.snapshot;
        break;
      }
      case 'run.end':
        runEnd = ev;
        break;
    }
  }

  // Close what the journal left open (a crash): unfinished phases are ABORTED at the last known time.
  const recovered = runEnd === undefined;
  for (const p of phases.values()) {
    if (!p.ended) {
      Object.assign(p, { outcome: 'ABORTED', endedAt: iso(tLast), tEnd: tLast, durationMs: tLast - p.tStart });
      p.reason = 'the run ended before this phase finished (the journal stops here: crash or kill)';
    }
  }
  for (const s of suites.values()) {
    if (!s.ended) {
      const sum = summarizeSuite(s.phases, ['ABORTED']);
      Object.assign(s, sum, { endedAt: iso(tLast), tEnd: tLast, durationMs: tLast - s.tStart });
      s.outcomeDetails.push({ code: 'ABORTED', message: `suite ${s.name} did not finish: the journal stops before its end` });
    }
  }
  const started = [...suites.values()];
  const strip = ({ ended: _e, suite: _s, ...p }: PhaseRecord & { ended: boolean; suite: number }): PhaseRecord => p;
  rec.suites = started.map(({ ended: _e, ...s }) => ({ ...s, phases: s.phases.map((p) => strip(p as PhaseRecord & { ended: boolean; suite: number })) }));
  // Planned suites that never started (only possible when the run was cut short).
  for (const planned of start.plan.slice(started.length)) {
    rec.suites.push({
      name: planned.name,
      version: '',
      file: planned.file,
      sha256: '',
      requires: [],
      uses: {},
      startedAt: iso(tLast),
      endedAt: iso(tLast),
      tStart: tLast,
      tEnd: tLast,
      durationMs: 0,
      outcome: 'SKIPPED',
      marginal: false,
      retried: false,
      outcomeDetails: [{ code: 'NOT_STARTED', message: 'the run ended before this suite started' }],
      phases: [],
    });
  }

  const details: OutcomeDetail[] = [];
  for (const s of rec.suites) for (const d of s.outcomeDetails) details.push({ code: d.code, message: `${s.name}: ${d.message}` });
  if (runEnd) details.push(...runEnd.details);
  if (recovered) details.push({ code: 'RECOVERED', message: `record rebuilt from a journal that ends without run.end${opts.truncatedTail ? ' (last line cut short)' : ''}` });

  const tEnd = runEnd?.t ?? tLast;
  rec.tEnd = tEnd;
  rec.endedAt = iso(tEnd);
  rec.durationMs = tEnd - rec.tStart;
  rec.outcome = runEnd ? runEnd.outcome : aggregateOutcome([...rec.suites.map((s) => s.outcome), 'ABORTED']);
  rec.marginal = rec.outcome === 'PASS' && rec.suites.some((s) => s.marginal);
  rec.retried = rec.suites.some((s) => s.retried);
  rec.recovered = recovered;
  rec.outcomeDetails = details;
  return RunRecord.parse(rec);
}
