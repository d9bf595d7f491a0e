// JUnit XML from the run record, so CI systems show bench results natively: one <testsuite> per
// bench suite, one <testcase> per phase (the last attempt; earlier attempts are listed in
// <system-out>). FAIL and TIMEOUT are <failure>s, ERROR / INFRA / ABORTED are <error>s whose
// type is the outcome, SKIPPED is <skipped>. A failure message names the measurement, its value and
// the limit it broke.
import { lastAttempts, type PhaseRecord, type RunRecord, type SuiteRecord, type ValidatorSpec } from './record.ts';

const esc = (s: string): string =>
  s
    // XML 1.0 forbids most control characters even as entities
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

const secs = (ms: number): string => (ms / 1000).toFixed(3);

export function describeLimit(v: ValidatorSpec): string {
  switch (v.kind) {
    case 'inRange': {
      const parts = [];
      if (v.min !== undefined) parts.push(`min ${v.min}`);
      if (v.max !== undefined) parts.push(`max ${v.max}`);
      if (v.marginalMin !== undefined) parts.push(`marginalMin ${v.marginalMin}`);
      if (v.marginalMax !== undefined) parts.push(`marginalMax ${v.marginalMax}`);
      return `inRange(${parts.join(', ')})`;
    }
    case 'equals':
      return `equals(${JSON.stringify(v.value)})`;
    case 'oneOf':
      return `oneOf(${v.values.map((x) => JSON.stringify(x)).join(', ')})`;
    case 'matches':
      return `matches(/${v.pattern}/${v.flags ?? ''})`;
    case 'withinPercent':
      return `withinPercent(${v.target} ± ${v.percent} %)`;
  }
}

/** One line per failing measurement or series: name, value, limit and source. */
export function failureLines(p: PhaseRecord): string[] {
  const lines: string[] = [];
  for (const m of p.measurements.filter((x) => x.outcome === 'FAIL')) {
    const unit = m.unit ? ` ${m.unit}` : '';
    const limits = m.validators.map(describeLimit).join(' and ');
    lines.push(`measurement ${m.name} = ${JSON.stringify(m.value)}${unit} violates ${limits || 'its limits'}${m.detail ? ` (${m.detail})` : ''}${m.limitSource ? ` [limit from ${m.limitSource}]` : ''}`);
  }
  for (const s of p.series.filter((x) => x.outcome === 'FAIL')) {
    lines.push(`series ${s.name} violates ${s.validators.map(describeLimit).join(' and ')}${s.detail ? ` (${s.detail})` : ''}${s.limitSource ? ` [limit from ${s.limitSource}]` : ''}`);
  }
  return lines;
}

function testcase(s: SuiteRecord, p: PhaseRecord, earlier: PhaseRecord[]): string {
  const head = `    <testcase classname="${esc(`${s.name}.${p.group}`)}" name="${esc(p.name)}" time="${secs(p.durationMs)}"`;
  const why = [p.reason, p.error ? `${p.error.type}: ${p.error.message}` : undefined, ...failureLines(p)].filter((x): x is string => !!x);
  const message = why[0] ?? p.outcome;
  const body = why.join('\n');
  let inner = '';
  switch (p.outcome) {
    case 'PASS':
      break;
    case 'SKIPPED':
      inner = `      <skipped message="${esc(message)}"/>\n`;
      break;
    case 'FAIL':
    case 'TIMEOUT':
      inner = `      <failure type="${p.outcome}" message="${esc(message)}">${esc(body)}</failure>\n`;
      break;
    default:
      inner = `      <error type="${p.outcome}" message="${esc(message)}">${esc(body)}${p.error?.stack ? esc('\n' + p.error.stack) : ''}</error>\n`;
  }
  const out: string[] = [];
  for (const e of earlier) out.push(`attempt ${e.attempt}: ${e.outcome}${e.reason ? ` — ${e.reason}` : ''}${e.error ? ` — ${e.error.type}: ${e.error.message}` : ''}`);
  if (p.marginal) out.push(`marginal: ${p.measurements.filter((m) => m.marginal).map((m) => `${m.name} (${m.detail ?? ''})`).join(', ')}`);
  for (const m of p.measurements) out.push(`${m.name} = ${JSON.stringify(m.value)}${m.unit ? ' ' + m.unit : ''} ${m.outcome}${m.marginal ? ' (marginal)' : ''}`);
  for (const a of p.attachments) out.push(`attachment ${a.path} sha256=${a.sha256}`);
  if (out.length) inner += `      <system-out>${esc(out.join('\n'))}</system-out>\n`;
  return inner ? `${head}>\n${inner}    </testcase>\n` : `${head}/>\n`;
}

