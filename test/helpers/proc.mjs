// Low-level plumbing shared by the test helpers (server.mjs, container.mjs, binary.mjs) and the
// benchmarks: processes read from /proc and killed by PID (never by name), polling, the
// environment, temp dirs and one-shot HTTP requests.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port free on 127.0.0.1 a moment ago (for what cannot be told to pick one itself). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Children of a process, from /proc (no pgrep: only what we started is ever signalled). */
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

/** True while PID runs (a zombie does not count). */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Sends SIG to PID; a process already gone is fine. */
export function kill(pid, sig = 'SIGKILL') {
  try { process.kill(pid, sig); } catch { /* gone */ }
}

/**
 * SIGKILLs PID and its children (by PID). The children are listed before anything is killed,
 * and the parent goes first, so that a master cannot replace a worker in between.
 */
export function killTree(pid, kids = childPids(pid)) {
  for (const p of [pid, ...kids]) kill(p);
}

/** The PIDs a helper module started and has not seen exit, for its end-of-file clean-up. */
export class Started {
  #pids = new Set();

  /** Records CHILD (a ChildProcess) until it exits. */
  watch(child) {
    this.#pids.add(child.pid);
    child.once('exit', () => this.#pids.delete(child.pid));
    return child;
  }

  /** Records a PID not started here (a master started by USR2) until killAll(). */
  add(pid) {
    this.#pids.add(pid);
  }

  /** SIGKILLs every recorded process and its children, by PID, and forgets them. */
  killAll() {
    for (const pid of this.#pids) killTree(pid);
    this.#pids.clear();
  }
}

/**
 * Polls `check()` every `everyMs` until it returns a truthy value (which it resolves to); checks
 * once more after `timeoutMs`, then throws `message`. An exception from `check` is thrown as is.
 */
export async function poll(check, { timeoutMs, everyMs, message }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(message);
    await sleep(everyMs);
  }
}

/**
 * The environment without anything narwhal reads (NARWHAL_*, PORT, WEB_CONCURRENCY and the
 * names in `also`), so that the developer's shell cannot leak in; then EXTRA on top.
 */
export function cleanEnv(extra = {}, { also = [] } = {}) {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('NARWHAL_') || key === 'PORT' || key === 'WEB_CONCURRENCY' || also.includes(key)) delete env[key];
  }
  return { ...env, ...extra };
}

/** A new directory under the system temp dir (not removed: see TempDirs). */
export const makeTempDir = (prefix) => mkdtempSync(join(tmpdir(), prefix));

/** Temp dirs made through one helper module, removed together by removeAll(). */
export class TempDirs {
  #dirs = new Set();

  make(prefix) {
    const dir = makeTempDir(prefix);
    this.#dirs.add(dir);
    return dir;
  }

  removeAll() {
    for (const dir of this.#dirs) rmSync(dir, { recursive: true, force: true });
    this.#dirs.clear();
  }
}

/** Writes FILES ({ 'relative/path': 'content' }) under DIR, making folders; returns DIR. */
export function writeFiles(dir, files) {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/**
 * One request on a fresh connection (no agent). TARGET is a URL or http.request options;
 * resolves { status, headers, rawHeaders, body } (body as UTF-8 text); rejects with
 * `timeoutMessage` when the socket is idle for `timeoutMs`.
 */
export function httpRequest(target, { body, timeoutMs, timeoutMessage = 'request timed out' } = {}) {
  const options = { agent: false, timeout: timeoutMs };
  return new Promise((resolve, reject) => {
    const onResponse = (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    };
    const req = typeof target === 'string' ? http.request(target, options, onResponse) : http.request({ ...target, ...options }, onResponse);
    req.on('timeout', () => req.destroy(new Error(timeoutMessage)));
    req.on('error', reject);
    req.end(body);
  });
}
