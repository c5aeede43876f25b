#!/usr/bin/env node
// The benchmark suite (issue 13): narwhal and its peers, same app, same load generator, same
// run, on 127.0.0.1. `npm run bench` (quick, about 2 minutes) or `npm run bench -- --full`.
//
//   node bench/run.mjs [--node 26|24|22|22.12|machine] [--full] [--rounds N] [--seconds S]
//                      [--warmup S] [--connections C] [--workers W] [--scenarios a,b]
//                      [--variants x,y] [--json FILE] [--keep]
//
// Every variant runs on one Node: the pinned official build of --node (default 26, the line the
// binary embeds; tools/node-lines), on which this script runs itself again. `--node machine`
// keeps the machine's own node (Node 20 here: a footnote, not a supported line).
//
// Each round starts every variant afresh, one at a time, in an order that rotates from round to
// round (A B C, B C A, …), so that the machine's drift and JIT luck hit every variant alike;
// the tables show medians with min–max across rounds. Per variant: req/s, latency p50/p99,
// errors, server CPU per request (all processes of the server, from /proc, over the measured
// window), RSS (master, each worker, total), spawn → first 200, and the spread of requests over
// workers (smallest worker's share ÷ a fair share). Ratios are to the best peer on the same
// Node (see suite/scenarios.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { h2load, postScript, wrk } from './suite/load.mjs';
import { cpuBetween, cpuSnapshot, memory } from './suite/proc-stats.mjs';
import { SCENARIOS, VARIANTS } from './suite/scenarios.mjs';
import { BIN, CLI, NODE, NODE_WATT, STARTERS, freePort, probe, readCounts, seenPids, sleep } from './suite/servers.mjs';
import { setup } from './suite/setup.mjs';
import { median, printReport } from './suite/report.mjs';

const argv = process.argv.slice(2);
{
  // On the pinned Node of --node, unless this already is it.
  const i = argv.indexOf('--node');
  const line = i >= 0 ? argv[i + 1] : '26';
  if (line !== 'machine') {
    const node = join(fileURLToPath(new URL('..', import.meta.url)), 'tools/node-lines/node_modules', `node-${line}`, 'bin/node');
    if (!existsSync(node)) {
      process.stderr.write(`bench: ${node} is missing: node test/setup.mjs tools/node-lines (lines: 22.12, 22, 24, 26, machine)\n`);
      process.exit(2);
    }
    if (process.execPath !== node) {
      const rest = i >= 0 ? [...argv.slice(0, i), ...argv.slice(i + 2)] : argv;
      process.exit(spawnSync(node, [fileURLToPath(import.meta.url), '--node', 'machine', ...rest], { stdio: 'inherit' }).status ?? 1);
    }
  }
}
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const full = flag('full');
const cfg = {
  full,
  rounds: Number(opt('rounds', full ? 3 : 2)),
  seconds: Number(opt('seconds', full ? 5 : 2)),
  warmup: Number(opt('warmup', 1)), // wrk takes whole seconds
  connections: Number(opt('connections', 64)),
  workers: Number(opt('workers', 2)),
};
const onlyScenarios = opt('scenarios', null)?.split(',');
const onlyVariants = opt('variants', null)?.split(',');

/** The variants a scenario runs in this mode, each resolved to { id, base, label, args, … }. */
function variantsOf(scenario) {
  const list = !full && !onlyScenarios && scenario.quickVariants ? scenario.quickVariants : scenario.variants;
  return list.map((v) => {
    const spec = typeof v === 'string' ? { id: v } : v;
    const known = VARIANTS[spec.id] ?? {};
    const base = spec.base ?? known.base ?? spec.id;
    const inherited = VARIANTS[base] ?? {};
    const fixed = known.args ?? [];
    return {
      ...inherited, ...known, ...spec, base,
      args: (ctx) => [...fixed, ...(spec.args?.(ctx) ?? [])],
    };
  }).filter((v) => !onlyVariants || onlyVariants.includes(v.id));
}

