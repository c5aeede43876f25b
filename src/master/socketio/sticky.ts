// Sticky sessions (--sticky): with Socket.IO's default transports (HTTP long-polling, then an
// upgrade to WebSocket) every request of an Engine.IO session must reach the worker that made
// the session. The master reads the request line of each new connection (bounded in bytes and
// time), finds the session id (`sid=` in the query) and routes by it; the workers tell it which
// sessions they made (worker/socketio/sessions.ts, or @socket.io/sticky's setupWorker messages)
// and when they end. New sessions go to the ready worker with the fewest sessions. Where the
// master cannot read the request (the workers terminate TLS), it routes by client address —
// the PROXY preamble's where proxy_protocol is on. The bytes read are handed over with the socket.
import type net from 'node:net';
import type { Settings } from '../../config/settings';
import type { Logger } from '../../log/logger';
import { sessionIdOf } from '../../http/engine-io';
import { INVALID, MORE, NONE, parseProxyHeader } from '../../http/proxy-protocol';
import type { WorkerHandle } from '../worker-handle';

/** Enough for any request line narwhal accepts (limit_request_line is at most 64 KiB). */
export const HEAD_MAX_BYTES = 64 * 1024;
/** A connection that sends nothing this long is handed over as it is. */
export const HEAD_TIMEOUT_MS = 5000;
/** The longest PROXY preamble the master reads to route by (v1 is at most 107 bytes; v2 with its TLVs). */
export const PREAMBLE_MAX_BYTES = 4096;
/** A session nobody asked for in this long is forgotten (its worker may never say it ended). */
export const SESSION_IDLE_MS = 10 * 60_000;

/**
 * The most the master reads of a connection to route it: the longest request line the workers
 * accept (limit_request_line; 0 = Gunicorn's 8190) and a PROXY preamble. A longer line is
 * refused by the worker (414) anyway: reading on would only cost the master.
 */
export const headMaxBytes = (limitRequestLine: number): number =>
  Math.min(HEAD_MAX_BYTES, (limitRequestLine || 8190) + PREAMBLE_MAX_BYTES);

/** Connections the master is reading at once; over `maxReads`, connections are routed unread. */
let reading = 0;
let warnedAt = 0;

/**
 * readHead's bounds from the settings: the request-line limit plus a preamble, and at most
 * `backlog` connections read at once (a warning, once a minute, when that is reached).
 */
export function headLimits(settings: Pick<Settings, 'limit_request_line' | 'backlog'>, log: Logger): Pick<HeadOptions, 'maxBytes' | 'maxReads' | 'onBusy'> {
  return {
    maxBytes: headMaxBytes(settings.limit_request_line),
    maxReads: settings.backlog,
    onBusy: () => {
      if (Date.now() - warnedAt < 60_000) return;
      warnedAt = Date.now();
      log.warning(`sticky: ${settings.backlog} connections (backlog) are being read at once: routing new ones unread, as new sessions`);
    },
  };
}

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
  /**
   * The most connections read at once (the listen backlog): one over it is routed without
   * being read (as a new session), so slow clients cannot make the master hold many buffers.
   */
  maxReads?: number;
  /** Told when a connection is routed unread because of maxReads. */
  onBusy?: () => void;
}

/**
 * Reads a connection's first bytes: the PROXY preamble if asked, then (without TLS) up to the
 * end of the request line; pauses the socket and resolves with what it read. Never rejects: a
 * connection that closes, errs or stalls resolves with what came. Linear in the bytes read:
 * each chunk is scanned once and the chunks are joined once, at the end (only a preamble still
 * incomplete is joined as it grows, and it is at most PREAMBLE_MAX_BYTES).
 */
export function readHead(socket: net.Socket, options: HeadOptions): Promise<Head> {
  const max = options.maxBytes ?? HEAD_MAX_BYTES;
  if (options.maxReads !== undefined && reading >= options.maxReads) {
    options.onBusy?.();
    socket.pause();
    return Promise.resolve({ bytes: Buffer.alloc(0), sid: null, client: socket.remoteAddress });
  }
  reading++;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    /** The preamble, while it is incomplete: joined as it grows (bounded by PREAMBLE_MAX_BYTES). */
    let start: Buffer | null = options.preamble ? Buffer.alloc(0) : null;
    let client = socket.remoteAddress;
    let lineStart = 0;
    let eol = -1;
    let done = false;
    /** `parse`: the line (or as much of it as the cap let in) is read; else a close, an error or a stall. */
    const finish = (parse = false) => {
      if (done) return;
      done = true;
      reading--;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.pause();
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
      const sid = parse ? sessionIdOf(bytes.toString('latin1', lineStart, eol < 0 ? length : eol)) : null;
      resolve({ bytes, sid, client });
    };
    const onEnd = () => finish();
    const onData = (chunk: Buffer) => {
      const at = length;
      chunks.push(chunk);
      length += chunk.length;
      if (start !== null) {
        start = start.length === 0 ? chunk : Buffer.concat([start, chunk]);
        const header = parseProxyHeader(start);
        if (header === MORE && start.length < Math.min(max, PREAMBLE_MAX_BYTES)) return;
        if (header === MORE || header === INVALID) return finish();
        start = null;
        lineStart = header === NONE ? 0 : header.length;
        if (header !== NONE && header.address) client = header.address;
        if (options.tls) return finish();
        // The line may already be in what came with the preamble.
        const joined = Buffer.concat(chunks, length);
        chunks.length = 0;
        chunks.push(joined);
        eol = joined.indexOf(0x0a, lineStart);
      } else {
        if (options.tls) return finish();
        // Only the new bytes are scanned.
        const found = chunk.indexOf(0x0a, Math.max(0, lineStart - at));
        if (found >= 0) eol = at + found;
      }
      if (eol >= 0 || length >= max) finish(true);
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
