// App faults (test/fixtures/faults.js), each with the outcome docs/reliability.md promises:
//   unhandled rejection -> logged, the worker keeps serving;
//   write after end     -> logged with the request, the response already sent stands, worker kept;
//   never-answering     -> open until the client gives up (then freed), or cut at
//                          --graceful-timeout when the worker drains;
//   asynchronous throw  -> the worker exits (Node's default), its stack logged, replaced; only
//                          requests in flight on it fail.
// No fault may leak a socket in the master or the workers.
import { join } from 'node:path';
import { FIXTURES, isAlive, request, sleep, waitFor } from '../helpers/server.mjs';
import { keepAliveLoad, probe } from '../helpers/traffic.mjs';
import { metrics, poolSettled, socketCount, startWithAdmin } from './common.mjs';

const APP = join(FIXTURES, 'faults.js');
const pidOf = (body) => Number(/pid=(\d+)/.exec(body)?.[1]);

export async function appFaults() {
  const server = await startWithAdmin(['-w', '2', '--graceful-timeout', '2', APP], { workers: 2 });
  const results = [];
  try {
    await request(server.port);
    const masterSockets = socketCount(server.pid);
    const baseline = new Map(server.workers().map((pid) => [pid, socketCount(pid)]));
    /** Waits until no worker holds more sockets than at the start (new workers: than a fresh one). */
    const socketsSettle = () => waitFor(() => server.workers().every((pid) => socketCount(pid) <= (baseline.get(pid) ?? Math.max(...baseline.values())) + 1)
      && socketCount(server.pid) <= masterSockets, 10_000, 'sockets back to their baseline').then(() => true, () => false);
    const fault = async (name, run) => {
      const violations = [];
      const figures = await run(violations);
      if (!(await socketsSettle())) violations.push(`sockets leaked: master ${socketCount(server.pid)} (was ${masterSockets}), workers ${server.workers().map(socketCount)}`);
      results.push({ name: `app fault: ${name}`, figures, violations });
    };

    await fault('unhandled promise rejection', async (violations) => {
      const r = await request(server.port, '/unhandled-rejection');
      const pid = pidOf(r.body);
      const logged = await server.waitForLog(/Unhandled promise rejection \(the worker keeps serving\): Error: a promise nobody awaits/, 5000).then(() => true, () => false);
      if (r.status !== 200) violations.push(`answered ${r.status}`);
      if (!logged) violations.push('not logged');
      await sleep(200);
      if (!isAlive(pid) || !server.workers().includes(pid)) violations.push(`worker ${pid} did not keep serving`);
      return { status: r.status, logged, outcome: isAlive(pid) ? 'worker kept' : 'worker lost' };
    });

    await fault('write after end', async (violations) => {
      const r = await request(server.port, '/write-after-end');
      const pid = pidOf(r.body);
      const logged = await server.waitForLog(/Error handling request GET \/write-after-end: write after end/, 5000).then(() => true, () => false);
      if (r.status !== 200 || !pid) violations.push(`answered ${r.status} ${r.body}`);
      if (!logged) violations.push('not logged with the request');
      await sleep(200);
      if (!isAlive(pid)) violations.push(`worker ${pid} died`);
      return { status: r.status, logged, outcome: isAlive(pid) ? 'worker kept' : 'worker lost' };
    });

    await fault('handler that never answers', async (violations) => {
      const gaveUp = await Promise.all(Array.from({ length: 5 }, () => probe({ port: server.port, path: '/never', timeoutMs: 500 })));
      if (gaveUp.some((r) => r.error !== 'TIMEOUT')) violations.push(`expected the client to time out: ${JSON.stringify(gaveUp.map((r) => r.status ?? r.error))}`);
      const freed = await waitFor(async () => (await metrics(server)).narwhal_http_requests_in_flight === 0, 5000, 'in flight 0').then(() => true, () => false);
      if (!freed) violations.push('requests still counted in flight after their clients left');
      // When the worker drains (here: HUP), the request is cut at --graceful-timeout.
      const cut = probe({ port: server.port, path: '/never', timeoutMs: 15_000 });
      await sleep(200);
      server.signal('SIGHUP');
      const r = await cut;
      if (r.status !== undefined) violations.push(`answered ${r.status} instead of being cut`);
      await poolSettled(server, 2, 15_000);
      return { clientGaveUp: gaveUp.length, inFlightFreed: freed, cutByDrainAfterMs: Math.round(r.ms), outcome: 'worker kept (until the drain)' };
    });

    await fault('asynchronous throw (in a timer)', async (violations) => {
      const load = keepAliveLoad({ port: server.port, connections: 4 });
      await sleep(300);
      const before = (await metrics(server))['narwhal_worker_restarts_total{reason="crash"}'];
      // The throwing request's worker is the next in round-robin order: find it by its answer.
      const victim = server.workers();
      const inFlight = Math.max(...victim.map((pid) => load.inFlightOn(pid)));
      const r = await probe({ port: server.port, path: '/async-throw', timeoutMs: 5000 });
      const logged = await server.waitForLog(/Error: thrown in a timer/, 5000).then(() => true, () => false);
      const exit = await server.waitForLog(/Worker \(pid:(\d+)\) exited with code 1!/, 5000).then((m) => Number(m[1]), () => 0);
      await poolSettled(server, 2, 15_000);
      const result = await load.stop();
      const after = (await metrics(server))['narwhal_worker_restarts_total{reason="crash"}'];
      if (r.status !== undefined) violations.push(`the throwing request was answered ${r.status}`);
      if (!logged) violations.push('the error was not logged');
      if (!exit) violations.push('the worker did not exit');
      if (after !== before + 1) violations.push(`restarts{reason="crash"} went ${before} -> ${after}`);
      if (result.failed > inFlight) violations.push(`${result.failed} other requests failed, more than the ${inFlight} in flight on the worker`);
      if (exit && server.workers().includes(exit)) violations.push('the worker is still in the pool');
      return { clientSaw: r.error, logged, replaced: Boolean(exit), otherRequestsFailed: result.failed, otherRequestsSent: result.sent, outcome: 'worker replaced' };
    });
  } finally {
    await server.stop();
  }
  return results;
}
