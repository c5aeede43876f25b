// The degraded-pool policy: a pool with fewer ready workers than its target for longer than
// --degraded-after is *degraded*. The master then logs a WARNING every --degraded-after seconds
// until it recovers, /metrics reports narwhal_pool_degraded 1, and /readyz's JSON carries a
// `degraded` detail. Readiness itself does not change with it: 200 while at least one worker
// serves, 503 with none (admin/server.ts). A pool that is stopping, or told to have no workers
// (WINCH), is never degraded.
// Pure: the arbiter feeds it a sample per supervision tick and acts on the event it returns.

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
