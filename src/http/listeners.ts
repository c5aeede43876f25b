// Listening sockets, bound by the master before any worker exists so that a bad address is
// one line and no fork. The master holds every socket for its whole life (that is what lets
// workers come and go, and a new master inherit them, without refusing a connection).
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';

import { nodeDns } from '../platform/lazy-builtins';
import { bindHandle, type RawServerHandle, type StandInAddress } from '../platform/node/net';

export type { RawServerHandle };

export class BindError extends Error {
  /** libuv's error number, where the system refused the bind. */
  constructor(message: string, readonly errno?: number) {
    super(message);
  }
}

export interface Listener {
  /** As configured: 127.0.0.1:8000, [::1]:8000, unix:/run/app.sock, fd://3. */
  readonly address: string;
  readonly handle: RawServerHandle;
  /** For TCP: the bound host and (real, if 0 was asked) port. */
  readonly tcp?: { host: string; port: number; family: 4 | 6 };
  readonly unixPath?: string;
  /** The URL the log shows. */
  readonly url: string;
}

/** Where a listener is, as a worker's adopted server reports it (`server.address()`). */
export function boundAddress(l: Listener): StandInAddress {
  if (l.tcp) return { address: l.tcp.host, family: l.tcp.family === 6 ? 'IPv6' : 'IPv4', port: l.tcp.port };
  return { path: l.unixPath ?? l.address };
}

export interface ParsedAddress {
  kind: 'tcp' | 'unix' | 'fd';
  host: string;
  port: number;
  path: string;
  fd: number;
}

export function parseAddress(address: string): ParsedAddress {
  if (address.startsWith('unix:')) return { kind: 'unix', host: '', port: -1, path: address.slice(5), fd: -1 };
  if (address.startsWith('fd://')) return { kind: 'fd', host: '', port: -1, path: '', fd: Number(address.slice(5)) };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new BindError(`invalid bind address "${address}"`);
  return { kind: 'tcp', host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]), path: '', fd: -1 };
}

function fail(address: string, errno: number): never {
  const name = getSystemErrorName(errno);
  const why: Record<string, string> = {
    EADDRINUSE: 'address already in use', EACCES: 'permission denied', EADDRNOTAVAIL: 'address not available',
    EBADF: 'not an open file descriptor', ENOENT: 'no such directory', ENOTSOCK: 'not a socket',
  };
  throw new BindError(`cannot bind ${address}: ${why[name] ?? name} (${name})`, errno);
}

function removeStaleUnixSocket(path: string): void {
  try {
    if (existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
  } catch { /* bind reports what is wrong */ }
}

/** Whether something listens on the unix socket at `path` (a connect is answered). */
export function unixSocketInUse(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    const done = (live: boolean) => { clearTimeout(timer); probe.destroy(); resolve(live); };
    // A listener whose backlog is full does not answer at once: it is live all the same.
    const timer = setTimeout(() => done(true), timeoutMs);
    probe.once('connect', () => done(true));
    probe.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'EAGAIN'));
  });
}

export async function bindOne(address: string, inheritedFd?: number): Promise<Listener> {
  const parsed = parseAddress(address);
  if (inheritedFd !== undefined || parsed.kind === 'fd') {
    const fd = inheritedFd ?? parsed.fd;
    const handle = bindHandle(null, 0, -1, fd); // port 0: Node asserts !port with an fd
    if (typeof handle === 'number') fail(address, handle);
    const info: Record<string, unknown> = {};
    handle.getsockname?.(info);
    const tcp = typeof info.port === 'number'
      ? { host: String(info.address), port: info.port, family: (info.family === 'IPv6' ? 6 : 4) as 4 | 6 }
      : undefined;
    return { address, handle, tcp, url: tcp ? `http://${tcp.host}:${tcp.port}` : address };
  }
  if (parsed.kind === 'unix') {
    // Only a stale socket file is replaced: one something listens on is never unlinked.
    if (existsSync(parsed.path) && lstatSync(parsed.path).isSocket() && await unixSocketInUse(parsed.path)) fail(address, -98 /* EADDRINUSE */);
    removeStaleUnixSocket(parsed.path);
    const handle = bindHandle(parsed.path, -1, -1);
    if (typeof handle === 'number') fail(address, handle);
    return { address, handle, unixPath: parsed.path, url: `unix:${parsed.path}` };
  }
  let host = parsed.host;
  // isIP tries IPv4 first: the IPv6 pattern, compiled on first use, costs the master ~5 ms
  // of start-up that an IPv4 bind need not pay.
  const ip = net.isIP(host);
  let family: 4 | 6 = ip === 6 ? 6 : 4;
  if (!ip) {
    try {
      const found = await nodeDns().lookup(host);
      [host, family] = [found.address, found.family as 4 | 6];
    } catch {
      throw new BindError(`cannot bind ${address}: cannot resolve host "${parsed.host}"`);
    }
  }
  const handle = bindHandle(host, parsed.port, family);
  if (typeof handle === 'number') fail(address, handle);
  // libuv defers EADDRINUSE from bind() to listen(); a socket that did not get the asked
  // port did not bind.
  const info: Record<string, unknown> = {};
  const err = handle.getsockname?.(info) ?? 0;
  if (err !== 0 || (parsed.port !== 0 && info.port !== parsed.port)) {
    handle.close();
    fail(address, err || -98 /* EADDRINUSE */);
  }
  const port = Number(info.port);
  const shownHost = family === 6 ? `[${host}]` : host;
  return { address, handle, tcp: { host, port, family }, url: `http://${shownHost}:${port}` };
}

/** Binds every address, or closes what it bound and throws a BindError naming the bad one. */
export async function bindAll(addresses: string[], inherited: Map<string, number> = new Map()): Promise<Listener[]> {
  const bound: Listener[] = [];
  try {
    for (const address of addresses) bound.push(await bindOne(address, inherited.get(address)));
  } catch (err) {
    closeAll(bound);
    throw err;
  }
  return bound;
}

export function closeAll(listeners: Listener[]): void {
  for (const l of listeners) {
    l.handle.close();
    if (l.unixPath) removeStaleUnixSocket(l.unixPath);
  }
}