export function toJUnit(rec: RunRecord): string {
  let total = 0;
  let failures = 0;
  let errors = 0;
  let skipped = 0;
  const suites: string[] = [];
  for (const s of rec.suites) {
    const cases = lastAttempts(s.phases);
    const earlier = (p: PhaseRecord): PhaseRecord[] => s.phases.filter((x) => x.name === p.name && x.attempt < p.attempt);
    const n = { tests: cases.length, failures: 0, errors: 0, skipped: 0 };
    let xml = '';
    for (const p of cases) {
      if (p.outcome === 'FAIL' || p.outcome === 'TIMEOUT') n.failures++;
      else if (p.outcome === 'SKIPPED') n.skipped++;
      else if (p.outcome !== 'PASS') n.errors++;
      xml += testcase(s, p, earlier(p));
    }
    // A suite that ended badly without a phase to show it (driver open failure, skipped suite).
    if (cases.length === 0 || (s.outcome !== 'PASS' && !cases.some((p) => p.outcome === s.outcome))) {
      const msg = s.outcomeDetails.map((d) => `${d.code}: ${d.message}`).join('\n') || s.outcome;
      n.tests++;
      const head = `    <testcase classname="${esc(s.name)}" name="(suite)" time="${secs(s.durationMs)}">\n`;
      if (s.outcome === 'SKIPPED') {
        n.skipped++;
        xml += `${head}      <skipped message="${esc(msg)}"/>\n    </testcase>\n`;
      } else if (s.outcome === 'FAIL' || s.outcome === 'TIMEOUT') {
        n.failures++;
        xml += `${head}      <failure type="${s.outcome}" message="${esc(msg.split('\n')[0] ?? '')}">${esc(msg)}</failure>\n    </testcase>\n`;
      } else if (s.outcome !== 'PASS') {
        n.errors++;
        xml += `${head}      <error type="${s.outcome}" message="${esc(msg.split('\n')[0] ?? '')}">${esc(msg)}</error>\n    </testcase>\n`;
      } else {
        xml += head.replace(/>\n$/, '/>\n');
      }
    }
    total += n.tests;
    failures += n.failures;
    errors += n.errors;
    skipped += n.skipped;
    const props = [
      ['outcome', s.outcome],
      ['version', s.version],
      ['file', s.file],
      ['sha256', s.sha256],
      ['marginal', String(s.marginal)],
      ['retried', String(s.retried)],
    ]
      .map(([k, v]) => `      <property name="${k}" value="${esc(v ?? '')}"/>\n`)
      .join('');
    suites.push(
      `  <testsuite name="${esc(s.name)}" tests="${n.tests}" failures="${n.failures}" errors="${n.errors}" skipped="${n.skipped}" time="${secs(s.durationMs)}" timestamp="${s.startedAt}" hostname="${esc(rec.host.hostname)}">\n` +
        `    <properties>\n${props}    </properties>\n${xml}  </testsuite>\n`,
    );
  }
  const name = `pnc-bench ${rec.runId} on ${rec.rig.id} (${rec.outcome})`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="${esc(name)}" tests="${total}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${secs(rec.durationMs)}">\n` +
    suites.join('') +
    `</testsuites>\n`
  );
}
