// Mutual TLS (--ca-certs, --cert-reqs none|optional|required) and the TLS options (--ciphers,
// --tls-min-version, an encrypted key with --keyfile-passphrase-file), over HTTP/1.1 and HTTP/2;
// bad combinations refused before binding; certificates rotated as a Kubernetes secret volume
// does it (an atomic symlink swap) and picked up on HUP. Every certificate is made here with
// openssl: a "good" CA signs the server's and alice's certificates, an "other" CA mallory's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import tls from 'node:tls';
import { join } from 'node:path';
import { FIXTURES, killAll, runCli, startServer, tempApp, waitFor } from './helpers/server.mjs';
import { encryptKey, makeCa, makeSigned } from './helpers/certs.mjs';
import { curlGet } from './helpers/h2.mjs';

test.after(killAll);

const dir = tempApp({ 'garbage.pem': 'not a certificate\n' });
const good = makeCa(dir, 'good');
const other = makeCa(dir, 'other');
const server = makeSigned(dir, good, 'server', { subject: '/CN=127.0.0.1' });
const alice = makeSigned(dir, good, 'alice', { client: true, subject: '/O=Acme/OU=payments/CN=alice' });
const mallory = makeSigned(dir, other, 'mallory', { client: true });
const INSPECT = join(FIXTURES, 'h2', 'inspect.js');
const TLS = ['--certfile', server.cert, '--keyfile', server.key];
const MTLS = [...TLS, '--ca-certs', good.cert];
const TRUST = ['--cacert', good.cert];
const AS_ALICE = ['--cert', alice.cert, '--key', alice.key];
const AS_MALLORY = ['--cert', mallory.cert, '--key', mallory.key];
const lines = (s) => s.split('\n').filter((l) => l.trim() !== '');
const url = (s, path = '/') => `https://127.0.0.1:${s.port}${path}`;

test('cert_reqs required: no certificate or one from another CA fails the handshake and never reaches the app; a good one is served over h2 and HTTP/1.1, the app and the access log see its subject', async () => {
  const access = join(dir, 'access-required.log');
  const s = await startServer(['-w', '1', ...MTLS, '--cert-reqs', 'required', '--access-logfile', access,
    '--access-logformat', '"%(r)s" %(s)s %(S)s', INSPECT], { workers: 1 });
  try {
    for (const protocol of ['--http2', '--http1.1']) {
      const anonymous = await curlGet(url(s, '/anonymous'), [protocol, ...TRUST]);
      assert.is.not(anonymous.code, 0, `${protocol}: refused without a certificate`);
      assert.is(anonymous.status, 0);
      const stranger = await curlGet(url(s, '/stranger'), [protocol, ...TRUST, ...AS_MALLORY]);
      assert.is.not(stranger.code, 0, `${protocol}: refused with another CA's certificate`);
      const r = await curlGet(url(s, '/alice'), [protocol, ...TRUST, ...AS_ALICE]);
      assert.is(r.status, 200, r.stderr);
      const seen = JSON.parse(r.body);
      assert.equal([seen.subject, seen.authorized, seen.httpVersion], ['alice', true, protocol === '--http2' ? '2.0' : '1.1']);
    }
    await waitFor(() => existsSync(access) && lines(readFileSync(access, 'utf8')).length >= 2, 5000, 'two access log lines');
    assert.equal(lines(readFileSync(access, 'utf8')), [
      '"GET /alice HTTP/2.0" 200 CN=alice,OU=payments,O=Acme',
      '"GET /alice HTTP/1.1" 200 CN=alice,OU=payments,O=Acme',
    ], 'only alice reached the app');
  } finally {
    await s.stop();
  }
});

test('cert_reqs optional: a client without a certificate is served (not authorized), one from another CA is refused', async () => {
  const s = await startServer(['-w', '1', ...MTLS, '--cert-reqs', 'optional', INSPECT], { workers: 1 });
  try {
    const anonymous = JSON.parse((await curlGet(url(s), ['--http2', ...TRUST])).body);
    assert.equal([anonymous.authorized, anonymous.subject], [false, null]);
    const signed = JSON.parse((await curlGet(url(s), ['--http2', ...TRUST, ...AS_ALICE])).body);
    assert.equal([signed.authorized, signed.subject], [true, 'alice']);
    const stranger = await curlGet(url(s), ['--http2', ...TRUST, ...AS_MALLORY]);
    assert.is(stranger.status, 0, stranger.body);
    assert.is.not(stranger.code, 0);
  } finally {
    await s.stop();
  }
});

