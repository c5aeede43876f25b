// Where the served server's connections come from, and what happens to them on the way: the
// master's round-robin hands accepted sockets over IPC; in shared and reuseport modes the
// worker accepts on its own listening socket. Either way the connection is tracked for drains,
// its PROXY preamble read (proxy_protocol, trusted peers), its TLS handshake done (certfile),
// and then it is delivered to the server as the server's own accept would.
import net from 'node:net';
import tls from 'node:tls';
import type { Settings } from '../config/settings';
import type { ListenerPlan } from '../protocol';
import { readPreamble } from '../http/proxy-protocol';
import type { TlsFiles } from '../http/tls';
import { deliverConnection, socketFromHandle } from '../platform/node-internals';
import type { Instrumented } from './instrument';

/** Starts a listening socket of narwhal's own, outside the listen() adoption rule. */
export type ListenDirectly = (server: net.Server, options: net.ListenOptions & { fd?: number }, cb: () => void) => void;

export class ConnectionFeed {
  /** Listening sockets of this worker (shared, reuseport); none in round-robin. */
  private readonly gates: net.Server[] = [];
  /** With certfile: runs the handshake, then hands the TLSSocket on. */
  private readonly tlsFront: tls.Server | null;
  private stopped = false;

  constructor(
    private readonly http: Instrumented,
    private readonly settings: Settings,
    tlsFiles: TlsFiles | null,
  ) {
    this.tlsFront = tlsFiles ? this.createTlsFront(tlsFiles) : null;
  }

  private createTlsFront(files: TlsFiles): tls.Server {
    const front = tls.createServer({ cert: files.cert, key: files.key, ALPNProtocols: ['http/1.1'] });
    front.on('secureConnection', (secure: tls.TLSSocket) => deliverConnection(this.http.server, secure));
    // A failed handshake (a plain-HTTP client, a bad certificate) ends that connection only.
    front.on('tlsClientError', (_err: Error, secure: tls.TLSSocket) => secure.destroy());
    return front;
  }

  /** Starts this worker's own listening sockets (shared and reuseport modes). */
  async listen(plans: ListenerPlan[], listenDirectly: ListenDirectly): Promise<void> {
    await Promise.all(plans.map((plan) => {
      if (plan.kind === 'forwarded') return Promise.resolve();
      const gate = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.admit(socket));
      this.gates.push(gate);
      return new Promise<void>((resolve, reject) => {
        gate.once('error', reject);
        const options: net.ListenOptions & { fd?: number } = plan.kind === 'inherited'
          ? { fd: plan.fd, backlog: this.settings.backlog }
          : { host: plan.host, port: plan.port, backlog: this.settings.backlog, reusePort: true } as net.ListenOptions;
        listenDirectly(gate, options, () => { gate.off('error', reject); resolve(); });
      });
    }));
  }

  /** A connection the master accepted and forwarded (round-robin distribution). */
  accept(handle: unknown, head?: string): void {
    // Accepted even when stopping: the master sent it before it asked this worker to drain,
    // and its request is answered (with Connection: close).
    const socket = socketFromHandle(handle, this.http.server);
    // --sticky: the bytes the master read to route the connection come first.
    if (head) socket.unshift(Buffer.from(head, 'base64'));
    this.admit(socket);
  }

  /** Stops accepting on this worker's own sockets. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const gate of this.gates) if (gate.listening) gate.close();
  }

  private admit(socket: net.Socket): void {
    this.http.track(socket);
    // A preamble is read from trusted peers only, and trust is decided on the real peer, before
    // the preamble replaces it.
    if (!this.settings.proxy_protocol || !this.http.isTrusted(socket)) return this.handOn(socket);
    readPreamble(socket, () => {
      if (!this.tlsFront || socket.readableLength === 0) return this.handOn(socket);
      // The bytes after the preamble (the ClientHello) were put back on the socket, and
      // readPreamble resumes it as soon as this returns: TLS, which reads bytes put back only on
      // its next tick, would find them already emitted to no one. Take them out until it has.
      const head: Buffer[] = [];
      for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null;) head.push(chunk);
      process.nextTick(() => {
        if (socket.destroyed) return;
        socket.pause();
        for (let i = head.length - 1; i >= 0; i--) socket.unshift(head[i]!);
        this.handOn(socket);
      });
    });
  }

  private handOn(socket: net.Socket): void {
    if (this.tlsFront) this.tlsFront.emit('connection', socket);
    else deliverConnection(this.http.server, socket);
  }
}
