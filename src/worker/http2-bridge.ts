// HTTP/2 for the app's HTTP/1 server (every shape narwhal serves through node:http: request
// listeners, Express, Koa, Fastify, { fetch } handlers, adopted and exported http.Servers). A
// node:http2 server of narwhal's own, which never listens, takes the connections that chose h2
// by ALPN or opened with the h2c preface, and hands each stream to the app's server as its
// 'request' (or 'checkContinue') event, through Node's compatibility API: the app's listeners,
// and narwhal's instrumentation of them, run unchanged. HTTP/1.1 connections never come here,
// so their path is what it is without HTTP/2.
import type http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type { Settings } from '../config/settings';
import { BridgedResponse, asHttp1Request, keepOwnMembers, prototypeSwapper } from './http2-compat';

/** Gunicorn's HTTP/2 limits as Node's http2 server options. */
export function http2Options(settings: Pick<Settings, 'http2_max_concurrent_streams' | 'http2_initial_window_size' |
  'http2_max_header_list_size' | 'limit_request_fields'>): http2.ServerOptions {
  return {
    settings: {
      maxConcurrentStreams: settings.http2_max_concurrent_streams,
      initialWindowSize: settings.http2_initial_window_size,
      maxHeaderListSize: settings.http2_max_header_list_size,
    },
    // Node's own cap on fields per request (128 by default, pseudo-header fields included) must
    // not be lower than limit_request_fields, whose excess narwhal answers 431 itself.
    maxHeaderListPairs: Math.max(128, (settings.limit_request_fields || 4096) + 8),
  };
}

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
  session.goaway(http2.constants.NGHTTP2_NO_ERROR, LAST_STREAM_ID);
  setTimeout(() => { if (!session.closed && !session.destroyed) session.close(); }, GOAWAY_GRACE_MS);
}

export class Http2Bridge {
  private readonly h2: http2.Http2Server<typeof http.IncomingMessage, typeof http.ServerResponse, typeof http2.Http2ServerRequest, typeof BridgedResponse>;
  /**
   * Express gives each request a prototype of its own: the compatibility objects must keep
   * theirs. Decided at the first request, when the app has added its listeners.
   */
  private swapsPrototypes: boolean | null = null;

  constructor(
    private readonly target: http.Server,
    settings: Settings,
    onSession: (session: http2.ServerHttp2Session) => void,
  ) {
    this.h2 = http2.createServer({ ...http2Options(settings), Http2ServerResponse: BridgedResponse });
    this.h2.on('session', onSession);
    this.h2.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => this.forward('request', req, res));
    // As node:http does: the app's checkContinue listener if it has one, else 100 Continue and
    // 'request'; other expectations go to its checkExpectation listener, else 417.
    this.h2.on('checkContinue', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      if (target.listenerCount('checkContinue') > 0) return this.forward('checkContinue', req, res);
      res.writeContinue();
      this.forward('request', req, res);
    });
    // CONNECT (Node's compatibility API answers it 405 itself when nothing listens): through
    // narwhal's checks, which answer 405 too, and count it.
    this.h2.on('connect', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => this.forward('request', req, res));
    this.h2.on('checkExpectation', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      if (target.listenerCount('checkExpectation') > 0) return this.forward('checkExpectation', req, res);
      res.writeHead(417);
      res.end();
    });
  }

  /** A connection that speaks HTTP/2 (a TLSSocket that chose h2, or a TCP socket with the h2c preface). */
  accept(socket: net.Socket): void {
    this.h2.emit('connection', socket);
  }

  private forward(event: string, req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
    asHttp1Request(req);
    this.swapsPrototypes ??= this.target.listeners('request').some(prototypeSwapper);
    if (this.swapsPrototypes) keepOwnMembers(req, res);
    this.target.emit(event, req, res);
  }
}
