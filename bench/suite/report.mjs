// The suite's tables (Markdown, ready for bench/README.md): one per scenario, then a summary of
// narwhal against the best peer, memory and start-up.
import { VARIANTS } from './scenarios.mjs';

export const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const min = (xs) => Math.min(...xs.filter(Number.isFinite));
const max = (xs) => Math.max(...xs.filter(Number.isFinite));
const mb = (b) => (b / 1048576).toFixed(0);
const fix = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const k = (x) => (Number.isFinite(x) ? (x >= 10000 ? `${(x / 1000).toFixed(1)}k` : Math.round(x).toString()) : '–');

/** Per variant: medians over its rounds. */
export function summarise(v) {
  const runs = v.runs;
  const of = (key) => runs.map((r) => r[key]);
  const rps = of('rps');
  const workerRss = runs.map((r) => (r.rssWorkers.length ? r.rssWorkers.reduce((a, b) => a + b, 0) / r.rssWorkers.length : NaN));
  return {
    rps: median(rps), rpsMin: min(rps), rpsMax: max(rps),
    noise: runs.length > 1 ? (max(rps) - min(rps)) / median(rps) : NaN,
    p50: median(of('p50')), p99: median(of('p99')), p99Max: max(of('p99')),
    errors: of('errors').reduce((a, b) => a + b, 0),
    cpu: median(of('cpuUsPerReq')), cpuMaster: median(of('cpuMasterUsPerReq')), cores: median(of('cpuCores')),
    rssMaster: median(of('rssMaster')), rssWorker: median(workerRss), rssTotal: median(of('rssTotal')),
    processes: median(of('processes')), startMs: median(of('startMs')),
    spread: runs.some((r) => r.spread !== null) ? median(of('spread')) : NaN,
    handlerUs: median(of('handlerUs')),
  };
}

/** The best peer's median req/s in each group of a scenario. */
function bestPeers(scenario) {
  const best = new Map();
  for (const v of scenario.variants) {
    if (!v.peer || v.runs.length === 0) continue;
    const s = summarise(v);
    if (!best.has(v.group) || s.rps > best.get(v.group).rps) best.set(v.group, { id: v.id, label: v.label, rps: s.rps, p99: s.p99 });
  }
  return best;
}

function scenarioTable(sc, groups) {
  const lines = [`### ${sc.title} (\`${sc.id}\`)`, ''];
  if (sc.pending) return [...lines, `_Pending: ${sc.pending}._`, ''];
  for (const n of sc.notes) lines.push(`- ${n}`);
  if (sc.notes.length) lines.push('');
  const best = bestPeers(sc);
  const handler = sc.variants.some((v) => v.runs.some((r) => r.handlerUs));
  lines.push(`| variant | req/s median (min–max) | vs best peer | p50 / p99 ms | errors | CPU µs/req (master) | RSS MB master · worker · total | start ms | spread |${handler ? ' handler µs |' : ''}`);
  lines.push(`|---|---:|---:|---:|---:|---:|---:|---:|---:|${handler ? '---:|' : ''}`);
  let group = null;
  const order = ['main', 'watt', 'binary'];
  for (const v of [...sc.variants].sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group))) {
    if (v.runs.length === 0) { lines.push(`| ${v.label} | failed: ${v.failed ?? 'no run'} |||||||${handler ? '|' : ''}`); continue; }
    if (group !== null && v.group !== group) lines.push(`| _on ${groups[v.group] ?? v.group}:_ ||||||||${handler ? '|' : ''}`);
    group = v.group;
    const s = summarise(v);
    const b = best.get(v.group);
    const ratio = b ? s.rps / b.rps : NaN;
    const isBest = b && b.id === v.id;
    const rss = s.processes > 1 ? `${mb(s.rssMaster)} · ${mb(s.rssWorker)} · ${mb(s.rssTotal)}` : `– · – · ${mb(s.rssTotal)}`;
    lines.push(`| ${v.label}${isBest ? ' **(best peer)**' : ''} | ${k(s.rps)} (${k(s.rpsMin)}–${k(s.rpsMax)}) | ${fix(ratio, 2)} | ${fix(s.p50, 2)} / ${fix(s.p99, 2)} | ${s.errors} | ${fix(s.cpu, 1)}${s.processes > 1 ? ` (${fix(s.cpuMaster, 1)})` : ''} | ${rss} | ${fix(s.startMs)} | ${fix(s.spread, 2)} |${handler ? ` ${fix(s.handlerUs)} |` : ''}`);
  }
  if (handler) {
    // The same handler must cost the same everywhere, or the throughput comparison is void. Each
    // Node version compiles it its own way: compared within a group.
    for (const g of order) {
      const times = sc.variants.filter((v) => v.group === g && v.runs.length).map((v) => summarise(v).handlerUs);
      if (times.length === 0) continue;
      const lo = min(times);
      const hi = max(times);
      lines.push('', `Handler time of one request on ${groups[g] ?? g} (fastest of 15 per run, median over runs): ${fix(lo)}–${fix(hi)} µs, ` +
        `${fix(((hi - lo) / lo) * 100)} % apart${(hi - lo) / lo > 0.1 ? ': **more than 10 %, the variants do not run the same code: compare with care**' : ''}.`);
    }
  }
  lines.push('');
  return lines;
}

