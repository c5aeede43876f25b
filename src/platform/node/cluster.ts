// node:cluster, where narwhal goes past its public API: a narwhal worker presents itself as a
// node:cluster worker (worker/cluster-worker.ts) by setting the module's fields, without
// loading Node's cluster child module, which would route listen() to a primary that does not
// speak its protocol. Node's net and dgram then ask the "primary" for a listen() narwhal leaves
// to Node and for a UDP bind (`cluster._getServer`): that is answered here, in the worker.
import cluster from 'node:cluster';
import dgram from 'node:dgram';
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
 * `cluster._getServer`: what Node's net (a non-exclusive listen()) and dgram (bind()) ask of a
 * node:cluster worker's primary. The worker binds such sockets itself, as a primary or an
 * `exclusive` listen would; the answer comes on the next tick, as an IPC answer would.
 */
function bindInWorker(_owner: unknown, q: ClusterServerQuery, cb: ClusterServerCallback): void {
  let handle: unknown;
  if (q.addressType === 'udp4' || q.addressType === 'udp6') {
    // Deprecated as a public API (DEP0112), it is dgram's own way to bind: say nothing of it.
    const quiet = process.noDeprecation;
    process.noDeprecation = true;
    try {
      handle = (dgram as unknown as { _createSocketHandle: (...a: unknown[]) => unknown })._createSocketHandle(q.address, q.port, q.addressType, q.fd, q.flags);
    } finally {
      process.noDeprecation = quiet;
    }
  } else {
    handle = bindHandle(q.address, q.port, q.addressType, q.fd, q.flags);
  }
  process.nextTick(() => (typeof handle === 'number' ? cb(handle, null) : cb(0, handle)));
}
