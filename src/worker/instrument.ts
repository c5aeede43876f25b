// The guarantees narwhal adds to the server it serves, whoever made it (adopted from the app's
// listen(), exported, or made for an exported listener): request limits and checks, forwarded-
// header stripping, counters for /metrics, the access log, max-requests, CONNECT answered 405,
// malformed requests answered 4xx, and the bookkeeping a graceful drain needs (which connections
// are busy, which responses are open). It wraps the server's emit() for the request events, so
// it runs before any of the app's listeners — those added later included — and can refuse a
// request before the app sees it.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type http2 from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';
import type { Settings } from '../config/settings';
import { DURATION_BUCKETS } from '../ipc';
import type { AccessLog } from '../log/access-log';
import type { Logger } from '../log/logger';
import {
  ALLOWED_METHODS, checkHttp2Request, checkRequest, maxHeadersCount, refuse, refuseSocket, refuseStream, requestLimits, serverOptions, type RequestLimits,
} from '../http/request-checks';
import { peerMatcher, stripForwarded, type PeerMatcher } from '../http/forwarded';
import {
  closeAfterResponse, connectionsCheckingIntervalOf, maxHeaderSizeOf, setConnectionsCheckingInterval, setStrictParsing,
} from '../platform/node/http';
import { tlsParent } from '../platform/node/tls';
import { closeSession } from './http2-session';
import { StreamDeadlines } from './http2-deadlines';

/** The Instrumented a tracked connection or an open response reports to (shared listeners). */
const kInstrumented = Symbol('narwhal.instrumented');
const kActive = Symbol('narwhal.activeRequests');
const kServed = Symbol('narwhal.servedRequests');
/** Whether the peer is in forwarded_allow_ips: decided once per connection, on the real peer. */
const kTrusted = Symbol('narwhal.trustedPeer');
/** Handed to the app's 'upgrade' or 'connect' listener: no longer HTTP, the app's to close. */
const kUpgraded = Symbol('narwhal.upgraded');
/**
 * With TLS, the tracked connection is the TCP socket (so a drain also waits for handshakes in
 * progress) and requests come on the TLSSocket over it: each side points at the other. A tracked
 * connection points at itself, so that it can be found through the socket proxies of HTTP/2.
 */
const kConn = Symbol('narwhal.connection');
const kTls = Symbol('narwhal.tlsSocket');
/** An HTTP/2 connection's session: its streams are its requests, a drain sends it GOAWAY. */
const kSession = Symbol('narwhal.http2Session');
/** An idle HTTP/2 session of a recycled worker: GOAWAY goes with its next request. */
const kGoawayNext = Symbol('narwhal.goawayOnNextRequest');
/** Requests an HTTP/2 connection had served at the last idle sweep. */
const kSwept = Symbol('narwhal.servedAtLastSweep');
export type TrackedSocket = net.Socket & {
  [kActive]: number; [kServed]: number; [kTrusted]?: boolean; [kUpgraded]?: boolean;
  [kConn]?: TrackedSocket; [kTls]?: tls.TLSSocket; [kSession]?: http2.ServerHttp2Session; [kGoawayNext]?: boolean;
  [kSwept]?: number; [kInstrumented]?: Instrumented;
};

/** The tracked connection a request's socket belongs to (itself, or the TCP socket under TLS). */
const connOf = (socket: net.Socket): TrackedSocket => (socket as TrackedSocket)[kConn] ?? (socket as TrackedSocket);

/** A response in progress, with what its shared 'close' and 'error' listeners need. */
const kRequest = Symbol('narwhal.request');
const kSocket = Symbol('narwhal.requestConnection');
const kStart = Symbol('narwhal.requestStart');
const kPeer = Symbol('narwhal.requestPeer');
type OpenResponse = ServerResponse & {
  [kInstrumented]: Instrumented; [kRequest]: IncomingMessage; [kSocket]: TrackedSocket | null; [kStart]: number; [kPeer]: net.Socket;
};
function onResponseClose(this: OpenResponse): void {
  this[kInstrumented].responseClosed(this);
}
function onTrackedClose(this: TrackedSocket): void {
  this[kInstrumented]!.untrack(this);
}
function onResponseError(this: OpenResponse, err: Error): void {
  this[kInstrumented].responseError(this, err);
}

