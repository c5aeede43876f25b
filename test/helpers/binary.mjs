// Helpers for the single-binary tests: build dist/narwhal once, run it from a clean
// environment, talk to it over 127.0.0.1, and kill by PID everything that was started.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'dist', 'narwhal');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds dist/narwhal unless it is newer than the bundle (npm test builds the bundle first, so
 * one CI run builds the binary once, whichever test file asks first).
 */
export function ensureBinary() {
  const bundle = join(ROOT, 'dist', 'narwhal.js');
  const fresh = existsSync(BIN) && existsSync(bundle) && statSync(BIN).mtimeMs >= statSync(bundle).mtimeMs;
  if (!fresh) execFileSync(process.execPath, [join(ROOT, 'build', 'binary.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'ignore'], timeout: 120_000 });
  return BIN;
}

const started = new Set();
const tempDirs = new Set();

export function tempDir(prefix = 'narwhal-bin-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

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
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child.pid);
  const proc = { child, pid: child.pid, out: '', exited: null };
  child.stdout.on('data', (d) => { proc.out += d; });
  child.stderr.on('data', (d) => { proc.out += d; });
  proc.exit = new Promise((resolve) => child.on('exit', (code, signal) => {
    started.delete(child.pid);
    proc.exited = { code, signal };
    resolve(proc.exited);
  }));
  return proc;
}

/** Records a pid not started here (a master started by USR2) so that killAll() stops it too. */
export function track(pid) {
  started.add(pid);
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export function childPids(pid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch { /* exited meanwhile */ }
  }
  return out.sort((a, b) => a - b);
}

export function exeOf(pid) {
  return readlinkSync(`/proc/${pid}/exe`);
}

/** Kills (by PID: the process and its children) everything started here; removes temp dirs. */
export async function killAll() {
  for (const pid of started) {
    for (const c of childPids(pid)) try { process.kill(c, 'SIGKILL'); } catch { /* gone */ }
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  started.clear();
  await sleep(100);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

export async function waitFor(fn, { timeoutMs = 15_000, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** One GET on a new connection; resolves { status, body } or rejects. */
export function get(port, path = '/', { timeoutMs = 5000, host = '127.0.0.1' } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
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

/** Writes FILES ({ relative path: content }) under DIR. */
export function writeFiles(dir, files) {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}
