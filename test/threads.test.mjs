// --threads: N event loops per worker process (the process's own and N-1 worker_threads), each
// running its own copy of the app on the worker's listeners and supervised inside the process.
// What a user sees: every loop answers, a thread that throws or blocks is replaced without the
// other loops failing a request, HUP under load fails nothing, `ctl status` and /metrics show the
// threads, combinations that cannot work are refused in one line, real framework apps run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { app as testApp, assertReady } from './helpers/apps.mjs';
import { FIXTURES, killAll, reloadUnderLoad, request, runCli, sleep, startServer, tempApp, waitFor } from './helpers/server.mjs';

test.after(killAll);

const LOOPS_APP = `
const http = require('node:http');
const { threadId } = require('node:worker_threads');
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const me = 'pid=' + process.pid + ' thread=' + threadId;
  if (url.pathname === '/crash' && threadId > 0) {
    res.end(me + ' crashing\\n');
    setTimeout(() => { throw new Error('thread boom'); }, 20);
    return;
  }
  if (url.pathname === '/block' && threadId > 0) {
    res.end(me + ' blocking\\n');
    setTimeout(() => { for (;;); }, 20);
    return;
  }
  if (url.pathname === '/slow') return void setTimeout(() => res.end(me + '\\n'), Number(url.searchParams.get('ms')));
  res.end(me + '\\n');
}).listen(process.env.PORT || 3000);
`;

const threadOf = (body) => Number(/thread=(\d+)/.exec(body)?.[1]);
const pidOf = (body) => Number(/pid=(\d+)/.exec(body)?.[1]);

/** Fresh-connection GETs until `want` distinct worker_threads ids answered (bounded). */
async function threadsAnswering(port, want, path = '/') {
  const seen = new Set();
  for (let i = 0; i < 80 && seen.size < want; i++) seen.add(threadOf((await request(port, path)).body));
  return seen;
}

async function adminPort(s) {
  return Number((await s.waitForLog(/Admin server at: http:\/\/127\.0\.0\.1:(\d+)/))[1]);
}

async function metrics(port) {
  return (await request(port, '/metrics')).body;
}

/**
 * Keep-alive load where every connection remembers which event loop (threadId) last answered it,
 * so a failure is put down to the loop it happened on. Runs until stop() resolves.
 */
function trackedLoad(port, connections = 12) {
  const failures = [];
  const answeredBy = new Map();
  let running = true;
  const loops = Array.from({ length: connections }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let last = null;
    while (running) {
      const body = await new Promise((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: 5000 }, (res) => {
          let b = '';
          res.setEncoding('utf8');
          res.on('data', (c) => { b += c; });
          res.on('end', () => resolve(res.statusCode === 200 ? b : null));
          res.on('error', () => resolve(null));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => resolve(null));
      });
      if (body === null) {
        failures.push(last);
        last = null;
      } else {
        last = threadOf(body);
        answeredBy.set(last, (answeredBy.get(last) ?? 0) + 1);
      }
    }
    agent.destroy();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { failures, answeredBy };
    },
  };
}

