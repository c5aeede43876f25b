// The access log's format (src/log/access-format.ts): Gunicorn's atoms, the JSON form, and the
// escaping that keeps a client from forging or breaking a line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { importSource } from './helpers/unit.mjs';

const { compileAccessFormat, sentHeader, AccessFormatError, DEFAULT_ACCESS_FORMAT } = await importSource('src/log/access-format.ts');

function entry({ method = 'GET', url = '/items?page=2', headers = {}, status = 200, resHeaders = {}, head, bytes = 512, seconds = 0.0123456, remote = '203.0.113.9' } = {}) {
  return {
    req: { method, url, httpVersion: '1.1', headers },
    res: { statusCode: status, getHeader: (n) => resHeaders[n.toLowerCase()], _header: head },
    socket: { remoteAddress: remote },
    seconds, bytes, time: new Date(2026, 10, 24, 14, 27, 5),
  };
}

test('the default format: Gunicorn\'s common log line with referer and user agent', () => {
  const line = compileAccessFormat(DEFAULT_ACCESS_FORMAT)(entry({ headers: { referer: 'https://a.example/', 'user-agent': 'curl/8.5' } }));
  assert.match(line, /^203\.0\.113\.9 - - \[24\/Nov\/2026:14:27:05 [+-]\d{4}\] "GET \/items\?page=2 HTTP\/1\.1" 200 512 "https:\/\/a\.example\/" "curl\/8\.5"$/);
  assert.match(compileAccessFormat(DEFAULT_ACCESS_FORMAT)(entry({ bytes: 0 })), /" 200 - "-" "-"$/, 'no body: -; no referer or agent: -');
});

test('atoms: method, path, query, protocol, bytes, durations, pid, literal text kept around them', () => {
  const f = compileAccessFormat('[%(m)s|%(U)s|%(q)s|%(H)s|%(B)s|%(T)s|%(M)s|%(D)s|%(L)s|%(p)s] %(l)s');
  assert.is(f(entry({ seconds: 2.5004 })), `[GET|/items|page=2|HTTP/1.1|512|2|2500|2500400|2.500400|<${process.pid}>] -`);
  assert.is(compileAccessFormat('%(U)s%(q)s.')(entry({ url: '/plain' })), '/plain.');
});

test('headers: request %({name}i)s, response %({name}o)s from getHeader or from the head Node wrote', () => {
  const f = compileAccessFormat('%({X-Request-Id}i)s %({content-type}o)s %({x-served-by}o)s %({missing}i)s');
  const e = entry({
    headers: { 'x-request-id': 'abc' },
    resHeaders: { 'content-type': 'text/plain' },
    head: 'HTTP/1.1 200 OK\r\nX-Served-By:  w1\r\nContent-Length: 3\r\n\r\n',
  });
  assert.is(f(e), 'abc text/plain w1 -');
  assert.is(sentHeader(e.res, 'content-length'), '3');
  assert.is(sentHeader(entry().res, 'x-none'), undefined);
  assert.is(compileAccessFormat('%({accept}i)s')(entry({ headers: { accept: ['a/b', 'c/d'] } })), 'a/b, c/d');
});

test('control characters, quotes and backslashes from the client become \\xHH: one line, fields not closed early', () => {
  const f = compileAccessFormat('"%(r)s" "%(a)s" %(u)s %({x-note}i)s');
  const line = f(entry({
    url: '/a\nb',
    headers: {
      'user-agent': 'evil" 200 "\\x\u007f\u009b',
      authorization: `Basic ${Buffer.from('root\r\n127.0.0.1 - admin:secret').toString('base64')}`,
      'x-note': '\u0000\u001b[31m',
    },
  }));
  assert.is(line, '"GET /a\\x0Ab HTTP/1.1" "evil\\x22 200 \\x22\\x5Cx\\x7F\\x9B" root\\x0D\\x0A127.0.0.1 - admin \\x00\\x1B[31m');
  assert.not.match(line, /[\x00-\x1f\x7f]/);
});

test('%(u)s: the Basic auth user; other schemes and no credentials give -', () => {
  const u = compileAccessFormat('%(u)s');
  assert.is(u(entry({ headers: { authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` } })), 'alice');
  assert.is(u(entry({ headers: { authorization: 'Bearer abc' } })), '-');
  assert.is(u(entry()), '-');
});

test('json: one object per line, with the raw values escaped by JSON', () => {
  const line = compileAccessFormat('json')(entry({ url: '/q?x="1"\n', headers: { 'user-agent': 'ua' }, status: 404 }));
  assert.not.match(line, /\n/);
  const o = JSON.parse(line);
  assert.equal({ ...o, time: undefined, pid: undefined }, {
    time: undefined, remote: '203.0.113.9', method: 'GET', path: '/q', query: 'x="1"\n', protocol: 'HTTP/1.1', status: 404, bytes: 512,
    duration_s: 0.012346, referer: null, user_agent: 'ua', request_id: null, pid: undefined,
  });
  assert.is(o.pid, process.pid);
});

test('json: request_id from the request\'s X-Request-Id, else from the response\'s', () => {
  const json = compileAccessFormat('json');
  assert.is(JSON.parse(json(entry({ headers: { 'x-request-id': 'abc' }, resHeaders: { 'x-request-id': 'app' } }))).request_id, 'abc');
  assert.is(JSON.parse(json(entry({ resHeaders: { 'x-request-id': 'made-by-app' } }))).request_id, 'made-by-app');
  assert.is(JSON.parse(json(entry({ url: '/only-path' }))).query, null);
});

test('an unknown atom is refused when the format is compiled', () => {
  assert.throws(() => compileAccessFormat('%(h)s %(z)s'), (err) => err instanceof AccessFormatError && /%\(z\)s/.test(err.message));
  assert.is(compileAccessFormat('100%% %(s)s')(entry()), '100%% 200', 'text that is not an atom is kept as it is');
});

test.run();
