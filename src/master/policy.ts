// The supervision policy, pure: what the pool should do next, given what it is. The pool
// (pool.ts) feeds it facts and carries out what it returns; nothing here touches a process,
// a timer or a log, so every rule can be read here and tested as a table of cases.
//   decide()        the pool against its target: hung workers killed, bloated ones retired,
//                   retiring ones drained once their successors are ready, spawns, scale-down;
//   backOffDelay()  how long a failed start delays the next one;
//   unplannedExit() what a worker's exit means when nobody asked it to stop;
//   watchPool()     when a pool below its target is degraded, and the /readyz detail;
//   balanceSheds()  which workers hand idle connections to others (the shared socket's balance).
import type { RestartReason, WorkerState } from './worker-handle';

// ---- the pool against its target ---------------------------------------------------------

/** What the policy knows of one worker. */
export interface WorkerFacts {
  pid: number;
  /** Spawn order: the oldest go first. */
  age: number;
  state: WorkerState;
  /** Marked for replacement (its successor boots first), or null. */
  retiring: RestartReason | null;
  /** Why it was told to stop (or killed), or null. */
  stopping: RestartReason | 'shutdown' | 'scale' | null;
  lastHeartbeat: number;
  rss: number;
}

export interface PoolFacts {
  target: number;
  now: number;
  /** No spawn before this time (back-off after failed starts). */
  spawnAllowedAt: number;
  /** --timeout in ms: a worker silent longer is hung (0: never). */
  timeoutMs: number;
  /** --max-worker-memory in bytes (0: no limit). */
  maxMemory: number;
}

export type Action =
  | { do: 'kill'; pid: number; reason: 'timeout' }
  | { do: 'retire'; pid: number; reason: 'memory'; rss: number }
  | { do: 'drain'; pid: number; reason: RestartReason | 'scale' }
  | { do: 'spawn'; count: number };

const isLive = (w: WorkerFacts) => w.state === 'booting' || w.state === 'ready';

/**
 * The actions that bring the pool in line with its target. Replacements keep ready capacity at
 * the target: a retiring worker drains only once another is ready in its place (a booting one
 * at once), and while any is retiring, one successor boots at a time.
 */
export function decide(workers: readonly WorkerFacts[], pool: PoolFacts): Action[] {
  const actions: Action[] = [];
  for (const w of workers) {
    if (w.state === 'exited' || pool.timeoutMs <= 0 || w.stopping === 'timeout') continue;
    if (pool.now - w.lastHeartbeat > pool.timeoutMs) actions.push({ do: 'kill', pid: w.pid, reason: 'timeout' });
  }
  const retiring = new Map<number, RestartReason>();
  for (const w of workers) {
    if (!isLive(w)) continue;
    if (w.retiring) retiring.set(w.pid, w.retiring);
    else if (pool.maxMemory > 0 && w.state === 'ready' && w.rss > pool.maxMemory) {
      actions.push({ do: 'retire', pid: w.pid, reason: 'memory', rss: w.rss });
      retiring.set(w.pid, 'memory');
    }
  }
  // A worker killed for a timeout is still live until it exits: its successor follows its exit.
  const live = workers.filter(isLive);
  const old = live.filter((w) => retiring.has(w.pid)).sort((a, b) => a.age - b.age);
  const fresh = live.filter((w) => !retiring.has(w.pid));
  let ready = live.filter((w) => w.state === 'ready').length;
  for (const w of old) {
    if (w.state === 'booting' || ready - 1 >= pool.target) {
      if (w.state === 'ready') ready--;
      actions.push({ do: 'drain', pid: w.pid, reason: retiring.get(w.pid)! });
    }
  }
  if (fresh.length < pool.target && pool.now >= pool.spawnAllowedAt) {
    const booting = fresh.filter((w) => w.state === 'booting').length;
    const count = old.length > 0 ? Math.min(1 - booting, pool.target - fresh.length) : pool.target - fresh.length;
    if (count > 0) actions.push({ do: 'spawn', count });
  } else if (fresh.length > pool.target) {
    // Scale down: the oldest go first (as Gunicorn's TTOU does).
    for (const w of [...fresh].sort((a, b) => a.age - b.age).slice(0, fresh.length - pool.target)) {
      actions.push({ do: 'drain', pid: w.pid, reason: 'scale' });
    }
  }
  return actions;
}

