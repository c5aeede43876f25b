// Sticky sessions (--sticky): with Socket.IO's default transports (HTTP long-polling, then an
// upgrade to WebSocket) every request of an Engine.IO session must reach the worker that made
// the session. The master reads the request line of each new connection (bounded in bytes and
// time), finds the session id (`sid=` in the query) and routes by it; the workers tell it which
// sessions they made (worker/engine-io-sessions.ts, or @socket.io/sticky's setupWorker messages)
// and when they end. New sessions go to the ready worker with the fewest sessions. Where the
// master cannot read the request (the workers terminate TLS), it routes by client address —
// the PROXY preamble's where proxy_protocol is on. The bytes read are handed over with the socket.
import net from 'node:net';
import { sessionIdOf } from '../http/engine-io';
import { INVALID, MORE, NONE, parseProxyHeader } from '../http/proxy-protocol';
import type { WorkerHandle } from './worker-handle';

/** Enough for any request line narwhal accepts (limit_request_line is at most 64 KiB). */
export const HEAD_MAX_BYTES = 64 * 1024;
/** A connection that sends nothing this long is handed over as it is. */
export const HEAD_TIMEOUT_MS = 5000;
/** A session nobody asked for in this long is forgotten (its worker may never say it ended). */
export const SESSION_IDLE_MS = 10 * 60_000;

/** What the master learned from a connection's first bytes. */
export interface Head {
  /** Everything read, handed to the worker with the socket. */
  bytes: Buffer;
  sid: string | null;
  /** The client address (the PROXY preamble's if there is one): routes when nothing else can. */
  client: string | undefined;
}

export interface HeadOptions {
  /** Read a PROXY preamble first (proxy_protocol, from a trusted peer). */
  preamble: boolean;
  /** The workers terminate TLS: nothing after the preamble is readable. */
  tls: boolean;
  maxBytes?: number;
  timeoutMs?: number;
}

/**
 * Reads a connection's first bytes: the PROXY preamble if asked, then (without TLS) up to the
 * end of the request line; pauses the socket and resolves with what it read. Never rejects: a
 * connection that closes, errs or stalls resolves with what came.
 */
export function readHead(socket: net.Socket, options: HeadOptions): Promise<Head> {
  const max = options.maxBytes ?? HEAD_MAX_BYTES;
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    let client = socket.remoteAddress;
    let lineStart = options.preamble ? -1 : 0;
    const finish = (sid: string | null) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.pause();
      resolve({ bytes: buf, sid, client });
    };
    const onEnd = () => finish(null);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (lineStart < 0) {
        const header = parseProxyHeader(buf);
        if (header === MORE && buf.length < max) return;
        if (header === MORE || header === INVALID) return finish(null);
        lineStart = header === NONE ? 0 : header.length;
        if (header !== NONE && header.address) client = header.address;
      }
      if (options.tls) return finish(null);
      const eol = buf.indexOf(0x0a, lineStart);
      if (eol < 0 && buf.length < max) return;
      finish(sessionIdOf(buf.toString('latin1', lineStart, eol < 0 ? buf.length : eol)));
    };
    const timer = setTimeout(onEnd, options.timeoutMs ?? HEAD_TIMEOUT_MS);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
  });
}

/** A stable small hash of a client address (FNV-1a), for routing without a session id. */
function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Which worker owns which Socket.IO session (learned from the workers), and where a connection goes. */
export class StickyRouter {
  private readonly sessions = new Map<string, { worker: WorkerHandle; seen: number }>();
  private readonly owned = new Map<WorkerHandle, number>();
  private next = 0;

  /** Whether the router knows the session (a worker has reported it). */
  knows(sid: string): boolean {
    return this.sessions.has(sid);
  }

  /**
   * The worker for a connection: the session's owner if it is ready; by client address when the
   * request could not be read (`byClient`); else the ready worker with the fewest sessions
   * (taking turns among equals). A session whose owner is no longer ready is forgotten: its
   * client gets "Session ID unknown" from another worker and reconnects there.
   */
  pick(head: Pick<Head, 'sid' | 'client'>, ready: readonly WorkerHandle[], byClient: boolean, now = Date.now()): WorkerHandle | null {
    if (ready.length === 0) return null;
    if (head.sid !== null) {
      const entry = this.sessions.get(head.sid);
      if (entry && ready.includes(entry.worker)) {
        entry.seen = now;
        return entry.worker;
      }
      if (entry) this.drop(head.sid);
    }
    if (byClient && head.client) return ready[hashOf(head.client) % ready.length]!;
    let best: WorkerHandle | null = null;
    let bestCount = Infinity;
    for (let i = 0; i < ready.length; i++) {
      const worker = ready[(this.next + i) % ready.length]!;
      const count = this.owned.get(worker) ?? 0;
      if (count < bestCount) [best, bestCount] = [worker, count];
    }
    this.next = (this.next + 1) % ready.length;
    return best;
  }

  /** A worker made (`open`) or ended a session. */
  learned(worker: WorkerHandle, sid: string, open: boolean, now = Date.now()): void {
    if (!open) {
      if (this.sessions.get(sid)?.worker === worker) this.drop(sid);
      return;
    }
    if (this.sessions.has(sid)) this.drop(sid);
    this.sessions.set(sid, { worker, seen: now });
    this.owned.set(worker, (this.owned.get(worker) ?? 0) + 1);
  }

  /** A worker exited: its sessions went with it. */
  forget(worker: WorkerHandle): void {
    for (const [sid, entry] of this.sessions) if (entry.worker === worker) this.sessions.delete(sid);
    this.owned.delete(worker);
  }

  /** Forgets sessions nobody asked for in `maxIdleMs`. */
  sweep(now = Date.now(), maxIdleMs = SESSION_IDLE_MS): void {
    for (const [sid, entry] of this.sessions) if (now - entry.seen > maxIdleMs) this.drop(sid);
  }

  sessionCount(worker?: WorkerHandle): number {
    return worker ? this.owned.get(worker) ?? 0 : this.sessions.size;
  }

  private drop(sid: string): void {
    const entry = this.sessions.get(sid);
    if (!entry) return;
    this.sessions.delete(sid);
    const left = (this.owned.get(entry.worker) ?? 1) - 1;
    if (left > 0) this.owned.set(entry.worker, left);
    else this.owned.delete(entry.worker);
  }
}
