// Security probes (docs/security.md): each one does what an outside client, a local user or the
// app itself would do to get past a trust boundary, and checks it does not. Clients connect on
// 127.0.0.0/8; a source address other than 127.0.0.1 (127.0.0.2) stands in for an untrusted
// peer, since the defaults trust loopback proxies only (127.0.0.1, ::1). Tests that need root
// (-u nobody, another user's directory) print one SKIP line without it (helpers/needs.mjs).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { makeCertificate } from './helpers/certs.mjs';
import { runnable } from './helpers/needs.mjs';
import { FIXTURES, killAll, request, runCli, sleep, startServer, tempApp, waitFor } from './helpers/server.mjs';
import { importSource } from './helpers/unit.mjs';

test.after(killAll);

const ECHO = join(FIXTURES, 'echo.js');
const ROOT = process.getuid() === 0;
const NOBODY = 65534;
/** False, with one SKIP line, when not root (in CI a failure: everything runs there). */
const asRoot = (name) => runnable(import.meta.url, name, { root: true });
/** A directory `nobody` owns (0755), as a worker running as nobody could plant files in. */
function nobodysDirectory(path) {
  mkdirSync(path, { mode: 0o755 });
  chownSync(path, NOBODY, NOBODY);
  return path;
}
const UNTRUSTED = '127.0.0.2';

/** A temp app readable by any user (workers may run as nobody). */
function openApp(files) {
  const dir = tempApp(files);
  chmodSync(dir, 0o755);
  return dir;
}

/** Whether a TCP port on 127.0.0.1 refuses connections. */
const refused = (port, host = '127.0.0.1') => new Promise((resolve) => {
  const s = net.connect(port, host);
  s.once('connect', () => { s.destroy(); resolve(false); });
  s.once('error', () => resolve(true));
});

/** Whether a unix socket answers a connect. */
const answers = (path) => new Promise((resolve) => {
  const s = net.connect(path);
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

/** Sends `bytes` from `localAddress`, collects the reply until close or `ms`. */
function exchange(port, bytes, { ms = 2000, localAddress = '127.0.0.1' } = {}) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const chunks = [];
    let closed = false;
    const finish = () => { clearTimeout(timer); socket.destroy(); resolve({ data: Buffer.concat(chunks).toString('latin1'), closed }); };
    const timer = setTimeout(finish, ms);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => { closed = true; finish(); });
    socket.write(bytes);
  });
}

// ---- 1. privilege separation: the app cannot make the root master bind for it ---------------

/** An app that serves on 3000 and asks for one extra address, reporting how that went. */
const extraApp = (target) => `
const http = require('http');
http.createServer((req, res) => res.end('app ' + process.pid)).listen(3000);
const extra = http.createServer((req, res) => res.end('extra'));
extra.on('error', (err) => console.log('EXTRA-ERROR ' + err.code));
extra.listen(${JSON.stringify(target)}, () => console.log('EXTRA-LISTENING'));
`;

test('1. -u nobody: an extra listen() on a privileged port is refused, not bound by the root master', async () => {
  if (!asRoot('extra listen() on a privileged port')) return;
  const dir = openApp({ 'app.js': extraApp(1023) });
  const s = await startServer(['-w', '1', '-u', 'nobody', join(dir, 'app.js')], { workers: 1 });
  await s.waitForLog(/The app asked to listen on :1023: refused: workers run as uid 65534.*port 1023/);
  await waitFor(() => /EXTRA-ERROR EACCES/.test(s.stdout), 5000, 'the app told EACCES');
  assert.ok(await refused(1023), 'nothing listens on 1023');
  assert.is((await request(s.port)).status, 200, 'the worker keeps serving');
  await s.stop();
});

test('1. -u nobody: an extra unix socket in a root-only directory is refused; a live socket is never taken over', async () => {
  if (!asRoot('extra unix socket in a root-only directory')) return;
  const base = openApp({});
  const secret = join(base, 'root-only');
  mkdirSync(secret, { mode: 0o700 });
  const dir = openApp({ 'app.js': extraApp(join(secret, 'app.sock')) });
  const s = await startServer(['-w', '1', '-u', 'nobody', join(dir, 'app.js')], { workers: 1 });
  await s.waitForLog(/The app asked to listen on unix:\S+root-only\/app\.sock: refused: workers run as uid 65534.*may not enter/);
  assert.not.ok(existsSync(join(secret, 'app.sock')), 'no socket made in the root-only directory');
  await s.stop();

  // A live root-owned socket in a directory anyone may write: the app asks for its path.
  const shared = join(base, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o777);
  const path = join(shared, 'root.sock');
  const live = net.createServer((c) => { c.on('error', () => {}); c.end('root service\n'); }).listen(path);
  await new Promise((r) => live.once('listening', r));
  try {
    const dir2 = openApp({ 'app.js': extraApp(path) });
    const s2 = await startServer(['-w', '1', '-u', 'nobody', join(dir2, 'app.js')], { workers: 1 });
    await s2.waitForLog(/The app asked to listen on unix:\S+root\.sock: refused: a live socket is at that path/);
    assert.ok(await answers(path), 'the root service still answers at its path');
    assert.is(statSync(path).uid, 0);
    await s2.stop();
    // Not as a bind either: the master refuses to start on a live socket rather than unlink it.
    const s3 = await startServer(['-w', '1', '-b', `unix:${path}`, ECHO]);
    const { code } = await s3.exit;
    assert.is(code, 1);
    assert.match(s3.log, /cannot bind unix:\S+root\.sock: address already in use/);
    assert.ok(await answers(path), 'still answers after the refused bind');
  } finally {
    live.close();
  }
});

