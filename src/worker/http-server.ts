// The worker's HTTP side: one http.Server per listener, all running the same app, with the
// bookkeeping a graceful drain needs (which connections are busy, which responses are open).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import type { Settings } from '../config/settings';
import { DURATION_BUCKETS, type ListenerPlan } from '../protocol';
import type { AccessLog } from '../log/access-log';
import { Logger } from '../log/logger';
import type { RequestListener } from './load-app';
import { checkRequest, maxHeadersCount, refuse, requestLimits, serverOptions, type RequestLimits } from '../http/request-checks';
import { peerMatcher, stripForwarded, type PeerMatcher } from '../http/forwarded';
import { readPreamble } from '../http/proxy-protocol';
import { loadTls, type TlsFiles } from '../http/tls';

const kActive = Symbol('narwhal.activeRequests');
const kServed = Symbol('narwhal.servedRequests');
/** Whether the peer is in forwarded_allow_ips: decided once per connection, on the real peer. */
const kTrusted = Symbol('narwhal.trustedPeer');
/**
 * With TLS, 'connection' carries the TCP socket and requests the TLSSocket over it: the TCP
 * socket stays the tracked connection (so a drain also waits for handshakes in progress), and
 * each side points at the other.
 */
const kConn = Symbol('narwhal.connection');
const kTls = Symbol('narwhal.tlsSocket');
type TrackedSocket = net.Socket & {
  [kActive]: number; [kServed]: number; [kTrusted]?: boolean; [kConn]?: TrackedSocket; [kTls]?: tls.TLSSocket;
};

/** The tracked connection a request's socket belongs to (itself, or the TCP socket under TLS). */
const connOf = (socket: net.Socket): TrackedSocket => (socket as TrackedSocket)[kConn] ?? (socket as TrackedSocket);

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

// reliability: header_timeout and request_timeout, checked often enough to hold to the second.
function timeoutOptions(s: Settings): http.ServerOptions {
  const shortest = Math.min(...[s.header_timeout, s.request_timeout].filter((t) => t > 0)) * 1000;
  return {
    headersTimeout: Math.round(s.header_timeout * 1000), requestTimeout: Math.round(s.request_timeout * 1000),
    connectionsCheckingInterval: Number.isFinite(shortest) ? Math.max(100, Math.min(1000, Math.round(shortest / 4))) : 30_000,
  };
}

/** Counts one finished response: a few array increments, no allocation. */
function record(c: HttpCounters, status: number, seconds: number): void {
  const cls = (status / 100) | 0;
  c.codes[cls >= 1 && cls <= 5 ? cls : 0]++;
  let i = 0;
  while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
  c.buckets[i]++;
  c.durationSum += seconds;
}

export class WorkerHttp {
  readonly servers: http.Server[] = [];
  private readonly sockets = new Set<TrackedSocket>();
  private readonly openResponses = new Set<ServerResponse>();
  private draining = false;
  private onIdle: (() => void) | null = null;
  /** Status classes and durations are recorded only when the master serves /metrics. */
  private readonly metrics: boolean;
  /** Gunicorn's limit_request_* settings, checked before the app sees a request. */
  private readonly limits: RequestLimits;
  /** forwarded_allow_ips compiled; `trustAll` (`*`) skips the per-request test altogether. */
  private readonly trusted: PeerMatcher;
  private readonly trustAll: boolean;
  private readonly proxyProtocol: boolean;
  /** certfile and keyfile, read once when the worker starts listening; null = plain HTTP. */
  private tls: TlsFiles | null = null;
  /** proxy_protocol on a listening socket: plain net servers that read the preamble first. */
  private readonly gates: net.Server[] = [];
  /** Called once per request, after counting (max-requests lives in the worker main). */
  onRequest: (count: number) => void = () => {};

  constructor(
    private readonly app: RequestListener,
    private readonly settings: Settings,
    readonly counters: HttpCounters = newCounters(),
    private readonly log: Logger = new Logger(settings.log_level),
    private readonly access: AccessLog | null = null,
  ) {
    this.metrics = Boolean(settings.admin_bind);
    this.limits = requestLimits(settings);
    this.trustAll = settings.forwarded_allow_ips.includes('*');
    this.trusted = peerMatcher(settings.forwarded_allow_ips);
    this.proxyProtocol = settings.proxy_protocol;
  }

