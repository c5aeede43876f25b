// The app contract: every supported app shape is served, and anything else is refused at boot.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import http from 'node:http';
import { FIXTURES, killAll, request, startServer, runCli, tempApp, isAlive } from './helpers/server.mjs';

test.after(killAll);

const serve = (spec, extra = []) => startServer(['-w', '1', ...extra, join(FIXTURES, spec)], { workers: 1 });

test('node request listener (CommonJS module.exports)', async () => {
  const s = await serve('pid.js');
  const r = await request(s.port, '/');
  assert.is(r.status, 200);
  assert.match(r.body, new RegExp(`pid=${s.workers()[0]}`));
  await s.stop();
});

test('an app error fails its request with a 500 and a log line, not the worker', async () => {
  const s = await serve('pid.js');
  const [worker] = s.workers();
  for (const path of ['/throw', '/reject']) {
    const r = await request(s.port, path);
    assert.is(r.status, 500, path);
  }
  await s.waitForLog(/\[ERROR\] Error handling request GET \/throw\nError: boom in a listener/);
  await s.waitForLog(/\[ERROR\] Error handling request GET \/reject\nError: boom in a promise/);
  assert.equal(s.workers(), [worker]);
  assert.match((await request(s.port, '/')).body, new RegExp(`pid=${worker}`));
  await s.stop();
});

