// narwhal's reach-ins into Node internals (src/platform/node/), on the Node that runs this file:
// the boot check finds them all here, and a process that lacks one refuses to start in one line
// naming it; and where a Node line changed how a server behaves, the server narwhal serves for an
// app behaves as that line's own would: strict parsing whatever `httpValidation` the app chose,
// `maxConnections = 0` and a `blockList` honoured as this Node honours them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { importSource } from './helpers/unit.mjs';
import { killAll, request, runCli, startServer, tempApp, waitFor } from './helpers/server.mjs';

test.after(killAll);

const node = await importSource('src/platform/node/index.ts');

const dir = tempApp({
  'hello.js': "module.exports = (req, res) => res.end('hello');\n",
  // Takes internals away before narwhal loads (run through NODE_OPTIONS=--require), and leaves a
  // mark so that the test knows it ran in that process.
  'remove-internals.cjs': `
const fs = require('fs');
const net = require('net');
for (const name of (process.env.REMOVE || '').split(',')) {
  if (name === 'net._createServerHandle') delete net._createServerHandle;
  if (name === 'net.Server.prototype._listen2') delete net.Server.prototype._listen2;
}
fs.appendFileSync(process.env.MARK, process.pid + '\\n');
`,
  // Asks for the lenient parser in the way this Node takes: a Node that reads httpValidation
  // refuses it together with insecureHTTPParser.
  'lenient.js': `
const http = require('http');
const handler = (req, res) => res.end('ok');
let server;
try {
  server = http.createServer({ httpValidation: 'insecure', insecureHTTPParser: true }, handler);
} catch {
  server = http.createServer({ httpValidation: 'insecure' }, handler);
}
server.listen(3000);
`,
  'no-connections.js': `
const fs = require('fs');
const http = require('http');
const server = http.createServer((req, res) => res.end('served'));
server.maxConnections = 0;
server.on('drop', (info) => fs.appendFileSync(process.env.DROPS, JSON.stringify(info) + '\\n'));
server.listen(3000);
`,
  // A net.Server speaking just enough HTTP: the blockList option is net.Server's (and https').
  'block-list.js': `
const net = require('net');
const blockList = new net.BlockList();
blockList.addAddress('127.0.0.2');
net.createServer({ blockList }, (socket) => {
  socket.once('data', () => socket.end('HTTP/1.1 200 OK\\r\\nContent-Length: 6\\r\\nConnection: close\\r\\n\\r\\nserved'));
}).listen(3000);
`,
});
const app = (name) => join(dir, name);

/** Runs narwhal with `names` taken out of Node in every process; what it printed, how it exited. */
async function withInternalsRemoved(names, args) {
  const mark = join(tempApp({}), 'ran');
  const env = { NODE_OPTIONS: `--require ${app('remove-internals.cjs')}`, REMOVE: names.join(','), MARK: mark };
  const r = await runCli(args, { env, timeoutMs: 10000 });
  assert.ok(existsSync(mark), 'NODE_OPTIONS reached narwhal: the internals were removed');
  return { ...r, lines: r.stderr.split('\n').filter((l) => l.trim() !== '') };
}

const NO_TRACE = /^\s+at |Error:|node:internal/m;

test('the boot check finds every internal the master and the worker use on this Node', () => {
  assert.equal(node.missingInternals('master'), []);
  assert.equal(node.missingInternals('worker'), []);
});

test('the boot check names every internal missing at once, each for the processes that use it', () => {
  const createServerHandle = net._createServerHandle;
  const listen2 = net.Server.prototype._listen2;
  try {
    delete net._createServerHandle;
    delete net.Server.prototype._listen2;
    assert.equal(node.missingInternals('master'), ['net._createServerHandle']);
    assert.equal(node.missingInternals('worker'), ['net._createServerHandle', 'net.Server.prototype._listen2']);
    const line = node.unsupportedNode(node.missingInternals('worker'));
    const version = process.version.replace(/\./g, '\\.');
    assert.match(line, new RegExp(`^narwhal cannot run on Node\\.js ${version}: it lacks net\\._createServerHandle, net\\.Server\\.prototype\\._listen2 — supported: `));
    assert.not.match(line, /\n/);
  } finally {
    net._createServerHandle = createServerHandle;
    net.Server.prototype._listen2 = listen2;
  }
});

test('a master on a Node without an internal it binds with refuses to start: one line naming it, nothing bound', async () => {
  const r = await withInternalsRemoved(['net._createServerHandle'], ['-b', '127.0.0.1:0', '-w', '1', app('hello.js')]);
  assert.is.not(r.code, 0);
  assert.is(r.lines.length, 1, r.stderr);
  assert.match(r.lines[0], /^narwhal cannot run on Node\.js v\d+\.\d+\.\d+: it lacks net\._createServerHandle — supported: /);
  assert.not.match(r.stderr, NO_TRACE);
  assert.not.match(r.stderr, /Listening at|Booting worker/);
});

