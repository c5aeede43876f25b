// How many workers `--workers auto` means here:
//   1. the cgroup CPU quota: ceil(quota / period), at least 1, at most the CPUs we may run on;
//   2. no quota: the CPUs in the cgroup's cpuset (at most the CPUs we may run on);
//   3. neither: os.availableParallelism() (Node 20 ignores cgroup quotas, hence 1 and 2).
import { availableParallelism } from 'node:os';
import { readCgroup, type CgroupFacts } from './cgroup';

export interface WorkerCount {
  count: number;
  /** Where the number came from, for --print-config and the boot log. */
  source: string;
}

const trim = (n: number) => String(Number(n.toFixed(3)));

export function resolveWorkerCount(setting: number | 'auto', facts: CgroupFacts = readCgroup()): WorkerCount {
  if (setting !== 'auto') return { count: setting, source: 'set' };
  const parallelism = Math.max(1, availableParallelism());
  const allowed = Math.min(parallelism, facts.cpuset?.count ?? parallelism);
  const allowedText = facts.cpuset && facts.cpuset.count < parallelism
    ? `${allowed} CPUs in ${facts.cpuset.file}`
    : `os.availableParallelism() = ${parallelism}`;
  if (facts.cpu) {
    const cpus = facts.cpu.quota / facts.cpu.period;
    const wanted = Math.max(1, Math.ceil(cpus));
    const count = Math.min(wanted, allowed);
    const capped = count < wanted ? `, capped at ${allowedText}` : '';
    return {
      count,
      source: `CPU quota ${facts.cpu.quota}/${facts.cpu.period} = ${trim(cpus)} CPUs from ${facts.cpu.file} -> ceil = ${wanted}${capped}`,
    };
  }
  if (facts.cpuset) {
    return { count: allowed, source: `cpuset ${facts.cpuset.list} = ${facts.cpuset.count} CPUs from ${facts.cpuset.file}, no CPU quota${allowed < facts.cpuset.count ? `, capped at ${allowedText}` : ''}` };
  }
  return { count: parallelism, source: `os.availableParallelism() = ${parallelism}, no cgroup CPU limit` };
}
