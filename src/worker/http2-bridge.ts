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
export { closeSession } from './instrument/http2-session';

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