export interface HttpCounters {
  requests: number;
  inFlight: number;
  /** Responses by status class, index 1..5 = 1xx..5xx, 0 = other (for /metrics). */
  codes: number[];
  /** Request durations: count per DURATION_BUCKETS slot, +Inf last; and their sum in seconds. */
  buckets: number[];
  durationSum: number;
}

export const newCounters = (): HttpCounters => ({
  requests: 0, inFlight: 0, codes: [0, 0, 0, 0, 0, 0], buckets: new Array(DURATION_BUCKETS.length + 1).fill(0), durationSum: 0,
});

/** Counts one finished response: a few array increments, no allocation. */
function record(c: HttpCounters, status: number, seconds: number): void {
  const cls = (status / 100) | 0;
  c.codes[cls >= 1 && cls <= 5 ? cls : 0]++;
  let i = 0;
  while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
  c.buckets[i]++;
  c.durationSum += seconds;
}

/** Node's own default keep-alive timeout: an app server still at it did not choose one. */
const NODE_KEEP_ALIVE_MS = 5000;
// reliability: Node's own header and request timeouts, which narwhal's settings replace likewise.
const NODE_HEADERS_TIMEOUT_MS = 60_000;
const NODE_REQUEST_TIMEOUT_MS = 300_000;

const CONNECT_REFUSED = `HTTP/1.1 405 Method Not Allowed\r\nAllow: ${ALLOWED_METHODS}\r\n` +
  'Connection: close\r\nContent-Length: 0\r\n\r\n';

/** Whether a server speaks HTTP/1 through Node's http module (http.Server or https.Server). */
export function isHttp1Server(server: net.Server): server is http.Server {
  return typeof (server as Partial<http.Server>).closeIdleConnections === 'function' && 'maxHeadersCount' in server;
}

export class Instrumented {
  private readonly sockets = new Set<TrackedSocket>();
  /** HTTP/1 responses in progress (see request()). */
  private readonly openResponses = new Set<ServerResponse>();
  private draining = false;
  /** The drain's closeIdle: shutdown (close idle connections now) rather than a recycle. */
  private closingIdle = false;
  /** keep_alive for HTTP/2 sessions (see sweepIdleSessions), started with the first session. */
  private idleSweep: NodeJS.Timeout | null = null;
  private onIdle: (() => void) | null = null;
  /** Wait only for connections still speaking HTTP (stage 1 of a drain), or for all. */
  private idleWhenHttpDone = false;
  /** Status classes and durations are recorded only when the master serves /metrics. */
  private readonly metrics: boolean;
  /** Gunicorn's limit_request_* settings, checked before the app sees a request. */
  private readonly limits: RequestLimits;
  /** forwarded_allow_ips compiled; `trustAll` (`*`) skips the per-request test altogether. */
  private readonly trusted: PeerMatcher;
  private readonly trustAll: boolean;
  /** request_timeout for HTTP/2 streams (node:http2 has none of its own). */
  private readonly deadlines: StreamDeadlines;
  /** Called once per request, after counting (max-requests lives in the worker main). */
  onRequest: (count: number) => void = () => {};
  /** --sticky: told of each request and upgrade the app gets (engine-io-sessions.ts). */
  sessions: { request(req: IncomingMessage, res: ServerResponse): void; upgrade(req: IncomingMessage, socket: net.Socket): void } | null = null;
  /** hooks: preRequest before the app, postRequest when the response is done (worker/hooks.ts). */
  preRequest: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  postRequest: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;

