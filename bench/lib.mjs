// Shared benchmark plumbing: start a server variant, load it with wrk (or autocannon when wrk
// is missing), stop it by PID, and report medians and ratios. Traffic goes to 127.0.0.1 only.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Reading /proc and killing by PID: the same code the tests use.
export { childPids, freePort, killTree } from '../test/helpers/proc.mjs';

async function waitForPort(port, ms = 15000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

/** Starts `cmd args`, waits for the port (plus `settleMs` for every worker to boot). */
export async function startVariant({ cmd, args, port, env = {}, settleMs = 1500 }) {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((r) => child.once('exit', r));
  await waitForPort(port);
  await sleep(settleMs);
  return {
    pid: child.pid,
    log: () => log,
    async stop() {
      try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
      const done = await Promise.race([exited.then(() => true), sleep(10000).then(() => false)]);
      if (!done) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    },
  };
}

export const hasWrk = () => { try { execFileSync('wrk', ['--version'], { stdio: 'ignore' }); return true; } catch (e) { return e.status === 1; } };

/** Requests per second from one load run. */
export async function loadOnce(port, { seconds = 5, connections = 64, close = false } = {}) {
  if (hasWrk()) {
    const args = ['-t1', `-c${connections}`, `-d${seconds}s`, ...(close ? ['-H', 'Connection: close'] : []), `http://127.0.0.1:${port}/`];
    const out = execFileSync('wrk', args, { encoding: 'utf8', timeout: (seconds + 20) * 1000 });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? '';
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    return { rps, errors, non2xx };
  }
  const { default: autocannon } = await import('autocannon');
  const r = await autocannon({ url: `http://127.0.0.1:${port}/`, connections, duration: seconds, headers: close ? { connection: 'close' } : {} });
  return { rps: r.requests.average, errors: String(r.errors), non2xx: r.non2xx };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Per-process request counts written by bench/apps/hello.js at exit. */
export function readCounts(file) {
  if (!existsSync(file)) return [];
  const counts = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => Number(l.split(' ')[1]));
  rmSync(file);
  return counts;
}

export const countsFile = (name) => join(tmpdir(), `narwhal-bench-${process.pid}-${name}.counts`);
