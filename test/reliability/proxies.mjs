// Behind real reverse proxies: nginx with keep-alive upstreams (TCP and unix socket) while the
// pool is reloaded, recycled, scaled and has a worker stopped; HAProxy health-checking /readyz
// of two narwhal instances through a rolling update.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, sleep, startServer, waitFor } from '../helpers/server.mjs';
import { startHaproxy, startNginx } from '../helpers/proxies.mjs';
import { keepAliveLoad } from '../helpers/traffic.mjs';
import { freePort } from './common.mjs';

const APP = join(FIXTURES, 'pid.js');
const CONNECTIONS = 16;
const fivexx = (statuses) => Object.entries(statuses).filter(([s]) => s.startsWith('5')).reduce((n, [, c]) => n + c, 0);

/**
 * nginx -> narwhal (3 workers, --max-requests 100 + jitter 50) over `transport` ('tcp' or 'unix'),
 * 16 keep-alive client connections to nginx for `proxySeconds`, while HUP, TTOU, a worker's TERM
 * and TTIN happen in turn. Expect 0 5xx at nginx and 0 failed at the client.
 */
export async function behindNginx(transport, profile) {
  const unixPath = join(tmpdir(), `narwhal-rel-${process.pid}-${Date.now()}.sock`);
  const bind = transport === 'unix' ? ['-b', `unix:${unixPath}`] : [];
  const server = await startServer(['-w', '3', '--max-requests', '100', '--max-requests-jitter', '50', ...bind, APP], { workers: 3 });
  const port = await freePort();
  const nginx = await startNginx({ port, upstream: transport === 'unix' ? `unix:${unixPath}` : `127.0.0.1:${server.port}` });
  const violations = [];
  try {
    const load = keepAliveLoad({ port, connections: CONNECTIONS });
    const events = [
      ['HUP', () => server.signal('SIGHUP')],
      ['TTOU', () => server.signal('SIGTTOU')],
      // The first worker still there: with --max-requests 100 one may exit as it is picked.
      ['worker TERM', () => server.workers().find((pid) => { try { process.kill(pid, 'SIGTERM'); return true; } catch { return false; } })],
      ['TTIN', () => server.signal('SIGTTIN')],
    ];
    // One event every 2 s or so (at least the four), then a quiet stretch before the count.
    const count = Math.max(events.length, Math.round(profile.proxySeconds / 2));
    const every = (profile.proxySeconds * 1000) / (count + 1);
    const happened = [];
    for (let i = 0; i < count; i++) {
      await sleep(every);
      const [name, fire] = events[i % events.length];
      fire();
      happened.push(name);
    }
    await sleep(every);
    const result = await load.stop();
    const statuses = nginx.statuses();
    const nginx5xx = fivexx(statuses);
    if (nginx5xx > 0) violations.push(`${nginx5xx} 5xx answered by nginx: ${JSON.stringify(statuses)}; nginx errors: ${nginx.errorLines().slice(0, 3).join(' | ')}`);
    if (result.failed > 0) violations.push(`${result.failed} failed at the client: ${JSON.stringify(result.errors)}`);
    const recycled = (server.log.match(/\(max_requests\)/g) ?? []).length;
    return {
      name: `nginx keep-alive upstream over ${transport === 'unix' ? 'a unix socket' : 'TCP'}: HUP, TTOU, worker TERM, TTIN and max-requests recycling under load, ${profile.proxySeconds} s`,
      figures: {
        sent: result.sent, failed: result.failed, nginx5xx, recycled, events: happened.length,
        nginxUpstreamErrors: nginx.errorLines().length, p99Ms: result.p99Ms,
      },
      violations,
    };
  } finally {
    await nginx.stop();
    await server.stop();
  }
}

/** A narwhal instance on fixed ports (HAProxy's config names them), 2 workers. */
async function instance(ports, shutdownDelay) {
  const s = await startServer(['-w', '2', '-b', `127.0.0.1:${ports.port}`, '--admin-bind', `127.0.0.1:${ports.admin}`,
    '--shutdown-delay', String(shutdownDelay), APP], { workers: 2 });
  return s;
}

/**
 * A rolling update, as Kubernetes does it, with HAProxy standing in for the Service: HAProxy
 * checks /readyz of both slots every 200 ms. Start the new instance, wait until HAProxy sends
 * it traffic, then TERM the old one (--shutdown-delay `shutdownDelay` s), `rollouts` times.
 * With a delay longer than the check interval nothing may fail; without, report what does.
 */
export async function rollout({ shutdownDelay }, profile) {
  const slots = [];
  for (const name of ['a', 'b']) slots.push({ name, port: await freePort(), admin: await freePort() });
  const hport = await freePort();
  let old = await instance(slots[0], shutdownDelay);
  const haproxy = await startHaproxy({ port: hport, servers: slots, interMs: 200 });
  const violations = [];
  const running = [old];
  try {
    // HAProxy starts with every server UP until its checks fail: wait until it knows b is down.
    await waitFor(async () => { const st = await haproxy.serverStates(); return st.a === 'UP' && st.b === 'DOWN'; }, 10_000, 'HAProxy to see a UP, b DOWN');
    const load = keepAliveLoad({ port: hport, connections: CONNECTIONS });
    await sleep(500);
    let oldSlot = 0;
    for (let i = 0; i < profile.rollouts; i++) {
      const newSlot = 1 - oldSlot;
      const fresh = await instance(slots[newSlot], shutdownDelay);
      running.push(fresh);
      await waitFor(async () => (await haproxy.serverStates())[slots[newSlot].name] === 'UP', 10_000, `HAProxy to see ${slots[newSlot].name} UP`);
      await sleep(300);
      old.signal('SIGTERM');
      await old.exit;
      await waitFor(async () => /DOWN/.test((await haproxy.serverStates())[slots[oldSlot].name]), 10_000, 'HAProxy to take the old one out');
      old = fresh;
      oldSlot = newSlot;
      await sleep(500);
    }
    const result = await load.stop();
    if (shutdownDelay > 0 && result.failed > 0) violations.push(`${result.failed} failed during the rollout: ${JSON.stringify(result.errors)}`);
    return {
      name: `HAProxy checking /readyz every 200 ms, rolling update of 2 instances (x${profile.rollouts}), --shutdown-delay ${shutdownDelay}`,
      figures: { sent: result.sent, failed: result.failed, errors: result.errors },
      violations,
    };
  } finally {
    await haproxy.stop();
    for (const s of running) await s.stop();
  }
}
