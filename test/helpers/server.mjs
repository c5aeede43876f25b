// Test helpers: run the built CLI as a user would, talk to it over 127.0.0.1, read its log.
// Every process started here is recorded and killed by PID when the test file ends.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'narwhal.js');
export const FIXTURES = join(ROOT, 'test', 'fixtures');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const started = new Set();

/** Children of a process, from /proc (no pgrep: only what we started is ever signalled). */
export function childPids(pid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch { /* exited meanwhile */ }
  }
  return out.sort((a, b) => a - b);
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** Runs the CLI to completion (for flags that exit). */
export function runCli(args, { env = {}, cwd = ROOT, timeoutMs = 15000, bin = process.execPath, binArgs = [CLI] } = {}) {
  return new Promise((resolve) => {
    const child = spawn(bin, [...binArgs, ...args], { cwd, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    started.add(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      started.delete(child.pid);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The environment without anything narwhal reads, so the developer's shell cannot leak in. */
export function cleanEnv() {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('NARWHAL_') || key === 'PORT' || key === 'WEB_CONCURRENCY') delete env[key];
  return env;
}

/**
 * Starts a master (`narwhal ARGS`) bound to a free port on 127.0.0.1 unless ARGS has a bind,
 * and waits until it logs that it listens.
 */
export async function startServer(args, { env = {}, cwd = ROOT, workers, bin = process.execPath, binArgs = [CLI], timeoutMs = 15000 } = {}) {
  const hasBind = args.some((a) => a === '-b' || a === '--bind' || a.startsWith('--bind='));
  const full = [...(hasBind ? [] : ['-b', '127.0.0.1:0']), '--log-level', 'debug', ...args];
  const child = spawn(bin, [...binArgs, ...full], { cwd, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child.pid);
  const server = {
    child,
    pid: child.pid,
    log: '',
    stdout: '',
    port: 0,
    exit: new Promise((resolve) => child.on('exit', (code, signal) => { started.delete(child.pid); resolve({ code, signal }); })),
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
    server.waitForLog(/Listening at: http:\/\/127\.0\.0\.1:(\d+)/, timeoutMs).catch((e) => { throw e; }),
    server.exit.then(({ code }) => { throw new Error(`server exited (${code}) before listening:\n${server.log}`); }),
  ]).catch((err) => { if (hasBind) return null; throw err; });
  if (m) server.port = Number(m[1]);
  if (workers) await server.waitForReady(workers);
  return server;
}

function killTree(pid, kids = childPids(pid)) {
  for (const p of [pid, ...kids]) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
}

/** Kills (by PID) every server still running, and their workers. Call from each suite's `after`. */
export async function killAll() {
  for (const pid of started) killTree(pid);
  started.clear();
  await sleep(100);
}

export async function waitFor(check, ms = 10000, what = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** One request on a fresh connection. */
export function request(port, path = '/', { method = 'GET', headers = {}, body, timeoutMs = 10000, host = '127.0.0.1' } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
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

/** A temporary directory holding the given files ({ 'app.js': '...' }). */
export function tempApp(files) {
  const dir = mkdtempSync(join(tmpdir(), 'narwhal-test-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}