  constructor(
    readonly server: net.Server,
    private readonly settings: Settings,
    readonly counters: HttpCounters,
    private readonly log: Logger,
    private readonly access: AccessLog | null,
  ) {
    this.metrics = Boolean(settings.admin_bind);
    this.limits = requestLimits(settings);
    this.trustAll = settings.forwarded_allow_ips.includes('*');
    this.trusted = peerMatcher(settings.forwarded_allow_ips);
    this.deadlines = new StreamDeadlines(Math.round(settings.request_timeout * 1000));
    this.attach();
  }

  /** Whether a connection's peer is in forwarded_allow_ips (cached on the connection). */
  isTrusted(socket: net.Socket): boolean {
    const conn = connOf(socket);
    return conn[kTrusted] ??= this.trusted(conn.remoteAddress);
  }

  private attach(): void {
    const server = this.server;
    if (isHttp1Server(server)) this.applyServerPolicy(server);
    // The narwhal side of every event goes first, before the app's listeners.
    const emit = server.emit as (...args: unknown[]) => boolean;
    const self = this;
    server.emit = function instrumentedEmit(this: net.Server, event: string | symbol, a?: unknown, b?: unknown) {
      switch (event) {
        case 'request':
        case 'checkContinue':
        case 'checkExpectation':
          return self.request(emit, event, a as IncomingMessage, b as ServerResponse);
        case 'upgrade':
          if (self.refuseTakeover(a as IncomingMessage, b as net.Socket)) return true;
          self.upgraded(a as IncomingMessage);
          break;
        case 'connect':
          if (this.listenerCount('connect') <= 1) return self.refuseConnect(b as net.Socket);
          if (self.refuseTakeover(a as IncomingMessage, b as net.Socket)) return true;
          self.upgraded(a as IncomingMessage);
          break;
        case 'clientError':
          if (this.listenerCount('clientError') === 0) return self.clientError(a as NodeJS.ErrnoException, b as net.Socket);
          break;
        case 'connection':
          self.connection(a as net.Socket);
          break;
        case 'secureConnection':
          self.link(a as tls.TLSSocket);
          break;
        case 'session':
          self.session(a as http2.ServerHttp2Session);
          break;
        default:
      }
      return Reflect.apply(emit, this, arguments) as boolean;
    } as typeof server.emit;
    // Node routes CONNECT to 'connect' only when the server has a listener; without one it
    // closes the connection with no answer. This one lets the wrapper answer 405.
    if (isHttp1Server(server)) server.on('connect', refuseConnectPlaceholder);
  }

  /**
   * narwhal's server settings on a server it did not make: the limits and Gunicorn's parsing
   * rules always, strictly; the keep-alive timeout only if the app left Node's default.
   */
  private applyServerPolicy(server: http.Server): void {
    const options = serverOptions(this.limits);
    setStrictParsing(server, {
      maxHeaderSize: Math.max(maxHeaderSizeOf(server) ?? 0, options.maxHeaderSize),
      requireHostHeader: options.requireHostHeader,
    });
    server.maxHeadersCount = maxHeadersCount(this.limits);
    if (server.keepAliveTimeout === NODE_KEEP_ALIVE_MS) server.keepAliveTimeout = this.settings.keep_alive * 1000;
    // reliability: header_timeout and request_timeout, where the app left Node's; Node checks
    // them every connectionsCheckingInterval (30 s by default): often enough to hold to the second.
    if (server.headersTimeout === NODE_HEADERS_TIMEOUT_MS) server.headersTimeout = Math.round(this.settings.header_timeout * 1000);
    if (server.requestTimeout === NODE_REQUEST_TIMEOUT_MS) server.requestTimeout = Math.round(this.settings.request_timeout * 1000);
    const shortest = Math.min(...[server.headersTimeout, server.requestTimeout].filter((t) => t > 0));
    if (Number.isFinite(shortest)) {
      setConnectionsCheckingInterval(server, Math.max(100, Math.min(connectionsCheckingIntervalOf(server), 1000, Math.round(shortest / 4))));
    }
  }

