// The master's server hooks (settings.ts, docs/operations.md). Each gets `server`, a view of the
// arbiter as Gunicorn's hooks get the arbiter: its pid, the current settings, the error log, the
// pool's target and its workers; worker hooks get a view of one worker.
import type { Settings } from '../config/settings';
import { callHook } from '../hook-call';
import type { Logger } from '../log/logger';
import type { PoolSnapshot } from './pool';
import type { WorkerSnapshot } from './worker-handle';

export type MasterHookName =
  | 'onStarting' | 'onReload' | 'whenReady' | 'preFork' | 'postFork' | 'childExit' | 'nworkersChanged' | 'onExit' | 'preExec';

export interface PooledWorkerView {
  /** Undefined in preFork: the process does not exist yet. */
  readonly pid: number | undefined;
  /** Spawn order (Gunicorn's worker.age): 1 for the first worker, then 2, 3, … */
  readonly age: number;
  readonly state: string;
}

export interface ServerView {
  readonly pid: number;
  readonly settings: Settings;
  readonly log: Logger;
  readonly target: number;
  workers(): PooledWorkerView[];
}

export class MasterHooks {
  readonly server: ServerView;

  constructor(private readonly settings: () => Settings, pool: () => PoolSnapshot, private readonly log: Logger) {
    this.server = Object.freeze({
      pid: process.pid,
      get settings() { return settings(); },
      log,
      get target() { return pool().target; },
      workers: () => pool().workers.map(MasterHooks.workerView),
    });
  }

  /** What a hook sees of a worker. */
  static workerView(w: WorkerSnapshot): PooledWorkerView {
    return Object.freeze({ pid: w.pid, age: w.age, state: w.state });
  }

  /** Runs the hook if the config file has it; resolves when it is done, never rejects. */
  run(name: MasterHookName, ...args: unknown[]): Promise<void> {
    return callHook(this.log, name, this.settings()[name], this.server, ...args);
  }
}
