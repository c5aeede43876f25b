// A worker process starts here: from the main bundle (dist/narwhal-main.js, the single binary) when
// its dispatcher sees NARWHAL_WORKER_PROCESS, or as the entry of the worker's own bundle
// (dist/narwhal-worker.js), which holds only the worker's code: less to compile and to keep.
// A thread of a worker with --threads starts here too (worker/threads/group.ts), as the same Worker
// behind a ThreadLink.
import { isMainThread } from 'node:worker_threads';
import { COMPILE_CACHE_ENV } from '../platform/compile-cache';
import { WORKER_ENV } from '../ipc';
import { ThreadLink } from '../worker/link';
import { Worker } from '../worker/worker';

if (!isMainThread) {
  new Worker(new ThreadLink()).run().catch((err: unknown) => {
    process.stderr.write(`narwhal worker thread: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  });
} else if (!process.send || !process.env[WORKER_ENV]) {
  process.stderr.write('narwhal: this is a narwhal worker, started by the narwhal master; run narwhal itself (dist/narwhal.js)\n');
  process.exit(2);
} else {
  // The app's own child processes must not start as narwhal workers, nor share the workers'
  // compile cache (Node read the variable when this process started).
  delete process.env[WORKER_ENV];
  delete process.env[COMPILE_CACHE_ENV];
  new Worker().run().catch((err: unknown) => {
    process.stderr.write(`narwhal worker: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  });
}
