// Round-robin distribution: the master accepts every connection and hands the socket to the
// next ready worker over IPC, as node:cluster's primary does. It knows exactly which workers
// take new connections, so a draining or booting worker never gets one.
import net from 'node:net';
import type { Listener } from '../http/listeners';
import type { RawServerHandle } from '../platform/node-internals';
import { readHead, type Head, type StickyRouter } from './sticky';
import type { WorkerHandle } from './worker-handle';

/** --sticky: route by session (sticky.ts) instead of taking turns. */
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

export class RoundRobin {
  private next = 0;
  private readonly waiting: Array<{ listener: number; client: RawServerHandle }> = [];
  private readonly stickyWaiting: Array<{ listener: number; socket: net.Socket; head: Head }> = [];

  constructor(private readonly readyWorkers: () => WorkerHandle[], private readonly sticky: StickyRouting | null = null) {}

  start(listeners: Listener[], backlog: number): void {
    listeners.forEach((listener, index) => {
      listener.handle.onconnection = (status, client) => {
        if (status !== 0 || !client) return;
        if (this.sticky) this.readThenRoute(index, client, this.sticky);
        else this.dispatch(index, client);
      };
      listener.handle.listen(backlog);
    });
    if (this.sticky) setInterval(() => this.sticky!.router.sweep(), 60_000).unref();
  }

  /** Hands over connections held while no worker was ready. */
  flush(): void {
    // One pass: what still finds no ready worker goes back to the queue, in order.
    for (let n = this.waiting.length; n > 0; n--) {
      const { listener, client } = this.waiting.shift()!;
      this.dispatch(listener, client);
    }
    for (let n = this.stickyWaiting.length; n > 0; n--) {
      const { listener, socket, head } = this.stickyWaiting.shift()!;
      this.route(listener, socket, head, UNKNOWN_SESSION_RETRIES);
    }
  }

  /** --sticky: reads the connection's request line (or only its PROXY preamble under TLS), then routes it. */
  private readThenRoute(listener: number, client: RawServerHandle, sticky: StickyRouting): void {
    const socket = new net.Socket({ handle: client, allowHalfOpen: true, readable: true, writable: true, manualStart: true } as net.SocketConstructorOpts);
    // Until it is handed over, an error (a reset) only ends this connection.
    socket.on('error', () => socket.destroy());
    const preamble = sticky.preamble(socket.remoteAddress);
    if (sticky.tls && !preamble) return this.route(listener, socket, { bytes: Buffer.alloc(0), sid: null, client: socket.remoteAddress }, 0);
    socket.resume();
    void readHead(socket, { preamble, tls: sticky.tls }).then((head) => this.route(listener, socket, head, 0));
  }

  private route(listener: number, socket: net.Socket, head: Head, attempt: number): void {
    if (socket.destroyed) return;
    const { router, tls } = this.sticky!;
    // A session a worker made a moment ago may not be reported yet: its report is on its way.
    if (head.sid !== null && !router.knows(head.sid) && attempt < UNKNOWN_SESSION_RETRIES) {
      return void setTimeout(() => this.route(listener, socket, head, attempt + 1), UNKNOWN_SESSION_RETRY_MS);
    }
    const worker = router.pick(head, this.readyWorkers(), tls);
    if (!worker) {
      if (this.stickyWaiting.length < MAX_WAITING) this.stickyWaiting.push({ listener, socket, head });
      else socket.destroy();
      return;
    }
    socket.removeAllListeners('error');
    // The socket's handle goes to the worker (and is closed here once it has it), with the bytes read.
    worker.send({ t: 'conn', listener, ...(head.bytes.length > 0 ? { head: head.bytes.toString('base64') } : {}) }, socket, (err) => {
      if (err && !worker.child.connected && !socket.destroyed) return this.route(listener, socket, head, UNKNOWN_SESSION_RETRIES);
    });
  }

  private dispatch(listener: number, client: RawServerHandle): void {
    const workers = this.readyWorkers();
    for (let tries = 0; tries < workers.length; tries++) {
      const worker = workers[this.next++ % workers.length]!;
      if (worker.state !== 'ready' || !worker.child.connected) continue;
      worker.send({ t: 'conn', listener }, client, (err) => {
        // Sent: the worker has its own copy of the socket. Not sent: try another worker.
        if (err && !worker.child.connected) return this.dispatch(listener, client);
        client.close();
      });
      return;
    }
    if (this.waiting.length < MAX_WAITING) this.waiting.push({ listener, client });
    else client.close();
  }
}
