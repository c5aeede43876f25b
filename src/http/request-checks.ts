// Gunicorn's request limits and the few request checks Node's own parser (llhttp) leaves to
// the server, run once per request before the app sees it. Node's parser already refuses
// malformed request lines, bad header tokens, obs-fold, CL+TE, duplicate Content-Length and
// bad chunk framing; what is checked here is only what Gunicorn's request corpus shows it
// lets through. The common path is one length test on the request line and one pass over
// `req.rawHeaders` comparing lengths; a lower-case copy of a name is made only for names as
// long as one of the few fields looked at and not spelled the usual way.
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import type { Settings } from '../config/settings';
import { closeAfterResponse } from '../platform/node/http';

export interface RequestLimits {
  /** Longest request line in bytes, CRLF included as Gunicorn counts it (0 = no own limit). */
  readonly line: number;
  /** Most header fields (0 = no limit). */
  readonly fields: number;
  /** Longest header field line, counted as Gunicorn does: name + ": " + value + CRLF. */
  readonly fieldSize: number;
  /** HTTP/2: the largest header list, counted as RFC 9113 does (name + value + 32 per field). */
  readonly headerList: number;
}

export function requestLimits(settings: Pick<Settings, 'limit_request_line' | 'limit_request_fields' | 'limit_request_field_size' |
  'http2_max_header_list_size'>): RequestLimits {
  return {
    line: settings.limit_request_line,
    fields: settings.limit_request_fields,
    // 0 is Gunicorn's maximum (8190), as Gunicorn's own corpus expects (limit_header_default_01).
    fieldSize: settings.limit_request_field_size || GUNICORN_MAX,
    headerList: settings.http2_max_header_list_size,
  };
}

/** Node's own cap on the whole header section (request line + fields); Node's default. */
const NODE_HEADER_SIZE = 16 * 1024;
/** Gunicorn's largest default line and field size: what a 0 field size means, and what a 0 line size is assumed to be when sizing the header cap. */
const GUNICORN_MAX = 8190;

/**
 * The http.Server options that carry the limits. `maxHeaderSize` stays Node's 16 KiB unless
 * the longest allowed request line plus the longest allowed field would not fit. (Strict
 * parsing goes with them: platform/node/http.ts.)
 */
export function serverOptions(limits: RequestLimits): Required<Pick<ServerOptions, 'maxHeaderSize' | 'requireHostHeader'>> {
  return {
    maxHeaderSize: Math.max(NODE_HEADER_SIZE, (limits.line || GUNICORN_MAX) + limits.fieldSize + 512),
    // Gunicorn serves an HTTP/1.1 request without Host (its corpus has many, valid), and so
    // do the proxies and health checkers that send them; Node would answer them 400. A Host
    // that is present is still checked below (more than one is refused).
    requireHostHeader: false,
  };
}

/**
 * `server.maxHeadersCount`: one more than the limit, so an excess is seen (Node silently
 * drops fields beyond maxHeadersCount) without parsing thousands; 0 = no limit in Node too.
 */
export function maxHeadersCount(limits: RequestLimits): number {
  return limits.fields === 0 ? 0 : limits.fields + 1;
}

const SLASH = 47;

/** Case-insensitive name test; the usual spellings are compared without making a copy. */
function is(name: string, lower: string, usual: string): boolean {
  return name === usual || name === lower || name.toLowerCase() === lower;
}

/**
 * 0 when the request may go to the app, otherwise the status to refuse it with:
 * 414 request line too long, 431 too many or too large header fields, 400 otherwise.
 */
export function checkRequest(req: IncomingMessage, limits: RequestLimits): number {
  const method = req.method!;
  const url = req.url!;
  // "METHOD SP target SP HTTP/1.1 CRLF": method + target + 12 bytes.
  if (limits.line !== 0 && method.length + url.length + 12 > limits.line) return 414;
  // An HTTP/1 parser that accepted "HTTP/2.0" (or 0.9, 3.0) in the request line.
  if (req.httpVersionMajor !== 1) return 400;
  if (url.charCodeAt(0) !== SLASH) {
    // Asterisk-form is for OPTIONS only; authority-form for CONNECT only (llhttp checks that);
    // anything else must be an absolute URI with a parseable authority ("s://]ufd/:" is not).
    if (url === '*') {
      if (method !== 'OPTIONS') return 400;
    } else if (method !== 'CONNECT' && !URL.canParse(url)) {
      return 400;
    }
  }
  return checkFields(req.rawHeaders, 0, limits, req.httpVersionMinor === 0);
}

