// Why workers were replaced, as /metrics tells it: a crash (the app died of its own error)
// is told apart from a kill from outside (the OOM killer, an operator's signal).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { FIXTURES, killAll, request, startServer, waitFor } from './helpers/server.mjs';

test.after(killAll);

const restarts = async (port, reason) => {
  const text = (await request(port, '/metrics')).body;
  return Number(new RegExp(`^narwhal_worker_restarts_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
};

test('restarts{reason="crash"} for an app that dies, restarts{reason="signal"} for a kill from outside', async () => {
  const s = await startServer(['-w', '2', '--admin-bind', '127.0.0.1:0', join(FIXTURES, 'pid.js')], { workers: 2 });
  const admin = Number((await s.waitForLog(/Admin server at: http:\/\/127\.0\.0\.1:(\d+)/))[1]);
  assert.is(await restarts(admin, 'crash'), 0);
  assert.is(await restarts(admin, 'signal'), 0);

  await request(s.port, '/crash').catch(() => {});
  await waitFor(async () => (await restarts(admin, 'crash')) === 1, 5000, 'crash counted');
  await s.waitForReady(3);

  process.kill(s.workers()[0], 'SIGKILL');
  await waitFor(async () => (await restarts(admin, 'signal')) === 1, 5000, 'signal counted');
  assert.match(s.log, /was sent SIGKILL! Perhaps out of memory\?/);
  assert.is(await restarts(admin, 'crash'), 1);
  await s.stop();
});

test.run();
