// node:http, where narwhal goes past its public API: the options an http.Server was made with,
// which Node reads back from the server's own fields at each connection (narwhal sets them on a
// server the app made), and the state Node writes a response's head from.
import type http from 'node:http';
import type net from 'node:net';

interface ServerFields {
  maxHeaderSize?: number;
  requireHostHeader?: boolean;
  insecureHTTPParser?: boolean;
  /** 'strict' | 'relaxed' | 'insecure'; read before insecureHTTPParser where Node has it. */
  httpValidation?: string;
  connectionsCheckingInterval: number;
}

interface ResponseFields {
  /** The head as Node wrote it, once written. */
  _header?: string | null;
}

/** node:http's list of a listening server's connections (what closeIdleConnections() reads). */
interface ConnectionsList {
  idle(): Array<{ socket?: net.Socket | null }>;
}

/** The fields of an http.Server narwhal sets, which Node reads at each connection. */
const SERVER_FIELDS = ['maxHeaderSize', 'requireHostHeader', 'insecureHTTPParser'] as const;

/** What a worker uses of node:http's internals that this Node lacks. */
export function workerLacks(): string[] {
  // Loaded here rather than at the top: the master loads this module (the access log's format is
  // checked with the settings) and never needs node:http itself.
  const { createServer, IncomingMessage, ServerResponse } = process.getBuiltinModule('node:http') as typeof http;
  const { Socket } = process.getBuiltinModule('node:net') as typeof net;
  const server = createServer();
  const missing = SERVER_FIELDS.filter((field) => !(field in server)).map((field) => `http.Server#${field}`);
  if (!('shouldKeepAlive' in new ServerResponse(new IncomingMessage(new Socket())))) missing.push('http.ServerResponse#shouldKeepAlive');
  return missing;
}

/** The header size limit a server was made with (undefined: Node's default). */
export const maxHeaderSizeOf = (server: http.Server): number | undefined => (server as http.Server & ServerFields).maxHeaderSize;

/**
 * Sets a server's parsing options, and strict parsing whatever the app asked for: the lenient
 * parser reopens the request-smuggling holes llhttp closes. A Node that has `httpValidation`
 * gives every server it makes the field, set or not, and reads it before insecureHTTPParser;
 * it applies it to the header values of responses too, where 'strict' is what every Node without
 * it does.
 */
export function setStrictParsing(server: http.Server, options: { maxHeaderSize: number; requireHostHeader: boolean }): void {
  const own = server as http.Server & ServerFields;
  own.maxHeaderSize = options.maxHeaderSize;
  own.requireHostHeader = options.requireHostHeader;
  own.insecureHTTPParser = false;
  if ('httpValidation' in own) own.httpValidation = 'strict';
}

/** How often a server checks its header and request timeouts (ms). */
export const connectionsCheckingIntervalOf = (server: http.Server): number => (server as http.Server & ServerFields).connectionsCheckingInterval;

/**
 * Changes how often a server checks its header and request timeouts, on a server already
 * listening too: Node starts the checks on 'listening' (its own listener,
 * setupConnectionsTracking) with the interval of the time, so they are restarted. A server not
 * listening yet picks the interval up when it does.
 */
export function setConnectionsCheckingInterval(server: http.Server, ms: number): void {
  (server as http.Server & ServerFields).connectionsCheckingInterval = ms;
  if (!server.listening) return;
  const start = server.listeners('listening').find((fn) => fn.name === 'setupConnectionsTracking');
  start?.call(server);
}

/** The response's head will say `Connection: close`, and Node closes the connection after it. */
export function closeAfterResponse(res: http.ServerResponse): void {
  res.shouldKeepAlive = false;
}

/** The head of a response as Node wrote it (null before it is written, or if not exposed). */
export function sentHead(res: http.ServerResponse): string | null {
  return (res as http.ServerResponse & ResponseFields)._header || null;
}

/**
 * The connections of a listening http.Server that are between requests as its parser sees them:
 * nothing of a next request read yet (what server.closeIdleConnections() closes). Null where
 * this Node keeps no such list (the balance then moves nothing).
 */
export function idleConnections(server: http.Server): Set<net.Socket> | null {
  const key = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connections');
  const list = key === undefined ? undefined : (server as unknown as Record<symbol, ConnectionsList | undefined>)[key];
  if (typeof list?.idle !== 'function') return null;
  const idle = new Set<net.Socket>();
  for (const parser of list.idle()) if (parser.socket) idle.add(parser.socket);
  return idle;
}
