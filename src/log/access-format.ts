// The access log: Gunicorn's format atoms, so existing log parsers keep working, or one JSON
// object per line. The format is compiled once into a list of parts; a request only fills
// them in.
//   %(h)s remote address   %(l)s '-'             %(u)s user (basic auth) or '-'
//   %(t)s [time]           %(r)s request line    %(m)s method   %(U)s path   %(q)s query
//   %(H)s protocol         %(s)s status          %(B)s body bytes  %(b)s bytes or '-'
//   %(f)s referer          %(a)s user agent      %(T)s seconds  %(M)s ms   %(D)s µs
//   %(L)s seconds (decimal) %(p)s worker pid     %({name}i)s request header  %({name}o)s response header
//   %(S)s the client certificate's subject (mutual TLS), as nginx's $ssl_client_s_dn: CN=…,O=…
import type { IncomingMessage, ServerResponse } from 'node:http';
import type net from 'node:net';
import type tls from 'node:tls';
import { sentHead } from '../platform/node/http';
import { escapeLogText as esc } from './escape';

export const DEFAULT_ACCESS_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

export interface AccessEntry {
  req: IncomingMessage;
  res: ServerResponse;
  /**
   * The connection the request came on: req.socket, or for HTTP/2 the TLS or TCP socket under
   * the stream (which req.socket no longer reaches once the stream has closed).
   */
  socket: net.Socket;
  /** Response time in seconds. */
  seconds: number;
  bytes: number;
  time: Date;
}

type Part = string | ((e: AccessEntry) => string);

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** Apache's time format, as Gunicorn's %(t)s: [24/Nov/2026:14:27:00 +0000] (made once a second). */
let clfSecond = -1;
let clfText = '';
function clfTime(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (second === clfSecond) return clfText;
  const offset = -d.getTimezoneOffset();
  const tz = `${offset >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
  clfSecond = second;
  clfText = `[${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${tz}]`;
  return clfText;
}

const dash = (v: unknown) => (v === undefined || v === null || v === '' ? '-' : esc(String(v)));
const header = (v: string | string[] | number | undefined) => dash(Array.isArray(v) ? v.join(', ') : v);
const query = (url: string) => { const i = url.indexOf('?'); return i < 0 ? '' : url.slice(i + 1); };
const path = (url: string) => { const i = url.indexOf('?'); return i < 0 ? url : url.slice(0, i); };

/**
 * A response header as sent. Headers given to writeHead() directly (as fetch bridges do) are
 * not in getHeader(); they are only in the head Node wrote.
 */
export function sentHeader(res: ServerResponse, name: string): string | undefined {
  const value = res.getHeader(name);
  if (value !== undefined) return Array.isArray(value) ? value.join(', ') : String(value);
  const raw = sentHead(res);
  if (!raw) return undefined;
  return sentFieldPattern(name).exec(raw)?.[1];
}

/** The pattern of a field in a header block, per name (a format names a few: made once each). */
const fieldPatterns = new Map<string, RegExp>();
function sentFieldPattern(name: string): RegExp {
  let pattern = fieldPatterns.get(name);
  if (pattern === undefined) {
    pattern = new RegExp(`\\r\\n${name.replace(/[^\w-]/g, '\\$&')}:[ \\t]*([^\\r]*)`, 'i');
    if (fieldPatterns.size < 256) fieldPatterns.set(name, pattern);
  }
  return pattern;
}

function user(req: IncomingMessage): string {
  const auth = req.headers.authorization;
  if (!auth?.startsWith('Basic ')) return '-';
  const decoded = Buffer.from(auth.slice(6), 'base64').toString();
  return dash(decoded.slice(0, Math.max(0, decoded.indexOf(':'))));
}

/** A certificate subject in RFC 4514 order (most specific first), as nginx logs it. */
function clientSubject(socket: net.Socket): string {
  const cert = (socket as Partial<tls.TLSSocket>).getPeerX509Certificate?.();
  return cert ? esc(cert.subject.split('\n').reverse().join(',')) : '-';
}

const ATOMS: Record<string, (e: AccessEntry) => string> = {
  h: (e) => dash(e.socket.remoteAddress),
  l: () => '-',
  u: (e) => user(e.req),
  t: (e) => clfTime(e.time),
  r: (e) => esc(`${e.req.method} ${e.req.url} HTTP/${e.req.httpVersion}`),
  m: (e) => dash(e.req.method),
  U: (e) => esc(path(e.req.url ?? '')),
  q: (e) => esc(query(e.req.url ?? '')),
  H: (e) => `HTTP/${e.req.httpVersion}`,
  s: (e) => String(e.res.statusCode),
  B: (e) => String(e.bytes),
  b: (e) => (e.bytes > 0 ? String(e.bytes) : '-'),
  f: (e) => header(e.req.headers.referer),
  a: (e) => header(e.req.headers['user-agent']),
  T: (e) => String(Math.floor(e.seconds)),
  M: (e) => String(Math.round(e.seconds * 1e3)),
  D: (e) => String(Math.round(e.seconds * 1e6)),
  L: (e) => e.seconds.toFixed(6),
  p: () => `<${process.pid}>`,
  S: (e) => clientSubject(e.socket),
};

export class AccessFormatError extends Error {}

/**
 * The `json` format: the fields a log pipeline indexes, under the names they usually get
 * (ECS-like, flat). Values are raw (JSON escapes them); absent headers are null, so every line
 * has the same keys. The duration is in seconds (`duration_s`), as Gunicorn's %(L)s.
 */
function jsonLine(e: AccessEntry): string {
  const url = e.req.url ?? '';
  const q = url.indexOf('?');
  return JSON.stringify({
    time: e.time.toISOString(), remote: e.socket.remoteAddress ?? null, method: e.req.method,
    path: q < 0 ? url : url.slice(0, q), query: q < 0 ? null : url.slice(q + 1),
    protocol: `HTTP/${e.req.httpVersion}`, status: e.res.statusCode, bytes: e.bytes,
    duration_s: Number(e.seconds.toFixed(6)), referer: e.req.headers.referer ?? null,
    user_agent: e.req.headers['user-agent'] ?? null, request_id: requestId(e), pid: process.pid,
  });
}

/** X-Request-Id as the client (or the proxy in front) sent it, else as the app answered it. */
function requestId(e: AccessEntry): string | null {
  const sent = e.req.headers['x-request-id'];
  if (sent !== undefined) return Array.isArray(sent) ? sent.join(', ') : sent;
  const answered = e.res.getHeader('x-request-id');
  return answered === undefined ? null : String(answered);
}

/** Compiles a Gunicorn access-log format, or "json", into a function from entry to line. */
export function compileAccessFormat(format: string): (e: AccessEntry) => string {
  if (format === 'json') return jsonLine;
  const parts: Part[] = [];
  const re = /%\((\{[^}]+\}[io]|[a-zA-Z]+)\)s/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    if (m.index > last) parts.push(format.slice(last, m.index));
    const atom = m[1]!;
    if (atom.startsWith('{')) {
      const name = atom.slice(1, atom.indexOf('}')).toLowerCase();
      parts.push(atom.endsWith('i') ? (e) => header(e.req.headers[name]) : (e) => header(sentHeader(e.res, name)));
    } else {
      const fn = ATOMS[atom];
      if (!fn) throw new AccessFormatError(`unknown access log atom %(${atom})s`);
      parts.push(fn);
    }
    last = re.lastIndex;
  }
  if (last < format.length) parts.push(format.slice(last));
  return (e) => {
    let line = '';
    for (const p of parts) line += typeof p === 'string' ? p : p(e);
    return line;
  };
}