test('1. -u nobody: the unix socket bound for the app is the worker\'s; a symlink swapped in for it before the chown is not followed', async () => {
  if (!asRoot('the worker\'s unix socket')) return;
  const base = openApp({ 'victim': 'root\'s own\n' });
  const run = nobodysDirectory(join(base, 'run'));
  const path = join(run, 'app.sock');
  const s = await startServer(['-w', '1', '-u', 'nobody', join(openApp({ 'app.js': extraApp(path) }), 'app.js')], { workers: 1 });
  await waitFor(() => /EXTRA-LISTENING/.test(s.stdout), 5000, 'the extra listener');
  assert.ok(lstatSync(path).isSocket());
  assert.is(lstatSync(path).uid, NOBODY, 'the socket is the worker\'s, as if it had bound it');
  await s.stop();
  // The race no client can win on cue: between the master's bind and its chown, the worker (who
  // may write run/) puts a symlink to a root file where the socket was. The master's own step,
  // run on what the worker left there: the link is the worker's, its target stays root's.
  const { giveToWorker } = await importSource('src/master/worker-binds.ts');
  const victim = join(base, 'victim');
  const swapped = join(run, 'swapped.sock');
  symlinkSync(victim, swapped);
  giveToWorker(swapped, { uid: NOBODY, gid: NOBODY });
  assert.is(statSync(victim).uid, 0, 'the symlink\'s target was given to the worker');
  assert.is(lstatSync(swapped).uid, NOBODY);
});

test('1. a worker cannot ask the master for a file descriptor (fd://N)', async () => {
  const dir = openApp({ 'app.js': `
const http = require('http');
http.createServer((req, res) => res.end('app')).listen(3000);
process.send({ t: 'listen', id: 999, address: 'fd://0', backlog: 511 });
` });
  const s = await startServer(['-w', '1', join(dir, 'app.js')], { workers: 1 });
  await s.waitForLog(/The app asked to listen on fd:\/\/0: refused: a worker cannot ask for a file descriptor/);
  assert.is((await request(s.port)).status, 200);
  await s.stop();
});

// ---- 2. trust nobody by default: forwarded headers, PROXY preambles and h2c ----------------

const GET = (path, headers = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`;
const bodyOf = (data) => { const at = data.indexOf('\r\n\r\n'); return at < 0 ? null : JSON.parse(data.slice(at + 4)); };

test('2. defaults: X-Forwarded-* and Forwarded from a non-loopback peer are removed; from 127.0.0.1 they pass', async () => {
  const s = await startServer(['-w', '1', ECHO], { workers: 1 });
  const spoof = 'X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6\r\n';
  const direct = bodyOf((await exchange(s.port, GET('/', spoof), { localAddress: UNTRUSTED })).data);
  assert.is(direct.remoteAddress, UNTRUSTED);
  assert.is(direct.headers['x-forwarded-for'], undefined, 'X-Forwarded-For from an untrusted peer');
  assert.is(direct.headers.forwarded, undefined);
  assert.is(direct.headers['x-forwarded-proto'], undefined);
  const proxied = bodyOf((await exchange(s.port, GET('/', spoof))).data);
  assert.is(proxied.headers['x-forwarded-for'], '6.6.6.6', 'a loopback proxy is trusted');
  await s.stop();
});

test('2. defaults: a PROXY v1 / v2 preamble from a non-loopback peer is refused; the made-up address never reaches the app', async () => {
  const log = join(tempApp({}), 'access.log');
  const s = await startServer(['-w', '1', '--proxy-protocol', '--access-logfile', log, '--access-logformat', '%(h)s %(U)s', ECHO], { workers: 1 });
  const v1 = Buffer.from('PROXY TCP4 6.6.6.6 127.0.0.1 1234 80\r\n');
  const v2 = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x21, 0x11, 0, 12, 6, 6, 6, 6, 127, 0, 0, 1, 4, 210, 0, 80])]);
  for (const [what, preamble] of [['v1', v1], ['v2', v2]]) {
    const { data } = await exchange(s.port, Buffer.concat([preamble, Buffer.from(GET(`/${what}`))]), { localAddress: UNTRUSTED });
    assert.match(data, /^HTTP\/1\.1 400 /, `${what} from ${UNTRUSTED}: ${JSON.stringify(data.slice(0, 80))}`);
    assert.not.ok(data.includes('6.6.6.6'));
  }
  const trusted = bodyOf((await exchange(s.port, Buffer.concat([v1, Buffer.from(GET('/trusted'))]))).data);
  assert.is(trusted.remoteAddress, '6.6.6.6', 'a loopback proxy\'s preamble is read');
  await waitFor(() => existsSync(log) && /\/trusted/.test(readFileSync(log, 'utf8')), 5000, 'access log');
  assert.not.match(readFileSync(log, 'utf8'), /6\.6\.6\.6 \/v[12]/);
  assert.is((await request(s.port)).status, 200, 'the worker keeps serving');
  await s.stop();
});

test('2. defaults: the h2c preface from a non-loopback peer is not HTTP/2', async () => {
  const s = await startServer(['-w', '1', '--http2-cleartext', 'prior-knowledge', ECHO], { workers: 1 });
  const preface = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from('000000040000000000', 'hex')]);
  const untrusted = await exchange(s.port, preface, { localAddress: UNTRUSTED, ms: 1500 });
  assert.ok(untrusted.data === '' || /^HTTP\/1\.1 4\d\d /.test(untrusted.data), `untrusted: ${JSON.stringify(untrusted.data.slice(0, 40))}`);
  const trusted = await exchange(s.port, preface, { ms: 500 });
  // A SETTINGS frame (type 4) first: the loopback proxy speaks HTTP/2.
  assert.is(trusted.data.charCodeAt(3), 4, 'trusted peer gets HTTP/2 SETTINGS');
  assert.is((await request(s.port)).status, 200);
  await s.stop();
});

// ---- 3. a timeout on every way in: HTTP/2 streams ---------------------------------------------

test('3. HTTP/2: a stream that sends 1 of 100 body bytes is reset at request_timeout (logged 408); the session goes on', async () => {
  const s = await startServer(['-w', '1', '--http2-cleartext', 'prior-knowledge', '--header-timeout', '1', '--request-timeout', '2', ECHO], { workers: 1 });
  const session = http2.connect(`http://127.0.0.1:${s.port}`);
  session.on('error', () => {});
  try {
    const started = Date.now();
    const outcomes = await Promise.all([0, 1, 2].map(() => new Promise((resolve) => {
      const stream = session.request({ ':method': 'POST', ':path': '/slow', 'content-length': '100' }, { endStream: false });
      stream.on('error', () => {});
      stream.write('x');
      stream.on('response', (h) => resolve({ status: h[':status'], ms: Date.now() - started }));
      stream.on('close', () => resolve({ rst: stream.rstCode, ms: Date.now() - started }));
      setTimeout(() => resolve({ open: true }), 8000);
    })));
    for (const o of outcomes) {
      assert.not.ok(o.open, 'stream still open after 8 s');
      assert.ok(o.status === 408 || o.rst !== undefined, JSON.stringify(o));
      assert.ok(o.ms >= 1500 && o.ms < 5000, `ended at ${o.ms} ms`);
    }
    // The same session still serves.
    const ok = await new Promise((resolve) => {
      const stream = session.request({ ':path': '/after' });
      stream.on('response', (h) => resolve(h[':status']));
      stream.on('error', () => resolve(null));
      stream.resume();
    });
    assert.is(ok, 200);
  } finally {
    session.destroy();
    await s.stop();
  }
});

