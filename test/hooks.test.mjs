// Server hooks from the config file: master hooks in the master, worker hooks in each worker
// (loaded from the same file), each appending a line to a file; a hook that throws or rejects is
// logged with its name and the server keeps serving.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, killAll, request, runCli, startServer, tempApp, waitFor } from './helpers/server.mjs';

test.after(killAll);
const APP = join(FIXTURES, 'pid.js');
const lines = (file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

/** A config file whose hooks append "name pid args…" to OUT. */
function hookConfig(out) {
  return `import { appendFileSync } from 'node:fs';
const out = (...words) => appendFileSync(${JSON.stringify(out)}, words.map(String).join(' ') + '\\n');
export default {
  workers: 2,
  async onStarting(server) { await new Promise((r) => setTimeout(r, 50)); out('onStarting', process.pid, server.pid, server.target); },
  whenReady(server) { out('whenReady', process.pid, server.workers().filter((w) => w.state === 'ready').length); },
  preFork(server, worker) { out('preFork', process.pid, worker.pid, worker.age); },
  postFork(server, worker) { out('postFork', process.pid, worker.pid, worker.age); },
  postWorkerInit(worker) { out('postWorkerInit', process.pid, worker.pid, worker.age, worker.settings.workers); },
  preRequest(worker, req) { out('preRequest', process.pid, req.method, req.url); },
  postRequest(worker, req, res) { out('postRequest', process.pid, req.url, res.statusCode); },
  nworkersChanged(server, now, before) { out('nworkersChanged', process.pid, now, before); },
  onReload(server) { out('onReload', process.pid); },
  childExit(server, worker) { out('childExit', process.pid, worker.pid); },
  workerExit(worker) { out('workerExit', process.pid); },
  onExit(server) { out('onExit', process.pid); },
};
`;
}

test('hooks run in their process with Gunicorn\'s arguments: the master\'s and each worker\'s', async () => {
  const dir = tempApp({});
  const out = join(dir, 'hooks.txt');
  const config = join(tempApp({ 'narwhal.config.mjs': hookConfig(out) }), 'narwhal.config.mjs');
  const s = await startServer(['-c', config, APP], { workers: 2 });
  await waitFor(() => lines(out).some((l) => l.startsWith('whenReady')), 5000, 'whenReady');
  const workers = s.workers();
  assert.is(workers.length, 2);
  const r = await request(s.port, '/hello?x=1');
  assert.is(r.status, 200);
  await waitFor(() => lines(out).some((l) => l.startsWith('postRequest')), 5000, 'postRequest');
  s.signal('SIGTTIN');
  await s.waitForReady(3);
  assert.is((await s.stop()).code, 0);

  const log = lines(out);
  const of = (name) => log.filter((l) => l.startsWith(`${name} `)).map((l) => l.split(' ').slice(1));
  const master = String(s.pid);
  // Master hooks: in the master, with the server (its pid and target).
  assert.equal(of('onStarting'), [[master, master, '2']]);
  assert.equal(of('whenReady'), [[master, '2']], 'once, with the whole first pool ready');
  assert.equal(of('preFork').map((w) => w[1]), ['undefined', 'undefined', 'undefined'], 'no pid before the process exists');
  assert.equal(of('preFork').map((w) => w[2]), ['1', '2', '3']);
  const forked = of('postFork');
  assert.is(forked.length, 3, 'postFork x3 (2 at boot, 1 on TTIN)');
  for (const [pid] of forked) assert.is(pid, master);
  assert.equal(forked.slice(0, 2).map((w) => Number(w[1])).sort(), [...workers].sort());
  assert.equal(of('nworkersChanged'), [[master, '2', 'null'], [master, '3', '2']]);
  assert.equal(of('onExit'), [[master]]);
  assert.is(of('childExit').length, 3);
  assert.ok(log.indexOf(log.find((l) => l.startsWith('onExit'))) === log.length - 1, 'onExit is the last hook');
  // Worker hooks: in the workers themselves, loaded from the same file.
  const inits = of('postWorkerInit');
  assert.is(inits.length, 3);
  for (const [pid, workerPid, , settingsWorkers] of inits) {
    assert.is(pid, workerPid, 'worker.pid is the process the hook runs in');
    assert.is.not(pid, master);
    assert.is(settingsWorkers, '2');
  }
  const [pre] = of('preRequest');
  assert.equal(pre.slice(1), ['GET', '/hello?x=1']);
  assert.ok(workers.includes(Number(pre[0])), 'preRequest ran in the worker that served');
  assert.equal(of('postRequest')[0], [pre[0], '/hello?x=1', '200']);
  assert.is(of('workerExit').length, 3, 'each worker ran workerExit as it stopped');
});

test('a hook that throws or rejects is logged with its name; master and workers keep serving', async () => {
  const dir = tempApp({
    'narwhal.config.mjs': `export default {
  whenReady() { throw new Error('whenReady exploded'); },
  async postFork() { throw new Error('postFork rejected'); },
  postWorkerInit() { return Promise.reject(new Error('postWorkerInit rejected')); },
  preRequest(worker, req) { if (req.url === '/bad') throw new Error('preRequest exploded'); },
  postRequest() { throw new Error('postRequest exploded'); },
};
`,
  });
  const config = join(dir, 'narwhal.config.mjs');
  const s = await startServer(['-w', '1', '-c', config, APP], { workers: 1 });
  await s.waitForLog(/\[ERROR\] Hook whenReady failed: Error: whenReady exploded/);
  await s.waitForLog(/\[ERROR\] Hook postFork failed: Error: postFork rejected/);
  await s.waitForLog(/\[ERROR\] Hook postWorkerInit failed: Error: postWorkerInit rejected/);
  const bad = await request(s.port, '/bad');
  assert.is(bad.status, 200, 'the request is still served');
  await s.waitForLog(/\[ERROR\] Hook preRequest failed: Error: preRequest exploded/);
  await s.waitForLog(/\[ERROR\] Hook postRequest failed: Error: postRequest exploded/);
  const [worker] = s.workers();
  for (let i = 0; i < 3; i++) assert.is((await request(s.port, '/')).status, 200);
  assert.equal(s.workers(), [worker], 'the same worker: no crash, no restart');
  assert.is(s.count(/Booting worker/), 1);
  assert.is((await s.stop()).code, 0);
});

test('hooks are in --print-config; a hook that is not a function is refused, exit 2', async () => {
  const dir = tempApp({
    'ok.cjs': 'module.exports = { whenReady: function announce() {}, on_exit() {} };',
    'bad.json': JSON.stringify({ whenReady: 'echo ready' }),
  });
  const r = await runCli(['--print-config', '-c', 'ok.cjs'], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^whenReady = function announce$/m);
  assert.match(r.stdout, /^onExit = function on_exit$/m, "Gunicorn's snake_case name is accepted too");
  assert.match(r.stdout, /^preRequest = $/m);
  const bad = await runCli(['--print-config', '-c', 'bad.json'], { cwd: dir });
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /^narwhal: error: invalid value for whenReady \(in .*bad\.json\): "echo ready"; allowed: a function, in a \.js, \.mjs or \.cjs config file\n$/);
});

test.run();
