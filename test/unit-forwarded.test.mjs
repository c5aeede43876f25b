// forwarded_allow_ips and the stripping of forwarded headers (src/http/forwarded.ts): which peers
// are trusted, and what an untrusted peer's request keeps.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { importSource } from './helpers/unit.mjs';

const { isAllowEntry, peerMatcher, stripForwarded } = await importSource('src/http/forwarded.ts');

test('isAllowEntry: *, IPv4, IPv6 and CIDR blocks; host names, bad prefixes and junk refused', () => {
  for (const ok of ['*', '127.0.0.1', '::1', '10.0.0.0/8', '2001:db8::/32', '0.0.0.0/0', '192.0.2.1/32']) assert.ok(isAllowEntry(ok), ok);
  for (const bad of ['localhost', '10.0.0.0/33', '::/129', '10.0.0/8', '1.2.3.4/', '/8', '', '10.0.0.1 ']) assert.not.ok(isAllowEntry(bad), bad);
});

test('peerMatcher: exact addresses, CIDR blocks, IPv6 spellings, IPv4-mapped peers; Unix peers trusted', () => {
  const trusted = peerMatcher(['127.0.0.1', '10.1.0.0/16', '2001:db8::1', 'fd00::/8']);
  for (const peer of ['127.0.0.1', '10.1.255.3', '::ffff:10.1.0.9', '::ffff:127.0.0.1', '2001:db8::1', '2001:0db8:0:0:0:0:0:1', 'fd12::5', undefined]) {
    assert.ok(trusted(peer), String(peer));
  }
  for (const peer of ['127.0.0.2', '10.2.0.1', '::ffff:10.2.0.1', '2001:db8::2', 'fe80::1', '::1', 'not-an-ip', '']) {
    assert.not.ok(trusted(peer), peer);
  }
  assert.ok(peerMatcher(['*'])('198.51.100.7'));
  assert.not.ok(peerMatcher([])('127.0.0.1'));
});

/** A request as stripForwarded sees it: raw name/value pairs and the parsed headers. */
function request(pairs) {
  const headers = {};
  const headersDistinct = {};
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i].toLowerCase();
    (headersDistinct[name] ??= []).push(pairs[i + 1]);
    headers[name] = headers[name] === undefined ? pairs[i + 1] : `${headers[name]}, ${pairs[i + 1]}`;
  }
  return { rawHeaders: [...pairs], headers, headersDistinct };
}

test('stripForwarded: Forwarded and X-Forwarded-{For,Proto,Host,Port}, any case, wherever they are; the rest kept in order', () => {
  const req = request([
    'X-Forwarded-For', '6.6.6.6', 'Host', 'example.com', 'forwarded', 'for=6.6.6.6', 'X-FORWARDED-PROTO', 'https',
    'X-Request-Id', 'abc', 'x-forwarded-host', 'evil', 'X-Forwarded-Port', '1', 'X-Forwarded-Fort', 'kept', 'x-forwarded-for', '7.7.7.7',
  ]);
  stripForwarded(req);
  assert.equal(req.rawHeaders, ['Host', 'example.com', 'X-Request-Id', 'abc', 'X-Forwarded-Fort', 'kept']);
  assert.equal(Object.keys(req.headers).sort(), ['host', 'x-forwarded-fort', 'x-request-id']);
  assert.equal(Object.keys(req.headersDistinct).sort(), ['host', 'x-forwarded-fort', 'x-request-id']);
});

test('stripForwarded: a request without forwarded headers is left as it is', () => {
  const req = request(['Host', 'a', 'X-Forwarded', 'x', 'Forwarded-For', 'y']);
  const before = structuredClone(req);
  stripForwarded(req);
  assert.equal(req, before);
});

test('stripForwarded on a real node:http request: headers, headersDistinct and rawHeaders agree afterwards', async () => {
  const server = http.createServer((req, res) => {
    stripForwarded(req);
    res.end(JSON.stringify({ raw: req.rawHeaders, headers: req.headers, distinct: Object.keys(req.headersDistinct).sort() }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const body = await new Promise((resolve, reject) => {
      const r = http.get({
        port: server.address().port, host: '127.0.0.1', agent: false,
        headers: { 'X-Forwarded-For': '6.6.6.6', Forwarded: 'for=6.6.6.6', 'X-Keep': 'yes' },
      }, (res) => { let s = ''; res.on('data', (c) => { s += c; }); res.on('end', () => resolve(JSON.parse(s))); });
      r.on('error', reject);
    });
    assert.is(body.headers['x-keep'], 'yes');
    assert.is(body.headers['x-forwarded-for'], undefined);
    assert.is(body.headers.forwarded, undefined);
    assert.not.ok(body.raw.some((h) => /forwarded/i.test(h)), body.raw.join(' '));
    assert.not.ok(body.distinct.some((h) => /forwarded/.test(h)));
  } finally {
    server.close();
  }
});

test.run();
