// The app shapes an export can have, each turned into the server narwhal serves: an exported
// server as it is; Fastify's own server once it is ready; a Node request listener, a Koa app or
// a { fetch } handler in an http.Server made for it.
import http from 'node:http';
import net from 'node:net';
import { isHttp1Server } from './instrument/server-policy';

export type RequestListener = (req: http.IncomingMessage, res: http.ServerResponse) => unknown;

export interface ServedApp {
  /** What the export is, for messages: 'an http.Server', 'a Fastify instance', … */
  kind: string;
  server: net.Server;
  /** Called when the worker stops (Fastify's onClose hooks, for instance). */
  close?: () => Promise<void>;
}

type Fetchable = { fetch: (request: Request) => Response | Promise<Response> };
type KoaLike = { callback: () => RequestListener; use: unknown; middleware: unknown };
type FastifyLike = { ready: () => Promise<unknown>; routing: unknown; server: net.Server; close: () => Promise<unknown> };

const isObject = (v: unknown): v is Record<string, unknown> =>
  (typeof v === 'object' || typeof v === 'function') && v !== null;

const isFastify = (v: unknown): v is FastifyLike =>
  isObject(v) && typeof v.routing === 'function' && typeof v.ready === 'function' && v.server instanceof net.Server;
const isKoa = (v: unknown): v is KoaLike =>
  isObject(v) && typeof v.callback === 'function' && typeof v.use === 'function' && Array.isArray(v.middleware);
const isFetch = (v: unknown): v is Fetchable => isObject(v) && typeof v.fetch === 'function';

/** Whether a value is one of the app shapes (used to pick between default and app exports). */
export const isServable = (v: unknown): boolean =>
  v instanceof net.Server || isFastify(v) || isKoa(v) || isFetch(v) || typeof v === 'function';

/** On a listener narwhal wraps, the app's own listener (http2-compat.ts: prototypeSwapper). */
export const WRAPS = Symbol('narwhal.wraps');

/** An http2 server (secure or not), which speaks only HTTP/2 (unless it allows HTTP/1 over its own TLS). */
export const isHttp2Server = (server: net.Server): boolean =>
  typeof (server as { updateSettings?: unknown }).updateSettings === 'function';

/** "an http.Server", "an https.Server", "a net.Server" … for messages. */
export function serverKind(server: net.Server): string {
  if (isHttp2Server(server)) return 'setSecureContext' in server ? 'an http2 secure server' : 'an http2 server';
  // An https.Server is a tls.Server that speaks HTTP/1 (no instanceof: node:https loads TLS).
  if (isHttp1Server(server) && 'setSecureContext' in server) return 'an https.Server';
  if (server instanceof http.Server) return 'an http.Server';
  const name = server.constructor?.name;
  return name && name !== 'Server' ? `a ${name} (net.Server)` : 'a net.Server';
}

/**
 * The server for an export, or null if it is none of the shapes. `guard` wraps a request
 * listener narwhal calls itself, so that its errors (a throw, a rejected promise) fail only the
 * request.
 */
export async function serverFor(value: unknown, guard: (listener: RequestListener) => RequestListener): Promise<ServedApp | null> {
  if (value instanceof net.Server) return { kind: serverKind(value), server: value };
  if (isFastify(value)) {
    await value.ready();
    return { kind: 'a Fastify instance', server: value.server, close: async () => { await value.close(); } };
  }
  const made = (kind: string, listener: RequestListener): ServedApp => {
    const guarded = Object.assign(guard(listener), { [WRAPS]: listener });
    return { kind, server: http.createServer(guarded) };
  };
  if (isKoa(value)) return made('a Koa app', value.callback());
  // Hono apps are objects with fetch(); check fetch before "is a function" for apps that are both.
  if (isFetch(value)) {
    // The fetch bridge loads only for a { fetch } app.
    const { getRequestListener } = await import('@hono/node-server');
    const fetch = value.fetch.bind(value);
    return made('a { fetch } handler', getRequestListener((request) => fetch(request)) as RequestListener);
  }
  if (typeof value === 'function') return made('a request listener', value as RequestListener);
  return null;
}
