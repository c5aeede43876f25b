// The control socket and `narwhal ctl`: status (text and JSON), scale, incr/decr, reload,
// reopen-logs and stop against a running master; the socket is mode 0600 and off by default.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { FIXTURES, killAll, request, runCli, startServer, tempApp, waitFor } from './helpers/server.mjs';

test.after(killAll);
const APP = join(FIXTURES, 'pid.js');
const ctl = (args, opts) => runCli(['ctl', ...args], opts);

let s;
let sock;

test.before(async () => {
  sock = join(tempApp({}), 'ctl.sock');
  s = await startServer(['-w', '2', '--control-socket', sock, APP], { workers: 2 });
});

test.after(async () => { await s?.stop(); });

test('the control socket is a unix socket of mode 0600', () => {
  const st = statSync(sock);
  assert.ok(st.isSocket());
  assert.is((st.mode & 0o777).toString(8), '600');
});

test('status lists every worker pid with state, age, requests, RSS and lag, and the target', async () => {
  for (let i = 0; i < 4; i++) await request(s.port, '/');
  const workers = s.workers();
  // Heartbeats carry RSS and request counts to the master.
  await waitFor(async () => {
    const j = JSON.parse((await ctl(['--control-socket', sock, 'status', '--json'])).stdout);
    return j.workers.reduce((n, w) => n + w.requests, 0) >= 4 && j.workers.every((w) => w.rss_bytes > 0);
  }, 5000, 'heartbeats with requests and RSS');
  const text = await ctl(['--control-socket', sock, 'status']);
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^master ${s.pid}: running, target 2 workers, shared`));
  assert.match(text.stdout, /^PID +STATE +AGE +REQUESTS +CONNS +RSS +LAG$/m);
  for (const pid of workers) assert.match(text.stdout, new RegExp(`^${pid} +ready +\\d+s +\\d+ +\\d+ +\\d+\\.\\d MB +\\d+\\.\\d ms$`, 'm'));
  const json = JSON.parse((await ctl(['--control-socket', sock, 'status', '--json'])).stdout);
  assert.is(json.master.pid, s.pid);
  assert.is(json.master.target, 2);
  assert.equal(json.workers.map((w) => w.pid).sort(), [...workers].sort());
  for (const w of json.workers) {
    assert.equal(Object.keys(w).sort(), ['age_s', 'connections', 'cpu_s', 'heap_limit_bytes', 'heap_used_bytes', 'in_flight', 'lag_s', 'pid', 'requests', 'retiring', 'rss_bytes', 'state']);
    assert.is(w.state, 'ready');
    assert.ok(w.rss_bytes > 1e6);
    assert.ok(w.heap_used_bytes > 0 && w.heap_used_bytes < w.heap_limit_bytes, `heap ${w.heap_used_bytes} of ${w.heap_limit_bytes}`);
    assert.ok(w.cpu_s > 0, 'CPU time');
  }
  assert.is(json.workers.reduce((n, w) => n + w.requests, 0), 4);
  assert.equal(Object.keys(json).sort(), ['events', 'master', 'settings', 'workers']);
  assert.is(json.settings.workers, 2);
  assert.is(json.master.node, process.version);
  assert.equal(json.master.restarts, { crash: 0, timeout: 0, max_requests: 0, memory: 0, reload: 0, signal: 0 });
});

test('scale 3 gives 3 workers; incr and decr move the target by one; scale 0 is refused', async () => {
  const scaled = await ctl(['--control-socket', sock, 'scale', '3']);
  assert.is(scaled.code, 0, scaled.stderr);
  assert.is(scaled.stdout, 'target: 3 workers\n');
  await waitFor(() => s.workers().length === 3, 10000, '3 workers');
  await s.waitForReady(3);
  const json = JSON.parse((await ctl(['--control-socket', sock, 'status', '--json'])).stdout);
  assert.is(json.master.target, 3);
  assert.is(json.workers.length, 3);
  assert.is((await ctl(['--control-socket', sock, 'incr'])).stdout, 'target: 4 workers\n');
  assert.is((await ctl(['--control-socket', sock, 'decr'])).stdout, 'target: 3 workers\n');
  const zero = await ctl(['--control-socket', sock, 'scale', '0']);
  assert.is(zero.code, 1);
  assert.match(zero.stderr, /^narwhal ctl: scale: expected a number of workers from 1 to 1024, got 0\n$/);
  assert.is((await ctl(['--control-socket', sock, 'scale', '2'])).code, 0);
  await waitFor(() => s.workers().length === 2, 10000, 'back to 2 workers');
});

test('reload replaces every worker, successor first; reopen-logs answers', async () => {
  const before = s.workers();
  const r = await ctl(['--control-socket', sock, 'reload']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^reloading/);
  await waitFor(() => s.workers().length === 2 && s.workers().every((p) => !before.includes(p)), 15000, 'all replaced');
  assert.is((await request(s.port, '/')).status, 200);
  const logs = await ctl(['--control-socket', sock, 'reopen-logs']);
  assert.is(logs.code, 0);
  assert.match(s.log, /Control: reopen-logs/);
});

test('mistakes: a bad command is a usage error (exit 2); no master there is exit 1', async () => {
  const bad = await ctl(['--control-socket', sock, 'scale', 'many']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /scale needs a number of workers: scale N\nusage: narwhal ctl/);
  const unknown = await ctl(['--control-socket', sock, 'restart']);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command restart/);
  const none = await ctl(['status'], { cwd: tempApp({}) });
  assert.is(none.code, 2);
  assert.match(none.stderr, /no control socket: give --control-socket PATH/);
  const gone = await ctl(['--control-socket', join(tempApp({}), 'nothing.sock'), 'status']);
  assert.is(gone.code, 1);
  assert.match(gone.stderr, /cannot reach the master: no socket at .*nothing\.sock/);
});

test('the socket path comes from the config file too; a second master cannot take a live socket', async () => {
  const dir = tempApp({ 'narwhal.config.json': JSON.stringify({ control_socket: sock }) });
  const r = await ctl(['status'], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^master ${s.pid}:`));
  const second = await runCli(['-w', '1', '-b', '127.0.0.1:0', '--control-socket', sock, APP]);
  assert.is(second.code, 1);
  assert.match(second.stderr, /cannot create the control socket .*: another narwhal master is listening on it/);
  assert.ok(existsSync(sock), "the running master's socket is untouched");
});

