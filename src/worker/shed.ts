// The worker's side of the balance (master/balance.ts): asked to shed idle connections, it hands
// the master the file descriptors of up to that many keep-alive connections that are between
// requests — no request in progress, nothing of the next one read, nothing left to write — and
// forgets them. Whatever the client sends meanwhile waits in the kernel for the worker that gets
// the connection next; the client sees nothing.
import type http from 'node:http';
import type net from 'node:net';
import { idleConnections } from '../platform/node/http';
import { detachHandle, type RawServerHandle } from '../platform/node/net';
import type { Connections } from './instrument/connections';
import { kServed } from './instrument/tracked';

/** Sends a shed connection to the master, calling `sent` once its descriptor is written. */
export type HandOver = (handle: RawServerHandle, served: number, sent: () => void) => void;

/** Sheds up to `count` idle connections of `server`; returns how many left. */
export function shedIdle(count: number, connections: Connections, server: net.Server, handOver: HandOver): number {
  if (count <= 0) return 0;
  const idle = idleConnections(server as http.Server);
  if (!idle) return 0;
  let shed = 0;
  for (const socket of connections.betweenRequests()) {
    if (shed >= count) break;
    // Bytes read but not parsed, or a response still being written, stay with this worker.
    if (!idle.has(socket) || socket.readableLength > 0 || socket.writableLength > 0) continue;
    const handle = detachHandle(socket);
    if (!handle) continue;
    const served = socket[kServed];
    // Until the descriptor is written, a drain does not find this worker idle (and exit with it).
    connections.handOverStarted();
    // Without its handle the socket closes alone: node:http frees its parser, the tracking forgets it.
    socket.destroy();
    handOver(handle, served, () => connections.handOverDone());
    shed++;
  }
  return shed;
}
