// Starting a worker process: the same executable, re-entered in worker mode. Under plain Node
// that is the worker's own bundle beside the master's (dist/narwhal-worker.js), or the main
// bundle itself when it runs alone; inside the single binary it is the binary itself (its argv
// is its own, so worker mode is selected by an environment variable, never by argv).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isSingleExecutable } from '../platform/sea';
import { WORKER_ENV } from '../ipc';


export interface SpawnOptions {
  /** Listening sockets the worker inherits, as fds 4, 5, … (fd 3 is the IPC channel). */
  fds: number[];
  env: NodeJS.ProcessEnv;
  /** Extra V8/Node flags for the worker (heap size). */
  nodeFlags: string[];
  /** Shown in the worker's argv, which also makes room for its process title. */
  title: string;
  /** -u/-g: the uid and gid workers run as (the master stays as it started). */
  uid?: number;
  gid?: number;
}

/** fd number a worker sees for the i-th inherited socket. */
export const inheritedFd = (index: number) => 4 + index;

export function spawnWorker({ fds, env, nodeFlags, title, uid, gid }: SpawnOptions): ChildProcess {
  const sea = isSingleExecutable();
  const childEnv: NodeJS.ProcessEnv = { ...env, [WORKER_ENV]: '1' };
  // Linux process titles can only reuse the space of the original argv: the trailing
  // arguments (ignored by the worker) make room for `narwhal: worker [APP]`.
  const args = workerArgs(sea, nodeFlags);
  if (!sea) args[args.length - 1] = workerScript();
  return spawn(process.execPath, [...args, 'worker', `[${title}]`], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...fds],
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
    env: childEnv,
  });
}

let workerBundle: string | undefined;

/** dist/narwhal-worker.js when it sits beside the master's script (the build writes both), else that script. */
function workerScript(): string {
  if (workerBundle) return workerBundle;
  const main = process.argv[1] as string;
  const sibling = join(dirname(main), 'narwhal-worker.js');
  workerBundle = ['narwhal.js', 'narwhal-main.js'].includes(basename(main)) && existsSync(sibling) ? sibling : main;
  return workerBundle;
}

/**
 * The argv that runs this executable again, before its own arguments: a worker, or the next
 * master on USR2. The binary is built with `execArgvExtension: "cli"`: it ignores NODE_OPTIONS
 * (which belongs to the app's own child processes) and takes Node flags only as
 * `--node-options="..."`; the master's own Node flags carry over either way.
 */
export function workerArgs(sea: boolean, nodeFlags: string[]): string[] {
  if (!sea) return [...process.execArgv, ...nodeFlags, process.argv[1] as string];
  const flags = [...process.execArgv, ...nodeFlags];
  return flags.length > 0 ? [`--node-options=${flags.join(' ')}`] : [];
}
