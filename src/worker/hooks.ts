// Worker hooks (settings.ts, docs/operations.md): the master cannot send functions over IPC, so
// each worker reads the same config file the master read and keeps the hooks that run in a
// worker. Each gets `worker`, a view of this worker (pid, age, settings, log), as Gunicorn's
// worker hooks get the worker object.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HookFunction, SettingSpec, Settings } from '../config/settings';
import { callHook } from '../hook-call';
import type { Logger } from '../log/logger';

export type WorkerHookName = 'postWorkerInit' | 'workerInt' | 'workerAbort' | 'preRequest' | 'postRequest' | 'workerExit';

export interface WorkerSelfView {
  readonly pid: number;
  /** Spawn order, as the master counts (Gunicorn's worker.age). */
  readonly age: number;
  readonly settings: Settings;
  readonly log: Logger;
}

type RequestHook = (req: IncomingMessage, res: ServerResponse) => void;

export class WorkerHooks {
  private constructor(
    private readonly hooks: Partial<Record<WorkerHookName, HookFunction>>,
    readonly worker: WorkerSelfView,
    private readonly log: Logger,
  ) {}

  /** The worker hooks of `configFile` (none without one). Throws what readConfigFile throws. */
  static async load(configFile: string | null, worker: WorkerSelfView, log: Logger): Promise<WorkerHooks> {
    const hooks: Partial<Record<WorkerHookName, HookFunction>> = {};
    if (configFile) {
      // The registry and the loader only for a config file with worker hooks: most workers have none.
      const [{ readConfigFile, settingKey }, { SETTINGS }] = await Promise.all([import('../config/load'), import('../config/settings')]);
      for (const [key, value] of Object.entries(await readConfigFile(configFile))) {
        const name = settingKey(key);
        const spec: SettingSpec<unknown> | undefined = name ? SETTINGS[name] : undefined;
        // The master has already refused a hook that is not a function.
        if (spec?.hook?.where === 'worker' && typeof value === 'function') {
          hooks[name as WorkerHookName] = value as HookFunction;
        }
      }
    }
    return new WorkerHooks(hooks, worker, log);
  }

  /** Runs the hook if the config file has it; resolves when it is done, never rejects. */
  run(name: WorkerHookName, ...args: unknown[]): Promise<void> {
    return callHook(this.log, name, this.hooks[name], this.worker, ...args);
  }

  /** preRequest or postRequest as a per-request callback (not awaited), or null without one. */
  requestHook(name: 'preRequest' | 'postRequest'): RequestHook | null {
    if (!this.hooks[name]) return null;
    return (req, res) => void this.run(name, req, res);
  }
}
