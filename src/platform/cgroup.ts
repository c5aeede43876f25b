// Container facts from the process's cgroup: CPU quota, cpuset and memory limit, for cgroup v2
// (cpu.max, cpuset.cpus.effective, memory.max) and v1 (cpu/cpu.cfs_quota_us + cfs_period_us,
// cpuset/cpuset.cpus, memory/memory.limit_in_bytes).
//
// Where the files are read:
//   - NARWHAL_CGROUP_ROOT=DIR: v2 names directly in DIR, v1 names in DIR/cpu, DIR/memory,
//     DIR/cpuset (tests, unusual mounts). Only that directory is read.
//   - otherwise the process's own cgroup from /proc/self/cgroup, under /sys/fs/cgroup (v2:
//     the unified hierarchy; v1: one mount per controller). Every level from that cgroup up to
//     the mount point is read and the tightest limit wins, as the kernel enforces it. When the
//     path from /proc/self/cgroup is not visible (a container without a cgroup namespace sees
//     its own cgroup as the mount root), the mount root is read.
// A file that is missing, unreadable or malformed means "no limit": never an error.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export interface CpuQuota {
  quota: number;
  period: number;
  /** Where it was read, e.g. "cgroup v2 cpu.max". */
  file: string;
}

export interface CgroupFacts {
  /** 2, 1, or null when no cgroup files were found at all. */
  version: 1 | 2 | null;
  /** The directory read (NARWHAL_CGROUP_ROOT or the process's cgroup under /sys/fs/cgroup). */
  root: string | null;
  cpu: CpuQuota | null;
  /** CPUs in the cpuset, with the list as written. */
  cpuset: { count: number; list: string; file: string } | null;
  /** Memory limit in bytes. */
  memory: { bytes: number; file: string } | null;
}

const SYS_CGROUP = '/sys/fs/cgroup';
/** Limits at or above this are the kernel's way of saying "unlimited" (v1: 2^63 rounded to pages). */
const UNLIMITED_BYTES = 2 ** 60;

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function positiveNumber(s: string | null | undefined): number | null {
  if (s === null || s === undefined || !/^\d+$/.test(s.trim())) return null;
  const n = Number(s.trim());
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** v2 `cpu.max`: "QUOTA PERIOD" or "max PERIOD". */
export function parseCpuMax(text: string | null): { quota: number; period: number } | null {
  if (!text) return null;
  const [q, p] = text.split(/\s+/);
  const quota = positiveNumber(q);
  const period = positiveNumber(p ?? '100000');
  return quota && period ? { quota, period } : null;
}

/** v1 `cpu.cfs_quota_us` (-1 = none) and `cpu.cfs_period_us`. */
export function parseCfs(quotaText: string | null, periodText: string | null): { quota: number; period: number } | null {
  const quota = positiveNumber(quotaText);
  const period = positiveNumber(periodText);
  return quota && period ? { quota, period } : null;
}

/** A cpuset list such as "0-3,6,8-9" → number of CPUs (null if empty or malformed). */
export function parseCpuset(text: string | null): number | null {
  if (!text) return null;
  let count = 0;
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return null;
    count += hi - lo + 1;
  }
  return count > 0 ? count : null;
}

/** v2 `memory.max` ("max" = none) or v1 `memory.limit_in_bytes` (huge = none). */
export function parseMemory(text: string | null): number | null {
  const n = positiveNumber(text);
  return n !== null && n < UNLIMITED_BYTES ? n : null;
}

interface Layout {
  version: 1 | 2;
  /** Directories to read for each controller, innermost first. */
  cpu: string[];
  cpuset: string[];
  memory: string[];
  root: string;
}

/** Directories from `dir` up to `mount` (both included), innermost first. */
function upTo(mount: string, relative: string): string[] {
  const parts = relative.split('/').filter(Boolean);
  const dirs: string[] = [];
  for (let i = parts.length; i >= 0; i--) dirs.push(join(mount, ...parts.slice(0, i)));
  // A cgroup path that this mount namespace cannot see: the mount root is our cgroup.
  return existsSync(dirs[0] as string) ? dirs : [mount];
}

