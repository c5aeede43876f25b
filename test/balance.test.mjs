// The shared socket's balance: keep-alive connections that landed on one worker are spread over
// the pool (idle ones handed over, unseen by the client), with requests in flight throughout.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import net from 'node:net';
import { FIXTURES, killAll, request, startServer, waitFor, sleep } from './helpers/server.mjs';

const APP = join(FIXTURES, 'pid.js');
test.after(killAll);

/** One keep-alive connection that sends a request, reads its whole response, and so on. */
class KeepAlive {
  constructor(port) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.buffer = '';
    this.waiting = null;
    this.closed = false;
    this.socket.on('data', (d) => { this.buffer += d; this.deliver(); });
    this.socket.on('close', () => { this.closed = true; this.waiting?.reject(new Error(`connection closed (got: ${JSON.stringify(this.buffer)})`)); });
    this.socket.on('error', () => {});
  }

  opened() {
    return new Promise((resolve, reject) => { this.socket.once('connect', resolve); this.socket.once('error', reject); });
  }

  deliver() {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0 || !this.waiting) return;
    const length = Number(/content-length: (\d+)/i.exec(this.buffer.slice(0, end))?.[1] ?? -1);
    if (length < 0 || this.buffer.length < end + 4 + length) return;
    const head = this.buffer.slice(0, end);
    const body = this.buffer.slice(end + 4, end + 4 + length);
    this.buffer = this.buffer.slice(end + 4 + length);
    const { resolve } = this.waiting;
    this.waiting = null;
    resolve({ head, body });
  }

  /** GET /, resolving to the pid of the worker that answered. */
  get(path = '/') {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no response in 5 s')), 5000);
      this.waiting = {
        resolve: ({ head, body }) => { clearTimeout(timer); assert.match(head, /^HTTP\/1\.1 200/); resolve(Number(/pid=(\d+)/.exec(body)[1])); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      };
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    });
  }

  close() {
    this.socket.destroy();
  }
}

/** Opens `n` connections to a one-worker pool (so all land on it), then a second worker joins. */
async function connectionsOnOneWorker(args, n) {
  const s = await startServer(['-w', '1', ...args, APP], { workers: 1 });
  const conns = [];
  for (let i = 0; i < n; i++) conns.push(new KeepAlive(s.port));
  await Promise.all(conns.map((c) => c.opened()));
  const first = new Set(await Promise.all(conns.map((c) => c.get())));
  assert.is(first.size, 1, 'one worker served every connection');
  s.signal('SIGTTIN');
  await s.waitForReady(2);
  return { s, conns, first: [...first][0] };
}

/** Per worker pid: how many of `conns` it answers now. */
async function holders(conns) {
  const count = new Map();
  for (const pid of await Promise.all(conns.map((c) => c.get()))) count.set(pid, (count.get(pid) ?? 0) + 1);
  return count;
}

test('idle keep-alive connections on one worker are spread when another joins; each connection keeps serving', async () => {
  const { s, conns } = await connectionsOnOneWorker(['--admin-bind', '127.0.0.1:0'], 40);
  let count;
  await waitFor(async () => {
    count = await holders(conns);
    return count.size === 2 && Math.min(...count.values()) >= 18;
  }, 8000, 'the 40 connections spread over both workers');
  assert.is([...count.values()].reduce((a, b) => a + b, 0), 40);
  assert.match(s.log, /Balancing connections \(\d+: 40, \d+: 0\): 20 from worker \d+/);
  // Nothing was lost on the way: every connection still answers, none was closed.
  await holders(conns);
  assert.ok(conns.every((c) => !c.closed));
  // /metrics: each worker's connections, and how many were moved.
  const admin = Number((await s.waitForLog(/Admin server at: http:\/\/127\.0\.0\.1:(\d+)/))[1]);
  let text = '';
  await waitFor(async () => {
    text = (await request(admin, '/metrics')).body;
    const held = [...text.matchAll(/^narwhal_worker_connections\{pid="\d+"\} (\d+)$/gm)].map((m) => Number(m[1]));
    return held.length === 2 && Math.min(...held) >= 18 && held.reduce((a, b) => a + b, 0) === 40;
  }, 5000, `each worker's connections in /metrics (${text.split('\n').filter((l) => l.includes('connections')).join(' ')})`);
  assert.ok(Number(/^narwhal_connections_balanced_total (\d+)$/m.exec(text)[1]) >= 18);
  for (const c of conns) c.close();
  await s.stop();
});

test('connections handed over while every connection sends requests back to back: no request fails', async () => {
  const { s, conns } = await connectionsOnOneWorker([], 32);
  const served = new Map();
  let stop = false;
  let failed = 0;
  const loops = conns.map(async (c) => {
    while (!stop) {
      try {
        const pid = await c.get();
        served.set(pid, (served.get(pid) ?? 0) + 1);
      } catch (err) {
        failed++;
        throw err;
      }
    }
  });
  await sleep(3000);
  stop = true;
  await Promise.all(loops);
  assert.is(failed, 0);
  assert.ok(conns.every((c) => !c.closed), 'no connection was closed');
  const now = await holders(conns);
  assert.is(now.size, 2, `both workers hold connections: ${JSON.stringify([...now])}`);
  assert.ok(Math.min(...now.values()) >= 12, `the spread: ${JSON.stringify([...now])}`);
  for (const c of conns) c.close();
  await s.stop();
});

test('a connection in the middle of a request is not handed over', async () => {
  const { s, conns, first } = await connectionsOnOneWorker([], 20);
  // Half a request head on every connection: the parser has read part of it.
  for (const c of conns) c.socket.write('GET / HTTP/1.1\r\nHo');
  await sleep(1500);
  for (const c of conns) c.socket.write('st: x\r\n\r\n');
  const pids = await Promise.all(conns.map((c) => new Promise((resolve, reject) => {
    c.waiting = { resolve: ({ body }) => resolve(Number(/pid=(\d+)/.exec(body)[1])), reject };
    c.deliver();
  })));
  assert.ok(pids.every((pid) => pid === first), 'each half-read request was answered by the worker that read it');
  for (const c of conns) c.close();
  await s.stop();
});

test('--balance-connections off: connections stay where they landed', async () => {
  const { s, conns, first } = await connectionsOnOneWorker(['--balance-connections', 'off'], 20);
  await sleep(1500);
  const count = await holders(conns);
  assert.equal([...count.keys()], [first]);
  assert.not.match(s.log, /Balancing connections/);
  for (const c of conns) c.close();
  await s.stop();
});

test.run();
