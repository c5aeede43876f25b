// Test helpers: run the built CLI as a user would, talk to it over 127.0.0.1, read its log.
// Every process started here is recorded and killed by PID when the test file ends.
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Started, TempDirs, childPids, cleanEnv as withoutNarwhalEnv, httpRequest, isAlive, killTree, poll, sleep, writeFiles } from './proc.mjs';

export { childPids, isAlive, sleep };

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// NARWHAL_TEST_CLI runs the tests (or `npm run soak`) against another build, to compare.
export const CLI = process.env.NARWHAL_TEST_CLI || join(ROOT, 'dist', 'narwhal.js');
export const FIXTURES = join(ROOT, 'test', 'fixtures');

const started = new Started();

/** Runs the CLI to completion (for flags that exit). */
export function runCli(args, { env = {}, cwd = ROOT, timeoutMs = 15000, bin = process.execPath, binArgs = [CLI] } = {}) {
  return new Promise((resolve) => {
    const child = started.watch(spawn(bin, [...binArgs, ...args], { cwd, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The environment without anything narwhal reads, so the developer's shell cannot leak in. */
export const cleanEnv = () => withoutNarwhalEnv();

/**
 * Starts a master (`narwhal ARGS`) bound to a free port on 127.0.0.1 unless ARGS has a bind,
 * and waits until it logs that it listens.
 */
export async function startServer(args, { env = {}, cwd = ROOT, workers, bin = process.execPath, binArgs = [CLI], timeoutMs = 15000 } = {}) {
  const hasBind = args.some((a) => a === '-b' || a === '--bind' || a.startsWith('--bind='));
  const full = [...(hasBind ? [] : ['-b', '127.0.0.1:0']), '--log-level', 'debug', ...args];
  const child = started.watch(spawn(bin, [...binArgs, ...full], { cwd, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const server = {
    child,
    pid: child.pid,
    log: '',
    stdout: '',
    port: 0,
    exit: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
    waitForLog(re, ms = 10000, from = 0) {
      return waitFor(() => { const m = re.exec(server.log.slice(from)); return m ?? null; }, ms, `log line ${re} (log so far:\n${server.log})`);
    },
    count(re) {
      return (server.log.match(new RegExp(re.source, 'g')) ?? []).length;
    },
    workers: () => childPids(child.pid),
    async waitForReady(n, ms = 15000) {
      await waitFor(() => server.count(/Worker ready \(pid: \d+\)/) >= n, ms, `${n} ready workers (log:\n${server.log})`);
    },
    signal: (sig) => process.kill(child.pid, sig),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return server.exit;
      const kids = server.workers();
      try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
      const done = await Promise.race([server.exit, sleep(8000).then(() => null)]);
      if (!done) killTree(child.pid, kids);
      return server.exit;
    },
  };
  child.stdout.on('data', (d) => { server.stdout += d; });
  child.stderr.on('data', (d) => { server.log += d; });
  const m = await Promise.race([
    server.waitForLog(/Listening at: https?:\/\/127\.0\.0\.1:(\d+)/, timeoutMs).catch((e) => { throw e; }),
    server.exit.then(({ code }) => { throw new Error(`server exited (${code}) before listening:\n${server.log}`); }),
  ]).catch((err) => { if (hasBind) return null; throw err; });
  if (m) server.port = Number(m[1]);
  if (workers) await server.waitForReady(workers);
  return server;
}

/** Kills (by PID) every server still running, and their workers. Call from each suite's `after`. */
export async function killAll() {
  started.killAll();
  await sleep(100);
}

export function waitFor(check, ms = 10000, what = 'condition') {
  return poll(check, { timeoutMs: ms, everyMs: 25, message: `timed out after ${ms} ms waiting for ${what}` });
}

/** One request on a fresh connection. */
export function request(port, path = '/', { method = 'GET', headers = {}, body, timeoutMs = 10000, host = '127.0.0.1' } = {}) {
  return httpRequest({ host, port, path, method, headers }, { body, timeoutMs, timeoutMessage: 'request timed out' });
}

/** Sends raw bytes and collects whatever comes back until the server closes or `ms` pass. */
export function rawExchange(port, bytes, ms = 2000) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    let closed = false;
    const finish = () => { socket.destroy(); resolve({ data: Buffer.concat(chunks).toString('latin1'), closed }); };
    const timer = setTimeout(finish, ms);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => { closed = true; clearTimeout(timer); finish(); });
    socket.write(bytes);
  });
}

/**
 * A bounded load: `connections` keep-alive connections sending GETs back to back for
 * `durationMs`. Counts every failure (error or non-2xx) and which worker PIDs answered
 * (the fixture apps answer with their PID).
 */
export async function load(port, { connections = 16, durationMs = 3000, path = '/' } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const result = { ok: 0, failed: 0, errors: [], pids: new Set() };
  const deadline = Date.now() + durationMs;
  const one = () => new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: 10000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (res.statusCode >= 200 && res.statusCode < 300) {
          result.ok++;
          const pid = /pid[= :]+(\d+)/.exec(body)?.[1];
          if (pid) result.pids.add(Number(pid));
        } else {
          result.failed++;
          result.errors.push(`status ${res.statusCode}`);
        }
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => { result.failed++; result.errors.push(err.code ?? err.message); resolve(); });
  });
  await Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < deadline) await one();
  }));
  agent.destroy();
  return result;
}

/**
 * HUP while a load (16 keep-alive connections, 5 s) runs against `s`; resolves with the load's
 * result once every worker that served before is replaced by `workers` new ones.
 */
export async function reloadUnderLoad(s, workers) {
  const before = s.workers();
  const traffic = load(s.port, { connections: 16, durationMs: 5000 });
  await sleep(1000);
  s.signal('SIGHUP');
  const result = await traffic;
  await waitFor(() => s.workers().every((p) => !before.includes(p)) && s.workers().length === workers, 10000, 'all replaced');
  return { result, before, after: s.workers() };
}

/** A temporary directory holding the given files ({ 'app.js': '...' }). */
const tempDirs = new TempDirs();
// Removed when the test process ends (uvu runs every file in one process).
process.on('exit', () => tempDirs.removeAll());

export function tempApp(files) {
  return writeFiles(tempDirs.make('narwhal-test-'), files);
}
