// The reliability suite's long mode: `npm run soak` (after a build). Runs every scenario of the
// short mode (test/reliability-*.test.mjs) longer and harder (PROFILES.long), prints one
// Markdown table of the figures (docs/reliability.md quotes it), and exits 1 if any promise
// was broken. Options: --only TEXT (scenarios whose name contains it), --json FILE.
import { writeFileSync } from 'node:fs';
import { killAll } from './helpers/server.mjs';
import { PROFILES, describe } from './reliability/common.mjs';
import { chaos, storm } from './reliability/chaos.mjs';
import { behindNginx, rollout } from './reliability/proxies.mjs';
import { fuzz, idleConnections, lowFileLimit, slowClients } from './reliability/limits.mjs';
import { appFaults } from './reliability/faults.mjs';

const argv = process.argv.slice(2);
const option = (name) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
const only = option('--only');
const jsonFile = option('--json');
const profile = PROFILES.long;

const scenarios = [
  ['chaos SIGKILL', () => chaos('SIGKILL', profile)],
  ['chaos SIGTERM', () => chaos('SIGTERM', profile)],
  ['storm HUP', () => storm('hup', profile)],
  ['storm TTIN/TTOU', () => storm('ttin', profile)],
  ['nginx tcp', () => behindNginx('tcp', profile)],
  ['nginx unix', () => behindNginx('unix', profile)],
  ['haproxy rollout', () => rollout({ shutdownDelay: 2 }, profile)],
  ['haproxy rollout without delay (reported, not a promise)', async () => ({ ...await rollout({ shutdownDelay: 0 }, profile), reportOnly: true })],
  ['idle connections', () => idleConnections(profile)],
  ['low file limit', () => lowFileLimit(profile)],
  ['fuzzing', () => fuzz(profile)],
  ['slow clients', () => slowClients(profile)],
  ['app faults', () => appFaults()],
];

const results = [];
const started = Date.now();
for (const [label, run] of scenarios) {
  if (only && !label.includes(only)) continue;
  const t0 = Date.now();
  process.stderr.write(`soak: ${label} ...\n`);
  try {
    const out = await run();
    for (const r of Array.isArray(out) ? out : [out]) results.push({ ...r, seconds: Math.round((Date.now() - t0) / 1000) });
  } catch (err) {
    results.push({ name: label, figures: {}, violations: [`scenario failed to run: ${err.stack ?? err}`], seconds: Math.round((Date.now() - t0) / 1000) });
  }
  await killAll();
}

const cell = (s) => String(s).replace(/\|/g, '\\|');
const lines = [
  `Reliability soak (long mode), ${new Date().toISOString()}, Node ${process.version}, ${Math.round((Date.now() - started) / 60000)} min`,
  '',
  '| scenario | requests sent | failed | figures | promise |',
  '|---|---|---|---|---|',
];
for (const r of results) {
  const { sent = '—', failed = '—', ...rest } = r.figures;
  const promise = r.reportOnly ? 'reported' : r.violations.length === 0 ? 'kept' : `**broken**: ${r.violations.join('; ')}`;
  lines.push(`| ${cell(r.name)} | ${sent} | ${failed} | ${cell(describe(rest))} | ${cell(promise)} |`);
}
process.stdout.write(`${lines.join('\n')}\n`);
if (jsonFile) writeFileSync(jsonFile, JSON.stringify(results, null, 2));
process.exit(results.some((r) => !r.reportOnly && r.violations.length > 0) ? 1 : 0);