  /** Forwarded headers reach the app only from a trusted peer. */
  private checkForwarded(req: IncomingMessage, socket: TrackedSocket): void {
    let trusted = socket[kTrusted];
    if (trusted === undefined) trusted = socket[kTrusted] = this.trusted(socket.remoteAddress);
    if (!trusted) stripForwarded(req);
  }

  /**
   * A new connection for `server`. With proxy_protocol, a trusted peer's preamble is read and
   * removed first (trust is decided on the real peer, before the preamble replaces it).
   */
  private admit(server: http.Server, socket: TrackedSocket): void {
    if (!this.proxyProtocol) return void server.emit('connection', socket);
    const trusted = socket[kTrusted] = this.trusted(socket.remoteAddress);
    if (!trusted) return void server.emit('connection', socket);
    readPreamble(socket, () => {
      if (!this.tls || socket.readableLength === 0) return void server.emit('connection', socket);
      // The bytes after the preamble (the ClientHello) were put back on the socket, and
      // readPreamble resumes it as soon as this returns: TLS, which reads bytes put back only on
      // its next tick, would find them already emitted to no one. Take them out until it has.
      const head: Buffer[] = [];
      for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null;) head.push(chunk);
      process.nextTick(() => {
        if (socket.destroyed) return;
        socket.pause();
        for (let i = head.length - 1; i >= 0; i--) socket.unshift(head[i]!);
        server.emit('connection', socket);
      });
    });
  }

  /** Counts a connection for drain(): which are busy, and when the last one has closed. */
  private track(socket: TrackedSocket): void {
    socket[kActive] = 0;
    socket[kServed] = 0;
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (this.draining && this.sockets.size === 0) this.onIdle?.();
    });
  }

  /**
   * A TLS handshake done: links the TLSSocket to its TCP socket, and gives it the client address
   * a PROXY preamble put on the TCP socket.
   */
  private secured(secure: tls.TLSSocket): void {
    // Node keeps the wrapped TCP socket as `_parent`; without it, the TLSSocket is tracked alone.
    const raw = (secure as unknown as { _parent?: unknown })._parent as TrackedSocket | undefined;
    if (!raw || !this.sockets.has(raw)) return this.track(secure as unknown as TrackedSocket);
    raw[kTls] = secure;
    (secure as unknown as TrackedSocket)[kConn] = raw;
    for (const prop of ['remoteAddress', 'remotePort', 'remoteFamily']) {
      const own = Object.getOwnPropertyDescriptor(raw, prop);
      if (own) Object.defineProperty(secure, prop, own);
    }
  }

  private handle = (req: IncomingMessage, res: ServerResponse): void => {
    const socket = connOf(req.socket);
    socket[kActive] = (socket[kActive] ?? 0) + 1;
    this.counters.inFlight++;
    this.openResponses.add(res);
    const start = this.metrics || this.access ? performance.now() : 0;
    // A draining worker answers what it is sent, but tells the client to reconnect elsewhere.
    if (this.draining) res.shouldKeepAlive = false;
    // reliability: a write after end (and other response errors) is logged, not a worker crash.
    res.on('error', (err) => this.log.error(`Error handling request ${req.method} ${req.url}: ${err.message}`));
    res.once('close', () => {
      socket[kActive]--;
      socket[kServed] = (socket[kServed] ?? 0) + 1;
      this.counters.inFlight--;
      this.openResponses.delete(res);
      if (this.metrics) record(this.counters, res.statusCode, (performance.now() - start) / 1000);
      this.access?.write(req, res, (performance.now() - start) / 1000);
    });
    // A request Node's parser let through but narwhal refuses (limits, ambiguous fields) is
    // answered 4xx with Connection: close; it never reaches the app nor counts to max-requests.
    const refused = checkRequest(req, this.limits);
    if (refused !== 0) return refuse(res, refused);
    if (!this.trustAll) this.checkForwarded(req, socket);
    this.onRequest(++this.counters.requests);
    // An app error fails its request with a 500, not the worker (as Gunicorn does): a sync
    // throw here, an async listener's rejection through the promise it returns.
    try {
      const result = this.app(req, res) as unknown;
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, (err: unknown) => this.appError(req, res, err));
      }
    } catch (err) {
      this.appError(req, res, err);
    }
  };

  private appError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    this.log.error(`Error handling request ${req.method} ${req.url}\n${(err as Error)?.stack ?? String(err)}`);
    if (res.headersSent) return void res.destroy();
    res.writeHead(500, { 'content-type': 'text/plain', connection: 'close' });
    res.end('Internal Server Error\n');
  }

  private createServer(): http.Server {
    const options: http.ServerOptions = { keepAliveTimeout: this.settings.keep_alive * 1000, ...serverOptions(this.limits), ...timeoutOptions(this.settings) };
    // https.Server is a tls.Server: fed a TCP socket ('connection', as round-robin and the PROXY
    // gate do) or listening itself, it runs the handshake and then serves HTTP on the TLSSocket.
    const server = this.tls
      ? https.createServer({ ...options, cert: this.tls.cert, key: this.tls.key }, this.handle) as unknown as http.Server
      : http.createServer(options, this.handle);
    server.maxHeadersCount = maxHeadersCount(this.limits);
    if (!this.trustAll) {
      // Upgrade requests (WebSockets) skip `handle`: strip before the app's 'upgrade' listener.
      // Added only with the app's own, since any listener makes Node route upgrades there.
      let added = false;
      server.on('newListener', (event: string) => {
        if (event !== 'upgrade' || added) return;
        added = true;
        server.prependListener('upgrade', (req: IncomingMessage) => this.checkForwarded(req, connOf(req.socket)));
      });
    }
    server.on('connection', (socket: TrackedSocket) => this.track(socket));
    if (this.tls) server.on('secureConnection', (secure: tls.TLSSocket) => this.secured(secure));
    // A malformed request is answered 400 and the worker keeps serving.
    server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
      // Bytes after a request that closes the connection (HTTP/1.0, Connection: close): the
      // request in flight is still answered (its response closes the connection), the rest ignored.
      if (err.code === 'HPE_CLOSED_CONNECTION' && connOf(socket)[kActive] > 0) return;
      // reliability: header_timeout / request_timeout expired: 408, as Node's own handler says.
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    this.servers.push(server);
    return server;
  }

  /** Starts serving every listener; resolves once each is accepting. */
  async listen(plans: ListenerPlan[]): Promise<void> {
    // Read once per worker: HUP replaces the workers, so a renewed certificate is picked up.
    this.tls = loadTls(this.settings);
    await Promise.all(plans.map((plan) => {
      const server = this.createServer();
      // reliability: 'listening' starts Node's per-server connection checks (header and request
      // timeouts), which a server fed by the master never gets otherwise.
      if (plan.kind === 'forwarded') return void server.emit('listening');
      // With proxy_protocol a plain net server listens, so its connections can be read before
      // http attaches its parser; without, http listens itself and nothing changes.
      const listener: net.Server = this.proxyProtocol
        ? net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.admit(server, socket as TrackedSocket))
        : server;
      if (listener !== server) this.gates.push(listener);
      return new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        const options = plan.kind === 'inherited'
          ? { fd: plan.fd, backlog: this.settings.backlog }
          : { host: plan.host, port: plan.port, backlog: this.settings.backlog, reusePort: true };
        listener.listen(options, () => { listener.off('error', reject); resolve(); });
      });
    }));
  }

  /** A connection the master accepted and forwarded (round-robin distribution). */
  accept(listener: number, handle: unknown): void {
    // Accepted even while draining: the master sent it before it asked this worker to drain,
    // and its request is answered (with Connection: close).
    const server = this.servers[listener];
    if (!server) {
      (handle as { close?: () => void }).close?.();
      return;
    }
    const socket = new net.Socket({ handle, allowHalfOpen: true, readable: true, writable: true } as net.SocketConstructorOpts);
    this.admit(server, socket as TrackedSocket);
  }

  /**
   * Stops taking new connections and resolves when the last one has closed. Busy connections
   * close after their current response, which carries `Connection: close`. Idle keep-alive
   * connections are closed at once when `closeIdle` (shutdown); when a worker is only being
   * recycled they are left to the keep-alive timeout, because closing a connection the client
   * may be writing to right now would fail that client's next request.
   */
  drain(closeIdle: boolean): Promise<void> {
    this.draining = true;
    // net's close, not http's: http.Server#close also drops idle keep-alive connections.
    for (const server of this.servers) if (server.listening) net.Server.prototype.close.call(server);
    for (const gate of this.gates) if (gate.listening) gate.close();
    for (const res of this.openResponses) if (!res.headersSent) res.shouldKeepAlive = false;
    if (closeIdle) {
      for (const socket of this.sockets) if (socket[kActive] === 0 && socket[kServed] > 0) (socket[kTls] ?? socket).end();
    }
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => { this.onIdle = resolve; });
  }
}
