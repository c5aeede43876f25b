// /metrics: counts across workers, kept across worker exits, valid for promtool.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanup, get, metric, promtool, scrape, startNarwhal, stop, tree, until, waitReady } from './helpers/container.mjs';

test.after(cleanup);

const apps = tree({
  'app.js': `
    module.exports = (req, res) => {
      if (req.url === '/missing') { res.statusCode = 404; return res.end('no\\n'); }
      if (req.url === '/boom') { res.statusCode = 500; return res.end('boom\\n'); }
      if (req.url === '/slow') return setTimeout(() => res.end('slow\\n'), 120);
      res.end('ok\\n');
    };
  `,
});

test('after N requests /metrics counts N, by status class, with a duration histogram; promtool accepts it', async () => {
  const server = await startNarwhal(['-w', '2', '--timeout', '2', `${apps}/app.js`]);
  try {
    await waitReady(server);
    const paths = [...Array(20).fill('/'), '/missing', '/missing', '/boom', '/slow', '/slow'];
    for (const path of paths) await get(`${server.app}${path}`);
    const { text, samples } = await until(async () => {
      const m = await scrape(server);
      return metric(m.samples, 'narwhal_http_requests_total') === paths.length ? m : null;
    }, `narwhal_http_requests_total = ${paths.length}`, 5000, 100);
    assert.is(metric(samples, 'narwhal_http_requests_total', { code_class: '2xx' }), 22);
    assert.is(metric(samples, 'narwhal_http_requests_total', { code_class: '4xx' }), 2);
    assert.is(metric(samples, 'narwhal_http_requests_total', { code_class: '5xx' }), 1);
    assert.is(metric(samples, 'narwhal_http_request_duration_seconds_count'), paths.length);
    assert.is(metric(samples, 'narwhal_http_request_duration_seconds_bucket', { le: '+Inf' }), paths.length);
    // The two /slow requests (120 ms) are above the 0.1 s bucket.
    const under100ms = metric(samples, 'narwhal_http_request_duration_seconds_bucket', { le: '0.1' });
    assert.ok(under100ms <= paths.length - 2, `le=0.1: ${under100ms}`);
    assert.ok(metric(samples, 'narwhal_http_request_duration_seconds_sum') >= 0.24);
    // By status class: the 404s, the 500 and the 2xx each in their own histogram.
    assert.is(metric(samples, 'narwhal_http_request_duration_seconds_count', { code_class: '4xx' }), 2);
    assert.is(metric(samples, 'narwhal_http_request_duration_seconds_count', { code_class: '5xx' }), 1);
    assert.is(metric(samples, 'narwhal_http_request_duration_seconds_bucket', { code_class: '2xx', le: '+Inf' }), 22);
    assert.ok(metric(samples, 'narwhal_http_request_duration_seconds_sum', { code_class: '2xx' }) >= 0.24, 'the slow 2xx requests');
    assert.is(metric(samples, 'narwhal_http_requests_in_flight'), 0);
    assert.is(metric(samples, 'narwhal_workers', { state: 'ready' }), 2);
    assert.is(metric(samples, 'narwhal_workers', { state: 'booting' }), 0);
    assert.is(metric(samples, 'narwhal_worker_restarts_total', { reason: 'memory' }), 0);
    for (const name of ['narwhal_worker_resident_memory_bytes', 'narwhal_worker_heap_limit_bytes', 'narwhal_worker_event_loop_lag_seconds']) {
      assert.is(samples.filter((s) => s.name === name && /^\d+$/.test(s.labels.pid)).length, 2, name);
    }
    // The master's own process metrics.
    assert.ok(metric(samples, 'process_resident_memory_bytes') > 0);
    assert.ok(samples.some((s) => s.name === 'nodejs_heap_size_total_bytes'));
    const check = promtool(text);
    if (check === null) console.log('  (promtool not installed: exposition format not validated)');
    else assert.ok(check.ok, `promtool check metrics:\n${check.output}`);
  } finally {
    await stop(server);
  }
});

test('requests of workers that exited stay counted (max-requests recycling)', async () => {
  const server = await startNarwhal(['-w', '1', '--max-requests', '4', '--timeout', '2', `${apps}/app.js`]);
  try {
    await waitReady(server);
    for (let i = 0; i < 13; i++) {
      // A recycled worker's connection may be closed under the client: retry that one request.
      await until(async () => (await get(server.app)).status === 200, 'a 200', 3000, 50);
    }
    const { samples } = await until(async () => {
      const m = await scrape(server);
      return metric(m.samples, 'narwhal_worker_restarts_total', { reason: 'max_requests' }) >= 1
        && metric(m.samples, 'narwhal_http_requests_total') >= 13 ? m : null;
    }, 'a recycle and 13 requests counted', 8000, 100);
    assert.is(metric(samples, 'narwhal_http_requests_total', { code_class: '2xx' }), 13);
  } finally {
    await stop(server);
  }
});

test.run();
