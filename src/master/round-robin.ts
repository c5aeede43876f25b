// Round-robin distribution: the master accepts every connection and hands the socket to the
// next ready worker over IPC, as node:cluster's primary does. It knows exactly which workers
// take new connections, so a draining or booting worker never gets one.
import type { Listener } from '../http/listeners';
import type { RawServerHandle } from '../platform/node-internals';
import type { WorkerHandle } from './worker-handle';

/** Connections held while no worker is ready (during boot): bounded like a listen backlog. */
const MAX_WAITING = 4096;

export class RoundRobin {
  private next = 0;
  private readonly waiting: Array<{ listener: number; client: RawServerHandle }> = [];

  constructor(private readonly readyWorkers: () => WorkerHandle[]) {}

  start(listeners: Listener[], backlog: number): void {
    listeners.forEach((listener, index) => {
      listener.handle.onconnection = (status, client) => {
        if (status === 0 && client) this.dispatch(index, client);
      };
      listener.handle.listen(backlog);
    });
  }

  /** Hands over connections held while no worker was ready. */
  flush(): void {
    // One pass: what still finds no ready worker goes back to the queue, in order.
    for (let n = this.waiting.length; n > 0; n--) {
      const { listener, client } = this.waiting.shift()!;
      this.dispatch(listener, client);
    }
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
