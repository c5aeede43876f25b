// The supervision policies as pure functions: what a worker's exit means (worker-exit.ts) and
// when a pool is degraded (degraded.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { importSource } from './helpers/source.mjs';

const { unplannedExit, MIN_HEALTHY_LIFE_MS } = await importSource('src/master/worker-exit.ts');
const { HEALTHY, watchPool, degradedDetail, describePoolEvent } = await importSource('src/master/degraded.ts');

const served = { wasBooting: false, livedMs: 60_000 };

test('a signal from outside is restarts{signal}, replaced at once; SIGKILL is logged at ERROR', () => {
  const term = unplannedExit(7, null, 'SIGTERM', served);
  assert.equal([term.reason, term.level, term.backOff], ['signal', 'info', false]);
  assert.match(term.message, /Worker \(pid:7\) was sent SIGTERM from outside/);
  const kill = unplannedExit(7, null, 'SIGKILL', { wasBooting: false, livedMs: 100 });
  assert.equal([kill.reason, kill.level, kill.backOff], ['signal', 'error', false]);
  assert.match(kill.message, /SIGKILL! Perhaps out of memory\?/);
});

test('a crash backs off when it comes soon after the start; a worker SIGKILLed while booting backs off', () => {
  assert.equal(unplannedExit(7, 1, null, served), { reason: 'crash', level: 'error', message: 'Worker (pid:7) exited with code 1!', backOff: false });
  assert.ok(unplannedExit(7, 1, null, { wasBooting: false, livedMs: MIN_HEALTHY_LIFE_MS - 1 }).backOff);
  assert.ok(unplannedExit(7, 0, null, { wasBooting: true, livedMs: 10 }).backOff, 'code 0 while booting');
  assert.equal(unplannedExit(7, null, 'SIGSEGV', served).reason, 'crash', 'a fault of its own');
  assert.match(unplannedExit(7, null, 'SIGABRT', served).message, /was killed by SIGABRT!/);
  assert.ok(unplannedExit(7, null, 'SIGKILL', { wasBooting: true, livedMs: 10 }).backOff);
  assert.not.ok(unplannedExit(7, null, 'SIGTERM', { wasBooting: true, livedMs: 10 }).backOff);
});

const sample = (now, ready, desired = 2, supervising = true) => ({ now, ready, desired, supervising });

test('below target for longer than the threshold is degraded, warned again every threshold, then recovered', () => {
  let w = HEALTHY;
  const events = [];
  for (const [now, ready] of [[0, 1], [900, 1], [1000, 1], [1500, 1], [2000, 1], [2999, 1], [3000, 1], [3100, 2]]) {
    const r = watchPool(w, sample(now, ready), 1000);
    events.push([now, r.event, r.watch.degraded]);
    w = r.watch;
  }
  assert.equal(events, [
    [0, null, false], [900, null, false], [1000, 'degraded', true], [1500, null, true],
    [2000, 'still degraded', true], [2999, null, true], [3000, 'still degraded', true], [3100, 'recovered', false],
  ]);
});

test('a short dip, a stopping master, a threshold of 0 or no target at all are not degraded', () => {
  let w = watchPool(HEALTHY, sample(0, 1), 1000).watch;
  w = watchPool(w, sample(500, 2), 1000).watch;
  assert.equal(watchPool(w, sample(1200, 1), 1000).event, null, 'the clock restarts after a recovery');
  assert.equal(watchPool(HEALTHY, sample(5000, 0, 2, false), 1000).watch, HEALTHY);
  const off = watchPool(watchPool(HEALTHY, sample(0, 0), 0).watch, sample(99_000, 0), 0);
  assert.equal([off.event, off.watch.degraded], [null, false]);
  assert.equal(watchPool(HEALTHY, sample(0, 0, 0), 1000).watch, HEALTHY, 'WINCH: target 0');
});

test('the degraded detail and its log lines', () => {
  const at = Date.UTC(2026, 0, 1);
  const w = watchPool(watchPool(HEALTHY, sample(at, 1), 1000).watch, sample(at + 42_000, 1), 1000);
  const detail = degradedDetail(w.watch, sample(at + 42_000, 1), 'Worker (pid:9) exited with code 1!');
  assert.equal(detail, { since: '2026-01-01T00:00:00.000Z', seconds: 42, ready: 1, desired: 2, lastFailure: 'Worker (pid:9) exited with code 1!' });
  assert.is(describePoolEvent(w.event, detail, HEALTHY, at + 42_000),
    'Pool degraded: 1 of 2 workers ready for 42s (last failure: Worker (pid:9) exited with code 1!)');
  assert.is(degradedDetail(HEALTHY, sample(at, 2), null), null);
  assert.is(describePoolEvent('recovered', null, w.watch, at + 50_000), 'Pool recovered: back to its target after 50s below it');
});

test.run();
