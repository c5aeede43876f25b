// The pidfile: written when the master starts, removed when it stops, and only if it still
// names this process (a new master may have taken it over by then).
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Logger } from '../log/logger';

export function writePidfile(path: string, pid = process.pid): void {
  writeFileSync(path, `${pid}\n`);
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
