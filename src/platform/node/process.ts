// process, where narwhal goes past its public API: a signal reaches a process's listeners
// through process.emit, which narwhal wraps to decide who gets it (worker/shutdown.ts).

type Emit = (event: string | symbol, ...args: unknown[]) => boolean;

/**
 * Diverts `signal`: while `divert()` returns true the process's listeners do not get it. Must be
 * called before the signal's first listener is added, as Node binds process.emit to the signal's
 * watcher then.
 */
export function divertSignal(signal: NodeJS.Signals, divert: () => boolean): void {
  const emit = process.emit as Emit;
  process.emit = function divertingEmit(this: NodeJS.Process, event: string | symbol) {
    if (event === signal && divert()) return true;
    return Reflect.apply(emit, this, arguments) as boolean;
  } as typeof process.emit;
}