test('stop drains and exits 0, and removes the socket; a stale socket file is replaced', async () => {
  const r = await ctl(['--control-socket', sock, 'stop']);
  assert.is(r.code, 0);
  assert.is(r.stdout, 'stopping gracefully\n');
  assert.is((await s.exit).code, 0);
  assert.not.ok(existsSync(sock), 'socket removed');
  // A socket file left by a process that was SIGKILLed while listening: nothing listens any more.
  const holder = spawn(process.execPath, ['-e', 'require("net").createServer().listen(process.argv[1], () => console.log("listening"))', sock]);
  await new Promise((res) => holder.stdout.once('data', res));
  holder.kill('SIGKILL');
  await new Promise((res) => holder.once('exit', res));
  assert.ok(statSync(sock).isSocket(), 'the stale socket file is there');
  const t = await startServer(['-w', '1', '--control-socket', sock, APP], { workers: 1 });
  const status = await ctl(['--control-socket', sock, 'status', '--json']);
  assert.is(JSON.parse(status.stdout).master.pid, t.pid);
  const quick = await ctl(['--control-socket', sock, 'stop', '--quick']);
  assert.is(quick.stdout, 'stopping now (quick)\n');
  assert.is((await t.exit).code, 0);
});

test('off by default: no --control-socket, no socket', async () => {
  const dir = tempApp({});
  const t = await startServer(['-w', '1', APP], { workers: 1, cwd: dir });
  assert.not.match(t.log, /Control socket/);
  await t.stop();
});

test.run();
