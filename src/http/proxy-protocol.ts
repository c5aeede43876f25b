// The PROXY protocol (HAProxy, v1 text and v2 binary): a load balancer that forwards TCP
// prepends one preamble carrying the client's address. With proxy_protocol on, narwhal reads it
// from a trusted peer (forwarded_allow_ips) before Node's HTTP parser sees the connection,
// removes it, and makes the client's address what `req.socket.remoteAddress` / `remotePort`
// report. As in Gunicorn (and its request corpus), a connection without a preamble is served
// as plain HTTP with the real peer; a malformed preamble closes the connection. Peers not in
// the allow list are never read here: their bytes go straight to HTTP, where a preamble is a
// malformed request (400).
import net from 'node:net';
import { UNDECIDED, readStart } from './connection-start';

/** What a parsed preamble says; no `address` = keep the real peer (UNKNOWN, LOCAL, AF_UNIX, UNSPEC). */
export interface ProxyHeader {
  /** Bytes the preamble takes at the start of the stream. */
  readonly length: number;
  readonly address?: string;
  readonly port?: number;
  readonly family?: 'IPv4' | 'IPv6';
}

/** The stream does not start with a preamble. */
export const NONE = 0;
/** What has arrived so far is a preamble's start: wait for more. */
export const MORE = 1;
/** A malformed preamble. */
export const INVALID = 2;
export type ParseResult = ProxyHeader | typeof NONE | typeof MORE | typeof INVALID;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** v1: the whole line, CRLF included, is at most 107 bytes. */
const V1_MAX = 107;
const V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const PORT = /^\d{1,5}$/;

/** Whether `buf` starts with `prefix`, as far as both go. */
function startsLike(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  for (let i = 0; i < n; i++) if (buf[i] !== prefix[i]) return false;
  return true;
}

function port(s: string): number {
  if (!PORT.test(s)) return -1;
  const n = Number(s);
  return n <= 65535 ? n : -1;
}

function parseV1(buf: Buffer): ParseResult {
  const end = Math.min(buf.length, V1_MAX);
  let eol = -1;
  for (let i = V1_PREFIX.length; i < end; i++) {
    if (buf[i] === 0x0a) return INVALID; // LF without CR
    if (buf[i] === 0x0d) {
      if (i + 1 >= buf.length) return MORE;
      if (buf[i + 1] !== 0x0a) return INVALID;
      eol = i;
      break;
    }
  }
  if (eol < 0) return buf.length >= V1_MAX ? INVALID : MORE;
  const parts = buf.toString('latin1', 0, eol).split(' ');
  // "PROXY UNKNOWN" and whatever follows it: the receiver keeps the real peer.
  if (parts[1] === 'UNKNOWN') return { length: eol + 2 };
  if (parts.length !== 6) return INVALID;
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const v4 = proto === 'TCP4';
  if (!v4 && proto !== 'TCP6') return INVALID;
  const valid = v4 ? net.isIPv4 : net.isIPv6;
  if (!valid(src) || !valid(dst)) return INVALID;
  const srcPort = port(sport);
  if (srcPort < 0 || port(dport) < 0) return INVALID;
  return { length: eol + 2, address: src, port: srcPort, family: v4 ? 'IPv4' : 'IPv6' };
}

/** An IPv6 address from 16 bytes, in the compressed form Node reports peers in. */
function ipv6(buf: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(at + i * 2));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${buf[at + 12]}.${buf[at + 13]}.${buf[at + 14]}.${buf[at + 15]}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function parseV2(buf: Buffer): ParseResult {
  if (buf.length < 16) return MORE;
  const version = buf[12]! >> 4;
  const command = buf[12]! & 0x0f;
  if (version !== 2 || command > 1) return INVALID;
  const family = buf[13]! >> 4;
  const transport = buf[13]! & 0x0f;
  if (family > 3 || transport > 2) return INVALID;
  const length = 16 + buf.readUInt16BE(14);
  if (buf.length < length) return MORE;
  // LOCAL (a health check from the proxy itself), AF_UNSPEC, AF_UNIX: keep the real peer.
  if (command === 0 || family === 0 || family === 3) return { length };
  if (family === 1) {
    if (length < 16 + 12) return INVALID;
    return { length, address: `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}`, port: buf.readUInt16BE(24), family: 'IPv4' };
  }
  if (length < 16 + 36) return INVALID;
  return { length, address: ipv6(buf, 16), port: buf.readUInt16BE(48), family: 'IPv6' };
}

/** Parses the start of a connection's stream. */
export function parseProxyHeader(buf: Buffer): ParseResult {
  if (buf.length === 0) return MORE;
  if (buf[0] === 0x50 /* P */) {
    if (!startsLike(buf, V1_PREFIX)) return NONE;
    return buf.length < V1_PREFIX.length ? MORE : parseV1(buf);
  }
  if (buf[0] === 0x0d) {
    if (!startsLike(buf, V2_SIG)) return NONE;
    return buf.length < V2_SIG.length ? MORE : parseV2(buf);
  }
  return NONE;
}

/** Makes the socket report the client the preamble names (own properties over net's getters). */
function setPeer(socket: net.Socket, header: ProxyHeader): void {
  if (header.address === undefined) return;
  Object.defineProperty(socket, 'remoteAddress', { value: header.address, configurable: true });
  Object.defineProperty(socket, 'remotePort', { value: header.port, configurable: true });
  Object.defineProperty(socket, 'remoteFamily', { value: header.family, configurable: true });
}

/**
 * Reads a connection's first bytes; strips a preamble if there is one and sets the peer from
 * it, then gives the socket, with the bytes that followed put back, to `next` (which hands it
 * to http). A malformed preamble, or nothing within `timeoutMs` (the caller's: header_timeout,
 * at most 10 s), destroys the socket.
 */
export function readPreamble(socket: net.Socket, next: (socket: net.Socket) => void, timeoutMs: number): void {
  readStart(socket, timeoutMs, (buf) => {
    const result = parseProxyHeader(buf);
    return result === MORE ? UNDECIDED : result;
  }, (result, buf) => {
    if (result === INVALID) return void socket.destroy();
    socket.pause();
    let rest = buf;
    if (result !== NONE) {
      setPeer(socket, result);
      rest = buf.subarray(result.length);
    }
    if (rest.length > 0) socket.unshift(rest);
    next(socket);
    // http does not resume a stream that was paused explicitly; the bytes put back go first.
    socket.resume();
  });
}