// ---- failed starts -------------------------------------------------------------------------

const MAX_BACKOFF_MS = 30_000;

/** The delay before the next start after `failures` failed starts in a row: 1 s, 2 s, 4 s … 30 s. */
export function backOffDelay(failures: number): number {
  return Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (Math.max(1, failures) - 1));
}

// ---- a worker's exit -----------------------------------------------------------------------
//   - Killed by a signal from outside (an operator's kill, the OOM killer's SIGKILL): counted as
//     restarts{reason="signal"} and replaced at once. SIGKILL is logged at ERROR (it is usually
//     the OOM killer), other signals at INFO.
//   - Died of its own doing (an exit code, or a fatal signal the process raises itself such as
//     SIGSEGV or SIGABRT): restarts{reason="crash"}, at ERROR.
//   - A worker that crashed before it was ready or soon after it started, or that was SIGKILLed
//     before it was ready (the OOM killer during boot), counts as a failed start: its successor
//     backs off, so a broken app is not a fork loop.

/** Signals a process gets for its own faults (from the kernel, or abort()), not from others. */
const SELF_INFLICTED = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGTRAP', 'SIGSYS', 'SIGXCPU', 'SIGXFSZ']);

/** A worker that dies sooner than this after it started counts as a failed start (back-off). */
export const MIN_HEALTHY_LIFE_MS = 5_000;

export interface UnplannedExit {
  reason: 'signal' | 'crash';
  level: 'info' | 'error';
  message: string;
  backOff: boolean;
}

export function unplannedExit(
  pid: number, code: number | null, signal: NodeJS.Signals | null, { wasBooting, livedMs }: { wasBooting: boolean; livedMs: number },
): UnplannedExit {
  if (signal && !SELF_INFLICTED.has(signal)) {
    return signal === 'SIGKILL'
      ? { reason: 'signal', level: 'error', message: `Worker (pid:${pid}) was sent SIGKILL! Perhaps out of memory?`, backOff: wasBooting }
      : { reason: 'signal', level: 'info', message: `Worker (pid:${pid}) was sent ${signal} from outside: replacing it`, backOff: false };
  }
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  return { reason: 'crash', level: 'error', message: `Worker (pid:${pid}) ${how}!`, backOff: wasBooting || livedMs < MIN_HEALTHY_LIFE_MS };
}

// ---- connections across workers -----------------------------------------------------------
// On the shared socket (and with reuseport) the kernel gives each new connection to whichever
// worker accepts first, and a keep-alive connection stays where it landed: a burst of new
// connections can leave one worker with most of them for as long as they live. A worker holding
// clearly more than its share is asked to shed idle ones, which the master gives to the worker
// holding fewest (balance.ts). "Clearly": the gap between two workers is more than a tenth of a
// share and more than two connections, so that the ordinary coming and going of connections
// moves nothing.

/** What the balance knows of a ready worker: the open connections it last reported. */
export interface LoadFacts {
  pid: number;
  connections: number;
}

/** Ask `pid` to shed `count` idle connections. */
export interface Shed {
  pid: number;
  count: number;
}

/**
 * The sheds that even out the workers' connections, if any two are clearly apart: each worker
 * above its share sheds what it holds over it (the master hands each shed connection to the
 * worker holding fewest at that moment, so the ones below their share fill up).
 */
