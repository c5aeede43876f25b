// Reloads, recycling and shutdown under real traffic: no request may fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { FIXTURES, killAll, request, startServer, load, reloadUnderLoad, sleep, isAlive, waitFor } from './helpers/server.mjs';

const APP = join(FIXTURES, 'pid.js');
test.after(killAll);

test('TERM during a slow request: the response completes, exit 0, no process left', async () => {
  const s = await startServer(['-w', '2', APP], { workers: 2 });
  const workers = s.workers();
  const slow = request(s.port, '/slow?ms=1500');
  await sleep(300);
  s.signal('SIGTERM');
  const r = await slow;
  assert.is(r.status, 200);
  assert.match(r.body, /^pid=\d+/);
  assert.is(r.headers.connection, 'close');
  const { code } = await s.exit;
  assert.is(code, 0);
  for (const pid of workers) assert.not.ok(isAlive(pid), `worker ${pid} gone`);
  assert.match(s.log, /Handling signal: term/);
  assert.match(s.log, /Shutting down: Master/);
});

test('TERM: a request that outlives --graceful-timeout is cut, and the master still exits', async () => {
  const s = await startServer(['-w', '1', '--graceful-timeout', '1', APP], { workers: 1 });
  const stuck = request(s.port, '/slow?ms=10000').then(() => 'answered', () => 'cut');
  await sleep(200);
  const started = Date.now();
  s.signal('SIGTERM');
  assert.is(await stuck, 'cut');
  assert.is((await s.exit).code, 0);
  assert.ok(Date.now() - started < 5000, 'forced within the graceful timeout and a margin');
});

test('INT is a quick shutdown', async () => {
  const s = await startServer(['-w', '2', APP], { workers: 2 });
  const workers = s.workers();
  const slow = request(s.port, '/slow?ms=5000').then(() => 'answered', () => 'cut');
  await sleep(200);
  s.signal('SIGINT');
  assert.is(await slow, 'cut');
  assert.is((await s.exit).code, 0);
  for (const pid of workers) assert.not.ok(isAlive(pid));
});

for (const mode of ['round-robin', 'shared']) test(`${mode}: HUP under load: every worker replaced one at a time, 0 failed requests`, async () => {
  const s = await startServer(['-w', '2', '--distribution', mode, APP], { workers: 2 });
  const { result, before, after } = await reloadUnderLoad(s, 2);
  assert.is(result.failed, 0, `failed: ${result.errors.slice(0, 5)}`);
  assert.ok(result.ok > 500, `served ${result.ok}`);
  for (const pid of before) assert.ok(!after.includes(pid), `old worker ${pid} replaced`);
  // Round-robin hands every ready worker connections; with a shared socket the kernel picks,
  // so a worker booted late in the run may get none before it ends.
  if (mode === 'round-robin') for (const pid of after) assert.ok(result.pids.has(pid), `new worker ${pid} served traffic`);
  else assert.ok(after.some((pid) => result.pids.has(pid)), 'a new worker served traffic');
  assert.match(s.log, /Handling signal: hup/);
  assert.is((await s.stop()).code, 0);
});

test('HUP reloads the app code and the config file', async () => {
  const { writeFileSync } = await import('node:fs');
  const { tempApp } = await import('./helpers/server.mjs');
  const dir = tempApp({
    'app.js': 'module.exports = (req, res) => res.end("v1");',
    'narwhal.config.json': JSON.stringify({ workers: 1 }),
  });
  const s = await startServer(['app.js'], { cwd: dir, workers: 1 });
  assert.is((await request(s.port)).body, 'v1');
  writeFileSync(join(dir, 'app.js'), 'module.exports = (req, res) => res.end("v2");');
  writeFileSync(join(dir, 'narwhal.config.json'), JSON.stringify({ workers: 2 }));
  s.signal('SIGHUP');
  await waitFor(async () => (await request(s.port)).body === 'v2', 10000, 'new code served');
  await waitFor(() => s.workers().length === 2 && s.count(/Worker ready/) >= 3, 10000, 'two workers');
  await s.stop();
});

test('HUP with a broken app: old workers keep serving, boots retried with backoff, fixed code takes over', async () => {
  const { writeFileSync } = await import('node:fs');
  const { tempApp } = await import('./helpers/server.mjs');
  const dir = tempApp({ 'app.js': 'module.exports = (req, res) => res.end("good");' });
  const s = await startServer(['-w', '1', 'app.js'], { cwd: dir, workers: 1 });
  const [original] = s.workers();
  writeFileSync(join(dir, 'app.js'), 'throw new Error("syntax of the day");');
  s.signal('SIGHUP');
  await s.waitForLog(/failed to boot: .*syntax of the day.*retrying in 1s/s, 5000);
  await s.waitForLog(/retrying in 2s/, 5000);
  assert.ok(s.workers().includes(original), 'the old worker still serves');
  assert.is((await request(s.port)).body, 'good');
  assert.ok(s.count(/Booting worker/) <= 4, 'backoff, not a crash loop');
  writeFileSync(join(dir, 'app.js'), 'module.exports = (req, res) => res.end("fixed");');
  await waitFor(async () => (await request(s.port)).body === 'fixed', 8000, 'fixed app served');
  await waitFor(() => !s.workers().includes(original), 5000, 'old worker retired');
  await s.stop();
});

for (const mode of ['round-robin', 'shared']) test(`${mode}: max-requests under load: workers recycled, successor first, 0 failed requests`, async () => {
  const s = await startServer(['-w', '2', '--distribution', mode, '--max-requests', '150', '--max-requests-jitter', '30', APP], { workers: 2 });
  const result = await load(s.port, { connections: 16, durationMs: 4000 });
  assert.is(result.failed, 0, `failed: ${result.errors.slice(0, 5)}`);
  // A recycled worker exits once its idle keep-alive connections have timed out (it does not
  // cut a connection a client may be writing to), which can be after the load has stopped.
  const recycled = () => s.count(/exited with code 0 \(max_requests\)/);
  await waitFor(() => recycled() >= 2, 15000, `2 recycled workers (recycled ${recycled()}, served ${result.ok})`);
  assert.ok(result.pids.size > 2, 'successors served');
  assert.is(s.workers().length >= 2, true);
  await s.stop();
});

test.run();
