// keep_alive for HTTP/2: a session that has had no stream open through a whole period is closed
// (so an idle one goes after one to two keep_alive periods). One timer per worker, rather than
// Node's per-session timeout, which it refreshes at every frame.
import { closeSession } from './http2-session';
import { kActive, kServed, kSession, kSwept, type TrackedSocket } from './tracked';

export class Http2IdleSweep {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly connections: ReadonlySet<TrackedSocket>, private readonly keepAliveS: number) {}

  /** Started with the first HTTP/2 session (a worker serving none has no timer). */
  start(): void {
    if (this.timer || this.keepAliveS <= 0) return;
    this.timer = setInterval(() => this.sweep(), this.keepAliveS * 1000).unref();
  }

  private sweep(): void {
    for (const conn of this.connections) {
      const session = conn[kSession];
      if (!session) continue;
      if (conn[kActive] === 0 && conn[kSwept] === conn[kServed]) closeSession(session, false);
      else conn[kSwept] = conn[kServed];
    }
  }
}
