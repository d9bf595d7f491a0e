// The web view's logic (loaded by index.html as an ES module): talks to the API of `pnc-bench serve`
// (docs/server.md) and follows its WebSocket event stream. The first stream message (`hello`) is the
// whole current state; every later event updates it and the page. Everything shown is set with
// textContent (suite, measurement and log text comes from devices and suite files, never as HTML).
//
// A token comes from `?token=` once and stays in this tab's sessionStorage; requests carry it as
// `Authorization: Bearer`, the WebSocket as `?token=` (browsers cannot set its headers).
import { LivePlot } from './plot.js';

const $ = (id) => document.getElementById(id);

// ── token ──
const params = new URLSearchParams(location.search);
if (params.has('token')) {
  sessionStorage.setItem('pnc-bench-token', params.get('token') ?? '');
  params.delete('token');
  history.replaceState(null, '', location.pathname + (params.size ? `?${params}` : ''));
}
let token = sessionStorage.getItem('pnc-bench-token') ?? '';

/** Builds an element: h('td', { class: 'num' }, 'text', child, ...). */
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}

function showError(text) {
  const box = $('error');
  box.textContent = text;
  box.hidden = !text;
}

async function api(method, path, body) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const type = res.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await res.json() : await res.text();
  if (res.status === 401) $('token-form').hidden = false;
  if (!res.ok) {
    const err = new Error(typeof data === 'object' && data && data.error ? data.error : `${method} ${path}: HTTP ${res.status}`);
    err.status = res.status;
    err.data = data;
    throw err;
  }
  return data;
}

// ── state ──
/** @type {any} */ let rig = null;
/** @type {any} */ let run = null;
/** @type {any[]} */ let catalogue = [];

const plots = {
  power: new LivePlot($('plot-power'), { title: 'Power', unit: 'W' }),
  current: new LivePlot($('plot-current'), { title: 'Current', unit: 'A' }),
  latency: new LivePlot($('plot-latency'), { title: 'Message latency', unit: 'ms', points: true }),
};

const fmtValue = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, '')) : JSON.stringify(v));

// ── rendering ──
function renderRig() {
  if (!rig) return;
  $('rig-title').textContent = `rig ${rig.id} · DUT ${rig.dut.model}${rig.dut.firmware ? ` ${rig.dut.firmware}` : ''}`;
  $('rig-info').replaceChildren(
    h('div', {}, rig.description ?? ''),
    h('div', { class: 'muted' }, `features: ${rig.features.join(', ') || 'none'}`, rig.simulator ? ` · simulated hardware: ${rig.simulator.name}` : ''),
  );
  $('drivers').replaceChildren(
    ...rig.drivers.map((d) =>
      h(
        'li',
        { 'data-driver': d.name, 'data-ok': d.health ? String(d.health.ok) : 'unknown' },
        h('span', { class: 'dot', 'data-ok': d.health ? String(d.health.ok) : 'unknown' }),
        h('strong', {}, d.name),
        ` ${d.driver} `,
        h('span', { class: 'muted' }, `(${d.provides.join(', ')})`),
        h('div', { class: 'muted' }, d.health ? `${d.health.ok ? 'healthy' : 'NOT healthy'}: ${d.health.detail} [${d.health.check}]` : 'not checked yet'),
      ),
    ),
  );
  $('probe-state').textContent =
    rig.probe.state === 'probing' ? 'checking…' : rig.probe.error ? `last check failed: ${rig.probe.error}` : rig.probe.checkedAt ? `checked ${new Date(rig.probe.checkedAt).toLocaleTimeString()}` : '';
  renderButtons();
}

function renderButtons() {
  const busy = !!rig?.busy;
  $('start').disabled = busy;
  $('probe').disabled = busy || rig?.probe.state === 'probing';
  $('abort').disabled = !(run && run.status !== 'ended' && busy);
}

function renderPicker() {
  const box = $('suite-picker');
  box.replaceChildren(
    h('legend', {}, 'Suites'),
    ...catalogue.map((s) =>
      h(
        'label',
        { title: s.description ?? '' },
        h('input', { type: 'checkbox', name: 'suite', value: s.id, checked: true }),
        ` ${s.name} `,
        h('span', { class: 'muted' }, `${s.version} · ${s.phases.length} phase(s)${s.runnable ? '' : ` · cannot run on this rig: ${s.skipReason}`}`),
      ),
    ),
  );
}

function renderRunStatus() {
  const el = $('run-status');
  if (!run) {
    el.textContent = 'no run yet';
    el.dataset.outcome = '';
    el.dataset.status = '';
    return;
  }
  el.dataset.status = run.status;
  el.dataset.outcome = run.outcome ?? '';
  const badge = h('span', { class: 'badge', 'data-outcome': run.outcome ?? '' }, run.outcome ?? (run.abortRequested ? 'ABORTING' : run.status.toUpperCase()));
  const links = run.links ? [' ', reportLink(run.links.report, 'report'), ' ', reportLink(run.links.junit, 'junit.xml')] : [];
  el.replaceChildren(badge, ` run ${run.runId}`, ...links);
  renderButtons();
}

