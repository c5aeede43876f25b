// A narwhal worker presents itself to the app as a node:cluster worker: `cluster.isWorker` is
// true, `cluster.isPrimary` false and `cluster.worker` is set, so that code written for
// node:cluster runs unchanged — @socket.io/sticky's setupWorker(io) (which refuses to run
// elsewhere), and scripts that fork in the primary and listen in the workers (they take the
// worker branch here, and their listen() is adopted). What a cluster worker asks of its primary
// is done in the worker: a listen() narwhal leaves to Node binds here (platform/node/cluster.ts),
// and so does every UDP socket (platform/node/dgram.ts).
import { EventEmitter } from 'node:events';
import { poseAsClusterWorker } from '../platform/node/cluster';
import { bindUdpExclusively } from '../platform/node/dgram';

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
  poseAsClusterWorker(worker);
  bindUdpExclusively();
}
