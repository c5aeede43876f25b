#!/usr/bin/env node
// Where the CPU goes, per connection and per request: narwhal against a hand-written
// node:cluster (and one plain process), each run under V8's sampling profiler (--cpu-prof, which
// a master passes on to its workers), loaded with wrk, and only the samples taken inside the
// measured window counted. Prints, per variant and per process role (master, workers), the
// functions with the most self time in µs per request, and the kernel's view: syscalls per
// request of the master from `strace -c -f` in a separate run (strace slows the process down,
// so its rates are not comparable; its counts per request are).
//
//   npm run build && node bench/profile.mjs [--close] [--seconds 5] [--top 12] [--variants narwhal,cluster-rr,node] [--strace]
//
// 127.0.0.1 only; every process started here is killed by PID.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wrk } from './suite/load.mjs';
import { cpuSnapshot, treePids } from './suite/proc-stats.mjs';
import { CLI, NODE, PEERS, ROOT, freePort, probe, sleep } from './suite/servers.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const close = !argv.includes('--keep-alive');
const seconds = Number(opt('seconds', 5));
const top = Number(opt('top', 12));
const wanted = opt('variants', 'narwhal,cluster-rr,node').split(',');
const HELLO = join(ROOT, 'bench/apps/hello.js');
const SERVE = join(ROOT, 'bench/apps/serve.js');

const VARIANTS = {
  narwhal: (port, flags) => [NODE, [...flags, CLI, '-w', '2', '-b', `127.0.0.1:${port}`, HELLO]],
  'narwhal-rr': (port, flags) => [NODE, [...flags, CLI, '-w', '2', '-b', `127.0.0.1:${port}`, '--distribution', 'round-robin', HELLO]],
  'cluster-rr': (port, flags) => [NODE, [...flags, join(PEERS, 'cluster-app.js'), SERVE, '2', 'rr']],
  'cluster-shared': (port, flags) => [NODE, [...flags, join(PEERS, 'cluster-app.js'), SERVE, '2', 'none']],
  node: (port, flags) => [NODE, [...flags, SERVE]],
};

const kill = (pid, sig) => { try { process.kill(pid, sig); } catch { /* gone */ } };

async function start(name, flags, env = {}) {
  const port = await freePort();
  const [cmd, args] = VARIANTS[name](port, flags);
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', BENCH_APP: HELLO, ...env }, stdio: 'ignore' });
  const deadline = Date.now() + 20000;
  while ((await probe(port)).status !== 200) {
    if (Date.now() > deadline) { kill(child.pid, 'SIGKILL'); throw new Error(`${name} did not start`); }
    await sleep(20);
  }
  await sleep(1000); // every worker booted
  const exited = new Promise((r) => child.once('exit', r));
  return {
    port, pid: child.pid,
    async stop() {
      const pids = treePids([child.pid]);
      kill(child.pid, 'SIGTERM');
      await Promise.race([exited, sleep(8000)]);
      await sleep(300); // workers write their profiles as they exit
      for (const p of pids) kill(p, 'SIGKILL');
    },
  };
}

