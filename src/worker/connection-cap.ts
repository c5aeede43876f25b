// worker_connections (Gunicorn's and nginx's): the most connections one worker serves at once.
// Idle or slow clients would otherwise hold a file descriptor each until the worker runs out.
// A connection over the cap is not read: it waits, paused, in a queue as long as the listen
// backlog, until a served connection closes (then it is served, oldest first) or until
// header_timeout (then it is closed, as a client that sent nothing). Beyond the queue, a new
// connection is closed at once. Nothing reaches the app or its memory while it waits, and the
// worker's descriptors stay below worker_connections + backlog.
import type net from 'node:net';
import type { Logger } from '../log/logger';

interface Waiting {
  socket: net.Socket;
  next: (socket: net.Socket) => void;
  since: number;
}

const kCap = Symbol('narwhal.connectionCap');
type CappedSocket = net.Socket & { [kCap]?: ConnectionCap };

function onServedClose(this: CappedSocket): void {
  this[kCap]?.closed();
}

/** How often the cap's warning may be logged. */
const WARN_EVERY_MS = 60_000;

export class ConnectionCap {
  private open = 0;
  private readonly waiting: Waiting[] = [];
  private expiry: NodeJS.Timeout | null = null;
  private warnedAt = 0;

  constructor(
    private readonly cap: number,
    private readonly maxWaiting: number,
    private readonly holdMs: number,
    private readonly log: Logger,
  ) {}

  /** Serves `socket` through `next` now if the worker is below the cap, else queues or closes it. */
  admit(socket: net.Socket, next: (socket: net.Socket) => void): void {
    if (this.cap <= 0) return next(socket);
    if (this.open < this.cap) return this.serve(socket, next, false);
    this.warn();
    if (this.waiting.length >= this.maxWaiting) return void socket.destroy();
    socket.pause();
    const entry = { socket, next, since: Date.now() };
    this.waiting.push(entry);
    socket.once('close', () => {
      const at = this.waiting.indexOf(entry);
      if (at >= 0) this.waiting.splice(at, 1);
    });
    socket.on('error', () => socket.destroy());
    this.expiry ??= setInterval(() => this.expire(), Math.max(100, Math.min(1000, this.holdMs / 4))).unref();
  }

  /** Served and waiting connections (for tests and status). */
  get counts(): { open: number; waiting: number } {
    return { open: this.open, waiting: this.waiting.length };
  }

  private serve(socket: net.Socket, next: (socket: net.Socket) => void, paused: boolean): void {
    this.open++;
    // One shared listener, the cap in a field: no closure per connection.
    (socket as CappedSocket)[kCap] = this;
    socket.on('close', onServedClose);
    next(socket);
    // http does not resume a stream that was paused explicitly (the pattern of proxy-protocol.ts).
    if (paused) socket.resume();
  }

  /** A served connection closed. */
  closed(): void {
    this.open--;
    this.release();
  }

  private release(): void {
    while (this.open < this.cap && this.waiting.length > 0) {
      const { socket, next } = this.waiting.shift()!;
      if (socket.destroyed) continue;
      this.serve(socket, next, true);
    }
  }

  private expire(): void {
    const now = Date.now();
    while (this.waiting.length > 0 && now - this.waiting[0]!.since >= this.holdMs) this.waiting.shift()!.socket.destroy();
    if (this.waiting.length === 0 && this.expiry) {
      clearInterval(this.expiry);
      this.expiry = null;
    }
  }

  private warn(): void {
    const now = Date.now();
    if (now - this.warnedAt < WARN_EVERY_MS) return;
    this.warnedAt = now;
    this.log.warning(`worker_connections (${this.cap}) reached: new connections wait until one closes (raise --worker-connections if this is normal load)`);
  }
}
