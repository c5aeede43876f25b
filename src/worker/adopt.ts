// Adoption: in a worker, the app's listen() calls do not bind (as in a node:cluster worker,
// whose listen() is shared through the primary). listen() is intercepted on every net.Server
// before the app loads, so http, https, http2 and tls servers are covered too. The rule, in order:
//   1. the server narwhal already serves (an exported one) listening: nothing to bind, its
//      callback runs;
//   2. the app's first listening server is *adopted*, whatever port or path it asks for: it
//      gets a stand-in handle, so `listening` is true, `address()` reports narwhal's bind and
//      'listening' fires on the next tick; narwhal delivers it the connections of its binds;
//   3. another server asking for the adopted server's port (or narwhal's), on another host,
//      is the same app on another interface (Fastify does this for `localhost`): adopted too,
//      and given no connections of its own;
//   4. listen(0) (an ephemeral port) binds for real in this worker: nothing to share;
//   5. any other port or path is an extra server (a metrics or debug endpoint): the master
//      binds it once and every worker accepts on it, as node:cluster shares it. narwhal's
//      limits, logs and metrics apply only to the adopted server.
// listen() on an fd or a handle is left to Node.
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import {
  StandInHandle, interceptListen, listenOnHandle, normalizeListenArgs, type Listen, type ListenCallback, type RawServerHandle,
  type StandInAddress,
} from '../platform/node/net';

/** What an app's listen() asked for. */
export type Asked = { host?: string; port: number } | { path: string };

export const describeAsked = (a: Asked): string =>
  'path' in a ? `unix:${a.path}` : a.host ? `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}` : `port ${a.port}`;

export interface AdoptionHost {
  /** The address the adopted server reports (narwhal's first bind). */
  readonly served: StandInAddress;
  /** Binds an extra server's address in the master and resolves to its listening handle. */
  share(asked: Asked, backlog: number): Promise<RawServerHandle | StandInHandle>;
  /** One line about a listen() narwhal did not adopt. */
  notice(message: string): void;
  /** The app closed the server narwhal serves. */
  closed(server: net.Server): void;
}

/** An app with nothing pending for this many polls, this far apart, will not listen any more. */
const IDLE_POLLS = 3;
const IDLE_POLL_MS = 100;

/** An error as Node's own listen() reports it (code, errno, syscall, address, port). */
function listenError(errno: number, asked: Asked): NodeJS.ErrnoException {
  const code = getSystemErrorName(errno);
  const where = 'path' in asked ? asked.path : `${asked.host ?? '::'}:${asked.port}`;
  const err: NodeJS.ErrnoException & { address?: string; port?: number } = new Error(`listen ${code}: ${where}`);
  Object.assign(err, { code, errno, syscall: 'listen' });
  if ('path' in asked) err.address = asked.path;
  else Object.assign(err, { address: asked.host ?? '::', port: asked.port });
  return err;
}

export class Adoption {
  /** The server narwhal serves: adopted from listen(), exported, or made for an export. */
  mainServer: net.Server | null = null;
  /** What the main server's own listen() asked for (null if it never called listen). */
  mainAsked: Asked | null = null;
  private readonly aliases = new Set<net.Server>();
  /** Node's own listen(), once intercepted. */
  private original: Listen | null = null;
  private waiting: Array<(server: net.Server) => void> = [];

  constructor(private readonly host: AdoptionHost) {}

  install(): void {
    this.original = interceptListen((server, args) => this.listen(server, args));
  }

  /** narwhal's own listening sockets (shared and reuseport modes) bypass the rule. */
  listenDirectly(server: net.Server, ...args: unknown[]): net.Server {
    return this.nodeListen(server, args);
  }

  private nodeListen(server: net.Server, args: unknown[]): net.Server {
    return (this.original ?? net.Server.prototype.listen as Listen).apply(server, args);
  }

  /** The servers the app's shutdown must close: the main server and its aliases. */
  servers(): net.Server[] {
    return this.mainServer ? [this.mainServer, ...this.aliases] : [...this.aliases];
  }

  /** Serves `server` (an exported one, or one made for an export): it becomes the main server. */
  serve(server: net.Server): void {
    // A server the module listened on while loading, before its export was picked, is kept
    // listening (on its stand-in) and closed with the app, but gets no connections.
    if (this.mainServer && this.mainServer !== server) this.aliases.add(this.mainServer);
    this.mainServer = server;
    if (!server.listening) this.standIn(server);
  }

