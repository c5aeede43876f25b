// The supervised pool: distribution across workers, scaling signals, replacement of crashed
// and hung workers, no orphans, bind errors before any fork.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import net from 'node:net';
import { readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { FIXTURES, killAll, request, startServer, runCli, waitFor, sleep, isAlive, childPids } from './helpers/server.mjs';

const APP = join(FIXTURES, 'pid.js');
test.after(killAll);

async function pidsAnswering(port, n = 12) {
  const pids = new Set();
  for (let i = 0; i < n; i++) pids.add(/pid=(\d+)/.exec((await request(port)).body)[1]);
  return [...pids].map(Number).sort((a, b) => a - b);
}

// reuseport (a socket per worker) needs Node >= 22.12; the machine's Node 20 runs the other two.
const [major, minor] = process.versions.node.split('.').map(Number);
const reusePort = major > 22 || (major === 22 && minor >= 12);
for (const mode of ['round-robin', 'shared', ...(reusePort ? ['reuseport'] : [])]) {
  test(`${mode}: two workers both receive new connections`, async () => {
    const s = await startServer(['-w', '2', '--distribution', mode, APP], { workers: 2 });
    const workers = s.workers();
    assert.is(workers.length, 2);
    if (mode === 'round-robin') {
      assert.equal(await pidsAnswering(s.port, 6), workers);
    } else {
      // The kernel picks the acceptor: keep connections open so each accept goes elsewhere.
      const seen = new Set();
      const agents = [];
      for (let i = 0; i < 40 && seen.size < 2; i++) {
        const socket = net.connect(s.port, '127.0.0.1');
        agents.push(socket);
        const body = await new Promise((resolve) => {
          let data = '';
          socket.on('data', (d) => { data += d; if (data.includes('pid=')) resolve(data); });
          socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        });
        seen.add(Number(/pid=(\d+)/.exec(body)[1]));
      }
      agents.forEach((a) => a.destroy());
      assert.equal([...seen].sort((a, b) => a - b), workers);
    }
    assert.is((await s.stop()).code, 0);
  });
}

test('TTIN adds a worker, TTOU removes one', async () => {
  const s = await startServer(['-w', '2', APP], { workers: 2 });
  s.signal('SIGTTIN');
  await s.waitForReady(3);
  await waitFor(() => s.workers().length === 3, 5000, '3 workers');
  // Signals of one kind do not queue in the kernel: wait for each to take effect.
  s.signal('SIGTTOU');
  await waitFor(() => s.workers().length === 2, 10000, '2 workers');
  s.signal('SIGTTOU');
  await waitFor(() => s.workers().length === 1, 10000, '1 worker');
  assert.match(s.log, /Handling signal: ttin/);
  assert.match(s.log, /Handling signal: ttou/);
  assert.is((await request(s.port)).status, 200);
  await s.stop();
});

test('a killed worker is replaced', async () => {
  const s = await startServer(['-w', '2', APP], { workers: 2 });
  const [victim] = s.workers();
  process.kill(victim, 'SIGKILL');
  await waitFor(() => s.workers().length === 2 && !s.workers().includes(victim), 5000, 'replacement');
  await s.waitForReady(3);
  assert.match(s.log, new RegExp(`Worker \\(pid:${victim}\\) was sent SIGKILL`));
  assert.is((await request(s.port)).status, 200);
  await s.stop();
});

test('a worker that keeps dying right after boot is restarted with backoff, not in a loop', async () => {
  const { tempApp } = await import('./helpers/server.mjs');
  const dir = tempApp({ 'app.js': 'setTimeout(() => process.exit(1), 200);\nmodule.exports = (req, res) => res.end("ok");' });
  const s = await startServer(['-w', '1', 'app.js'], { cwd: dir, workers: 1 });
  await s.waitForLog(/died \d+ ms after it started: next start in 1s/, 5000);
  await s.waitForLog(/next start in 2s/, 6000);
  assert.ok(s.count(/Booting worker/) <= 4, `backoff: ${s.count(/Booting worker/)} boots in ~4 s`);
  assert.is((await s.stop()).code, 0);
});

test('a worker whose event loop is blocked past --timeout is killed and replaced', async () => {
  const s = await startServer(['-w', '1', '-t', '1', APP], { workers: 1 });
  const [hung] = s.workers();
  request(s.port, '/spin', { timeoutMs: 6000 }).catch(() => {});
  await s.waitForLog(new RegExp(`\\[CRITICAL\\] WORKER TIMEOUT \\(pid:${hung}\\)`), 6000);
  await s.waitForReady(2);
  assert.not.ok(s.workers().includes(hung));
  assert.is((await request(s.port)).status, 200);
  await s.stop();
});

test('when the master is SIGKILLed, no worker outlives it by 2 s', async () => {
  const s = await startServer(['-w', '2', APP], { workers: 2 });
  const workers = s.workers();
  s.signal('SIGKILL');
  await s.exit;
  await sleep(2000);
  for (const pid of workers) assert.not.ok(isAlive(pid), `worker ${pid} still alive`);
});

test('a port in use is one line, exit 1, no worker started', async () => {
  const blocker = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const port = blocker.address().port;
  const r = await runCli(['-b', `127.0.0.1:${port}`, APP]);
  blocker.close();
  assert.is(r.code, 1);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`cannot bind 127\\.0\\.0\\.1:${port}: address already in use`));
  assert.not.match(r.stderr, /Booting worker/);
});

test('unix socket listener, pidfile written and removed', async () => {
  const sock = join(tmpdir(), `narwhal-${process.pid}.sock`);
  const pidfile = join(tmpdir(), `narwhal-${process.pid}.pid`);
  const s = await startServer(['-w', '1', '-b', `unix:${sock}`, '-p', pidfile, APP], { workers: 1 });
  assert.is(Number(readFileSync(pidfile, 'utf8')), s.pid);
  const body = await new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let data = '';
    c.on('data', (d) => { data += d; });
    c.on('end', () => resolve(data));
    c.on('error', reject);
    c.write('GET / HTTP/1.0\r\n\r\n');
  });
  assert.match(body, /^HTTP\/1\.1 200 OK/);
  assert.is((await s.stop()).code, 0);
  assert.not.ok(existsSync(pidfile), 'pidfile removed');
});

test('WINCH stops the workers but keeps the master; TTIN brings one back', async () => {
  const s = await startServer(['-w', '2', APP], { workers: 2 });
  s.signal('SIGWINCH');
  await waitFor(() => s.workers().length === 0, 10000, 'no workers');
  assert.ok(isAlive(s.pid));
  s.signal('SIGTTIN');
  await s.waitForReady(3);
  assert.is((await request(s.port)).status, 200);
  await s.stop();
});

test('USR1 does not kill anything', async () => {
  const s = await startServer(['-w', '1', APP], { workers: 1 });
  const before = s.workers();
  s.signal('SIGUSR1');
  await sleep(500);
  assert.equal(s.workers(), before);
  assert.is((await request(s.port)).status, 200);
  await s.stop();
});

test('process titles name the master and workers', async () => {
  const s = await startServer(['-w', '1', APP], { workers: 1 });
  const title = (pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '');
  assert.match(title(s.pid), /^narwhal: master \[.*pid\.js\]/);
  assert.match(title(s.workers()[0]), /^narwhal: worker \[.*pid\.js\]/);
  await s.stop();
});

test.run();
