// What a worker's exit means when nobody asked it to stop: who ended it, how to log it, and
// whether its successor waits (back-off). Pure, so the policy can be read and tested on its own.
//   - Killed by a signal from outside (an operator's kill, the OOM killer's SIGKILL): counted as
//     restarts{reason="signal"} and replaced at once. SIGKILL is logged at ERROR (it is usually
//     the OOM killer), other signals at INFO.
//   - Died of its own doing (an exit code, or a fatal signal the process raises itself such as
//     SIGSEGV or SIGABRT): restarts{reason="crash"}, at ERROR.
//   - A worker that crashed before it was ready or soon after it started, or that was SIGKILLed
//     before it was ready (the OOM killer during boot), counts as a failed start: its successor
//     backs off, so a broken app is not a fork loop.

/** Signals a process gets for its own faults (from the kernel, or abort()), not from others. */
const SELF_INFLICTED = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGTRAP', 'SIGSYS', 'SIGXCPU', 'SIGXFSZ']);

/** A worker that dies sooner than this after it started counts as a failed start (back-off). */
export const MIN_HEALTHY_LIFE_MS = 5_000;

export interface UnplannedExit {
  reason: 'signal' | 'crash';
  level: 'info' | 'error';
  message: string;
  backOff: boolean;
}

export function unplannedExit(
  pid: number, code: number | null, signal: NodeJS.Signals | null, { wasBooting, livedMs }: { wasBooting: boolean; livedMs: number },
): UnplannedExit {
  if (signal && !SELF_INFLICTED.has(signal)) {
    return signal === 'SIGKILL'
      ? { reason: 'signal', level: 'error', message: `Worker (pid:${pid}) was sent SIGKILL! Perhaps out of memory?`, backOff: wasBooting }
      : { reason: 'signal', level: 'info', message: `Worker (pid:${pid}) was sent ${signal} from outside: replacing it`, backOff: false };
  }
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  return { reason: 'crash', level: 'error', message: `Worker (pid:${pid}) ${how}!`, backOff: wasBooting || livedMs < MIN_HEALTHY_LIFE_MS };
}
