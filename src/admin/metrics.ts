// /metrics: Prometheus text exposition, aggregated across workers, rendered by prom-client.
//
// Workers count requests cheaply (plain counters and bucket arrays in WorkerHttp) and send
// their running totals with each heartbeat. The master adds each heartbeat's increase over the
// worker's previous one to its own totals, so the totals are monotonic and the requests of
// workers that have exited (recycled, crashed, scaled down) stay counted. On a scrape the master
// first asks every worker for a heartbeat, with a short timeout (as prom-client's cluster
// aggregator does): the counters are exact at scrape time, and a worker too busy to answer in
// time is represented by its last heartbeat.
// The master's own process metrics come from prom-client's default collectors.
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../log/logger';
import type { Arbiter } from '../master/arbiter';
import type { WorkerSnapshot } from '../master/worker-handle';
import { RESTART_REASONS } from '../master/worker-handle';
import { BUCKET_SLOTS, DURATION_BUCKETS, STATUS_CLASSES, type ThreadStats, type WorkerStats } from '../ipc';

type MetricType = 'counter' | 'gauge' | 'histogram';
interface Sample {
  value: number;
  labels?: Record<string, string | number>;
  metricName?: string;
}

const CODE_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'];
/** How long a scrape waits for the workers' counters before it uses their last heartbeats. */
export const SCRAPE_TIMEOUT_MS = 500;

/**
 * Asks every worker that serves or drains for its counters (a booting one has counted nothing
 * and answers only once its app is loaded); resolves when all answered or the timeout passed.
 */
export function refreshWorkerStats(arbiter: Arbiter, timeoutMs = SCRAPE_TIMEOUT_MS, log?: Logger): Promise<void> {
  // Concurrent scrapes share one round of reports: a burst of scrapes costs the workers one IPC
  // message each, not one per scrape.
  let round = refreshing.get(arbiter);
  if (round) return round;
  const { counts } = arbiter.snapshot;
  log?.debug(`Metrics: asking ${counts.ready + counts.draining} worker(s) for their counters`);
  round = arbiter.refreshStats(timeoutMs).finally(() => refreshing.delete(arbiter));
  refreshing.set(arbiter, round);
  return round;
}

/** The round of reports in flight, per master. */
const refreshing = new WeakMap<Arbiter, Promise<void>>();

export class Totals {
  codes = new Array<number>(CODE_CLASSES.length).fill(0);
  buckets = new Array<number>(STATUS_CLASSES * BUCKET_SLOTS).fill(0);
  durationSums = new Array<number>(STATUS_CLASSES).fill(0);

  /** Adds what a worker counted since its previous heartbeat. */
  add(current: WorkerStats, previous: WorkerStats): void {
    const delta = (now: number | undefined, before: number | undefined) => {
      const n = now ?? 0;
      const b = before ?? 0;
      // A counter that went down is a new series (cannot happen for one worker; be safe).
      return n >= b ? n - b : n;
    };
    current.codes?.forEach((n, i) => { if (i < this.codes.length) this.codes[i]! += delta(n, previous.codes?.[i]); });
    current.buckets?.forEach((n, i) => { if (i < this.buckets.length) this.buckets[i]! += delta(n, previous.buckets?.[i]); });
    current.durationSums?.forEach((n, i) => { if (i < this.durationSums.length) this.durationSums[i]! += delta(n, previous.durationSums?.[i]); });
  }
}

