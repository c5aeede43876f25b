// The master's view of one worker process.
import type { ChildProcess } from 'node:child_process';
import type { MasterMessage, WorkerStats } from '../protocol';

export type WorkerState = 'booting' | 'ready' | 'draining' | 'exited';
export type RestartReason = 'crash' | 'timeout' | 'max_requests' | 'memory' | 'reload' | 'signal';
export const RESTART_REASONS: readonly RestartReason[] = ['crash', 'timeout', 'max_requests', 'memory', 'reload', 'signal'];

export class WorkerHandle {
  state: WorkerState = 'booting';
  readonly pid: number;
  readonly spawnedAt = Date.now();
  lastHeartbeat = Date.now();
  stats: WorkerStats = { requests: 0, inFlight: 0, rss: 0, heapLimit: 0, lag: 0 };
  /** Set when the worker is to be replaced: its successor boots first, then it drains. */
  retireReason: RestartReason | null = null;
  /** Why it is stopping, once it is; an exit without one is a crash. */
  stopReason: RestartReason | 'shutdown' | 'scale' | null = null;
  bootError: string | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  /** Report requests (scrapes) waiting for the heartbeat that answers them, by id. */
  private readonly reports = new Map<number, (answered: boolean) => void>();
  private nextReport = 0;

  constructor(readonly child: ChildProcess, readonly age: number) {
    this.pid = child.pid as number;
  }

  get live(): boolean {
    return this.state === 'booting' || this.state === 'ready';
  }

  send(message: MasterMessage, handle?: unknown, callback?: (err: Error | null) => void): void {
    if (!this.child.connected) return callback?.(new Error('worker disconnected'));
    this.child.send(message, handle as never, callback ?? undefined);
  }

  signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch { /* already gone */ }
  }

  /**
   * Asks the worker to finish its in-flight requests and exit, and kills it if it is still
   * there after the graceful timeout. `closeIdle`: close idle keep-alive connections at once
   * (shutdown) rather than at their next request or keep-alive timeout (recycling).
   */
  drain(reason: NonNullable<WorkerHandle['stopReason']>, closeIdle: boolean, gracefulTimeoutS: number): void {
    if (this.state === 'exited') return;
    this.stopReason ??= reason;
    this.state = 'draining';
    if (this.child.connected) this.send({ t: 'drain', closeIdle });
    else this.signal('SIGTERM');
    this.killTimer ??= setTimeout(() => this.signal('SIGKILL'), gracefulTimeoutS * 1000 + 1000);
    this.killTimer.unref();
  }

  /**
   * Asks for a heartbeat now; resolves true once it has been handled (stats are current), or
   * false after `timeoutMs` (a busy or exiting worker: its last heartbeat stands).
   */
  requestReport(timeoutMs: number): Promise<boolean> {
    if (!this.child.connected || this.state === 'exited') return Promise.resolve(false);
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

  exited(): void {
    this.state = 'exited';
    if (this.killTimer) clearTimeout(this.killTimer);
    for (const done of this.reports.values()) done(false);
    this.reports.clear();
  }
}
