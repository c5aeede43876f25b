// What a thread's copy of the app may ask of `process` that Node allows only in the main thread.
// The process's own copy of the app has already run (the group starts threads after it loaded),
// so a process-wide change it made is in place: the same request from a thread is a no-op.
import { resolve } from 'node:path';

export function shimProcessForThread(): void {
  const cwd = process.cwd.bind(process);
  // Next.js standalone's server.js, among others, changes to its own directory first thing.
  process.chdir = (dir: string) => {
    if (resolve(cwd(), dir) === cwd()) return;
    throw new Error(`process.chdir(${JSON.stringify(dir)}) in a thread of --threads: the working directory belongs to the whole ` +
      `process (it is ${cwd()}); start narwhal with --chdir ${dir}, or run with --threads 1`);
  };
}
