// Gunicorn's raw request corpus against a running narwhal (1 worker, the echo app): every
// invalid request is refused (4xx/5xx, or the connection closed without a 2xx) and never
// reaches the app; every valid one is answered by the app; and the worker that read them all
// is still the first one and still serving. Files whose verdict needs a Gunicorn setting go to
// a server started with narwhal's equivalent flags; known differences are listed, with the
// reason, in test/helpers/corpus.mjs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { join } from 'node:path';
import { FIXTURES, killAll, startServer } from './helpers/server.mjs';
import { DIFFERENCES, EXPECTED_STATUS, RESPONSES, TRUNCATED, WITH_SETTINGS, corpusFiles, statuses } from './helpers/corpus.mjs';

const ECHO = join(FIXTURES, 'echo.js');
const WAIT_MS = 700;
const IDLE_MS = 150;

/**
 * Sends the bytes (then half-closes when `end`) and collects the reply until the server closes,
 * or until a response has come and nothing more for IDLE_MS (keep-alive), or WAIT_MS in all.
 */
function exchange(port, bytes, { end = false } = {}) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    let closed = false;
    let idle = null;
    const finish = () => {
      clearTimeout(timer);
      clearTimeout(idle);
      socket.destroy();
      resolve({ data: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(finish, WAIT_MS);
    socket.on('data', (c) => {
      chunks.push(c);
      clearTimeout(idle);
      idle = setTimeout(finish, IDLE_MS);
    });
    socket.on('error', () => {});
    socket.on('close', () => { closed = true; finish(); });
    if (end) socket.end(bytes); else socket.write(bytes);
  });
}

const servers = new Map();
/** One server per distinct set of extra flags ('' = defaults), each with one worker. */
async function serverFor(key) {
  const flags = WITH_SETTINGS[key] ?? [];
  const id = flags.join(' ');
  if (!servers.has(id)) servers.set(id, startServer(['-w', '1', ...flags, ECHO], { workers: 1 }).then(async (server) => {
    server.firstWorker = server.workers()[0];
    return server;
  }));
  return servers.get(id);
}

/**
 * The worker is the one that booted first, there was no other, and it answers the app. The
 * probe is a bare HTTP/1.0 request, within even the tightest limits the servers run with.
 */
async function assertStillServing(server, what) {
  assert.equal(server.workers(), [server.firstWorker], `${what}: worker replaced`);
  const { data } = await exchange(server.port, Buffer.from('GET /after HTTP/1.0\r\n\r\n'));
  assert.equal(statuses(data), [200], `${what}: not serving afterwards (${JSON.stringify(data.slice(0, 80))})`);
  assert.ok(data.includes(`"pid":${server.firstWorker}`), `${what}: answered by another process`);
}

const PP2_SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');

/** The bytes after a PROXY protocol preamble (v1 line or v2 binary header), if there is one. */
function withoutPreamble(bytes) {
  if (bytes.subarray(0, 12).equals(PP2_SIGNATURE)) return bytes.subarray(16 + bytes.readUInt16BE(14));
  if (bytes.subarray(0, 6).toString('latin1') === 'PROXY ') return bytes.subarray(bytes.indexOf('\r\n') + 2);
  return bytes;
}

/** Method and target of the first request line of a file, as the echo app should report them. */
function firstRequestLine(bytes) {
  const line = withoutPreamble(bytes).toString('latin1').split('\r\n', 1)[0];
  const [method, url] = line.split(' ');
  return { method, url };
}

const skipped = [];

test.before(async () => {
  // Start every server up front, in parallel.
  await Promise.all(['', ...Object.keys(WITH_SETTINGS)].map((key) => serverFor(key)));
});

test.after(async () => {
  if (skipped.length) console.log(`\n  conformance: ${skipped.length} known differences skipped:\n${skipped.map((s) => `    ${s}`).join('\n')}`);
  await killAll();
});

test('invalid requests are refused and never reach the app; the worker keeps serving', async () => {
  const failures = [];
  for (const { name, bytes } of corpusFiles('invalid')) {
    const key = `invalid/${name}`;
    if (DIFFERENCES[key]) { skipped.push(`${key}: ${DIFFERENCES[key]}`); continue; }
    const server = await serverFor(key);
    const { data, closed } = await exchange(server.port, bytes, { end: TRUNCATED.has(key) });
    const codes = statuses(data);
    const refused = codes.every((c) => c >= 400) && (codes.length > 0 || closed);
    if (!refused) failures.push(`${key}: ${codes.length ? `statuses ${codes.join(',')}` : 'no answer and still open'}`);
    if (EXPECTED_STATUS[key] && codes[0] !== EXPECTED_STATUS[key]) failures.push(`${key}: status ${codes[0]}, expected ${EXPECTED_STATUS[key]}`);
    if (data.includes('"pid":')) failures.push(`${key}: reached the app`);
    await assertStillServing(server, key);
  }
  assert.equal(failures, [], failures.join('\n'));
});

test('valid requests are answered by the app (compat files may be refused 4xx)', async () => {
  const failures = [];
  for (const { name, bytes } of corpusFiles('valid')) {
    const key = `valid/${name}`;
    if (DIFFERENCES[key]) { skipped.push(`${key}: ${DIFFERENCES[key]}`); continue; }
    const server = await serverFor(key);
    const { data } = await exchange(server.port, bytes);
    const codes = statuses(data);
    if (name.includes('compat') && codes.length > 0 && codes.every((c) => c >= 400 && c < 500)) {
      await assertStillServing(server, key);
      continue;
    }
    if (codes.length === 0 || !codes.every((c) => c >= 200 && c < 300)) {
      failures.push(`${key}: ${codes.length ? `statuses ${codes.join(',')}` : 'no answer'}`);
      continue;
    }
    if (codes.length !== (RESPONSES[key] ?? 1)) failures.push(`${key}: ${codes.length} responses, expected ${RESPONSES[key] ?? 1}`);
    const echoed = /"method":"([^"]*)","url":"((?:[^"\\]|\\.)*)"/.exec(data);
    const sent = firstRequestLine(bytes);
    if (!echoed || echoed[1] !== sent.method || JSON.parse(`"${echoed[2]}"`) !== sent.url) {
      failures.push(`${key}: app saw ${echoed ? `${echoed[1]} ${echoed[2]}` : 'nothing'}, sent ${sent.method} ${sent.url}`);
    }
    await assertStillServing(server, key);
  }
  assert.equal(failures, [], failures.join('\n'));
});

test('one worker booted per server, none replaced', async () => {
  for (const pending of servers.values()) {
    const server = await pending;
    assert.is(server.count(/Booting worker/), 1, server.log);
    await assertStillServing(server, 'at the end');
  }
});

test.run();
