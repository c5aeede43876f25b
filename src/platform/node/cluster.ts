// node:cluster, where narwhal goes past its public API: a narwhal worker presents itself as a
// node:cluster worker (worker/cluster-worker.ts) by setting the module's fields, without
// loading Node's cluster child module, which would route listen() to a primary that does not
// speak its protocol. Node's net then asks the "primary" for a listen() narwhal leaves to it
// (`cluster._getServer`): that is answered here, in the worker.
import cluster from 'node:cluster';
import { constants } from 'node:os';
import { bindHandle } from './net';

/** Makes node:cluster report this process as the worker `worker`. */
export function poseAsClusterWorker(worker: object): void {
  Object.assign(cluster, { isWorker: true, isPrimary: false, isMaster: false, worker, _getServer: bindInWorker });
}

interface ClusterServerQuery {
  address: string | null;
  port: number;
  /** null for an fd. */
  addressType: number | null | 'udp4' | 'udp6';
  fd?: number;
  flags?: number;
}
type ClusterServerCallback = (errno: number, handle: unknown) => void;

/**
 * `cluster._getServer`, what Node's net asks of a node:cluster worker's primary for a
 * non-exclusive listen(): the worker binds the socket itself, as an `exclusive` listen would; the
 * answer comes on the next tick, as an IPC answer would. UDP never asks (dgram.ts makes every
 * bind exclusive): should it, it gets an error, not a crash.
 */
function bindInWorker(_owner: unknown, q: ClusterServerQuery, cb: ClusterServerCallback): void {
  const handle = q.addressType === 'udp4' || q.addressType === 'udp6'
    ? -constants.errno.ENOTSUP
    : bindHandle(q.address, q.port, q.addressType, q.fd, q.flags);
  process.nextTick(() => (typeof handle === 'number' ? cb(handle, null) : cb(0, handle)));
}
