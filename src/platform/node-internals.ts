// Every place narwhal reaches into Node.js internals, in one module (as Fastify keeps its own):
// each reach-in is named after what it does, typed, and checked by `missingInternals()` so that a
// Node.js release that changes one fails the worker's boot with a line naming it, rather than
// misbehaving. The internals used are the ones node:cluster itself relies on in its workers.
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import type tls from 'node:tls';

/** libuv's stream handle as Node's net module uses it internally (tcp_wrap / pipe_wrap). */
export interface RawServerHandle {
  fd: number;
  listen(backlog: number): number;
  close(cb?: () => void): void;
  getsockname?(out: Record<string, unknown>): number;
  onconnection: ((status: number, client?: RawServerHandle) => void) | null;
}

type CreateServerHandle = (
  address: string | null, port: number, addressType: number, fd?: number, flags?: number,
) => RawServerHandle | number;

interface NetInternals {
  /** Binds without accepting: what node:cluster's primary calls (lib/net.js). */
  _createServerHandle?: CreateServerHandle;
  /** listen()'s own argument parsing: [options, callback]. */
  _normalizeArgs?: (args: unknown[]) => [Record<string, unknown>, ((...a: unknown[]) => void) | null];
}

interface ServerInternals {
  _handle: unknown;
  _pipeName?: string;
  _connections: number;
  /** setupListenHandle: with `_handle` already set it only wires it and emits 'listening'. */
  _listen2?: (address: string | null, port: number, addressType: number, backlog: number, fd?: number) => void;
}

const netInternals = net as unknown as NetInternals;

/** The internals this Node.js lacks (empty when all are there). */
export function missingInternals(): string[] {
  const missing: string[] = [];
  if (typeof netInternals._createServerHandle !== 'function') missing.push('net._createServerHandle');
  if (typeof (net.Server.prototype as unknown as ServerInternals)._listen2 !== 'function') missing.push('net.Server.prototype._listen2');
  return missing;
}

export function createServerHandle(address: string | null, port: number, addressType: number, fd?: number): RawServerHandle | number {
  return netInternals._createServerHandle!(address, port, addressType, fd);
}

export type ListenCallback = (...a: unknown[]) => void;

/** listen()'s arguments as Node reads them: `listen(3000, 'localhost', cb)` -> [{ port, host }, cb]. */
export function normalizeListenArgs(args: unknown[]): [Record<string, unknown>, ListenCallback | null] {
  if (typeof netInternals._normalizeArgs === 'function') return netInternals._normalizeArgs(args);
  // The same rules, for a Node.js without the helper.
  const cb = typeof args[args.length - 1] === 'function' ? args[args.length - 1] as ListenCallback : null;
  const [first, second] = args;
  if (first !== null && typeof first === 'object') return [first as Record<string, unknown>, cb];
  if (typeof first === 'string' && Number.isNaN(Number(first))) return [{ path: first }, cb];
  const options: Record<string, unknown> = {};
  if (typeof first !== 'function' && first !== undefined) options.port = first;
  if (typeof second === 'string') options.host = second;
  return [options, cb];
}

/** What a stand-in handle reports as its address: a TCP address, or a unix socket path. */
export type StandInAddress = { address: string; family: 'IPv4' | 'IPv6'; port: number } | { path: string };

/**
 * Stands in for a listening libuv handle, as node:cluster's round-robin workers use one: the
 * server it is given to is `listening`, `address()` reports `where`, and `close()` works, but
 * nothing is bound; connections are delivered to the server by `deliverConnection`.
 */
export class StandInHandle {
  onconnection: unknown = null;
  private closed = false;

  /** TCP only: a pipe handle has none, and net's address() then reports the path. */
  readonly getsockname?: (out: Record<string, unknown>) => number;

  constructor(where: StandInAddress, private readonly onClose: () => void) {
    if (!('path' in where)) this.getsockname = (out) => { Object.assign(out, where); return 0; };
  }

  listen(): number {
    return 0;
  }

  close(cb?: () => void): void {
    if (!this.closed) {
      this.closed = true;
      this.onClose();
    }
    if (cb) process.nextTick(cb);
  }

  ref(): void {}
  unref(): void {}
}

/**
 * Makes `server` listen on `handle` (a StandInHandle, or a listening handle sent by the master)
 * the way net does for a handle it already has: 'listening' is emitted on the next tick, and
 * `listening` / `address()` read the handle.
 */
export function listenOnHandle(server: net.Server, handle: StandInHandle | RawServerHandle, where: StandInAddress | null, backlog = 511): void {
  const s = server as unknown as ServerInternals;
  s._handle = handle;
  if (where && 'path' in where) s._pipeName = where.path;
  const tcp = where && !('path' in where) ? where : null;
  s._listen2!(tcp?.address ?? (where && 'path' in where ? where.path : null), tcp?.port ?? -1, tcp ? (tcp.family === 'IPv6' ? 6 : 4) : -1, backlog);
}

/** Whether a server listens on a stand-in (adopted) rather than a real socket. */
export function hasStandIn(server: net.Server): boolean {
  return (server as unknown as ServerInternals)._handle instanceof StandInHandle;
}

/**
 * Hands an accepted connection to a server as its own accept would (net's onconnection):
 * maxConnections, the server's noDelay / keepAlive options, its connection count (so close()
 * waits for it and getConnections() counts it), then 'connection'.
 */
