// Loads the user's app module and finds the server to serve: the one the app listens on
// (adopted, see adopt.ts), or what it exports. Which, in order:
//   1. an explicit `:name` or `:factory()`: that export, whatever the module also listens on;
//   2. a server the module listened on while it loaded (`app.listen(3000)` at top level);
//   3. the default export, then `app`, then module.exports, if it is one of the app shapes;
//   4. otherwise the first server the app listens on later (NestJS and Next.js listen after an
//      async bootstrap), waited for up to `waitMs`.
// Anything else is refused with one message: what was found, and the ways to serve a module.
import { existsSync } from 'node:fs';
import net from 'node:net';
import { extname, relative } from 'node:path';
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { parseAppSpec } from './app-spec';
import { isServable, serverFor, serverKind, type RequestListener } from './adapters';
import { describeAsked, type Adoption } from './adopt';
import { loadModule } from './module-loader';

/** Node's 'upgrade' event handler: WebSockets (ws, socket.io) and other protocol switches. */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface LoadedApp {
  server: net.Server;
  /** How the server was found, for the master's log: "the http.Server it listens on (port 3000)". */
  description: string;
  /** The app's explicit shutdown: a `close` export, a factory's `{ app, close }`, Fastify's close. */
  close?: () => Promise<void>;
  /** The module's `upgrade` export, attached to the server's 'upgrade' event. */
  upgrade?: UpgradeListener;
}

/** A refusal the user can act on: printed as one line, no stack trace. */
export class AppLoadError extends Error {}

export interface LoadOptions {
  adoption: Adoption;
  /** How long to wait for a module that exports nothing servable to call listen(). */
  waitMs: number;
  guard: (listener: RequestListener) => RequestListener;
  /** Told when the wait for listen() starts, so the user is not left wondering. */
  onWait?: (message: string) => void;
}

const WAYS = 'an app that listens itself (app.listen(...), server.listen(...)) is served as it is; ' +
  'otherwise export a request listener (req, res) => void, an http.Server, an object with fetch(request), ' +
  'a Koa app or a Fastify instance (module.exports, export default, or pick one with FILE:NAME or FILE:FACTORY())';

function canStripTypes(): boolean {
  return Boolean((process.features as { typescript?: unknown }).typescript);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof net.Server) return serverKind(value);
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (typeof value === 'object') {
    const keys = Object.keys(value as object);
    const ctor = (value as object).constructor?.name;
    const what = ctor && ctor !== 'Object' ? `an instance of ${ctor}` : 'an object';
    return keys.length === 0 ? `${what} with no keys` : `${what} with keys [${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', …' : ''}]`;
  }
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** What a module exports, in words: for the refusal when nothing can be served. */
function describeExports(mod: Record<string, unknown>): string {
  // Node 22+ adds a 'module.exports' key to a CommonJS namespace; it repeats `default`.
  const names = Object.keys(mod).filter((k) => k !== 'module.exports');
  if (names.length === 0) return 'no exports';
  if (names.length === 1 && names[0] === 'default') {
    const value = mod.default;
    if (value !== null && typeof value === 'object' && Object.keys(value).length === 0 && (value as object).constructor === Object) {
      return 'an empty module.exports (or default export)';
    }
    return `module.exports (or the default export): ${describe(value)}`;
  }
  return `exports ${names.map((n) => `"${n}": ${describe(mod[n])}`).join(', ')}`;
}

/** Whether nothing keeps the event loop busy beyond `before` (no timer, socket, file request of the app's). */
function nothingMoreThan(before: string[]): boolean {
  const left = [...before];
  for (const resource of process.getActiveResourcesInfo()) {
    const i = left.indexOf(resource);
    if (i < 0) return false;
    left.splice(i, 1);
  }
  return true;
}

