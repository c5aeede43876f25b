// Chaos under keep-alive load: workers killed (SIGKILL) or stopped (SIGTERM) from outside once a
// second, and signal storms sent to the master (HUP, TTIN/TTOU).
import { join } from 'node:path';
import { FIXTURES, sleep, waitFor } from '../helpers/server.mjs';
import { keepAliveLoad } from '../helpers/traffic.mjs';
import { leakedWorkers, metrics, poolSettled, readiness, seeded, startWithAdmin } from './common.mjs';

const APP = join(FIXTURES, 'pid.js');
const CONNECTIONS = 16;

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0; };

/**
 * SIGKILL or SIGTERM to a random worker of 2 every second for `chaosSeconds`, under 16 keep-alive
 * connections. After each, the pool must be back to 2 ready workers before the next one.
 * SIGKILL may fail at most the requests that were in flight on the victim (or on a connection
 * whose worker the client did not know yet); SIGTERM may fail none. No request may hang.
 */
export async function chaos(signal, profile, { seed = 9 } = {}) {
  const rnd = seeded(seed);
  const server = await startWithAdmin(['-w', '2', APP], { workers: 2 });
  const violations = [];
  const kills = [];
  try {
    const load = keepAliveLoad({ port: server.port, connections: CONNECTIONS });
    await sleep(500);
    const end = Date.now() + profile.chaosSeconds * 1000;
    while (Date.now() < end) {
      const tick = Date.now();
      const victim = rnd.pick(server.workers());
      const inFlight = load.inFlightOn(victim);
      process.kill(victim, signal);
      try {
        // Reaped by the master, not only dead: until then it still counts the victim as its own.
        await waitFor(() => !server.workers().includes(victim), 15_000, `worker ${victim} to exit after ${signal}`);
        await poolSettled(server, 2, 15_000);
      } catch (err) {
        violations.push(`the pool was not back to 2 ready workers after ${signal} to ${victim}: ${err.message.split('\n')[0]}`);
        break;
      }
      kills.push({ victim, inFlight, recoverMs: Date.now() - tick });
      await sleep(Math.max(0, 1000 - (Date.now() - tick)));
    }
    const result = await load.stop();
    const m = await metrics(server);
    const inFlightAtKills = kills.reduce((n, k) => n + k.inFlight, 0);
    const allowed = signal === 'SIGKILL' ? inFlightAtKills : 0;
    if (result.failed > allowed) {
      violations.push(`${result.failed} failed requests, more than ${allowed} (${signal === 'SIGKILL' ? 'in flight at the kills' : 'none may fail'}): ${JSON.stringify(result.errors)}`);
    }
    if (result.hung > 0) violations.push(`${result.hung} requests hung until the client's timeout`);
    const counted = m['narwhal_worker_restarts_total{reason="signal"}'];
    if (counted !== kills.length) violations.push(`restarts{reason="signal"} is ${counted}, expected ${kills.length}`);
    const backOff = server.log.split('\n').findIndex((l) => /next start in/.test(l));
    if (backOff >= 0) violations.push(`a successor was delayed by crash back-off:\n${server.log.split('\n').slice(Math.max(0, backOff - 15), backOff + 1).join('\n')}`);
    if (signal === 'SIGTERM') {
      const logged = (server.log.match(/\[INFO\] Worker \(pid:\d+\) is stopping: it received TERM from outside/g) ?? []).length;
      if (logged !== kills.length) violations.push(`${logged} INFO lines for ${kills.length} TERMs from outside`);
    }
    const recoveries = kills.map((k) => k.recoverMs);
    return {
      name: `chaos: ${signal} to a random worker every second for ${profile.chaosSeconds} s, ${CONNECTIONS} keep-alive connections, 2 workers`,
      figures: {
        kills: kills.length, sent: result.sent, failed: result.failed, inFlightAtKills, hung: result.hung,
        recoverMedianMs: median(recoveries), recoverMaxMs: Math.max(0, ...recoveries), errors: result.errors,
      },
      violations,
    };
  } finally {
    await server.stop();
  }
}

/**
 * Storms sent to the master under load: `hup` is 5 HUPs in 2 s; `ttin` is 10 TTIN+TTOU pairs.
 * Then the pool must settle at its target with no failed request and no leaked process.
 */
export async function storm(kind, profile) {
  const server = await startWithAdmin(['-w', '2', APP], { workers: 2 });
  const violations = [];
  try {
    const load = keepAliveLoad({ port: server.port, connections: CONNECTIONS });
    await sleep(300);
    let settleMs = 0;
    for (let round = 0; round < profile.storms; round++) {
      if (kind === 'hup') {
        for (let i = 0; i < 5; i++) { server.signal('SIGHUP'); await sleep(400); }
      } else {
        // Signals of one kind do not queue in the kernel: the pairs alternate, 100 ms apart.
        for (let i = 0; i < 10; i++) { server.signal('SIGTTIN'); await sleep(100); server.signal('SIGTTOU'); await sleep(100); }
      }
      try {
        settleMs = Math.max(settleMs, await poolSettled(server, 2, 30_000));
      } catch (err) {
        violations.push(`round ${round + 1}: the pool did not settle at 2 workers: ${err.message.split('\n')[0]}`);
        break;
      }
    }
    const result = await load.stop();
    const r = await readiness(server);
    if (result.failed > 0) violations.push(`${result.failed} failed requests: ${JSON.stringify(result.errors)}`);
    if (result.hung > 0) violations.push(`${result.hung} requests hung`);
    if (r.workers.desired !== 2) violations.push(`target is ${r.workers.desired} after the storm, expected 2`);
    // A worker that exits is reaped by the master at once; give the last ones a moment.
    await sleep(300);
    const leaked = leakedWorkers(server);
    if (leaked.length > 0) violations.push(`worker processes left running outside the pool: ${leaked.join(', ')}`);
    const booted = (server.log.match(/Booting worker with pid/g) ?? []).length;
    return {
      name: kind === 'hup' ? `storm: 5 HUPs in 2 s (x${profile.storms}) under load` : `storm: 10 TTIN+TTOU pairs (x${profile.storms}) under load`,
      figures: { sent: result.sent, failed: result.failed, workersBooted: booted, settleMaxMs: settleMs, leaked: leaked.length },
      violations,
    };
  } finally {
    await server.stop();
  }
}
