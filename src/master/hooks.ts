// The master's server hooks (settings.ts, docs/operations.md). Each gets `server`, a view of the
// arbiter as Gunicorn's hooks get the arbiter: its pid, the current settings, the error log, the
// pool's target and its workers; worker hooks get a view of one worker.
import type { Settings } from '../config/settings';
import { callHook } from '../hooks';
import type { Logger } from '../log/logger';
import type { WorkerHandle } from './worker-handle';

export type MasterHookName =
  | 'onStarting' | 'onReload' | 'whenReady' | 'preFork' | 'postFork' | 'childExit' | 'nworkersChanged' | 'onExit' | 'preExec';

export interface WorkerView {
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
  workers(): WorkerView[];
}

interface ArbiterState {
  readonly settings: Settings;
  readonly target: number;
  readonly workers: ReadonlyMap<number, WorkerHandle>;
}

export const workerView = (w: WorkerHandle): WorkerView => Object.freeze({ pid: w.pid, age: w.age, state: w.state });

export class MasterHooks {
  readonly server: ServerView;

  constructor(private readonly arbiter: ArbiterState, private readonly log: Logger) {
    this.server = Object.freeze({
      pid: process.pid,
      get settings() { return arbiter.settings; },
      log,
      get target() { return arbiter.target; },
      workers: () => [...arbiter.workers.values()].map(workerView),
    });
  }

  /** Runs the hook if the config file has it; resolves when it is done, never rejects. */
  run(name: MasterHookName, ...args: unknown[]): Promise<void> {
    return callHook(this.log, name, this.arbiter.settings[name], this.server, ...args);
  }
}
