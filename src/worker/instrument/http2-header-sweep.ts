// header_timeout for HTTP/2. nghttp2 hands a stream to Node only once its header block is
// complete (END_HEADERS), and neither sets a deadline on it: a client that sends HEADERS without
// END_HEADERS, then no CONTINUATION, holds the connection for ever (keep_alive 0), or until the
// keep_alive sweep's close — which Node 24 and later do not finish while a block is open. So, as
// node:http's headersTimeout for HTTP/1: a session gets header_timeout from its start for its
// first complete header block, and each later block header_timeout from when it began; a session
// still waiting then is destroyed (GOAWAY, then the socket closes). nghttp2 counts a block as
// begun at its HEADERS frame (session.state.lastProcStreamID moves on), Node hands it over at
// END_HEADERS ('stream'): a block is open while the first is ahead of the second. (A stream
// nghttp2 refuses at its end, a malformed one, also leaves it ahead: such a session, if idle, is
// closed at header_timeout too.) Only sessions with no request in flight are cut: one in use
// waits, its clock starting when it is idle; a body has request_timeout (http2-deadlines.ts).
// One sweep timer per worker, as for keep_alive (http2-idle-sweep.ts).
import type http2 from 'node:http2';
import { kActive, kConn, kHeadersBlock, kHeadersSince, kLastStream, kSession, type TrackedSocket } from './tracked';

export class Http2HeaderSweep {
  private timer: NodeJS.Timeout | null = null;
  private readonly timeoutMs: number;

  constructor(private readonly connections: ReadonlySet<TrackedSocket>, headerTimeoutS: number) {
    this.timeoutMs = Math.round(headerTimeoutS * 1000);
  }

  /** A new HTTP/2 session on `conn`: its first header block is due header_timeout from now. */
  watch(conn: TrackedSocket, session: http2.ServerHttp2Session): void {
    if (this.timeoutMs <= 0) return;
    conn[kHeadersBlock] = 0;
    conn[kHeadersSince] = Date.now();
    session.on('stream', onSessionStream);
    // Often enough to hold to a quarter of the timeout (at most a second late).
    this.timer ??= setInterval(() => this.sweep(), Math.max(100, Math.min(1000, this.timeoutMs / 4))).unref();
  }

  sweep(now = Date.now()): void {
    let sessions = 0;
    for (const conn of this.connections) {
      const session = conn[kSession];
      if (!session || session.destroyed) continue;
      sessions++;
      const last = conn[kLastStream] ?? 0;
      if (last > 0) {
        // A later block: open while nghttp2 has begun a stream Node has not handed over.
        const begun = conn[kActive] > 0 ? last : session.state.lastProcStreamID ?? last;
        if (begun <= last) {
          conn[kHeadersBlock] = undefined;
          continue;
        }
        if (conn[kHeadersBlock] !== begun) {
          conn[kHeadersBlock] = begun;
          conn[kHeadersSince] = now;
        }
      }
      if (now - (conn[kHeadersSince] ?? now) >= this.timeoutMs) session.destroy();
    }
    if (sessions === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

/** Shared by every watched session: a header block is complete. */
function onSessionStream(this: http2.ServerHttp2Session & { [kConn]?: TrackedSocket }, stream: http2.ServerHttp2Stream): void {
  const conn = this[kConn];
  const id = stream.id ?? 0;
  if (conn && id > (conn[kLastStream] ?? 0)) conn[kLastStream] = id;
}
