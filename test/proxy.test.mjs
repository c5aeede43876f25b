// --proxy-protocol and --forwarded-allow-ips against running servers (1 worker, the echo app,
// which reports the remote address its socket gives): Gunicorn's pp_* corpus files in both
// distribution modes, the client address a v1 / v2 preamble carries (in the app and in the
// access log's %(h)s), and X-Forwarded-* / Forwarded removed from requests of untrusted peers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, killAll, rawExchange, request, runCli, sleep, startServer, tempApp, waitFor } from './helpers/server.mjs';
import { corpusFiles, statuses } from './helpers/corpus.mjs';

const ECHO = join(FIXTURES, 'echo.js');
const MODES = ['round-robin', 'shared'];

test.after(killAll);

/** The JSON bodies the echo app sent back in a raw reply stream. */
function echoes(data) {
  return [...data.matchAll(/\r\n\r\n(\{"method".*?"remotePort":(?:\d+|null)\})/g)].map((m) => JSON.parse(m[1]));
}

/** Sends `parts` one after another (a pause between), collects the reply until close or `ms`. */
function sendParts(port, parts, ms = 1500) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    let closed = false;
    const finish = () => { clearTimeout(timer); socket.destroy(); resolve({ data: Buffer.concat(chunks).toString('latin1'), closed }); };
    const timer = setTimeout(finish, ms);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => { closed = true; finish(); });
    socket.on('connect', async () => {
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        await sleep(60);
      }
    });
  });
}

