// deploy/grafana/narwhal.json and deploy/prometheus/narwhal-rules.yaml against a real Prometheus
// (Debian's, a child of this test on 127.0.0.1) scraping two live narwhals: every dashboard
// query and every alert expression must return series with the labels it prints, so a metric
// or label name that narwhal does not export fails here rather than on someone's Grafana.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, killAll, request, startServer, tempApp, waitFor } from './helpers/server.mjs';
import { promtool, requirePrometheus, startPrometheus } from './helpers/prometheus.mjs';
import {
  RULES_FILE, RULES_TEST_FILE, dashboardQueries, readDashboard, readRules, substitute, variableQueries, withoutThreshold,
} from './helpers/observability.mjs';

const JOB = 'narwhal';
const RESTART_REASONS = ['crash', 'timeout', 'max_requests', 'memory', 'reload', 'signal'];
/** What the load below sends: 2xx and 5xx to the -w 2 server, 2xx to the threaded one. */
const LOAD = { ok: 300, fail: 30, okThreads: 100 };

let prom = null;
/** Filled by the first live test: the servers, their admin targets, the worker PIDs. */
const live = {};

test.after(async () => {
  await prom?.stop();
  await killAll();
});

// --- Without a server

test('promtool: the rules file is valid and its unit tests pass (every alert fires, its neighbour does not)', () => {
  requirePrometheus();
  const check = promtool(['check', 'rules', RULES_FILE]);
  assert.ok(check.ok, check.output);
  assert.match(check.output, /SUCCESS: 5 rules found/);
  const unit = promtool(['test', 'rules', RULES_TEST_FILE], { cwd: dirname(RULES_TEST_FILE) });
  assert.ok(unit.ok, unit.output);
  const tested = new Set([...readFileSync(RULES_TEST_FILE, 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
  assert.equal([...tested].sort(), readRules().map((r) => r.alert).sort(), 'every alert has a promtool test');
});

test('every rule has a severity, a summary and a runbook line', () => {
  for (const rule of readRules()) {
    assert.ok(['warning', 'critical'].includes(rule.labels?.severity), `${rule.alert}: severity`);
    assert.ok(rule.annotations?.summary && rule.annotations?.runbook, `${rule.alert}: summary and runbook`);
  }
});

test('dashboard: a ${datasource} variable, job/instance variables, unique ids, panels inside the grid without overlap', () => {
  const d = readDashboard();
  assert.ok(d.schemaVersion >= 36, `schemaVersion ${d.schemaVersion}`);
  const ds = d.templating.list.find((v) => v.name === 'datasource');
  assert.equal([ds?.type, ds?.query], ['datasource', 'prometheus']);
  assert.equal(variableQueries(d).map((v) => v.name), ['job', 'instance']);
  const ids = d.panels.map((p) => p.id);
  assert.is(new Set(ids).size, ids.length, 'panel ids unique');
  for (const p of d.panels) {
    assert.equal(p.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
    const refIds = p.targets.map((t) => t.refId);
    assert.is(new Set(refIds).size, refIds.length, `${p.title}: refIds unique`);
    for (const t of p.targets) assert.is(t.datasource?.uid, '${datasource}', `${p.title} ${t.refId}`);
    const g = p.gridPos;
    assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `${p.title}: gridPos ${JSON.stringify(g)}`);
  }
  const overlap = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  d.panels.forEach((a, i) => d.panels.slice(i + 1).forEach((b) => assert.not.ok(overlap(a.gridPos, b.gridPos), `${a.title} overlaps ${b.title}`)));
});

test('dashboard: shows every metric the issue asks for', () => {
  const exprs = dashboardQueries().map((q) => q.expr).join('\n');
  for (const name of [
    'narwhal_http_requests_total', 'narwhal_http_request_duration_seconds_bucket', 'narwhal_worker_requests_in_flight',
    'narwhal_workers', 'narwhal_workers_desired', 'narwhal_worker_restarts_total', 'narwhal_pool_degraded', 'narwhal_ready',
    'narwhal_worker_heap_used_bytes', 'narwhal_worker_heap_limit_bytes', 'narwhal_worker_resident_memory_bytes',
    'narwhal_worker_event_loop_lag_seconds', 'narwhal_thread_event_loop_lag_seconds',
  ]) assert.match(exprs, new RegExp(`\\b${name}\\b`), name);
});

test('docs/observability.md: a row for every metric narwhal defines, a runbook for every alert', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'observability.md'), 'utf8');
  const defined = [...readFileSync(join(ROOT, 'src', 'admin', 'metrics.ts'), 'utf8').matchAll(/define\('(\w+)'/g)].map((m) => m[1]);
  assert.ok(defined.length >= 15, `metrics found in metrics.ts: ${defined}`);
  for (const name of defined) assert.ok(doc.includes(`| \`${name}\` |`), `docs/observability.md has no row for ${name}`);
  for (const rule of readRules()) assert.ok(doc.includes(`### ${rule.alert}`), `docs/observability.md has no section for ${rule.alert}`);
});

// --- Against a live narwhal and a live Prometheus

const APP = `
  module.exports = (req, res) => {
    if (req.url === '/fail') { res.statusCode = 500; return res.end('fail\\n'); }
    res.end('ok\\n');
  };
`;

/** Starts a narwhal with an admin server on a free port; resolves { server, target }. */
async function startWithAdmin(args, workers) {
  const dir = tempApp({ 'app.js': APP });
  const server = await startServer(['--admin-bind', '127.0.0.1:0', '--timeout', '10', ...args, join(dir, 'app.js')], { workers });
  const [, port] = await server.waitForLog(/Admin server at: http:\/\/127\.0\.0\.1:(\d+)/);
  return { server, target: `127.0.0.1:${port}` };
}

/** COUNT GETs of PATH, EVERY at a time, each on a fresh connection; returns the statuses seen. */
async function send(port, path, count, every = 8) {
  const statuses = [];
  for (let i = 0; i < count; i += every) {
    const batch = Array.from({ length: Math.min(every, count - i) }, () => request(port, path, { timeoutMs: 5000 }));
    statuses.push(...(await Promise.all(batch)).map((r) => r.status));
  }
  return statuses;
}

const value = (sample) => Number(sample.value[1]);
async function scalar(expr) {
  const result = await prom.query(expr);
  return result.length ? value(result[0]) : NaN;
}

test('two narwhals (-w 2; -w 1 --threads 2) under load, scraped every second by Prometheus', async () => {
  requirePrometheus();
  const plain = await startWithAdmin(['-w', '2'], 2);
  const threaded = await startWithAdmin(['-w', '1', '--threads', '2'], 1);
  live.plain = plain;
  live.threaded = threaded;
  prom = await startPrometheus({ targets: [plain.target, threaded.target], job: JOB, ruleFiles: [RULES_FILE] });
  // Scraped before the load, so that the counters' increase is in Prometheus's window.
  await waitFor(async () => (await scalar(`sum(up{job="${JOB}"})`)) === 2, 15000, `both targets up (Prometheus log:\n${prom.log()})`);
  const statuses = [
    ...await send(plain.server.port, '/', LOAD.ok),
    ...await send(plain.server.port, '/fail', LOAD.fail),
    ...await send(threaded.server.port, '/', LOAD.okThreads),
  ];
  assert.is(statuses.filter((s) => s === 500).length, LOAD.fail);
  assert.is(statuses.filter((s) => s === 200).length, LOAD.ok + LOAD.okThreads);
  const total = LOAD.ok + LOAD.fail + LOAD.okThreads;
  await waitFor(async () => (await scalar(`sum(narwhal_http_requests_total{job="${JOB}"})`)) === total, 15000, `${total} requests scraped`);
  await waitFor(async () => (await prom.query('narwhal_thread_event_loop_lag_seconds')).length >= 2, 10000, 'per-thread series of the --threads server');
  // Two more scrapes after the last request: every rate() window holds the load.
  const scrapes = await scalar(`count_over_time(up{instance="${plain.target}"}[1h])`);
  await waitFor(async () => (await scalar(`count_over_time(up{instance="${plain.target}"}[1h])`)) >= scrapes + 2, 10000, 'two more scrapes');
  live.workerPids = [...plain.server.workers(), ...threaded.server.workers()].map(String);
  assert.is(live.workerPids.length, 3, `worker pids ${live.workerPids}`);
});

/** Grafana's variables as the dashboard would set them for both servers. */
function grafanaValues() {
  const escaped = [live.plain.target, live.threaded.target].map((t) => t.replace(/\./g, '\\\\.'));
  return { job: JOB, instance: `(${escaped.join('|')})`, __rate_interval: '1m', __interval: '1s', __range: '5m' };
}

/** The label values the load and the servers produce, checked where a query prints the label. */
const MUST_INCLUDE = { code_class: ['2xx', '5xx'], state: ['booting', 'ready', 'draining'], thread: ['0', '1'], reason: RESTART_REASONS };

/**
 * The problems with one query's result: no series, a printed label missing or empty, a value
 * that is not a number, label values that do not belong to these servers, or values of
 * MUST_INCLUDE missing.
 */
function problemsOf(what, result, labels, mustInclude = MUST_INCLUDE) {
  if (!result.length) return [`${what}: no series`];
  const out = [];
  const targets = [live.plain.target, live.threaded.target];
  for (const series of result) {
    const m = series.metric;
    if (!Number.isFinite(value(series))) out.push(`${what}: value ${series.value[1]} for ${JSON.stringify(m)}`);
    for (const label of labels) {
      if (!m[label]) out.push(`${what}: series without label ${label}: ${JSON.stringify(m)}`);
    }
    if (m.instance && !targets.includes(m.instance)) out.push(`${what}: instance ${m.instance} is not a narwhal here`);
    if (m.pid && !live.workerPids.includes(m.pid)) out.push(`${what}: pid ${m.pid} is not a worker (${live.workerPids})`);
  }
  for (const [label, values] of Object.entries(mustInclude)) {
    if (!labels.includes(label)) continue;
    const seen = new Set(result.map((s) => s.metric[label]));
    for (const v of values) if (!seen.has(v)) out.push(`${what}: no series with ${label}="${v}" (seen ${[...seen]})`);
  }
  return out;
}

test('every dashboard query returns series with the labels its legend prints', async () => {
  assert.ok(prom, 'Prometheus did not start (see the first live test)');
  const values = grafanaValues();
  const queries = dashboardQueries();
  assert.ok(queries.length >= 20, `${queries.length} queries`);
  const found = [];
  for (const q of queries) {
    const expr = substitute(q.expr, values);
    found.push(...problemsOf(`${q.panel} (${q.refId}) ${expr}`, await prom.query(expr), q.labels));
  }
  assert.equal(found, []);
});

test('dashboard: per-thread panels show both loops of the --threads worker; per-worker panels all 3 workers', async () => {
  const values = grafanaValues();
  const byPanel = (title) => dashboardQueries().find((q) => q.panel === title);
  const lag = await prom.query(substitute(byPanel('Event-loop lag per thread (--threads)').expr, values));
  assert.equal(lag.map((s) => s.metric.thread).sort(), ['0', '1']);
  assert.ok(lag.every((s) => s.metric.instance === live.threaded.target));
  const workers = await prom.query(substitute(byPanel('Event-loop lag per worker').expr, values));
  assert.equal(workers.map((s) => s.metric.pid).sort(), [...live.workerPids].sort());
  const rate = await prom.query(substitute(byPanel('Request rate by status class').expr, values));
  assert.ok(value(rate.find((s) => s.metric.code_class === '5xx')) > 0, '5xx rate > 0');
});

test('every variable query (label_values) finds its label', async () => {
  for (const v of variableQueries()) {
    const selector = substitute(v.selector, { job: JOB });
    const result = await prom.query(selector);
    assert.equal(problemsOf(`variable ${v.name}: ${selector}`, result, [v.label]), []);
  }
});

test('every alert expression, without its threshold, returns series with the labels its annotations print', async () => {
  const found = [];
  for (const rule of readRules()) {
    // The whole expression must parse and evaluate (usually to nothing on a healthy server).
    await prom.query(rule.expr);
    const lhs = withoutThreshold(rule.expr);
    const labels = [...new Set(Object.values(rule.annotations).flatMap((a) => [...a.matchAll(/\$labels\.(\w+)/g)].map((m) => m[1])))];
    // Which restart reasons count is the next test's business.
    found.push(...problemsOf(`${rule.alert}: ${lhs}`, await prom.query(lhs), labels, { ...MUST_INCLUDE, reason: [] }));
  }
  assert.equal(found, []);
});

test('NarwhalWorkerRestarts counts faults only: not reloads nor --max-requests recycling', async () => {
  const rule = readRules().find((r) => r.alert === 'NarwhalWorkerRestarts');
  const result = await prom.query(withoutThreshold(rule.expr));
  assert.equal([...new Set(result.map((s) => s.metric.reason))].sort(), ['crash', 'memory', 'signal', 'timeout']);
});

test('the load\'s 5xx share (30 of 430) makes NarwhalHigh5xxRatio pending in Prometheus; every rule evaluates without error', async () => {
  const rule = readRules().find((r) => r.alert === 'NarwhalHigh5xxRatio');
  const [ratio] = await prom.query(withoutThreshold(rule.expr));
  const expected = LOAD.fail / (LOAD.ok + LOAD.fail + LOAD.okThreads);
  assert.ok(Math.abs(value(ratio) - expected) < expected * 0.25, `5xx ratio ${value(ratio)}, expected about ${expected}`);
  assert.equal(ratio.metric, { job: JOB });
  const alert = await waitFor(async () => (await prom.api('/api/v1/alerts')).alerts.find((a) => a.labels.alertname === 'NarwhalHigh5xxRatio'),
    10000, 'NarwhalHigh5xxRatio in /api/v1/alerts');
  assert.is(alert.state, 'pending', 'for: 5m has not passed');
  assert.is(alert.labels.severity, 'critical');
  const rules = (await prom.api('/api/v1/rules')).groups.flatMap((g) => g.rules);
  assert.equal(rules.map((r) => r.name).sort(), readRules().map((r) => r.alert).sort());
  for (const r of rules) assert.is(r.health, 'ok', `${r.name}: ${r.lastError}`);
});

test.run();
