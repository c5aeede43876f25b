// The worker's pulse: a heartbeat to the master on a timer. A worker whose event loop is
// blocked sends none, and the master kills it after --timeout (Gunicorn's WORKER TIMEOUT).
import type { IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { nodePerfHooks } from '../platform/lazy-builtins';
import type { WorkerMessage, WorkerStats } from '../ipc';
import type { HttpCounters } from './instrument/counters';

/** Where beats go: the master (a worker process), or the worker's main loop (a thread). */
export interface BeatLink {
  send(m: WorkerMessage): void;
  readonly connected: boolean;
}

/** With --threads, the worker's main loop adds its threads to its own stats before they go out. */
export type MergeThreads = (own: WorkerStats) => WorkerStats;

const cpuMicros = () => { const { user, system } = process.cpuUsage(); return user + system; };

// reliability: returns `beat` too, so that a report request (a /metrics scrape) is answered at once.
export function startHeartbeat(
  intervalMs: number, counters: HttpCounters, link: BeatLink,
): { stop: () => void; beat: (report?: number) => void; merge: (fn: MergeThreads) => void } {
  let merge: MergeThreads = (own) => own;
  // The lag monitor starts with the first timed beat, off the boot's path (the first beat, sent
  // as the worker boots, reports no lag).
  let delay: IntervalHistogram | null = null;
  const heapLimit = getHeapStatistics().heap_size_limit;
  // reliability: reading the RSS opens /proc/self/stat, which fails with EMFILE when the worker
  // is out of file descriptors: the last value stands rather than the worker crashing.
  let rss = 0;
  const readRss = () => { try { rss = process.memoryUsage.rss(); } catch { /* out of descriptors */ } return rss; };
  const beat = (report?: number) => {
    // p99 of the last interval: lag that matters, without one GC pause dominating.
    const lag = delay && delay.count > 0 ? delay.percentile(99) / 1e9 : 0;
    if (report === undefined) delay?.reset(); // reliability: a scrape does not shorten the interval
    const own: WorkerStats = {
      requests: counters.requests, inFlight: counters.inFlight, connections: counters.connections, rss: readRss(), heapLimit, heapUsed: getHeapStatistics().used_heap_size, lag,
      cpu: cpuMicros(),
      codes: counters.codes, buckets: counters.buckets, durationSums: counters.durationSums,
    };
    link.send({
      t: 'heartbeat', ...merge(own),
      ...(report === undefined ? {} : { report }), // reliability: the request this answers
    });
  };
  const timer = setInterval(() => {
    beat();
    if (!delay) (delay = nodePerfHooks().monitorEventLoopDelay({ resolution: 10 })).enable();
  }, intervalMs);
  timer.unref();
  beat();
  // A last beat as the worker exits, so the master counts its final requests (/metrics). A small
  // IPC message is written synchronously when the channel is idle.
  const last = () => { if (link.connected) beat(); };
  process.once('exit', last);
  return { stop: () => { clearInterval(timer); delay?.disable(); process.off('exit', last); }, beat, merge: (fn) => { merge = fn; } };
}