/** One raw HTTP/2 frame (RFC 9113 4.1). */
const h2frame = (type, flags, stream, payload = Buffer.alloc(0)) => {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
};
const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), h2frame(4, 0, 0)]);
/** HPACK: GET, http, /, :authority x (static table indexes and one literal). */
const GET_BLOCK = Buffer.from([0x82, 0x86, 0x84, 0x41, 0x01, 0x78]);
const [HEADERS, END_STREAM, END_HEADERS] = [1, 0x1, 0x4];

/** The frame types and stream ids in `data`, in order. */
function h2frames(data) {
  const frames = [];
  for (let at = 0; at + 9 <= data.length; at += 9 + data.readUIntBE(at, 3)) frames.push({ type: data[at + 3], stream: data.readUInt32BE(at + 5) & 0x7fffffff });
  return frames;
}

test('3. HTTP/2: a header block left open (HEADERS without END_HEADERS, no CONTINUATION) is cut at header_timeout, keep_alive 0; the worker serves on', async () => {
  const s = await startServer(['-w', '1', '--http2-cleartext', 'prior-knowledge', '--keep-alive', '0', '--header-timeout', '2', ECHO], { workers: 1 });
  const [worker] = s.workers();
  /** A trusted (h2c) connection: `opening` at once, `stall` once `ready(data)` holds; resolves ms from the stall to the close, or null. */
  const stalled = (opening, stall, ready = () => true) => new Promise((resolve) => {
    const socket = net.connect(s.port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let since = null;
    const timer = setTimeout(() => { socket.destroy(); resolve(null); }, 9000);
    socket.on('error', () => {});
    socket.on('data', (c) => {
      data = Buffer.concat([data, c]);
      if (since === null && ready(data)) { since = Date.now(); socket.write(stall); }
    });
    socket.on('close', () => { clearTimeout(timer); resolve(since === null ? -1 : Date.now() - since); });
    socket.write(opening);
  });
  const open = h2frame(HEADERS, END_STREAM, 1, GET_BLOCK.subarray(0, 3));
  const t = [
    // The first request's block, never finished.
    stalled(H2_PREFACE, open),
    // A request served, then the next one's block left open.
    stalled(Buffer.concat([H2_PREFACE, h2frame(HEADERS, END_STREAM | END_HEADERS, 1, GET_BLOCK)]),
      h2frame(HEADERS, END_STREAM, 3, GET_BLOCK.subarray(0, 3)), (data) => h2frames(data).some((f) => f.type === HEADERS && f.stream === 1)),
  ];
  // While they stall, other clients are served, over HTTP/1.1 and HTTP/2.
  await sleep(1000);
  assert.is((await request(s.port)).status, 200);
  const h2 = await new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${s.port}`);
    session.on('error', () => resolve(null));
    const stream = session.request({ ':path': '/h2' });
    stream.on('response', (h) => { resolve(h[':status']); session.close(); });
    stream.on('error', () => resolve(null));
    stream.resume();
  });
  assert.is(h2, 200);
  const [first, later] = await Promise.all(t);
  assert.ok(first !== null && first >= 1500 && first < 5000, `an unfinished first header block: closed after ${first} ms`);
  assert.ok(later !== null && later >= 1500 && later < 5000, `an unfinished later header block: closed after ${later} ms`);
  assert.is((await request(s.port)).status, 200);
  assert.equal(s.workers(), [worker], 'the same worker serves on');
  await s.stop();
});

test('3. HTTP/2 rapid reset and SETTINGS flood: the connection is cut or absorbed, the worker serves on', async () => {
  const s = await startServer(['-w', '1', '--http2-cleartext', 'prior-knowledge', ECHO], { workers: 1 });
  const [worker] = s.workers();
  // Rapid reset (CVE-2023-44487): streams opened and cancelled at once, thousands of them.
  const session = http2.connect(`http://127.0.0.1:${s.port}`);
  session.on('error', () => {});
  await new Promise((r) => session.once('connect', r));
  for (let i = 0; i < 5000 && !session.destroyed; i++) {
    try {
      const st = session.request({ ':path': '/' });
      st.on('error', () => {});
      st.close(http2.constants.NGHTTP2_CANCEL);
    } catch { break; }
  }
  await sleep(500);
  session.destroy();
  // SETTINGS flood: the preface, then 20 000 SETTINGS frames whose ACKs are never read.
  const settings = Buffer.from('000000040000000000', 'hex');
  const flood = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), ...Array(20000).fill(settings)]);
  const cut = await new Promise((resolve) => {
    const sock = net.connect(s.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.pause();
    sock.on('close', () => resolve(true));
    sock.write(flood);
    setTimeout(() => { sock.destroy(); resolve(false); }, 3000);
  });
  // nghttp2 cuts a peer whose unread ACKs pile up (ENHANCE_YOUR_CALM) or absorbs them (`cut`
  // false): either way the worker must neither crash nor stop serving.
  void cut;
  assert.is((await request(s.port)).status, 200);
  assert.equal(s.workers(), [worker], 'the same worker serves on');
  await s.stop();
});

