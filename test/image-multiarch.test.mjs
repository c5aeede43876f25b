// The image for both architectures, built the documented way (docker/build.sh --arch, which
// runs `docker build --platform`) on a private engine with no registry pulls (the bases are
// assembled from this host's libraries, the arm64 ones from Debian multiarch): the linux/arm64
// image runs under qemu-user on this x64 machine and serves with 2 arm64 workers; then both
// are pushed to a local registry (Debian's docker-registry, a child of the test on 127.0.0.1)
// and joined into one manifest list with `docker manifest`, as the docs say; pulling it per
// platform gives each architecture's image, and the arm64 one runs.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cannotRun } from '../build/binary.mjs';
import { docker, script, startEngine, stopEngine } from './helpers/binary-docker.mjs';
import { runnable } from './helpers/needs.mjs';
import {
  ROOT, ensureBinary, freePort, get, killAll, start, tempDir, waitFor, waitServing,
} from './helpers/binary.mjs';

const REGISTRY = '/usr/bin/docker-registry';
const ARM64_BIN = join(ROOT, 'dist', 'narwhal-linux-arm64');
let engine = null;

/** dist/narwhal-linux-arm64, rebuilt unless newer than the bundle. */
function ensureArm64Binary() {
  const bundle = join(ROOT, 'dist', 'narwhal-main.js');
  const fresh = existsSync(ARM64_BIN) && existsSync(bundle) && statSync(ARM64_BIN).mtimeMs >= statSync(bundle).mtimeMs;
  if (!fresh) execFileSync(process.execPath, [join(ROOT, 'build', 'binary.mjs'), '--arch', 'arm64'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], timeout: 180_000 });
}

test.before(async () => {
  if (!runnable(import.meta.url, 'the multi-arch image', { docker: true, programs: [[REGISTRY, 'docker-registry']] })) return;
  const why = cannotRun('arm64');
  if (why) {
    const line = `image-multiarch.test.mjs › the multi-arch image: needs qemu-user for arm64: ${why}`;
    if (process.env.CI) throw new Error(`CI must run every test, but ${line}`);
    console.log(`\n  SKIP ${line}`);
    return;
  }
  ensureBinary();
  ensureArm64Binary();
  engine = await startEngine();
});

test.after(async () => {
  if (engine) {
    await docker(engine, ['rm', '-f', 'narwhal-arm64-app'], { timeoutMs: 20_000 }).catch(() => {});
    await stopEngine(engine);
  }
  await killAll();
});

