// The master's side of reliability, one promise per test: a worker stopped from outside loses
// nothing; connections a dead worker never received go to another; none waits forever for a
// worker; /metrics is exact at scrape time; a degraded pool is visible. See docs/reliability.md.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { join } from 'node:path';
import { FIXTURES, isAlive, killAll, request, runCli, sleep, tempApp, waitFor } from './helpers/server.mjs';
import { keepAliveLoad, probe } from './helpers/traffic.mjs';
import { metrics, poolSettled, readiness, startWithAdmin } from './reliability/common.mjs';

const APP = join(FIXTURES, 'pid.js');
test.after(killAll);

/** A raw keep-alive connection: ask() sends one GET and resolves its status, headers and body. */
function keepAlive(port) {
  const socket = net.connect(port, '127.0.0.1');
  let buffer = '';
  let waiting = null;
  socket.on('data', (d) => {
    buffer += d;
    const m = /^HTTP\/1\.1 (\d+)[^]*?\r\n\r\n([^]*?pid=\d+\n)/.exec(buffer);
    if (m && waiting) {
      buffer = buffer.slice(m[0].length);
      const w = waiting;
      waiting = null;
      w({ status: Number(m[1]), head: m[0], pid: Number(/pid=(\d+)/.exec(m[2])[1]) });
    }
  });
  socket.on('close', () => { if (waiting) waiting({ closed: true }); });
  socket.on('error', () => {});
  return {
    socket,
    ask: () => new Promise((resolve) => { waiting = resolve; socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); }),
  };
}

test('a worker TERMed from outside: its idle keep-alive connection still gets an answer, INFO, restarts{signal}, successor at once', async () => {
  const s = await startWithAdmin(['-w', '2', APP], { workers: 2 });
  const conn = keepAlive(s.port);
  const first = await conn.ask();
  process.kill(first.pid, 'SIGTERM');
  await s.waitForLog(new RegExp(`\\[INFO\\] Worker \\(pid:${first.pid}\\) is stopping: it received TERM from outside`));
  // The connection was idle when the TERM came: its next request is answered, with Connection: close.
  const second = await conn.ask();
  assert.is(second.status, 200);
  assert.is(second.pid, first.pid);
  assert.match(second.head, /connection: close/i);
  await waitFor(() => !isAlive(first.pid), 10_000, 'the TERMed worker to exit');
  await poolSettled(s, 2);
  assert.is((await metrics(s))['narwhal_worker_restarts_total{reason="signal"}'], 1);
  assert.not.match(s.log, /next start in|\[ERROR\]/);
  conn.socket.destroy();
  await s.stop();
});

test('a worker TERMed from outside while its app is still loading: INFO, restarts{signal}, replaced at once', async () => {
  // The app listens 3 s after it loads: until then the worker boots.
  const dir = tempApp({ 'app.js': "setTimeout(() => require('http').createServer((req, res) => res.end('pid=' + process.pid + '\\n')).listen(3000), 3000);\n" });
  const s = await startWithAdmin(['-w', '1', 'app.js'], { cwd: dir });
  await waitFor(() => s.workers().length === 1, 10_000, 'a booting worker');
  const [booting] = s.workers();
  await sleep(500);
  process.kill(booting, 'SIGTERM');
  await s.waitForLog(new RegExp(`\\[INFO\\] Worker \\(pid:${booting}\\) was sent SIGTERM from outside: replacing it`));
  await s.waitForReady(1, 15_000);
  assert.is((await request(s.port)).status, 200);
  assert.is((await metrics(s))['narwhal_worker_restarts_total{reason="signal"}'], 1);
  assert.not.match(s.log, /next start in|\[ERROR\]/);
  await s.stop();
});

test('TERM to the master and its workers at once (systemd KillMode=control-group): the workers serve through --shutdown-delay, 0 failed', async () => {
  const s = await startWithAdmin(['-w', '2', '--shutdown-delay', '5', APP], { workers: 2 });
  const workers = s.workers();
  const load = keepAliveLoad({ port: s.port, connections: 8 });
  await sleep(500);
  for (const pid of [s.pid, ...workers]) process.kill(pid, 'SIGTERM');
  const sentBefore = load.sent;
  await waitFor(async () => (await readiness(s)).code === 503, 5000, '/readyz 503');
  // A load balancer takes a while to notice: traffic goes on, within the delay.
  await sleep(2500);
  const sentAfter = load.sent - sentBefore;
  const result = await load.stop();
  assert.is(result.failed, 0, JSON.stringify(result.errors));
  assert.ok(sentAfter > 50, `${sentAfter} requests after the TERM`);
  // (A worker whose 'stopping' the master reads before its own TERM is replaced as stopped from
  // outside, which loses nothing either: which comes first is the kernel's choice.)
  assert.is((await s.exit).code, 0);
  assert.not.match(s.log, /\[ERROR\]/);
});

/**
 * SIGSTOPs one of two workers, sends 8 requests on fresh connections, SIGKILLs the stopped worker
 * after 500 ms: every request must still be answered 200 (the caller asserts by whom).
 */
async function eightRequestsWhileOneWorkerIsStoppedThenKilled(s) {
  const [stuck, other] = s.workers();
  process.kill(stuck, 'SIGSTOP');
  const answers = Promise.all(Array.from({ length: 8 }, () => probe({ port: s.port })));
  await sleep(500);
  process.kill(stuck, 'SIGKILL');
  const results = await answers;
  assert.equal(results.map((r) => r.status), Array(8).fill(200), JSON.stringify(results));
  return { stuck, other, results };
}

