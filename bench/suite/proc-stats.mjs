// What a server costs, read from /proc: CPU time (user + system, every thread) and RSS of a
// process tree, so that a master, its workers and any helper process count alike.
import { readFileSync, readdirSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux: /proc reports CPU time in 10 ms ticks

/** pid -> parent pid of every process now running. */
function parents() {
  const map = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      map.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* exited meanwhile */ }
  }
  return map;
}

/** ROOTS and all their descendants (any depth). */
export function treePids(roots) {
  const ppid = parents();
  const out = new Set(roots.filter((p) => ppid.has(p)));
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, parent] of ppid) if (!out.has(pid) && out.has(parent)) { out.add(pid); grew = true; }
  }
  return [...out];
}

/** CPU ms (user + system, all threads) of one process, or null once it is gone. */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return null;
  }
}

/** Resident set size in bytes, or null once the process is gone. */
export function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** A snapshot of the CPU time of every process in the tree. */
export function cpuSnapshot(roots) {
  const snap = new Map();
  for (const pid of treePids(roots)) {
    const ms = cpuMs(pid);
    if (ms !== null) snap.set(pid, ms);
  }
  return snap;
}

/** CPU ms spent by the tree between two snapshots (a process new in `after` counts in full). */
export function cpuBetween(before, after) {
  let ms = 0;
  for (const [pid, t] of after) ms += t - (before.get(pid) ?? 0);
  return ms;
}

/** RSS of the root (the master, or the only process) and of each other process in the tree. */
export function memory(root, extraRoots = []) {
  const pids = treePids([root, ...extraRoots]);
  const master = rssBytes(root) ?? 0;
  const others = pids.filter((p) => p !== root).map(rssBytes).filter((b) => b !== null);
  return { master, workers: others, total: master + others.reduce((a, b) => a + b, 0), processes: 1 + others.length };
}
