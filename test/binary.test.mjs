// The single binary (dist/narwhal, Node 26 SEA) as a user runs it: from a bare environment
// with no `node` on PATH, serving CJS, ESM (top-level await), TypeScript and an Express app
// with its own node_modules; master and workers are all the binary; NODE_OPTIONS does not
// reach it; reuseport distribution; and a chroot holding only the binary, its libraries and
// the app.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runnable } from './helpers/needs.mjs';
import {
  BIN, bareEnv, childPids, copyPackageTree, ensureBinary, exeOf, freePort, get, killAll, start,
  tempDir, waitFor, waitServing, writeFiles,
} from './helpers/binary.mjs';

let bin;
let apps;

test.before(() => {
  bin = realpathSync(ensureBinary());
  apps = tempDir('narwhal-apps-');
  writeFiles(apps, {
    'cjs/app.cjs': "module.exports = (req, res) => res.end(`cjs ${process.pid}`);\n",
    'esm/app.mjs': "const word = await new Promise((r) => setTimeout(() => r('esm'), 10));\n"
      + 'export default (req, res) => res.end(`${word} ${process.pid}`);\n',
    'ts/app.ts': "import type { IncomingMessage, ServerResponse } from 'node:http';\n"
      + "const word: string = 'ts';\n"
      + 'export default (req: IncomingMessage, res: ServerResponse): void => { res.end(`${word} ${process.pid}`); };\n',
    'express/package.json': '{ "name": "express-app", "private": true, "type": "module", "dependencies": { "express": "*" } }\n',
    'express/app.js': "import express from 'express';\nexport const app = express();\n"
      + "app.get('/', (req, res) => res.send(`express ${process.pid}`));\n",
  });
  copyPackageTree('express', join(apps, 'express'));
});

test.after(() => killAll());

/** Starts the binary on APP (relative to its directory), checks it, stops it with TERM. */
async function serveAndCheck(dir, app, { workers = 2, word, extraArgs = [], env = {}, logged = null }) {
  const port = await freePort();
  const master = start(bin, ['-w', String(workers), '-b', `127.0.0.1:${port}`, ...extraArgs, app], {
    cwd: join(apps, dir), env: bareEnv(env),
  });
  await waitServing(port).catch((err) => { throw new Error(`${err.message}\n${master.out}`); });
  // The first worker serves as soon as it is ready; the others may still be booting.
  const pids = new Set();
  const deadline = Date.now() + 15000;
  for (let i = 0; pids.size < workers && (i < 40 || Date.now() < deadline); i++) {
    if (i >= 40) await new Promise((resolve) => setTimeout(resolve, 100));
    const { status, body } = await get(port);
    assert.is(status, 200);
    const [w, pid] = body.split(' ');
    assert.is(w, word);
    pids.add(Number(pid));
  }
  assert.is(pids.size, workers, `requests reached ${pids.size} of ${workers} workers`);
  // Master and every worker are the binary itself.
  assert.is(exeOf(master.pid), bin);
  const children = childPids(master.pid);
  assert.is(children.length, workers);
  for (const pid of children) assert.is(exeOf(pid), bin, `worker ${pid}`);
  for (const pid of pids) assert.ok(children.includes(pid));
  if (logged) await waitFor(() => logged.test(master.out), { what: `${logged} in the log:\n${master.out}` });
  master.child.kill('SIGTERM');
  const { code } = await master.exit;
  assert.is(code, 0, master.out);
  return master;
}

test('--version: package version, the embedded Node 26, platform, build commit and date', () => {
  const out = execFileSync(bin, ['--version'], { env: bareEnv(), encoding: 'utf8' });
  assert.match(out, /^narwhal \d+\.\d+\.\d+ \(Node\.js v26\.\d+\.\d+\)\nlinux-x64, commit ([0-9a-f]{12}(-dirty)?|unknown), (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|unknown)\n$/);
});

test('no node on the bare PATH (the binary is all there is)', () => {
  const env = bareEnv();
  assert.throws(() => execFileSync('node', ['--version'], { env, stdio: 'ignore' }));
});

test('CommonJS app, 2 workers, all processes are the binary', async () => {
  await serveAndCheck('cjs', 'app.cjs', { word: 'cjs' });
});

test('ESM app with top-level await', async () => {
  await serveAndCheck('esm', 'app.mjs', { word: 'esm', workers: 1 });
});

test('TypeScript app through the embedded Node type stripping', async () => {
  await serveAndCheck('ts', 'app.ts', { word: 'ts', workers: 1 });
});

test('Express app resolving express from its own node_modules', async () => {
  await serveAndCheck('express', 'app.js:app', { word: 'express' });
});

test('NODE_OPTIONS does not reach the binary (a --require that would abort plain node)', async () => {
  const env = { NODE_OPTIONS: '--require /nonexistent/boom.js --max-old-space-size=1' };
  await serveAndCheck('cjs', 'app.cjs', { word: 'cjs', workers: 1, env });
});

test('--threads 2: ESM and Express apps on two event loops per worker, the threads run the binary\'s embedded worker bundle', async () => {
  const logged = /2 event loops per worker: --threads/;
  const esm = await serveAndCheck('esm', 'app.mjs', { word: 'esm', workers: 1, extraArgs: ['--threads', '2'], logged });
  assert.not.match(esm.out, /ERROR/);
  const express = await serveAndCheck('express', 'app.js:app', { word: 'express', workers: 1, extraArgs: ['--threads', '2'], logged });
  assert.not.match(express.out, /ERROR/);
});

test('reuseport distribution: each worker binds its own socket, the kernel balances', async () => {
  await serveAndCheck('cjs', 'app.cjs', { word: 'cjs', extraArgs: ['--distribution', 'reuseport'] });
});

test('runs in a chroot holding only the binary, its ldd libraries and the app', async () => {
  if (!runnable(import.meta.url, 'chroot', { root: true })) return;
  const root = tempDir('narwhal-chroot-');
  copyFileSync(bin, join(root, 'narwhal'));
  execFileSync('chmod', ['755', join(root, 'narwhal')]);
  const libs = execFileSync('ldd', [bin], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
  assert.ok(libs.length > 0);
  for (const lib of libs) {
    mkdirSync(join(root, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(root, lib)); // copyFileSync follows symlinks
  }
  writeFiles(root, { 'app/app.cjs': "module.exports = (req, res) => res.end(`chroot ${process.pid}`);\n" });
  // What a kernel gives every process: /dev/null (stdio 'ignore') and /proc (memory stats),
  // mounted in a private mount namespace that vanishes with the server.
  mkdirSync(join(root, 'dev'));
  execFileSync('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);
  mkdirSync(join(root, 'proc'));
  const port = await freePort();
  const master = start('/usr/bin/unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c',
    '/bin/mount -t proc proc "$0/proc" && exec /usr/sbin/chroot "$0" /narwhal -w 2 -b "127.0.0.1:$1" /app/app.cjs',
    root, String(port)], { env: { PATH: '/nonexistent' } });
  await waitServing(port).catch((err) => { throw new Error(`${err.message}\n${master.out}`); });
  const { body } = await get(port);
  assert.match(body, /^chroot \d+$/);
  // exec all the way down: the pid started is the master, and its workers are the copy.
  const inChroot = realpathSync(join(root, 'narwhal'));
  await waitFor(() => childPids(master.pid).length === 2, { what: '2 workers' });
  assert.is(exeOf(master.pid), inChroot);
  for (const pid of childPids(master.pid)) assert.is(exeOf(pid), inChroot);
  master.child.kill('SIGTERM');
  assert.is((await master.exit).code, 0, master.out);
});

test.run();
