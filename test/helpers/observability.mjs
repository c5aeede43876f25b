// The PromQL of deploy/: every query of the Grafana dashboard and every alert rule, as a test
// can hand them to a real Prometheus, with the labels their legends and annotations print.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './server.mjs';

export const DASHBOARD_FILE = join(ROOT, 'deploy', 'grafana', 'narwhal.json');
export const RULES_FILE = join(ROOT, 'deploy', 'prometheus', 'narwhal-rules.yaml');
export const RULES_TEST_FILE = join(ROOT, 'deploy', 'prometheus', 'narwhal-rules.test.yaml');

export const readDashboard = () => JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
export const readRules = () => parse(readFileSync(RULES_FILE, 'utf8')).groups.flatMap((g) => g.rules);

/**
 * Replaces Grafana's variables ($name, ${name}, ${name:format}) from VALUES; an unknown one
 * throws, so a query cannot reach Prometheus with a `$` left in it.
 */
export function substitute(expr, values) {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced, bare) => {
    const name = braced ?? bare;
    if (!(name in values)) throw new Error(`no value for Grafana variable ${whole} in: ${expr}`);
    return values[name];
  });
}

/** Labels a Grafana legend ({{code_class}}) or a rule annotation ({{ $labels.pid }}) prints. */
export function labelsPrinted(text) {
  const names = new Set();
  for (const m of String(text ?? '').matchAll(/\{\{\s*(?:\$labels\.)?(\w+)\s*\}\}/g)) names.add(m[1]);
  for (const m of String(text ?? '').matchAll(/\$labels\.(\w+)/g)) names.add(m[1]);
  return [...names];
}

/** Every query target of the dashboard: { panel, refId, expr, legendFormat, labels }. */
export function dashboardQueries(dashboard = readDashboard()) {
  const panels = dashboard.panels.flatMap((p) => (p.type === 'row' ? p.panels ?? [] : [p]));
  return panels.flatMap((panel) => (panel.targets ?? []).map((t) => ({
    panel: panel.title, refId: t.refId, expr: t.expr, legendFormat: t.legendFormat, labels: labelsPrinted(t.legendFormat),
  })));
}

/**
 * The dashboard's query variables of the form label_values(SELECTOR, LABEL):
 * { name, selector, label } (SELECTOR is PromQL; LABEL must be on its series).
 */
export function variableQueries(dashboard = readDashboard()) {
  return dashboard.templating.list.filter((v) => v.type === 'query').map((v) => {
    const query = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(query.trim());
    if (!m) throw new Error(`variable ${v.name}: not label_values(selector, label): ${query}`);
    return { name: v.name, selector: m[1], label: m[2] };
  });
}

/**
 * The expression of an alert without its final threshold (`X > 0.9` -> `X`): what must return
 * series on a healthy server, where the alert itself is (rightly) silent. Throws when a rule
 * does not end in a comparison with a number.
 */
export function withoutThreshold(expr) {
  const text = expr.trim();
  const stripped = text.replace(/\s*(==|!=|>=|<=|>|<)\s*(?:bool\s+)?[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?$/i, '');
  if (stripped === text) throw new Error(`rule expression does not end in a threshold: ${expr}`);
  return stripped;
}