test('an `upgrade` export gets protocol switches (WebSockets); plain requests still reach the app', async () => {
  const net = await import('node:net');
  const s = await serve('upgrade.js');
  assert.match((await request(s.port, '/')).body, /^http pid=\d+$/);
  const reply = await new Promise((resolve, reject) => {
    const c = net.connect(s.port, '127.0.0.1');
    let data = '';
    c.on('data', (d) => {
      data += d;
      if (data.includes('\r\n\r\n') && !data.includes('HELLO')) c.write('hello');
      if (data.includes('HELLO')) { c.destroy(); resolve(data); }
    });
    c.on('error', reject);
    c.write('GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n');
  });
  assert.match(reply, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(reply, /HELLO$/);
  await s.stop();
});

test('ESM default export with top-level await', async () => {
  const s = await serve('esm-tla.mjs');
  assert.match((await request(s.port)).body, /^esm pid=\d+$/);
  await s.stop();
});

test('every module format Node knows loads, each once: .cjs, "type": "module", ES syntax found in a plain .js (with top-level await too)', async () => {
  // CommonJS is loaded with require() and ES modules with import() (src/worker/module-loader.ts):
  // a module must load as Node would load it, and its top-level code must run once.
  const once = 'globalThis.loads = (globalThis.loads ?? 0) + 1;';
  const dir = tempApp({
    'cjs/app.cjs': `${once} module.exports = (req, res) => res.end(\`cjs require=\${typeof require} loads=\${globalThis.loads}\`);`,
    'commonjs-pkg/package.json': '{ "type": "commonjs" }',
    'commonjs-pkg/app.js': `${once} exports.handler = (req, res) => res.end(\`named loads=\${globalThis.loads}\`);`,
    'module-pkg/package.json': '{ "type": "module" }',
    'module-pkg/app.js': `${once} export default (req, res) => res.end(\`esm require=\${typeof require} loads=\${globalThis.loads}\`);`,
    'detected/app.js': `${once} export default (req, res) => res.end(\`detected meta=\${import.meta.url.startsWith('file:')} loads=\${globalThis.loads}\`);`,
    'detected-tla/app.js': `${once} const word = await Promise.resolve('tla'); export default (req, res) => res.end(\`\${word} loads=\${globalThis.loads}\`);`,
  });
  for (const [spec, body] of [
    ['cjs/app.cjs', 'cjs require=function loads=1'],
    ['commonjs-pkg/app.js:handler', 'named loads=1'],
    ['module-pkg/app.js', 'esm require=undefined loads=1'],
    ['detected/app.js', 'detected meta=true loads=1'],
    ['detected-tla/app.js', 'tla loads=1'],
  ]) {
    const s = await startServer(['-w', '1', join(dir, spec)], { workers: 1 });
    assert.is((await request(s.port)).body, body, spec);
    await s.stop();
  }
});

test("workers compile from Node's compile cache in a directory only they may write; the app does not inherit it", async () => {
  const { chmodSync, copyFileSync, mkdtempSync, readdirSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { ROOT } = await import('./helpers/server.mjs');
  const module = await import('node:module');
  const app = tempApp({ 'env.js': "module.exports = (req, res) => res.end(`cache=${process.env.NODE_COMPILE_CACHE ?? 'none'}`);\n" });
  const dir = mkdtempSync(join(tmpdir(), 'narwhal-cc-'));
  const s = await startServer(['-w', '1', '--compile-cache', dir, join(app, 'env.js')], { workers: 1 });
  assert.is((await request(s.port)).body, 'cache=none', "the app's environment has no NODE_COMPILE_CACHE");
  if (typeof module.enableCompileCache === 'function') {
    await s.waitForLog(new RegExp(`\\[DEBUG\\] Compile cache: ${dir}/v${process.versions.node}-`));
    // Written once the worker is ready, not only when it exits.
    const [versionDir] = readdirSync(dir);
    assert.ok(readdirSync(join(dir, versionDir)).length >= 2, 'the worker bundle and the app are cached');
  } else {
    await s.waitForLog(/\[DEBUG\] Compile cache: not available on Node\.js v\d+/);
  }
  await s.stop();
  if (typeof module.enableCompileCache !== 'function') return;
  // Writable by others: what is in it would run as code in the workers, so it is not used.
  chmodSync(dir, 0o777);
  const open = await startServer(['-w', '1', '--compile-cache', dir, join(app, 'env.js')], { workers: 1 });
  await open.waitForLog(new RegExp(`\\[DEBUG\\] Compile cache: not used: others may write to ${dir} \\(mode 777\\)`));
  assert.is((await request(open.port)).body, 'cache=none');
  assert.is(open.count(/\[DEBUG\] Compile cache: \//), 0, 'no worker compiles from it');
  await open.stop();
  const off = await startServer(['-w', '1', '--compile-cache', 'off', join(app, 'env.js')], { workers: 1 });
  await off.waitForLog(/\[DEBUG\] Compile cache: off \(compile_cache = off\)/);
  await off.stop();
  // The main bundle alone (no narwhal-worker.js beside it) starts its workers from itself.
  const alone = join(tempApp({ 'README': 'the main bundle alone' }), 'narwhal-main.js');
  copyFileSync(join(ROOT, 'dist', 'narwhal-main.js'), alone);
  const single = await startServer(['-w', '1', join(app, 'env.js')], { workers: 1, binArgs: [alone] });
  assert.is((await request(single.port)).body, 'cache=none');
  await single.stop();
  // dist/narwhal.js without the bundle it loads: one line saying what to do.
  const entry = join(tempApp({ 'README': 'the entry alone' }), 'narwhal.js');
  copyFileSync(join(ROOT, 'dist', 'narwhal.js'), entry);
  const lost = await runCli(['--version'], { binArgs: [entry] });
  assert.is(lost.code, 1);
  assert.match(lost.stderr, /^narwhal: cannot find \S+\/narwhal-main\.js: dist\/narwhal\.js runs the bundles beside it; build them with npm run build\n$/);
});

test('the worker bundle run by hand says what to run instead', async () => {
  const { ROOT } = await import('./helpers/server.mjs');
  const byHand = await runCli([], { binArgs: [join(ROOT, 'dist', 'narwhal-worker.js')] });
  assert.is(byHand.code, 2);
  assert.match(byHand.stderr, /^narwhal: this is a narwhal worker, started by the narwhal master; run narwhal itself \(dist\/narwhal\.js\)\n$/);
});

test('{ fetch } handler: status and headers exact, request body streamed in, response streamed out', async () => {
  const s = await serve('fetch-app.mjs');
  const plain = await request(s.port, '/');
  assert.is(plain.status, 203);
  assert.is(plain.headers['x-kind'], 'fetch');
  assert.equal(plain.headers['set-cookie'], ['a=1', 'b=2']);
  assert.match(plain.body, /^fetch pid=\d+$/);

  // The body arrives in pieces, the echo must start before the upload ends.
  const echoed = await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: s.port, path: '/echo', method: 'PUT', headers: { 'content-type': 'text/x-test' } }, (res) => {
      let body = '';
      let firstChunkBeforeEnd = false;
      res.on('data', (c) => { body += c; if (!ended) firstChunkBeforeEnd = true; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, firstChunkBeforeEnd }));
    });
    req.on('error', reject);
    let ended = false;
    req.write('part one;');
    setTimeout(() => req.write('part two;'), 150);
    setTimeout(() => { ended = true; req.end('end'); }, 300);
  });
  assert.is(echoed.status, 201);
  assert.is(echoed.headers['content-type'], 'text/x-test');
  assert.is(echoed.headers['x-method'], 'PUT');
  assert.is(echoed.body, 'part one;part two;end');
  assert.ok(echoed.firstChunkBeforeEnd, 'response streamed while the request body was still arriving');

  const started = Date.now();
  const chunks = [];
  await new Promise((resolve) => http.get({ host: '127.0.0.1', port: s.port, path: '/stream' }, (res) => {
    res.on('data', (c) => chunks.push([Date.now() - started, String(c)]));
    res.on('end', resolve);
  }));
  assert.is(chunks.map((c) => c[1]).join(''), 'chunk0\nchunk1\nchunk2\n');
  assert.ok(chunks.length >= 2, 'chunks arrive separately');
  await s.stop();
});