function renderLive() {
  const box = $('suites');
  if (!run) {
    box.replaceChildren(h('p', { class: 'muted' }, 'Start a run to watch it here.'));
    return;
  }
  box.replaceChildren(
    ...run.suites.map((s) =>
      h(
        'div',
        { class: 'suite', 'data-suite': s.name, 'data-outcome': s.outcome ?? '' },
        h('h3', {}, h('span', { class: 'badge', 'data-outcome': s.outcome ?? '' }, s.outcome ?? (s.phases.length ? 'RUNNING' : 'PENDING')), ` ${s.name} `, h('span', { class: 'muted' }, s.version ?? '')),
        ...s.details.map((d) => h('div', { class: 'muted' }, `${d.code}: ${d.message}`)),
        ...s.phases.map((p) =>
          h(
            'div',
            { class: 'phase', 'data-phase': p.name, 'data-outcome': p.outcome ?? 'RUNNING' },
            h('span', { class: 'badge', 'data-outcome': p.outcome ?? '' }, p.outcome ?? 'RUNNING'),
            ` ${p.name}`,
            p.attempt > 1 ? h('span', { class: 'muted' }, ` attempt ${p.attempt}`) : null,
            p.group !== 'main' ? h('span', { class: 'muted' }, ` (${p.group})`) : null,
            p.reason ? h('span', { class: 'reason' }, p.reason) : null,
            p.measurements.length
              ? h(
                  'table',
                  {},
                  h('tbody', {}, ...p.measurements.map((m) =>
                    h(
                      'tr',
                      { class: 'm', 'data-measurement': m.name, 'data-outcome': m.outcome },
                      h('td', {}, m.name),
                      h('td', { class: 'num' }, fmtValue(m.value), m.unit ? ` ${m.unit}` : ''),
                      h('td', { class: 'muted' }, m.limitText),
                      h('td', {}, h('span', { class: 'badge', 'data-outcome': m.outcome }, m.marginal ? 'MARGINAL' : m.outcome)),
                      h('td', { class: 'muted' }, m.detail ?? ''),
                    ),
                  )),
                )
              : null,
          ),
        ),
      ),
    ),
  );
}

function addLog(l) {
  const ol = $('log-lines');
  const time = new Date(l.t).toLocaleTimeString();
  ol.append(h('li', { 'data-level': l.level }, `${time} ${l.source}${l.phase !== null ? ` #${l.phase}` : ''} ${l.msg}`));
  while (ol.childElementCount > 300) ol.firstElementChild?.remove();
  ol.scrollTop = ol.scrollHeight;
}

/** A link to a run's file; with a token it is fetched with the header and opened as a blob. */
function reportLink(href, text) {
  return h('a', {
    href,
    target: '_blank',
    rel: 'noopener',
    onclick: (e) => {
      if (!token) return;
      e.preventDefault();
      fetch(href, { headers: { authorization: `Bearer ${token}` } })
        .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`${href}: HTTP ${r.status}`))))
        .then((b) => window.open(URL.createObjectURL(b), '_blank'))
        .catch((err) => showError(err.message));
    },
  }, text);
}

async function loadRuns() {
  try {
    const { runs } = await api('GET', '/api/runs?limit=50');
    $('runs-body').replaceChildren(
      ...runs.map((r) =>
        h(
          'tr',
          { 'data-run': r.runId, 'data-outcome': r.outcome ?? '' },
          h('td', {}, r.runId),
          h('td', {}, h('span', { class: 'badge', 'data-outcome': r.outcome ?? '' }, r.outcome ?? (r.status === 'incomplete' ? 'INCOMPLETE' : '?'))),
          h('td', {}, r.startedAt ? new Date(r.startedAt).toLocaleString() : ''),
          h('td', { class: 'num' }, r.durationMs !== null ? `${(r.durationMs / 1000).toFixed(1)} s` : ''),
          h('td', {}, r.suites.join(', ')),
          h(
            'td',
            {},
            r.files.includes('report.html') ? reportLink(`/api/runs/${r.runId}/report.html`, 'report') : null,
            r.files.includes('junit.xml') ? reportLink(`/api/runs/${r.runId}/junit.xml`, 'junit.xml') : null,
            r.files.includes('record.json') ? reportLink(`/api/runs/${r.runId}`, 'record.json') : null,
          ),
        ),
      ),
    );
  } catch (e) {
    showError(`past runs: ${e.message}`);
  }
}

function resetPlots(samples = []) {
  for (const p of Object.values(plots)) p.clear();
  for (const s of samples) plots[s.quantity]?.add(s.t, s.value, s.source);
}

const phaseById = (id) => run?.suites.flatMap((s) => s.phases).find((p) => p.id === id);

