// The gate every request passes before the app's listeners, on whatever server narwhal serves
// (adopted from the app's listen(), exported, or made for an exported listener): request limits
// and checks, forwarded-header stripping, counters for /metrics, the access log, max-requests,
// CONNECT answered 405, malformed requests answered 4xx. It wraps the server's emit() for the
// request events, so it runs before any of the app's listeners — those added later included —
// and can refuse a request before the app sees it. Connections are tracked (connections.ts) for
// the graceful drain, and the server gets narwhal's limits and timeouts (server-policy.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type http2 from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';
import type { Settings } from '../../config/settings';
import { carriesForwarded, peerMatcher, stripForwarded, type PeerMatcher } from '../../http/forwarded';
import {
  ALLOWED_METHODS, checkHttp2Request, checkRequest, refuse, refuseSocket, refuseStream, requestLimits, type RequestLimits,
} from '../../http/request-checks';
import type { AccessLog } from '../../log/access-log';
import type { Logger } from '../../log/logger';
import type { Statsd } from '../../log/statsd';
import { closeAfterResponse } from '../../platform/node/http';
import { Connections } from './connections';
import { recordResponse, type HttpCounters } from './counters';
import { failRequest } from './fail-request';
import { StreamDeadlines } from './http2-deadlines';
import { closeSession } from './http2-session';
import { applyServerPolicy, isHttp1Server } from './server-policy';
import {
  connOf, kActive, kConn, kGate, kGoawayNext, kPeer, kRequest, kServed, kSession, kSocket, kStart, kTls, kTrusted,
  onResponseClose, onResponseError, type OpenResponse, type ResponseOwner, type TrackedSocket,
} from './tracked';

const CONNECT_REFUSED = `HTTP/1.1 405 Method Not Allowed\r\nAllow: ${ALLOWED_METHODS}\r\n` +
  'Connection: close\r\nContent-Length: 0\r\n\r\n';

/** What the gate tells of each request and upgrade the app gets (--sticky: socketio/sessions.ts). */
export interface RequestObserver {
  request(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: net.Socket): void;
}

export class RequestGate implements ResponseOwner {
  readonly connections: Connections;
  /** Status classes and durations are recorded only when the master serves /metrics. */
  private readonly metrics: boolean;
  /** Gunicorn's limit_request_* settings, checked before the app sees a request. */
  private readonly limits: RequestLimits;
  /** forwarded_allow_ips compiled; `trustAll` (`*`) skips the per-request test altogether. */
  private readonly trusted: PeerMatcher;
  private readonly trustAll: boolean;
  /** request_timeout for HTTP/2 streams (node:http2 has none of its own). */
  private readonly deadlines: StreamDeadlines;
  /** Called once per request, after counting (max-requests lives in the Worker). */
  onRequest: (count: number) => void = () => {};
  sessions: RequestObserver | null = null;
  /** hooks: preRequest before the app, postRequest when the response is done (worker/hooks.ts). */
  preRequest: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  postRequest: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;

  constructor(
    readonly server: net.Server,
    settings: Settings,
    readonly counters: HttpCounters,
    private readonly log: Logger,
    private readonly access: AccessLog | null,
    /** --statsd-host: a timing and two counters per response. */
    private readonly stats: Statsd | null = null,
  ) {
    this.connections = new Connections(settings.keep_alive, counters, settings.header_timeout);
    this.metrics = Boolean(settings.admin_bind);
    this.limits = requestLimits(settings);
    this.trustAll = settings.forwarded_allow_ips.includes('*');
    this.trusted = peerMatcher(settings.forwarded_allow_ips);
    this.deadlines = new StreamDeadlines(Math.round(settings.request_timeout * 1000));
    if (isHttp1Server(server)) applyServerPolicy(server, settings, this.limits);
    this.attach();
  }

