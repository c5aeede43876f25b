// The master's part in Socket.IO across workers, so that apps written for node:cluster work
// unchanged: it relays @socket.io/cluster-adapter's messages between workers, as the adapter's
// setupPrimary() does in a node:cluster primary (broadcasts, rooms and serverSideEmit reach every
// worker; a response goes back to the worker that asked), and it learns sessions from
// @socket.io/sticky's setupWorker(), whose workers report them to their primary.
import type { WorkerHandle } from '../worker-handle';

/** @socket.io/cluster-adapter marks its messages with this source. */
const ADAPTER_SOURCE = '_sio_adapter';
/**
 * socket.io-adapter's MessageType values for responses, which go to the requester only
 * (FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT_RESPONSE); everything else goes to all other workers.
 */
const RESPONSES = new Set([8, 10]);

interface AdapterMessage {
  source: string;
  type?: number;
  uid?: string;
  requesterUid?: string;
}

/** Messages a worker's app sends its primary that narwhal's master understands. */
export type AppMessage = AdapterMessage | { type: 'sticky:connection' | 'sticky:disconnection'; data: string };

export function isAppMessage(m: unknown): m is AppMessage {
  const o = m as { source?: unknown; type?: unknown } | null;
  return o !== null && typeof o === 'object' && (o.source === ADAPTER_SOURCE || o.type === 'sticky:connection' || o.type === 'sticky:disconnection');
}

export class SocketIoRelay {
  /** The adapters' uids (one per namespace) each worker has used: where responses go. */
  private readonly uids = new WeakMap<WorkerHandle, Set<string>>();

  constructor(
    private readonly workers: () => Iterable<WorkerHandle>,
    /** A session made or ended, reported through @socket.io/sticky's setupWorker(). */
    private readonly session: (worker: WorkerHandle, sid: string, open: boolean) => void,
  ) {}

  handle(from: WorkerHandle, m: AppMessage): void {
    if ('data' in m && (m.type === 'sticky:connection' || m.type === 'sticky:disconnection')) {
      if (typeof m.data === 'string') this.session(from, m.data, m.type === 'sticky:connection');
      return;
    }
    const message = m as AdapterMessage;
    if (message.uid) {
      let set = this.uids.get(from);
      if (!set) this.uids.set(from, (set = new Set()));
      set.add(message.uid);
    }
    const targets = [...this.workers()].filter((w) => w !== from && w.state !== 'exited' && w.child.connected);
    if (message.type !== undefined && RESPONSES.has(message.type) && message.requesterUid) {
      const requester = targets.find((w) => this.uids.get(w)?.has(message.requesterUid!));
      if (requester) requester.send(message as never);
      return;
    }
    for (const w of targets) w.send(message as never);
  }
}
