// Start → first response with 2 workers: narwhal against a hand-written node:cluster script,
// interleaved (A B C D, B C D A, …) so that the machine's drift hits every variant alike, for
// hello world and for real framework apps (Next.js standalone, NestJS: where compiling the
// app's own modules is most of a worker's start).
//   npm run build && node bench/startup.mjs [--node 26|24|22|22.12|machine] [--runs 9]
//       [--apps hello,nextjs,nest] [--before DIR] [--poll 2]
// Every variant runs on the Node of --node (default 26, from tools/node-lines). narwhal runs
// with Node's compile cache (a fresh directory, warmed by one start that is not counted) and
// with --compile-cache off; --before DIR adds another build's dist/ (e.g. an older commit's) as
// a variant; the single binary is added on --node 26, the Node it embeds, when it is built.
// Each run spawns the server in a session of its own, polls GET / on 127.0.0.1 every --poll ms
// until a 200, then SIGKILLs the tree it started (by PID) and waits for the port to be free.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT, freePort, killTree, sleep } from './lib.mjs';

const option = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const runs = Number(option('--runs', 9));
const pollMs = Number(option('--poll', 2));
const line = option('--node', '26');
const before = option('--before', null);
const NODE = line === 'machine' ? process.execPath : join(ROOT, 'tools/node-lines/node_modules', `node-${line}`, 'bin/node');
if (!existsSync(NODE)) throw new Error(`${NODE} is missing: node test/setup.mjs tools/node-lines`);

const APPS = join(ROOT, 'test/apps');
/** Each app as the peers run it (a file that listens) and as narwhal does (the same file). */
const apps = {
  hello: { file: join(ROOT, 'bench/apps/serve.js'), env: { BENCH_APP: join(ROOT, 'bench/apps/hello.js') }, path: '/' },
  nextjs: { file: join(APPS, 'nextjs/.next/standalone/nextjs/server.js'), env: { HOSTNAME: '127.0.0.1', NEXT_TELEMETRY_DISABLED: '1' }, path: '/' },
  nest: { file: join(APPS, 'nest/dist/main.js'), env: {}, path: '/' },
};
const chosen = option('--apps', 'hello,nextjs,nest').split(',').filter((a) => {
  if (!apps[a]) throw new Error(`unknown app ${a}: ${Object.keys(apps).join(', ')}`);
  if (existsSync(apps[a].file)) return true;
  process.stderr.write(`startup: ${apps[a].file} is missing (node test/setup.mjs): ${a} skipped\n`);
  return false;
});

const CLUSTER = join(ROOT, 'bench/peers/cluster-app.js');
const BIN = join(ROOT, 'dist/narwhal');
const cache = mkdtempSync(join(tmpdir(), 'narwhal-bench-cc-'));
const narwhal = (script, extra = []) => (app, port) => [NODE, [script, '-w', '2', '-b', `127.0.0.1:${port}`, ...extra, app.file]];
// [command, args] for an app on a port.
const variants = {
  'node:cluster shared socket': (app) => [NODE, [CLUSTER, app.file, '2', 'none']],
  'node:cluster round-robin': (app) => [NODE, [CLUSTER, app.file, '2', 'rr']],
  "narwhal, Node's compile cache": narwhal(join(ROOT, 'dist/narwhal.js'), ['--compile-cache', cache]),
  'narwhal, --compile-cache off': narwhal(join(ROOT, 'dist/narwhal.js'), ['--compile-cache', 'off']),
  ...(before ? { [`narwhal before (${before})`]: narwhal(join(resolve(before), 'narwhal.js')) } : {}),
  ...(line === '26' && existsSync(BIN) ? { 'narwhal binary (Node 26 inside)': (app, port) => [BIN, ['-w', '2', '-b', `127.0.0.1:${port}`, '--compile-cache', cache, app.file]] } : {}),
};
const names = Object.keys(variants);

const status = (port, path) => new Promise((done) => {
  const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 1000 }, (res) => { res.resume(); done(res.statusCode); });
  req.on('timeout', () => req.destroy());
  req.on('error', () => done(0));
});

async function startOnce(name, app, port) {
  const t0 = process.hrtime.bigint();
  const [cmd, args] = variants[name](app, port);
  const child = spawn(cmd, args, {
    cwd: ROOT, detached: true, stdio: 'ignore', env: { ...process.env, ...app.env, PORT: String(port) },
  });
  try {
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      if (await status(port, app.path) === 200) return Number(process.hrtime.bigint() - t0) / 1e6;
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
      await sleep(pollMs);
    }
    throw new Error(`${name}: no 200 within 30 s`);
  } finally {
    killTree(child.pid);
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    while (await status(port, app.path) !== 0) await sleep(20); // the workers are gone too
    await sleep(150);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`Start → first response, 2 workers, ${runs} interleaved runs, polling every ${pollMs} ms; every variant on Node ${line === 'machine' ? process.version : line} (${NODE})`);
try {
  for (const appName of chosen) {
    const app = apps[appName];
    // The compile cache's first fill is not what a restart sees: one start of each variant first.
    for (const name of names) await startOnce(name, app, await freePort());
    const times = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < runs; r++) {
      const order = names.map((_, i) => names[(i + r) % names.length]);
      for (const name of order) times[name].push(await startOnce(name, app, await freePort()));
    }
    const base = median(times[names[0]]);
    console.log(`\n${appName}:\n`);
    console.log('| variant | median ms | min–max | vs node:cluster shared |');
    console.log('|---|---:|---:|---:|');
    for (const name of names) {
      const xs = times[name];
      console.log(`| ${name} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} | ${(median(xs) / base).toFixed(2)} |`);
    }
  }
} finally {
  rmSync(cache, { recursive: true, force: true });
}
