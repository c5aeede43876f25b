// The Helm chart k8s/helm/narwhal, validated offline with the real helm v3.17.2
// (tools/helm), kubernetes-models, @kubernetes-models/prometheus-operator 6.0.0 and
// @kubernetes/client-node 1.4.0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHART, ROOT, checkRollout, configKeysUnknownToNarwhal, lint, parseDocs, requireHelm, template, validateObject } from './helpers/k8s.mjs';

// Every file in the chart's ci/ directory is a value set rendered and checked
// here, with the optional objects it must (not) produce.
// The monitoring objects are off unless a value set turns them on.
const NO_MONITORING = { serviceMonitor: false, prometheusRule: false, grafanaDashboard: false };
const VALUE_SETS = {
  defaults: { file: null, expect: { pdb: true, hpa: true, ...NO_MONITORING } },
  'hpa-off': { file: 'hpa-off-values.yaml', expect: { pdb: true, hpa: false, ...NO_MONITORING } },
  'hpa-custom': { file: 'hpa-custom-values.yaml', expect: { pdb: true, hpa: true, ...NO_MONITORING } },
  'pdb-off': { file: 'pdb-off-values.yaml', expect: { pdb: false, hpa: false, ...NO_MONITORING, topologySpread: false } },
  servicemonitor: { file: 'servicemonitor-values.yaml', expect: { pdb: true, hpa: true, ...NO_MONITORING, serviceMonitor: true } },
  monitoring: { file: 'monitoring-values.yaml', expect: { pdb: true, hpa: true, serviceMonitor: true, prometheusRule: true, grafanaDashboard: true } },
  'custom-config': { file: 'custom-config-values.yaml', expect: { pdb: true, hpa: true, ...NO_MONITORING } },
};
const valueFiles = (set, chart = CHART) => (set.file ? [join(chart, 'ci', set.file)] : []);

const tmpDirs = [];
function tmp(prefix) {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}
test.after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/** Copies the chart to a temp dir and applies exact text replacements (each must match). */
function brokenChart(edits) {
  const dir = join(tmp('narwhal-chart-'), 'narwhal');
  cpSync(CHART, dir, { recursive: true });
  for (const [file, from, to] of edits) {
    const p = join(dir, file);
    const text = readFileSync(p, 'utf8');
    assert.ok(text.includes(from), `test setup: ${file} no longer contains ${JSON.stringify(from)}`);
    writeFileSync(p, text.replace(from, to));
  }
  return dir;
}

/** Everything the suite checks on one render; returns the problems found. */
function problems(r, expect) {
  if (r.status !== 0) return [`helm template failed: ${r.stderr.trim()}`];
  return [...r.docs.flatMap(validateObject), ...checkRollout(r.docs, expect)];
}

const byKind = (docs, kind) => docs.filter((d) => d.kind === kind);

test('helm is installed (npm ci --prefix tools/helm)', () => {
  // Throws with install instructions when tools/helm/bin/helm is missing.
  assert.match(requireHelm(), /^v3\.17\.2$/);
});

test('every ci/ value file has an expectation here', () => {
  const files = readdirSync(join(CHART, 'ci')).sort();
  const known = Object.values(VALUE_SETS).map((s) => s.file).filter(Boolean).sort();
  assert.equal(files, known);
});

for (const [name, set] of Object.entries(VALUE_SETS)) {
  test(`helm lint --strict: ${name}`, () => {
    requireHelm();
    const r = lint(CHART, valueFiles(set));
    assert.ok(r.ok, r.output);
  });

  test(`helm template: ${name}: schema, unknown fields, rollout invariants`, () => {
    requireHelm();
    const r = template({ valueFiles: valueFiles(set) });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.docs.length >= 3, 'rendered objects');
    assert.equal(problems(r, set.expect), []);
  });

  test(`helm template: ${name}: narwhal.config.json holds only settings narwhal knows`, () => {
    const r = template({ valueFiles: valueFiles(set) });
    assert.equal(configKeysUnknownToNarwhal(r.docs), []);
  });
}