test('a worker on a Node without an internal it serves with refuses to boot: one line naming it, the master stops, no restart loop', async () => {
  const r = await withInternalsRemoved(['net.Server.prototype._listen2'], ['-b', '127.0.0.1:0', '-w', '1', '--log-level', 'info', app('hello.js')]);
  assert.is.not(r.code, 0);
  const naming = r.lines.filter((l) => l.includes('net.Server.prototype._listen2'));
  assert.is(naming.length, 1, r.stderr);
  assert.match(naming[0], /narwhal cannot run on Node\.js v\d+\.\d+\.\d+: it lacks net\.Server\.prototype\._listen2 — supported: /);
  assert.not.match(r.stderr, NO_TRACE);
  assert.is(r.stderr.match(/Booting worker/g)?.length, 1, 'one worker started, none restarted');
  // --check-config loads the app as a worker does: the same line.
  const check = await withInternalsRemoved(['net.Server.prototype._listen2'], ['--check-config', app('hello.js')]);
  assert.is.not(check.code, 0);
  assert.is(check.lines.length, 1, check.stderr);
  assert.match(check.lines[0], /^narwhal cannot run on Node\.js v\d+\.\d+\.\d+: it lacks net\.Server\.prototype\._listen2 — supported: /);
});

/** Sends raw bytes on a fresh connection; the first line of the reply ('' if closed without one). */
function statusLine(port, bytes, { localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let data = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('no answer, connection still open')); }, 5000);
    socket.on('data', (c) => { data += c; });
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(timer); resolve(data.split('\r\n')[0]); });
    socket.end(bytes);
  });
}

const GOOD = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
const CONTROL_CHAR = 'GET / HTTP/1.1\r\nHost: x\r\nX-Odd: a\x01b\r\nConnection: close\r\n\r\n';

/** What a server of `make()` answers on this Node, run here without narwhal. */
async function nodeAlone(make, bytes, options) {
  const server = make();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await statusLine(server.address().port, bytes, options);
  } finally {
    server.close();
  }
}

test('strict parsing whatever httpValidation the app chose: a control character in a field is a 400, the worker serves on', async () => {
  // The app really is lenient on this Node: alone, it answers the request.
  const lenient = () => {
    try {
      return http.createServer({ httpValidation: 'insecure', insecureHTTPParser: true }, (req, res) => res.end('ok'));
    } catch {
      return http.createServer({ httpValidation: 'insecure' }, (req, res) => res.end('ok'));
    }
  };
  assert.match(await nodeAlone(lenient, CONTROL_CHAR), /^HTTP\/1\.1 200/);
  const s = await startServer(['-w', '1', app('lenient.js')], { workers: 1 });
  const [pid] = s.workers();
  assert.match(await statusLine(s.port, CONTROL_CHAR), /^HTTP\/1\.1 400/);
  assert.match(await statusLine(s.port, GOOD), /^HTTP\/1\.1 200/);
  assert.equal(s.workers(), [pid], 'the same worker');
  await s.stop();
});

test('maxConnections = 0 as this Node reads it: where it refuses every connection, the connection is closed unanswered and \'drop\' emitted', async () => {
  const refusesAll = (await nodeAlone(() => {
    const server = http.createServer((req, res) => res.end('served'));
    server.maxConnections = 0;
    return server;
  }, GOOD)) === '';
  // The line this Node's net module changed on: 0 refuses all from there, means no limit before.
  assert.is(refusesAll, Number(process.versions.node.split('.')[0]) >= 21);
  const drops = join(tempApp({}), 'drops');
  const s = await startServer(['-w', '1', app('no-connections.js')], { workers: 1, env: { DROPS: drops } });
  if (refusesAll) {
    assert.is(await statusLine(s.port, GOOD), '');
    await waitFor(() => existsSync(drops), 3000, 'a drop event');
    const info = JSON.parse(readFileSync(drops, 'utf8').split('\n')[0]);
    assert.is(info.remoteAddress, '127.0.0.1');
    assert.is(info.localPort, s.port);
  } else {
    assert.equal((await request(s.port)).body, 'served');
  }
  await s.stop();
});

test('a blockList as this Node honours it: a blocked client address is dropped, another served', async () => {
  const blocking = () => {
    const blockList = new net.BlockList();
    blockList.addAddress('127.0.0.2');
    return net.createServer({ blockList }, (socket) => socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\n\r\n')));
  };
  const honoured = (await nodeAlone(blocking, GOOD, { localAddress: '127.0.0.2' })) === '';
  assert.is(honoured, typeof new net.Server({ blockList: new net.BlockList() }).blockList === 'object');
  const s = await startServer(['-w', '2', app('block-list.js')], { workers: 2 });
  for (let i = 0; i < 4; i++) {
    assert.is(await statusLine(s.port, GOOD, { localAddress: '127.0.0.2' }), honoured ? '' : 'HTTP/1.1 200 OK');
    assert.is(await statusLine(s.port, GOOD, { localAddress: '127.0.0.1' }), 'HTTP/1.1 200 OK');
  }
  await s.stop();
});

test.run();