const scenarios = SCENARIOS.filter((s) => (onlyScenarios ? onlyScenarios.includes(s.id) : full || s.quick));
const wants = new Set();
for (const s of scenarios) {
  if (s.h2) wants.add('h2load');
  if (s.frameworks) wants.add('frameworks');
  for (const v of variantsOf(s)) {
    if (v.needs) wants.add(v.needs);
  }
}
process.stderr.write(`bench: ${full ? 'full' : 'quick'} mode, ${cfg.rounds} rounds x ${cfg.seconds} s (+${cfg.warmup} s warm-up), ` +
  `${cfg.connections} connections, ${cfg.workers} workers; scenarios: ${scenarios.map((s) => s.id).join(', ')}\n`);
const { have, notes } = await setup(wants);
const versionOf = (cmd) => /v\d+\.\d+\.\d+/.exec(execFileSync(cmd, ['--version'], { encoding: 'utf8' }))?.[0] ?? '?';
const wattNode = have.has('node24') ? versionOf(NODE_WATT) : null;
const binaryNode = have.has('binary') ? versionOf(BIN) : null;
/** A variant's group: `watt` and `binary` are `main` when they run on the same Node. */
function groupOf(v) {
  if (v.group === 'watt' && wattNode === process.version) return 'main';
  if (v.group === 'binary' && binaryNode === process.version) return 'main';
  return v.group;
}
if (!have.has('wrk')) {
  process.stderr.write('bench: wrk is missing and could not be installed: nothing to measure\n');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'narwhal-bench-'));
let current = null;
async function cleanup() {
  if (current) await current.stop(1000).catch(() => {});
  const left = [];
  for (const pid of seenPids) {
    try { process.kill(pid, 0); } catch { continue; }
    try { if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) continue; } catch { continue; }
    left.push(pid);
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  if (!flag('keep')) rmSync(dir, { recursive: true, force: true });
  return left;
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { void cleanup().then(() => process.exit(130)); });

// A self-signed certificate for the TLS scenario (openssl, in the run's temp dir).
let tlsFiles = null;
if (scenarios.some((s) => s.tls)) {
  try {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-keyout', key, '-out', cert], { stdio: 'ignore' });
    tlsFiles = { cert, key };
  } catch {
    notes.push('openssl missing: the TLS scenario is skipped');
  }
}

const help = execFileSync(NODE, [CLI, '--help'], { encoding: 'utf8' });

/** Whether this narwhal serves an app that listens itself (issue 8's adoption). */
async function servesListenForm(app) {
  const port = await freePort();
  const ctx = makeCtx({ id: 'probe' }, port, { listen: app, narwhal: app, env: { PORT: String(await freePort()) } }, 'probe', 1);
  try {
    const server = await STARTERS.narwhal(ctx);
    await server.stop();
    return true;
  } catch {
    return false;
  }
}

function makeCtx(scenario, port, app, tag, workers, narwhalArgs = []) {
  const countsDir = join(dir, `counts-${tag}`);
  mkdirSync(countsDir, { recursive: true });
  const benchEnv = {
    PORT: String(port), HOST: '127.0.0.1', BENCH_COUNTS_DIR: countsDir, ...app.env,
    ...(scenario.tls && tlsFiles ? { BENCH_TLS_CERT: tlsFiles.cert, BENCH_TLS_KEY: tlsFiles.key } : {}),
  };
  return {
    port, dir, countsDir, workers, benchEnv, env: { ...process.env, ...benchEnv }, app, narwhalArgs,
    probe: { tls: Boolean(scenario.tls), h2: Boolean(scenario.h2) },
  };
}

async function waitForWorkers(countsDir, n, ms = 20000) {
  const deadline = Date.now() + ms;
  while (readCounts(countsDir).size < n && Date.now() < deadline) await sleep(20);
  return readCounts(countsDir).size;
}

function runLoad(scenario, port, seconds, script) {
  if (scenario.h2) return h2load({ url: `http://127.0.0.1:${port}/`, connections: cfg.connections }, seconds);
  const scheme = scenario.tls ? 'https' : 'http';
  const { connections = cfg.connections, threads = 1 } = scenario.load;
  return wrk({ url: `${scheme}://127.0.0.1:${port}/${scenario.load.postBytes ? 'echo' : ''}`, close: scenario.load.close, script, connections, threads }, seconds);
}