// ---- 4. TLS handshake timeout -----------------------------------------------------------------

/** Opens a connection from `localAddress`, sends `bytes` (if any), resolves when the server closes it, or null after `ms`. */
function closedAfter(port, { bytes, ms = 15000, localAddress = '127.0.0.1' } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const timer = setTimeout(() => { socket.destroy(); resolve(null); }, ms);
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(timer); resolve(Date.now() - started); });
    socket.on('data', () => {});
    if (bytes) socket.write(bytes);
  });
}

test('4. TLS: a connection that never sends a ClientHello is closed at the handshake timeout, and does not hold a drain', async () => {
  const { cert, key } = makeCertificate(tempApp({}));
  const s = await startServer(['-w', '1', '--certfile', cert, '--keyfile', key, '--header-timeout', '2', '--graceful-timeout', '20', ECHO], { workers: 1 });
  const silent = await closedAfter(s.port, { ms: 8000 });
  assert.ok(silent !== null && silent >= 1500 && silent < 5000, `closed after ${silent} ms`);
  // A silent connection during a graceful stop: the master is done long before graceful_timeout.
  const pending = closedAfter(s.port, { ms: 15000 });
  await sleep(200);
  const t0 = Date.now();
  const { code } = await s.stop();
  assert.is(code, 0);
  assert.ok(Date.now() - t0 < 8000, `stop took ${Date.now() - t0} ms`);
  await pending;
});

test('4. PROXY preamble and h2c preface: a trusted connection that sends nothing (or half a preamble) is closed at header_timeout', async () => {
  const silent = (port, bytes) => closedAfter(port, { bytes, ms: 8000 });
  const proxy = await startServer(['-w', '1', '--proxy-protocol', '--header-timeout', '2', ECHO], { workers: 1 });
  const [nothing, half] = await Promise.all([silent(proxy.port), silent(proxy.port, 'PROXY TCP4 6.6.6.6 ')]);
  assert.ok(nothing !== null && nothing >= 1500 && nothing < 5000, `PROXY, nothing sent: closed after ${nothing} ms`);
  assert.ok(half !== null && half >= 1500 && half < 5000, `PROXY, half a preamble: closed after ${half} ms`);
  assert.is((await request(proxy.port)).status, 200);
  await proxy.stop();
  const h2c = await startServer(['-w', '1', '--http2-cleartext', 'prior-knowledge', '--header-timeout', '2', ECHO], { workers: 1 });
  const [none, partial] = await Promise.all([silent(h2c.port), silent(h2c.port, 'PRI * HTTP/2.0\r\n')]);
  assert.ok(none !== null && none >= 1500 && none < 5000, `h2c, nothing sent: closed after ${none} ms`);
  assert.ok(partial !== null && partial >= 1500 && partial < 5000, `h2c, half a preface: closed after ${partial} ms`);
  assert.is((await request(h2c.port)).status, 200);
  await h2c.stop();
});

// ---- 5. worker_connections ----------------------------------------------------------------------

/** A connection that has sent `bytes` and collects what comes back. */
function openConnection(port, bytes = '') {
  const socket = net.connect(port, '127.0.0.1');
  const conn = { socket, data: '', closed: false };
  socket.on('data', (c) => { conn.data += c; });
  socket.on('error', () => {});
  socket.on('close', () => { conn.closed = true; });
  if (bytes) socket.write(bytes);
  return conn;
}