export async function loadApp(spec: string, cwd: string, options: LoadOptions): Promise<LoadedApp> {
  const { file, exportName, factory } = parseAppSpec(spec, cwd);
  const shown = relative(cwd, file) || file;
  if (!existsSync(file)) throw new AppLoadError(`app file not found: ${file}`);
  if (['.ts', '.mts', '.cts'].includes(extname(file)) && !canStripTypes()) {
    throw new AppLoadError(
      `cannot load ${shown}: Node.js ${process.version} cannot strip TypeScript types; ` +
      'run it on Node.js 22.18 or later (types are stripped by default there), use the narwhal binary, or compile the app to JavaScript');
  }
  const { adoption } = options;
  // What keeps the event loop busy before the app loads: after it, anything more is the app's.
  // stdout and stderr get their handles on first use: made now, narwhal's own lines written
  // while it waits for the app are not taken for the app's.
  void process.stdout;
  void process.stderr;
  const before = process.getActiveResourcesInfo();
  // As import() shows it: a CommonJS module's module.exports is `default`.
  const mod = await loadModule(file);
  const exportsObject = mod.default as Record<string, unknown> | undefined;
  // Own properties only: a module.exports that is itself the app (a server, an Express app)
  // must not offer its own methods (http.Server#close) as the `close` or `upgrade` export.
  const pick = (name: string) => (name in mod ? mod[name]
    : exportsObject !== null && typeof exportsObject === 'object' || typeof exportsObject === 'function'
      ? (Object.prototype.hasOwnProperty.call(exportsObject, name) ? exportsObject![name] : undefined) : undefined);
  const extras = (close?: () => Promise<void>): Pick<LoadedApp, 'close' | 'upgrade'> => {
    const upgrade = pick('upgrade');
    if (upgrade !== undefined && typeof upgrade !== 'function') {
      throw new AppLoadError(`${shown}: export "upgrade" is ${describe(upgrade)}; expected (req, socket, head) => void`);
    }
    const closeExport = pick('close');
    const closes = [close, typeof closeExport === 'function' ? async () => { await (closeExport as () => unknown)(); } : undefined]
      .filter((f): f is () => Promise<void> => f !== undefined);
    return {
      ...(upgrade ? { upgrade: upgrade as UpgradeListener } : {}),
      ...(closes.length > 0 ? { close: async () => { for (const c of closes) await c(); } } : {}),
    };
  };
  const serveExport = async (name: string, value: unknown, called: boolean): Promise<LoadedApp> => {
    let close: (() => Promise<void>) | undefined;
    // A factory may return { app, close }: the app to serve and its shutdown.
    if (called && value !== null && typeof value === 'object' && 'app' in value && typeof (value as { close?: unknown }).close === 'function') {
      const { app, close: factoryClose } = value as { app: unknown; close: () => unknown };
      value = app;
      close = async () => { await factoryClose(); };
    }
    const served = await serverFor(value, options.guard);
    if (!served) {
      throw new AppLoadError(`${shown}: export "${name}${called ? '()' : ''}" is ${describe(value)}, which narwhal cannot serve; ${WAYS}`);
    }
    adoption.serve(served.server);
    const closeAll = served.close && close ? async () => { await close!(); await served.close!(); } : served.close ?? close;
    return { server: served.server, description: `export "${name}${called ? '()' : ''}" (${served.kind})`, ...extras(closeAll) };
  };
  const adopted = (server: net.Server): LoadedApp => ({
    server,
    description: `${serverKind(server)} it listens on (it asked for ${adoption.mainAsked ? describeAsked(adoption.mainAsked) : 'a port'})`,
    ...extras(),
  });

  if (exportName) {
    const value = pick(exportName);
    if (value === undefined) {
      throw new AppLoadError(`${shown} has no export "${exportName}" (found ${describeExports(mod)}); ${WAYS}`);
    }
    if (factory && typeof value !== 'function') {
      throw new AppLoadError(`${shown}: "${exportName}()" is a factory call but "${exportName}" is ${describe(value)}`);
    }
    return serveExport(exportName, factory ? await (value as () => unknown)() : value, factory);
  }
  if (adoption.mainServer) return adopted(adoption.mainServer);
  if (mod.default !== undefined && isServable(mod.default)) return serveExport('default', mod.default, false);
  const app = pick('app');
  if (app !== undefined && isServable(app)) return serveExport('app', app, false);

  const ms = options.waitMs;
  options.onWait?.(`${shown}: found ${describeExports(mod)}, nothing narwhal can serve yet; waiting up to ${ms / 1000}s for the app to call listen()`);
  let idle = false;
  // The wait's own poll timer is the one thing pending that is not the app's.
  const server = await adoption.firstListen(ms, () => (idle = nothingMoreThan([...before, 'Timeout'])));
  if (server) return adopted(server);
  const why = idle ? 'the app has not called listen() and has nothing pending that could' : `the app did not call listen() within ${ms / 1000}s`;
  throw new AppLoadError(`${shown}: found ${describeExports(mod)}, and ${why}; ${WAYS}`);
}
