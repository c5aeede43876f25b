// Extra servers of the app (a metrics or debug endpoint next to the one narwhal serves; see
// worker/adopt.ts, rule 5): the master binds each address once, when a worker first asks, and
// shares the listening socket with every worker that asks, as node:cluster's primary shares its
// workers' listen(). The workers accept on it themselves; narwhal's limits, logs and metrics do
// not apply to it. The sockets live as long as the master.
import { constants } from 'node:os';
import { BindError, bindOne, closeAll, type Listener } from '../http/listeners';
import type { Logger } from '../log/logger';
import type { WorkerIdentity } from '../platform/users';
import type { WorkerHandle } from './worker-handle';
import { checkWorkerBind, giveToWorker } from './worker-binds';

const EINVAL = -22;

export class ExtraListeners {
  private readonly bound = new Map<string, Promise<Listener>>();

  constructor(private readonly log: Logger, private readonly served: () => string, private readonly identity?: WorkerIdentity) {}

  /** A worker's `listen` request: answers with the listening handle, or the bind's errno. */
  async share(worker: WorkerHandle, id: number, address: string): Promise<void> {
    let listener = this.bound.get(address);
    if (!listener) {
      listener = this.bind(address);
      this.bound.set(address, listener);
      listener.then(
        (l) => this.log.info(`The app also listens on ${l.url}: bound by the master and shared by the workers, as node:cluster does ` +
          `(narwhal's limits, logs and metrics apply to the server it serves at ${this.served()})`),
        (err: Error) => {
          this.bound.delete(address);
          this.log.warning(`The app asked to listen on ${address}: ${err.message}`);
        },
      );
    }
    try {
      const l = await listener;
      worker.send({ t: 'listen-result', id }, l.handle);
    } catch (err) {
      worker.send({ t: 'listen-result', id, errno: err instanceof BindError && err.errno ? err.errno : EINVAL });
    }
  }

  /** ":PORT" (no host) binds [::] where the system has IPv6, else 0.0.0.0, as Node does. */
  private async bind(address: string): Promise<Listener> {
    // Privilege separation (worker-binds.ts): only what the worker could have bound itself.
    const refusal = await checkWorkerBind(address, this.identity);
    if (refusal) throw new BindError(`refused: ${refusal.reason}`, -constants.errno[refusal.errno]);
    if (!address.startsWith(':')) {
      const l = await bindOne(address);
      // A socket file the worker would have made is the worker's, as if it had made it.
      if (l.unixPath) giveToWorker(l.unixPath, this.identity);
      return l;
    }
    try {
      return await bindOne(`[::]${address}`);
    } catch (err) {
      if (err instanceof BindError && err.message.includes('EADDRINUSE')) throw err;
      return bindOne(`0.0.0.0${address}`);
    }
  }

  async closeAll(): Promise<void> {
    const settled = await Promise.allSettled(this.bound.values());
    closeAll(settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])));
    this.bound.clear();
  }
}
