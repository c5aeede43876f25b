// node:net, where narwhal goes past its public API — what node:cluster itself does there:
//   - the master binds an address without accepting on it, accepts on the raw handle, and takes a
//     connection's handle back out of a socket it read from (--sticky), to send it to a worker;
//   - a worker replaces listen() on every server (adoption), makes a server listen on a handle
//     it supplies (a stand-in, or a socket the master shares), and hands it connections as the
//     server's own accept would.
import net from 'node:net';
import { tlsParent } from './tls';

/** libuv's stream handle as Node's net module uses it internally (tcp_wrap / pipe_wrap). */
export interface RawServerHandle {
  fd: number;
  listen(backlog: number): number;
  close(cb?: () => void): void;
  getsockname?(out: Record<string, unknown>): number;
  onconnection: ((status: number, client?: RawServerHandle) => void) | null;
}

type CreateServerHandle = (
  address: string | null, port: number, addressType: number | null, fd?: number, flags?: number,
) => RawServerHandle | number;

interface NetInternals {
  /** Binds without accepting: what node:cluster's primary calls. */
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
  maxConnections?: number | null;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  blockList?: net.BlockList;
}

/** The fields a socket names its server by: destroy() decrements that server's count. */
interface SocketInternals {
  server: net.Server;
  _server: (net.Server & ServerInternals) | null;
  _handle: (RawServerHandle & { readStop?: () => number; onread?: unknown; reading?: boolean }) | null;
}

const netInternals = net as unknown as NetInternals;

/** Both bind with it: the master its listeners, a worker its own sockets and what Node asks of a cluster primary. */
const bindLacks = (): string[] => (typeof netInternals._createServerHandle === 'function' ? [] : ['net._createServerHandle']);

/** What the master uses of node:net's internals that this Node lacks. */
export function masterLacks(): string[] {
  const missing = bindLacks();
  if (!('_handle' in new net.Socket())) missing.push('net.Socket#_handle');
  return missing;
}

/** What a worker uses of node:net's internals that this Node lacks. */
export function workerLacks(): string[] {
  const missing = bindLacks();
  if (typeof (net.Server.prototype as unknown as ServerInternals)._listen2 !== 'function') missing.push('net.Server.prototype._listen2');
  const server = new net.Server();
  for (const field of ['_handle', '_connections']) if (!(field in server)) missing.push(`net.Server#${field}`);
  if (!('_server' in new net.Socket())) missing.push('net.Socket#_server');
  return missing;
}

/** Binds an address (or opens an fd) without accepting on it: the handle, or an errno. */
export function bindHandle(address: string | null, port: number, addressType: number | null, fd?: number, flags?: number): RawServerHandle | number {
  return netInternals._createServerHandle!(address, port, addressType, fd, flags);
}

/** Starts accepting on a bound handle: `onAccept` gets each connection's raw handle. Returns an errno (0: listening). */
export function acceptOn(handle: RawServerHandle, backlog: number, onAccept: (client: RawServerHandle) => void): number {
  handle.onconnection = (status, client) => {
    if (status === 0 && client) onAccept(client);
  };
  return handle.listen(backlog);
}

/** A socket over an accepted handle, not reading until resumed. */
export function pausedSocketOn(client: RawServerHandle): net.Socket {
  return new net.Socket({ handle: client, allowHalfOpen: true, readable: true, writable: true, manualStart: true } as net.SocketConstructorOpts);
}

/**
 * Takes the libuv handle out of a net.Socket, as child_process does to send a socket: reading
 * stops and the socket no longer owns it (closing the socket leaves the handle open). What the
 * socket had already read stays in it: read it out afterwards. Null if the socket has none.
 */