test('shared (the default): a worker that stops taking connections and is killed loses none; the other takes them from the queue', async () => {
  const s = await startWithAdmin(['-w', '2', APP], { workers: 2 });
  assert.match(s.log, /Using distribution: shared \(auto\)/);
  // A stopped worker accepts nothing: the connections stay in the socket's queue for the other.
  const { stuck, other, results } = await eightRequestsWhileOneWorkerIsStoppedThenKilled(s);
  assert.ok(results.every((r) => r.body.includes(`pid=${other}`)), 'all answered by the worker still running');
  await s.stop();
});

test('shared (the default): with no ready worker a connection waits in the queue and the next worker to be ready serves it', async () => {
  const s = await startWithAdmin(['-w', '1', APP], { workers: 1 });
  s.signal('SIGWINCH');
  await waitFor(() => s.workers().length === 0, 10_000, 'no workers');
  const waiting = probe({ port: s.port, timeoutMs: 15_000 });
  await sleep(1000);
  s.signal('SIGTTIN');
  assert.is((await waiting).status, 200);
  await s.stop();
});

test('round-robin: connections sent to a worker that dies before receiving them go to another worker', async () => {
  const s = await startWithAdmin(['-w', '2', '--distribution', 'round-robin', APP], { workers: 2 });
  // A stopped worker cannot take what the master sends it: the connections wait in the master.
  const { stuck, other, results } = await eightRequestsWhileOneWorkerIsStoppedThenKilled(s);
  assert.ok(results.every((r) => Number(/pid=(\d+)/.exec(r.body)[1]) !== stuck), 'none answered by the killed worker');
  assert.ok(results.some((r) => r.body.includes(`pid=${other}`)));
  await s.waitForLog(new RegExp(`Worker \\(pid:${stuck}\\) exited before it received [1-8] connection\\(s\\): handing them to other workers`));
  await s.stop();
});

test('round-robin, no ready worker: a connection waits for one, and is closed after --header-timeout rather than hang', async () => {
  const s = await startWithAdmin(['-w', '1', '--distribution', 'round-robin', '--header-timeout', '6', APP], { workers: 1 });
  s.signal('SIGWINCH');
  await waitFor(() => s.workers().length === 0, 10_000, 'no workers');
  const closed = await probe({ port: s.port, timeoutMs: 15_000 });
  assert.ok(closed.error && closed.error !== 'TIMEOUT', `closed, not hung: ${JSON.stringify(closed)}`);
  await s.waitForLog(/\[WARNING\] Closed 1 connection\(s\) that waited 6s for a ready worker/);
  // A worker that comes within the limit gets the waiting connection.
  const waiting = probe({ port: s.port, timeoutMs: 15_000 });
  await sleep(200);
  s.signal('SIGTTIN');
  assert.is((await waiting).status, 200);
  await s.stop();
});

test('/metrics counts every request answered before the scrape (asked at scrape time, not the last heartbeat)', async () => {
  const s = await startWithAdmin(['-w', '2', APP], { workers: 2 });
  for (let round = 1; round <= 3; round++) {
    for (let i = 0; i < 20; i++) await request(s.port);
    assert.is((await metrics(s))['narwhal_http_requests_total{code_class="2xx"}'], 20 * round);
  }
  await s.stop();
});

test('a pool below its target longer than --degraded-after: WARNING again and again, narwhal_pool_degraded, /readyz 200 with a degraded detail', async () => {
  // Every worker after the first dies soon after it boots: the lock the first one holds is taken.
  const dir = tempApp({
    'app.js': `const fs = require('fs');
try { fs.writeFileSync(__dirname + '/lock', String(process.pid), { flag: 'wx' }); } catch { setTimeout(() => process.exit(1), 100); }
module.exports = (req, res) => res.end('pid=' + process.pid + '\\n');`,
  });
  const s = await startWithAdmin(['-w', '2', '--degraded-after', '1', 'app.js'], { cwd: dir });
  await s.waitForLog(/\[WARNING\] Pool degraded: 1 of 2 workers ready for \d+s \(last failure: Worker \(pid:\d+\) exited with code 1!\)/, 15_000);
  const from = s.log.length;
  await s.waitForLog(/\[WARNING\] Pool degraded: 1 of 2 workers ready/, 10_000, from);
  const r = await readiness(s);
  assert.is(r.code, 200);
  assert.is(r.status, 'ready');
  assert.equal([r.degraded.ready, r.degraded.desired], [1, 2]);
  assert.match(r.degraded.lastFailure, /exited with code 1!/);
  assert.ok(r.degraded.seconds >= 1);
  assert.is((await metrics(s)).narwhal_pool_degraded, 1);
  assert.is((await request(s.port)).status, 200, 'the worker that is up serves');
  await s.stop();
});

test('a pool with no worker left: /readyz 503 (no ready workers) with the degraded detail; back to 200 once one serves', async () => {
  // The app serves a while, then dies, again and again (backing off 1 s, 2 s, 4 s ...).
  const dir = tempApp({ 'app.js': 'setTimeout(() => process.exit(1), 1500);\nmodule.exports = (req, res) => res.end("ok");' });
  const s = await startWithAdmin(['-w', '1', '--degraded-after', '1', 'app.js'], { cwd: dir, workers: 1 });
  const down = await waitFor(async () => { const r = await readiness(s); return r.code === 503 && r.degraded ? r : null; }, 15_000, '503 with a degraded detail');
  assert.is(down.status, 'no ready workers');
  assert.equal([down.degraded.ready, down.degraded.desired], [0, 1]);
  await waitFor(async () => (await readiness(s)).code === 200, 15_000, 'ready again while a worker serves');
  await s.stop();
});

test('header_timeout longer than request_timeout is refused: one line, exit 2', async () => {
  const r = await runCli(['--header-timeout', '90', '--request-timeout', '60', APP]);
  assert.is(r.code, 2);
  assert.is(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /header_timeout: 90s is longer than request_timeout \(60s\)/);
});

test.run();