test('-w 1 --threads 2: both event loops of the worker answer; ctl status and /metrics show each thread', async () => {
  const dir = tempApp({ 'app.js': LOOPS_APP });
  const sock = join(dir, 'ctl.sock');
  const s = await startServer(['-w', '1', '--threads', '2', '--admin-bind', '127.0.0.1:0', '--control-socket', sock, join(dir, 'app.js')], { workers: 1 });
  assert.match(s.log, /2 event loops per worker: --threads/);
  const [worker] = s.workers();
  const seen = await threadsAnswering(s.port, 2);
  assert.equal([...seen].length, 2, `threads that answered: ${[...seen]}`);
  assert.ok(seen.has(0), 'the process\'s own loop answers');

  const status = await waitFor(async () => {
    const out = (await runCli(['ctl', '--control-socket', sock, 'status'])).stdout;
    return /thread 1/.test(out) && out;
  }, 5000, 'ctl status with thread rows');
  assert.match(status, new RegExp(`^${worker}\\s+ready`, 'm'));
  assert.match(status, /^\s+thread 0\s+ready/m);
  assert.match(status, /^\s+thread 1\s+ready/m);
  const json = JSON.parse((await runCli(['ctl', '--control-socket', sock, 'status', '--json'])).stdout);
  assert.equal(json.workers[0].threads.map((t) => t.thread), [0, 1]);

  const text = await metrics(await adminPort(s));
  for (const thread of [0, 1]) {
    const m = new RegExp(`^narwhal_thread_requests_total\\{pid="${worker}",thread="${thread}"\\} (\\d+)`, 'm').exec(text);
    assert.ok(m && Number(m[1]) > 0, `thread ${thread}'s requests in /metrics:\n${text.split('\n').filter((l) => l.includes('thread')).join('\n')}`);
  }
  assert.match(text, new RegExp(`^narwhal_thread_heap_limit_bytes\\{pid="${worker}",thread="1"\\} \\d+`, 'm'));
  assert.is((await s.stop()).code, 0);
});

test('a thread that throws is replaced inside its process: 0 failed requests on the other loops, counted as a crash', async () => {
  const dir = tempApp({ 'app.js': LOOPS_APP });
  const s = await startServer(['-w', '1', '--threads', '3', '--admin-bind', '127.0.0.1:0', join(dir, 'app.js')], { workers: 1 });
  const [worker] = s.workers();
  const traffic = trackedLoad(s.port);
  await sleep(500);
  let crashed = null;
  for (let i = 0; i < 80 && crashed === null; i++) {
    const r = await request(s.port, '/crash');
    if (r.body.includes('crashing')) crashed = threadOf(r.body);
  }
  assert.ok(crashed, 'a thread took a /crash request');
  await s.waitForLog(/\[ERROR\] Thread \d of worker \(pid:\d+\) crashed \(a new thread replaces it\): uncaught Error: thread boom/);
  await sleep(1500);
  const { failures, answeredBy } = await traffic.stop();
  const elsewhere = failures.filter((t) => t !== null && t !== crashed);
  assert.equal(elsewhere, [], `failures on loops other than the crashed thread ${crashed}: ${elsewhere}`);
  assert.equal(s.workers(), [worker], 'the worker process lives on');
  // The replacement is a new thread (a new threadId) serving in the same process.
  const replaced = await threadsAnswering(s.port, 3);
  assert.ok([...replaced].some((t) => t > 0 && !answeredBy.has(t)) || [...answeredBy.keys()].some((t) => t > crashed), `a new thread serves: ${[...replaced]}`);
  const text = await metrics(await adminPort(s));
  assert.match(text, /^narwhal_worker_restarts_total\{reason="crash"\} 1$/m);
  assert.is((await s.stop()).code, 0);
});

test('a thread whose event loop is blocked past --timeout is terminated and replaced; the worker process serves on', async () => {
  const dir = tempApp({ 'app.js': LOOPS_APP });
  const s = await startServer(['-w', '1', '--threads', '2', '-t', '2', '--admin-bind', '127.0.0.1:0', join(dir, 'app.js')], { workers: 1 });
  const [worker] = s.workers();
  let blocked = false;
  for (let i = 0; i < 80 && !blocked; i++) blocked = (await request(s.port, '/block')).body.includes('blocking');
  assert.ok(blocked, 'a thread took a /block request');
  await s.waitForLog(/\[ERROR\] Thread 1 of worker \(pid:\d+\) was terminated: its event loop sent no heartbeat for --timeout/, 10000);
  assert.equal(s.workers(), [worker], 'the worker process was not killed');
  assert.not.match(s.log, /WORKER TIMEOUT/);
  await waitFor(async () => (await threadsAnswering(s.port, 2)).size === 2, 10000, 'both loops answering again');
  assert.match(await metrics(await adminPort(s)), /^narwhal_worker_restarts_total\{reason="timeout"\} 1$/m);
  assert.is((await s.stop()).code, 0);
});

