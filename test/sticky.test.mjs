// --sticky with real Socket.IO (test/apps, pinned): an unmodified server in the listen() form
// with the default transports (long-polling first), 4 workers. With --sticky every client
// connects and gets its ack; without it, most cannot (the option is what makes the difference).
// With @socket.io/cluster-adapter's one line, a broadcast from one worker reaches the clients of
// every worker, the master relaying as the adapter's setupPrimary() would. During a HUP the
// sessions of the draining workers end with them and their clients reconnect to live workers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { killAll, runCli, sleep, startServer, waitFor } from './helpers/server.mjs';
import { app, assertReady, requireFromApps } from './helpers/apps.mjs';

test.after(killAll);

const PLAIN = app('socketio');
const BROADCASTS = app('socketio-cluster-adapter');
assertReady([PLAIN, BROADCASTS]);
const { io } = requireFromApps('socket.io-client');

/** A client with the default transports; resolves once connected, or rejects after `ms`. */
function connect(port, { reconnection = false, ms = 8000 } = {}) {
  const socket = io(`http://127.0.0.1:${port}`, { reconnection, reconnectionDelay: 200, reconnectionDelayMax: 1000, timeout: ms });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.close(); reject(new Error('connect timed out')); }, ms);
    socket.once('connect', () => { clearTimeout(timer); resolve(socket); });
    socket.once('connect_error', (err) => {
      if (reconnection) return;
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
  });
}

/** Emits `hello` and resolves with the ack ({ reply, pid }). */
const hello = (socket, ms = 5000) => socket.timeout(ms).emitWithAck('hello', 'narwhal');

/** N clients each connect and get an ack: how many did, and which workers acked. */
async function connectAndAck(port, n) {
  const results = await Promise.allSettled(Array.from({ length: n }, async () => {
    const socket = await connect(port);
    try {
      // A few round trips: each new HTTP connection of the session must reach the same worker.
      let ack;
      for (let i = 0; i < 3; i++) ack = await hello(socket);
      return ack.pid;
    } finally {
      socket.close();
    }
  }));
  const ok = results.filter((r) => r.status === 'fulfilled');
  return { ok: ok.length, pids: new Set(ok.map((r) => r.value)) };
}

test('--sticky, 4 workers, default transports: 50 of 50 clients connect, emit and get their ack, on every worker', async () => {
  const s = await startServer(['-w', '4', '--sticky', PLAIN.main], { workers: 4, cwd: PLAIN.dir });
  const { ok, pids } = await connectAndAck(s.port, 50);
  assert.is(ok, 50);
  assert.is(pids.size, 4, 'new sessions spread over the workers');
  assert.not.match(s.log, /\[ERROR\]/);
  assert.is((await s.stop()).code, 0);
});

test('without --sticky the same server loses most sessions ("Session ID unknown"), as before', async () => {
  const s = await startServer(['-w', '4', PLAIN.main], { workers: 4, cwd: PLAIN.dir });
  const { ok } = await connectAndAck(s.port, 10);
  assert.ok(ok <= 5, `${ok} of 10 connected without --sticky`);
  await s.stop();
});

test('with the cluster adapter, a broadcast from one worker reaches the clients of every worker', async () => {
  const s = await startServer(['-w', '4', '--sticky', BROADCASTS.main], { workers: 4, cwd: BROADCASTS.dir });
  const clients = [];
  try {
    for (let i = 0; i < 12; i++) {
      const socket = await connect(s.port);
      socket.pid = (await hello(socket)).pid;
      clients.push(socket);
    }
    assert.is(new Set(clients.map((c) => c.pid)).size, 4, 'clients on all 4 workers');
    const heard = clients.map((c) => new Promise((resolve) => c.once('shouted', resolve)));
    const { pid: from } = await clients[0].timeout(5000).emitWithAck('shout', 'hi all');
    const messages = await Promise.race([Promise.all(heard), sleep(5000).then(() => null)]);
    assert.ok(messages, 'every client heard the broadcast');
    for (const m of messages) assert.equal(m, { message: 'hi all', from });
  } finally {
    for (const c of clients) c.close();
  }
  await s.stop();
});

test('HUP under Socket.IO load: every client is connected again, to a live worker, within seconds', async () => {
  const s = await startServer(['-w', '4', '--sticky', '--graceful-timeout', '3', PLAIN.main], { workers: 4, cwd: PLAIN.dir });
  const clients = [];
  try {
    for (let i = 0; i < 20; i++) clients.push(await connect(s.port, { reconnection: true }));
    const before = new Set(s.workers());
    s.signal('SIGHUP');
    // Four new workers, the old ones gone.
    await s.waitForReady(8, 30000);
    await waitFor(() => s.workers().every((pid) => !before.has(pid)), 30000, 'the old workers gone');
    const start = Date.now();
    await waitFor(async () => {
      const acks = await Promise.allSettled(clients.map((c) => (c.connected ? hello(c, 1000) : Promise.reject(new Error('down')))));
      return acks.every((a) => a.status === 'fulfilled' && !before.has(a.value.pid));
    }, 15000, 'every client acked by a new worker');
    const reconnected = Date.now() - start;
    console.log(`  (HUP: 20 clients connected again ${reconnected} ms after the old workers exited)`);
  } finally {
    for (const c of clients) c.close();
  }
  assert.not.match(s.log, /\[ERROR\]/);
  await s.stop();
});

test('--sticky with another distribution mode is refused: one line, exit 2', async () => {
  const r = await runCli(['--sticky', '--distribution', 'shared', '-b', '127.0.0.1:0', PLAIN.main]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /^narwhal: error: invalid value for sticky: it needs distribution round-robin/);
  assert.is(r.stderr.trim().split('\n').length, 1);
});

test.run();
