// The app shapes narwhal serves, each turned into a Node request listener.
import { getRequestListener } from '@hono/node-server';
import type { LoadedApp, RequestListener } from './load-app';

type Fetchable = { fetch: (request: Request) => Response | Promise<Response> };
type KoaLike = { callback: () => RequestListener; use: unknown; middleware: unknown };
type FastifyLike = {
  ready: () => Promise<unknown>;
  routing: RequestListener;
  close: () => Promise<unknown>;
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  (typeof v === 'object' || typeof v === 'function') && v !== null;

const isFastify = (v: unknown): v is FastifyLike =>
  isObject(v) && typeof v.routing === 'function' && typeof v.ready === 'function' && 'server' in v;
const isKoa = (v: unknown): v is KoaLike =>
  isObject(v) && typeof v.callback === 'function' && typeof v.use === 'function' && Array.isArray(v.middleware);
const isFetch = (v: unknown): v is Fetchable => isObject(v) && typeof v.fetch === 'function';

async function adapt(value: unknown): Promise<LoadedApp | null> {
  if (isFastify(value)) {
    await value.ready();
    return {
      kind: 'fastify',
      listener: (req, res) => value.routing(req, res),
      close: async () => { await value.close(); },
    };
  }
  if (isKoa(value)) return { kind: 'koa', listener: value.callback() };
  // Hono apps are objects with fetch(); check fetch before "is a function" for apps that are both.
  if (isFetch(value)) {
    const fetch = value.fetch.bind(value);
    return { kind: 'fetch', listener: getRequestListener((request) => fetch(request)) as RequestListener };
  }
  if (typeof value === 'function') return { kind: 'node', listener: value as RequestListener };
  return null;
}

export const toRequestListener = Object.assign(adapt, {
  /** Whether a value is one of the app shapes (used to pick between default and app exports). */
  accepts: (v: unknown) => isFastify(v) || isKoa(v) || isFetch(v) || typeof v === 'function',
});
