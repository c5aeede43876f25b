// Running in a container: heap sized from the cgroup memory limit (seen in the workers' own
// heap limits through /metrics), TTIN under a memory limit, recycling over --max-worker-memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cgroupV1, cgroupV2, cleanup, get, metric, scrape, startNarwhal, stop, tree, until, waitReady } from './helpers/container.mjs';

test.after(cleanup);

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const apps = tree({
  'hello.js': `module.exports = (req, res) => res.end('hello\\n');`,
  'leak.js': `
    const kept = [];
    module.exports = (req, res) => {
      if (req.url === '/leak') kept.push(Buffer.alloc(16 * 1024 * 1024, 1));
      res.end(String(process.pid));
    };
  `,
});

const heapLimits = (samples) => samples.filter((s) => s.name === 'narwhal_worker_heap_limit_bytes').map((s) => s.value);
/** Scrapes until /metrics shows N worker heap limits (5 s at most). */
const scrapeWithHeapLimits = (server, n, what) => until(async () => {
  const m = await scrape(server);
  return heapLimits(m.samples).length === n ? m : null;
}, what, 5000, 100);

test('memory limit 1 GiB, 2 workers: each worker heap limit well under 1 GiB (v2); TTIN resizes the pool\'s heaps', async () => {
  const root = cgroupV2({ cpuMax: '200000 100000', memoryMax: GiB });
  const server = await startNarwhal(['--timeout', '2', `${apps}/hello.js`], { env: { NARWHAL_CGROUP_ROOT: root } });
  try {
    await waitReady(server);
    const { samples } = await scrapeWithHeapLimits(server, 2, 'two heap limits');
    const limits = heapLimits(samples);
    // 288 MiB of old space (+ V8's young generation): about a third of the limit each.
    for (const limit of limits) assert.ok(limit > 200 * MiB && limit < 400 * MiB, `heap limit ${limit / MiB} MiB`);
    assert.ok(limits.reduce((a, b) => a + b) < GiB, 'the heaps together fit the limit');
    assert.match(server.log(), /Workers: 2 \(CPU quota 200000\/100000/);
    assert.match(server.log(), /Worker heap: 288 MiB each/);

    // TTIN: three workers, each with a heap sized for three; the two sized for two are replaced.
    process.kill(server.pid, 'SIGTTIN');
    const after = await until(async () => {
      const m = await scrape(server);
      const l = heapLimits(m.samples);
      return l.length === 3 && metric(m.samples, 'narwhal_workers', { state: 'ready' }) === 3
        && metric(m.samples, 'narwhal_workers', { state: 'draining' }) === 0 && l.every((x) => x < limits[0]) ? m : null;
    }, 'three workers with smaller heaps', 10000, 100);
    assert.is(metric(after.samples, 'narwhal_worker_restarts_total', { reason: 'reload' }), 2);
    assert.ok(heapLimits(after.samples).reduce((a, b) => a + b) < GiB);
    assert.match(server.log(), /Pool of 3: replacing 2 worker\(s\) started with other Node flags \(now: --max-old-space-size=192\)/);
    assert.is((await get(server.app)).status, 200);
  } finally {
    await stop(server);
  }
});

test('without a memory limit Node keeps its own default; --worker-heap-mb sets it (v1 tree)', async () => {
  const root = cgroupV1({ quota: 50000, memory: '9223372036854771712' });
  const server = await startNarwhal(['--worker-heap-mb', '100', '--timeout', '2', `${apps}/hello.js`], { env: { NARWHAL_CGROUP_ROOT: root } });
  try {
    await waitReady(server);
    const { samples } = await scrapeWithHeapLimits(server, 1, 'one heap limit (quota 0.5 -> 1 worker)');
    const [limit] = heapLimits(samples);
    assert.ok(limit > 100 * MiB && limit < 200 * MiB, `heap limit ${limit / MiB} MiB`);
  } finally {
    await stop(server);
  }
});

test('TTIN past the memory budget is refused with a log line', async () => {
  // 256 MiB: one worker gets 115 MiB of heap; two would get 57 MiB, under the 64 MiB minimum.
  const root = cgroupV2({ memoryMax: 256 * MiB });
  const server = await startNarwhal(['-w', '1', '--timeout', '2', `${apps}/hello.js`], { env: { NARWHAL_CGROUP_ROOT: root } });
  try {
    await waitReady(server);
    process.kill(server.pid, 'SIGTTIN');
    await until(() => /TTIN refused: 2 workers would get 57 MiB of heap each, under the 64 MiB minimum/.test(server.log()), 'the refusal', 3000);
    const { samples } = await scrape(server);
    assert.is(metric(samples, 'narwhal_workers_desired'), 1);
  } finally {
    await stop(server);
  }
});

test('a leaking worker over --max-worker-memory is recycled: successor first, restarts{reason="memory"}', async () => {
  const root = tree({});
  const server = await startNarwhal(['-w', '1', '--max-worker-memory', '150MB', '--timeout', '2', `${apps}/leak.js`],
    { env: { NARWHAL_CGROUP_ROOT: root } });
  try {
    await waitReady(server);
    const first = (await get(server.app)).body;
    for (let i = 0; i < 8; i++) await get(`${server.app}/leak`);
    const { samples } = await until(async () => {
      const m = await scrape(server);
      return metric(m.samples, 'narwhal_worker_restarts_total', { reason: 'memory' }) >= 1 ? m : null;
    }, 'restarts{reason="memory"} >= 1', 8000, 100);
    assert.is(metric(samples, 'narwhal_worker_restarts_total', { reason: 'crash' }), 0);
    assert.match(server.log(), new RegExp(`Worker \\(pid:${first}\\) uses [\\d.]+ MB, over max_worker_memory 150\\.0 MB: replacing it`));
    const next = (await get(server.app)).body;
    assert.is.not(next, first);
    // All requests answered: 1 + 8 + 1, none failed.
    await until(async () => metric((await scrape(server)).samples, 'narwhal_http_requests_total', { code_class: '2xx' }) >= 10, '10 counted', 3000);
  } finally {
    await stop(server);
  }
});

test.run();
