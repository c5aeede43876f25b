// What an app written for node:http expects of a request, on the HTTP/2 requests narwhal hands
// it (see http2-bridge.ts) — what a proxy translating HTTP/2 to HTTP/1.1 would give it:
//   - a Host field, from :authority (Express's req.hostname, apps reading req.headers.host);
//   - for a request body without Content-Length (legal in HTTP/2), Transfer-Encoding: chunked in
//     req.headers, so that body parsers that look for one of the two (body-parser, co-body and
//     raw-body, through type-is) read the body; rawHeaders keep what the client sent;
//   - for Express, which gives every request and response its own prototype (node:http's, with
//     Express's methods on top), the compatibility objects keep their own members as own
//     properties: Express's prototype then only adds Express's methods. Without this an Express
//     app fails every HTTP/2 request, and its worker with it (a TypeError in IncomingMessage#_read).
import http from 'node:http';
import http2 from 'node:http2';

/** A request listener that replaces the prototype of req and res (Express 4 and 5 apps). */
export function prototypeSwapper(listener: unknown): boolean {
  const app = (listener as { [WRAPS]?: unknown })?.[WRAPS] ?? listener;
  if (typeof app !== 'function') return false;
  const { request, response } = app as { request?: unknown; response?: unknown };
  return request instanceof http.IncomingMessage && response instanceof http.ServerResponse;
}

/** On a listener narwhal wraps (adapters.ts), the app's own listener, for prototypeSwapper. */
export const WRAPS = Symbol('narwhal.wraps');

export function asHttp1Request(req: http2.Http2ServerRequest): void {
  const headers = req.headers;
  if (headers.host === undefined && headers[':authority'] !== undefined) headers.host = headers[':authority'];
  if (!req.stream.endAfterHeaders && headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
}

const ownMembers = (proto: object): PropertyDescriptorMap => {
  const members: PropertyDescriptorMap = { ...Object.getOwnPropertyDescriptors(proto) };
  Reflect.deleteProperty(members, 'constructor');
  return members;
};
const REQUEST_MEMBERS = ownMembers(http2.Http2ServerRequest.prototype);
const RESPONSE_MEMBERS = ownMembers(http2.Http2ServerResponse.prototype);

export function keepOwnMembers(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  Object.defineProperties(req, REQUEST_MEMBERS);
  Object.defineProperties(res, RESPONSE_MEMBERS);
}
