// USR2 binary upgrade with Gunicorn's semantics, on the single binary: under load, the binary
// on disk is replaced, USR2 starts a new master from it with the listening socket inherited,
// PIDFILE becomes PIDFILE.2 for the old master, WINCH + TERM retire the old one — and not one
// request fails. A new master that cannot start gives PIDFILE back to the old one.
import { copyFileSync, existsSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bareEnv, childPids, ensureBinary, exeOf, freePort, get, isAlive, killAll, sleep, start, tempDir,
  track, waitFor, waitServing, writeFiles,
} from './helpers/binary.mjs';

let dir;
let bin;

test.before(() => {
  const built = ensureBinary();
  dir = tempDir('narwhal-upgrade-');
  bin = join(dir, 'narwhal');
  copyFileSync(built, bin);
  writeFiles(dir, {
    // A little work per request, so that requests are in flight when masters and workers change.
    'app.cjs': 'module.exports = (req, res) => setTimeout(() => res.end(String(process.ppid)), 3);\n',
  });
});

test.after(() => killAll());

const readPid = (file) => (existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : null);

/** The PID of the master USR2 started, once it has written PIDFILE; recorded for killAll(). */
async function newMaster(pidfile, oldPid) {
  const pid = await waitFor(() => {
    const p = readPid(pidfile);
    return p && p !== oldPid ? p : null;
  }, { what: 'the new master to write the pidfile' });
  track(pid);
  return pid;
}

/** Replaces the binary the way a deploy does: a new file renamed over the old one. */
function replaceBinary(withFile) {
  copyFileSync(withFile, `${bin}.new`);
  renameSync(`${bin}.new`, bin);
}

/** CONCURRENCY clients, each sending requests on new connections back to back until stopped. */
function load(port, concurrency = 12) {
  const stats = { ok: 0, failed: 0, errors: new Map(), byMaster: new Map() };
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const { status, body } = await get(port, '/', { timeoutMs: 10_000 });
        if (status === 200) {
          stats.ok++;
          stats.byMaster.set(Number(body), (stats.byMaster.get(Number(body)) ?? 0) + 1);
        } else {
          stats.failed++;
          stats.errors.set(`status ${status}`, (stats.errors.get(`status ${status}`) ?? 0) + 1);
        }
      } catch (err) {
        stats.failed++;
        stats.errors.set(err.code ?? err.message, (stats.errors.get(err.code ?? err.message) ?? 0) + 1);
      }
    }
  });
  return { stats, stop: async () => { running = false; await Promise.all(loops); } };
}

test('USR2 under load: new master from the replaced binary, old one retired, 0 failed requests', async () => {
  const port = await freePort();
  const pidfile = join(dir, 'narwhal.pid');
  const old = start(bin, ['-w', '2', '-b', `127.0.0.1:${port}`, '-p', pidfile, '--graceful-timeout', '10', 'app.cjs'], { cwd: dir, env: bareEnv() });
  await waitServing(port).catch((err) => { throw new Error(`${err.message}\n${old.out}`); });
  assert.is(readPid(pidfile), old.pid);

  const traffic = load(port);
  await sleep(300);
  replaceBinary(ensureBinary());
  process.kill(old.pid, 'SIGUSR2');
  const newPid = await newMaster(pidfile, old.pid);
  assert.is(readPid(`${pidfile}.2`), old.pid, 'the old master owns PIDFILE.2');
  // The new master runs the file now on disk; the old one a file that is gone.
  assert.is(exeOf(newPid), realpathSync(bin));
  assert.match(exeOf(old.pid), /\(deleted\)$/);
  // Both masters serve from the one socket until the old one is retired.
  await waitFor(() => (traffic.stats.byMaster.get(newPid) ?? 0) > 20, { what: 'the new master\'s workers to serve' });
  for (const w of childPids(newPid)) assert.is(exeOf(w), realpathSync(bin));

  process.kill(old.pid, 'SIGWINCH');
  await sleep(500);
  process.kill(old.pid, 'SIGTERM');
  const { code } = await Promise.race([old.exit, sleep(15_000).then(() => ({ code: 'timeout' }))]);
  assert.is(code, 0, old.out);
  assert.not.ok(existsSync(`${pidfile}.2`), 'PIDFILE.2 is removed with the old master');
  assert.is(readPid(pidfile), newPid);

  const servedByNew = traffic.stats.byMaster.get(newPid) ?? 0;
  await sleep(400);
  await traffic.stop();
  const { ok, failed, errors } = traffic.stats;
  if (process.env.NARWHAL_TEST_VERBOSE) console.log('upgrade load:', { ok, failed, byMaster: [...traffic.stats.byMaster] });
  assert.is(failed, 0, `failed requests: ${JSON.stringify([...errors])}\n${old.out}`);
  assert.ok(ok > 200, `only ${ok} requests`);
  assert.ok((traffic.stats.byMaster.get(newPid) ?? 0) > servedByNew, 'the new master serves after the old one left');
  assert.ok((traffic.stats.byMaster.get(old.pid) ?? 0) > 0, 'the old master served before');
  assert.ok(old.out.includes(`USR2: started a new master (pid ${newPid})`));

  process.kill(newPid, 'SIGTERM');
  await waitFor(() => !isAlive(newPid), { what: 'the new master to stop' });
  assert.not.ok(existsSync(pidfile));
});

