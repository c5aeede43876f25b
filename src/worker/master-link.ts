// Requests a worker makes of its master and waits on: binding an extra address the app listens on
// (adopt.ts, rule 5), answered with `listen-result`, the listening handle riding along, or an
// errno; and (--threads) copies of the listening sockets it serves, for a thread, answered with
// one `listener-copy` per socket.
import type { RawServerHandle } from '../platform/node/net';
import type { MasterMessage, WorkerMessage } from '../ipc';
import type { Asked } from './adopt';

type ListenResult = Extract<MasterMessage, { t: 'listen-result' }>;
type ListenerCopy = Extract<MasterMessage, { t: 'listener-copy' }>;

/** The address an extra server asks for, as a bind address the master parses. */
export function bindAddressOf(asked: Asked): string {
  if ('path' in asked) return `unix:${asked.path}`;
  // No host: the master binds [::] (dual stack) where it can, else 0.0.0.0, as Node does.
  if (!asked.host) return `:${asked.port}`;
  return asked.host.includes(':') ? `[${asked.host}]:${asked.port}` : `${asked.host}:${asked.port}`;
}

export class MasterLink {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (h: RawServerHandle) => void; reject: (errno: number) => void }>();
  private readonly copying = new Map<number, { copies: Map<string, RawServerHandle>; resolve: (c: Map<string, RawServerHandle>) => void }>();

  constructor(private readonly send: (m: WorkerMessage) => void) {}

  share(asked: Asked | string, backlog: number): Promise<RawServerHandle> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ t: 'listen', id, address: typeof asked === 'string' ? asked : bindAddressOf(asked), backlog });
    });
  }

  /** A copy of every listening socket this worker serves, by configured address. */
  copies(): Promise<Map<string, RawServerHandle>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.copying.set(id, { copies: new Map(), resolve });
      this.send({ t: 'listeners', id });
    });
  }

  copied(m: ListenerCopy, handle: unknown): void {
    const waiter = this.copying.get(m.id);
    if (!waiter) return;
    if (handle) waiter.copies.set(m.address, handle as RawServerHandle);
    if (!m.last) return;
    this.copying.delete(m.id);
    waiter.resolve(waiter.copies);
  }

  settle(m: ListenResult, handle: unknown): void {
    const waiter = this.pending.get(m.id);
    if (!waiter) return;
    this.pending.delete(m.id);
    if (m.errno !== undefined || !handle) waiter.reject(m.errno ?? -22);
    else waiter.resolve(handle as RawServerHandle);
  }
}
