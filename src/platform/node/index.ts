// Every Node.js internal narwhal reaches into lives in this folder, one file per Node module,
// each reach-in named for what it does and typed. What a process cannot do without is checked
// here, once, at its boot: a Node that lacks any of it is refused in one line naming all that is
// missing, rather than failing later, in the middle of serving.
import * as http from './http';
import * as net from './net';

/** The Node.js lines narwhal is tested on, for the refusal line. */
export const SUPPORTED_LINES = '22.12+, 24, 26';

/**
 * The internals a process of this role uses that this Node lacks (empty when all are there).
 * The master binds, accepts and hands connections over; a worker adopts and serves.
 */
export function missingInternals(role: 'master' | 'worker'): string[] {
  return role === 'master' ? net.masterLacks() : [...net.workerLacks(), ...http.workerLacks()];
}

/** The one line a process refuses to start with. */
export function unsupportedNode(missing: string[]): string {
  return `narwhal cannot run on Node.js ${process.version}: it lacks ${missing.join(', ')} — supported: ${SUPPORTED_LINES}`;
}
