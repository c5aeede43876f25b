// Helpers for the container tests (cgroup, admin, metrics): run the built CLI as a user would,
// with fake cgroup trees, and talk to its app and admin ports over 127.0.0.1.
// Every process started here is recorded and killed by PID (never by name) by `cleanup()`.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Started, TempDirs, cleanEnv as withoutNarwhalEnv, httpRequest, kill, killTree, sleep, writeFiles } from './proc.mjs';

export { sleep };

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'narwhal.js');

/** Resolves to { code, signal } when the server exits, or { code: 'timeout' } (timer unref'd). */
export function exitedWithin(server, ms) {
  return Promise.race([server.exited, new Promise((r) => setTimeout(() => r({ code: 'timeout' }), ms).unref())]);
}

const started = new Started();
const tempDirs = new TempDirs();

export const tempDir = (prefix = 'narwhal-container-') => tempDirs.make(prefix);

/** Writes files ({ 'relative/path': 'content' }) under a new temp dir; returns the dir. */
export const tree = (files) => writeFiles(tempDir(), files);

/**
 * The environment without anything narwhal reads, so the developer's shell cannot leak in;
 * nor NODE_OPTIONS (a --max-old-space-size there changes how narwhal sizes worker heaps).
 */
export const cleanEnv = (extra = {}) => withoutNarwhalEnv(extra, { also: ['NODE_OPTIONS'] });

/** Runs the CLI to completion (--print-config and the like). */
export function runCli(args, env = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 15000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `--print-config` lines starting with "# NAME" or "NAME =", as a map. */
export function printConfig(args, env = {}) {
  const r = runCli(['--print-config', ...args], env);
  if (r.code !== 0) throw new Error(`--print-config exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Starts `narwhal ARGS` with the app on 127.0.0.1:0 and the admin server on 127.0.0.1:0 and
 * waits until both log their address. Resolves to { pid, app, admin, log(), exited }.
 */
export async function startNarwhal(args, { env = {}, admin = true, timeoutMs = 10000 } = {}) {
  const full = ['-b', '127.0.0.1:0', ...(admin ? ['--admin-bind', '127.0.0.1:0'] : []), '--log-level', 'debug', ...args];
  const child = started.watch(spawn(process.execPath, [CLI, ...full], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const server = { pid: child.pid, child, exited, log: () => log, app: null, admin: null };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    server.app ??= /Listening at: (http:\/\/[^\s]+)/.exec(log)?.[1] ?? null;
    server.admin ??= /Admin server at: (http:\/\/[^\s]+)/.exec(log)?.[1] ?? null;
    if (server.app && (server.admin || !admin)) return server;
    if (child.exitCode !== null) break;
    await sleep(20);
  }
  await stop(server);
  throw new Error(`narwhal did not start:\n${log}`);
}

/**
 * Stops a server started here: INT (quick shutdown: the master stops and reaps its workers),
 * then SIGKILL to it and its workers (by PID) if it is still there after 3 s.
 */
export async function stop(server) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  kill(server.pid, 'SIGINT');
  const { code } = await exitedWithin(server, 3000);
  if (code !== 'timeout') return;
  killTree(server.pid);
}

/**
 * Kills everything still running that these helpers started. (uvu runs every test file in one
 * process: temp dirs, which other files' apps may live in, are removed when the process exits.)
 */
export function cleanup() {
  started.killAll();
}

process.on('exit', () => {
  cleanup();
  tempDirs.removeAll();
});

/** One GET on a fresh connection: { status, body, headers }. */
export async function get(url, { timeoutMs = 3000 } = {}) {
  const { status, body, headers } = await httpRequest(url, { timeoutMs, timeoutMessage: `timeout: GET ${url}` });
  return { status, body, headers };
}

/** Polls `check()` until it returns a truthy value; throws with `what` after timeoutMs. */
export async function until(check, what, timeoutMs = 8000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) { last = err; }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

export const waitReady = (server, timeoutMs = 10000) =>
  until(async () => (await get(`${server.admin}/readyz`)).status === 200, '/readyz 200', timeoutMs);

/** Parses Prometheus text: [{ name, labels, value }]. */
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `labels`. */
export function metric(samples, name, labels = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === String(v)))
    .reduce((sum, s) => sum + s.value, 0);
}

export async function scrape(server) {
  const r = await get(`${server.admin}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return { text: r.body, samples: parseMetrics(r.body) };
}

/** `promtool check metrics` on the text: { ok, output }, or null when promtool is not installed. */
export function promtool(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10000 });
  if (r.error?.code === 'ENOENT') return null;
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** A fake cgroup v2 directory (files directly in it). */
export const cgroupV2 = ({ cpuMax, memoryMax, cpuset } = {}) => tree({
  'cgroup.controllers': 'cpuset cpu io memory pids\n',
  ...(cpuMax !== undefined ? { 'cpu.max': `${cpuMax}\n` } : {}),
  ...(memoryMax !== undefined ? { 'memory.max': `${memoryMax}\n` } : {}),
  ...(cpuset !== undefined ? { 'cpuset.cpus.effective': `${cpuset}\n` } : {}),
});

/** A fake cgroup v1 tree (cpu/, memory/, cpuset/ sub-folders). */
export const cgroupV1 = ({ quota, period = 100000, memory, cpuset } = {}) => tree({
  ...(quota !== undefined ? { 'cpu/cpu.cfs_quota_us': `${quota}\n`, 'cpu/cpu.cfs_period_us': `${period}\n` } : {}),
  ...(memory !== undefined ? { 'memory/memory.limit_in_bytes': `${memory}\n` } : {}),
  ...(cpuset !== undefined ? { 'cpuset/cpuset.cpus': `${cpuset}\n` } : {}),
});