for (const mode of ['shared', 'round-robin']) {
  test(`5. worker_connections (${mode}): a connection over the cap waits unread until one closes; nothing crashes`, async () => {
    const s = await startServer(['-w', '1', '--distribution', mode, '--worker-connections', '2', ECHO], { workers: 1 });
    const idle = [openConnection(s.port), openConnection(s.port)];
    await sleep(300);
    const third = openConnection(s.port, GET('/third'));
    await sleep(700);
    assert.is(third.data, '', 'not served while two connections are open');
    assert.not.ok(third.closed);
    await waitFor(() => /worker_connections \(2\) reached/.test(s.log), 3000, 'the warning');
    idle[0].socket.destroy();
    await waitFor(() => /^HTTP\/1\.1 200 /.test(third.data), 3000, 'the waiting connection served once one closed');
    idle[1].socket.destroy();
    assert.is((await request(s.port)).status, 200);
    assert.is(s.count(/Booting worker/), 1, 'no worker crashed');
    await s.stop();
  });
}

// ---- 6. --sticky: the master's head read is linear and bounded --------------------------------

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

test('6. --sticky: a dripped request line is read only up to the line limit, then refused 4xx by a worker; little master CPU', async () => {
  const s = await startServer(['-w', '1', '--sticky', ECHO], { workers: 1 });
  const before = cpuSeconds(s.pid);
  const socket = net.connect(s.port, '127.0.0.1');
  socket.setNoDelay(true);
  let reply = '';
  socket.on('data', (c) => { reply += c; });
  socket.on('error', () => {});
  const started = Date.now();
  socket.write('GET /');
  // 60 KB in 600 drips: the master must not wait for (or re-scan) all of it.
  for (let i = 0; i < 600 && !reply && !socket.destroyed; i++) {
    socket.write('a'.repeat(100));
    await sleep(2);
  }
  await waitFor(() => reply, 8000, 'a reply');
  const ms = Date.now() - started;
  socket.destroy();
  assert.match(reply, /^HTTP\/1\.1 4(14|31) /, JSON.stringify(reply.slice(0, 60)));
  assert.ok(ms < 3000, `answered after ${ms} ms (the master waited for more than the line limit)`);
  assert.ok(cpuSeconds(s.pid) - before < 0.2, `master CPU ${cpuSeconds(s.pid) - before} s`);
  assert.is((await request(s.port)).status, 200);
  await s.stop();
});

test('6. --sticky: at most backlog connections are read at once; more are routed unread', async () => {
  const s = await startServer(['-w', '1', '--sticky', '--backlog', '4', ECHO], { workers: 1 });
  const silent = Array.from({ length: 4 }, () => openConnection(s.port));
  await sleep(300);
  const fifth = openConnection(s.port, GET('/fifth'));
  await waitFor(() => /^HTTP\/1\.1 200 /.test(fifth.data), 3000, 'the fifth connection served');
  await waitFor(() => /sticky: 4 connections \(backlog\) are being read at once/.test(s.log), 3000, 'the warning');
  for (const c of silent) c.socket.destroy();
  await s.stop();
});

// ---- 7. upgrade and CONNECT go through the request checks -------------------------------------

const TAKEOVER_APP = `
const http = require('http');
const server = http.createServer((req, res) => res.end('http'));
server.on('upgrade', (req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: x\\r\\nConnection: Upgrade\\r\\n\\r\\nREACHED upgrade'));
server.on('connect', (req, socket) => socket.end('HTTP/1.1 200 Connection Established\\r\\n\\r\\nREACHED connect'));
server.listen(3000);
`;

test('7. upgrade and CONNECT: too many fields, a duplicate Host, an overlong request line are refused before the app', async () => {
  const dir = openApp({ 'app.js': TAKEOVER_APP });
  const s = await startServer(['-w', '1', join(dir, 'app.js')], { workers: 1 });
  const upgrade = 'Upgrade: x\r\nConnection: Upgrade\r\n';
  const many = Array.from({ length: 150 }, (_, i) => `X-F${i}: v\r\n`).join('');
  const cases = [
    ['150 fields', `GET / HTTP/1.1\r\nHost: x\r\n${upgrade}${many}\r\n`, 431],
    ['duplicate Host', `GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n${upgrade}\r\n`, 400],
    ['6000-byte line', `GET /${'a'.repeat(6000)} HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`, 414],
    ['CONNECT, 150 fields', `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n${many}\r\n`, 431],
    ['CONNECT, duplicate Host', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nHost: evil:443\r\n\r\n', 400],
  ];
  for (const [what, bytes, status] of cases) {
    const { data } = await exchange(s.port, bytes);
    assert.ok(data.startsWith(`HTTP/1.1 ${status} `), `${what}: ${JSON.stringify(data.slice(0, 60))}`);
    assert.not.ok(data.includes('REACHED'), `${what} reached the app`);
  }
  // What passes the checks still reaches the app's handlers.
  assert.match((await exchange(s.port, `GET / HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`)).data, /REACHED upgrade/);
  assert.match((await exchange(s.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')).data, /REACHED connect/);
  assert.is(s.count(/Booting worker/), 1);
  await s.stop();
});

// ---- 8. the control socket: nothing crashes it; ctl trusts no stranger -------------------------

/** Sends `bytes` to a unix socket (optionally in pieces, optionally leaving it open), resolves the reply. */
function control(path, bytes, { end = true, ms = 8000 } = {}) {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    let data = '';
    const timer = setTimeout(() => { socket.destroy(); resolve({ data, timedOut: true }); }, ms);
    socket.on('data', (c) => { data += c; });
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(timer); resolve({ data }); });
    socket.on('connect', () => (end ? socket.end(bytes) : socket.write(bytes)));
  });
}