test('defaults: derived timing, probes, config', () => {
  const { docs } = template();
  const dep = byKind(docs, 'Deployment')[0];
  const pod = dep.spec.template.spec;
  const c = pod.containers[0];
  const cfg = JSON.parse(byKind(docs, 'ConfigMap')[0].data['narwhal.config.json']);
  assert.equal(cfg.shutdown_delay, 10);
  assert.equal(cfg.graceful_timeout, 30);
  assert.equal(cfg.admin_bind, '0.0.0.0:9000');
  assert.equal(cfg.bind, ['0.0.0.0:8000']);
  assert.equal(cfg.workers, 'auto');
  assert.equal(pod.terminationGracePeriodSeconds, 10 + 30 + 10);
  assert.equal(dep.spec.strategy.rollingUpdate.maxUnavailable, 0);
  assert.equal(dep.spec.replicas, undefined, 'HPA owns the replica count');
  assert.equal(c.readinessProbe.httpGet, { path: '/readyz', port: 'admin' });
  assert.equal(c.livenessProbe.httpGet, { path: '/healthz', port: 'admin' });
  assert.equal(c.lifecycle, undefined, 'narwhal does the delay itself by default');
  assert.equal(c.args, undefined, 'the image CMD names the app');
  assert.equal(c.env, [
    { name: 'NARWHAL_CONFIG', value: '/etc/narwhal/narwhal.config.json' },
    // Beat the image's own NARWHAL_BIND / NARWHAL_ADMIN_BIND with the config's values.
    { name: 'NARWHAL_BIND', value: '0.0.0.0:8000' },
    { name: 'NARWHAL_ADMIN_BIND', value: '0.0.0.0:9000' },
  ]);
  assert.equal(c.resources.limits, { cpu: '2', memory: '1Gi' });
});

test('custom-config: preStop sleep, extra config, explicit grace period, app args', () => {
  const { docs } = template({ valueFiles: valueFiles(VALUE_SETS['custom-config']) });
  const dep = byKind(docs, 'Deployment')[0];
  const c = dep.spec.template.spec.containers[0];
  const cfg = JSON.parse(byKind(docs, 'ConfigMap')[0].data['narwhal.config.json']);
  assert.equal(c.lifecycle, { preStop: { sleep: { seconds: 15 } } });
  assert.equal(cfg.shutdown_delay, 0, 'the preStop sleep does the delay; narwhal drains at once');
  assert.equal(cfg.graceful_timeout, 45);
  assert.equal(cfg.bind, ['0.0.0.0:8080']);
  assert.equal(cfg.admin_bind, '0.0.0.0:9100');
  assert.equal(cfg.backlog, 4096);
  assert.equal(cfg.max_worker_memory, '400MB');
  assert.equal(cfg.worker_heap_mb, 256);
  assert.equal(dep.spec.template.spec.terminationGracePeriodSeconds, 90);
  assert.equal(c.args, ['/app/dist/server.js:createApp()']);
  assert.equal(dep.metadata.name, 'shop-web');
  assert.equal(byKind(docs, 'ServiceAccount').length, 1);
  const services = Object.fromEntries(byKind(docs, 'Service').map((x) => [x.metadata.name, x]));
  assert.equal(services['shop-web'].spec.type, 'LoadBalancer');
  assert.equal(services['shop-web'].spec.ports.map((p) => p.name), ['http']);
  assert.equal(services['shop-web-admin'].spec.type, 'ClusterIP');
  assert.equal(dep.spec.template.spec.serviceAccountName, 'shop-web');
});

test('servicemonitor: scrapes /metrics on the admin port', () => {
  const { docs } = template({ valueFiles: valueFiles(VALUE_SETS.servicemonitor) });
  const sm = byKind(docs, 'ServiceMonitor')[0];
  assert.equal(sm.metadata.namespace, 'monitoring');
  assert.equal(sm.metadata.labels.release, 'kube-prometheus-stack');
  assert.equal(sm.spec.namespaceSelector, { matchNames: ['default'] });
  assert.equal(sm.spec.endpoints, [{ port: 'admin', path: '/metrics', scheme: 'http', interval: '15s', scrapeTimeout: '5s' }]);
  const ann = byKind(docs, 'Deployment')[0].spec.template.metadata.annotations;
  assert.equal(ann['prometheus.io/port'], '9000');
});

// The rules and the dashboard live once, in deploy/; the chart holds copies (helm reads no file
// outside the chart), which must not drift.
const RULES = join(ROOT, 'deploy', 'prometheus', 'narwhal-rules.yaml');
const DASHBOARD = join(ROOT, 'deploy', 'grafana', 'narwhal.json');
const CHART_COPIES = [[RULES, 'files/narwhal-rules.yaml'], [DASHBOARD, 'files/narwhal.json']];

test('the chart\'s rules and dashboard are copies of deploy/ (cp them over after an edit)', () => {
  for (const [source, copy] of CHART_COPIES) {
    assert.ok(readFileSync(join(CHART, copy), 'utf8') === readFileSync(source, 'utf8'), `k8s/helm/narwhal/${copy} differs from ${source}: cp ${source} k8s/helm/narwhal/${copy}`);
  }
});