function v2(command, family, addresses, tlvs = Buffer.alloc(0)) {
  const sig = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const body = Buffer.concat([addresses, tlvs]);
  const head = Buffer.from([0x20 | command, family, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([sig, head, body]);
}

const GET = (path) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);

for (const mode of MODES) {
  test(`--proxy-protocol (${mode}): Gunicorn's pp_* corpus; preambles set the remote address`, async () => {
    const logfile = join(tempApp({}), 'access.log');
    const server = await startServer(['-w', '1', '--distribution', mode, '--proxy-protocol',
      '--access-logfile', logfile, '--access-logformat', '%(h)s %(r)s %(s)s', ECHO], { workers: 1 });
    const [worker] = server.workers();

    for (const { name, bytes } of corpusFiles('valid').filter((f) => f.name.startsWith('pp_'))) {
      const { data } = await rawExchange(server.port, bytes, 1000);
      const codes = statuses(data);
      assert.ok(codes.length > 0 && codes.every((c) => c >= 200 && c < 300), `valid/${name}: ${JSON.stringify(data.slice(0, 120))}`);
      assert.is(codes.length, name === 'pp_02.http' ? 2 : 1, `valid/${name}: responses`);
    }
    for (const { name, bytes } of corpusFiles('invalid').filter((f) => f.name.startsWith('pp_'))) {
      const { data, closed } = await rawExchange(server.port, bytes, 1000);
      const codes = statuses(data);
      assert.ok(codes.every((c) => c >= 400 && c < 500) && (codes.length > 0 || closed), `invalid/${name}: ${JSON.stringify(data)}`);
      assert.not.ok(data.includes('"pid":'), `invalid/${name} reached the app`);
    }

    // What the app sees, for each kind of preamble.
    const cases = [
      ['v1 TCP4', Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'), '192.168.0.1', 56324],
      ['v1 TCP6', Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::8 4000 443\r\n'), '2001:db8::7', 4000],
      ['v1 UNKNOWN', Buffer.from('PROXY UNKNOWN\r\n'), '127.0.0.1', null],
      ['v2 TCP4', v2(1, 0x11, Buffer.from([10, 1, 2, 3, 10, 0, 0, 1, 0x30, 0x39, 0x01, 0xbb])), '10.1.2.3', 12345],
      ['v2 TCP6 + TLV', v2(1, 0x21, Buffer.concat([Buffer.from('20010db8000000000000000000000001', 'hex'),
        Buffer.from('20010db8000000000000000000000002', 'hex'), Buffer.from([0xd4, 0x31, 0x00, 0x50])]), Buffer.from([0x04, 0x00, 0x01, 0x00])), '2001:db8::1', 54321],
      ['v2 LOCAL', v2(0, 0x00, Buffer.alloc(0)), '127.0.0.1', null],
      ['none', Buffer.alloc(0), '127.0.0.1', null],
    ];
    for (const [what, preamble, address, port] of cases) {
      // Sent in one write, and split inside the preamble and between it and the request.
      const path = `/${what.replace(/[^a-z0-9]+/gi, '-')}`;
      const cut = Math.max(1, preamble.length >> 1);
      const sends = preamble.length ? [[Buffer.concat([preamble, GET(path)])], [preamble.subarray(0, cut), preamble.subarray(cut), GET(path)]] : [[GET(path)]];
      for (const parts of sends) {
        const { data } = await sendParts(server.port, parts);
        const [seen] = echoes(data);
        assert.ok(seen, `${what}: no answer (${JSON.stringify(data.slice(0, 120))})`);
        assert.is(seen.remoteAddress, address, `${what}: remoteAddress`);
        if (port !== null) assert.is(seen.remotePort, port, `${what}: remotePort`);
        assert.is(seen.url, path);
      }
    }

    // A preamble with an unsupported command, a bad version, or a v1 line too long: closed.
    for (const bad of [v2(2, 0x11, Buffer.alloc(12)), Buffer.concat([v2(1, 0x11, Buffer.alloc(12)).subarray(0, 12), Buffer.from([0x31, 0x11, 0, 12]), Buffer.alloc(12)]),
      Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}\r\n`), Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n')]) {
      const { data, closed } = await rawExchange(server.port, Buffer.concat([bad, GET('/bad')]), 1000);
      assert.ok(closed && !data.includes('"pid":'), `bad preamble ${JSON.stringify(bad.toString('latin1'))}: ${JSON.stringify(data)}`);
    }

    // The access log's %(h)s is the client the preamble named.
    await waitFor(() => /2001:db8::1 GET \/proxy\/v2\/ipv6 HTTP\/1\.1 200/.test(readFileSync(logfile, 'utf8')), 5000, 'access log lines');
    const log = readFileSync(logfile, 'utf8');
    assert.match(log, /^192\.168\.0\.1 GET \/stuff\/here\?foo=bar HTTP\/1\.0 200$/m);
    assert.match(log, /^192\.168\.1\.10 GET \/proxy\/v2\/ipv4 HTTP\/1\.1 200$/m);
    assert.match(log, /^127\.0\.0\.1 GET \/no\/proxy\/header HTTP\/1\.1 200$/m);

    // The worker that read all of it is the first one, and still serving.
    assert.equal(server.workers(), [worker]);
    const res = await request(server.port, '/after');
    assert.is(res.status, 200);
    assert.is(JSON.parse(res.body).pid, worker);
    assert.is(server.count(/Booting worker/), 1);
  });
}

test('--proxy-protocol: a preamble from a peer not in forwarded_allow_ips is refused', async () => {
  const server = await startServer(['-w', '1', '--proxy-protocol', '--forwarded-allow-ips', '10.0.0.1', ECHO], { workers: 1 });
  const { data, closed } = await rawExchange(server.port, Buffer.concat([Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'), GET('/spoof')]), 1000);
  const codes = statuses(data);
  assert.ok(!data.includes('"pid":') && (codes.length > 0 ? codes.every((c) => c >= 400 && c < 500) : closed), JSON.stringify(data));
  const res = await request(server.port, '/plain');
  assert.is(res.status, 200);
  assert.is(JSON.parse(res.body).remoteAddress, '127.0.0.1');
});

const FORWARDED = {
  'X-Forwarded-For': '203.0.113.9',
  'X-Forwarded-Proto': 'https',
  'X-Forwarded-Host': 'example.com',
  'X-Forwarded-Port': '443',
  Forwarded: 'for=203.0.113.9;proto=https',
};
const NAMES = Object.keys(FORWARDED).map((n) => n.toLowerCase());

test('forwarded headers from 127.0.0.1 pass through with the default allow list', async () => {
  const server = await startServer(['-w', '1', ECHO], { workers: 1 });
  const res = await request(server.port, '/fwd', { headers: { ...FORWARDED, 'X-Other': 'kept' } });
  const { headers } = JSON.parse(res.body);
  for (const name of NAMES) assert.is(headers[name], FORWARDED[Object.keys(FORWARDED).find((n) => n.toLowerCase() === name)], name);
  assert.is(headers['x-other'], 'kept');
});

test('--forwarded-allow-ips 10.0.0.1: forwarded headers of other peers are removed, others kept', async () => {
  const server = await startServer(['-w', '1', '--forwarded-allow-ips', '10.0.0.1', ECHO], { workers: 1 });
  const res = await request(server.port, '/fwd', { headers: { ...FORWARDED, 'X-Other': 'kept', 'X-Forwarded-Ssl': 'on' } });
  const { headers } = JSON.parse(res.body);
  for (const name of NAMES) assert.is(headers[name], undefined, `${name} passed through`);
  assert.is(headers['x-other'], 'kept');
  assert.is(headers['x-forwarded-ssl'], 'on');
  // Odd spellings, repeats and keep-alive: every request on the connection is stripped.
  const raw = 'GET /a HTTP/1.1\r\nHost: x\r\nX-FORWARDED-FOR: 1.1.1.1\r\nx-forwarded-for: 2.2.2.2\r\nFORWARDED: for=x\r\nAccept: */*\r\n\r\n'
    + 'GET /b HTTP/1.1\r\nHost: x\r\nx-Forwarded-Proto: https\r\nConnection: close\r\n\r\n';
  const { data } = await rawExchange(server.port, Buffer.from(raw), 2000);
  const seen = echoes(data);
  assert.is(seen.length, 2, data);
  for (const { headers: h } of seen) for (const name of NAMES) assert.is(h[name], undefined, `${name} in ${JSON.stringify(h)}`);
  assert.is(seen[0].headers.accept, '*/*');
});

test('--forwarded-allow-ips with a CIDR that holds 127.0.0.1 trusts it', async () => {
  const server = await startServer(['-w', '1', '--forwarded-allow-ips', '10.0.0.0/8,127.0.0.0/8', ECHO], { workers: 1 });
  const res = await request(server.port, '/fwd', { headers: FORWARDED });
  assert.is(JSON.parse(res.body).headers['x-forwarded-for'], '203.0.113.9');
});

test('--forwarded-allow-ips refuses a bad entry before binding', async () => {
  const r = await runCli(['--forwarded-allow-ips', '10.0.0.1,nope', '--check-config', ECHO]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /forwarded_allow_ips/);
  assert.match(r.stderr, /nope/);
  const ok = await runCli(['--forwarded-allow-ips', '*', '--proxy-protocol', '--print-config']);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /forwarded_allow_ips = \*/);
  assert.match(ok.stdout, /proxy_protocol = true/);
});

test.run();