  /** Counts a connection for drain(): which are busy, and when the last one has closed. */
  track(socket: net.Socket): void {
    const s = socket as TrackedSocket;
    if (this.sockets.has(s)) return;
    s[kActive] = 0;
    s[kServed] = 0;
    s[kConn] = s;
    s[kInstrumented] = this;
    this.sockets.add(s);
    s.on('close', onTrackedClose);
  }

  /** A tracked connection closed. */
  untrack(socket: TrackedSocket): void {
    if (!this.sockets.delete(socket)) return;
    this.checkIdle();
  }

  /** A connection the server got: tracked, or linked to the TCP connection it runs over. */
  connection(socket: net.Socket): void {
    if (this.sockets.has(socket as TrackedSocket)) return;
    // A TLSSocket says so (`encrypted`): no need to load node:tls for an instanceof.
    if ((socket as Partial<tls.TLSSocket>).encrypted === true && this.link(socket as tls.TLSSocket)) return;
    this.track(socket);
  }

  /**
   * A TLS connection over a tracked TCP connection: links the two, and gives the TLSSocket the
   * client address a PROXY preamble put on the TCP socket. False if its TCP socket is unknown.
   */
  private link(secure: tls.TLSSocket): boolean {
    const raw = tlsParent(secure) as TrackedSocket | undefined;
    if (!raw || !this.sockets.has(raw)) return false;
    raw[kTls] = secure;
    (secure as unknown as TrackedSocket)[kConn] = raw;
    for (const prop of ['remoteAddress', 'remotePort', 'remoteFamily']) {
      const own = Object.getOwnPropertyDescriptor(raw, prop);
      if (own) Object.defineProperty(secure, prop, own);
    }
    return true;
  }

  /** An HTTP/2 session on a tracked connection (narwhal's or the app's own http2 server). */
  session(session: http2.ServerHttp2Session): void {
    // session.socket is a proxy of the TLS or TCP socket: it reads through to the connection.
    const conn = (session.socket as unknown as Partial<TrackedSocket>)[kConn];
    if (!conn || !this.sockets.has(conn)) return;
    conn[kSession] = session;
    (session as unknown as { [kConn]: TrackedSocket })[kConn] = conn;
    if (this.draining) this.drainSession(conn, session);
    if (!this.idleSweep && this.settings.keep_alive > 0) {
      this.idleSweep = setInterval(() => this.sweepIdleSessions(), this.settings.keep_alive * 1000).unref();
    }
  }

  /**
   * keep_alive for HTTP/2: a session that has had no stream open through a whole period is
   * closed (so an idle one goes after one to two keep_alive periods). One timer per worker,
   * rather than Node's per-session timeout, which it refreshes at every frame.
   */
  private sweepIdleSessions(): void {
    for (const conn of this.sockets) {
      const session = conn[kSession];
      if (!session) continue;
      if (conn[kActive] === 0 && conn[kSwept] === conn[kServed]) closeSession(session, false);
      else conn[kSwept] = conn[kServed];
    }
  }