/** What the monitoring value set renders, minus the objects that are not about monitoring. */
function renderMonitoring(set = VALUE_SETS.monitoring, chart = CHART) {
  const { docs } = template({ chart, valueFiles: valueFiles(set, chart) });
  return {
    rule: byKind(docs, 'PrometheusRule')[0],
    dashboard: byKind(docs, 'ConfigMap').find((c) => c.metadata.labels.grafana_dashboard === '1'),
  };
}

test('monitoring: the PrometheusRule holds exactly the groups of deploy/prometheus/narwhal-rules.yaml', () => {
  const { rule } = renderMonitoring();
  const [file] = parseDocs(readFileSync(RULES, 'utf8'), RULES);
  assert.equal(rule.spec, { groups: file.groups });
  assert.equal(rule.metadata.namespace, 'monitoring');
  assert.equal(rule.metadata.labels.release, 'kube-prometheus-stack');
  const alerts = rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert));
  assert.equal(alerts, ['NarwhalPoolDegraded', 'NarwhalWorkerRestarts', 'NarwhalWorkerHeapNearLimit', 'NarwhalHigh5xxRatio', 'NarwhalReadinessFlapping']);
});

test('monitoring: the dashboard ConfigMap holds deploy/grafana/narwhal.json, labelled for the sidecar', () => {
  const { dashboard } = renderMonitoring();
  assert.is(dashboard.metadata.name, 'narwhal-grafana-dashboard');
  assert.is(dashboard.metadata.namespace, 'monitoring');
  assert.is(dashboard.metadata.annotations.grafana_folder, 'narwhal');
  assert.equal(Object.keys(dashboard.data), ['narwhal.json']);
  assert.equal(JSON.parse(dashboard.data['narwhal.json']), JSON.parse(readFileSync(DASHBOARD, 'utf8')));
});

test('monitoring on and off, one at a time, renders only what is on', () => {
  const kinds = Object.keys(NO_MONITORING);
  for (const on of kinds) {
    const r = template({ set: kinds.map((k) => `metrics.${k}.enabled=${k === on}`) });
    assert.equal(problems(r, { pdb: true, hpa: true, ...NO_MONITORING, [on]: true }), [], on);
  }
});

test('a config change changes the pod template (rolls the pods)', () => {
  const a = byKind(template().docs, 'Deployment')[0].spec.template.metadata.annotations['checksum/config'];
  const b = byKind(template({ set: ['narwhal.keepAlive=75'] }).docs, 'Deployment')[0].spec.template.metadata.annotations['checksum/config'];
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.is.not(a, b);
});

test('other release names and namespaces render valid objects', () => {
  const r = template({ release: 'shop', namespace: 'web', set: ['narwhal.shutdownDelay=20', 'narwhal.gracefulTimeout=60'] });
  assert.equal(problems(r, { pdb: true, hpa: true }), []);
  const dep = byKind(r.docs, 'Deployment')[0];
  assert.is(dep.metadata.name, 'shop-narwhal');
  assert.is(dep.spec.template.spec.terminationGracePeriodSeconds, 20 + 60 + 10);
});

// --- Broken values: refused by values.schema.json or by the chart's own checks.

const refused = [
  ['type error (replicaCount: "two")', ['replicaCount=two'], /replicaCount: Invalid type\. Expected: integer, given: string/],
  ['type error (workers: "many")', ['narwhal.workers=many'], /narwhal\.workers/],
  ['unknown value (autoscalling)', ['autoscalling.enabled=true'], /Additional property autoscalling is not allowed/],
  ['unknown nested value (narwhal.shutdown_delay)', ['narwhal.shutdown_delay=5'], /Additional property shutdown_delay is not allowed/],
  ['grace period too short', ['terminationGracePeriodSeconds=40'], /terminationGracePeriodSeconds=40 is too short/],
  ['shutdown delay shorter than readiness detection', ['narwhal.shutdownDelay=4'], /narwhal\.shutdownDelay=4 is too short/],
  ['rolling update without surge', ['rollingUpdate.maxSurge=0'], /maxSurge/],
  ['PDB minAvailable >= replicas', ['podDisruptionBudget.minAvailable=2'], /node drains are blocked/],
  ['workers as a fraction', ['narwhal.workers=1.5'], /narwhal\.workers/],
  ['workers auto without a CPU limit', ['resources.limits.cpu=null'], /narwhal\.workers=auto needs resources\.limits\.cpu/],
  ['rollout-critical key in extraConfig', ['narwhal.extraConfig.shutdown_delay=1'], /narwhal\.extraConfig\.shutdown_delay is refused/],
  ['rollout-critical env in extraEnv', ['extraEnv[0].name=NARWHAL_GRACEFUL_TIMEOUT', 'extraEnv[0].value=1'], /extraEnv NARWHAL_GRACEFUL_TIMEOUT is refused/],
];
for (const [name, set, message] of refused) {
  test(`broken value is refused: ${name}`, () => {
    requireHelm();
    const r = template({ set });
    assert.is.not(r.status, 0, `helm template --set ${set.join(' --set ')} should fail`);
    assert.match(r.stderr, message);
  });
}