test('a thread that exhausts its heap (--worker-heap-mb per event loop) is replaced, counted as memory', async () => {
  const dir = tempApp({ 'app.js': `const { threadId } = require('node:worker_threads');
const keep = [];
require('node:http').createServer((req, res) => {
  if (req.url === '/grow' && threadId > 0) { res.end('growing'); setTimeout(() => { for (;;) keep.push(new Array(1e5).fill(threadId)); }, 10); return; }
  res.end('pid=' + process.pid + ' thread=' + threadId);
}).listen(3000);
` });
  const s = await startServer(['-w', '1', '--threads', '2', '--worker-heap-mb', '64', '--admin-bind', '127.0.0.1:0', join(dir, 'app.js')], { workers: 1 });
  const [worker] = s.workers();
  let growing = false;
  for (let i = 0; i < 80 && !growing; i++) growing = (await request(s.port, '/grow')).body === 'growing';
  assert.ok(growing, 'a thread took a /grow request');
  await s.waitForLog(/\[ERROR\] Thread 1 of worker \(pid:\d+\) ran out of heap/, 15000);
  assert.equal(s.workers(), [worker], 'the worker process lives on');
  await waitFor(async () => (await threadsAnswering(s.port, 2)).size === 2, 10000, 'both loops answering again');
  assert.match(await metrics(await adminPort(s)), /^narwhal_worker_restarts_total\{reason="memory"\} 1$/m);
  assert.is((await s.stop()).code, 0);
});

test('-w 2 --threads 2: HUP under load replaces every worker, threads and all, with 0 failed requests', async () => {
  const s = await startServer(['-w', '2', '--threads', '2', join(FIXTURES, 'pid.js')], { workers: 2 });
  const { result } = await reloadUnderLoad(s, 2);
  assert.is(result.failed, 0, `failed: ${result.errors.slice(0, 5)}`);
  assert.ok(result.ok > 500, `served ${result.ok}`);
  assert.is(s.count(/Worker ready/g), 4);
  assert.is((await s.stop()).code, 0);
});

test('TERM with slow requests on every loop: each completes, then the worker and its threads exit 0', async () => {
  const dir = tempApp({ 'app.js': LOOPS_APP });
  const s = await startServer(['-w', '1', '--threads', '2', join(dir, 'app.js')], { workers: 1 });
  const slow = Array.from({ length: 6 }, () => request(s.port, '/slow?ms=1500'));
  await sleep(400);
  s.signal('SIGTERM');
  const answers = await Promise.all(slow);
  assert.equal(answers.map((r) => r.status), answers.map(() => 200));
  assert.ok(new Set(answers.map((r) => threadOf(r.body))).size >= 1);
  assert.is((await s.exit).code, 0);
});

test('--uv-threadpool sets the workers\' libuv pool (UV_THREADPOOL_SIZE), seen by every event loop; unset, the app sees none', async () => {
  const dir = tempApp({ 'app.js': `require('node:http').createServer((req, res) => res.end('uv=' + process.env.UV_THREADPOOL_SIZE + ' thread=' + require('node:worker_threads').threadId)).listen(3000);\n` });
  const s = await startServer(['-w', '1', '--threads', '2', '--uv-threadpool', '16', join(dir, 'app.js')], { workers: 1 });
  const bodies = new Set();
  for (let i = 0; i < 80 && bodies.size < 2; i++) bodies.add((await request(s.port, '/')).body);
  assert.equal([...bodies].map((b) => b.split(' ')[0]), ['uv=16', 'uv=16']);
  await s.stop();
  const plain = await startServer(['-w', '1', join(dir, 'app.js')], { workers: 1 });
  assert.match((await request(plain.port, '/')).body, /^uv=undefined /);
  await plain.stop();
});

test('--threads with round-robin or --sticky is refused in one line (exit 2)', async () => {
  for (const args of [['--distribution', 'round-robin'], ['--sticky']]) {
    const r = await runCli(['--threads', '2', ...args, join(FIXTURES, 'pid.js')]);
    assert.is(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, r.stderr);
    assert.match(lines[0], /invalid value for threads: 2 event loops per worker need distribution shared or reuseport/);
  }
});

