// Privilege separation for the binds a worker asks of its master (extra-listeners.ts). The app
// is trusted to serve, not to steer the master: when workers run as another identity (-u/-g),
// the master — often root — binds an address for them only if the worker could have bound it
// itself: no privileged port, no unix socket in a directory the worker may not write, no file
// in the way that is not a stale socket the worker could remove. A file descriptor (fd://N) is
// never the worker's to ask for: it would name one of the master's own.
import { lchownSync, readFileSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseAddress, unixSocketInUse } from '../http/listeners';
import type { WorkerIdentity } from '../platform/users';

/** Why a worker may not have `address` bound for it, or null when it may. */
export type Refusal = { reason: string; errno: 'EACCES' | 'EADDRINUSE' | 'EINVAL' } | null;

/** The first port an unprivileged process may bind (Linux's net.ipv4.ip_unprivileged_port_start). */
export function unprivilegedPortStart(file = '/proc/sys/net/ipv4/ip_unprivileged_port_start'): number {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n >= 0 ? n : 1024;
  } catch {
    return 1024;
  }
}

/** Whether workers run as another identity than the master (so the master's rights are not theirs). */
export function separated(identity: WorkerIdentity | undefined): boolean {
  if (!identity) return false;
  return (identity.uid !== undefined && identity.uid !== process.getuid?.())
    || (identity.gid !== undefined && identity.gid !== process.getgid?.());
}

/** Whether a process of `uid`/`gid` has the permission bits `want` (4 r, 2 w, 1 x) on a file. */
function may(st: Stats, uid: number, gid: number, want: number): boolean {
  if (uid === 0) return want !== 1 || (st.mode & 0o111) !== 0 || st.isDirectory();
  const bits = st.uid === uid ? (st.mode >> 6) & 7 : st.gid === gid ? (st.mode >> 3) & 7 : st.mode & 7;
  return (bits & want) === want;
}

/** Decides whether a worker of `identity` may have `address` bound by the master. */
export async function checkWorkerBind(address: string, identity: WorkerIdentity | undefined): Promise<Refusal> {
  if (address.startsWith('fd://')) return { reason: 'a worker cannot ask for a file descriptor', errno: 'EINVAL' };
  let parsed;
  try {
    parsed = parseAddress(address.startsWith(':') ? `0.0.0.0${address}` : address);
  } catch {
    return { reason: 'not an address', errno: 'EINVAL' };
  }
  if (parsed.kind === 'fd') return { reason: 'a worker cannot ask for a file descriptor', errno: 'EINVAL' };
  const uid = identity?.uid ?? process.getuid?.() ?? 0;
  const gid = identity?.gid ?? process.getgid?.() ?? 0;
  const who = `workers run as uid ${uid}, gid ${gid}`;
  if (parsed.kind === 'tcp') {
    if (!separated(identity) || uid === 0) return null;
    const start = unprivilegedPortStart();
    if (parsed.port !== 0 && parsed.port < start) {
      return { reason: `${who}, which may not bind port ${parsed.port} (ports below ${start} are privileged); bind it with --bind instead`, errno: 'EACCES' };
    }
    return null;
  }
  const path = resolve(parsed.path);
  let existing: Stats | null = null;
  try {
    existing = statSync(path, { throwIfNoEntry: false }) ?? null;
  } catch { /* unreadable: the checks below say why */ }
  // Never take over a socket something listens on, whoever asks.
  if (existing?.isSocket() && await unixSocketInUse(path)) return { reason: 'a live socket is at that path (something listens on it)', errno: 'EADDRINUSE' };
  if (!separated(identity) || uid === 0) return null;
  if (existing && !existing.isSocket()) return { reason: 'a file that is not a socket is at that path', errno: 'EADDRINUSE' };
  // Every directory above must be searchable by the worker, the one holding the socket writable.
  const parent = dirname(path);
  for (let dir = parent; ; dir = dirname(dir)) {
    let st: Stats;
    try {
      st = statSync(dir);
    } catch {
      return { reason: `cannot read the directory ${dir}`, errno: 'EACCES' };
    }
    if (!may(st, uid, gid, 1)) return { reason: `${who}, which may not enter ${dir}`, errno: 'EACCES' };
    if (dir === parent) {
      if (!may(st, uid, gid, 2)) return { reason: `${who}, which may not create a file in ${dir}`, errno: 'EACCES' };
      // A stale socket in a sticky directory (/tmp) is the worker's to replace only if it owns it.
      if (existing && (st.mode & 0o1000) !== 0 && existing.uid !== uid && st.uid !== uid) {
        return { reason: `${who}, which may not replace ${path} (owned by uid ${existing.uid}, in a sticky directory)`, errno: 'EACCES' };
      }
    }
    if (dir === dirname(dir)) break;
  }
  return null;
}

/**
 * Gives the unix socket the master bound for a worker to the worker's identity, as if the worker
 * had made it. lchown, not chown: the worker may write the directory, so between bind and this
 * call it could put a symlink where the socket was, and a chown by root would give the worker
 * the link's target (/etc/shadow). A link swapped in is what gets the worker's owner, nothing else.
 * Not covered: a directory above the socket that the worker may also write, swapped for a link in
 * the same instant (Node has no fchownat; binding with the worker's credentials would close it).
 */
export function giveToWorker(path: string, identity: WorkerIdentity | undefined): void {
  if (!separated(identity)) return;
  try { lchownSync(path, identity?.uid ?? -1, identity?.gid ?? -1); } catch { /* left as bound */ }
}
