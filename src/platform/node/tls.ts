// node:tls, where narwhal goes past its public API: the TCP socket under a TLS socket, which
// narwhal tracks for drains and whose addresses a PROXY preamble may have replaced.
import type net from 'node:net';

/** The TCP socket a TLSSocket wraps (Node keeps it as `_parent`); undefined for any other socket or if not exposed. */
export function tlsParent(socket: net.Socket): net.Socket | undefined {
  return (socket as net.Socket & { _parent?: net.Socket | null })._parent ?? undefined;
}