test('--tls-min-version TLSv1.3 refuses a TLS 1.2 client; --ciphers restricts the suites', async () => {
  const modern = await startServer(['-w', '1', ...TLS, '--tls-min-version', 'TLSv1.3', INSPECT], { workers: 1 });
  try {
    assert.is((await curlGet(url(modern), TRUST)).status, 200);
    const old = await curlGet(url(modern), [...TRUST, '--tls-max', '1.2']);
    assert.is.not(old.code, 0, 'TLS 1.2 refused');
  } finally {
    await modern.stop();
  }
  const suite = 'ECDHE-ECDSA-AES128-GCM-SHA256';
  const strict = await startServer(['-w', '1', ...TLS, '--ciphers', `${suite}:TLS_AES_128_GCM_SHA256`, INSPECT], { workers: 1 });
  try {
    assert.is((await curlGet(url(strict), [...TRUST, '--tls-max', '1.2', '--ciphers', suite])).status, 200);
    const refused = await curlGet(url(strict), [...TRUST, '--tls-max', '1.2', '--ciphers', 'ECDHE-ECDSA-AES256-GCM-SHA384']);
    assert.is.not(refused.code, 0, 'a suite not in --ciphers is refused');
    assert.is((await curlGet(url(strict), [...TRUST, '--tls13-ciphers', 'TLS_AES_128_GCM_SHA256'])).status, 200);
    assert.is.not((await curlGet(url(strict), [...TRUST, '--tls13-ciphers', 'TLS_AES_256_GCM_SHA384'])).code, 0);
  } finally {
    await strict.stop();
  }
});

test('an encrypted private key is served with its passphrase read from a file; without it or with a wrong one, refused before binding', async () => {
  const encrypted = encryptKey(dir, server.key, 'server-key-encrypted.pem', 'correct horse');
  writeFileSync(join(dir, 'passphrase'), 'correct horse\n');
  writeFileSync(join(dir, 'wrong-passphrase'), 'battery staple\n');
  const s = await startServer(['-w', '1', '--certfile', server.cert, '--keyfile', encrypted, '--keyfile-passphrase-file', join(dir, 'passphrase'), INSPECT], { workers: 1 });
  try {
    assert.is((await curlGet(url(s), ['--http2', ...TRUST])).status, 200);
  } finally {
    await s.stop();
  }
  const missing = await runCli(['-b', '127.0.0.1:0', '--certfile', server.cert, '--keyfile', encrypted, INSPECT]);
  assert.is(missing.code, 2, missing.stderr);
  assert.is(lines(missing.stderr).length, 1, missing.stderr);
  assert.match(missing.stderr, /keyfile .* is encrypted and keyfile_passphrase_file is not set/);
  const wrong = await runCli(['-b', '127.0.0.1:0', '--certfile', server.cert, '--keyfile', encrypted, '--keyfile-passphrase-file', join(dir, 'wrong-passphrase'), INSPECT]);
  assert.is(wrong.code, 1, wrong.stderr);
  assert.is(lines(wrong.stderr).length, 1, wrong.stderr);
  assert.match(wrong.stderr, /cannot decrypt keyfile .* with the passphrase in keyfile_passphrase_file/);
  assert.not.match(wrong.stderr + wrong.stdout, /Booting worker|Listening at/);
});

