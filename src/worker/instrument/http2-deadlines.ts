// request_timeout for HTTP/2 streams. node:http gives every HTTP/1 request a deadline for its
// whole body (requestTimeout); node:http2 has none, so a client could open a stream, send one
// byte of a body and hold the stream (and up to http2_max_concurrent_streams more on the same
// connection) for ever. A stream whose body has not ended within request_timeout is reset and
// counted as 408; the connection's other streams go on. Streams without a body (END_STREAM on
// the HEADERS frame: every GET) are never watched. One sweep timer per worker, no listener or
// timer per stream. (Headers: nghttp2 hands over a stream only once its header block is
// complete; a session that does not complete one within header_timeout is closed by
// http2-header-sweep.ts.)
import type http2 from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** RST_STREAM CANCEL (RFC 9113 7). */
const CANCEL = 8;

interface Watched {
  res: ServerResponse;
  due: number;
}

export class StreamDeadlines {
  private readonly open = new Map<http2.Http2Stream, Watched>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly timeoutMs: number) {}

  /** An HTTP/2 request: watched until its body has ended (the peer closed its side). */
  watch(req: IncomingMessage, res: ServerResponse): void {
    const stream = (req as unknown as { stream?: http2.Http2Stream }).stream;
    if (!stream || stream.endAfterHeaders || this.timeoutMs <= 0) return;
    this.open.set(stream, { res, due: Date.now() + this.timeoutMs });
    this.timer ??= setInterval(() => this.sweep(), Math.max(100, Math.min(1000, this.timeoutMs / 4))).unref();
  }

  /** How many streams are watched (tests). */
  get size(): number {
    return this.open.size;
  }

  sweep(now = Date.now()): void {
    for (const [stream, w] of this.open) {
      if (stream.destroyed || stream.closed || stream.state?.remoteClose) {
        this.open.delete(stream);
      } else if (now >= w.due) {
        this.open.delete(stream);
        expire(stream, w.res);
      }
    }
    if (this.open.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

/**
 * The stream is reset (RST_STREAM CANCEL), as a client's own reset would: the app's request
 * ends and its late response goes nowhere. (A 408 response first would make the app's own
 * response, written when the request ends, throw ERR_HTTP2_HEADERS_SENT.) The access log and
 * the metrics count it as 408.
 */
function expire(stream: http2.Http2Stream, res: ServerResponse): void {
  if (!res.headersSent) res.statusCode = 408;
  stream.close(CANCEL);
}
