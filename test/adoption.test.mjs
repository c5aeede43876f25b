// Apps that listen themselves, served unmodified: the server an app listens on is adopted (it
// never binds; narwhal's binds feed it), an exported http.Server is served as it is, extra
// servers are shared through the master, the app's shutdown code runs after the requests in
// flight, and narwhal's guarantees hold on all of them. The apps are plain node:http, written
// as for `node app.js`; the real frameworks are in frameworks.test.mjs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import { readFileSync, existsSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { childPids, killAll, rawExchange, request, runCli, sleep, startServer, tempApp, waitFor } from './helpers/server.mjs';
import { makeCertificate } from './helpers/certs.mjs';

test.after(killAll);

/** Whether nothing accepts on 127.0.0.1:PORT. */
const refused = (port) => new Promise((resolve) => {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('connect', () => { socket.destroy(); resolve(false); });
  socket.on('error', () => resolve(true));
});

/** A port nothing listens on now, for apps that hard-code one. */
async function unusedPort() {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    if (await refused(port)) return port;
  }
}

/** Distinct worker PIDs seen answering `n` requests on fresh connections. */
/**
 * The workers that answer, over up to `n` requests (a connection each). With the shared socket
 * the kernel picks the worker, so a few requests may all land on one: ask until `want` workers
 * have answered, or `n` requests were sent.
 */
async function answering(port, n = 60, path = '/', want = 2) {
  const pids = new Set();
  for (let i = 0; i < n && pids.size < want; i++) pids.add(JSON.parse((await request(port, path)).body).pid);
  return pids;
}

const HARD_CODED = await unusedPort();
const EXTRA = await unusedPort();

const dir = tempApp({
  // The plain Node app: listens on a hard-coded port, reports what its server sees.
  'listens.js': `
const http = require('http');
const order = [];
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => res.end(JSON.stringify({
    pid: process.pid, method: req.method, body, address: server.address(), listening: server.listening, order,
    headers: req.headers, distinct: req.headersDistinct, remote: req.socket.remoteAddress, encrypted: Boolean(req.socket.encrypted),
  })));
});
server.on('listening', () => order.push('listening'));
server.listen(${HARD_CODED}, () => order.push('callback'));
order.push('after listen()');
`,
  // Exports a handler and listens too (no require.main guard): served once, no stray socket.
  'both.js': `
const http = require('http');
const handler = (req, res) => res.end(JSON.stringify({ pid: process.pid }));
module.exports = handler;
http.createServer(handler).listen(${HARD_CODED});
`,
  // Listens after an async bootstrap, as NestJS and Next.js do.
  'later.js': `
const http = require('http');
setTimeout(() => http.createServer((req, res) => res.end(JSON.stringify({ pid: process.pid }))).listen(process.env.PORT || 3000), 300);
`,
  // An exported server that never listens, with listeners of its own and its own timeouts.
  'exported.js': `
const http = require('http');
const server = http.createServer((req, res) => res.end(JSON.stringify({ pid: process.pid, url: req.url })));
server.on('checkContinue', (req, res) => {
  res.writeContinue();
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => res.end('continued: ' + body));
});
server.on('upgrade', (req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: shout\\r\\nConnection: Upgrade\\r\\n\\r\\nHELLO'));
server.on('connect', (req, socket) => socket.end('HTTP/1.1 200 Connection Established\\r\\n\\r\\ntunnel to ' + req.url));
server.keepAliveTimeout = 300;
module.exports = server;
`,
  // A second server on another port (a metrics endpoint), and one on an ephemeral port.
  'extra.js': `
const http = require('http');
http.createServer((req, res) => res.end(JSON.stringify({ pid: process.pid, server: 'app' }))).listen(3000);
http.createServer((req, res) => res.end(JSON.stringify({ pid: process.pid, server: 'metrics' }))).listen(${EXTRA});
http.createServer(() => {}).listen(0);
`,
  // Shutdown code of the usual kinds, each recording that it ran (and in which worker).
  'shutdown.js': `
const fs = require('fs');
const http = require('http');
const record = (what) => fs.appendFileSync(process.env.EVENTS, process.pid + ' ' + what + '\\n');
const server = http.createServer((req, res) => {
  if (req.url === '/slow') return void setTimeout(() => { record('slow answered'); res.end('slow'); }, 800);
  if (req.url === '/close') { server.close(); return void res.end('closing'); }
  res.end(JSON.stringify({ pid: process.pid }));
});
server.on('close', () => record('server close'));
process.on('SIGTERM', () => {
  record('SIGTERM listener');
  server.close(() => { record('close callback'); process.exit(0); });
});
server.listen(3000);
`,
  // A factory returning { app, close }.
  'factory.js': `
const fs = require('fs');
exports.create = async () => ({
  app: (req, res) => res.end(JSON.stringify({ pid: process.pid })),
  close: async () => fs.appendFileSync(process.env.EVENTS, process.pid + ' factory close\\n'),
});
`,
  'empty.js': 'module.exports = {};\n',
  // A node:cluster script: forks in the primary, listens in the workers; binds UDP too.
  'cluster-script.js': `
const cluster = require('cluster');
const dgram = require('dgram');
const http = require('http');
if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
} else {
  const udp = dgram.createSocket('udp4');
  udp.bind(0, '127.0.0.1');
  http.createServer((req, res) => res.end(JSON.stringify({ pid: process.pid, worker: cluster.worker.id, udp: udp.address().port > 0 }))).listen(8080);
}
`,
  // UDP beside HTTP: a bound socket that echoes, and one that sends without binding first.
  'udp.js': `
const dgram = require('dgram');
const http = require('http');
const echo = dgram.createSocket('udp4');
echo.on('message', (msg, from) => echo.send(msg, from.port, from.address));
echo.bind(0);
const sender = dgram.createSocket('udp4');
let heard = null;
sender.on('message', (msg) => { heard = String(msg); });
sender.send('hello from ' + process.pid, Number(process.env.UDP_SINK), '127.0.0.1');
http.createServer((req, res) => res.end(JSON.stringify({ pid: process.pid, echoPort: echo.address().port, heard }))).listen(3000);
`,
});
const app = (name) => join(dir, name);

