// Round-robin distribution: the master accepts every connection and hands the socket to the
// next ready worker over IPC, as node:cluster's primary does. It knows exactly which workers
// take new connections, so a draining or booting worker never gets one.
//
// The master keeps its own copy of each connection until the worker has it. The receipt costs
// nothing: a child's Node answers every handle it gets with an internal ACK before anything in
// the child can read from the socket (platform/node/child_process.ts), so until that ACK nobody
// has read a byte and the connection can still go to another worker:
//   - a worker that dies (SIGKILL, crash) with connections sent but not received: they go to
//     another worker when its IPC channel closes (by then every receipt it sent has been read);
//   - a worker out of file descriptors refuses the handle (NACK): the next worker gets it;
//   - no ready worker: the connection waits, for at most the header timeout, then is closed,
//     so no client ever hangs on a connection the master could not hand over.
// With --sticky the master first reads each connection's request line (socketio/sticky.ts) and routes
// by session; the handle then goes over exactly as above, with the bytes read.
import type net from 'node:net';
import type { Settings } from '../config/settings';
import type { Listener } from '../http/listeners';
import type { Logger } from '../log/logger';
import { onHandleReceipt } from '../platform/node/child_process';
import { acceptOn, detachHandle, pausedSocketOn, type RawServerHandle } from '../platform/node/net';
import { headLimits, readHead, type Head, type StickyRouter } from './socketio/sticky';
import type { WorkerHandle } from './worker-handle';

/** --sticky: route by session (socketio/sticky.ts) instead of taking turns. */
export interface StickyRouting {
  router: StickyRouter;
  /** Whether to read a PROXY preamble from this peer first (proxy_protocol, trusted peer). */
  preamble: (peer: string | undefined) => boolean;
  /** The workers terminate TLS: route by client address, nothing else is readable. */
  tls: boolean;
}

/** How often, and how long, to wait for a worker to report a session it has just made. */
const UNKNOWN_SESSION_RETRIES = 5;
const UNKNOWN_SESSION_RETRY_MS = 10;

/** Connections held while no worker is ready (during boot): bounded like a listen backlog. */
const MAX_WAITING = 4096;
/** A connection is handed over at most this many times (each worker it went to died first). */
const MAX_HANDOVERS = 5;
/** How long a connection may wait for a ready worker when no header timeout is set. */
const DEFAULT_HOLD_S = 60;

interface Connection {
  listener: number;
  client: RawServerHandle;
  /** --sticky: what was read from it (handed over with it), and its session. */
  head?: Head;
  /** When it first waited for a ready worker (0 until then). */
  since: number;
  handovers: number;
  /** Workers that could not receive it (out of file descriptors). */
  refusedBy?: Set<WorkerHandle>;
}

/** How long a connection may wait for a worker: a worker would refuse it after the header timeout. */
export const holdLimitMs = (settings: Settings): number => (settings.header_timeout || DEFAULT_HOLD_S) * 1000;

export class RoundRobin {
  private next = 0;
  private readonly waiting: Connection[] = [];
  /** Per worker that sends receipts: connections sent and not yet received, oldest first. */
  private readonly unconfirmed = new Map<WorkerHandle, Connection[]>();
  private expiry: NodeJS.Timeout | null = null;

  constructor(
    private readonly readyWorkers: () => WorkerHandle[],
    private readonly log: Logger,
    private readonly settings: () => Settings,
    private readonly sticky: StickyRouting | null = null,
  ) {}

  start(listeners: Listener[], backlog: number): void {
    listeners.forEach((listener, index) => {
      acceptOn(listener.handle, backlog, (client) => {
        if (this.sticky) this.readThenRoute(index, client, this.sticky);
        else this.dispatch({ listener: index, client, since: 0, handovers: 0 });
      });
    });
    if (this.sticky) setInterval(() => this.sticky!.router.sweep(), 60_000).unref();
  }

  /** Follows a new worker's receipts; called once, right after it is spawned. */
  track(worker: WorkerHandle): void {
    const queue: Connection[] = [];
    const tracked = onHandleReceipt(worker.child, (received) => {
      const conn = queue.shift();
      if (!conn) return;
      if (received) return conn.client.close();
      (conn.refusedBy ??= new Set()).add(worker);
      this.dispatch(conn);
    });
    if (!tracked) return;
    this.unconfirmed.set(worker, queue);
    // 'close' comes after the last message the worker sent has been read: what is still
    // unconfirmed then never reached it. (A process the app started may hold the IPC channel
    // open past the worker's exit: a second after the exit, the pipe has been read anyway.)
    worker.child.once('close', () => this.release(worker));
    worker.child.once('exit', () => setTimeout(() => this.release(worker), 1000).unref());
  }

  /** Hands over connections held while no worker was ready. */
  flush(): void {
    // One pass: what still finds no ready worker goes back to the queue, in order.
    for (let n = this.waiting.length; n > 0; n--) this.dispatch(this.waiting.shift()!);
  }

  private release(worker: WorkerHandle): void {
    const queue = this.unconfirmed.get(worker);
    if (!queue) return;
    this.unconfirmed.delete(worker);
    if (queue.length === 0) return;
    this.log.info(`Worker (pid:${worker.pid}) exited before it received ${queue.length} connection(s): handing them to other workers`);
    for (const conn of queue.splice(0)) this.dispatch(conn);
  }

