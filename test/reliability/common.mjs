// Shared by the reliability scenarios (short mode in `npm test`, long mode in `npm run soak`):
// the two profiles, a seeded random source, and what a scenario reads from a running narwhal
// (readiness, metrics, its process table, its file descriptors).
import { readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { isAlive, request, startServer, waitFor } from '../helpers/server.mjs';

/** How long and how much: `short` keeps the whole suite to a few minutes on 2 cores. */
export const PROFILES = {
  short: {
    chaosSeconds: 10, proxySeconds: 8, rollouts: 1, storms: 1, fuzzRequests: 10_000,
    idleConnections: 5_000, slowClients: 1_000, slowSeconds: 6,
  },
  long: {
    chaosSeconds: 60, proxySeconds: 45, rollouts: 5, storms: 5, fuzzRequests: 100_000,
    idleConnections: 5_000, slowClients: 1_000, slowSeconds: 30,
  },
};

/** A small seeded generator (mulberry32): the same seed gives the same run. */
export function seeded(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
  };
}

/** Starts narwhal with an admin server; resolves the server with `admin` (its port). */
export async function startWithAdmin(args, options = {}) {
  const server = await startServer(['--admin-bind', '127.0.0.1:0', ...args], options);
  server.admin = Number((await server.waitForLog(/Admin server at: http:\/\/127\.0\.0\.1:(\d+)/))[1]);
  return server;
}

export async function readiness(server) {
  const r = await request(server.admin, '/readyz');
  return { code: r.status, ...JSON.parse(r.body) };
}

/** Samples of /metrics as { 'name{labels}': value }. */
export async function metrics(server) {
  const text = (await request(server.admin, '/metrics')).body;
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/**
 * Waits until the master has `target` ready workers and none booting or draining, and its
 * children are exactly those (none exited and not yet reaped: the master has seen every exit);
 * returns the ms it took.
 */
export async function poolSettled(server, target, ms = 20_000) {
  const started = Date.now();
  await waitFor(async () => {
    const children = server.workers();
    if (children.length !== target || !children.every(isAlive)) return false;
    const r = await readiness(server);
    return r.workers.ready === target && r.workers.booting === 0 && r.workers.draining === 0 && server.workers().join() === children.join();
  }, ms, `${target} ready workers and nothing else (log:\n${server.log.slice(-3000)})`);
  return Date.now() - started;
}

/** Every worker PID the master ever logged. */
export const bootedWorkers = (server) => [...server.log.matchAll(/Booting worker with pid: (\d+)/g)].map((m) => Number(m[1]));

/** Workers the master started that are still running but are not its children now (leaked). */
export function leakedWorkers(server) {
  const current = new Set(server.workers());
  return bootedWorkers(server).filter((pid) => !current.has(pid) && isAlive(pid));
}

/** Open socket file descriptors of a process (from /proc). */
export function socketCount(pid) {
  let n = 0;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try { if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++; } catch { /* closed meanwhile */ }
    }
  } catch { return -1; }
  return n;
}

/** A port free on 127.0.0.1 right now (for the proxies, which cannot report a port 0 bind). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** "k1 v1, k2 v2" of an object, for the figures line. */
export const describe = (figures) => Object.entries(figures).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');

/** Prints a scenario's figures under the test that ran it. */
export function report(name, figures) {
  console.log(`  [reliability] ${name}: ${describe(figures)}`);
}