test('USR2 with a broken binary on disk: the old master keeps PIDFILE and serves on', async () => {
  const good = ensureBinary();
  copyFileSync(good, bin);
  const port = await freePort();
  const pidfile = join(dir, 'broken.pid');
  const old = start(bin, ['-w', '1', '-b', `127.0.0.1:${port}`, '-p', pidfile, 'app.cjs'], { cwd: dir, env: bareEnv() });
  await waitServing(port).catch((err) => { throw new Error(`${err.message}\n${old.out}`); });
  const broken = join(dir, 'broken');
  writeFileSync(broken, '#!/bin/sh\necho "not a narwhal" >&2\nexit 1\n', { mode: 0o755 });
  replaceBinary(broken);
  process.kill(old.pid, 'SIGUSR2');
  await waitFor(() => /USR2: the new master \(pid \d+\) exited with code 1/.test(old.out), { what: 'the failed upgrade to be noticed' });
  assert.is(readPid(pidfile), old.pid, 'PIDFILE is the old master\'s again');
  assert.not.ok(existsSync(`${pidfile}.2`));
  assert.is((await get(port)).status, 200);
  process.kill(old.pid, 'SIGTERM');
  assert.is((await old.exit).code, 0);
  copyFileSync(good, bin);
});

test('rollback before WINCH: TERM the new master, the old one takes PIDFILE back and serves on', async () => {
  copyFileSync(ensureBinary(), bin);
  const port = await freePort();
  const pidfile = join(dir, 'rollback.pid');
  const old = start(bin, ['-w', '1', '-b', `127.0.0.1:${port}`, '-p', pidfile, 'app.cjs'], { cwd: dir, env: bareEnv() });
  await waitServing(port).catch((err) => { throw new Error(`${err.message}\n${old.out}`); });
  process.kill(old.pid, 'SIGUSR2');
  const newPid = await newMaster(pidfile, old.pid);
  // A second USR2 while the new master runs is refused.
  process.kill(old.pid, 'SIGUSR2');
  await waitFor(() => old.out.includes('USR2 ignored: an upgrade is already running'), { what: 'the second USR2 refused' });
  process.kill(newPid, 'SIGTERM');
  await waitFor(() => readPid(pidfile) === old.pid, { what: 'PIDFILE back to the old master' });
  assert.not.ok(existsSync(`${pidfile}.2`));
  assert.not.ok(isAlive(newPid));
  for (let i = 0; i < 5; i++) assert.is((await get(port)).body, String(old.pid));
  process.kill(old.pid, 'SIGTERM');
  assert.is((await old.exit).code, 0);
  assert.not.ok(existsSync(pidfile));
});

test('USR2 with --admin-bind: the new master waits for the admin port and binds it when the old one stops', async () => {
  copyFileSync(ensureBinary(), bin);
  const [port, adminPort] = [await freePort(), await freePort()];
  const pidfile = join(dir, 'admin.pid');
  const old = start(bin, ['-w', '1', '-b', `127.0.0.1:${port}`, '--admin-bind', `127.0.0.1:${adminPort}`, '-p', pidfile, 'app.cjs'], { cwd: dir, env: bareEnv() });
  await waitServing(port).catch((err) => { throw new Error(`${err.message}\n${old.out}`); });
  assert.is((await get(adminPort, '/healthz')).status, 200);
  process.kill(old.pid, 'SIGUSR2');
  const newPid = await newMaster(pidfile, old.pid);
  // Both masters alive: the new one says it waits for the port rather than failing the upgrade.
  await waitFor(() => old.out.includes(`Admin address 127.0.0.1:${adminPort} is held by the previous master (pid ${old.pid}): binding it once that one stops`),
    { what: 'the new master to wait for the admin port' });
  assert.ok(isAlive(newPid), old.out);
  assert.ok(isAlive(old.pid));
  assert.is((await get(adminPort, '/healthz')).status, 200, 'the old master still answers');
  process.kill(old.pid, 'SIGTERM');
  assert.is((await old.exit).code, 0);
  // The new master binds it within its retry interval and answers.
  await waitFor(async () => {
    try { return (await get(adminPort, '/readyz')).status === 200; } catch { return false; }
  }, { what: 'the new master to serve the admin port' });
  assert.is((await get(port)).body, String(newPid));
  process.kill(newPid, 'SIGTERM');
  await waitFor(() => !isAlive(newPid), { what: 'the new master to stop' });
});

test.run();