// ── the event stream ──
function onEvent(ev) {
  switch (ev.type) {
    case 'hello':
      rig = ev.rig;
      run = ev.run;
      renderRig();
      renderRunStatus();
      renderLive();
      resetPlots(run?.samples);
      $('log-lines').replaceChildren();
      for (const l of run?.logs ?? []) addLog(l);
      break;
    case 'rig.status':
      rig = ev.rig;
      renderRig();
      break;
    case 'run.started':
      run = {
        runId: ev.runId, status: 'starting', startedAt: ev.startedAt, tStart: ev.t, trigger: ev.trigger, abortRequested: false, outcome: null, links: null,
        suites: ev.plan.map((p, index) => ({ index, name: p.name, file: p.file, version: null, outcome: null, marginal: false, details: [], phases: [] })),
        snapshots: {}, samples: [], logs: [],
      };
      resetPlots();
      $('log-lines').replaceChildren();
      renderRunStatus();
      renderLive();
      break;
    case 'run.abort':
      if (run?.runId === ev.runId) run.abortRequested = true;
      renderRunStatus();
      break;
    case 'run.ended':
      if (run?.runId === ev.runId) {
        run.status = 'ended';
        run.outcome = ev.outcome;
        run.links = ev.links;
        for (const d of ev.details) addLog({ t: ev.t, phase: null, level: ev.outcome === 'PASS' ? 'info' : 'warn', msg: `${d.code}: ${d.message}`, source: 'server' });
      }
      renderRunStatus();
      renderLive();
      loadRuns();
      break;
    case 'suite.started': {
      const s = run?.suites[ev.suite];
      if (s) Object.assign(s, { name: ev.name, version: ev.version });
      if (run) run.status = 'running';
      renderRunStatus();
      renderLive();
      break;
    }
    case 'suite.ended': {
      const s = run?.suites[ev.suite];
      if (s) Object.assign(s, { outcome: ev.outcome, marginal: ev.marginal, details: ev.details });
      renderLive();
      break;
    }
    case 'phase.started':
      run?.suites[ev.suite]?.phases.push({ id: ev.phase, suite: ev.suite, name: ev.name, group: ev.group, attempt: ev.attempt, outcome: null, marginal: false, measurements: [] });
      renderLive();
      break;
    case 'phase.ended': {
      const p = phaseById(ev.phase);
      if (p) Object.assign(p, { outcome: ev.outcome, marginal: ev.marginal, reason: ev.reason });
      renderLive();
      break;
    }
    case 'measurement':
      phaseById(ev.phase)?.measurements.push(ev.measurement);
      renderLive();
      break;
    case 'sample':
      plots[ev.quantity]?.add(ev.t, ev.value, ev.source);
      break;
    case 'driver.snapshot':
      if (run) run.snapshots[ev.driver] = ev.snapshot;
      break;
    case 'driver.health': {
      const d = rig?.drivers.find((x) => x.name === ev.driver);
      if (d) d.health = { ok: ev.ok, detail: ev.detail, check: ev.check, reconnects: ev.reconnects, t: ev.t };
      renderRig();
      break;
    }
    case 'log':
      addLog(ev);
      break;
    default:
      break;
  }
}

let ws = null;
function connect() {
  const conn = $('conn');
  conn.dataset.state = 'connecting';
  conn.textContent = 'connecting…';
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/events${token ? `?token=${encodeURIComponent(token)}` : ''}`;
  ws = new WebSocket(url);
  ws.onopen = () => {
    conn.dataset.state = 'open';
    conn.textContent = 'live';
  };
  ws.onmessage = (m) => {
    try {
      onEvent(JSON.parse(m.data));
    } catch (e) {
      showError(`event stream: ${e.message}`);
    }
  };
  ws.onclose = () => {
    conn.dataset.state = 'closed';
    conn.textContent = 'disconnected — retrying';
    setTimeout(connect, 1500);
  };
}

// ── controls ──
$('start-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  showError('');
  const suites = [...document.querySelectorAll('input[name="suite"]:checked')].map((i) => i.value);
  if (suites.length === 0) return showError('choose at least one suite');
  $('start').disabled = true;
  try {
    await api('POST', '/api/runs', { suites, health: $('health').checked });
  } catch (err) {
    showError(err.status === 409 ? `${err.message}` : `start: ${err.message}`);
    renderButtons();
  }
});

$('abort').addEventListener('click', async () => {
  if (!run) return;
  try {
    await api('POST', `/api/runs/${encodeURIComponent(run.runId)}/abort`);
  } catch (err) {
    showError(`abort: ${err.message}`);
  }
});

$('probe').addEventListener('click', async () => {
  try {
    await api('POST', '/api/rig/probe');
  } catch (err) {
    showError(`health check: ${err.message}`);
  }
});

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  token = $('token-input').value;
  sessionStorage.setItem('pnc-bench-token', token);
  $('token-form').hidden = true;
  location.reload();
});

async function init() {
  renderLive();
  try {
    catalogue = (await api('GET', '/api/suites')).suites;
    renderPicker();
  } catch (e) {
    showError(`suites: ${e.message}`);
  }
  await loadRuns();
  connect();
}

init();