test('linux/arm64 image: docker/build.sh --arch arm64, runs under qemu with 2 arm64 workers, docker stop exits 0', async () => {
  if (!engine) return; // skipped: before() said why
  const t0 = Date.now();
  await script(engine, join(ROOT, 'docker/make-local-base.sh'), ['narwhal-base:arm64', '--arch', 'arm64']);
  await script(engine, join(ROOT, 'docker/build.sh'), ['-t', 'narwhal:arm64', '--arch', 'arm64', '--base', 'narwhal-base:arm64', '-q']);
  assert.is(await docker(engine, ['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', 'narwhal:arm64']), 'linux/arm64');

  const appDir = tempDir('narwhal-arm64-app-');
  writeFileSync(join(appDir, 'app.js'), 'module.exports = (req, res) => res.end(`${process.arch} ${process.pid}`);\n');
  writeFileSync(join(appDir, 'Dockerfile'), 'FROM narwhal:arm64\nCOPY app.js /app/\nCMD ["-w", "2", "app.js"]\n');
  await docker(engine, ['build', '-q', '--platform', 'linux/arm64', '-t', 'narwhal-arm64-app:test', appDir]);

  const [port, adminPort] = [await freePort(), await freePort()];
  await docker(engine, ['run', '-d', '--name', 'narwhal-arm64-app', '--platform', 'linux/arm64', '--network', 'host',
    '-e', `NARWHAL_BIND=127.0.0.1:${port}`, '-e', `NARWHAL_ADMIN_BIND=127.0.0.1:${adminPort}`, 'narwhal-arm64-app:test']);
  const logs = () => docker(engine, ['logs', 'narwhal-arm64-app'], { stderr: true }).catch((e) => e.message);
  try {
    await waitServing(port, '/', 60_000);
    await waitFor(() => get(adminPort, '/readyz').then((r) => r.status === 200 && JSON.parse(r.body).workers.ready === 2, () => false),
      { timeoutMs: 60_000, what: '/readyz with 2 ready workers' });
  } catch (err) {
    throw new Error(`${err.message}\n${await logs()}`);
  }
  const pids = new Set();
  for (let i = 0; i < 200 && pids.size < 2; i++) {
    const { status, body } = await get(port);
    assert.is(status, 200);
    const [arch, pid] = body.split(' ');
    assert.is(arch, 'arm64');
    pids.add(pid);
  }
  assert.is(pids.size, 2, 'both arm64 workers answered');
  await docker(engine, ['stop', '-t', '30', 'narwhal-arm64-app'], { timeoutMs: 60_000 });
  assert.is(await docker(engine, ['inspect', '-f', '{{.State.ExitCode}}', 'narwhal-arm64-app']), '0', await logs());
  console.log(`\n  arm64 image built and run in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test('one manifest list for linux/amd64 and linux/arm64 (docker manifest), pulled per platform', async () => {
  if (!engine) return;
  const t0 = Date.now();
  await script(engine, join(ROOT, 'docker/make-local-base.sh'), ['narwhal-base:amd64']);
  await script(engine, join(ROOT, 'docker/build.sh'), ['-t', 'narwhal:amd64', '--base', 'narwhal-base:amd64', '-q']);
  assert.is(await docker(engine, ['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', 'narwhal:amd64']), 'linux/amd64');

  // A registry on 127.0.0.1 (plain HTTP: Docker allows it for loopback addresses).
  const port = await freePort();
  const dir = tempDir('narwhal-registry-');
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const registry = start(REGISTRY, ['serve', join(dir, 'config.yml')], { env: { PATH: '/usr/bin:/bin' } });
  await waitFor(() => get(port, '/v2/').then((r) => r.status === 200, () => false), { what: 'the registry' })
    .catch((err) => { throw new Error(`${err.message}\n${registry.out}`); });

  // The docs' commands: push one tag per architecture, then the list that names both.
  const repo = `127.0.0.1:${port}/narwhal`;
  for (const platform of ['amd64', 'arm64']) {
    await docker(engine, ['tag', `narwhal:${platform}`, `${repo}:1.0-${platform}`]);
    await docker(engine, ['push', '-q', `${repo}:1.0-${platform}`], { timeoutMs: 120_000 });
  }
  await docker(engine, ['manifest', 'create', '--insecure', `${repo}:1.0`, `${repo}:1.0-amd64`, `${repo}:1.0-arm64`]);
  await docker(engine, ['manifest', 'push', '--insecure', `${repo}:1.0`]);
  const list = JSON.parse(await docker(engine, ['manifest', 'inspect', '--insecure', `${repo}:1.0`]));
  assert.equal(list.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort(), ['linux/amd64', 'linux/arm64']);

  // Pulled by its one name, each platform gets its own image; the arm64 one runs under qemu.
  for (const platform of ['arm64', 'amd64']) {
    await docker(engine, ['rmi', '-f', `${repo}:1.0`]).catch(() => {});
    await docker(engine, ['pull', '-q', '--platform', `linux/${platform}`, `${repo}:1.0`], { timeoutMs: 120_000 });
    assert.is(await docker(engine, ['image', 'inspect', '-f', '{{.Architecture}}', `${repo}:1.0`]), platform);
    const version = await docker(engine, ['run', '--rm', '--platform', `linux/${platform}`, '--network', 'none', `${repo}:1.0`, '--version']);
    assert.match(version, new RegExp(`\\nlinux-${platform === 'amd64' ? 'x64' : 'arm64'}, commit `));
  }
  console.log(`\n  amd64 image, registry, manifest list, two pulls in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test.run();