test('the server an app listens on (a hard-coded port) is adopted: served on narwhal\'s bind, nothing else binds', async () => {
  const s = await startServer(['-w', '2', app('listens.js')], { workers: 2 });
  const r = JSON.parse((await request(s.port, '/', { method: 'POST', body: 'hello' })).body);
  assert.is(r.method, 'POST');
  assert.is(r.body, 'hello');
  // address() reports what narwhal serves; listening is true; listen()'s callback and
  // 'listening' ran, after the code that followed listen(), as Node does.
  assert.equal(r.address, { address: '127.0.0.1', family: 'IPv4', port: s.port });
  assert.is(r.listening, true);
  assert.equal(r.order, ['after listen()', 'listening', 'callback']);
  assert.ok(await refused(HARD_CODED), `nothing listens on the port the app asked for (${HARD_CODED})`);
  assert.equal([...await answering(s.port)].sort(), s.workers());
  // One INFO line, from the master, names what was asked and what is served.
  assert.match(s.log, new RegExp(`\\[INFO\\] Serving .*listens\\.js: an http\\.Server it listens on \\(it asked for port ${HARD_CODED}\\), served at http://127\\.0\\.0\\.1:${s.port}`));
  assert.is(s.count(/Serving .*listens\.js/), 1);
  assert.is((await s.stop()).code, 0);
});

test('an app that exports a handler and listens too is served once: no stray socket, no crash loop', async () => {
  const s = await startServer(['-w', '2', app('both.js')], { workers: 2 });
  await sleep(500);
  assert.is(s.count(/Booting worker/), 2);
  assert.ok(await refused(HARD_CODED));
  assert.is((await answering(s.port)).size, 2);
  assert.is((await s.stop()).code, 0);
});

test('an app that listens after an async bootstrap is adopted when it does', async () => {
  const s = await startServer(['-w', '1', app('later.js')], { workers: 1 });
  assert.is((await answering(s.port, 2)).size, 1);
  assert.is((await s.stop()).code, 0);
});

