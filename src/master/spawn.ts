// Starting a worker process: the same executable, re-entered in worker mode. Under plain Node
// that is `node dist/narwhal.js`; inside the single binary it is the binary itself (its argv is
// its own, so worker mode is selected by an environment variable, never by argv).
import { spawn, type ChildProcess } from 'node:child_process';
import { WORKER_ENV } from '../protocol';

export function isSingleExecutable(): boolean {
  try {
    return (require('node:sea') as { isSea(): boolean }).isSea();
  } catch {
    return false;
  }
}

export interface SpawnOptions {
  /** Listening sockets the worker inherits, as fds 4, 5, … (fd 3 is the IPC channel). */
  fds: number[];
  env: NodeJS.ProcessEnv;
  /** Extra V8/Node flags for the worker (heap size). */
  nodeFlags: string[];
}

/** fd number a worker sees for the i-th inherited socket. */
export const inheritedFd = (index: number) => 4 + index;

export function spawnWorker({ fds, env, nodeFlags }: SpawnOptions): ChildProcess {
  const sea = isSingleExecutable();
  const args = sea ? [] : [...process.execArgv, ...nodeFlags, process.argv[1] as string];
  const childEnv: NodeJS.ProcessEnv = { ...env, [WORKER_ENV]: '1' };
  if (sea && nodeFlags.length > 0) {
    // The binary takes no Node flags on its argv; NODE_OPTIONS reaches the embedded Node.
    childEnv.NODE_OPTIONS = [env.NODE_OPTIONS, ...nodeFlags].filter(Boolean).join(' ');
  }
  return spawn(process.execPath, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...fds],
    env: childEnv,
  });
}
