// Start → first response with 2 workers: narwhal against a hand-written node:cluster script,
// interleaved (A B C D, B C D A, …) so that the machine's drift hits every variant alike.
//   npm run build && node bench/startup.mjs [--runs 15] [--poll 2]
// Each run spawns the server in a session of its own, polls GET / on 127.0.0.1 every --poll ms
// until a 200, then SIGKILLs the tree it started (by PID) and waits for the port to be free.
// The narwhal variants tell apart what the start-up pass changed (bench/README.md, start-up):
// dist/narwhal.js (the launcher: code caches, the worker's own bundle) and the main bundle run
// directly (dist/narwhal-main.js: one bundle in every process, compiled at every start); and the
// single binary when dist/narwhal exists.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { ROOT, freePort, killTree, sleep } from './lib.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const runs = arg('--runs', 15);
const pollMs = arg('--poll', 2);
const APP = join(ROOT, 'bench/apps/hello.js');
const CLUSTER = [join(ROOT, 'bench/peers/cluster-app.js'), join(ROOT, 'bench/apps/serve.js'), '2'];

const BIN = join(ROOT, 'dist/narwhal');
// [command, args]: the host's node unless said.
const variants = {
  'node:cluster shared socket': () => [process.execPath, [...CLUSTER, 'none']],
  'node:cluster round-robin': () => [process.execPath, [...CLUSTER, 'rr']],
  'narwhal (dist/narwhal.js)': (port) => [process.execPath, [join(ROOT, 'dist/narwhal.js'), '-w', '2', '-b', `127.0.0.1:${port}`, APP]],
  'narwhal, one bundle, no code cache (dist/narwhal-main.js)': (port) => [process.execPath, [join(ROOT, 'dist/narwhal-main.js'), '-w', '2', '-b', `127.0.0.1:${port}`, APP]],
  // The single binary (its own Node 24), when it has been built (npm run build:binary).
  ...(existsSync(BIN) ? { 'narwhal binary (dist/narwhal, Node 24)': (port) => [BIN, ['-w', '2', '-b', `127.0.0.1:${port}`, APP]] } : {}),
};
const names = Object.keys(variants);

const status = (port) => new Promise((resolve) => {
  const req = http.get({ host: '127.0.0.1', port, agent: false, timeout: 1000 }, (res) => { res.resume(); resolve(res.statusCode); });
  req.on('timeout', () => req.destroy());
  req.on('error', () => resolve(0));
});

async function startOnce(name, port) {
  const t0 = process.hrtime.bigint();
  const [cmd, args] = variants[name](port);
  const child = spawn(cmd, args, {
    cwd: ROOT, detached: true, stdio: 'ignore', env: { ...process.env, PORT: String(port), BENCH_APP: APP },
  });
  try {
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      if (await status(port) === 200) return Number(process.hrtime.bigint() - t0) / 1e6;
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
      await sleep(pollMs);
    }
    throw new Error(`${name}: no 200 within 15 s`);
  } finally {
    killTree(child.pid);
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    while (await status(port) !== 0) await sleep(20); // the workers are gone too
    await sleep(150);
  }
}

const times = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < runs; r++) {
  const order = names.map((_, i) => names[(i + r) % names.length]);
  for (const name of order) times[name].push(await startOnce(name, await freePort()));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(times[names[0]]);
console.log(`Start → first response, 2 workers, hello world, ${runs} interleaved runs, polling every ${pollMs} ms; Node ${process.version}\n`);
console.log('| variant | median ms | min–max | vs node:cluster shared |');
console.log('|---|---:|---:|---:|');
for (const name of names) {
  const xs = times[name];
  console.log(`| ${name} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} | ${(median(xs) / base).toFixed(2)} |`);
}
