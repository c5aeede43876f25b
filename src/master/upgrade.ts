// USR2: binary upgrade, with Gunicorn's semantics. The running master starts a new master from
// the executable on disk (which may have been replaced since), handing it its listening
// sockets as inherited file descriptors; both then serve from the same sockets. The old
// master's pidfile becomes PIDFILE.2 and the new master writes PIDFILE. The operator checks
// the new master, then sends the old one WINCH (stop its workers) and TERM (graceful exit);
// if the new master dies instead, the old one takes PIDFILE back and carries on.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Listener } from '../http/listeners';
import type { Logger } from '../log/logger';
import { readPidfile, removePidfile, renamePidfile } from './pidfile';
import { isSingleExecutable } from '../platform/sea';
import { workerArgs } from './spawn';

/** address -> fd of the sockets a new master inherits, as JSON: {"127.0.0.1:8000":3}. */
export const INHERIT_ENV = 'NARWHAL_INHERIT_FDS';
/** pid of the master that started this one by USR2. */
export const PARENT_ENV = 'NARWHAL_UPGRADE_PARENT';

/** The master that started this one; while it lives, this one must not upgrade again. */
let upgradeParent = 0;

/** First fd of the sockets handed to the new master (0-2 are stdio). */
const FIRST_FD = 3;

export interface Inheritance {
  /** The sockets it inherits by address, to pass to bindAll(). */
  fds: Map<string, number>;
  /** The master that started this one (USR2), 0 if none: it holds the admin port until it stops. */
  parent: number;
}

/**
 * In a master started by USR2: what its predecessor handed over. Removes the variables from
 * the environment so that neither workers nor the app see them.
 */
export function takeInheritance(env: NodeJS.ProcessEnv = process.env): Inheritance {
  const raw = env[INHERIT_ENV];
  upgradeParent = Number(env[PARENT_ENV]) || 0;
  delete env[INHERIT_ENV];
  delete env[PARENT_ENV];
  const map = new Map<string, number>();
  const inheritance = { fds: map, parent: upgradeParent };
  if (!raw) return inheritance;
  try {
    for (const [address, fd] of Object.entries(JSON.parse(raw) as Record<string, unknown>)) {
      if (Number.isInteger(fd) && (fd as number) >= FIRST_FD) map.set(address, fd as number);
    }
  } catch { /* a malformed value: bind afresh */ }
  return inheritance;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Upgrader {
  private child: ChildProcess | null = null;

  constructor(private readonly log: Logger) {}

  /** A new master started by USR2 is running. */
  get running(): boolean {
    return this.child !== null;
  }

  /**
   * Starts the new master. `listeners` are the old master's; `pidfile` is --pid. Returns the
   * new master's pid, or null when refused.
   */
  start(listeners: Listener[], pidfile: string | null, cwd: string): number | null {
    if (this.child) {
      this.log.warning(`USR2 ignored: an upgrade is already running (new master pid ${this.child.pid})`);
      return null;
    }
    if (upgradeParent && alive(upgradeParent)) {
      this.log.warning(`USR2 ignored: the previous master (pid ${upgradeParent}) is still running; stop it first`);
      return null;
    }
    if (listeners.length === 0) {
      this.log.warning('USR2 ignored: no listening socket to hand over');
      return null;
    }
    const inherit: Record<string, number> = {};
    listeners.forEach((l, i) => { inherit[l.address] = FIRST_FD + i; });
    const oldPidfile = pidfile ? `${pidfile}.2` : null;
    if (pidfile && oldPidfile) renamePidfile(pidfile, oldPidfile);
    const args = [...workerArgs(isSingleExecutable(), []), ...process.argv.slice(2)];
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, args, {
        cwd,
        // Its own session: the new master must outlive this one and not share its terminal signals.
        detached: true,
        stdio: ['ignore', 'inherit', 'inherit', ...listeners.map((l) => l.handle.fd)],
        env: { ...process.env, [INHERIT_ENV]: JSON.stringify(inherit), [PARENT_ENV]: String(process.pid) },
      });
    } catch (err) {
      this.log.error(`USR2: cannot start the new master: ${(err as Error).message}`);
      if (pidfile && oldPidfile) renamePidfile(oldPidfile, pidfile);
      return null;
    }
    this.child = child;
    child.unref();
    child.on('error', (err) => this.log.error(`USR2: new master: ${err.message}`));
    child.once('exit', (code, signal) => {
      this.child = null;
      this.log.error(`USR2: the new master (pid ${child.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`);
      // Gunicorn's rule: the upgrade failed, this master is the one again.
      if (pidfile && oldPidfile && readPidfile(pidfile) === null) renamePidfile(oldPidfile, pidfile);
    });
    if (oldPidfile) process.once('exit', () => removePidfile(oldPidfile));
    this.log.info(`USR2: started a new master (pid ${child.pid}) from ${process.execPath}, handing over ${listeners.length} socket(s)`);
    return child.pid ?? null;
  }
}