/** Sends `pieces` to a unix socket one every `everyMs` (until closed), resolves the reply and when it came. */
function drip(path, pieces, { everyMs, ms = 10000 } = {}) {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    const started = Date.now();
    let data = '';
    let timer;
    const done = (timedOut) => { clearTimeout(timer); clearInterval(sender); socket.destroy(); resolve({ data, ms: Date.now() - started, timedOut }); };
    timer = setTimeout(() => done(true), ms);
    let next = 0;
    const sender = setInterval(() => { if (next < pieces.length && socket.writable) socket.write(pieces[next++]); }, everyMs);
    socket.on('data', (c) => { data += c; });
    socket.on('error', () => {});
    socket.on('close', () => done(false));
  });
}

test('8. control socket fuzz: malformed, wrong-shaped, too long, too slow (dripped too) and flooding requests get error replies; the master runs on', async () => {
  const sock = join(tempApp({}), 'ctl.sock');
  const s = await startServer(['-w', '1', '--control-socket', sock, ECHO], { workers: 1 });
  const malformed = ['null\n', '[]\n', '"status"\n', '42\n', 'true\n', '{}\n', '{"command":5}\n', '{"command":"status","n":"x"}\n',
    '{"command":"scale","n":{}}\n', '{"command":"stop","quick":"yes"}\n', '{"command":{"toString":1}}\n', 'not json\n', '\n', '{"command":"__proto__"}\n'];
  // Random bytes, seeded so a failure can be replayed.
  let seed = 7;
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let i = 0; i < 40; i++) malformed.push(Buffer.from(Array.from({ length: 1 + (rand() % 200) }, () => rand() % 256)));
  for (const bytes of malformed) {
    const { data } = await control(sock, bytes);
    const reply = JSON.parse(data);
    assert.is(reply.ok, false, `${JSON.stringify(String(bytes))}: ${data}`);
  }
  const long = await control(sock, 'x'.repeat(70 * 1024), { end: false });
  assert.match(long.data, /"ok":false.*longer than/);
  // The cap is on the whole request: 64 KiB without a newline, then the rest of the line.
  const split = await drip(sock, ['x'.repeat(64 * 1024 - 10), `${'x'.repeat(100)}\n`], { everyMs: 100 });
  assert.match(split.data, /"ok":false.*longer than 65536 bytes/);
  // Too slow: one deadline from the connection, however the bytes trickle in. A request that
  // stops, and 14 that drip a byte every 400 ms (an idle timeout would wait on them for ever, and
  // 16 would take every slot), are all answered at 5 s.
  await sleep(100);
  const slow = [drip(sock, ['{"command":'], { everyMs: 10 })];
  for (let i = 0; i < 14; i++) slow.push(drip(sock, [...'{"command": "status"                         '], { everyMs: 400 }));
  for (const r of await Promise.all(slow)) {
    assert.match(r.data, /"ok":false.*no complete request within 5 s/, JSON.stringify(r));
    assert.ok(r.ms >= 4500 && r.ms < 7500, `answered after ${r.ms} ms`);
  }
  // A flood: 60 connections at once that say nothing; then a real request is still answered.
  const flood = Array.from({ length: 60 }, () => control(sock, '', { end: false, ms: 9000 }));
  const busy = await Promise.all(flood);
  assert.ok(busy.some((r) => /busy/.test(r.data)), 'connections over the cap get a busy reply');
  // The flood's last slots are freed as the master reads their clients' FINs, which may come
  // after the next connection: a busy reply is asked again, for a second at most.
  let reply;
  await waitFor(async () => !/busy/.test((reply = (await control(sock, '{"command":"status"}\n')).data)), 1000, 'a slot after the flood').catch(() => {});
  const status = JSON.parse(reply);
  assert.is(status.ok, true, reply);
  assert.is(status.master.pid, s.pid);
  assert.ok(s.child.exitCode === null, 'the master is running');
  assert.is((await request(s.port)).status, 200);
  await s.stop();
});

test('8. narwhal ctl runs no narwhal.config.js it is not told to; refuses a socket of another user or in a directory others may write', async () => {
  const dir = tempApp({ 'narwhal.config.js': `require('fs').writeFileSync(${JSON.stringify('MARKER')}, 'ran'); module.exports = { control_socket: '/nonexistent.sock' };\n` });
  const r = await runCli(['ctl', 'status'], { cwd: dir });
  assert.is(r.code, 2, r.stderr);
  assert.not.ok(existsSync(join(dir, 'MARKER')), 'the config code ran');
  assert.match(r.stderr, /narwhal\.config\.js is not read without -c/);

  const base = tempApp({});
  // A socket owned by another user (here nobody), listening.
  if (ROOT) {
    const path = join(base, 'other.sock');
    const fake = net.createServer((c) => { c.on('error', () => {}); c.end('{"ok":true,"message":"fake"}\n'); }).listen(path);
    await new Promise((res) => fake.once('listening', res));
    (await import('node:fs')).chownSync(path, 65534, 65534);
    const o = await runCli(['ctl', '--control-socket', path, 'reload']);
    fake.close();
    assert.is(o.code, 1);
    assert.match(o.stderr, /owned by uid 65534, neither root nor you/);
  }
  // A directory anyone may write (no sticky bit): the socket in it could be a stand-in.
  const open = join(base, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const sock = join(open, 'ctl.sock');
  const s = await startServer(['-w', '1', '--control-socket', sock, ECHO], { workers: 1 });
  const w = await runCli(['ctl', '--control-socket', sock, 'status']);
  assert.is(w.code, 1);
  assert.match(w.stderr, /is writable by others \(mode 777\)/);
  await s.stop();
});

// ---- 9. identities and files -------------------------------------------------------------------

const idsOf = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { uid: Number(/^Uid:\s+(\d+)/m.exec(status)[1]), gid: Number(/^Gid:\s+(\d+)/m.exec(status)[1]) };
};

