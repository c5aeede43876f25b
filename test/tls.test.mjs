// --certfile / --keyfile: workers terminate TLS in every distribution mode. A throwaway
// self-signed certificate for 127.0.0.1 is made with the openssl CLI when this file runs.
// HTTPS is served (round-robin and shared), plain HTTP to the TLS port never reaches the app,
// a { fetch } app sees https: URLs, a PROXY preamble before the handshake gives the client's
// address, TERM finishes a slow HTTPS request and closes idle keep-alive TLS connections, and a
// bad certificate or a lone --certfile is refused before any worker starts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate } from 'node:crypto';
import { chmodSync } from 'node:fs';
import https from 'node:https';
import { Duplex } from 'node:stream';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { FIXTURES, killAll, rawExchange, runCli, sleep, startServer, tempApp } from './helpers/server.mjs';
import { makeCertificate } from './helpers/certs.mjs';

const PID_APP = join(FIXTURES, 'pid.js');
const ECHO = join(FIXTURES, 'echo.js');

test.after(killAll);

const dir = tempApp({
  'garbage.pem': 'this is not a certificate\n',
  'fetch-proto.mjs': 'export default { fetch: (request) => new Response(`${new URL(request.url).protocol} pid=${process.pid}`) };\n',
});
const { cert: CERT, key: KEY, ca } = makeCertificate(dir);
const FINGERPRINT = new X509Certificate(ca).fingerprint256;
const TLS_ARGS = ['--certfile', CERT, '--keyfile', KEY];

/** One HTTPS request to 127.0.0.1, trusting only the test certificate; checks the peer's. */
function get(port, path = '/', { agent = false, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, ca, agent, timeout: timeoutMs }, (res) => {
      const peer = res.socket.getPeerCertificate();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, fingerprint: peer.fingerprint256 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}

const lines = (s) => s.split('\n').filter((l) => l.trim() !== '');

for (const mode of ['round-robin', 'shared']) {
  test(`${mode}: HTTPS is served by the workers with the certificate given`, async () => {
    const server = await startServer(['-w', '2', '--distribution', mode, ...TLS_ARGS, PID_APP], { workers: 2 });
    try {
      assert.match(server.log, /Listening at: https:\/\/127\.0\.0\.1:\d+/);
      const pids = new Set();
      for (let i = 0; i < 6; i++) {
        const res = await get(server.port);
        assert.is(res.status, 200);
        assert.is(res.fingerprint, FINGERPRINT);
        const pid = /pid=(\d+)/.exec(res.body)?.[1];
        assert.ok(pid, res.body);
        pids.add(Number(pid));
      }
      assert.ok(pids.size >= 1 && !pids.has(server.pid), 'answered by workers, not the master');
      // Several requests on one keep-alive TLS connection.
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; i < 3; i++) assert.is((await get(server.port, '/', { agent })).status, 200);
      } finally {
        agent.destroy();
      }
      // Plain HTTP to the TLS port fails its handshake and never reaches the app.
      const plain = await rawExchange(server.port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 2000);
      assert.not.ok(plain.data.includes('pid='), plain.data);
      assert.ok(plain.closed, 'the connection is closed');
      assert.is((await get(server.port)).status, 200, 'still serving');
    } finally {
      assert.is((await server.stop()).code, 0);
    }
  });
}

test('a { fetch } app sees https: request URLs', async () => {
  const server = await startServer(['-w', '1', ...TLS_ARGS, join(dir, 'fetch-proto.mjs')], { workers: 1 });
  try {
    const res = await get(server.port);
    assert.is(res.status, 200);
    assert.match(res.body, /^https: pid=\d+/);
  } finally {
    await server.stop();
  }
});

/**
 * An HTTPS request sent after a PROXY v1 preamble. `together`: the preamble and the ClientHello
 * go out in one write (as a load balancer may coalesce them); else the preamble goes first.
 */
