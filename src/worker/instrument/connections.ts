// The worker's connections and the responses in progress, for a graceful drain: which
// connections are busy, which responses still can carry `Connection: close`, and when the last
// connection has closed. TLS connections are tracked by their TCP socket, HTTP/2 ones with
// their session (see tracked.ts).
import type { ServerResponse } from 'node:http';
import type http2 from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';
import { closeAfterResponse } from '../../platform/node/http';
import { tlsParent } from '../../platform/node/tls';
import type { HttpCounters } from './counters';
import { Http2HeaderSweep } from './http2-header-sweep';
import { Http2IdleSweep } from './http2-idle-sweep';
import { closeSession } from './http2-session';
import {
  kActive, kConn, kGoawayNext, kServed, kSession, kTls, kTracker, kUpgraded, onTrackedClose, type ConnectionOwner, type TrackedSocket,
} from './tracked';

export class Connections implements ConnectionOwner {
  private readonly sockets = new Set<TrackedSocket>();
  /** HTTP/1 responses in progress (see RequestGate.request()). */
  readonly openResponses = new Set<ServerResponse>();
  draining = false;
  /** The drain's closeIdle: shutdown (close idle connections now) rather than a recycle. */
  private closingIdle = false;
  private readonly idleSweep: Http2IdleSweep;
  private readonly headerSweep: Http2HeaderSweep;
  private onIdle: (() => void) | null = null;
  /** Shed connections whose descriptors are not yet written to the master. */
  private handingOver = 0;
  /** Wait only for connections still speaking HTTP (stage 1 of a drain), or for all. */
  private idleWhenHttpDone = false;

  constructor(private readonly keepAliveS: number, private readonly counters: HttpCounters, headerTimeoutS = 0) {
    this.idleSweep = new Http2IdleSweep(this.sockets, keepAliveS);
    this.headerSweep = new Http2HeaderSweep(this.sockets, headerTimeoutS);
  }

  /** Counts a connection for drain(): which are busy, and when the last one has closed. */
  track(socket: net.Socket): void {
    const s = socket as TrackedSocket;
    if (this.sockets.has(s)) return;
    s[kActive] = 0;
    s[kServed] ??= 0; // a connection another worker shed arrives with its count
    s[kConn] = s;
    s[kTracker] = this;
    this.sockets.add(s);
    this.counters.connections = this.sockets.size;
    s.on('close', onTrackedClose);
  }

  /**
   * Connections that could leave for another worker (worker/shed.ts): plain HTTP/1 keep-alive
   * connections between two requests — at least one served (a new connection's first request
   * is on its way: moving it would cost a hand-over for nothing), none in progress; not TLS, not
   * HTTP/2, not handed to the app (upgrades) — while the worker is not draining. Whether the
   * parser has read part of a next request is for the caller.
   */
  *betweenRequests(): Generator<TrackedSocket> {
    if (this.draining) return;
    for (const s of this.sockets) {
      if (s[kActive] === 0 && s[kServed] > 0 && !s[kTls] && !s[kSession] && !s[kUpgraded] && !s.destroyed) yield s;
    }
  }

  /** A tracked connection closed. */
  untrack(socket: TrackedSocket): void {
    if (!this.sockets.delete(socket)) return;
    this.counters.connections = this.sockets.size;
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
  link(secure: tls.TLSSocket): boolean {
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
    this.idleSweep.start();
    this.headerSweep.watch(conn, session);
  }

  /** A connection the app took over ('upgrade', 'connect'): no longer waited for as HTTP. */
  upgraded(socket: TrackedSocket): void {
    socket[kUpgraded] = true;
    this.checkIdle();
  }

  /**
   * A connection shed to another worker (worker/shed.ts) is no longer tracked, but its descriptor
   * is still on its way to the master: the worker does not count as idle (and exit) until it is.
   */
  handOverStarted(): void {
    this.handingOver++;
  }

  handOverDone(): void {
    this.handingOver--;
    this.checkIdle();
  }

  checkIdle(): void {
    if (!this.draining || !this.onIdle || this.handingOver > 0) return;
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
    setTimeout(() => closeSession(session, conn[kActive] > 0), Math.max(1, this.keepAliveS) * 1000).unref();
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
