#!/usr/bin/env node
// What loading the whole bundle costs each process (issue 13: workers must not load master-only
// code and vice versa). Builds, into a temp dir and without touching src/ or dist/:
//   - "full":  today's bundle (src/boot/main.ts), which master and workers both load;
//   - "split": a worker-only bundle (src/boot/worker.ts, as dist/narwhal-worker.js) and a
//              master-only bundle (src/boot/main.ts with the worker's entry and --check-config's
//              app check stubbed out), behind a two-line dispatcher that picks one by the worker
//              environment variable, as separate esbuild entry points would;
// then runs narwhal -w 2 from each on the hello app, loads it with wrk for 1 s, and reads RSS
// (and its anonymous part) of the master and each worker from /proc; next to it, one bare
// node:http process and a node:cluster round-robin script serving the same handler.
//
//   node bench/memory.mjs [--rounds 3]
//
// 127.0.0.1 only; every process is killed by PID.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { wrk } from './suite/load.mjs';
import { treePids } from './suite/proc-stats.mjs';
import { NODE, PEERS, ROOT, freePort, probe, sleep } from './suite/servers.mjs';
import { median } from './suite/report.mjs';

const i = process.argv.indexOf('--rounds');
const rounds = i > 0 ? Number(process.argv[i + 1]) : 3;
const dir = mkdtempSync(join(tmpdir(), 'narwhal-memory-'));
const HELLO = join(ROOT, 'bench/apps/hello.js');
const SERVE = join(ROOT, 'bench/apps/serve.js');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const common = {
  bundle: true, platform: 'node', format: 'cjs', target: 'node22.12', minifySyntax: true, legalComments: 'none',
  define: { NARWHAL_VERSION: JSON.stringify(pkg.version) }, logLevel: 'warning', metafile: true, absWorkingDir: ROOT,
};

