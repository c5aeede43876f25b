// The framework matrix (issue 8): real apps of real frameworks, unmodified (test/apps/, built by
// test/setup.mjs), each run as `narwhal -w 2 APP`. Each app answers a GET and echoes a POST,
// both workers answer, nothing listens where the app asked to (narwhal serves its own bind),
// and TERM stops it gracefully; NestJS's onApplicationShutdown runs; Socket.IO clients connect
// over WebSocket and get their acks.
//
// The same assertions run against plain `node APP` and a node:cluster script, which validates
// the test itself: FRAMEWORKS_RUNNER=node|cluster npx uvu test frameworks
import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPS, assertReady, installedVersion, requireFromApps } from './helpers/apps.mjs';
import { listeningSockets } from './helpers/listening.mjs';
import { RUNNERS, killRunners, runnerFromEnv } from './helpers/runners.mjs';
import { ROOT, isAlive, killAll, request, tempApp, waitFor } from './helpers/server.mjs';

assertReady();
const runner = runnerFromEnv();
const WORKERS = 2;
const expected = runner.workerCount(WORKERS);
const { io: connect } = requireFromApps('socket.io-client');

/** PROMISE's value, or null after MS (the timer is cleared, so it keeps no process alive). */
function within(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((resolve) => { timer = setTimeout(resolve, ms, null); })]).finally(() => clearTimeout(timer));
}

const pidOf = (body) => Number(/pid=(\d+)/.exec(body)?.[1]);
const sorted = (pids) => [...pids].sort((a, b) => a - b);

/** GETs PATH on fresh connections until EXPECTED distinct PIDs answered (at most 40 tries). */
async function pidsAnswering(port, path) {
  const seen = new Set();
  for (let i = 0; i < 40 && seen.size < expected; i++) {
    const r = await request(port, path);
    assert.is(r.status, 200, `GET ${path}: ${r.body}`);
    seen.add(pidOf(r.body));
  }
  return sorted(seen);
}

/**
 * Socket.IO clients (WebSocket only) connected one at a time until every worker in `workers` has
 * one (at least `min`, at most 40): which worker takes a new connection is the kernel's choice
 * with the shared socket, so a fixed number of clients could all land on one.
 */
async function withClientsOnEveryWorker(port, workers, min, fn) {
  const sockets = [];
  const owners = new Set();
  try {
    while (sockets.length < 40 && (sockets.length < min || workers.some((pid) => !owners.has(pid)))) {
      const s = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 10000 });
      sockets.push(s);
      await new Promise((resolve, reject) => {
        s.once('connect', resolve);
        s.once('connect_error', (err) => reject(new Error(`socket.io connect: ${err.message}`)));
      });
      owners.add((await s.timeout(10000).emitWithAck('hello', 'who')).pid);
    }
    return await fn(sockets);
  } finally {
    for (const s of sockets) s.close();
  }
}

test('the README\'s framework table lists exactly the apps, versions and commands this file runs', () => {
  const doc = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const lines = doc.split('\n');
  const header = lines.findIndex((l) => l.startsWith('| Framework | Version tested | Run with narwhal |'));
  assert.ok(header >= 0, 'the table header');
  const table = lines.slice(header + 2);
  const rows = table.slice(0, table.findIndex((l) => !l.startsWith('|'))).map((l) => l.split('|').slice(1, 4).map((c) => c.trim()));
  const want = APPS.map((a) => [a.framework, a.pkg ? installedVersion(a.pkg) : 'built-in', `\`${RUNNERS.narwhal.command(a, WORKERS)}\``]);
  assert.equal(rows, want);
});

test.run();