/** narwhal and the narwhal binary against the best peer of their group (the same one on the default line). */
function summaryTable(report) {
  // Without the binary in the run (--variants), its columns say nothing.
  const binary = report.machine.binaryNode !== null;
  const lines = ['### Summary: narwhal ÷ best peer (req/s; p99 ms narwhal vs peer)', '',
    binary ? `| scenario | narwhal (${report.machine.groups.main}) vs best peer | p99 | narwhal binary (${report.machine.groups.binary}) vs best peer | p99 |`
      : `| scenario | narwhal (${report.machine.groups.main}) vs best peer | p99 |`,
    binary ? '|---|---:|---:|---:|---:|' : '|---|---:|---:|'];
  for (const sc of report.scenarios) {
    if (sc.pending || sc.variants.length === 0) continue;
    const best = bestPeers(sc);
    const cell = (id, group) => {
      const v = sc.variants.find((x) => x.id === id && x.runs.length);
      const b = best.get(group);
      if (!v || !b) return ['–', '–'];
      const s = summarise(v);
      return [`${fix(s.rps / b.rps, 2)} (vs ${b.label.split(' (')[0]})`, `${fix(s.p99, 2)} vs ${fix(b.p99, 2)}`];
    };
    // The scenario's own narwhal variant (access log on, metrics on, --sticky) where it has one.
    const own = sc.variants.find((x) => !x.peer && !(x.id in VARIANTS) && x.runs.length);
    const binGroup = sc.variants.find((x) => x.id === 'narwhal-bin')?.group ?? 'binary';
    const bin = binary ? ` ${cell('narwhal-bin', binGroup === 'binary' ? 'watt' : binGroup).join(' | ')} |` : '';
    lines.push(`| ${sc.id}${own && own.id !== 'narwhal' ? ` (${own.id})` : ''} | ${cell(own?.id ?? 'narwhal', 'main').join(' | ')} |${bin}`);
  }
  lines.push('');
  return lines;
}

/**
 * Memory and start-up, from the hello world scenario: each worker's RSS against one bare
 * node:http process serving the same handler, the master's, and spawn → first 200.
 */
function memoryTable(report) {
  const sc = report.scenarios.find((x) => x.id === 'hello' && !x.pending);
  if (!sc) return [];
  const bareRss = (id) => { const b = sc.variants.find((v) => v.id === id && v.runs.length); return b ? summarise(b).rssTotal : NaN; };
  const lines = ['### Memory and start-up (hello world, RSS at the end of the measured window)', '',
    `| variant | processes | master MB | per worker MB | worker − bare node MB | total MB | idle total MB (before load) | spawn → first 200 ms (min–max) |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const v of sc.variants) {
    if (!v.runs.length) continue;
    const s = summarise(v);
    const starts = v.runs.map((r) => r.startMs);
    const idle = median(v.runs.map((r) => r.rssIdleTotal));
    const single = s.processes <= 1;
    const bare = bareRss(v.group === 'main' ? 'node' : 'node24');
    lines.push(`| ${v.label} | ${fix(s.processes)} | ${single ? '–' : mb(s.rssMaster)} | ${single ? (v.id.startsWith('node') ? mb(s.rssTotal) : '(threads)') : mb(s.rssWorker)} | ` +
      `${single || v.id === 'gunicorn' ? '–' : fix((s.rssWorker - bare) / 1048576, 1)} | ${mb(s.rssTotal)} | ${mb(idle)} | ${fix(median(starts))} (${fix(min(starts))}–${fix(max(starts))}) |`);
  }
  lines.push('', 'The bare process served all 64 connections alone, each worker half of them, so this column understates narwhal\'s extra memory; `bench/memory.mjs` compares under the same load.', '');
  return lines;
}

export function printReport(report) {
  const m = report.machine;
  const c = report.cfg;
  const out = [
    `## Results (${report.mode} mode, ${m.date})`, '',
    `Machine: ${m.cpu} cores, ${m.memGiB} GiB, Linux ${m.kernel}; every variant on Node ${m.node} (official build)` +
    `${m.groups.watt !== m.groups.main && m.wattNode ? `, Watt on ${m.groups.watt}` : ''}${m.binaryNode && m.binaryNode !== m.node ? `, the binary on its own Node ${m.binaryNode}` : ''}; ` +
    `load average at the end ${m.load}. ${c.workers} workers everywhere (except node:http, one process); wrk -t1 -c${c.connections} ` +
    `(h2load -t1 -c${c.connections} for HTTP/2) on the same machine; ${c.rounds} rounds x ${c.seconds} s (+${c.warmup} s warm-up) per variant, ` +
    `variants interleaved; ${report.minutes.toFixed(1)} minutes.`, '',
  ];
  for (const n of report.notes) out.push(`- ${n}`);
  if (report.notes.length) out.push('');
  for (const sc of report.scenarios) out.push(...scenarioTable(sc, m.groups));
  out.push(...summaryTable(report));
  out.push(...memoryTable(report));
  if (report.leftovers.length) out.push(`Leftover processes killed at the end: ${report.leftovers.join(' ')}`, '');
  process.stdout.write(`${out.join('\n')}\n`);
}
