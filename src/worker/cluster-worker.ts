// A narwhal worker presents itself to the app as a node:cluster worker: `cluster.isWorker` is
// true, `cluster.isPrimary` false and `cluster.worker` is set, so that code written for
// node:cluster runs unchanged — @socket.io/sticky's setupWorker(io) (which refuses to run
// elsewhere), and scripts that fork in the primary and listen in the workers (they take the
// worker branch here, and their listen() is adopted). Node's cluster child module itself is not
// loaded: it would route listen() to a primary that does not speak its protocol. What Node's net
// and dgram then ask of the "primary" (`cluster._getServer`, for a listen() narwhal leaves to
// Node and a UDP bind) is answered in the worker: it binds itself.
import cluster from 'node:cluster';
import { EventEmitter } from 'node:events';
import { bindInWorker } from '../platform/node-internals';

export function presentAsClusterWorker(id: number): void {
  const worker = Object.assign(new EventEmitter(), {
    id,
    process,
    exitedAfterDisconnect: undefined,
    send: (message: unknown, ...rest: unknown[]) => (process.send as (...a: unknown[]) => boolean)(message, ...rest),
    isConnected: () => process.connected,
    isDead: () => false,
    disconnect: () => process.disconnect?.(),
    kill: () => process.kill(process.pid, 'SIGTERM'),
  });
  process.on('message', (message: unknown) => worker.emit('message', message));
  Object.assign(cluster, { isWorker: true, isPrimary: false, isMaster: false, worker, _getServer: bindInWorker });
}
