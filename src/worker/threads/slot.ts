// One thread place of a worker with --threads (thread 1, 2, …) and the threads that hold it: the
// current one and, while it drains, the one it replaced. The group (group.ts) drives them; a
// RunningThread changes state only through its methods, as a WorkerHandle does in the master.
import type { Worker as Thread } from 'node:worker_threads';
import type { ThreadStats, WorkerStats } from '../../ipc';

/** Why a thread ended, as the master counts it (narwhal_worker_restarts_total{reason}). */
export type ExitReason = 'crash' | 'timeout' | 'max_requests' | 'memory';
/** Why a thread was told to go: an exit reason, or the app closed its server (no restart counted). */
type Retiring = 'timeout' | 'max_requests' | 'app-closed';

const NO_STATS: WorkerStats = { requests: 0, inFlight: 0, rss: 0, heapLimit: 0, heapUsed: 0, lag: 0 };
/** The longest a thread that keeps dying young waits before its next start. */
const MAX_BACK_OFF_MS = 10_000;

export class RunningThread {
  readonly startedAt = Date.now();
  lastBeat = Date.now();
  stats: WorkerStats = NO_STATS;
  retiring: Retiring | null = null;
  private state: 'booting' | 'ready' | 'draining' = 'booting';
  private error: Error | null = null;
  private bootErrorText: string | null = null;
  private readonly reports = new Map<number, () => void>();
  private nextReport = 1;
  private settle: (failure: string | null) => void = () => {};
  /** Resolves null once the thread serves, or why it could not start. */
  readonly ready: Promise<string | null>;

  /** `kept`: the handles of this thread's socket copies, held (never used) while the process lives. */
  constructor(readonly thread: Thread, private readonly kept: unknown[]) {
    this.ready = new Promise((resolve) => { this.settle = resolve; });
  }

  isReady(): void {
    if (this.state !== 'booting') return;
    this.state = 'ready';
    this.settle(null);
  }

  beat(stats: WorkerStats, report?: number): void {
    this.stats = stats;
    this.lastBeat = Date.now();
    if (report === undefined) return;
    this.reports.get(report)?.();
    this.reports.delete(report);
  }

  /** A heartbeat now; resolves when it came. */
  report(): Promise<void> {
    const id = this.nextReport++;
    return new Promise((resolve) => {
      this.reports.set(id, resolve);
      this.thread.postMessage({ t: 'report', id });
    });
  }

  keep(handle: unknown): void {
    this.kept.push(handle);
  }

  failed(err: Error): void {
    this.error = err;
  }

  bootError(message: string): void {
    this.bootErrorText = message;
  }

  drain(closeIdle: boolean): void {
    if (this.state === 'draining') return;
    this.state = 'draining';
    this.thread.postMessage({ t: 'drain', closeIdle });
  }

  /** Why it ended, once it has: null when it was told to (the worker drains, a successor took over). */
  endReason(workerDraining: boolean): ExitReason | null {
    const wasBooting = this.state === 'booting';
    if (wasBooting) this.settle(this.bootErrorText ?? this.error?.stack ?? 'the thread exited before it was ready');
    if (workerDraining) return null;
    if (this.retiring === 'timeout' || this.retiring === 'max_requests') return this.retiring;
    if (this.retiring === 'app-closed') return null;
    if ((this.error as NodeJS.ErrnoException | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY') return 'memory';
    return 'crash';
  }

  describeEnd(where: string, reason: ExitReason, code: number): string {
    switch (reason) {
      case 'max_requests': return `${where} served its max-requests and drained`;
      case 'timeout': return `${where} was terminated: its event loop sent no heartbeat for --timeout; a new thread replaces it`;
      case 'memory': return `${where} ran out of heap (its --worker-heap-mb share); a new thread replaces it`;
      default: {
        const why = this.bootErrorText ?? (this.error ? `uncaught ${this.error.stack ?? this.error.message}` : `exited with code ${code}`);
        return `${where} ${this.state === 'booting' ? 'failed to start' : 'crashed'} (a new thread replaces it): ${why}`;
      }
    }
  }

  describe(index: number): ThreadStats {
    const s = this.stats;
    return {
      thread: index, threadId: this.thread.threadId, state: this.state, startedAt: this.startedAt, requests: s.requests,
      inFlight: s.inFlight, lag: s.lag, heapUsed: s.heapUsed ?? 0, heapLimit: s.heapLimit, restarts: 0,
    };
  }
}

export class Slot {
  /** The current thread last; before it, a predecessor still draining. */
  private readonly running: RunningThread[] = [];
  private restarts = 0;
  private youngDeaths = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly index: number) {}

  /** The thread that takes the slot's new connections, once a successor is serving; null between threads. */
  get current(): RunningThread | null {
    return this.running[this.running.length - 1] ?? null;
  }

  threads(): readonly RunningThread[] {
    return this.running;
  }

  started(thread: Thread, kept: unknown[]): RunningThread {
    const running = new RunningThread(thread, kept);
    if (this.running.length > 0) this.restarts++;
    this.running.push(running);
    return running;
  }

  /** The threads `successor` replaces. */
  predecessors(successor: RunningThread): RunningThread[] {
    return this.running.filter((t) => t !== successor);
  }

  ended(thread: RunningThread): void {
    const i = this.running.indexOf(thread);
    if (i >= 0) this.running.splice(i, 1);
  }

  /** After an unplanned end: at once, or backing off while it keeps dying young. */
  restartDelay(young: boolean): number {
    this.restarts++;
    this.youngDeaths = young ? this.youngDeaths + 1 : 0;
    return this.youngDeaths === 0 ? 0 : Math.min(MAX_BACK_OFF_MS, 100 * 2 ** (this.youngDeaths - 1));
  }

  restartIn(delayMs: number, start: () => void): void {
    this.timer = setTimeout(() => { this.timer = null; start(); }, delayMs);
  }

  cancelRestart(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  describe(thread: RunningThread): ThreadStats {
    return { ...thread.describe(this.index), restarts: this.restarts };
  }
}