// The worker's code, as the master-only bundle sees it: boot/main.ts's `import('./worker')` (the
// worker's entry, run only in a worker) and boot/master.ts's `import('../worker/check-app')`
// (--check-config loads the app as a worker would). Never run in a master.
const stubWorker = {
  name: 'stub-worker',
  setup(b) {
    b.onResolve({ filter: /^\.\/worker$|^\.\.\/worker\/check-app$/ }, (args) => ({ path: args.path, namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, (args) => ({
      loader: 'ts',
      contents: args.path === './worker'
        ? 'throw new Error("worker code is not in the master bundle");'
        : 'export const checkApp = async (..._: unknown[]): Promise<number> => { throw new Error("--check-config needs the worker bundle"); };',
    }));
  },
};

// What lazy loading would leave out when unused: @hono/node-server in a worker serving a plain
// request listener (worker/adapters.ts), the admin server (prom-client) in a master without
// --admin-bind (boot/master.ts).
const stubLazy = {
  name: 'stub-lazy',
  setup(b) {
    b.onResolve({ filter: /^@hono\/node-server$|^\.\.\/admin\/server$/ }, (args) => ({ path: args.path, namespace: 'lazy' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({
      loader: 'ts',
      contents: args.path.includes('hono') ? 'export const getRequestListener = (..._: unknown[]): any => { throw new Error("lazy"); };'
        : 'export const startAdmin = async (..._: unknown[]): Promise<any> => { throw new Error("lazy"); };',
    }));
  },
};

const full = await build({ ...common, entryPoints: ['src/boot/main.ts'], outfile: join(dir, 'full/narwhal.js') });
const master = await build({ ...common, entryPoints: ['src/boot/main.ts'], outfile: join(dir, 'split/master.js'), plugins: [stubWorker] });
const worker = await build({ ...common, entryPoints: ['src/boot/worker.ts'], outfile: join(dir, 'split/worker.js') });
const lazyMaster = await build({ ...common, entryPoints: ['src/boot/main.ts'], outfile: join(dir, 'lazy/master.js'), plugins: [stubWorker, stubLazy] });
const lazyWorker = await build({ ...common, entryPoints: ['src/boot/worker.ts'], outfile: join(dir, 'lazy/worker.js'), plugins: [stubLazy] });
for (const d of ['split', 'lazy']) writeFileSync(join(dir, `${d}/narwhal.js`),
  "// One entry per process kind: a worker never loads the master's modules, nor the master the worker's.\n" +
  "if (process.env.NARWHAL_WORKER_PROCESS) require('./worker.js'); else require('./master.js');\n");

const bytesOf = (meta) => Object.values(meta.metafile.outputs)[0].bytes;
const inputs = (meta) => new Map(Object.entries(Object.values(meta.metafile.outputs)[0].inputs).map(([k, v]) => [k, v.bytesInOutput]));
const kib = (b) => `${(b / 1024).toFixed(0)} KiB`;
// A stub whose import no longer matches leaves its modules in, and the variants would measure the
// whole bundle under other names: stop here instead.
for (const [name, meta, left] of [
  ['split master', master, /^src\/boot\/worker\.ts$|^src\/worker\/(?!app-spec\.ts$)/],
  ['lazy master', lazyMaster, /^src\/admin\/|(^|\/)node_modules\/prom-client\//],
  ['lazy worker', lazyWorker, /(^|\/)node_modules\/@hono\/node-server\//],
]) {
  const kept = [...inputs(meta).keys()].filter((k) => left.test(k));
  if (kept.length === 0) continue;
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`bench/memory.mjs: the ${name} bundle still has ${kept.join(', ')}: a stub no longer matches its import`);
}
const fullIn = inputs(full);
const workerIn = inputs(worker);
const masterIn = inputs(master);
const group = (path) => (path.startsWith('node_modules/') ? path.split('/').slice(0, path.split('/')[1].startsWith('@') ? 3 : 2).join('/') : path);
const sumBy = (m, keep) => {
  const out = new Map();
  for (const [k, v] of m) if (keep(k)) out.set(group(k), (out.get(group(k)) ?? 0) + v);
  return [...out].sort((a, b) => b[1] - a[1]);
};

function status(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

const kill = (pid, sig) => { try { process.kill(pid, sig); } catch { /* gone */ } };

async function measure(args, workers) {
  const port = await freePort();
  const child = spawn(NODE, args(port), { cwd: ROOT, env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', BENCH_APP: HELLO }, stdio: 'ignore' });
  const t0 = Date.now();
  while ((await probe(port)).status !== 200) {
    if (Date.now() - t0 > 20000) { kill(child.pid, 'SIGKILL'); throw new Error(`${args(port).join(' ')} did not start`); }
    await sleep(20);
  }
  await sleep(500);
  await wrk({ url: `http://127.0.0.1:${port}/` }, 1);
  await sleep(500);
  const pids = treePids([child.pid]);
  const kids = pids.filter((p) => p !== child.pid);
  const m = status(child.pid);
  const w = kids.map(status);
  for (const p of pids) kill(p, 'SIGTERM');
  await sleep(300);
  for (const p of treePids([child.pid])) kill(p, 'SIGKILL');
  kill(child.pid, 'SIGKILL');
  const avg = (key) => (w.length ? w.reduce((a, x) => a + x[key], 0) / w.length : NaN);
  if (w.length !== workers) throw new Error(`expected ${workers} workers, found ${w.length}`);
  return { master: m, worker: { rss: avg('rss'), anon: avg('anon'), file: avg('file') } };
}

const variants = [
  ['bare node:http process (serve.js)', (port) => [SERVE], 0],
  ['node:cluster round-robin (cluster-app.js)', (port) => [join(PEERS, 'cluster-app.js'), SERVE, '2', 'rr'], 2],
  [`narwhal, today's bundle in every process (${kib(bytesOf(full))})`, (port) => [join(dir, 'full/narwhal.js'), '-w', '2', '-b', `127.0.0.1:${port}`, HELLO], 2],
  [`narwhal, split: master ${kib(bytesOf(master))}, worker ${kib(bytesOf(worker))}`, (port) => [join(dir, 'split/narwhal.js'), '-w', '2', '-b', `127.0.0.1:${port}`, HELLO], 2],
  [`narwhal, split + lazy prom-client/@hono/node-server: master ${kib(bytesOf(lazyMaster))}, worker ${kib(bytesOf(lazyWorker))}`, (port) => [join(dir, 'lazy/narwhal.js'), '-w', '2', '-b', `127.0.0.1:${port}`, HELLO], 2],
];
const results = variants.map(() => []);
try {
  for (let r = 0; r < rounds; r++) {
    for (const [n, [name, args, workers]] of variants.entries()) {
      results[n].push(await measure(args, workers));
      process.stderr.write(`round ${r + 1} ${name}: master ${(results[n].at(-1).master.rss / 1048576).toFixed(1)} MB\n`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const mb = (b) => (Number.isFinite(b) ? (b / 1048576).toFixed(1) : '–');
const bare = median(results[0].map((x) => x.master.rss));
const bareAnon = median(results[0].map((x) => x.master.anon));
console.log(`\nNode ${process.version}, hello world, -w 2, after 1 s of wrk -c64; medians of ${rounds} rounds; MB = MiB; anon = RssAnon (private to the process), the rest is file-backed (the node binary, shared between processes)\n`);
console.log('| variant | master RSS (anon) | per-worker RSS (anon) | worker − bare node RSS (anon) |');
console.log('|---|---:|---:|---:|');
for (const [n, [name]] of variants.entries()) {
  const rs = results[n];
  const m = { rss: median(rs.map((x) => x.master.rss)), anon: median(rs.map((x) => x.master.anon)) };
  const w = { rss: median(rs.map((x) => x.worker.rss)), anon: median(rs.map((x) => x.worker.anon)) };
  if (n === 0) { console.log(`| ${name} | ${mb(m.rss)} (${mb(m.anon)}) | – | – |`); continue; }
  console.log(`| ${name} | ${mb(m.rss)} (${mb(m.anon)}) | ${mb(w.rss)} (${mb(w.anon)}) | +${mb(w.rss - bare)} (+${mb(w.anon - bareAnon)}) |`);
}
console.log(`\nBundle contents (bytes in output): what only the master needs, and what the worker bundle keeps\n`);
console.log('| in the full bundle, not in the worker bundle (master-only) | bytes |\n|---|---:|');
for (const [k, v] of sumBy(fullIn, (k) => !workerIn.has(k)).slice(0, 12)) console.log(`| ${k} | ${kib(v)} |`);
console.log('\n| in the full bundle, not in the master bundle (worker-only) | bytes |\n|---|---:|');
for (const [k, v] of sumBy(fullIn, (k) => !masterIn.has(k)).slice(0, 8)) console.log(`| ${k} | ${kib(v)} |`);
console.log('\n| in both (shared modules) | bytes |\n|---|---:|');
for (const [k, v] of sumBy(fullIn, (k) => workerIn.has(k) && masterIn.has(k)).slice(0, 10)) console.log(`| ${k} | ${kib(v)} |`);
