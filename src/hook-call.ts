// Calling a server hook (a function from the config file), in the master or in a worker: a hook
// that throws or rejects is logged with its name and never takes the process down.
import type { HookFunction } from './config/settings';
import type { Logger } from './log/logger';

const DONE: Promise<void> = Promise.resolve();

/**
 * Calls `fn(...args)` if it is set. Resolves when the hook has finished (an async hook's promise
 * settled), never rejects: callers await it where the order matters and ignore it elsewhere.
 */
export function callHook(log: Logger, name: string, fn: HookFunction | null | undefined, ...args: unknown[]): Promise<void> {
  if (!fn) return DONE;
  const failed = (err: unknown) => {
    log.error(`Hook ${name} failed: ${(err as Error)?.stack ?? String(err)}`, { hook: name });
  };
  try {
    const result = (fn as (...a: unknown[]) => unknown)(...args);
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
      return Promise.resolve(result).then(() => {}, failed);
    }
  } catch (err) {
    failed(err);
  }
  return DONE;
}

/** Waits for `promise`, but no longer than `ms` (a hook that never settles must not hold an exit). */
export function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}
