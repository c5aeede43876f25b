// Helpers for the single-binary tests: build dist/narwhal once, run it from a clean
// environment, talk to it over 127.0.0.1, and kill by PID everything that was started.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Started, TempDirs, childPids, freePort, httpRequest, isAlive, poll, sleep, writeFiles } from './proc.mjs';

export { childPids, freePort, isAlive, sleep, writeFiles };

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'dist', 'narwhal');

/**
 * Builds dist/narwhal unless it is newer than the bundle (npm test builds the bundle first, so
 * one CI run builds the binary once, whichever test file asks first).
 */
export function ensureBinary() {
  const bundle = join(ROOT, 'dist', 'narwhal-main.js');
  const fresh = existsSync(BIN) && existsSync(bundle) && statSync(BIN).mtimeMs >= statSync(bundle).mtimeMs;
  if (!fresh) execFileSync(process.execPath, [join(ROOT, 'build', 'binary.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'ignore'], timeout: 120_000 });
  return BIN;
}

const started = new Started();
const tempDirs = new TempDirs();

export const tempDir = (prefix = 'narwhal-bin-') => tempDirs.make(prefix);

/**
 * An environment as bare as `env -i` gives, with a PATH that holds no `node` (an empty
 * directory): whatever runs can only be the binary itself.
 */
export function bareEnv(extra = {}) {
  const bin = tempDir('narwhal-emptypath-');
  return { PATH: bin, HOME: '/nonexistent', ...extra };
}

/** Starts a long-running process, recorded for killAll(); collects its output. */
export function start(cmd, args, { env = bareEnv(), cwd = ROOT } = {}) {
  const child = started.watch(spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const proc = { child, pid: child.pid, out: '', exited: null };
  child.stdout.on('data', (d) => { proc.out += d; });
  child.stderr.on('data', (d) => { proc.out += d; });
  proc.exit = new Promise((resolve) => child.on('exit', (code, signal) => {
    proc.exited = { code, signal };
    resolve(proc.exited);
  }));
  return proc;
}

/** Records a pid not started here (a master started by USR2) so that killAll() stops it too. */
export function track(pid) {
  started.add(pid);
}

export function exeOf(pid) {
  return readlinkSync(`/proc/${pid}/exe`);
}

/** Kills (by PID: the process and its children) everything started here; removes temp dirs. */
export async function killAll() {
  started.killAll();
  await sleep(100);
  tempDirs.removeAll();
}

export function waitFor(fn, { timeoutMs = 15_000, what = 'condition' } = {}) {
  return poll(fn, { timeoutMs, everyMs: 50, message: `timed out waiting for ${what}` });
}


/** One GET on a new connection; resolves { status, body } or rejects. */
export async function get(port, path = '/', { timeoutMs = 5000, host = '127.0.0.1' } = {}) {
  const { status, body } = await httpRequest({ host, port, path, headers: { connection: 'close' } }, { timeoutMs, timeoutMessage: 'timeout' });
  return { status, body };
}

/** Polls until a GET answers 200. */
export function waitServing(port, path = '/', timeoutMs = 15_000) {
  return waitFor(() => get(port, path, { timeoutMs: 1000 }).then((r) => (r.status === 200 ? r : null), () => null), { timeoutMs, what: `127.0.0.1:${port}${path}` });
}

/**
 * Copies a package and everything it depends on (resolved as Node would from the repo's
 * node_modules) into DIR/node_modules: an app directory with its own node_modules.
 */
export function copyPackageTree(name, dir) {
  const done = new Set();
  const queue = [[name, join(ROOT, 'node_modules')]];
  while (queue.length > 0) {
    const [pkg, from] = queue.shift();
    let src = join(from, pkg);
    if (!existsSync(src)) src = join(ROOT, 'node_modules', pkg);
    if (done.has(src)) continue;
    done.add(src);
    // A dependency nested inside another package's node_modules came along with it.
    if (src === join(ROOT, 'node_modules', pkg)) cpSync(src, join(dir, 'node_modules', pkg), { recursive: true, dereference: true });
    const manifest = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8'));
    for (const dep of Object.keys(manifest.dependencies ?? {})) queue.push([dep, join(src, 'node_modules')]);
  }
}

