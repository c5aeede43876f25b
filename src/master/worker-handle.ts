// The master's handle on one worker process. Its life is one phase (booting -> ready ->
// draining -> exited), changed only by the transitions below, as Puma's worker_handle.rb does it
// (boot!, term!, ping!): the pool calls them, nothing writes a handle's fields from outside.
import type { ChildProcess } from 'node:child_process';
import type { MasterMessage, WorkerStats } from '../ipc';
import { Outbox } from '../platform/node/child_process';
import type { WorkerFacts } from './policy';

export type WorkerState = 'booting' | 'ready' | 'draining' | 'exited';
export type RestartReason = 'crash' | 'timeout' | 'max_requests' | 'memory' | 'reload' | 'signal';
export const RESTART_REASONS: readonly RestartReason[] = ['crash', 'timeout', 'max_requests', 'memory', 'reload', 'signal'];
/** Why a worker was told to stop: a restart reason, the master's shutdown, or a smaller pool. */
export type StopReason = RestartReason | 'shutdown' | 'scale';

/** One worker as observers (admin, metrics, ctl, hooks) see it: a copy, never the handle. */
export interface WorkerSnapshot {
  readonly pid: number;
  /** Spawn order (Gunicorn's worker.age): 1 for the first worker, then 2, 3, … */
  readonly age: number;
  readonly state: WorkerState;
  /** Why it is being replaced (reload, max_requests, memory …), or null. */
  readonly retiring: RestartReason | null;
  readonly spawnedAt: number;
  readonly stats: Readonly<WorkerStats>;
}

const NO_STATS: WorkerStats = { requests: 0, inFlight: 0, rss: 0, heapLimit: 0, lag: 0 };

export class WorkerHandle {
  readonly pid: number;
  readonly spawnedAt = Date.now();
  /** The Node flags it was started with (the heap size for the pool size of the time). */
  readonly nodeFlags: string;
  private phase: WorkerState = 'booting';
  private lastBeat = Date.now();
  private latest: WorkerStats = NO_STATS;
  private retireReason: RestartReason | null = null;
  private stopReason: StopReason | null = null;
  private bootErrorText: string | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  /** Report requests (scrapes) waiting for the heartbeat that answers them, by id. */
  private readonly reports = new Map<number, (answered: boolean) => void>();
  private nextReport = 0;
  /** Messages to the worker, in order; handles one at a time (platform/node/child_process.ts). */
  private readonly outbox: Outbox;

  constructor(readonly child: ChildProcess, readonly age: number, nodeFlags: string) {
    this.pid = child.pid as number;
    this.outbox = new Outbox((m, h, cb) => child.send(m as MasterMessage, h as never, cb), () => child.connected);
    this.nodeFlags = nodeFlags;
  }

  get state(): WorkerState {
    return this.phase;
  }

  /** Booting or serving: not yet told to go. */
  get live(): boolean {
    return this.phase === 'booting' || this.phase === 'ready';
  }

  get retiring(): RestartReason | null {
    return this.retireReason;
  }

  /** Why it was told to stop, once it was; an exit without one is a crash. */
  get stopping(): StopReason | null {
    return this.stopReason;
  }

  get bootError(): string | null {
    return this.bootErrorText;
  }

  get stats(): Readonly<WorkerStats> {
    return this.latest;
  }

  get lastHeartbeat(): number {
    return this.lastBeat;
  }

  // ---- transitions ---------------------------------------------------------------------

  /** It said something: it is alive (every message counts as a heartbeat). */
  ping(): void {
    this.lastBeat = Date.now();
  }

  /** booting -> ready. False if it was not booting (a late or repeated message). */
  ready(): boolean {
    if (this.phase !== 'booting') return false;
    this.phase = 'ready';
    return true;
  }

  /** A heartbeat's counters; returns the previous ones (metrics add the difference). */
  beat(stats: WorkerStats): WorkerStats {
    const previous = this.latest;
    this.latest = stats;
    return previous;
  }

  /** Its app failed to load: the message it sent before exiting. */
  failedBoot(message: string): void {
    this.bootErrorText = message;
  }

  /** Marks it for replacement: its successor boots first, then it drains. False if it is already going. */
  retire(reason: RestartReason): boolean {
    if (!this.live || this.retireReason) return false;
    this.retireReason = reason;
    return true;
  }

  /**
   * Asks the worker to finish its in-flight requests and exit, and kills it if it is still
   * there after the graceful timeout. `closeIdle`: close idle keep-alive connections at once
   * (shutdown) rather than at their next request or keep-alive timeout (recycling).
   */
  drain(reason: StopReason, closeIdle: boolean, gracefulTimeoutS: number): void {
    if (this.phase === 'exited') return;
    this.stopReason ??= reason;
    this.phase = 'draining';
    if (this.child.connected) this.send({ t: 'drain', closeIdle });
    else this.signal('SIGTERM');
    this.killTimer ??= setTimeout(() => this.signal('SIGKILL'), gracefulTimeoutS * 1000 + 1000);
    this.killTimer.unref();
  }

  /** Hung (no heartbeat within --timeout): SIGKILL, counted as a timeout when it exits. */
  killHung(): void {
    this.stopReason = 'timeout';
    this.signal('SIGKILL');
  }

  /** Quick shutdown (INT, QUIT): SIGQUIT, no drain. */
  quit(): void {
    this.stopReason = 'shutdown';
    this.signal('SIGQUIT');
  }

  /** The process is gone. */
  exited(): void {
    this.phase = 'exited';
    if (this.killTimer) clearTimeout(this.killTimer);
    for (const done of this.reports.values()) done(false);
    this.reports.clear();
  }

  // ---- talking to it -------------------------------------------------------------------

  send(message: MasterMessage, handle?: unknown, callback?: (err: Error | null) => void): void {
    if (!this.child.connected) return callback?.(new Error('worker disconnected'));
    this.outbox.post(message, handle, callback);
  }

  signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch { /* already gone */ }
  }

  /**
   * Asks for a heartbeat now; resolves true once it has been handled (stats are current), or
   * false after `timeoutMs` (a busy or exiting worker: its last heartbeat stands).
   */
  requestReport(timeoutMs: number): Promise<boolean> {
    if (!this.child.connected || this.phase === 'exited') return Promise.resolve(false);
    const id = ++this.nextReport;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.reports.delete(id); resolve(false); }, timeoutMs);
      timer.unref();
      this.reports.set(id, (answered) => { clearTimeout(timer); resolve(answered); });
      this.send({ t: 'report', id });
    });
  }

  /** The heartbeat answering report request `id` has been handled. */
  reported(id: number): void {
    const done = this.reports.get(id);
    this.reports.delete(id);
    done?.(true);
  }

  // ---- views ---------------------------------------------------------------------------

  /** What the supervision policy decides on. */
  facts(): WorkerFacts {
    return {
      pid: this.pid, age: this.age, state: this.phase, retiring: this.retireReason, stopping: this.stopReason,
      lastHeartbeat: this.lastBeat, rss: this.latest.rss,
    };
  }

  snapshot(): WorkerSnapshot {
    return Object.freeze({
      pid: this.pid, age: this.age, state: this.phase, retiring: this.retireReason, spawnedAt: this.spawnedAt, stats: this.latest,
    });
  }
}