/**
 * The checks that make sense for an HTTP/2 request (its framing is HTTP/2's, and nghttp2 refuses
 * connection-specific fields): the limits, with the request line counted as METHOD SP :path SP
 * HTTP/2.0, and the fields Node would pick one of. CONNECT (a tunnel, which narwhal's servers do
 * not offer over HTTP/2) is 405. A Host that names another authority than :authority is a 400
 * (RFC 9113 8.3.1), as a proxy routing on one and the app on the other would disagree. The header
 * list limit is checked here too (431): nghttp2 applies it only once the client has acknowledged
 * the server's SETTINGS, which a client's first requests do not wait for.
 */
export function checkHttp2Request(req: IncomingMessage, limits: RequestLimits): number {
  const method = req.method!;
  if (method === 'CONNECT') return 405;
  const path = req.url ?? '';
  if (limits.line !== 0 && method.length + path.length + 12 > limits.line) return 414;
  const raw = req.rawHeaders;
  let size = 0;
  for (let i = 0; i < raw.length; i += 2) size += raw[i]!.length + raw[i + 1]!.length + 32;
  if (size > limits.headerList) return 431;
  // Pseudo-header fields come first (nghttp2 refuses them anywhere else) and are not fields.
  let start = 0;
  while (start < raw.length && raw[start]!.charCodeAt(0) === COLON) start += 2;
  const refused = checkFields(raw, start, limits, false);
  if (refused !== 0) return refused;
  const host = req.headers.host;
  const authority = req.headers[':authority'];
  return host !== undefined && authority !== undefined && host !== authority ? 400 : 0;
}

const COLON = 58;

/** The checks on the header fields from `raw[start]` on, the same for HTTP/1 and HTTP/2. */
function checkFields(raw: string[], start: number, limits: RequestLimits, http10: boolean): number {
  const n = raw.length;
  if (limits.fields !== 0 && n - start > limits.fields * 2) return 431;
  const fieldSize = limits.fieldSize;
  let hosts = 0;
  let contentTypes = 0;
  for (let i = start; i < n; i += 2) {
    const name = raw[i]!;
    if (name.length + raw[i + 1]!.length + 4 > fieldSize) return 431;
    switch (name.length) {
      case 4:
        // RFC 9112 3.2: more than one Host is a 400. Node keeps the first and drops the
        // others, while a proxy in front may have routed on another one.
        if (is(name, 'host', 'Host') && ++hosts > 1) return 400;
        break;
      case 12:
        // Node keeps the first Content-Type and drops the others: refuse the ambiguity.
        if (is(name, 'content-type', 'Content-Type') && ++contentTypes > 1) return 400;
        break;
      case 14:
        // Framing fields spelled with "_" are refused, as Gunicorn does: a gateway that maps
        // "_" to "-" (CGI-style) would frame the body differently than Node does.
        if (name.toLowerCase() === 'content_length') return 400;
        break;
      case 17: {
        const lower = name.toLowerCase();
        if (lower === 'transfer_encoding') return 400;
        // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
        if (http10 && lower === 'transfer-encoding') return 400;
        break;
      }
      default:
    }
  }
  return 0;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
};

/** What a 405 says is allowed. */
export const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS';

/** Answers a refused request and closes the connection; the app never sees it. */
export function refuse(res: ServerResponse, status: number): void {
  closeAfterResponse(res);
  res.writeHead(status, REASONS[status] ?? 'Bad Request', { Connection: 'close', 'Content-Length': '0' });
  res.end();
}

/**
 * Answers a refused HTTP/2 request: its stream only, the connection's other streams go on.
 * HTTP/2 has no reason phrase and no Connection field (Node refuses both).
 */
export function refuseStream(res: ServerResponse, status: number): void {
  res.writeHead(status, status === 405 ? { allow: ALLOWED_METHODS, 'content-length': '0' } : { 'content-length': '0' });
  res.end();
}

/**
 * Answers a refused upgrade or CONNECT request on its raw socket (no response object exists for
 * those) and closes it; the app's 'upgrade' or 'connect' listener never sees it.
 */
export function refuseSocket(socket: { end(data: string): unknown; destroy(): unknown; writable?: boolean }, status: number): void {
  if (socket.writable === false) return void socket.destroy();
  socket.end(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
