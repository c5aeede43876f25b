// Ending an HTTP/2 session gracefully: what a drain does to narwhal's bridge sessions and to
// the app's own http2 server's. Kept apart from the bridge, and free of node:http2 itself, so
// that a worker serving no HTTP/2 never loads it (the drain needs this on every worker).
import type http2 from 'node:http2';

/** http2.constants.NGHTTP2_NO_ERROR (RFC 9113 7: graceful shutdown). */
const NGHTTP2_NO_ERROR = 0;
/** How long a client gets to see the first GOAWAY of a drain before the last one (an RTT or more). */
const GOAWAY_GRACE_MS = 1000;
const LAST_STREAM_ID = 2 ** 31 - 1;
/** Sessions between their first GOAWAY and the last. */
const draining = new WeakSet<http2.ServerHttp2Session>();

/**
 * Ends an HTTP/2 session without failing a stream: GOAWAY tells the client to open no more
 * streams here and which ones were taken (any later one was not processed, and clients send
 * those again); the streams in flight finish, then the session closes. A busy session is drained
 * as Envoy does: a first GOAWAY naming the highest stream id takes every stream the client sends
 * until it has seen it; a second later, close() sends the final GOAWAY. (A PING's answer is no
 * sign that it has: clients send it ahead of the requests they had queued.) An idle session is
 * closed at once: nghttp2 stops reading an idle session once it has sent a GOAWAY, so a first
 * one would only delay the last.
 */
export function closeSession(session: http2.ServerHttp2Session, busy: boolean): void {
  if (session.closed || session.destroyed || draining.has(session)) return;
  if (!busy) return void session.close();
  draining.add(session);
  session.goaway(NGHTTP2_NO_ERROR, LAST_STREAM_ID);
  setTimeout(() => { if (!session.closed && !session.destroyed) session.close(); }, GOAWAY_GRACE_MS);
}
