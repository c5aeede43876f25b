// Where the served server's connections come from, and what happens to them on the way: the
// master's round-robin hands accepted sockets over IPC; in shared and reuseport modes the
// worker accepts on its own listening socket. Either way the connection is tracked for drains,
// its PROXY preamble read (proxy_protocol, trusted peers), its TLS handshake done (certfile),
// and then it is delivered to the server as the server's own accept would — or, when it speaks
// HTTP/2 (ALPN h2, or the h2c preface) and the server is an http.Server, to narwhal's HTTP/2
// bridge, which hands the server its streams as requests.
import type http from 'node:http';
import net from 'node:net';
import type tls from 'node:tls';
import type { Settings } from '../config/settings';
import type { ListenerPlan } from '../ipc';
import { readPreface } from '../http/h2c';
import { readPreamble } from '../http/proxy-protocol';
import type { TlsConfig } from '../http/tls';
import { nodeTls } from '../platform/lazy-builtins';
import { deliverConnection, socketFromHandle } from '../platform/node/net';
import { tlsParent } from '../platform/node/tls';
import type { Http2Bridge } from './http2-bridge';
import type { Logger } from '../log/logger';
import { ConnectionCap } from './connection-cap';
import { kServed, type TrackedSocket } from './instrument/tracked';
import { shedIdle, type HandOver } from './shed';
import type { RequestGate } from './instrument/request-gate';
import type { ServedProtocols } from './http-versions';

/**
 * The most a TLS handshake or a PROXY preamble takes from a real client or proxy, even on a poor
 * link (Node's handshake default is 120 s; a proxy sends its preamble with the connection).
 */
const MAX_HANDSHAKE_MS = 10_000;

/**
 * How long a client gets to complete its TLS handshake, and a trusted peer to send its PROXY
 * preamble: header_timeout, at most 10 s, so that a connection that never sends a ClientHello
 * (or a preamble) neither lives for Node's 120 s (or a fixed 10 s) nor holds a drain.
 */
export const handshakeTimeoutMs = (headerTimeout: number): number =>
  headerTimeout > 0 ? Math.min(MAX_HANDSHAKE_MS, Math.round(headerTimeout * 1000)) : MAX_HANDSHAKE_MS;

/**
 * How long a cleartext connection may take to say whether it is HTTP/2: its first bytes are
 * its first request's, so header_timeout, as Node's headersTimeout gives a connection without
 * h2c (60 s, Node's default, when header_timeout is 0).
 */
export const prefaceTimeoutMs = (headerTimeout: number): number => Math.round((headerTimeout || 60) * 1000);

/** Starts a listening socket of narwhal's own, outside the listen() adoption rule. */
export type ListenDirectly = (server: net.Server, options: net.ListenOptions & { fd?: number }, backlog: number, cb: () => void) => void;

export class ConnectionFeed {
  /** Listening sockets of this worker (shared, reuseport); none in round-robin. */
  private readonly gates: net.Server[] = [];
  /** With certfile: runs the handshake, then hands the TLSSocket on. */
  private readonly tlsFront: tls.Server | null;
  /** HTTP/2 for an http.Server. */
  private readonly bridge: Http2Bridge | null;
  private stopped = false;
  /** worker_connections: connections over it wait, unread (connection-cap.ts). */
  private readonly cap: ConnectionCap;

  constructor(
    private readonly requestGate: RequestGate,
    private readonly settings: Settings,
    tlsConfig: TlsConfig | null,
    private readonly protocols: ServedProtocols,
    log: Logger,
  ) {
    this.cap = new ConnectionCap(settings.worker_connections, settings.backlog, (settings.header_timeout || 60) * 1000, log);
    // The bridge (and node:http2 with it) loads only for a worker that speaks HTTP/2.
    const bridge = protocols.h2 === 'bridge' ? (require('./http2-bridge') as typeof import('./http2-bridge')).Http2Bridge : null;
    this.bridge = bridge ? new bridge(requestGate.server as http.Server, settings, (s) => requestGate.connections.session(s)) : null;
    this.tlsFront = tlsConfig ? this.createTlsFront(tlsConfig) : null;
  }

  private createTlsFront(config: TlsConfig): tls.Server {
    const { alpn, http1 } = this.protocols;
    const front = nodeTls().createServer({
      ...config.options, ALPNProtocols: alpn ?? ['http/1.1'], handshakeTimeout: handshakeTimeoutMs(this.settings.header_timeout),
    });
    front.on('secureConnection', (secure: tls.TLSSocket) => {
      // cert_reqs optional: a client without a certificate is served, one whose certificate
      // does not verify is not (as Python's CERT_OPTIONAL, Gunicorn's).
      if (config.verifyOptional && !secure.authorized && secure.getPeerX509Certificate() !== undefined) return void secure.destroy();
      if (secure.alpnProtocol === 'h2' && this.bridge) {
        this.requestGate.connections.connection(secure);
        return this.toBridge(secure, tlsParent(secure));
      }
      // A client that offered no ALPN, or not h2, to a server that speaks only HTTP/2.
      if (!http1 && secure.alpnProtocol !== 'h2') return void secure.destroy();
      deliverConnection(this.requestGate.server, secure);
    });
    // A failed handshake (a plain-HTTP client, a bad certificate) ends that connection only.
    front.on('tlsClientError', (_err: Error, secure: tls.TLSSocket) => secure.destroy());
    return front;
  }

