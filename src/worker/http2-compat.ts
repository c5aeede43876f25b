// What an app written for node:http expects of a request, on the HTTP/2 requests narwhal hands
// it (see http2-bridge.ts) — what a proxy translating HTTP/2 to HTTP/1.1 would give it:
//   - a Host field, from :authority (Express's req.hostname, apps reading req.headers.host);
//   - for a request body without Content-Length (legal in HTTP/2), Transfer-Encoding: chunked in
//     req.headers, so that body parsers that look for one of the two (body-parser, co-body and
//     raw-body, through type-is) read the body; rawHeaders keep what the client sent;
//   - response fields HTTP/2 forbids (Connection, Keep-Alive, Transfer-Encoding, Upgrade,
//     Proxy-Connection: RFC 9113 8.2.2), which Node refuses with a throw, are dropped, and so is
//     a reason phrase (HTTP/2 has none; Node warns);
//   - for Express, which gives every request and response its own prototype (node:http's, with
//     Express's methods on top), the compatibility objects keep their own members as own
//     properties: Express's prototype then only adds Express's methods. Without this an Express
//     app fails every HTTP/2 request, and its worker with it (a TypeError in IncomingMessage#_read).
import http from 'node:http';
import http2 from 'node:http2';
import { membersOf, pinMembers } from '../platform/node/http2';
import { WRAPS } from './adapters';

/** A request listener that replaces the prototype of req and res (Express 4 and 5 apps). */
export function prototypeSwapper(listener: unknown): boolean {
  const app = (listener as { [WRAPS]?: unknown })?.[WRAPS] ?? listener;
  if (typeof app !== 'function') return false;
  const { request, response } = app as { request?: unknown; response?: unknown };
  return request instanceof http.IncomingMessage && response instanceof http.ServerResponse;
}

export function asHttp1Request(req: http2.Http2ServerRequest): void {
  const headers = req.headers;
  if (headers.host === undefined && headers[':authority'] !== undefined) headers.host = headers[':authority'];
  if (!req.stream.endAfterHeaders && headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
}

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
const isConnectionSpecific = (name: unknown): boolean => CONNECTION_SPECIFIC.has(String(name).toLowerCase());

type Headers = http.OutgoingHttpHeaders | readonly http.OutgoingHttpHeader[] | readonly [string, string][];

const isHeaderList = (headers: Headers): headers is readonly http.OutgoingHttpHeader[] | readonly [string, string][] => Array.isArray(headers);

/** writeHead's headers without the connection-specific fields, in any of the forms Node takes. */
function withoutConnectionFields(headers: Headers): Headers {
  if (!isHeaderList(headers)) {
    // Most responses have none: no copy then.
    const names = Object.keys(headers);
    if (!names.some(isConnectionSpecific)) return headers;
    const kept: http.OutgoingHttpHeaders = {};
    for (const name of names) if (!isConnectionSpecific(name)) kept[name] = headers[name];
    return kept;
  }
  if (Array.isArray(headers[0])) return (headers as [string, string][]).filter(([name]) => !isConnectionSpecific(name));
  const kept: http.OutgoingHttpHeader[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) if (!isConnectionSpecific(headers[i])) kept.push(headers[i]!, headers[i + 1]!);
  return kept;
}

/** The response of a bridged HTTP/2 request (http2.createServer's Http2ServerResponse option). */
export class BridgedResponse extends http2.Http2ServerResponse {
  override setHeader(name: string, value: number | string | readonly string[]): this {
    if (!isConnectionSpecific(name)) super.setHeader(name, value);
    return this;
  }

  override appendHeader(name: string, value: string | string[]): this {
    if (!isConnectionSpecific(name)) super.appendHeader(name, value);
    return this;
  }

  override writeHead(statusCode: number, reason?: string | Headers, headers?: Headers): this {
    const given = typeof reason === 'string' ? headers : reason;
    return super.writeHead(statusCode, (given ? withoutConnectionFields(given) : undefined) as http.OutgoingHttpHeaders);
  }
}

const REQUEST_MEMBERS = membersOf(http2.Http2ServerRequest.prototype);
const RESPONSE_MEMBERS = membersOf(BridgedResponse.prototype, http2.Http2ServerResponse.prototype);

export function keepOwnMembers(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  pinMembers(req, REQUEST_MEMBERS);
  pinMembers(res, RESPONSE_MEMBERS);
}