test('9. a numeric --user without --group: workers take the gid of its passwd entry, never gid 0', async () => {
  if (!asRoot('numeric --user')) return;
  const s = await startServer(['-w', '1', '-u', '65534', join(FIXTURES, 'pid.js')], { workers: 1 });
  for (const pid of s.workers()) assert.equal(idsOf(pid), { uid: 65534, gid: 65534 });
  await s.stop();
  const r = await runCli(['-u', '4242421', join(FIXTURES, 'pid.js')]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /"4242421" has no entry in \/etc\/passwd to take its group from; give group too/);
});

test('9. the pidfile replaces a symlink at its path rather than writing through it; a log in a directory others may write follows no symlink', async () => {
  const dir = tempApp({ 'victim': 'precious\n' });
  const open = join(dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const { symlinkSync, lstatSync } = await import('node:fs');
  symlinkSync(join(dir, 'victim'), join(open, 'narwhal.pid'));
  symlinkSync(join(dir, 'victim'), join(open, 'access.log'));
  const s = await startServer(['-w', '1', '--pid', join(open, 'narwhal.pid'), '--access-logfile', join(open, 'access.log'), ECHO], { workers: 1 });
  await request(s.port);
  await sleep(200);
  assert.is(readFileSync(join(dir, 'victim'), 'utf8'), 'precious\n', 'the symlink target was written');
  assert.ok(lstatSync(join(open, 'narwhal.pid')).isFile(), 'the pidfile is a file of its own');
  assert.is(readFileSync(join(open, 'narwhal.pid'), 'utf8'), `${s.pid}\n`);
  assert.match(s.log, /cannot write log \S+access\.log/);
  assert.is((await request(s.port)).status, 200);
  await s.stop();
});

test('9. a log file in a directory another user owns (a worker\'s 0755 directory) follows no symlink', async () => {
  if (!asRoot('log files in another user\'s directory')) return;
  const dir = openApp({ 'victim': 'precious\n' });
  const theirs = nobodysDirectory(join(dir, 'theirs'));
  // What the directory's owner could plant: links to a file only root may write.
  symlinkSync(join(dir, 'victim'), join(theirs, 'error.log'));
  symlinkSync(join(dir, 'victim'), join(theirs, 'access.log'));
  const port = await freePort();
  const s = await startServer(['-w', '1', '-b', `127.0.0.1:${port}`, '--error-logfile', join(theirs, 'error.log'),
    '--access-logfile', join(theirs, 'access.log'), ECHO]);
  await waitFor(async () => (await request(port).catch(() => null))?.status === 200, 10000, 'the server to serve');
  await sleep(200);
  assert.is(readFileSync(join(dir, 'victim'), 'utf8'), 'precious\n', 'the symlink target was written');
  assert.match(s.log, /cannot write log \S+theirs\/error\.log: ELOOP/);
  assert.match(s.log, /cannot write log \S+theirs\/access\.log: ELOOP/);
  await s.stop();
  // In root's own 0755 directory, a link (an operator's) is followed as before.
  const own = join(dir, 'own');
  mkdirSync(own, { mode: 0o755 });
  symlinkSync(join(dir, 'victim'), join(own, 'error.log'));
  const port2 = await freePort();
  const t = await startServer(['-w', '1', '-b', `127.0.0.1:${port2}`, '--error-logfile', join(own, 'error.log'), ECHO]);
  await waitFor(() => /Listening at/.test(readFileSync(join(dir, 'victim'), 'utf8')), 10000, 'the log written through the operator\'s link');
  await t.stop();
});

test('9. access log atoms escape control characters as nginx does: a newline in the Basic-auth user cannot forge a line', async () => {
  const log = join(tempApp({}), 'access.log');
  const s = await startServer(['-w', '1', '--access-logfile', log, ECHO], { workers: 1 });
  const forged = 'x\n127.0.0.1 - admin [01/Jan/2026] "GET /admin HTTP/1.1" 200 2 "-" "-"';
  const auth = Buffer.from(`${forged}:pw`).toString('base64');
  await exchange(s.port, GET('/probe', `Authorization: Basic ${auth}\r\nUser-Agent: a"b\\c\td\r\n`));
  await waitFor(() => existsSync(log) && /probe/.test(readFileSync(log, 'utf8')), 5000, 'the access log line');
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.is(lines.length, 1, lines.join('\n'));
  assert.match(lines[0], /^127\.0\.0\.1 - x\\x0A127\.0\.0\.1 - admin \[01\/Jan\/2026\] \\x22GET \/admin HTTP\/1\.1\\x22 200 2 \\x22-\\x22 \\x22-\\x22 \[/);
  assert.match(lines[0], /"a\\x22b\\x5Cc\\x09d"$/);
  await s.stop();
});

// ---- 10. admin: scrapes coalesce; connections are capped and timed ---------------------------

/** A free port on 127.0.0.1. */
const freePort = () => new Promise((resolve) => {
  const probe = net.createServer().listen(0, '127.0.0.1', () => { const { port } = probe.address(); probe.close(() => resolve(port)); });
});

test('10. admin: 40 concurrent /metrics scrapes share their fan-outs to the workers', async () => {
  const admin = await freePort();
  const dir = openApp({ 'app.js': "module.exports = (req, res) => { if (req.url === '/block') { const t = Date.now(); while (Date.now() - t < 600); } res.end('ok'); };\n" });
  const s = await startServer(['-w', '1', '--admin-bind', `127.0.0.1:${admin}`, join(dir, 'app.js')], { workers: 1 });
  // The worker is busy for 600 ms: every scrape in that time waits on the same round of reports.
  const blocked = request(s.port, '/block');
  await sleep(100);
  const before = s.count(/Metrics: asking \d+ worker/);
  const all = await Promise.all(Array.from({ length: 40 }, () => request(admin, '/metrics')));
  await blocked;
  assert.ok(all.every((r) => r.status === 200));
  const rounds = s.count(/Metrics: asking \d+ worker/) - before;
  assert.ok(rounds >= 1 && rounds <= 5, `${rounds} fan-outs for 40 scrapes`);
  await s.stop();
});

test('10. admin: a silent connection is closed within seconds; connections beyond the cap are closed at once', async () => {
  const admin = await freePort();
  const s = await startServer(['-w', '1', '--admin-bind', `127.0.0.1:${admin}`, ECHO], { workers: 1 });
  const silent = await closedAfter(admin, { ms: 12000 });
  assert.ok(silent !== null && silent < 9000, `silent admin connection closed after ${silent} ms`);
  const conns = Array.from({ length: 80 }, () => openConnection(admin));
  await sleep(800);
  const closed = conns.filter((c) => c.closed).length;
  assert.ok(closed >= 10, `${closed} of 80 closed`);
  for (const c of conns) c.socket.destroy();
  await sleep(200);
  assert.is((await request(admin, '/healthz')).status, 200);
  await s.stop();
});

// ---- 11. deployment: chart, --reload, systemd --------------------------------------------------

test('11. Helm: trustedProxies reaches forwarded_allow_ips; the optional NetworkPolicy opens the admin port to the namespace only', async () => {
  const { requireHelm, template, validateObject, lint } = await import('./helpers/k8s.mjs');
  requireHelm();
  const r = template({ set: ['networkPolicy.enabled=true', 'narwhal.trustedProxies={10.244.0.0/16}'] });
  assert.is(r.status, 0, r.stderr);
  for (const doc of r.docs) assert.equal(validateObject(doc), [], `${doc.kind}`);
  const config = JSON.parse(r.docs.find((d) => d.kind === 'ConfigMap').data['narwhal.config.json']);
  assert.equal(config.forwarded_allow_ips, ['10.244.0.0/16']);
  const policy = r.docs.find((d) => d.kind === 'NetworkPolicy');
  assert.ok(policy, 'a NetworkPolicy');
  const admin = policy.spec.ingress.find((rule) => rule.ports.some((p) => p.port === 'admin'));
  assert.equal(admin.from, [{ podSelector: {} }]);
  const defaults = template({});
  assert.is(defaults.docs.filter((d) => d.kind === 'NetworkPolicy').length, 0, 'off by default');
  assert.equal(JSON.parse(defaults.docs.find((d) => d.kind === 'ConfigMap').data['narwhal.config.json']).forwarded_allow_ips, ['127.0.0.1', '::1']);
  const bad = template({ set: ['narwhal.trustedProxies={not an ip}'] });
  assert.is.not(bad.status, 0, 'a malformed proxy entry is refused by the schema');
  const l = lint(undefined, []);
  assert.is(l.status ?? 0, 0, l.stderr ?? '');
});

test('11. --reload follows no symlink out of the app directory', async () => {
  const outside = tempApp({ 'lib.js': 'module.exports = 1;\n' });
  const dir = tempApp({ 'app.js': "module.exports = (req, res) => res.end('v1');\n" });
  const { symlinkSync, writeFileSync } = await import('node:fs');
  symlinkSync(outside, join(dir, 'linked'));
  const s = await startServer(['-w', '1', '--reload', 'app.js'], { cwd: dir, workers: 1 });
  await s.waitForLog(/Reload: watching /);
  await sleep(300);
  writeFileSync(join(outside, 'lib.js'), 'module.exports = 2;\n');
  await sleep(1500);
  assert.is(s.count(/Reloading: /), 0, 'a change behind a symlink reloaded');
  // A change in the app directory itself still reloads.
  writeFileSync(join(dir, 'app.js'), "module.exports = (req, res) => res.end('v2');\n");
  await s.waitForLog(/Reloading: app\.js changed/, 8000);
  await s.stop();
});

test('11. the systemd unit in docs is sandboxed and passes systemd-analyze verify', async () => {
  const { execFileSync, spawnSync } = await import('node:child_process');
  const { cpSync, writeFileSync } = await import('node:fs');
  const unit = readFileSync(join(process.cwd(), 'docs/systemd/narwhal.service'), 'utf8');
  for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6', 'CapabilityBoundingSet=']) {
    assert.ok(unit.split('\n').includes(line), `missing ${line}`);
  }
  try { execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' }); } catch { return; }
  const dir = tempApp({});
  writeFileSync(join(dir, 'narwhal.service'), unit.replace(/\/usr\/local\/bin\/narwhal/g, process.execPath));
  cpSync(join(process.cwd(), 'docs/systemd/narwhal.socket'), join(dir, 'narwhal.socket'));
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', 'narwhal.service', 'narwhal.socket'], { cwd: dir, encoding: 'utf8', timeout: 30000 });
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stderr, /narwhal\.(service|socket)/, r.stderr);
});

test.run();
