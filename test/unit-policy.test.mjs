// The supervision policy (src/master/policy.ts) as the pure functions it is, without processes:
// what the pool does next against its target, what a worker's exit means, when a pool is degraded,
// which workers hand connections to others.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { importSource } from './helpers/unit.mjs';

const {
  decide, backOffDelay, unplannedExit, MIN_HEALTHY_LIFE_MS, HEALTHY, watchPool, degradedDetail, describePoolEvent, balanceSheds,
} = await importSource('src/master/policy.ts');

const NOW = 1_000_000;
/** A worker's facts: ready, fresh, heard from just now, unless said. */
const w = (pid, facts = {}) => ({ pid, age: pid, state: 'ready', retiring: null, stopping: null, lastHeartbeat: NOW, rss: 50e6, ...facts });
const pool = (target, facts = {}) => ({ target, now: NOW, spawnAllowedAt: 0, timeoutMs: 30_000, maxMemory: 0, ...facts });

test('decide: an empty pool spawns its target; a full one does nothing; a back-off delays the spawn', () => {
  assert.equal(decide([], pool(3)), [{ do: 'spawn', count: 3 }]);
  assert.equal(decide([w(1), w(2), w(3)], pool(3)), []);
  assert.equal(decide([w(1)], pool(3, { spawnAllowedAt: NOW + 1 })), [], 'backing off');
  assert.equal(decide([w(1), w(2, { state: 'booting' })], pool(3)), [{ do: 'spawn', count: 1 }], 'a booting worker counts');
  assert.equal(decide([w(1, { state: 'draining', stopping: 'scale' })], pool(1)), [{ do: 'spawn', count: 1 }], 'a draining worker does not');
});

test('decide: scale down drains the oldest first', () => {
  assert.equal(decide([w(3), w(1), w(2)], pool(1)), [{ do: 'drain', pid: 1, reason: 'scale' }, { do: 'drain', pid: 2, reason: 'scale' }]);
  assert.equal(decide([w(1), w(2)], pool(0)).map((a) => a.pid), [1, 2], 'WINCH: target 0');
});

test('decide: a reload replaces one worker at a time, its successor ready first', () => {
  const reloading = [w(1, { retiring: 'reload' }), w(2, { retiring: 'reload' })];
  // Both ready and retiring: no capacity to spare, so one successor boots.
  assert.equal(decide(reloading, pool(2)), [{ do: 'spawn', count: 1 }]);
  // The successor boots: nothing more until it is ready.
  assert.equal(decide([...reloading, w(3, { state: 'booting' })], pool(2)), []);
  // It is ready: the oldest retiring one drains, and the next successor boots.
  assert.equal(decide([...reloading, w(3)], pool(2)), [{ do: 'drain', pid: 1, reason: 'reload' }, { do: 'spawn', count: 1 }]);
  // A retiring worker that is still booting goes at once.
  assert.equal(decide([w(1, { state: 'booting', retiring: 'reload' }), w(2)], pool(1)), [{ do: 'drain', pid: 1, reason: 'reload' }]);
});

test('decide: a hung worker is killed once; a bloated one is retired and replaced first', () => {
  const hung = w(1, { lastHeartbeat: NOW - 30_001 });
  assert.equal(decide([hung, w(2)], pool(2)), [{ do: 'kill', pid: 1, reason: 'timeout' }]);
  assert.equal(decide([{ ...hung, stopping: 'timeout' }, w(2)], pool(2)), [], 'killed already: its exit brings the successor');
  assert.equal(decide([hung, w(2)], pool(2, { timeoutMs: 0 })), [], 'timeout 0: never');
  const fat = w(1, { rss: 300e6 });
  assert.equal(decide([fat, w(2)], pool(2, { maxMemory: 200e6 })), [{ do: 'retire', pid: 1, reason: 'memory', rss: 300e6 }, { do: 'spawn', count: 1 }]);
  assert.equal(decide([fat, w(2)], pool(2)), [], 'no limit');
  assert.equal(decide([{ ...fat, state: 'booting' }], pool(1, { maxMemory: 200e6 })), [], 'only a serving worker is measured');
});

test('backOffDelay: 1 s, 2 s, 4 s … at most 30 s', () => {
  assert.equal([1, 2, 3, 4, 5, 6, 10].map(backOffDelay), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

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

test('balanceSheds: a clear gap is evened out; an ordinary one moves nothing', () => {
  const load = (...n) => n.map((connections, i) => ({ pid: i + 1, connections }));
  assert.equal(balanceSheds(load(48, 16)), [{ pid: 1, count: 16 }], 'a burst landed on one worker');
  assert.equal(balanceSheds(load(40, 0)), [{ pid: 1, count: 20 }], 'a new worker joins');
  assert.equal(balanceSheds(load(33, 31)), [], 'within a tenth of the share');
  assert.equal(balanceSheds(load(2, 0)), [], 'two connections apart is no imbalance');
  assert.equal(balanceSheds(load(3, 0)), [{ pid: 1, count: 1 }]);
  assert.equal(balanceSheds(load(500, 460)), [], 'within a tenth of a large share');
  assert.equal(balanceSheds(load(600, 400)), [{ pid: 1, count: 100 }]);
  assert.equal(balanceSheds(load(64)), [], 'one worker');
  assert.equal(balanceSheds([]), []);
});

test('balanceSheds: with more workers, the fullest give to the emptiest until none is clearly apart', () => {
  const load = (...n) => n.map((connections, i) => ({ pid: i + 1, connections }));
  assert.equal(balanceSheds(load(40, 0, 0, 0)), [{ pid: 1, count: 30 }]);
  assert.equal(balanceSheds(load(30, 30, 2, 2)), [{ pid: 1, count: 14 }, { pid: 2, count: 14 }]);
  const after = (n, sheds) => {
    const out = [...n];
    const given = sheds.reduce((sum, s) => sum + s.count, 0);
    for (const s of sheds) out[s.pid - 1] -= s.count;
    return { out, given };
  };
  const { out, given } = after([40, 30, 10, 0], balanceSheds(load(40, 30, 10, 0)));
  assert.is(out.reduce((a, b) => a + b, 0) + given, 80, 'connections are only moved');
  assert.ok(Math.max(...out) <= 25, `no worker keeps much more than its share: ${out}`);
});

test.run();