/** Scrapes narwhal's /metrics every second until stopped (the pessimistic Prometheus case). */
function scraper(logFile) {
  let stop = false;
  const done = (async () => {
    const url = /Admin server at: (http:\/\/\S+)/.exec(readFileSync(logFile, 'utf8'))?.[1];
    if (!url) return 0;
    const { port } = new URL(url);
    let n = 0;
    while (!stop) { if ((await probe(Number(port), { path: '/metrics' })).status === 200) n++; await sleep(1000); }
    return n;
  })();
  return async () => { stop = true; return done; };
}

async function measure(scenario, v, round, app, script) {
  const port = await freePort();
  const workers = v.workers ?? cfg.workers;
  const ctx = makeCtx(scenario, port, app, `${scenario.id}-${v.id}-${round}`, workers);
  Object.assign(ctx.env, v.env ?? {});
  const narwhal = v.base.startsWith('narwhal');
  ctx.narwhalArgs = [...v.args(ctx), ...(narwhal ? scenario.narwhalArgs ?? [] : []),
    ...(scenario.tls && tlsFiles && narwhal ? ['--certfile', tlsFiles.cert, '--keyfile', tlsFiles.key] : [])];
  const server = current = await STARTERS[v.base](ctx);
  try {
    // An app counted by count-requests.js writes its count from its first request on.
    const serving = v.id === 'gunicorn' || scenario.countsFromFirstRequest ? workers : await waitForWorkers(ctx.countsDir, workers);
    const idle = memory(server.root);
    await runLoad(scenario, port, cfg.warmup, script);
    let handlerUs = null;
    if (scenario.handlerTime) {
      const times = [];
      for (let i = 0; i < 15; i++) times.push(Number((await probe(port, ctx.probe)).headers['x-handler-us']));
      handlerUs = Math.min(...times.filter(Number.isFinite)); // the fastest: a preemption only adds
    }
    await sleep(250);
    const countsBefore = readCounts(ctx.countsDir);
    const stopScraping = v.scrapeMetrics ? scraper(server.log) : null;
    const cpuBefore = cpuSnapshot(server.roots);
    const r = await runLoad(scenario, port, cfg.seconds, script);
    const cpuAfter = cpuSnapshot(server.roots);
    const mem = memory(server.root);
    const scrapes = stopScraping ? await stopScraping() : null;
    await sleep(250);
    const countsAfter = readCounts(ctx.countsDir);
    const deltas = [...countsAfter].map(([k, n]) => n - (countsBefore.get(k) ?? 0));
    while (deltas.length < workers) deltas.push(0);
    const fair = deltas.reduce((a, b) => a + b, 0) / workers;
    const spread = v.id === 'gunicorn' ? null : workers === 1 ? 1 : fair > 0 ? Math.min(...deltas) / fair : 0;
    const cpuMs = cpuBetween(cpuBefore, cpuAfter);
    const masterMs = (cpuAfter.get(server.root) ?? 0) - (cpuBefore.get(server.root) ?? 0);
    return {
      rps: r.rps, p50: r.p50, p99: r.p99, errors: r.errors, requests: r.requests,
      cpuUsPerReq: r.requests > 0 ? (cpuMs * 1000) / r.requests : NaN, cpuCores: cpuMs / 1000 / cfg.seconds,
      cpuMasterUsPerReq: r.requests > 0 ? (masterMs * 1000) / r.requests : NaN,
      rssMaster: mem.master, rssWorkers: mem.workers, rssTotal: mem.total, rssIdleTotal: idle.total, processes: mem.processes,
      startMs: server.startMs, spread, serving, handlerUs, scrapes,
    };
  } finally {
    await server.stop();
    current = null;
  }
}

