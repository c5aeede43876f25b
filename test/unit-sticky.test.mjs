// The --sticky routing policy (src/master/socketio/sticky.ts) without narwhal's processes: sessions
// go to their owner while it is ready, new ones to the ready worker with the fewest sessions,
// unreadable connections by client address; the request-line reader hands back every byte.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { importSource } from './helpers/unit.mjs';

const { StickyRouter, readHead } = await importSource('src/master/socketio/sticky.ts');
const { sessionIdOf } = await importSource('src/http/engine-io.ts');

const worker = (name) => ({ name });

test('sessionIdOf reads sid from a request line, and nothing else', () => {
  assert.is(sessionIdOf('GET /socket.io/?EIO=4&transport=polling&sid=Ab-cd_EF12345678901 HTTP/1.1'), 'Ab-cd_EF12345678901');
  assert.is(sessionIdOf('GET /socket.io/?sid=x&EIO=4 HTTP/1.1'), 'x');
  assert.is(sessionIdOf('GET /socket.io/?EIO=4&transport=polling HTTP/1.1'), null);
  assert.is(sessionIdOf('GET /path/sid=not-a-query HTTP/1.1'), null);
  assert.is(sessionIdOf('GET /?xsid=nope HTTP/1.1'), null);
});

test('a session goes to its owner while it is ready; new sessions to the worker with the fewest', () => {
  const [a, b, c] = [worker('a'), worker('b'), worker('c')];
  const r = new StickyRouter();
  r.learned(a, 's1', true);
  r.learned(a, 's2', true);
  r.learned(b, 's3', true);
  for (let i = 0; i < 5; i++) assert.is(r.pick({ sid: 's1', client: '1.2.3.4' }, [a, b, c], false), a);
  assert.is(r.pick({ sid: 's3', client: undefined }, [a, b, c], false), b);
  // No sid (a handshake): c owns none.
  assert.is(r.pick({ sid: null, client: undefined }, [a, b, c], false), c);
  r.learned(c, 's4', true);
  r.learned(c, 's5', true);
  assert.is(r.pick({ sid: null, client: undefined }, [a, b, c], false), b);
  assert.is(r.sessionCount(a), 2);
  assert.is(r.sessionCount(), 5);
});

test('a session whose owner is not ready is forgotten and routed as new; an ended one too', () => {
  const [a, b] = [worker('a'), worker('b')];
  const r = new StickyRouter();
  r.learned(a, 's1', true);
  assert.is(r.pick({ sid: 's1', client: undefined }, [b], false), b, 'owner draining: another worker answers');
  assert.not.ok(r.knows('s1'));
  r.learned(b, 's2', true);
  r.learned(b, 's2', false);
  assert.not.ok(r.knows('s2'));
  r.learned(a, 's3', true);
  r.learned(b, 's3', false);
  assert.ok(r.knows('s3'), 'only the owner ends its session');
  r.forget(a);
  assert.not.ok(r.knows('s3'));
  assert.is(r.sessionCount(a), 0);
});

test('without a readable request (TLS in the workers) a client address always maps to the same worker', () => {
  const ready = [worker('a'), worker('b'), worker('c')];
  const r = new StickyRouter();
  const seen = new Set();
  for (let i = 0; i < 50; i++) {
    const first = r.pick({ sid: null, client: `10.0.0.${i}` }, ready, true);
    assert.is(r.pick({ sid: null, client: `10.0.0.${i}` }, ready, true), first);
    seen.add(first);
  }
  assert.is(seen.size, 3, 'clients spread over the workers');
});

test('sessions nobody asked for in a long time are swept', () => {
  const a = worker('a');
  const r = new StickyRouter();
  r.learned(a, 'old', true, 0);
  r.learned(a, 'new', true, 1000);
  r.sweep(1000 + 600, 1000);
  assert.ok(r.knows('new'));
  assert.not.ok(r.knows('old'));
  assert.is(r.sessionCount(a), 1);
});

/** A connected pair of sockets on 127.0.0.1: [the server's side, the client's]. */
async function pair() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const client = net.connect(server.address().port, '127.0.0.1');
  const socket = await accepted;
  server.close();
  return [socket, client];
}

test('readHead: the request line in pieces, the PROXY preamble, every byte kept', async () => {
  const [socket, client] = await pair();
  const head = readHead(socket, { preamble: true, tls: false });
  client.write('PROXY TCP4 192.0.2.9 127.0.0.1 4000 80\r\nGET /socket.io/?EIO=4&tra');
  setTimeout(() => client.write('nsport=polling&sid=abc HTTP/1.1\r\nHost: x\r\n'), 30);
  const h = await head;
  assert.is(h.sid, 'abc');
  assert.is(h.client, '192.0.2.9');
  assert.is(h.bytes.toString('latin1'), 'PROXY TCP4 192.0.2.9 127.0.0.1 4000 80\r\nGET /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nHost: x\r\n');
  assert.ok(socket.isPaused());
  client.destroy();
  socket.destroy();
});

test('readHead: under TLS only the preamble is read; a silent client is handed over after the timeout', async () => {
  const [socket, client] = await pair();
  const head = readHead(socket, { preamble: true, tls: true });
  client.write('PROXY TCP4 192.0.2.10 127.0.0.1 4000 443\r\n\x16\x03\x01');
  const h = await head;
  assert.is(h.client, '192.0.2.10');
  assert.is(h.sid, null);
  const [quiet, other] = await pair();
  const q = await readHead(quiet, { preamble: false, tls: false, timeoutMs: 100 });
  assert.is(q.bytes.length, 0);
  for (const s of [socket, client, quiet, other]) s.destroy();
});

test.run();
