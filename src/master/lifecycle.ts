// The master's lifecycle as one phase. The arbiter owns it and alone moves it, each move one of
// its named transitions (arbiter.ts); the pool reads it (whether it still supervises, what a
// failed boot means), and observers see it in the pool's snapshot.
//
//   booting --a worker ready--> starting --the whole first pool ready: whenReady, READY=1--> running
//   running --HUP: RELOADING=1--> reloading --no worker left that HUP replaces: READY=1--> running
//   (any of these) --TERM--> terminating --after --shutdown-delay (0: at once)--> stopping
//   (any of these, terminating too) --INT, QUIT, a failed first boot--> stopping
//   stopping --the last worker gone--> stopped
//
// A new master started by USR2 is no phase of this one: it may run alongside any of them
// (upgrade.ts knows whether it does).

export type MasterPhase =
  /** No worker has been ready yet: a worker that fails to boot halts the master. */
  | 'booting'
  /** Workers serve; the first pool is not whole yet (whenReady and READY=1 wait for it). */
  | 'starting'
  | 'running'
  /** HUP after READY=1: the workers are being replaced; READY=1 again once they are. */
  | 'reloading'
  /**
   * TERM: readiness is 503 while the pool serves on through --shutdown-delay. Nothing is
   * announced any more, and a worker that fails to boot is retried (the master is going anyway).
   */
  | 'terminating'
  /** The sockets are closed and the workers drain (or quit): the pool supervises no more. */
  | 'stopping'
  /** The last worker is gone: onExit runs, then the master exits. */
  | 'stopped';

/**
 * The phase as the admin server, `narwhal ctl` and the status page show it: the three they have
 * always shown (--shutdown-delay reads as stopping, as ctl status and /readyz have shown it).
 */
export type ObservedPhase = 'booting' | 'running' | 'stopping';

export function observedPhase(phase: MasterPhase): ObservedPhase {
  if (phase === 'booting') return 'booting';
  return shuttingDown(phase) ? 'stopping' : 'running';
}

/** The workers are being stopped, or are gone: nothing is spawned or replaced any more. */
export function stopping(phase: MasterPhase): boolean {
  return phase === 'stopping' || phase === 'stopped';
}

/** TERM (or INT, QUIT) received: workers that stop on their own serve on until the master's drain. */
export function shuttingDown(phase: MasterPhase): boolean {
  return phase === 'terminating' || stopping(phase);
}
