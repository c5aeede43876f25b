// Each worker's V8 old-space limit (--max-old-space-size), from the container memory limit.
//
// Node sizes its default heap from the cgroup memory limit *per process* (about half of it),
// so N workers together can be promised N/2 times the container's memory and get OOM-killed
// long before V8 would have collected garbage. narwhal divides the limit instead:
//
//   share per event loop = (memory limit - 64 MiB kept for the master) / (workers x threads)
//   heap per event loop  = 60 % of that share, at least 64 MiB
//
// (--threads: every event loop of a worker is a V8 isolate with a heap of its own; the process's
// own gets --max-old-space-size, each thread the same as its resourceLimits.)
//
// The other 40 % of each share is for what is not old space: the young generation, code,
// Buffers and other native memory. Example: 1 GiB and 2 workers -> 288 MiB of heap each.
//
// The user's choice wins: --worker-heap-mb N, or --max-old-space-size in NODE_OPTIONS or in
// the master's own Node flags (then narwhal adds nothing).
//
// TTIN (one worker more) with a heap sized from the limit: the new pool size gets a smaller
// share, so new workers get the smaller heap and the workers already running with a larger
// one are replaced one at a time (successor ready first, as on HUP), keeping the sum of heap
// limits within the budget. When the share would fall under the 64 MiB minimum (or, with
// --worker-heap-mb, the workers' shares would exceed the limit), TTIN is refused and logged.
import { isSingleExecutable } from './sea';
import type { CgroupFacts } from './cgroup';

export const MASTER_RESERVE_MB = 64;
export const HEAP_SHARE = 0.6;
export const MIN_HEAP_MB = 64;
const MiB = 1024 * 1024;

export interface HeapPlan {
  /** How the heap is chosen: by the user, from the memory limit, or left to Node. */
  mode: 'set' | 'node-options' | 'limit' | 'none';
  /** Heap in MiB for each event loop of a pool of `workers`; null when narwhal sets none. */
  heapMb(workers: number): number | null;
  /** Node flags for a new worker of a pool of `workers`. */
  flags(workers: number): string[];
  /** Why a pool of `workers` would not fit the memory limit; null when it fits. */
  refuse(workers: number): string | null;
  /** One line for --print-config and the boot log. */
  describe(workers: number): string;
}

const HEAP_FLAG = /(^|\s)--max[-_]old[-_]space[-_]size(=|\s|$)/;

export function planHeap(opts: {
  workerHeapMb: number;
  facts: CgroupFacts;
  /** --threads: each event loop is an isolate with a heap of its own. */
  loopsPerWorker?: number;
  env?: NodeJS.ProcessEnv;
  execArgv?: string[];
}): HeapPlan {
  const env = opts.env ?? process.env;
  const execArgv = opts.execArgv ?? process.execArgv;
  const limitMb = opts.facts.memory ? opts.facts.memory.bytes / MiB : null;
  const limitText = opts.facts.memory ? `memory limit ${Math.floor(limitMb as number)} MiB from ${opts.facts.memory.file}` : '';
  const available = limitMb === null ? null : Math.max(0, limitMb - MASTER_RESERVE_MB);
  const loops = Math.max(1, opts.loopsPerWorker ?? 1);
  const perLoop = loops > 1 ? ` (${loops} threads per worker, a heap each)` : '';

  if (opts.workerHeapMb > 0) {
    const mb = opts.workerHeapMb;
    return {
      mode: 'set',
      heapMb: () => mb,
      flags: () => [`--max-old-space-size=${mb}`],
      refuse: (n) => (available !== null && (n * loops * mb) / HEAP_SHARE > available
        ? `${n} workers${perLoop} with worker_heap_mb = ${mb} need ${Math.ceil((n * loops * mb) / HEAP_SHARE + MASTER_RESERVE_MB)} MiB, over the ${limitText}`
        : null),
      describe: () => `${mb} MiB each${perLoop}: set by worker_heap_mb`,
    };
  }
  // The single binary ignores NODE_OPTIONS (its Node flags come as --node-options, in execArgv).
  const nodeOptions = isSingleExecutable() ? '' : env.NODE_OPTIONS ?? '';
  if (HEAP_FLAG.test(nodeOptions) || execArgv.some((a) => HEAP_FLAG.test(a))) {
    return {
      mode: 'node-options',
      heapMb: () => null,
      flags: () => [],
      refuse: () => null,
      describe: () => 'set by --max-old-space-size in NODE_OPTIONS or the Node flags (narwhal adds none)',
    };
  }
  if (available === null) {
    return {
      mode: 'none',
      heapMb: () => null,
      flags: () => [],
      refuse: () => null,
      describe: () => "Node's default: no cgroup memory limit",
    };
  }
  const raw = (n: number) => Math.floor((available * HEAP_SHARE) / Math.max(1, n * loops));
  const heapMb = (n: number) => Math.max(MIN_HEAP_MB, raw(n));
  return {
    mode: 'limit',
    heapMb,
    flags: (n) => [`--max-old-space-size=${heapMb(n)}`],
    refuse: (n) => (raw(n) < MIN_HEAP_MB
      ? `${n} workers would get ${raw(n)} MiB of heap each, under the ${MIN_HEAP_MB} MiB minimum, with the ${limitText}`
      : null),
    describe: (n) => {
      const share = loops > 1 ? `${n * loops} event loops (${n} workers x ${loops} threads)` : `${n} workers`;
      const base = `${heapMb(n)} MiB each: ${HEAP_SHARE * 100}% of (${limitText} - ${MASTER_RESERVE_MB} MiB for the master) / ${share}`;
      return raw(n) < MIN_HEAP_MB ? `${base}, raised to the ${MIN_HEAP_MB} MiB minimum: the limit is tight for ${n} workers` : base;
    },
  };
}
