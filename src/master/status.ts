// The pool as a plain JSON view, for people: `narwhal ctl status` and `ctl top` (over the control
// socket) and the admin server's /status page and /status.json read this one shape, made from
// the pool's snapshot, so the three cannot disagree. Numbers are raw (bytes, seconds, cumulative
// CPU); rates (req/s, CPU %) are for the viewer to take from two readings.
import type { LogEvent } from '../log/logger';
import type { Arbiter } from './arbiter';

export interface WorkerStatus {
  pid: number;
  state: string;
  /** Why it is being replaced (reload, max_requests, memory …), or null. */
  retiring: string | null;
  age_s: number;
  requests: number;
  in_flight: number;
  /** Open client connections (the balance evens them out on the shared socket). */
  connections: number;
  rss_bytes: number;
  heap_used_bytes: number;
  heap_limit_bytes: number;
  /** CPU time the worker process has used, in seconds (user + system). */
  cpu_s: number;
  lag_s: number;
  /** --threads: each event loop of the worker, its own (thread 0) first. */
  threads?: ThreadStatus[];
}

export interface ThreadStatus {
  thread: number;
  state: string;
  age_s: number;
  requests: number;
  in_flight: number;
  lag_s: number;
  heap_used_bytes: number;
  restarts: number;
}

export interface PoolStatus {
  master: {
    pid: number; phase: string; uptime_s: number; target: number; distribution: string; listeners: string[];
    version: string; node: string;
    /** Idle connections the balance moved between workers. */
    balanced_connections: number;
    restarts: Record<string, number>;
    /** The last worker exit or failed boot nobody asked for. */
    last_failure: string | null;
    degraded: boolean;
  };
  /** The settings an operator looks for first. */
  settings: Record<string, string | number | boolean | string[] | null>;
  workers: WorkerStatus[];
  /** The master's last few WARNING-or-worse log lines, newest last. */
  events: LogEvent[];
}

export function poolStatus(arbiter: Arbiter): PoolStatus {
  const now = Date.now();
  const pool = arbiter.snapshot;
  const s = arbiter.settings;
  return {
    master: {
      pid: process.pid, phase: pool.phase, uptime_s: Math.round(process.uptime()),
      target: pool.target, distribution: pool.distribution, listeners: [...pool.listeners],
      version: arbiter.version, node: process.version,
      restarts: { ...pool.restarts }, balanced_connections: pool.balanced, last_failure: pool.lastFailure, degraded: pool.degraded !== null,
    },
    settings: {
      workers: s.workers, threads: s.threads, distribution: s.distribution, timeout: s.timeout, graceful_timeout: s.graceful_timeout,
      keep_alive: s.keep_alive, max_requests: s.max_requests, worker_connections: s.worker_connections,
      forwarded_allow_ips: s.forwarded_allow_ips, proxy_protocol: s.proxy_protocol, max_worker_memory: s.max_worker_memory,
    },
    workers: pool.workers.map((w) => ({
      pid: w.pid, state: w.state, retiring: w.retiring, age_s: Math.round((now - w.spawnedAt) / 1000),
      requests: w.stats.requests, in_flight: w.stats.inFlight, connections: w.stats.connections ?? 0, rss_bytes: w.stats.rss,
      heap_used_bytes: w.stats.heapUsed ?? 0, heap_limit_bytes: w.stats.heapLimit, cpu_s: (w.stats.cpu ?? 0) / 1e6, lag_s: w.stats.lag,
      ...(w.stats.threads ? {
        threads: w.stats.threads.map((t) => ({
          thread: t.thread, state: t.state, age_s: Math.round((now - (t.startedAt || w.spawnedAt)) / 1000), requests: t.requests,
          in_flight: t.inFlight, lag_s: t.lag, heap_used_bytes: t.heapUsed, restarts: t.restarts,
        })),
      } : {}),
    })),
    events: [...arbiter.recentEvents],
  };
}
