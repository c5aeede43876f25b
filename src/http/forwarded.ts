// forwarded_allow_ips: which peers may send X-Forwarded-* / Forwarded headers (and, with
// proxy_protocol, a PROXY preamble). From any other peer those headers are removed before the
// app sees the request, so an app that trusts them (Express `trust proxy`, Koa `proxy`) cannot
// be fooled by a client talking to narwhal directly. The allow list is compiled once into a
// matcher; trust is decided once per connection (cached on the socket by the caller), and the
// per-request work for an untrusted peer is one pass over `req.rawHeaders` comparing lengths.
import net from 'node:net';
import type { IncomingMessage } from 'node:http';

/** A peer address test; `undefined` is a Unix-socket peer (trusted, as Gunicorn does). */
export type PeerMatcher = (address: string | undefined) => boolean;

const CIDR = /^([^/]+)\/(\d{1,3})$/;

/** Whether one allow-list entry is valid: `*`, an IPv4 / IPv6 address, or a CIDR block. */
export function isAllowEntry(entry: string): boolean {
  if (entry === '*') return true;
  const m = CIDR.exec(entry);
  if (!m) return net.isIP(entry) !== 0;
  const family = net.isIP(m[1]!);
  const bits = Number(m[2]);
  return family !== 0 && bits <= (family === 4 ? 32 : 128);
}

const MAPPED = '::ffff:';

/**
 * Compiles the allow list. `*` trusts every peer. Exact addresses are looked up in a Set first
 * (the common 127.0.0.1 / ::1 case); anything else goes through a BlockList, which also
 * canonicalises IPv6 spellings. IPv4-mapped IPv6 peers (`::ffff:10.0.0.1`, from a dual-stack
 * listener) are matched by their IPv4 address.
 */
export function peerMatcher(list: readonly string[]): PeerMatcher {
  if (list.includes('*')) return () => true;
  const exact = new Set<string>();
  const blocks = new net.BlockList();
  for (const entry of list) {
    const m = CIDR.exec(entry);
    if (m) {
      const family = net.isIP(m[1]!) === 6 ? 'ipv6' : 'ipv4';
      blocks.addSubnet(m[1]!, Number(m[2]), family);
    } else {
      exact.add(entry);
      blocks.addAddress(entry, net.isIP(entry) === 6 ? 'ipv6' : 'ipv4');
    }
  }
  return (address) => {
    if (address === undefined) return true;
    if (exact.has(address)) return true;
    if (address.startsWith(MAPPED) && net.isIPv4(address.slice(MAPPED.length))) {
      const v4 = address.slice(MAPPED.length);
      return exact.has(v4) || blocks.check(v4, 'ipv4');
    }
    const family = net.isIP(address);
    if (family === 0) return false;
    return blocks.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/** The headers a proxy sets to describe the client; their lower-case names have these lengths. */
function isForwardedName(name: string): boolean {
  switch (name.length) {
    case 9: return name.toLowerCase() === 'forwarded';
    case 15: return name.toLowerCase() === 'x-forwarded-for';
    case 16: {
      const lower = name.toLowerCase();
      return lower === 'x-forwarded-host' || lower === 'x-forwarded-port';
    }
    case 17: return name.toLowerCase() === 'x-forwarded-proto';
    default: return false;
  }
}

const DROPPED = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-proto'];

/** Whether the request has a forwarded field at all (most have none: no need to know the peer). */
export function carriesForwarded(req: IncomingMessage): boolean {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (isForwardedName(raw[i]!)) return true;
  return false;
}

/**
 * Removes Forwarded and X-Forwarded-{For,Proto,Host,Port} from a request of an untrusted
 * peer: from `req.rawHeaders` in place (what the fetch bridge reads), and, only when one was
 * found, from `req.headers` and `req.headersDistinct`.
 */
export function stripForwarded(req: IncomingMessage): void {
  const raw = req.rawHeaders;
  const n = raw.length;
  let i = 0;
  while (i < n && !isForwardedName(raw[i]!)) i += 2;
  if (i >= n) return;
  // Node builds these when first read, from rawHeaders and the count of fields it parsed (a
  // shorter rawHeaders makes it throw): they are built before it shrinks, then fixed up. An
  // HTTP/2 request has no headersDistinct.
  const headers = req.headers;
  const distinct = req.headersDistinct as IncomingMessage['headersDistinct'] | undefined;
  let w = i;
  for (i += 2; i < n; i += 2) {
    if (isForwardedName(raw[i]!)) continue;
    raw[w] = raw[i]!;
    raw[w + 1] = raw[i + 1]!;
    w += 2;
  }
  raw.length = w;
  for (const name of DROPPED) {
    delete headers[name];
    if (distinct) delete distinct[name];
  }
}