  /** Whether a connection's peer is in forwarded_allow_ips (cached on the connection). */
  isTrusted(socket: net.Socket): boolean {
    const conn = connOf(socket);
    return conn[kTrusted] ??= this.trusted(conn.remoteAddress);
  }

  private attach(): void {
    const server = this.server;
    const connections = this.connections;
    // The narwhal side of every event goes first, before the app's listeners.
    const emit = server.emit as (...args: unknown[]) => boolean;
    const self = this;
    server.emit = function gatedEmit(this: net.Server, event: string | symbol, a?: unknown, b?: unknown) {
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
          connections.connection(a as net.Socket);
          break;
        case 'secureConnection':
          connections.link(a as tls.TLSSocket);
          break;
        case 'session':
          connections.session(a as http2.ServerHttp2Session);
          break;
        default:
      }
      return Reflect.apply(emit, this, arguments) as boolean;
    } as typeof server.emit;
    // Node routes CONNECT to 'connect' only when the server has a listener; without one it
    // closes the connection with no answer. This one lets the wrapper answer 405.
    if (isHttp1Server(server)) server.on('connect', refuseConnectPlaceholder);
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
    // outlive a young-generation GC: several times the GC time per request under h2load.)
    if (!h2) this.connections.openResponses.add(res);
    const start = this.metrics || this.access || this.stats ? performance.now() : 0;
    // An HTTP/2 stream loses its way to the connection when it closes: the access log is told.
    const peer = h2 && this.access ? socket[kTls] ?? socket : req.socket;
    // A draining worker answers what it is sent, but tells the client to reconnect elsewhere.
    if (this.connections.draining) {
      closeAfterResponse(res);
      if (socket[kGoawayNext]) {
        socket[kGoawayNext] = false;
        closeSession(socket[kSession]!, true);
      }
    }
    // One shared listener pair per response, its state in fields: no closures per request.
    const r = res as OpenResponse;
    r[kGate] = this;
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
    // The peer's address (a getpeername per connection) only for a request that has a
    // forwarded field to keep or strip.
    if (!this.trustAll && carriesForwarded(req) && !this.isTrusted(socket)) stripForwarded(req);
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
    this.connections.openResponses.delete(res);
    if (this.metrics || this.access || this.stats) {
      const seconds = (performance.now() - res[kStart]) / 1000;
      if (this.metrics) recordResponse(this.counters, res.statusCode, seconds);
      this.access?.write(res[kRequest], res, seconds, res[kPeer]);
      this.stats?.request(res.statusCode, seconds);
    }
    if (this.connections.draining) this.connections.checkIdle();
  }

  responseError(res: OpenResponse, err: Error): void {
    const req = res[kRequest];
    this.log.error(`Error handling request ${req.method} ${req.url}: ${err.message}`);
  }

  /** An 'upgrade' or 'connect' the app takes over: strip forwarded headers, stop tracking it as HTTP. */
  private upgraded(req: IncomingMessage): void {
    const socket = connOf(req.socket);
    if (!this.trustAll && carriesForwarded(req) && !this.isTrusted(socket)) stripForwarded(req);
    this.sessions?.upgrade(req, req.socket);
    this.connections.upgraded(socket);
  }

  /** The request checks for an upgrade or a CONNECT the app would take over: refused 4xx before it does. */
  private refuseTakeover(req: IncomingMessage, socket: net.Socket): boolean {
    const refused = checkRequest(req, this.limits);
    if (refused === 0) return false;
    if (this.metrics) recordResponse(this.counters, refused, 0);
    this.stats?.request(refused, 0);
    refuseSocket(socket, refused);
    return true;
  }

  /** CONNECT to an app that does not handle it: 405, counted, connection closed. */
  private refuseConnect(socket: net.Socket): boolean {
    if (this.metrics) recordResponse(this.counters, 405, 0);
    this.stats?.request(405, 0);
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
}

/** Stands for the app in 'connect' until it adds its own listener (see attach()). */
function refuseConnectPlaceholder(): void {}
