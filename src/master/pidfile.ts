// The pidfile: written when the master starts, removed when it stops, and only if it still
// names this process (a new master may have taken it over by then).
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import type { Logger } from '../log/logger';

/**
 * Written to a new file next to it (O_EXCL, so nothing already there is followed or reused),
 * then renamed over the path: a symlink or a file another user left at the path is replaced,
 * never written through, and a reader never sees a half-written pid.
 */
export function writePidfile(path: string, pid = process.pid): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  writeFileSync(tmp, `${pid}\n`, { flag: 'wx', mode: 0o644 });
  try {
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw err;
  }
}

export function readPidfile(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function removePidfile(path: string, pid = process.pid): void {
  if (readPidfile(path) === pid) {
    try { unlinkSync(path); } catch { /* gone already */ }
  }
}

export function renamePidfile(from: string, to: string): void {
  try { renameSync(from, to); } catch { /* nothing to rename */ }
}

/** HUP with a changed `pid` setting: the new file is written, the old one removed (Gunicorn's). */
export function movePidfile(from: string | null, to: string | null, log: Logger): boolean {
  try {
    if (to) writePidfile(to);
  } catch (err) {
    log.error(`Reload: cannot write the pidfile ${to}: ${(err as Error).message}; keeping ${from ?? 'none'}`);
    return false;
  }
  if (from) removePidfile(from);
  log.info(`Pidfile: ${from ?? 'none'} -> ${to ?? 'none'}`);
  return true;
}