test('TLS settings that do not fit together are refused before binding: one line naming the setting, exit 2 (a bad file: exit 1)', async () => {
  const cases = [
    [['--ca-certs', good.cert], 2, /^narwhal: error: ca_certs is set .* but TLS is off: it needs certfile and keyfile/],
    [['--cert-reqs', 'required'], 2, /^narwhal: error: cert_reqs is set \(required\) but TLS is off/],
    [['--ciphers', 'ECDHE-RSA-AES128-GCM-SHA256'], 2, /^narwhal: error: ciphers is set .* but TLS is off/],
    [['--tls-min-version', '1.3'], 2, /^narwhal: error: tls_min_version is set \(TLSv1\.3\) but TLS is off/],
    [[...TLS, '--cert-reqs', 'required'], 2, /^narwhal: error: cert_reqs is required but ca_certs is not set/],
    [[...MTLS], 2, /^narwhal: error: ca_certs is set .* but cert_reqs is none/],
    [[...TLS, '--ciphers', 'NOT-A-CIPHER'], 2, /^narwhal: error: invalid value for ciphers \(--ciphers\): "NOT-A-CIPHER"; allowed: an OpenSSL cipher list/],
    [[...TLS, '--tls-min-version', 'TLSv1.1'], 2, /^narwhal: error: invalid value for tls_min_version \(--tls-min-version\): "TLSv1.1"; allowed: TLSv1\.2 or TLSv1\.3/],
    [[...TLS, '--tls-min-version', 'TLSv1.3', '--ciphers', 'ECDHE-RSA-AES128-GCM-SHA256'], 2, /^narwhal: error: ciphers .* names no TLS 1\.3 suite/],
    [[...TLS, '--cert-reqs', 'sometimes'], 2, /^narwhal: error: invalid value for cert_reqs \(--cert-reqs\): "sometimes"; allowed: one of none, optional, required/],
    [[...TLS, '--ca-certs', join(dir, 'garbage.pem'), '--cert-reqs', 'required'], 1, /^narwhal: error: invalid ca_certs .*garbage\.pem: no PEM certificate in it/],
    [[...TLS, '--ca-certs', join(dir, 'missing.pem'), '--cert-reqs', 'required'], 1, /^narwhal: error: cannot read ca_certs .*missing\.pem/],
  ];
  for (const [args, code, re] of cases) {
    const r = await runCli(['-b', '127.0.0.1:0', '-w', '1', ...args, INSPECT]);
    assert.is(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.is(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, re);
  }
  // --check-config runs the same checks.
  const check = await runCli(['--check-config', ...TLS, '--cert-reqs', 'required', INSPECT]);
  assert.is(check.code, 2);
  assert.match(check.stderr, /cert_reqs is required but ca_certs is not set/);
});

/** The certificate the server presents to a new connection, by fingerprint. */
function presented(port) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: good.pem, ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerX509Certificate().fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

test('rotation as a Kubernetes secret volume does it (files behind ..data, swapped atomically): HUP serves the new certificate', async () => {
  // kubelet's layout: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/, swapped by a rename.
  const volume = join(dir, 'secret');
  const publish = (name, cert) => {
    mkdirSync(join(volume, name), { recursive: true });
    writeFileSync(join(volume, name, 'tls.crt'), cert.certPem);
    writeFileSync(join(volume, name, 'tls.key'), cert.keyPem);
    symlinkSync(name, join(volume, '..data_tmp'));
    renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
  };
  publish('..2026_12_01_a', server);
  symlinkSync('..data/tls.crt', join(volume, 'tls.crt'));
  symlinkSync('..data/tls.key', join(volume, 'tls.key'));
  const s = await startServer(['-w', '2', '--certfile', join(volume, 'tls.crt'), '--keyfile', join(volume, 'tls.key'), INSPECT], { workers: 2 });
  try {
    const before = new X509Certificate(server.certPem).fingerprint256;
    assert.is(await presented(s.port), before);
    const renewed = makeSigned(dir, good, 'server-renewed', { subject: '/CN=127.0.0.1' });
    publish('..2026_12_02_b', renewed);
    assert.is(await presented(s.port), before, 'nothing changes before HUP');
    s.signal('SIGHUP');
    const after = new X509Certificate(renewed.certPem).fingerprint256;
    await waitFor(async () => (await presented(s.port)) === after, 20000, 'the renewed certificate served');
    await waitFor(async () => {
      const seen = new Set();
      for (let i = 0; i < 4; i++) seen.add(await presented(s.port));
      return seen.size === 1 && seen.has(after);
    }, 20000, 'only the renewed certificate served');
    assert.not.match(s.log, /\[ERROR\]/);
  } finally {
    await s.stop();
  }
});

test.run();