test('broken value is refused: preStop sleep on Kubernetes < 1.30', () => {
  const r = template({ set: ['narwhal.shutdownDelayMode=preStop'], kubeVersion: '1.29.0' });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /needs lifecycle\.preStop\.sleep \(Kubernetes >= 1\.30\)/);
});

test('helm lint --strict fails on a schema violation', () => {
  const dir = brokenChart([['values.yaml', 'replicaCount: 2', 'replicaCount: "2"']]);
  const r = lint(dir);
  assert.not.ok(r.ok, 'lint should fail');
  assert.match(r.output, /replicaCount: Invalid type/);
});

// --- Broken templates: helm renders them happily; the suite must not.

const brokenTemplates = [
  ['unknown field (typo)', [['templates/deployment.yaml', 'imagePullPolicy:', 'imagePullPolicyy:']],
    /containers\[0\]\.imagePullPolicyy: unknown field/],
  ['misplaced block (mis-indented resources)', [['templates/deployment.yaml', 'toYaml .Values.resources | nindent 12', 'toYaml .Values.resources | nindent 10']],
    /containers\[0\]\.limits: unknown field/],
  ['misplaced field (probe timing under httpGet)', [['templates/deployment.yaml', '              path: /readyz\n              port: admin\n', '              path: /readyz\n              port: admin\n              periodSeconds: 5\n']],
    /readinessProbe\.httpGet\.periodSeconds: unknown field/],
  ['type error (containerPort quoted)', [['templates/deployment.yaml', 'containerPort: {{ .Values.narwhal.port }}', 'containerPort: {{ .Values.narwhal.port | quote }}']],
    /containerPort must be integer/],
  ['type error in the PDB (minAvailable as a list)', [['templates/poddisruptionbudget.yaml', 'minAvailable: {{ .Values.podDisruptionBudget.minAvailable }}', 'minAvailable: [{{ .Values.podDisruptionBudget.minAvailable }}]']],
    /minAvailable/],
  ['admin bind env hard-coded, differing from the config',
    [['templates/deployment.yaml', 'value: {{ printf "0.0.0.0:%d" (int .Values.narwhal.adminPort) | quote }}', 'value: "0.0.0.0:9001"']],
    /env NARWHAL_ADMIN_BIND=0\.0\.0\.0:9001 overrides narwhal\.config\.json's admin_bind \(0\.0\.0\.0:9000\)/],
  ['grace period too short (hard-coded)', [['templates/deployment.yaml', 'terminationGracePeriodSeconds: {{ include "narwhal.terminationGracePeriodSeconds" . }}', 'terminationGracePeriodSeconds: 30']],
    /terminationGracePeriodSeconds 30 < shutdown delay 10 \+ graceful timeout 30/],
  ['grace period ignores the shutdown delay', [['templates/_helpers.tpl', '{{- add (int .Values.narwhal.shutdownDelay) (int .Values.narwhal.gracefulTimeout) (int .Values.terminationGracePeriodMarginSeconds) }}', '{{- add (int .Values.narwhal.gracefulTimeout) 1 }}']],
    /terminationGracePeriodSeconds 31 </],
  ['maxUnavailable not 0', [['templates/deployment.yaml', 'maxUnavailable: 0', 'maxUnavailable: 1']],
    /rollingUpdate\.maxUnavailable is 1, expected 0/],
  ['readiness probe on /healthz', [['templates/deployment.yaml', 'path: /readyz', 'path: /healthz']],
    /readinessProbe path is \/healthz, expected \/readyz/],
  ['probe on the app port', [['templates/deployment.yaml', '              path: /healthz\n              port: admin\n            periodSeconds: {{ .Values.livenessProbe', '              path: /healthz\n              port: http\n            periodSeconds: {{ .Values.livenessProbe']],
    /livenessProbe is not on the admin port/],
  ['shutdown delay not passed to narwhal', [['templates/_helpers.tpl', '"shutdown_delay" (include "narwhal.narwhalShutdownDelay" . | int)', '"shutdown_delay" 0']],
    /shutdown delay 0s < readiness period/],
  ['config checksum not tied to the config', [['templates/deployment.yaml', 'checksum/config: {{ include "narwhal.configJson" . | sha256sum }}', 'checksum/config: {{ .Values.image.repository | sha256sum }}']],
    /checksum\/config/],
  ['service links left on', [['templates/deployment.yaml', 'enableServiceLinks: false', 'enableServiceLinks: true']],
    /enableServiceLinks must be false/],
  ['root filesystem writable', [['values.yaml', 'readOnlyRootFilesystem: true', 'readOnlyRootFilesystem: false']],
    /readOnlyRootFilesystem is not true/],
  ['admin port exposed through a LoadBalancer', [['templates/service.yaml', '      targetPort: http\n', '      targetPort: http\n    - name: admin\n      port: 9000\n      targetPort: admin\n'], ['values.yaml', 'type: ClusterIP', 'type: LoadBalancer']],
    /Service narwhal of type LoadBalancer exposes the admin port/],
  ['ServiceMonitor selects the app Service too', [['templates/servicemonitor.yaml', '      app.kubernetes.io/component: admin\n', '']],
    /ServiceMonitor selector matches 2 Services/, VALUE_SETS.servicemonitor],
  ['PDB selects other pods', [['templates/poddisruptionbudget.yaml', '{{- include "narwhal.selectorLabels" . | nindent 6 }}', 'app: other']],
    /PDB selector does not match/],
];
for (const [name, edits, message, set = VALUE_SETS.defaults] of brokenTemplates) {
  test(`broken template is caught: ${name}`, () => {
    requireHelm();
    const dir = brokenChart(edits);
    const r = template({ chart: dir, valueFiles: valueFiles(set, dir) });
    const found = problems(r, set.expect);
    assert.ok(found.length > 0, 'the broken chart passed every check');
    assert.ok(found.some((p) => message.test(p)), `expected a problem matching ${message}, got:\n${found.join('\n')}`);
  });
}

test('a config key narwhal does not know is caught (narwhal would exit 2 at boot)', () => {
  const r = template({ set: ['narwhal.extraConfig.graceful_timout=5'] });
  assert.is(r.status, 0, r.stderr);
  assert.equal(configKeysUnknownToNarwhal(r.docs), ['graceful_timout']);
});

test('a chart copy of the rules that drifted from deploy/ is caught', () => {
  const dir = brokenChart([['files/narwhal-rules.yaml', '> 0.9', '> 0.8']]);
  const { rule } = renderMonitoring(VALUE_SETS.monitoring, dir);
  const [file] = parseDocs(readFileSync(RULES, 'utf8'), RULES);
  assert.not.equal(rule.spec, { groups: file.groups });
});

test('broken PrometheusRule is caught by the operator\'s schema (bad duration, no expr)', () => {
  const dir = brokenChart([
    ['files/narwhal-rules.yaml', 'expr: narwhal_pool_degraded == 1\n        for: 5m', 'for: 5 minutes'],
  ]);
  const found = problems(template({ chart: dir, valueFiles: valueFiles(VALUE_SETS.monitoring, dir) }), VALUE_SETS.monitoring.expect);
  assert.ok(found.some((p) => /prometheus-operator: .*rules\/0 must have required property expr/.test(p)), found.join('\n'));
  assert.ok(found.some((p) => /prometheus-operator: .*rules\/0\/for must match pattern/.test(p)), found.join('\n'));
});

test('broken ServiceMonitor is caught (unknown field, wrong port)', () => {
  const dir = brokenChart([['templates/servicemonitor.yaml', '    - port: admin\n', '    - port: http-metrics\n      scrapeIntervall: 5s\n']]);
  const found = problems(template({ chart: dir, valueFiles: valueFiles(VALUE_SETS.servicemonitor, dir) }), VALUE_SETS.servicemonitor.expect);
  assert.ok(found.some((p) => /endpoints\[0\]\.scrapeIntervall: unknown field/.test(p)), found.join('\n'));
  assert.ok(found.some((p) => /endpoint port http-metrics is not a port name of the selected Service/.test(p)), found.join('\n'));
});

test('broken ServiceMonitor is caught by the operator\'s schema (scheme not http/https)', () => {
  const dir = brokenChart([['templates/servicemonitor.yaml', 'scheme: http', 'scheme: ftp']]);
  const found = problems(template({ chart: dir, valueFiles: valueFiles(VALUE_SETS.servicemonitor, dir) }), VALUE_SETS.servicemonitor.expect);
  assert.ok(found.some((p) => /prometheus-operator: .*endpoints\/0\/scheme must be equal to one of the allowed values/.test(p)), found.join('\n'));
});

test.run();