for (const app of APPS) {
  const s = suite(`${app.framework} (${app.id}) with ${runner.name}`);
  const ctx = { server: null, workers: [], shutdownLog: null };
  const server = () => {
    if (!ctx.server) throw new Error(`${app.id} was not started (see the first test of this suite)`);
    return ctx.server;
  };

  s(`starts: ${runner.command(app, WORKERS)}`, async () => {
    const env = {};
    if (app.shutdownLogEnv) env[app.shutdownLogEnv] = ctx.shutdownLog = join(tempApp({}), 'shutdown.log');
    ctx.server = await runner.start(app, { workers: WORKERS, env });
    ctx.workers = sorted(await waitFor(() => { const w = ctx.server.workers(); return w.length === expected && w; }, 10000, `${expected} workers`));
  });

  for (const path of app.gets) {
    s(`GET ${path} answers from a worker`, async () => {
      const r = await request(server().port, path);
      assert.is(r.status, 200, r.body);
      assert.ok(ctx.workers.includes(pidOf(r.body)), `pid in ${JSON.stringify(r.body.slice(0, 200))} is one of the workers ${ctx.workers}`);
    });
  }

  s('POST /echo returns the JSON body it was sent', async () => {
    const sent = { framework: app.id, n: Math.floor(Math.random() * 1e9), text: 'héllo' };
    const r = await request(server().port, '/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sent) });
    assert.ok(r.status >= 200 && r.status < 300, `status ${r.status}: ${r.body}`);
    assert.equal(JSON.parse(r.body), sent);
  });

  s(`both workers answer (fresh connections)`, async () => {
    assert.equal(await pidsAnswering(server().port, app.gets[0]), ctx.workers);
  });

  if (runner.adopts) {
    s(`nothing listens but ${runner.name}'s bind${typeof app.port === 'number' ? ` (the app asked for ${app.port})` : ''}`, async () => {
      const held = listeningSockets([server().pid, ...ctx.workers]);
      assert.equal(held.filter((l) => l.port !== server().port), [], `listening sockets other than :${server().port}: ${JSON.stringify(held)}`);
      if (typeof app.port === 'number') assert.not.ok(held.some((l) => l.port === app.port), `something holds :${app.port}`);
    });
  }

  if (app.kind === 'socket.io') {
    s('20 Socket.IO clients (WebSocket) connect, emit and get acks from both workers', async () => {
      const acks = await withClientsOnEveryWorker(server().port, ctx.workers, 20, (sockets) => Promise.all(sockets.map((c, i) => c.timeout(10000).emitWithAck('hello', `client ${i}`))));
      assert.equal(acks.map((a) => a.reply), acks.map((_, i) => `hello client ${i}`));
      assert.equal(sorted(new Set(acks.map((a) => a.pid))), ctx.workers);
    });
  }

  if (app.broadcasts) {
    const name = 'a broadcast from a client on one worker reaches the clients of every worker (cluster adapter)';
    if (runner.relaysClusterAdapter) {
      s(name, async () => {
        await withClientsOnEveryWorker(server().port, ctx.workers, 6, async (sockets) => {
          const owners = await Promise.all(sockets.map((c) => c.timeout(10000).emitWithAck('hello', 'who')));
          assert.equal(sorted(new Set(owners.map((o) => o.pid))), ctx.workers, 'clients on every worker');
          const received = sockets.map((c) => new Promise((resolve) => c.once('shouted', resolve)));
          const { pid: from } = await sockets[0].timeout(10000).emitWithAck('shout', 'to everyone');
          const got = await within(Promise.all(received), 10000);
          assert.ok(got, 'every client got the broadcast within 10 s');
          assert.equal(got.map((g) => g.message), sockets.map(() => 'to everyone'));
          assert.ok(got.every((g) => g.from === from));
        });
      });
    } else {
      s.skip(`${name}: ${runner.name}: ${runner.noRelay}`, () => {});
    }
  }

  s('TERM stops it gracefully', async () => {
    const srv = server();
    srv.terminate();
    const exit = await within(srv.exit, 20000);
    assert.ok(exit, `still running 20 s after TERM:\n${srv.output().slice(-3000)}`);
    assert.ok(runner.stoppedGracefully(exit), `exit ${JSON.stringify(exit)}:\n${srv.output().slice(-3000)}`);
    await waitFor(() => ctx.workers.every((pid) => !isAlive(pid)), 5000, `workers ${ctx.workers} to exit`);
  });

  if (app.shutdownLogEnv) {
    s(`the app's shutdown hook (${app.shutdownHook}) ran on TERM, once in each worker`, () => {
      const lines = existsSync(ctx.shutdownLog) ? readFileSync(ctx.shutdownLog, 'utf8').trim().split('\n').filter(Boolean) : [];
      assert.equal(sorted(lines.map(pidOf)), ctx.workers, `lines: ${JSON.stringify(lines)}`);
      assert.ok(lines.every((l) => l.includes('signal=SIGTERM')), lines.join('\n'));
    });
  }

  s.after(async () => {
    killRunners();
    await killAll();
  });
  s.run();
}