test('an app with a native addon that is not context-aware is refused with --threads, naming the addon', async (ctx) => {
  const headers = join(dirname(process.execPath), '..', 'include', 'node');
  if (!existsSync(join(headers, 'node.h'))) return void console.log(`  (skipped: no Node headers at ${headers})`);
  const dir = tempApp({
    'legacy.cc': `#include <node.h>
namespace legacy {
void Hello(const v8::FunctionCallbackInfo<v8::Value>& args) { args.GetReturnValue().Set(v8::String::NewFromUtf8(args.GetIsolate(), "world").ToLocalChecked()); }
void Init(v8::Local<v8::Object> exports) { NODE_SET_METHOD(exports, "hello", Hello); }
NODE_MODULE(NODE_GYP_MODULE_NAME, Init)
}
`,
    'app.js': `const addon = require('./legacy.node');
require('node:http').createServer((req, res) => res.end(addon.hello())).listen(3000);
`,
  });
  execFileSync('g++', ['-std=c++20', '-shared', '-fPIC', '-DNODE_GYP_MODULE_NAME=legacy', `-I${headers}`, join(dir, 'legacy.cc'), '-o', join(dir, 'legacy.node')]);
  // The same app serves with one event loop per process.
  const one = await startServer(['-w', '1', join(dir, 'app.js')], { workers: 1 });
  assert.is((await request(one.port, '/')).body, 'world');
  await one.stop();
  const r = await runCli(['-b', '127.0.0.1:0', '-w', '1', '--threads', '2', join(dir, 'app.js')], { timeoutMs: 20000 });
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stderr, new RegExp(`the app loads the native addon ${join(dir, 'legacy.node').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, which is not context-aware`));
  assert.match(r.stderr, /run with --threads 1/);
});

// Real framework apps, unmodified, on 2 event loops: both loops serve them, TERM runs the app's
// shutdown code in each loop.
assertReady();
for (const id of ['express', 'fastify', 'nextjs', 'nest']) {
  const a = testApp(id);
  test(`${a.framework} (${id}): narwhal -w 1 --threads 2 serves it on both event loops; TERM exits 0`, async () => {
    const env = { ...a.env };
    const shutdownLog = a.shutdownLogEnv ? join(tempApp({}), 'shutdown.log') : null;
    if (shutdownLog) env[a.shutdownLogEnv] = shutdownLog;
    const s = await startServer(['-w', '1', '--threads', '2', '--admin-bind', '127.0.0.1:0', a.entry], { cwd: a.dir, env, workers: 1, timeoutMs: 30000 });
    const [worker] = s.workers();
    const admin = await adminPort(s);
    const sent = { framework: id, n: Math.floor(Math.random() * 1e9) };
    const echo = await request(s.port, '/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sent) });
    assert.ok(echo.status >= 200 && echo.status < 300, `POST /echo: ${echo.status} ${echo.body}`);
    assert.equal(JSON.parse(echo.body), sent);
    const served = await waitFor(async () => {
      const r = await request(s.port, a.gets[0]);
      assert.is(r.status, 200, r.body);
      assert.is(pidOf(r.body), worker);
      const text = await metrics(admin);
      const count = (t) => Number(new RegExp(`^narwhal_thread_requests_total\\{pid="${worker}",thread="${t}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      return count(0) > 0 && count(1) > 0 && [count(0), count(1)];
    }, 20000, 'requests served by both event loops');
    assert.ok(served);
    assert.is((await s.stop()).code, 0, s.log.slice(-2000));
    if (shutdownLog) {
      const lines = readFileSync(shutdownLog, 'utf8').trim().split('\n');
      assert.equal(lines.map(pidOf), [worker, worker], `the app's ${a.shutdownHook} ran in each event loop: ${lines}`);
    }
  });
}

test.run();
