// What narwhal keeps on a connection and on a response in progress, in symbol-keyed fields:
// no map lookups and no closures per request. Both the connection tracking (connections.ts) and
// the request gate (request-gate.ts) read them, so they live here, importing neither.
import type { ServerResponse, IncomingMessage } from 'node:http';
import type http2 from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';

/** The tracker a tracked connection reports to when it closes (one shared listener). */
export const kTracker = Symbol('narwhal.connectionTracker');
export const kActive = Symbol('narwhal.activeRequests');
export const kServed = Symbol('narwhal.servedRequests');
/** Whether the peer is in forwarded_allow_ips: decided once per connection, on the real peer. */
export const kTrusted = Symbol('narwhal.trustedPeer');
/** Handed to the app's 'upgrade' or 'connect' listener: no longer HTTP, the app's to close. */
export const kUpgraded = Symbol('narwhal.upgraded');
/**
 * With TLS, the tracked connection is the TCP socket (so a drain also waits for handshakes in
 * progress) and requests come on the TLSSocket over it: each side points at the other. A tracked
 * connection points at itself, so that it can be found through the socket proxies of HTTP/2.
 */
export const kConn = Symbol('narwhal.connection');
export const kTls = Symbol('narwhal.tlsSocket');
/** An HTTP/2 connection's session: its streams are its requests, a drain sends it GOAWAY. */
export const kSession = Symbol('narwhal.http2Session');
/** An idle HTTP/2 session of a recycled worker: GOAWAY goes with its next request. */
export const kGoawayNext = Symbol('narwhal.goawayOnNextRequest');
/** Requests an HTTP/2 connection had served at the last idle sweep. */
export const kSwept = Symbol('narwhal.servedAtLastSweep');
/** The highest HTTP/2 stream id Node has handed over (its header block complete). */
export const kLastStream = Symbol('narwhal.lastCompleteStream');
/** The HTTP/2 header block waited for (its stream id; 0: the first) and since when (ms). */
export const kHeadersBlock = Symbol('narwhal.headerBlockAwaited');
export const kHeadersSince = Symbol('narwhal.headerBlockSince');

export interface ConnectionOwner {
  untrack(socket: TrackedSocket): void;
}

export type TrackedSocket = net.Socket & {
  [kActive]: number; [kServed]: number; [kTrusted]?: boolean; [kUpgraded]?: boolean;
  [kConn]?: TrackedSocket; [kTls]?: tls.TLSSocket; [kSession]?: http2.ServerHttp2Session; [kGoawayNext]?: boolean;
  [kSwept]?: number; [kTracker]?: ConnectionOwner;
  [kLastStream]?: number; [kHeadersBlock]?: number; [kHeadersSince]?: number;
};

/** The tracked connection a request's socket belongs to (itself, or the TCP socket under TLS). */
export const connOf = (socket: net.Socket): TrackedSocket => (socket as TrackedSocket)[kConn] ?? (socket as TrackedSocket);

/** Shared by every tracked connection: 'close' untracks it. */
export function onTrackedClose(this: TrackedSocket): void {
  this[kTracker]!.untrack(this);
}

/** The gate a response in progress reports to, with what its shared listeners need. */
export const kGate = Symbol('narwhal.requestGate');
export const kRequest = Symbol('narwhal.request');
export const kSocket = Symbol('narwhal.requestConnection');
export const kStart = Symbol('narwhal.requestStart');
export const kPeer = Symbol('narwhal.requestPeer');

export interface ResponseOwner {
  responseClosed(res: OpenResponse): void;
  responseError(res: OpenResponse, err: Error): void;
}

/** A response in progress. */
export type OpenResponse = ServerResponse & {
  [kGate]: ResponseOwner; [kRequest]: IncomingMessage; [kSocket]: TrackedSocket | null; [kStart]: number; [kPeer]: net.Socket;
};

export function onResponseClose(this: OpenResponse): void {
  this[kGate].responseClosed(this);
}
export function onResponseError(this: OpenResponse, err: Error): void {
  this[kGate].responseError(this, err);
}
