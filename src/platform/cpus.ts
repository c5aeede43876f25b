// How many workers `--workers auto` means here.
import { availableParallelism } from 'node:os';

export interface WorkerCount {
  count: number;
  /** Where the number came from, for --print-config and the boot log. */
  source: string;
}

export function resolveWorkerCount(setting: number | 'auto'): WorkerCount {
  if (setting !== 'auto') return { count: setting, source: 'set' };
  const n = availableParallelism();
  return { count: Math.max(1, n), source: `os.availableParallelism() = ${n}` };
}