  private request(emit: (...args: unknown[]) => boolean, event: string, req: IncomingMessage, res: ServerResponse): boolean {
    const stream = (req as { stream?: { session?: { [kConn]?: TrackedSocket } } }).stream;
    const h2 = stream !== undefined;
    // An HTTP/2 request's connection is its session's (no trip through Node's socket proxies).
    const socket = stream?.session?.[kConn] ?? connOf(req.socket);
    socket[kActive] = (socket[kActive] ?? 0) + 1;
    this.counters.inFlight++;
    // Only HTTP/1 responses: a drain gives those Connection: close; an HTTP/2 session gets a
    // GOAWAY instead. (Keeping HTTP/2 responses here too made most of each stream's objects
    // outlive a young-generation GC — 3× the GC time, ~20 µs more per request under h2load.)
    if (!h2) this.openResponses.add(res);
    const start = this.metrics || this.access ? performance.now() : 0;
    // An HTTP/2 stream loses its way to the connection when it closes: the access log is told.
    const peer = h2 && this.access ? socket[kTls] ?? socket : req.socket;
    // A draining worker answers what it is sent, but tells the client to reconnect elsewhere.
    if (this.draining) {
      closeAfterResponse(res);
      if (socket[kGoawayNext]) {
        socket[kGoawayNext] = false;
        closeSession(socket[kSession]!, true);
      }
    }
    // One shared listener pair per response, its state in fields: no closures per request.
    const r = res as OpenResponse;
    r[kInstrumented] = this;
    r[kRequest] = req;
    r[kSocket] = socket;
    r[kStart] = start;
    r[kPeer] = peer;
    // reliability: a write after end (and other response errors) is logged, not a worker crash.
    res.on('error', onResponseError);
    res.on('close', onResponseClose);
    // A request Node's parser let through but narwhal refuses (limits, ambiguous fields) is
    // answered 4xx with Connection: close; it never reaches the app nor counts to max-requests.
    // An HTTP/2 request (it has a stream) has its own framing: only the checks that apply to
    // it, and a refusal ends its stream, not the connection.
    const refused = h2 ? checkHttp2Request(req, this.limits) : checkRequest(req, this.limits);
    if (refused !== 0) {
      (h2 ? refuseStream : refuse)(res, refused);
      return true;
    }
    if (!this.trustAll && !this.isTrusted(socket)) stripForwarded(req);
    if (h2) this.deadlines.watch(req, res);
    this.onRequest(++this.counters.requests);
    this.sessions?.request(req, res);
    this.preRequest?.(req, res);
    if (this.postRequest) res.once('close', () => this.postRequest?.(req, res));
    // A listener's synchronous throw fails its request with a 500, not the worker.
    try {
      return emit.call(this.server, event, req, res);
    } catch (err) {
      failRequest(this.log, req, res, err);
      return true;
    }
  }

  /** A response closed (sent, or its connection lost): counts, metrics, access log, drain. */
  responseClosed(res: OpenResponse): void {
    const socket = res[kSocket];
    if (socket === null) return; // 'close' is emitted once; this holds even if a stream repeats it
    res[kSocket] = null;
    socket[kActive]--;
    socket[kServed] = (socket[kServed] ?? 0) + 1;
    this.counters.inFlight--;
    this.openResponses.delete(res);
    if (this.metrics || this.access) {
      const seconds = (performance.now() - res[kStart]) / 1000;
      if (this.metrics) record(this.counters, res.statusCode, seconds);
      this.access?.write(res[kRequest], res, seconds, res[kPeer]);
    }
    if (this.draining) this.checkIdle();
  }

  responseError(res: OpenResponse, err: Error): void {
    const req = res[kRequest];
    this.log.error(`Error handling request ${req.method} ${req.url}: ${err.message}`);
  }

  /** An 'upgrade' or 'connect' the app takes over: strip forwarded headers, stop tracking it as HTTP. */
  private upgraded(req: IncomingMessage): void {
    const socket = connOf(req.socket);
    if (!this.trustAll && !this.isTrusted(socket)) stripForwarded(req);
    this.sessions?.upgrade(req, req.socket);
    socket[kUpgraded] = true;
    this.checkIdle();
  }

  /** The request checks for an upgrade or a CONNECT the app would take over: refused 4xx before it does. */
  private refuseTakeover(req: IncomingMessage, socket: net.Socket): boolean {
    const refused = checkRequest(req, this.limits);
    if (refused === 0) return false;
    if (this.metrics) record(this.counters, refused, 0);
    refuseSocket(socket, refused);
    return true;
  }