const results = [];
const started = Date.now();
for (const scenario of scenarios) {
  const entry = { id: scenario.id, title: scenario.title, notes: [], variants: [] };
  results.push(entry);
  if (scenario.ready && !scenario.ready(help)) {
    entry.pending = scenario.pending;
    process.stderr.write(`bench: ${scenario.id}: ${scenario.pending}\n`);
    continue;
  }
  if (scenario.tls && !tlsFiles) { entry.pending = 'no openssl for a certificate'; continue; }
  if (scenario.frameworks && !existsSync(scenario.app.listen)) { entry.pending = `${scenario.app.listen} is not built (node test/setup.mjs)`; continue; }
  if (scenario.h2 && !have.has('h2load')) { entry.pending = 'h2load missing'; continue; }
  let variants = variantsOf(scenario).filter((v) => {
    const need = v.needs ?? null;
    // A bare process on Watt's Node is the `node` variant again when that is the same Node.
    if (v.id === 'node24' && NODE_WATT === NODE) return false;
    const missing = (need && !have.has(need)) || (v.base === 'pm2' && !have.has('pm2')) || (v.base === 'watt' && !have.has('watt'));
    if (missing) entry.notes.push(`${v.label}: skipped (${need ?? v.base} not available)`);
    return !missing;
  });
  if (scenario.narwhalReady && !scenario.narwhalReady(help)) {
    variants = variants.filter((v) => !v.base.startsWith('narwhal'));
    entry.notes.push(scenario.narwhalPending);
  }
  const app = { ...scenario.app };
  if (app.exportForm && variants.some((v) => v.base.startsWith('narwhal'))) {
    if (!(await servesListenForm(app.narwhal))) {
      app.narwhal = app.exportForm;
      entry.notes.push('narwhal cannot adopt a listen-form app yet (issue 8): it serves the same app in the exported form (module.exports = app)');
    }
  }
  const script = scenario.load.postBytes ? postScript(dir, scenario.load.postBytes, '/echo') : null;
  const byId = new Map(variants.map((v) => [v.id, { id: v.id, label: v.label, group: groupOf(v), peer: v.peer, runs: [] }]));
  entry.variants = [...byId.values()];
  for (let round = 0; round < cfg.rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]);
    for (const v of order) {
      try {
        const m = await measure(scenario, v, round, app, script);
        byId.get(v.id).runs.push(m);
        process.stderr.write(`  ${scenario.id} r${round + 1} ${v.id.padEnd(22)} ${String(Math.round(m.rps)).padStart(6)} req/s  p99 ${m.p99?.toFixed?.(2)} ms  ` +
          `${m.cpuUsPerReq.toFixed(1)} µs CPU/req  ${(m.rssTotal / 1048576).toFixed(0)} MB  start ${m.startMs.toFixed(0)} ms` +
          `${m.spread !== null ? `  spread ${m.spread.toFixed(2)}` : ''}${m.handlerUs ? `  handler ${m.handlerUs.toFixed(0)} µs` : ''}${m.errors ? `  ERRORS ${m.errors}` : ''}\n`);
      } catch (err) {
        byId.get(v.id).failed = String(err.message).split('\n')[0];
        process.stderr.write(`  ${scenario.id} r${round + 1} ${v.id}: FAILED ${err.message}\n`);
      }
    }
  }
}

const left = await cleanup();
const machine = {
  date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
  cpu: `${cpus()[0]?.model ?? '?'} x ${availableParallelism()}`,
  memGiB: Math.round(totalmem() / 2 ** 30),
  kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
  node: process.version,
  groups: { main: `Node ${process.version}`, watt: `Node ${wattNode}`, binary: `the binary's Node ${binaryNode}` },
  wattNode,
  binaryNode,
  binary: have.has('binary') ? execFileSync(BIN, ['--version'], { encoding: 'utf8' }).trim() : null,
  load: (() => { try { return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '); } catch { return '?'; } })(),
};
const report = { machine, cfg, mode: full ? 'full' : 'quick', minutes: (Date.now() - started) / 60000, notes, leftovers: left, scenarios: results };
const jsonFile = opt('json', null);
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
printReport(report);
if (left.length > 0) process.stderr.write(`bench: killed ${left.length} leftover process(es): ${left.join(' ')}\n`);
