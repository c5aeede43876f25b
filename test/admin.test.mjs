// The admin server: /healthz, /readyz through boot and the Kubernetes shutdown sequence.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanup, exitedWithin, get, runCli, sleep, startNarwhal, stop, tree, until, waitReady } from './helpers/container.mjs';

test.after(cleanup);

const apps = tree({
  'slow.mjs': `
    export async function create() {
      await new Promise((r) => setTimeout(r, 1500));
      return (req, res) => res.end('slow app ready\\n');
    }
  `,
  'hello.js': `module.exports = (req, res) => res.end('hello\\n');`,
});

test('readyz is 503 (JSON reason) while a slow factory boots, then 200; healthz 200 throughout', async () => {
  const server = await startNarwhal(['-w', '2', `${apps}/slow.mjs:create()`]);
  try {
    const early = await get(`${server.admin}/readyz`);
    assert.is(early.status, 503);
    const body = JSON.parse(early.body);
    assert.is(body.ready, false);
    assert.is(body.status, 'booting');
    assert.match(body.reason, /0 of 2 workers ready/);
    assert.is(early.headers['content-type'], 'application/json');
    assert.is((await get(`${server.admin}/healthz`)).status, 200);
    const t0 = Date.now();
    await waitReady(server);
    assert.ok(Date.now() - t0 > 500, 'ready only after the factory resolved');
    const ready = JSON.parse((await get(`${server.admin}/readyz`)).body);
    assert.equal(ready.workers.ready, 2);
    assert.is((await get(server.app)).body, 'slow app ready\n');
    assert.is((await get(`${server.admin}/healthz`)).status, 200);
    assert.is((await get(`${server.admin}/nope`)).status, 404);
  } finally {
    await stop(server);
  }
});

test('TERM with --shutdown-delay: readyz 503 within 0.3 s, the app keeps answering 200 for the delay, then exit 0', async () => {
  const server = await startNarwhal(['-w', '1', '--shutdown-delay', '1.5', '--graceful-timeout', '3', `${apps}/hello.js`]);
  try {
    await waitReady(server);
    const t0 = Date.now();
    process.kill(server.pid, 'SIGTERM');
    const notReady = await until(async () => {
      const r = await get(`${server.admin}/readyz`);
      return r.status === 503 ? r : null;
    }, 'readyz 503 after TERM', 2000, 10);
    const after = Date.now() - t0;
    assert.ok(after < 300, `readyz turned 503 after ${after} ms`);
    assert.is(JSON.parse(notReady.body).status, 'shutting down');
    // Still serving normally, on new connections, for the delay.
    let answered = 0;
    while (Date.now() - t0 < 1300) {
      const r = await get(server.app);
      assert.is(r.status, 200);
      answered++;
      assert.is((await get(`${server.admin}/healthz`)).status, 200);
      await sleep(150);
    }
    assert.ok(answered >= 5, `answered ${answered}`);
    const { code } = await exitedWithin(server, 6000);
    assert.is(code, 0);
    const waited = Date.now() - t0;
    assert.ok(waited >= 1500, `exited after ${waited} ms, before the shutdown delay`);
    assert.match(server.log(), /Shutdown delay: serving 1.5s more before draining/);
  } finally {
    await stop(server);
  }
});

test('TERM without a delay drains at once; an admin port in use is one clear line, exit 1', async () => {
  const server = await startNarwhal(['-w', '1', `${apps}/hello.js`]);
  try {
    await waitReady(server);
    const port = new URL(server.admin).port;
    const r = runCli(['-b', '127.0.0.1:0', '--admin-bind', `127.0.0.1:${port}`, `${apps}/hello.js`]);
    assert.is(r.code, 1);
    assert.match(r.stderr, new RegExp(`narwhal: error: cannot bind admin_bind 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
    const t0 = Date.now();
    process.kill(server.pid, 'SIGTERM');
    const { code } = await exitedWithin(server, 5000);
    assert.is(code, 0);
    assert.ok(Date.now() - t0 < 3000);
  } finally {
    await stop(server);
  }
});

test.run();