/** Self time per function of one .cpuprofile, counting only samples between t0 and t1 (µs, monotonic). */
function selfTimes(file, t0, t1) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let t = prof.startTime;
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    t += dt;
    if (t < t0 || t > t1) continue;
    const next = prof.timeDeltas[i + 1] ?? 0; // the sample's weight: time until the next one
    const node = byId.get(prof.samples[i]);
    const f = node.callFrame;
    if (f.functionName === '(idle)') continue;
    const where = f.url ? `${f.url.replace(/^.*\/(dist|node_modules|bench)\//, '$1/').replace(/^node:/, '')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + next);
    total += next;
  }
  return { self, total };
}

function strace(pid, ms) {
  return new Promise((resolve) => {
    const out = join(tmpdir(), `narwhal-strace-${pid}-${Date.now()}.txt`);
    const child = execFile('strace', ['-c', '-f', '-o', out, '-p', String(pid)], () => {
      let text = '';
      try { text = readFileSync(out, 'utf8'); rmSync(out); } catch { /* none */ }
      resolve(text);
    });
    setTimeout(() => kill(child.pid, 'SIGINT'), ms);
  });
}

/** strace -c's table as { syscall: calls }. */
const parseStrace = (text) => Object.fromEntries([...text.matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/gm)]
  .filter((m) => m[2] !== 'total').map((m) => [m[2], Number(m[1])]));

/** Where a function's self time goes, by what it is part of. */
function category(key) {
  if (key.startsWith('(garbage collector)')) return 'GC';
  if (key.startsWith('(program)')) return '(program): native code outside JS (libuv, accept, parser callbacks)';
  if (/dist\/narwhal(-main|-worker)?\.js/.test(key)) return 'narwhal (dist/narwhal-*.js)';
  if (/bench\//.test(key)) return 'the app (bench/apps)';
  if (/child_process|cluster/.test(key)) return 'IPC and handle passing (child_process, cluster)';
  if (/_http_|internal\/http/.test(key)) return 'node:http';
  if (/ net:|internal\/net|stream_base/.test(key)) return 'node:net sockets';
  if (/internal\/streams/.test(key)) return 'streams';
  if (/ events:|task_queues|timers|async_hooks/.test(key)) return 'events, nextTick, timers';
  if (!/ \S+:\d+$/.test(key)) return 'native bindings (syscalls: writev, writeUtf8String = IPC/socket writes, close, ...)';
  return 'other Node internals';
}

for (const name of wanted) {
  const dir = mkdtempSync(join(tmpdir(), 'narwhal-prof-'));
  const server = await start(name, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval', '250']);
  const url = `http://127.0.0.1:${server.port}/`;
  const roles = new Map(treePids([server.pid]).map((p) => [p, p === server.pid ? 'master' : 'worker']));
  await wrk({ url, close }, 1);
  const cpu0 = cpuSnapshot([server.pid]);
  const t0 = Number(process.hrtime.bigint() / 1000n);
  const r = await wrk({ url, close }, seconds);
  const t1 = Number(process.hrtime.bigint() / 1000n);
  const cpu1 = cpuSnapshot([server.pid]);
  // The profiler's sample gaps are wall time (a preempted thread's wait counts): the CPU the
  // kernel accounted to each role over the same window is what its shares are scaled to.
  const realMs = new Map();
  for (const [pid, ms] of cpu1) {
    const role = roles.get(pid) ?? 'worker';
    realMs.set(role, (realMs.get(role) ?? 0) + ms - (cpu0.get(pid) ?? 0));
  }
  await server.stop();
  const perRole = new Map();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const pid = Number(f.split('.')[3]);
    const role = roles.get(pid) ?? (name === 'node' ? 'master' : 'worker');
    const { self, total } = selfTimes(join(dir, f), t0, t1);
    const agg = perRole.get(role) ?? { self: new Map(), total: 0, procs: 0 };
    for (const [k, v] of self) agg.self.set(k, (agg.self.get(k) ?? 0) + v);
    agg.total += total;
    agg.procs++;
    perRole.set(role, agg);
  }
  rmSync(dir, { recursive: true, force: true });
  console.log(`\n## ${name}: ${close ? 'Connection: close' : 'keep-alive'}, ${Math.round(r.rps)} req/s under the profiler, ${r.requests} requests in ${seconds} s`);
  for (const [role, agg] of perRole) {
    const real = (realMs.get(role) ?? 0) * 1000;
    const scale = agg.total > 0 ? real / agg.total : 0;
    const perReq = (us) => ((us * scale) / r.requests).toFixed(2);
    console.log(`\n${role} (${agg.procs} process${agg.procs > 1 ? 'es' : ''}): ${(real / r.requests).toFixed(1)} µs CPU per request (/proc, all threads; ` +
      `the profile saw ${(agg.total / r.requests).toFixed(1)} µs of JS-thread time, wall clock), split by the profile's self time:\n`);
    const cats = new Map();
    for (const [k, v] of agg.self) cats.set(category(k), (cats.get(category(k)) ?? 0) + v);
    console.log('| µs/req | share | category |\n|---:|---:|---|');
    for (const [k, v] of [...cats].sort((a, b) => b[1] - a[1])) console.log(`| ${perReq(v)} | ${((v / agg.total) * 100).toFixed(1)} % | ${k} |`);
    console.log('');
    console.log('| µs/req | share | function |\n|---:|---:|---|');
    for (const [k, v] of [...agg.self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`| ${perReq(v)} | ${((v / agg.total) * 100).toFixed(1)} % | \`${k}\` |`);
    }
    const own = [...agg.self].filter(([k]) => /dist\/narwhal(-main|-worker)?\.js/.test(k)).sort((a, b) => b[1] - a[1]).slice(0, 6);
    if (own.length) console.log(`\nnarwhal's own functions: ${own.map(([k, v]) => `\`${k.replace(/ dist\/narwhal(-main|-worker)?\.js/, '')}\` ${perReq(v)}`).join(', ')}`);
  }
  if (argv.includes('--strace')) {
    const counts = mkdtempSync(join(tmpdir(), 'narwhal-prof-counts-'));
    const served = () => readdirSync(counts).reduce((n, f) => n + (Number(readFileSync(join(counts, f), 'utf8')) || 0), 0);
    const plain = await start(name, [], { BENCH_COUNTS_DIR: counts });
    const pids = treePids([plain.pid]);
    const load = wrk({ url: `http://127.0.0.1:${plain.port}/`, close }, seconds);
    await sleep(500);
    const before = served();
    const traces = await Promise.all(pids.map((p) => strace(p, (seconds - 1.5) * 1000)));
    await sleep(250); // count.js flushes every 200 ms
    const reqs = served() - before;
    const r2 = await load;
    await plain.stop();
    rmSync(counts, { recursive: true, force: true });
    // With a connection per request, the accepting process's accept4 calls count the requests
    // exactly; with keep-alive, the app's own counts do.
    const all = traces.map(parseStrace);
    const accepts = all.reduce((n, c) => n + (c.accept4 ?? 0), 0);
    const per = close && accepts > 0 ? accepts : reqs;
    console.log(`\nsyscalls per request under strace -c -f (traced: ${Math.round(r2.rps)} req/s, so only counts compare; ${per} requests traced):\n`);
    pids.forEach((p, i) => {
      const reqs = per;
      const calls = all[i];
      const sum = Object.values(calls).reduce((a, b) => a + b, 0);
      const role = p === plain.pid ? (pids.length > 1 ? 'master' : 'process') : 'worker';
      console.log(`- ${role} ${p}: ${(sum / reqs).toFixed(2)} per request: ` +
        Object.entries(calls).sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => `${k} ${(v / reqs).toFixed(2)}`).join(', '));
    });
  }
}