for (const mode of ['round-robin', 'shared']) {
  test(`${mode}: an exported http.Server is served as it is: its checkContinue, upgrade and connect listeners and its timeouts work`, async () => {
    // narwhal's keep-alive is long: only the app's own 300 ms can close an idle connection soon.
    const s = await startServer(['-w', '1', '--distribution', mode, '--keep-alive', '30', app('exported.js')], { workers: 1 });
    assert.is(JSON.parse((await request(s.port, '/x')).body).url, '/x');
    const continued = await rawExchange(s.port, 'POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc', 1500);
    assert.match(continued.data, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    assert.match(continued.data, /continued: abc$/);
    const upgraded = await rawExchange(s.port, 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n');
    assert.match(upgraded.data, /^HTTP\/1\.1 101 Switching Protocols\r\n[\s\S]*HELLO$/);
    const tunnel = await rawExchange(s.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.match(tunnel.data, /^HTTP\/1\.1 200 Connection Established\r\n\r\ntunnel to example\.com:443$/);
    const idle = await rawExchange(s.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 3000);
    assert.ok(idle.closed, 'the app\'s keepAliveTimeout closed the idle connection');
    assert.match(s.log, /Serving .*exported\.js: export "default" \(an http\.Server\)/);
    assert.is((await s.stop()).code, 0);
  });
}

test('CONNECT to an app without a "connect" listener is answered 405 and the worker keeps serving', async () => {
  const s = await startServer(['-w', '1', app('listens.js')], { workers: 1 });
  const r = await rawExchange(s.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  assert.match(r.data, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
  assert.ok(r.closed);
  assert.is((await request(s.port)).status, 200);
  await s.stop();
});

test('an extra server on another port is shared through the master, logged once; listen(0) binds in the worker', async () => {
  const s = await startServer(['-w', '2', app('extra.js')], { workers: 2 });
  assert.is(JSON.parse((await request(s.port)).body).server, 'app');
  await waitFor(async () => !(await refused(EXTRA)), 5000, `the extra server on ${EXTRA}`);
  const seen = new Set();
  for (let i = 0; i < 10; i++) {
    const r = JSON.parse((await request(EXTRA)).body);
    assert.is(r.server, 'metrics');
    seen.add(r.pid);
  }
  for (const pid of seen) assert.ok(s.workers().includes(pid), 'answered by a worker');
  assert.is(s.count(new RegExp(`The app also listens on http://\\S+:${EXTRA}: bound by the master and shared by the workers`)), 1);
  assert.is(s.count(/The app listens on an ephemeral port \(port 0\): bound by this worker, not served by narwhal/), 2);
  await sleep(300);
  assert.is(s.count(/Booting worker/), 2, 'no crash loop');
  assert.is((await s.stop()).code, 0);
  assert.ok(await refused(EXTRA), 'the extra socket is closed with the master');
});

test('on TERM the app\'s shutdown code runs after the request in flight: its SIGTERM listener, then its server\'s close', async () => {
  const events = join(dir, 'events-term.log');
  const s = await startServer(['-w', '1', app('shutdown.js')], { workers: 1, env: { EVENTS: events } });
  const [worker] = s.workers();
  const slow = request(s.port, '/slow');
  await sleep(200);
  s.signal('SIGTERM');
  const r = await slow;
  assert.is(r.body, 'slow');
  assert.is((await s.exit).code, 0);
  assert.equal(readFileSync(events, 'utf8').trim().split('\n'), [
    `${worker} slow answered`, `${worker} SIGTERM listener`, `${worker} server close`, `${worker} close callback`,
  ]);
});

test('HUP and max-requests run the old worker\'s shutdown code too; a factory\'s { app, close } is closed', async () => {
  const events = join(dir, 'events-hup.log');
  const s = await startServer(['-w', '1', '--max-requests', '3', app('shutdown.js')], { workers: 1, env: { EVENTS: events } });
  const [first] = s.workers();
  s.signal('SIGHUP');
  await waitFor(() => existsSync(events) && readFileSync(events, 'utf8').includes(`${first} close callback`), 10000, 'the old worker\'s shutdown');
  await s.waitForReady(2);
  const [second] = s.workers();
  for (let i = 0; i < 3; i++) await request(s.port);
  await waitFor(() => readFileSync(events, 'utf8').includes(`${second} close callback`), 10000, 'the recycled worker\'s shutdown');
  await s.stop();

  const factoryEvents = join(dir, 'events-factory.log');
  const f = await startServer(['-w', '1', `${app('factory.js')}:create()`], { workers: 1, env: { EVENTS: factoryEvents } });
  const [pid] = f.workers();
  assert.is((await f.stop()).code, 0);
  assert.is(readFileSync(factoryEvents, 'utf8'), `${pid} factory close\n`);
});

test('an app that closes the server narwhal serves: that worker is replaced, the pool keeps serving', async () => {
  const events = join(dir, 'events-close.log');
  const s = await startServer(['-w', '2', app('shutdown.js')], { workers: 2, env: { EVENTS: events } });
  const r = await request(s.port, '/close');
  assert.is(r.body, 'closing');
  await s.waitForLog(/The app closed the server narwhal serves: this worker stops taking connections and is replaced/);
  await s.waitForReady(3);
  await waitFor(() => s.workers().length === 2, 10000, 'two workers again');
  assert.is((await answering(s.port)).size, 2);
  assert.not.match(s.log, /\[ERROR\]/);
  await s.stop();
});

test('a worker sent TERM from outside: the master stops routing to it, replaces it at once, logs it at INFO', async () => {
  const s = await startServer(['-w', '2', app('listens.js')], { workers: 2 });
  const [victim] = s.workers();
  process.kill(victim, 'SIGTERM');
  await s.waitForLog(new RegExp(`Worker \\(pid:${victim}\\) is stopping: it received TERM`));
  await s.waitForReady(3);
  await waitFor(() => !s.workers().includes(victim), 10000, 'the worker gone');
  assert.not.match(s.log, /\[ERROR\]/);
  assert.not.match(s.log, /next start in/);
  await s.stop();
});

test('narwhal\'s guarantees on an adopted server: limits, forwarded headers, access log, metrics, max-requests', async () => {
  const access = join(dir, 'access.log');
  const s = await startServer(['-w', '1', '--limit-request-line', '200', '--forwarded-allow-ips', '10.9.9.9',
    '--access-logfile', access, '--admin-bind', '127.0.0.1:0', '--max-requests', '3', app('listens.js')], { workers: 1 });
  const [first] = s.workers();
  assert.is((await request(s.port, `/${'a'.repeat(300)}`)).status, 414);
  const r = JSON.parse((await request(s.port, '/', { headers: { 'x-forwarded-for': '6.6.6.6', 'x-kept': 'yes' } })).body);
  assert.is(r.headers['x-forwarded-for'], undefined, 'forwarded header from an untrusted peer removed');
  assert.is(r.distinct['x-forwarded-for'], undefined, 'from headersDistinct too');
  assert.is(r.headers['x-kept'], 'yes');
  await waitFor(() => existsSync(access) && /"GET \/ HTTP\/1\.1" 200/.test(readFileSync(access, 'utf8')), 5000, 'the access log line');
  assert.match(readFileSync(access, 'utf8'), /"GET \/a+ HTTP\/1\.1" 414/);
  const admin = Number(/Admin server at: http:\/\/127\.0\.0\.1:(\d+)/.exec(s.log)[1]);
  await request(s.port);
  await waitFor(async () => /narwhal_http_requests_total\{code_class="2xx"\} [2-9]/.test((await request(admin, '/metrics')).body), 5000, '2xx counted');
  await request(s.port);
  await waitFor(() => s.workers().length === 1 && s.workers()[0] !== first, 10000, 'recycled after max-requests');
  await s.stop();
});

test('TLS termination (--certfile) and the PROXY protocol on an adopted server', async () => {
  const { cert, key, ca } = makeCertificate(dir);
  const s = await startServer(['-w', '1', '--certfile', cert, '--keyfile', key, '--proxy-protocol', app('listens.js')], { workers: 1 });
  const body = await new Promise((resolve, reject) => {
    const raw = net.connect(s.port, '127.0.0.1', () => {
      raw.write('PROXY TCP4 192.0.2.7 127.0.0.1 5555 443\r\n');
      const req = https.request({ createConnection: () => tls.connect({ socket: raw, ca, host: '127.0.0.1' }), path: '/', headers: { host: 'x' } }, (res) => {
        let b = '';
        res.on('data', (c) => { b += c; });
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
      req.end();
    });
    raw.on('error', reject);
  });
  const r = JSON.parse(body);
  assert.is(r.encrypted, true, 'the app sees a TLS connection');
  assert.is(r.remote, '192.0.2.7', 'the client address from the PROXY preamble');
  assert.match(s.log, /Serving .*: an http\.Server it listens on .*served at https:\/\/127\.0\.0\.1/);
  await s.stop();
});

test('a node:cluster script runs unchanged: workers take the worker branch (cluster.isWorker), nothing forks, UDP binds', async () => {
  const s = await startServer(['-w', '2', app('cluster-script.js')], { workers: 2 });
  const ids = new Set();
  // The shared socket leaves the choice of worker to the kernel: ask until both have answered.
  for (let i = 0; i < 40 && ids.size < 2; i++) {
    const r = JSON.parse((await request(s.port)).body);
    assert.ok(s.workers().includes(r.pid));
    assert.is(r.udp, true);
    ids.add(r.worker);
  }
  assert.is(ids.size, 2, 'each worker has its own cluster.worker.id');
  for (const pid of s.workers()) assert.equal(childPids(pid), [], `worker ${pid} forked nothing`);
  assert.is((await s.stop()).code, 0);
});

/** Sends `text` to 127.0.0.1:port from a fresh socket; resolves to the reply ('' if none within 2 s). */
function udpExchange(port, text) {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const done = (reply) => { clearTimeout(timer); socket.close(); resolve(reply); };
    const timer = setTimeout(() => done(''), 2000);
    socket.on('message', (msg) => done(String(msg)));
    socket.send(text, port, '127.0.0.1');
  });
}

test('an app with UDP sockets (bound, and sending unbound) serves HTTP with 2 workers; each worker\'s sockets work', async () => {
  const sink = dgram.createSocket('udp4');
  const hellos = new Set();
  sink.on('message', (msg, from) => {
    hellos.add(String(msg));
    sink.send('ack', from.port, from.address);
  });
  await new Promise((resolve) => sink.bind(0, '127.0.0.1', resolve));
  try {
    const s = await startServer(['-w', '2', app('udp.js')], { workers: 2, env: { UDP_SINK: String(sink.address().port) } });
    const pids = s.workers();
    await waitFor(() => hellos.size === 2, 5000, 'a datagram from each worker');
    const seen = new Map();
    await waitFor(async () => {
      const r = JSON.parse((await request(s.port)).body);
      if (r.heard === 'ack') seen.set(r.pid, r);
      return seen.size === 2;
    }, 5000, 'both workers answering, each having heard the reply to its unbound send');
    for (const [pid, r] of seen) {
      assert.ok(pids.includes(pid));
      assert.is(await udpExchange(r.echoPort, `ping ${pid}`), `ping ${pid}`);
    }
    assert.equal(s.workers(), pids, 'no worker was replaced');
    assert.is((await s.stop()).code, 0);
  } finally {
    sink.close();
  }
});

test('boot messages say what was found and what to do', async () => {
  const empty = await runCli(['-b', '127.0.0.1:0', '-w', '1', app('empty.js')]);
  assert.is(empty.code, 3);
  assert.match(empty.stderr, /empty\.js: found an empty module\.exports \(or default export\), and the app has not called listen\(\)/);
  const check = await runCli(['--check-config', app('exported.js')]);
  assert.is(check.code, 0, check.stderr);
  assert.match(check.stdout, /narwhal serves export "default" \(an http\.Server\)/);
  const listens = await runCli(['--check-config', app('listens.js')]);
  assert.is(listens.code, 0, listens.stderr);
  assert.match(listens.stdout, /an http\.Server it listens on/);
  assert.ok(await refused(HARD_CODED));
});

test.run();
