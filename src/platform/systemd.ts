// systemd integration (docs/operations.md, docs/systemd/):
//   - socket activation: with LISTEN_FDS/LISTEN_PID (sd_listen_fds(3)), the master serves the
//     sockets systemd passed (fd 3, 4, …) instead of binding --bind;
//   - readiness (sd_notify(3), Type=notify): READY=1 when the pool is ready, RELOADING=1 on
//     HUP, STOPPING=1 on shutdown.
// Node has no unix datagram sockets (node:dgram is UDP only, node:net stream only), so the
// messages are sent by systemd's own `systemd-notify`, which waits until the manager has read
// them (a barrier, systemd >= 246). Its messages come from its own pid, so the unit needs
// NotifyAccess=all; it names the master as MAINPID.
import { spawn } from 'node:child_process';
import type { Logger } from '../log/logger';

/** sd_listen_fds(3): the first passed socket is fd 3. */
const SD_LISTEN_FDS_START = 3;

export interface ActivatedSockets {
  /** fd://3, fd://4, … as bind addresses. */
  addresses: string[];
  /** LISTEN_FDNAMES, one per socket ('' when systemd gave none). */
  names: string[];
}

/**
 * The sockets systemd passed to this process, or null. The variables are removed from the
 * environment either way (sd_listen_fds with unset_environment), so that neither the workers
 * nor the app's own children take them for theirs.
 */
export function takeListenFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): ActivatedSockets | null {
  const count = Number(env.LISTEN_FDS);
  const forPid = Number(env.LISTEN_PID);
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  if (!Number.isInteger(count) || count < 1 || forPid !== pid) return null;
  const fds = Array.from({ length: count }, (_, i) => SD_LISTEN_FDS_START + i);
  return { addresses: fds.map((fd) => `fd://${fd}`), names: fds.map((_, i) => names[i] ?? '') };
}

/**
 * A sender of sd_notify states when NOTIFY_SOCKET is set, else null. NOTIFY_SOCKET is removed
 * from the environment: readiness is the master's to report, not the app's.
 */
export function systemdNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env): ((state: string) => void) | null {
  const socket = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  if (!socket) return null;
  let queue: Promise<void> = Promise.resolve();
  let warned = false;
  const send = (state: string) => new Promise<void>((resolve) => {
    const child = spawn('systemd-notify', [`--pid=${process.pid}`, state], {
      env: { PATH: env.PATH ?? '/usr/bin:/bin', NOTIFY_SOCKET: socket }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d) => { stderr += d; });
    child.once('error', (err) => {
      if (!warned) log.warning(`NOTIFY_SOCKET is set but systemd-notify cannot run (${err.message}): systemd is not told ${state}`);
      warned = true;
      resolve();
    });
    child.once('exit', (code) => {
      if (code !== 0 && code !== null) log.warning(`systemd-notify ${state} failed (exit ${code}): ${stderr.trim()}`);
      else log.debug(`systemd notified: ${state}`);
      resolve();
    });
  });
  // In order: a READY=1 must not overtake the RELOADING=1 sent before it.
  return (state) => { queue = queue.then(() => send(state)); };
}