  /** --sticky: reads the connection's request line (or only its PROXY preamble under TLS), then routes it. */
  private readThenRoute(listener: number, client: RawServerHandle, sticky: StickyRouting): void {
    const socket = pausedSocketOn(client);
    // Until it is handed over, an error (a reset) only ends this connection.
    socket.on('error', () => socket.destroy());
    const preamble = sticky.preamble(socket.remoteAddress);
    if (sticky.tls && !preamble) return this.route(listener, socket, { bytes: Buffer.alloc(0), sid: null, client: socket.remoteAddress }, 0);
    socket.resume();
    void readHead(socket, { preamble, tls: sticky.tls, ...headLimits(this.settings(), this.log) }).then((head) => this.route(listener, socket, head, 0));
  }

  private route(listener: number, socket: net.Socket, head: Head, attempt: number): void {
    if (socket.destroyed) return;
    // A session a worker made a moment ago may not be reported yet: its report is on its way.
    if (head.sid !== null && !this.sticky!.router.knows(head.sid) && attempt < UNKNOWN_SESSION_RETRIES) {
      return void setTimeout(() => this.route(listener, socket, head, attempt + 1), UNKNOWN_SESSION_RETRY_MS);
    }
    // From here on the master holds the bare handle, as for any connection: the bytes the
    // socket read (the head, and anything after it) go over with it.
    const client = detachHandle(socket);
    if (!client) return void socket.destroy();
    const rest: Buffer[] = [];
    for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null;) rest.push(chunk);
    socket.removeAllListeners();
    const bytes = rest.length > 0 ? Buffer.concat([head.bytes, ...rest]) : head.bytes;
    this.dispatch({ listener, client, head: { ...head, bytes }, since: 0, handovers: 0 });
  }

  private dispatch(conn: Connection): void {
    if (conn.handovers >= MAX_HANDOVERS) return conn.client.close();
    const worker = conn.head ? this.pickBySession(conn, conn.head) : this.pick(conn);
    if (worker) return this.handOver(worker, conn);
    // Every ready worker refused it (out of file descriptors): fail it now rather than spin.
    if (conn.refusedBy && this.readyWorkers().length > 0) return conn.client.close();
    if (this.waiting.length >= MAX_WAITING) return conn.client.close();
    conn.since ||= Date.now();
    this.waiting.push(conn);
    this.expiry ??= setInterval(() => this.expire(), 1000).unref();
  }

  /**
   * The next ready worker in round-robin order, skipping those still waiting to receive an
   * earlier connection when another is not (a worker whose event loop is busy queues handles).
   */
  private pick(conn: Connection): WorkerHandle | null {
    const workers = this.readyWorkers();
    const start = this.next;
    let best: WorkerHandle | null = null;
    let bestLoad = Infinity;
    let bestOffset = 0;
    for (let i = 0; i < workers.length && bestLoad > 0; i++) {
      const worker = workers[(start + i) % workers.length]!;
      if (worker.state !== 'ready' || !worker.child.connected || conn.refusedBy?.has(worker)) continue;
      const load = this.unconfirmed.get(worker)?.length ?? 0;
      if (load < bestLoad) [best, bestLoad, bestOffset] = [worker, load, i];
    }
    if (best) this.next = (start + bestOffset + 1) % workers.length;
    return best;
  }

  /** --sticky: the session's worker (socketio/sticky.ts), among the ready ones that did not refuse it. */
  private pickBySession(conn: Connection, head: Head): WorkerHandle | null {
    const ready = this.readyWorkers().filter((w) => w.child.connected && !conn.refusedBy?.has(w));
    return this.sticky!.router.pick(head, ready, this.sticky!.tls);
  }

  private handOver(worker: WorkerHandle, conn: Connection): void {
    conn.handovers++;
    const message = { t: 'conn' as const, listener: conn.listener, ...(conn.head?.bytes.length ? { head: conn.head.bytes.toString('base64') } : {}) };
    const queue = this.unconfirmed.get(worker);
    if (!queue) {
      // No receipts from this Node: the write completing is all the master can know.
      worker.send(message, conn.client, (err) => {
        if (err && !worker.child.connected) return this.dispatch(conn);
        conn.client.close();
      });
      return;
    }
    queue.push(conn);
    worker.send(message, conn.client, (err) => {
      if (!err) return;
      // Not written: no receipt will come for this one.
      const at = queue.indexOf(conn);
      if (at >= 0) queue.splice(at, 1);
      this.dispatch(conn);
    });
  }

  /** Closes connections that waited longer than the hold limit for a ready worker. */
  private expire(): void {
    const limit = holdLimitMs(this.settings());
    const now = Date.now();
    let closed = 0;
    for (let n = this.waiting.length; n > 0; n--) {
      const conn = this.waiting.shift()!;
      if (now - conn.since < limit) this.waiting.push(conn);
      else {
        conn.client.close();
        closed++;
      }
    }
    if (closed > 0) this.log.warning(`Closed ${closed} connection(s) that waited ${limit / 1000}s for a ready worker`);
    if (this.waiting.length === 0 && this.expiry) {
      clearInterval(this.expiry);
      this.expiry = null;
    }
  }
}