  /** Starts this worker's own listening sockets (shared and reuseport modes). */
  async listen(plans: ListenerPlan[], listenDirectly: ListenDirectly): Promise<void> {
    await Promise.all(plans.map((plan) => {
      if (plan.kind === 'forwarded') return Promise.resolve();
      const gate = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.admit(socket));
      this.gates.push(gate);
      return new Promise<void>((resolve, reject) => {
        gate.once('error', reject);
        const options: net.ListenOptions & { fd?: number } = plan.kind === 'inherited'
          ? { fd: plan.fd, backlog: this.settings.backlog }
          : { host: plan.host, port: plan.port, backlog: this.settings.backlog, reusePort: true } as net.ListenOptions;
        // The backlog also as an argument: Node reads options.backlog for a port, not for an fd.
        listenDirectly(gate, options, this.settings.backlog, () => { gate.off('error', reject); resolve(); });
      });
    }));
  }

  /** A connection the master accepted and forwarded (round-robin), or one another worker shed (the balance). */
  accept(handle: unknown, head?: string, served?: number): void {
    // Accepted even when stopping: the master sent it before it asked this worker to drain,
    // and its request is answered (with Connection: close).
    const socket = socketFromHandle(handle, this.requestGate.server);
    // Shed by another worker (the balance): the requests it answered there count as served.
    if (served !== undefined) (socket as TrackedSocket)[kServed] = served;
    // --sticky: the bytes the master read to route the connection come first.
    if (head) socket.unshift(Buffer.from(head, 'base64'));
    this.admit(socket);
  }

  /**
   * The balance (master/balance.ts): up to `count` idle keep-alive connections go back to the
   * master. Only plain HTTP/1: TLS state lives here, and a PROXY preamble was read here.
   */
  shed(count: number, handOver: HandOver): number {
    if (this.stopped || this.tlsFront || this.settings.proxy_protocol) return 0;
    return shedIdle(count, this.requestGate.connections, this.requestGate.server, handOver);
  }

  /** Stops accepting on this worker's own sockets. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const gate of this.gates) if (gate.listening) gate.close();
  }

  private admit(socket: net.Socket): void {
    this.cap.admit(socket, (s) => this.admitNow(s));
  }

  private admitNow(socket: net.Socket): void {
    this.requestGate.connections.track(socket);
    // A preamble is read from trusted peers only, and trust is decided on the real peer, before
    // the preamble replaces it.
    if (!this.settings.proxy_protocol || !this.requestGate.isTrusted(socket)) return this.handOn(socket);
    readPreamble(socket, () => {
      if (!this.tlsFront || socket.readableLength === 0) return this.handOn(socket);
      // The bytes after the preamble (the ClientHello) were put back on the socket, and
      // readPreamble resumes it as soon as this returns: TLS, which reads bytes put back only on
      // its next tick, would find them already emitted to no one. Take them out until it has.
      const head: Buffer[] = [];
      for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null;) head.push(chunk);
      process.nextTick(() => {
        if (socket.destroyed) return;
        socket.pause();
        for (let i = head.length - 1; i >= 0; i--) socket.unshift(head[i]!);
        this.handOn(socket);
      });
    }, handshakeTimeoutMs(this.settings.header_timeout));
  }

  /** An HTTP/2 connection (`raw`: its TCP socket) for the bridge. */
  private toBridge(socket: net.Socket, raw: net.Socket | undefined): void {
    // What node:http does for its own connections: HTTP/2 frames small and often (a response's
    // HEADERS, then DATA), which Nagle's algorithm would hold for the client's delayed ACK.
    raw?.setNoDelay(true);
    this.bridge!.accept(socket);
  }

  private handOn(socket: net.Socket): void {
    if (this.tlsFront) return void this.tlsFront.emit('connection', socket);
    // h2c for an http.Server: only trusted peers (a proxy) may open with the preface.
    if (this.bridge && this.protocols.h2c && this.requestGate.isTrusted(socket)) {
      return readPreface(socket, prefaceTimeoutMs(this.settings.header_timeout), (h2) => (h2 ? this.toBridge(socket, socket) : deliverConnection(this.requestGate.server, socket)));
    }
    deliverConnection(this.requestGate.server, socket);
  }
}