function processLayout(sysRoot: string, procCgroup: string | null): Layout | null {
  if (procCgroup === null) return null;
  const lines = procCgroup.split('\n').map((l) => {
    const [id, controllers, ...path] = l.split(':');
    return { id, controllers: (controllers ?? '').split(','), path: path.join(':') || '/' };
  });
  if (existsSync(join(sysRoot, 'cgroup.controllers'))) {
    const v2 = lines.find((l) => l.id === '0');
    const dirs = upTo(sysRoot, v2?.path ?? '/');
    return { version: 2, cpu: dirs, cpuset: dirs, memory: dirs, root: dirs[0] as string };
  }
  const v1 = (controller: string): string[] => {
    const line = lines.find((l) => l.controllers.includes(controller));
    const mount = [controller, `${controller},cpuacct`, `cpuacct,${controller}`]
      .map((name) => join(sysRoot, name)).find((p) => existsSync(p));
    return line && mount ? upTo(mount, line.path) : [];
  };
  const cpu = v1('cpu');
  const memory = v1('memory');
  const cpuset = v1('cpuset');
  if (cpu.length + memory.length + cpuset.length === 0) return null;
  return { version: 1, cpu, cpuset, memory, root: sysRoot };
}

function explicitLayout(dir: string): Layout {
  const v2 = ['cpu.max', 'memory.max', 'cpuset.cpus.effective', 'cgroup.controllers'].some((f) => existsSync(join(dir, f)));
  if (v2) return { version: 2, cpu: [dir], cpuset: [dir], memory: [dir], root: dir };
  return { version: 1, cpu: [join(dir, 'cpu')], cpuset: [join(dir, 'cpuset')], memory: [join(dir, 'memory')], root: dir };
}

export function readCgroup(env: NodeJS.ProcessEnv = process.env, sysRoot = SYS_CGROUP): CgroupFacts {
  const none: CgroupFacts = { version: null, root: null, cpu: null, cpuset: null, memory: null };
  try {
    const explicit = env.NARWHAL_CGROUP_ROOT;
    const layout = explicit ? explicitLayout(explicit) : processLayout(sysRoot, read('/proc/self/cgroup'));
    if (!layout) return none;
    const facts: CgroupFacts = { ...none, version: layout.version, root: layout.root };
    const v = `cgroup v${layout.version}`;
    // The tightest limit along the path wins.
    for (const dir of layout.cpu) {
      const q = layout.version === 2
        ? parseCpuMax(read(join(dir, 'cpu.max')))
        : parseCfs(read(join(dir, 'cpu.cfs_quota_us')), read(join(dir, 'cpu.cfs_period_us')));
      if (q && (!facts.cpu || q.quota / q.period < facts.cpu.quota / facts.cpu.period)) {
        facts.cpu = { ...q, file: `${v} ${join(dir, layout.version === 2 ? 'cpu.max' : 'cpu.cfs_quota_us')}` };
      }
    }
    for (const dir of layout.cpuset) {
      const names = layout.version === 2 ? ['cpuset.cpus.effective', 'cpuset.cpus'] : ['cpuset.effective_cpus', 'cpuset.cpus'];
      for (const name of names) {
        const list = read(join(dir, name));
        const count = parseCpuset(list);
        if (count === null) continue;
        if (!facts.cpuset || count < facts.cpuset.count) facts.cpuset = { count, list: list as string, file: `${v} ${join(dir, name)}` };
        break;
      }
      // The innermost effective set already accounts for its ancestors.
      if (facts.cpuset) break;
    }
    for (const dir of layout.memory) {
      const name = layout.version === 2 ? 'memory.max' : 'memory.limit_in_bytes';
      const bytes = parseMemory(read(join(dir, name)));
      if (bytes !== null && (!facts.memory || bytes < facts.memory.bytes)) facts.memory = { bytes, file: `${v} ${join(dir, name)}` };
    }
    return facts;
  } catch {
    return none;
  }
}