export function deliverConnection(server: net.Server, socket: net.Socket): void {
  const s = server as unknown as ServerInternals & { maxConnections?: number; noDelay?: boolean; keepAlive?: boolean; keepAliveInitialDelay?: number };
  if (s.maxConnections && s._connections >= s.maxConnections) return void socket.destroy();
  if (s.noDelay) socket.setNoDelay(true);
  if (s.keepAlive) socket.setKeepAlive(true, s.keepAliveInitialDelay ?? 0);
  // A socket's destroy decrements the count of the server it names (net's Socket#_destroy).
  const own = socket as unknown as { server: net.Server; _server: (net.Server & ServerInternals) | null };
  // Accepted by another server (narwhal's gate): that one counted it, and would wait for it forever.
  if (own._server && own._server !== s as unknown && own._server._connections > 0) own._server._connections--;
  own.server = server;
  own._server = s as unknown as net.Server & ServerInternals;
  s._connections++;
  server.emit('connection', socket);
}

/** A socket made from a raw handle the master accepted and sent over IPC. */
export function socketFromHandle(handle: unknown, server: net.Server): net.Socket {
  const allowHalfOpen = (server as unknown as { allowHalfOpen?: boolean }).allowHalfOpen ?? false;
  // A socket the master read from first (--sticky) arrives as a net.Socket already.
  if (handle instanceof net.Socket) {
    handle.allowHalfOpen = allowHalfOpen;
    return handle;
  }
  return new net.Socket({ handle, allowHalfOpen, readable: true, writable: true } as net.SocketConstructorOpts);
}

interface ClusterServerQuery {
  address: string | null;
  port: number;
  addressType: number | 'udp4' | 'udp6';
  fd?: number;
  flags?: number;
}
type ClusterServerCallback = (errno: number, handle: unknown) => void;

/**
 * `cluster._getServer`: what Node's net (a non-exclusive listen()) and dgram (bind()) ask of a
 * node:cluster worker's primary when `cluster.isWorker` is true. A narwhal worker presents itself
 * as a cluster worker (worker/cluster-worker.ts), and binds such sockets itself, as a primary or
 * an `exclusive` listen would; the answer comes on the next tick, as an IPC answer would.
 */
export function bindInWorker(_owner: unknown, q: ClusterServerQuery, cb: ClusterServerCallback): void {
  let handle: unknown;
  if (q.addressType === 'udp4' || q.addressType === 'udp6') {
    // Deprecated as a public API (DEP0112), it is dgram's own way to bind: say nothing of it.
    const quiet = process.noDeprecation;
    process.noDeprecation = true;
    try {
      handle = (dgram as unknown as { _createSocketHandle: (...a: unknown[]) => unknown })._createSocketHandle(q.address, q.port, q.addressType, q.fd, q.flags);
    } finally {
      process.noDeprecation = quiet;
    }
  } else {
    handle = netInternals._createServerHandle!(q.address, q.port, q.addressType, q.fd, q.flags);
  }
  process.nextTick(() => (typeof handle === 'number' ? cb(handle, null) : cb(0, handle)));
}

/** The TCP socket a TLSSocket wraps (Node keeps it as `_parent`); undefined if not exposed. */
export function tlsParent(secure: tls.TLSSocket): net.Socket | undefined {
  return (secure as unknown as { _parent?: net.Socket })._parent ?? undefined;
}

/**
 * Node's own receipt for a handle sent over IPC. When a child's Node gets a message carrying a
 * handle, it answers `NODE_HANDLE_ACK` at once — before the message reaches any listener, so
 * before anything in the child can read from the socket — or `NODE_HANDLE_NACK` when the file
 * descriptor did not arrive (the child was out of descriptors). The sender sees these only as
 * 'internalMessage' events on the ChildProcess, one per handle, in the order the handles were
 * sent (Node sends one handle at a time and queues the next until the receipt).
 *
 * Calls `receipt(true)` per ACK and `receipt(false)` per NACK, and returns true; returns false
 * when this Node does not look like it sends them (then the caller cannot know).
 */
export function onHandleReceipt(child: ChildProcess, receipt: (received: boolean) => void): boolean {
  // Both fields are set up with the IPC channel of a Node that queues handles behind receipts.
  if (!child.connected || !('_handleQueue' in child) || typeof (child as unknown as { _send?: unknown })._send !== 'function') return false;
  child.on('internalMessage' as 'message', (message: { cmd?: unknown } | null) => {
    if (message?.cmd === 'NODE_HANDLE_ACK') receipt(true);
    else if (message?.cmd === 'NODE_HANDLE_NACK') receipt(false);
  });
  return true;
}

/**
 * Takes the libuv handle out of a net.Socket, as child_process does to send a socket: reading
 * stops and the socket no longer owns it (closing the socket leaves the handle open). What the
 * socket had already read stays in it: read it out afterwards. Null if the socket has none.
 */
export function detachHandle(socket: net.Socket): RawServerHandle | null {
  const owner = socket as unknown as { _handle: (RawServerHandle & { readStop?: () => number; onread?: unknown; reading?: boolean }) | null };
  const handle = owner._handle;
  if (!handle) return null;
  handle.readStop?.();
  handle.reading = false;
  handle.onread = () => {};
  owner._handle = null;
  socket.setTimeout(0);
  return handle;
}

/**
 * Restarts an http.Server's checks of its header and request timeouts, so that a changed
 * `connectionsCheckingInterval` takes effect on a server already listening: Node starts them
 * on 'listening' (its own listener, setupConnectionsTracking) with the interval of the time.
 * A server not listening yet picks the interval up when it does.
 */
export function restartConnectionChecks(server: net.Server): void {
  if (!server.listening) return;
  const start = server.listeners('listening').find((fn) => fn.name === 'setupConnectionsTracking');
  start?.call(server);
}
