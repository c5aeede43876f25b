// Messages between the master and its workers over the IPC channel.
import type { Settings } from './config/settings';
import type { StandInAddress } from './platform/node/net';

/** Where a listener is: what the app's adopted server reports, and the URL logs show. */
interface Bound {
  /** As configured: 127.0.0.1:0, unix:/run/app.sock, fd://3. */
  address: string;
  /** As bound (the real port when 0 was asked). */
  where: StandInAddress;
  url: string;
}

/** How a worker gets its connections (see bench/README.md for why the default is what it is). */
export type ListenerPlan = Bound & (
  | { kind: 'inherited'; fd: number }
  | { kind: 'forwarded' }
  | { kind: 'reuseport'; host: string; port: number });

export interface BootMessage {
  t: 'boot';
  app: string;
  cwd: string;
  /** Without the hooks: the worker loads them from configFile (functions do not cross IPC). */
  settings: Settings;
  configFile: string | null;
  /** Spawn order, for the hooks' worker.age. */
  age: number;
  listeners: ListenerPlan[];
  /** This worker's own max-requests, jitter included (0 = unlimited). */
  maxRequests: number;
  heartbeatMs: number;
  /** --threads: event loops in this worker process (1: the process's own only). */
  threads: number;
  /** Each thread's V8 old-space limit (the process's own is its --max-old-space-size); null: Node's. */
  threadHeapMb: number | null;
}

export type MasterMessage =
  | BootMessage
  /**
   * A connection accepted by the master (round-robin), or one another worker shed (`served`: the
   * requests it has answered there); the socket handle rides along.
   */
  | { t: 'conn'; listener: number; head?: string; served?: number }
  /**
   * Hand up to `count` idle keep-alive connections back to the master, which gives them to the
   * worker holding fewest (the balance of the shared socket and reuseport, master/balance.ts).
   */
  | { t: 'shed'; count: number }
  /**
   * Finish in-flight requests and exit. Sent over IPC rather than as a signal so that it
   * arrives after every connection already forwarded to this worker.
   */
  | { t: 'drain'; closeIdle: boolean }
  /** The answer to a worker's `listen` (an extra server): the listening handle rides along. */
  | { t: 'listen-result'; id: number; errno?: number }
  /** Send a heartbeat now, tagged with this id: a /metrics scrape wants the exact counters. */
  | { t: 'report'; id: number }
  /**
   * The answer to `stopping` while the master itself shuts down (TERM to the whole process
   * group): serve on through --shutdown-delay; the master's own `drain` follows.
   */
  | { t: 'keep-serving' }
  /**
   * The answer to `listeners`: a copy of one listening socket the worker serves (its handle rides
   * along), for a thread to accept on (worker/threads/); `last` on the final copy.
   */
  | { t: 'listener-copy'; id: number; address: string; last: boolean }
  /** Worker to its threads only: reopen the log files (USR1). */
  | { t: 'reopen' };

export interface WorkerStats {
  requests: number;
  inFlight: number;
  rss: number;
  heapLimit: number;
  /** V8 heap in use (the process's own loop; with --threads, all of them). */
  heapUsed?: number;
  /** CPU time the process has used (user + system, microseconds; all its threads). */
  cpu?: number;
  /** Event-loop lag in seconds, as last measured. */
  lag: number;
  /** Open client connections (the process's own loop; with --threads, all of them). */
  connections?: number;
  /** Responses by status class since the worker started: index 1..5 = 1xx..5xx, 0 = other. */
  codes?: number[];
  /**
   * Request durations since the worker started, by status class (as codes): count per
   * DURATION_BUCKETS slot, +Inf last, BUCKET_SLOTS per class, class 0 first.
   */
  buckets?: number[];
  /** Sum of request durations in seconds, by status class. */
  durationSums?: number[];
  /** --threads: each event loop of the worker (its own first); the fields above are their sums. */
  threads?: ThreadStats[];
}

/** One event loop of a worker process with --threads (0: the process's own). */
export interface ThreadStats {
  thread: number;
  /** The worker_threads threadId; 0 for the process's own loop. */
  threadId: number;
  state: 'booting' | 'ready' | 'draining';
  startedAt: number;
  requests: number;
  inFlight: number;
  lag: number;
  heapUsed: number;
  heapLimit: number;
  /** Times this slot's thread was replaced. */
  restarts: number;
}

/** Upper bounds (seconds) of the request duration histogram (prom-client's defaults). */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Slots per status class in WorkerStats.buckets: the buckets and +Inf. */
export const BUCKET_SLOTS = DURATION_BUCKETS.length + 1;
/** Status classes counted: 0 (other), 1xx … 5xx. */
export const STATUS_CLASSES = 6;

export type WorkerMessage =
  /** `serving`: how the worker found the app's server, logged by the master once. */
  | { t: 'ready'; serving?: string }
  /**
   * The worker got SIGTERM from outside, or the app closed its server: the master stops routing
   * to it, then sends `drain` (which arrives after every connection already sent).
   */
  | { t: 'stopping'; cause: 'signal' | 'app closed its server' }
  /** --sticky: the worker made (`open`) or ended an Engine.IO session. */
  | { t: 'session'; sid: string; open: boolean }
  /** The app listens on an extra address: the master binds it once and shares it (adopt.ts). */
  | { t: 'listen'; id: number; address: string; backlog: number }
  | { t: 'boot-error'; message: string }
  /** `report`: the id of the master's report request this beat answers (a scrape), if any. */
  | ({ t: 'heartbeat'; report?: number } & WorkerStats)
  /** The worker asks to be replaced (max-requests reached): the master boots its successor first. */
  | { t: 'retire'; reason: 'max_requests' | 'memory' }
  /** --threads: copies of the listening sockets this worker serves, for a thread (`listener-copy`). */
  | { t: 'listeners'; id: number }
  /** An idle connection this worker shed (`shed`): its handle rides along; `served` as in `conn`. */
  | { t: 'moved'; served: number }
  /** --threads: one of the worker's threads ended and is replaced inside the process. */
  | { t: 'thread-exit'; thread: number; reason: 'crash' | 'timeout' | 'max_requests' | 'memory'; message: string };

/** Exit code of a worker whose app could not be loaded (Gunicorn's WORKER_BOOT_ERROR). */
export const WORKER_BOOT_ERROR = 3;
/** Environment variable that makes the executable start as a worker. */
export const WORKER_ENV = 'NARWHAL_WORKER_PROCESS';