export function balanceSheds(workers: readonly LoadFacts[]): Shed[] {
  if (workers.length < 2) return [];
  const counts = workers.map((w) => w.connections);
  const share = counts.reduce((sum, n) => sum + n, 0) / workers.length;
  if (Math.max(...counts) - Math.min(...counts) <= Math.max(2, share / 10)) return [];
  return workers.map((w) => ({ pid: w.pid, count: Math.floor(w.connections - share) })).filter((s) => s.count > 0);
}

// ---- a degraded pool -------------------------------------------------------------------------
// A pool with fewer ready workers than its target for longer than --degraded-after is
// *degraded*: a WARNING every --degraded-after seconds until it recovers, narwhal_pool_degraded
// 1, and a `degraded` detail in /readyz's JSON. Readiness itself does not change with it: 200
// while at least one worker serves, 503 with none (admin/server.ts). A pool that is stopping, or
// told to have no workers (WINCH), is never degraded.

export interface PoolSample {
  now: number;
  /** Workers taking new connections. */
  ready: number;
  /** The pool's target size. */
  desired: number;
  /** False while the master shuts down. */
  supervising: boolean;
}

export interface PoolWatch {
  /** Since when the pool has been below its target (ms since the epoch), or null. */
  belowSince: number | null;
  /** When the last WARNING was logged, or null. */
  warnedAt: number | null;
  degraded: boolean;
}

export type PoolEvent = 'degraded' | 'still degraded' | 'recovered' | null;

export const HEALTHY: PoolWatch = { belowSince: null, warnedAt: null, degraded: false };

/** The pool's next state and what to log about it. `thresholdMs` 0 turns the policy off. */
export function watchPool(prev: PoolWatch, sample: PoolSample, thresholdMs: number): { watch: PoolWatch; event: PoolEvent } {
  if (!sample.supervising || thresholdMs <= 0 || sample.ready >= sample.desired) {
    return { watch: HEALTHY, event: prev.degraded ? 'recovered' : null };
  }
  const belowSince = prev.belowSince ?? sample.now;
  if (sample.now - belowSince < thresholdMs) return { watch: { belowSince, warnedAt: null, degraded: false }, event: null };
  if (prev.warnedAt === null) return { watch: { belowSince, warnedAt: sample.now, degraded: true }, event: 'degraded' };
  if (sample.now - prev.warnedAt >= thresholdMs) {
    return { watch: { belowSince, warnedAt: sample.now, degraded: true }, event: 'still degraded' };
  }
  return { watch: { ...prev, belowSince, degraded: true }, event: null };
}

/** The `degraded` detail of /readyz. */
export interface DegradedDetail {
  /** ISO time the pool fell below its target. */
  since: string;
  seconds: number;
  ready: number;
  desired: number;
  /** What last went wrong with a worker (its exit, a failed boot), if anything did. */
  lastFailure?: string;
}

export function degradedDetail(watch: PoolWatch, sample: PoolSample, lastFailure: string | null): DegradedDetail | null {
  if (!watch.degraded || watch.belowSince === null) return null;
  const detail: DegradedDetail = {
    since: new Date(watch.belowSince).toISOString(),
    seconds: Math.floor((sample.now - watch.belowSince) / 1000),
    ready: sample.ready,
    desired: sample.desired,
  };
  if (lastFailure) detail.lastFailure = lastFailure;
  return detail;
}

/** The log line for an event (null: nothing to log). */
export function describePoolEvent(event: PoolEvent, detail: DegradedDetail | null, prev: PoolWatch, now: number): string | null {
  if (event === 'recovered') {
    const seconds = prev.belowSince === null ? 0 : Math.round((now - prev.belowSince) / 1000);
    return `Pool recovered: back to its target after ${seconds}s below it`;
  }
  if (!event || !detail) return null;
  const cause = detail.lastFailure ? ` (last failure: ${detail.lastFailure})` : '';
  return `Pool degraded: ${detail.ready} of ${detail.desired} workers ready for ${detail.seconds}s${cause}`;
}
