#!/usr/bin/env node
// Throughput with the admin server and metrics on vs off (issue 4: under 5 % apart).
//
//   npm run build && node bench/metrics-overhead.mjs [--rounds 5] [--duration 8] [--connections 64] [--workers 2]
//
// "off": no --admin-bind, so workers record nothing but their request count.
// "on":  --admin-bind 127.0.0.1:0, workers record status class + duration per request and ship
//        them with each heartbeat, and /metrics is scraped every second during the run (a
//        Prometheus scrape is usually every 15-30 s: this is the pessimistic case).
// Rounds alternate off/on so that drift of the machine hits both alike; the table shows medians.
// Load comes from autocannon in this process, on 127.0.0.1 only; every server is killed by PID.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { ROOT, killTree, median, sleep } from './lib.mjs';

const CLI = join(ROOT, 'dist', 'narwhal.js');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('rounds', 5);
const DURATION = arg('duration', 8);
const CONNECTIONS = arg('connections', 64);
const WORKERS = arg('workers', 2);

const dir = mkdtempSync(join(tmpdir(), 'narwhal-bench-'));
const APP = join(dir, 'hello.js');
writeFileSync(APP, "module.exports = (req, res) => { res.setHeader('content-type', 'text/plain'); res.end('Hello, world!\\n'); };\n");

const get = (url) => new Promise((resolve, reject) => {
  http.get(url, { agent: false }, (res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => resolve({ status: res.statusCode, body }));
  }).on('error', reject);
});

async function start(metrics) {
  const args = [CLI, '-b', '127.0.0.1:0', '-w', String(WORKERS), '--log-level', 'info', ...(metrics ? ['--admin-bind', '127.0.0.1:0'] : []), APP];
  // No cgroup limits from the bench machine's own cgroup: same heaps in both modes.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NARWHAL_CGROUP_ROOT: dir } });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    const app = /Listening at: (http:\/\/\S+)/.exec(log)?.[1];
    const admin = /Admin server at: (http:\/\/\S+)/.exec(log)?.[1];
    if (app && (admin || !metrics)) {
      // Wait until every worker answers.
      for (let i = 0; i < 50; i++) {
        try { if ((await get(app)).status === 200) break; } catch { /* booting */ }
        await sleep(50);
      }
      await sleep(300);
      return { child, app, admin };
    }
    await sleep(20);
  }
  child.kill('SIGKILL');
  throw new Error(`server did not start:\n${log}`);
}

function stop(server) {
  killTree(server.child.pid);
}

async function round(metrics) {
  const server = await start(metrics);
  let scrapes = 0;
  let stopScraping = false;
  const scraper = metrics ? (async () => {
    while (!stopScraping) {
      await get(`${server.admin}/metrics`);
      scrapes++;
      await sleep(1000);
    }
  })() : null;
  try {
    const result = await autocannon({ url: server.app, connections: CONNECTIONS, duration: DURATION, pipelining: 1 });
    stopScraping = true;
    await scraper;
    let counted = null;
    if (metrics) {
      await sleep(1200);
      const text = (await get(`${server.admin}/metrics`)).body;
      counted = [...text.matchAll(/^narwhal_http_requests_total\{[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
    }
    return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx, total: result.requests.total, scrapes, counted };
  } finally {
    stop(server);
    await sleep(300);
  }
}

const results = { off: [], on: [] };
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of r % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
      const res = await round(mode === 'on');
      results[mode].push(res);
      console.error(`round ${r + 1} ${mode.padEnd(3)}: ${Math.round(res.rps)} req/s, p99 ${res.p99} ms, errors ${res.errors}` +
        (res.counted !== null ? `, /metrics counted ${res.counted} of ${res.total} sent, ${res.scrapes} scrapes` : ''));
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const off = median(results.off.map((r) => r.rps));
const on = median(results.on.map((r) => r.rps));
const diff = ((on - off) / off) * 100;
console.log(`\nnarwhal ${WORKERS} workers, hello world, autocannon -c ${CONNECTIONS} -d ${DURATION}, ${ROUNDS} alternating rounds each, Node ${process.version}\n`);
console.log('| admin + metrics | req/s (median) | p99 latency ms (median) | vs off |');
console.log('|---|---:|---:|---:|');
console.log(`| off | ${Math.round(off)} | ${median(results.off.map((r) => r.p99))} | 1.000 |`);
console.log(`| on, /metrics scraped every 1 s | ${Math.round(on)} | ${median(results.on.map((r) => r.p99))} | ${(on / off).toFixed(3)} |`);
console.log(`\ndifference: ${diff >= 0 ? '+' : ''}${diff.toFixed(1)} % (target: within 5 %)`);
