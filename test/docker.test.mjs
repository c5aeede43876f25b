// The Docker image, built and run for real on a private engine (no registry: the base is
// assembled from this host's libraries by docker/make-local-base.sh). An app image made the
// documented way (FROM narwhal + COPY + CMD) runs with --network host --cpus 1.5: it serves,
// /readyz is 200, the pool has 2 workers from the real cgroup CPU quota, the master runs as
// non-root under tini, HEALTHCHECK turns healthy, and `docker stop` drains: the in-flight
// request completes and the container exits 0.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { docker, script, startEngine, stopEngine } from './helpers/binary-docker.mjs';
import { runnable } from './helpers/needs.mjs';
import { ROOT, childPids, ensureBinary, freePort, get, killAll, sleep, tempDir, waitFor, waitServing } from './helpers/binary.mjs';

let engine = null;

test.before(async () => {
  // A skip says why in one line; in CI (which installs docker.io) a missing engine fails instead.
  if (!runnable(import.meta.url, 'the Docker image', { docker: true })) return;
  ensureBinary();
  engine = await startEngine();
});

test.after(async () => {
  if (engine) {
    await docker(engine, ['rm', '-f', 'narwhal-test-app'], { timeoutMs: 20_000 }).catch(() => {});
    await stopEngine(engine);
  }
  await killAll();
});


test('image: build, run with --cpus 1.5, serve, readyz, 2 workers, healthy, graceful docker stop', async () => {
  if (!engine) return; // skipped: before() said why
  // The image users deploy, on a locally assembled base (CI has no registry).
  await script(engine, join(ROOT, 'docker/make-local-base.sh'), ['narwhal-base:test']);
  await script(engine, join(ROOT, 'docker/build.sh'), ['-t', 'narwhal:test', '--base', 'narwhal-base:test', '-q']);
  const user = await docker(engine, ['image', 'inspect', '-f', '{{.Config.User}} {{json .Config.ExposedPorts}} {{json .Config.Entrypoint}}', 'narwhal:test']);
  assert.match(user, /^65532:65532 /);
  assert.match(user, /"8000\/tcp"/);
  assert.match(user, /"9000\/tcp"/);
  assert.match(user, /\["\/usr\/local\/bin\/tini","--","\/usr\/local\/bin\/narwhal"\]/);

  // The documented way to add an app.
  const appDir = tempDir('narwhal-docker-app-');
  writeFileSync(join(appDir, 'app.js'), [
    'module.exports = (req, res) => {',
    "  if (req.url === '/slow') return setTimeout(() => res.end('slow done'), 2000);",
    '  res.end(`hello ${process.pid}`);',
    '};',
  ].join('\n'));
  writeFileSync(join(appDir, 'Dockerfile'), 'FROM narwhal:test\nCOPY app.js /app/\nCMD ["app.js"]\n');
  await docker(engine, ['build', '-q', '-t', 'narwhal-test-app:test', appDir]);

  const [port, adminPort] = [await freePort(), await freePort()];
  await docker(engine, ['run', '-d', '--name', 'narwhal-test-app', '--network', 'host', '--cpus', '1.5',
    '--health-interval', '1s', '--health-start-period', '1s', '--health-timeout', '5s',
    '-e', `NARWHAL_BIND=127.0.0.1:${port}`, '-e', `NARWHAL_ADMIN_BIND=127.0.0.1:${adminPort}`,
    'narwhal-test-app:test']);
  const logs = () => docker(engine, ['logs', 'narwhal-test-app'], { stderr: true }).catch((e) => e.message);
  try {
    await waitServing(port, '/', 30_000);
  } catch (err) {
    throw new Error(`${err.message}\n${await logs()}`);
  }
  assert.match((await get(port)).body, /^hello \d+$/);
  const ready = await waitServing(adminPort, '/readyz', 15_000);
  assert.is(ready.status, 200);

  // PID 1 is tini, its child the master (non-root), the master's children the 2 workers.
  const tini = Number(await docker(engine, ['inspect', '-f', '{{.State.Pid}}', 'narwhal-test-app']));
  assert.match(readFileSync(`/proc/${tini}/cmdline`, 'utf8'), /tini/);
  const [master] = childPids(tini);
  assert.ok(master, 'the master under tini');
  assert.match(readFileSync(`/proc/${master}/cmdline`, 'utf8'), /narwhal/);
  assert.match(readFileSync(`/proc/${master}/status`, 'utf8'), /\nUid:\t65532\t/);
  await waitFor(() => childPids(master).length === 2, { what: '2 workers' });
  const log = await logs();
  assert.match(log, /Workers: 2 \(CPU quota 150000\/100000/);

  const health = await waitFor(async () => {
    const s = await docker(engine, ['inspect', '-f', '{{.State.Health.Status}}', 'narwhal-test-app']);
    return s === 'healthy' ? s : null;
  }, { timeoutMs: 20_000, what: 'HEALTHCHECK healthy' });
  assert.is(health, 'healthy');

  // docker stop while a request is in flight: it completes, the container exits 0.
  const inflight = get(port, '/slow', { timeoutMs: 15_000 });
  await sleep(300);
  await docker(engine, ['stop', '-t', '20', 'narwhal-test-app'], { timeoutMs: 30_000 });
  const slow = await inflight;
  assert.is(slow.status, 200);
  assert.is(slow.body, 'slow done');
  const exit = await docker(engine, ['inspect', '-f', '{{.State.ExitCode}}', 'narwhal-test-app']);
  assert.is(exit, '0', await logs());
  assert.match(await logs(), /Handling signal: term[\s\S]*Shutting down: Master/);
});

test.run();
