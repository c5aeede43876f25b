// The StatsD client (src/log/statsd.ts) against a fake socket: counters summed between flushes,
// the prefix joined with a dot, DogStatsD tags, several lines to a datagram and none over 1400 bytes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { importSource } from './helpers/unit.mjs';

const { Statsd } = await importSource('src/log/statsd.ts');

const fakeOut = () => ({ datagrams: [], send(d) { this.datagrams.push(String(d)); }, sent: () => Promise.resolve(), close() {} });
const linesOf = (out) => out.datagrams.flatMap((d) => d.split('\n'));

test('requests: counters summed, a timing each, the prefix joined with a dot, tags appended', () => {
  const out = fakeOut();
  const s = new Statsd(out, 'shop.web', ['env:prod', 'region:eu']);
  s.request(200, 0.0123);
  s.request(200, 0.002);
  s.request(404, 0.001);
  assert.is(out.datagrams.length, 0, 'nothing sent before the flush');
  s.flush();
  const lines = linesOf(out);
  assert.ok(lines.includes('shop.web.requests:3|c|#env:prod,region:eu'), lines.join('\n'));
  assert.ok(lines.includes('shop.web.request.status.200:2|c|#env:prod,region:eu'));
  assert.ok(lines.includes('shop.web.request.status.404:1|c|#env:prod,region:eu'));
  assert.ok(lines.includes('shop.web.request.duration:12.3|ms|#env:prod,region:eu'));
  assert.is(lines.filter((l) => l.includes('request.duration')).length, 3);
  assert.is(out.datagrams.length, 1, 'one datagram for a few lines');
  s.flush();
  assert.is(out.datagrams.length, 1, 'an empty flush sends nothing');
});

test('no prefix, no tags; a prefix ending in a dot is not doubled; gauges', () => {
  const out = fakeOut();
  const s = new Statsd(out);
  s.gauge('workers', 4);
  s.increment('log.error');
  s.flush();
  assert.equal(linesOf(out).sort(), ['log.error:1|c', 'workers:4|g']);
  const dotted = fakeOut();
  const d = new Statsd(dotted, 'app.');
  d.increment('requests');
  d.flush();
  assert.equal(linesOf(dotted), ['app.requests:1|c']);
});

test('many lines are split into datagrams of at most 1400 bytes', () => {
  const out = fakeOut();
  const s = new Statsd(out, 'p', ['k:v']);
  for (let i = 0; i < 500; i++) s.timing('request.duration', i);
  s.flush();
  assert.ok(out.datagrams.length > 1);
  for (const d of out.datagrams) assert.ok(Buffer.byteLength(d) <= 1400, `${Buffer.byteLength(d)} bytes`);
  assert.is(linesOf(out).length, 500);
});

test.run();