  /** CONNECT to an app that does not handle it: 405, counted, connection closed. */
  private refuseConnect(socket: net.Socket): boolean {
    if (this.metrics) record(this.counters, 405, 0);
    socket.end(CONNECT_REFUSED);
    return true;
  }

  /** A malformed request is answered 400 (431 for oversized headers) and the worker keeps serving. */
  private clientError(err: NodeJS.ErrnoException, socket: net.Socket): boolean {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return true;
    }
    // Bytes after a request that closes the connection (HTTP/1.0, Connection: close): the
    // request in flight is still answered (its response closes the connection), the rest ignored.
    if (err.code === 'HPE_CLOSED_CONNECTION' && connOf(socket)[kActive] > 0) return true;
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    return true;
  }

  private checkIdle(): void {
    if (!this.draining || !this.onIdle) return;
    for (const s of this.sockets) if (!this.idleWhenHttpDone || !s[kUpgraded]) return;
    const done = this.onIdle;
    this.onIdle = null;
    done();
  }

  /**
   * Stage 1 of a drain: resolves when every connection still speaking HTTP has closed. Busy
   * connections close after their current response, which carries `Connection: close`. Idle
   * keep-alive connections are closed at once when `closeIdle` (shutdown); when a worker is only
   * being recycled they are left to the keep-alive timeout, because closing a connection the
   * client may be writing to right now would fail that client's next request. Connections the
   * app took over (upgrades) are left to the app's shutdown code.
   */
  drainRequests(closeIdle: boolean): Promise<void> {
    this.draining = true;
    this.closingIdle = closeIdle;
    for (const res of this.openResponses) if (!res.headersSent) closeAfterResponse(res);
    for (const socket of this.sockets) {
      const session = socket[kSession];
      if (session) this.drainSession(socket, session);
      else if (closeIdle && socket[kActive] === 0 && socket[kServed] > 0 && !socket[kUpgraded]) (socket[kTls] ?? socket).end();
    }
    return this.waitIdle(true);
  }

  /**
   * An HTTP/2 session's part of a drain: GOAWAY (which tells the client which streams were
   * taken: the others it sends again) and its streams finish. A busy one gets it now; an idle
   * one at once on shutdown, and when the worker is only recycled with its next request or
   * after keep_alive, as HTTP/1.1 gets Connection: close, so that a stream the client is
   * sending right now is taken rather than refused.
   */
  private drainSession(conn: TrackedSocket, session: http2.ServerHttp2Session): void {
    if (conn[kActive] > 0 || this.closingIdle) return closeSession(session, conn[kActive] > 0);
    conn[kGoawayNext] = true;
    setTimeout(() => closeSession(session, conn[kActive] > 0), Math.max(1, this.settings.keep_alive) * 1000).unref();
  }

  /** Stage 3: resolves when every connection, upgraded ones included, has closed. */
  drainAll(): Promise<void> {
    this.draining = true;
    return this.waitIdle(false);
  }

  private waitIdle(httpOnly: boolean): Promise<void> {
    return new Promise((resolve) => {
      this.idleWhenHttpDone = httpOnly;
      this.onIdle = resolve;
      this.checkIdle();
    });
  }
}

/** Stands for the app in 'connect' until it adds its own listener (see attach()). */
function refuseConnectPlaceholder(): void {}

/** An app error fails its request with a 500 and 'Error handling request', not the worker. */
export function failRequest(log: Logger, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  log.error(`Error handling request ${req.method} ${req.url}\n${(err as Error)?.stack ?? String(err)}`);
  if (res.headersSent) return void res.destroy();
  // HTTP/2 has no Connection field (Node refuses it): the stream ends, the connection goes on.
  const h2 = (req as { stream?: unknown }).stream !== undefined;
  res.writeHead(500, h2 ? { 'content-type': 'text/plain' } : { 'content-type': 'text/plain', connection: 'close' });
  res.end('Internal Server Error\n');
}