function proxiedGet(port, together) {
  const preamble = Buffer.from('PROXY TCP4 203.0.113.7 127.0.0.1 4567 80\r\n');
  return new Promise((resolve, reject) => {
    const raw = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => { raw.destroy(); reject(new Error('proxied request timed out')); }, 10000);
    let socket = raw;
    if (together) {
      let first = true;
      socket = new Duplex({
        write(chunk, _enc, cb) {
          raw.write(first ? Buffer.concat([preamble, chunk]) : chunk, cb);
          first = false;
        },
        read() {},
        final(cb) { raw.end(); cb(); },
      });
      raw.on('data', (d) => socket.push(d));
      raw.on('end', () => socket.push(null));
    }
    raw.on('error', reject);
    const start = () => {
      if (!together) raw.write(preamble);
      const secure = tls.connect({ socket, ca, host: '127.0.0.1' }, () => {
        secure.write('GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      });
      let data = '';
      secure.setEncoding('utf8');
      secure.on('data', (c) => {
        data += c;
        const body = data.slice(data.indexOf('\r\n\r\n') + 4);
        if (data.includes('\r\n\r\n') && body.endsWith('}')) {
          clearTimeout(timer);
          secure.destroy();
          raw.destroy();
          resolve(JSON.parse(body));
        }
      });
      secure.on('error', reject);
    };
    if (together) start();
    else raw.on('connect', start);
  });
}

for (const mode of ['round-robin', 'shared']) {
  test(`${mode}: a PROXY preamble before the TLS handshake gives the app the client address`, async () => {
    const server = await startServer(['-w', '1', '--distribution', mode, '--proxy-protocol', '--forwarded-allow-ips', '127.0.0.1', ...TLS_ARGS, ECHO], { workers: 1 });
    try {
      for (const together of [false, true]) {
        const echo = await proxiedGet(server.port, together);
        assert.is(echo.remoteAddress, '203.0.113.7', `together: ${together}`);
        assert.is(echo.remotePort, 4567);
      }
      // Without a preamble, the same listener serves HTTPS with the real peer.
      const direct = JSON.parse((await get(server.port)).body);
      assert.is(direct.remoteAddress, '127.0.0.1');
    } finally {
      await server.stop();
    }
  });
}

for (const mode of ['round-robin', 'shared']) {
  test(`${mode}: TERM finishes a slow HTTPS request, closes idle TLS keep-alive connections, exits 0`, async () => {
    const server = await startServer(['-w', '1', '--distribution', mode, '--keep-alive', '60', '--graceful-timeout', '20', ...TLS_ARGS, PID_APP], { workers: 1 });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // An idle keep-alive connection that has served a request: closed at once on TERM.
      assert.is((await get(server.port, '/', { agent })).status, 200);
      const slow = get(server.port, '/slow?ms=1500');
      await sleep(400);
      const t0 = Date.now();
      server.signal('SIGTERM');
      const res = await slow;
      assert.is(res.status, 200);
      assert.match(res.body, /pid=\d+/);
      const { code } = await server.exit;
      assert.is(code, 0);
      // Not held by the idle keep-alive connection (60 s) nor the graceful timeout (20 s).
      assert.ok(Date.now() - t0 < 6000, `exited after ${Date.now() - t0} ms`);
    } finally {
      agent.destroy();
      await server.stop();
    }
  });
}

test('--certfile without --keyfile (and the reverse): exit 2, one line naming the setting', async () => {
  const a = await runCli(['--certfile', CERT, PID_APP]);
  assert.is(a.code, 2);
  assert.is(lines(a.stderr).length, 1, a.stderr);
  assert.match(a.stderr, /keyfile/);
  const b = await runCli(['--keyfile', KEY, PID_APP]);
  assert.is(b.code, 2);
  assert.is(lines(b.stderr).length, 1, b.stderr);
  assert.match(b.stderr, /certfile/);
});

test('an unreadable, garbage or mismatched certificate: exit 1, one line, no worker booted', async () => {
  const unreadable = join(dir, 'unreadable.pem');
  const cases = [
    [['--certfile', join(dir, 'missing.pem'), '--keyfile', KEY], /cannot read certfile .*missing\.pem/],
    [['--certfile', join(dir, 'garbage.pem'), '--keyfile', KEY], /invalid certfile .*garbage\.pem/],
    [['--certfile', CERT, '--keyfile', join(dir, 'garbage.pem')], /invalid keyfile .*garbage\.pem/],
    [['--certfile', CERT, '--keyfile', join(dir, 'other-key.pem')], /not the private key of certfile/],
  ];
  // A file without read permission (root reads it anyway: only checked when not root).
  if (process.getuid?.() !== 0) {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'unreadable-key.pem', '-out', 'unreadable.pem', '-days', '1', '-subj', '/CN=x']);
    chmodSync(unreadable, 0o000);
    cases.push([['--certfile', unreadable, '--keyfile', join(dir, 'unreadable-key.pem')], /cannot read certfile .*unreadable\.pem/]);
  }
  for (const [args, re] of cases) {
    const r = await runCli(['-b', '127.0.0.1:0', '-w', '1', ...args, PID_APP]);
    assert.is(r.code, 1, r.stderr);
    assert.is(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, re);
    assert.not.ok(/Booting worker|Listening at/.test(r.stderr + r.stdout), r.stderr);
  }
});

test.run();