  /**
   * Resolves to the first adopted server; or to null if the app has not listened within `ms`, or
   * sooner once `hasNothingToDo()` has held for a few polls in a row (nothing left pending that
   * could still call listen(), but for this wait's own poll timer).
   */
  firstListen(ms: number, hasNothingToDo: () => boolean): Promise<net.Server | null> {
    if (this.mainServer) return Promise.resolve(this.mainServer);
    return new Promise((resolve) => {
      let idlePolls = 0;
      const poll = setInterval(() => {
        idlePolls = hasNothingToDo() ? idlePolls + 1 : 0;
        if (idlePolls >= IDLE_POLLS) done(null);
      }, IDLE_POLL_MS);
      const timer = ms > 0 ? setTimeout(() => done(null), ms) : null;
      const done = (server: net.Server | null) => {
        clearInterval(poll);
        if (timer) clearTimeout(timer);
        resolve(server);
      };
      // The poll keeps the process up while it waits (a --check-config has nothing else), and
      // is the one timer hasNothingToDo() must allow for; the deadline does not count.
      timer?.unref();
      this.waiting.push(done);
    });
  }

  private standIn(server: net.Server): void {
    listenOnHandle(server, new StandInHandle(this.host.served, () => this.onClose(server)), this.host.served);
  }

  private onClose(server: net.Server): void {
    if (server === this.mainServer) this.host.closed(server);
  }

  private listen(server: net.Server, args: unknown[]): net.Server {
    const [options, cb] = normalizeListenArgs(args);
    const asked = askedOf(args, options);
    // An fd, a handle, or arguments Node refuses: Node's own listen() does (or throws) it.
    if (asked === null) {
      if (typeof options.fd === 'number') this.host.notice(`The app listens on fd ${options.fd} itself: not served by narwhal`);
      return this.nodeListen(server, args);
    }
    if (server === this.mainServer) {
      this.mainAsked ??= asked;
      if (cb) process.nextTick(() => cb.call(server));
      return server;
    }
    if (server.listening) return this.nodeListen(server, args); // ERR_SERVER_ALREADY_LISTEN
    if (!this.mainServer) return this.adopt(server, asked, cb);
    if (this.isAlias(asked)) {
      this.aliases.add(server);
      this.once(server, cb);
      this.standIn(server);
      return server;
    }
    if ('port' in asked && asked.port === 0) {
      this.host.notice(`The app listens on an ephemeral port (${describeAsked(asked)}): bound by this worker, not served by narwhal`);
      return this.nodeListen(server, args);
    }
    this.once(server, cb);
    this.share(server, asked, Number(options.backlog) || 511);
    return server;
  }

  private adopt(server: net.Server, asked: Asked, cb: ListenCallback | null): net.Server {
    this.mainServer = server;
    this.mainAsked = asked;
    this.once(server, cb);
    this.standIn(server);
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve(server);
    return server;
  }

  private once(server: net.Server, cb: ListenCallback | null): void {
    if (cb) server.once('listening', cb);
  }

  private isAlias(asked: Asked): boolean {
    const first = this.mainAsked;
    if ('path' in asked) return first !== null && 'path' in first && first.path === asked.path;
    const served = this.host.served;
    return (first !== null && 'port' in first && first.port === asked.port && first.port !== 0) ||
      ('port' in served && served.port === asked.port);
  }

  private share(server: net.Server, asked: Asked, backlog: number): void {
    this.host.share(asked, backlog).then(
      (handle) => listenOnHandle(server, handle, 'path' in asked ? { path: asked.path } : null, backlog),
      (errno: number) => server.emit('error', listenError(typeof errno === 'number' ? errno : -22, asked)),
    );
  }
}

/** What listen() asks for, as Node's own listen() reads its arguments; null = not ours. */
function askedOf(args: unknown[], options: Record<string, unknown>): Asked | null {
  if (typeof options !== 'object' || options === null) return null;
  if (typeof options.fd === 'number' || typeof (options as { getAsyncId?: unknown }).getAsyncId === 'function') return null;
  let port = options.port;
  if (args.length === 0 || typeof args[0] === 'function' || (('port' in options) && (port === undefined || port === null))) port = 0;
  if (typeof port === 'number' || typeof port === 'string') {
    const n = Number(port);
    if (port === '' || !Number.isInteger(n) || n < 0 || n > 65535) return null; // Node throws ERR_SOCKET_BAD_PORT
    return typeof options.host === 'string' && options.host !== '' ? { host: options.host, port: n } : { port: n };
  }
  if (typeof options.path === 'string' && options.path !== '') return { path: options.path };
  return null;
}