test('Hono app (an object with fetch)', async () => {
  const s = await serve('hono-app.mjs');
  assert.match((await request(s.port)).body, /^hono pid=\d+$/);
  const json = await request(s.port, '/json');
  assert.is(json.status, 202);
  assert.is(json.headers['content-type'], 'application/json');
  assert.is(json.body, '{"ok":true}');
  await s.stop();
});

test('Express app from a named export', async () => {
  const s = await startServer(['-w', '1', `${join(FIXTURES, 'express-app.mjs')}:app`], { workers: 1 });
  assert.match((await request(s.port)).body, /^express pid=\d+$/);
  await s.stop();
});

test('Express app found as the "app" export without naming it', async () => {
  const s = await serve('express-app.mjs');
  assert.match((await request(s.port)).body, /^express pid=\d+$/);
  await s.stop();
});

test('Koa app', async () => {
  const s = await serve('koa-app.js');
  assert.match((await request(s.port)).body, /^koa pid=\d+$/);
  await s.stop();
});

test('Fastify instance from an async factory, create()', async () => {
  const s = await startServer(['-w', '1', `${join(FIXTURES, 'fastify-app.js')}:create()`], { workers: 1 });
  const r = await request(s.port);
  assert.is(r.status, 200);
  assert.is(JSON.parse(r.body).kind, 'fastify');
  const echo = await request(s.port, '/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
  assert.equal(JSON.parse(echo.body), { a: 1 });
  await s.stop();
});

test('a .ts app is served where Node strips types, else refused with a clear message', async () => {
  const dir = tempApp({ 'app.ts': 'export default (req: unknown, res: { end(s: string): void }): void => res.end("ts");\n' });
  const stripping = Boolean(process.features.typescript);
  const r = await runCli(['--check-config', join(dir, 'app.ts')]);
  if (stripping) assert.is(r.code, 0, r.stderr);
  else {
    assert.is(r.code, 1);
    assert.match(r.stderr, /cannot strip TypeScript types/);
  }
});

test('anything else is refused at boot naming the file, the export and what was found (exit 3)', async () => {
  const r = await runCli(['-b', '127.0.0.1:0', '-w', '2', join(FIXTURES, 'not-an-app.js')]);
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stderr, /not-an-app\.js: found module\.exports \(or the default export\): an object with keys \[port, name\], and the app has not called listen\(\)/);
  assert.match(r.stderr, /an app that listens itself .* is served as it is; otherwise export a request listener/);
  const missing = await runCli(['-b', '127.0.0.1:0', `${join(FIXTURES, 'pid.js')}:nope`]);
  assert.is(missing.code, 3);
  assert.match(missing.stderr, /has no export "nope"/);
});

test('an app that fails to boot: its error, exit 3, no crash loop', async () => {
  const started = Date.now();
  const r = await runCli(['-b', '127.0.0.1:0', '-w', '2', join(FIXTURES, 'boot-error.js')]);
  assert.is(r.code, 3);
  assert.match(r.stderr, /database unreachable: connect ECONNREFUSED/);
  assert.match(r.stderr, /Reason: Worker failed to boot\./);
  const boots = (r.stderr.match(/Booting worker/g) ?? []).length;
  assert.ok(boots <= 2, `no crash loop: ${boots} boots`);
  assert.ok(Date.now() - started < 5000);
  for (const pid of (r.stderr.match(/Booting worker with pid: (\d+)/g) ?? []).map((l) => Number(l.split(': ')[1]))) {
    assert.not.ok(isAlive(pid), `worker ${pid} is gone`);
  }
});

test.run();