/** The registry the admin server renders: worker aggregates, pool state, master process metrics. */
export function createMetrics(arbiter: Arbiter, isReady: () => boolean): { registry: Registry; totals: Totals } {
  const registry = new Registry();
  const totals = new Totals();
  arbiter.onHeartbeat.push((worker: WorkerSnapshot, previous: WorkerStats) => totals.add(worker.stats, previous));

  const define = (name: string, type: MetricType, help: string, values: () => Sample[]) => {
    // prom-client renders any registered object with a name and get(): that is its own
    // collector contract, used here because the values are sums the master already has.
    registry.registerMetric({
      name, help, type,
      get: async () => ({ name, help, type, values: values(), aggregator: 'sum' }),
    } as never);
  };
  const live = () => arbiter.snapshot.workers.filter((w) => w.state !== 'exited');
  const perWorker = (value: (w: WorkerSnapshot) => number) => () =>
    live().filter((w) => w.stats.rss > 0).map((w) => ({ value: value(w), labels: { pid: w.pid } }));

  define('narwhal_http_requests_total', 'counter', 'HTTP requests answered by the workers, by status class', () =>
    CODE_CLASSES.map((cls, i) => ({ cls, value: totals.codes[i]! }))
      .filter(({ cls, value }) => cls !== 'other' || value > 0)
      .map(({ cls, value }) => ({ value, labels: { code_class: cls } })));
  // One histogram per status class, 1xx-5xx from the start (a series that appears with its first
  // request has no rate until its second scrape): latency quantiles by class, or across them
  // with sum by (le).
  define('narwhal_http_request_duration_seconds', 'histogram', 'Time from request to response end, across workers, by status class', () => {
    const samples: Sample[] = [];
    CODE_CLASSES.forEach((code_class, c) => {
      if (totals.codes[c] === 0 && code_class === 'other') return;
      let cumulative = 0;
      DURATION_BUCKETS.forEach((le, i) => {
        cumulative += totals.buckets[c * BUCKET_SLOTS + i]!;
        samples.push({ metricName: 'narwhal_http_request_duration_seconds_bucket', labels: { code_class, le }, value: cumulative });
      });
      cumulative += totals.buckets[c * BUCKET_SLOTS + DURATION_BUCKETS.length]!;
      samples.push({ metricName: 'narwhal_http_request_duration_seconds_bucket', labels: { code_class, le: '+Inf' }, value: cumulative });
      samples.push({ metricName: 'narwhal_http_request_duration_seconds_sum', labels: { code_class }, value: totals.durationSums[c]! });
      samples.push({ metricName: 'narwhal_http_request_duration_seconds_count', labels: { code_class }, value: cumulative });
    });
    return samples;
  });
  define('narwhal_http_requests_in_flight', 'gauge', 'HTTP requests being served right now, across workers', () =>
    [{ value: live().reduce((sum, w) => sum + (w.stats.inFlight ?? 0), 0) }]);
  define('narwhal_workers', 'gauge', 'Worker processes by state', () =>
    Object.entries(arbiter.snapshot.counts).map(([state, value]) => ({ value, labels: { state } })));
  define('narwhal_workers_desired', 'gauge', 'The pool size the master maintains (--workers, TTIN/TTOU)', () =>
    [{ value: arbiter.target }]);
  define('narwhal_worker_restarts_total', 'counter', 'Workers replaced, by reason', () =>
    RESTART_REASONS.map((reason) => ({ value: arbiter.snapshot.restarts[reason], labels: { reason } })));
  define('narwhal_worker_resident_memory_bytes', 'gauge', 'Resident memory of each worker, from its last heartbeat',
    perWorker((w) => w.stats.rss));
  define('narwhal_worker_heap_limit_bytes', 'gauge', "V8 heap size limit of each worker (with --threads, the sum of its event loops')", perWorker((w) => w.stats.heapLimit));
  define('narwhal_worker_heap_used_bytes', 'gauge', "V8 heap in use by each worker (with --threads, the sum of its event loops')",
    perWorker((w) => w.stats.heapUsed ?? 0));
  define('narwhal_worker_connections', 'gauge', 'Open client connections of each worker', perWorker((w) => w.stats.connections ?? 0));
  define('narwhal_connections_balanced_total', 'counter', 'Idle keep-alive connections moved from a fuller worker to an emptier one (--balance-connections)',
    () => [{ value: arbiter.snapshot.balanced }]);
  define('narwhal_worker_requests_in_flight', 'gauge', 'HTTP requests each worker is serving right now (0: idle)', perWorker((w) => w.stats.inFlight));
  define('narwhal_worker_event_loop_lag_seconds', 'gauge', 'Event-loop lag (p99 over the last heartbeat interval) of each worker',
    perWorker((w) => w.stats.lag));
  // --threads: one series per event loop (thread 0 is the worker process's own loop).
  const perThread = (value: (t: ThreadStats) => number) => () =>
    live().flatMap((w) => (w.stats.threads ?? []).map((t) => ({ value: value(t), labels: { pid: w.pid, thread: t.thread } })));
  define('narwhal_thread_requests_total', 'counter', 'With --threads: requests each event loop of a worker has served (from 0 again when a thread is replaced)',
    perThread((t) => t.requests));
  define('narwhal_thread_requests_in_flight', 'gauge', 'With --threads: requests each event loop of a worker is serving', perThread((t) => t.inFlight));
  define('narwhal_thread_event_loop_lag_seconds', 'gauge', 'With --threads: event-loop lag (p99 over the last heartbeat interval) of each event loop',
    perThread((t) => t.lag));
  define('narwhal_thread_heap_used_bytes', 'gauge', 'With --threads: V8 heap in use by each event loop', perThread((t) => t.heapUsed));
  define('narwhal_thread_heap_limit_bytes', 'gauge', 'With --threads: V8 heap size limit of each event loop', perThread((t) => t.heapLimit));
  define('narwhal_ready', 'gauge', '1 when /readyz answers 200, else 0', () => [{ value: isReady() ? 1 : 0 }]);
  define('narwhal_pool_degraded', 'gauge', '1 when fewer workers than desired have been ready for longer than --degraded-after, else 0',
    () => [{ value: arbiter.snapshot.degraded ? 1 : 0 }]);

  // The master's own process and Node.js metrics (process_*, nodejs_*).
  collectDefaultMetrics({ register: registry });
  // Gauges named *_total fail `promtool check metrics`; nodejs_active_handles{type} and
  // friends carry the same numbers.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  return { registry, totals };
}