export function detachHandle(socket: net.Socket): RawServerHandle | null {
  const owner = socket as unknown as SocketInternals;
  const handle = owner._handle;
  if (!handle) return null;
  handle.readStop?.();
  handle.reading = false;
  handle.onread = () => {};
  owner._handle = null;
  socket.setTimeout(0);
  return handle;
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

export type Listen = (this: net.Server, ...args: unknown[]) => net.Server;
export type ListenCallback = (...a: unknown[]) => void;

/**
 * Replaces listen() on every net.Server, so http, https, http2 and tls servers too; returns the
 * listen() it replaced, for the calls narwhal leaves to Node.
 */
export function interceptListen(listen: (server: net.Server, args: unknown[]) => net.Server): Listen {
  const original = net.Server.prototype.listen as Listen;
  net.Server.prototype.listen = function interceptedListen(this: net.Server, ...args: unknown[]) {
    return listen(this, args);
  } as typeof net.Server.prototype.listen;
  return original;
}

/**
 * listen()'s arguments as Node reads them: `listen(3000, 'localhost', cb)` -> [{ port, host }, cb];
 * an object that carries a handle (`{ _handle }`, `{ handle }`) is read as that handle, as listen() does.
 */
export function normalizeListenArgs(args: unknown[]): [Record<string, unknown>, ListenCallback | null] {
  const [given, cb] = typeof netInternals._normalizeArgs === 'function' ? netInternals._normalizeArgs(args) : normalizeLikeNode(args);
  return [(given._handle ?? given.handle ?? given) as Record<string, unknown>, cb];
}

/** The same rules, for a Node.js without the helper. */
function normalizeLikeNode(args: unknown[]): [Record<string, unknown>, ListenCallback | null] {
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

/**
 * Whether an explicitly set `maxConnections = 0` refuses every connection: it does from Node 21
 * on; before, 0 meant no limit. A behaviour, not an API: nothing to detect but the version.
 */
const ZERO_MAX_CONNECTIONS_REFUSES = Number(process.versions.node.split('.')[0]) >= 21;

let blockListHonoured: boolean | undefined;
/** Whether this Node's net.Server takes a `blockList` (it keeps the option only where it checks it). */
function honoursBlockList(): boolean {
  blockListHonoured ??= (new net.Server({ blockList: new net.BlockList() }) as net.Server & ServerInternals).blockList !== undefined;
  return blockListHonoured;
}

/**
 * The TCP connection under a socket (a TLS socket's, or itself): its addresses are the ones the
 * app sees, the client's a trusted PROXY preamble names included.
 */
const connectionOf = (socket: net.Socket): net.Socket => tlsParent(socket) ?? socket;

/**
 * Whether Node's own accept would refuse this connection, and how: 'drop' when the server is at
 * its maxConnections (Node emits 'drop' then), 'blocked' when its blockList has the peer's address.
 */
function refusal(s: ServerInternals, socket: net.Socket): 'drop' | 'blocked' | null {
  const max = s.maxConnections;
  const limited = ZERO_MAX_CONNECTIONS_REFUSES ? max !== null && max !== undefined : Boolean(max);
  if (limited && s._connections >= max!) return 'drop';
  if (s.blockList && honoursBlockList()) {
    const peer = connectionOf(socket).remoteAddress;
    const family = peer ? net.isIP(peer) : 0;
    if (family !== 0 && s.blockList.check(peer!, family === 6 ? 'ipv6' : 'ipv4')) return 'blocked';
  }
  return null;
}

/** What Node's 'drop' event carries: both ends of the connection. */
function dropInfo(socket: net.Socket): net.DropArgument {
  const c = connectionOf(socket);
  return {
    localAddress: c.localAddress, localPort: c.localPort, localFamily: c.localFamily,
    remoteAddress: c.remoteAddress, remotePort: c.remotePort, remoteFamily: c.remoteFamily,
  };
}

/**
 * Hands an accepted connection to a server as its own accept would (net's onconnection): refused
 * at maxConnections (with 'drop') or when its blockList has the peer, as this Node's own accept
 * does; then the server's noDelay / keepAlive options, its connection count (so close() waits
 * for it and getConnections() counts it), then 'connection'.
 */
export function deliverConnection(server: net.Server, socket: net.Socket): void {
  const s = server as unknown as ServerInternals;
  const refused = refusal(s, socket);
  if (refused !== null) {
    if (refused === 'drop') server.emit('drop', dropInfo(socket));
    return void socket.destroy();
  }
  if (s.noDelay) socket.setNoDelay(true);
  if (s.keepAlive) socket.setKeepAlive(true, s.keepAliveInitialDelay ?? 0);
  const own = socket as unknown as SocketInternals;
  // Accepted by another server (narwhal's gate): that one counted it, and would wait for it forever.
  if (own._server && own._server !== s as unknown && own._server._connections > 0) own._server._connections--;
  own.server = server;
  own._server = s as unknown as net.Server & ServerInternals;
  s._connections++;
  server.emit('connection', socket);
}

/**
 * `listen({ reusePort })`: from Node 22.12 (and 23.1); an older Node ignores the option, so
 * there is nothing to detect but the version.
 */
export function hasReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}
