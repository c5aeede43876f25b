// How many workers `--workers auto` means here:
//   1. the cgroup CPU quota: ceil(quota / period), at least 1, at most the CPUs we may run on;
//   2. no quota: the CPUs in the cgroup's cpuset (at most the CPUs we may run on);
//   3. neither: the CPUs we may run on (the process's affinity mask).
// Not os.availableParallelism(): from libuv 1.49 (Node 22.12) it is itself bounded by the cgroup
// v2 quota, rounded its own way, which would cap step 1 below ceil(quota).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseCpuset, readCgroup, type CgroupFacts } from './cgroup';

export interface WorkerCount {
  count: number;
  /** Where the number came from, for --print-config and the boot log. */
  source: string;
}

const trim = (n: number) => String(Number(n.toFixed(3)));

/** The CPUs this process may run on: its affinity mask as Linux shows it (sched_getaffinity). */
export function affinity(statusText?: string | null): { count: number; text: string } {
  let status = statusText;
  if (status === undefined) {
    try {
      status = readFileSync('/proc/self/status', 'utf8');
    } catch {
      status = null;
    }
  }
  const list = status ? /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? null : null;
  const count = parseCpuset(list);
  if (count) return { count, text: `${count} CPUs in the affinity mask (${list})` };
  const n = Math.max(1, availableParallelism());
  return { count: n, text: `os.availableParallelism() = ${n}` };
}

export function resolveWorkerCount(setting: number | 'auto', facts: CgroupFacts = readCgroup(), mask = affinity()): WorkerCount {
  if (setting !== 'auto') return { count: setting, source: 'set' };
  const parallelism = mask.count;
  const allowed = Math.min(parallelism, facts.cpuset?.count ?? parallelism);
  const allowedText = facts.cpuset && facts.cpuset.count < parallelism
    ? `${allowed} CPUs in ${facts.cpuset.file}`
    : mask.text;
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
  return { count: parallelism, source: `${mask.text}, no cgroup CPU limit` };
}
