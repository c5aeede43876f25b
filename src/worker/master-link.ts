// Requests a worker makes of its master and waits on: for now, binding an extra address the app
// listens on (adopt.ts, rule 5). The master answers each with `listen-result`, the listening
// handle riding along, or an errno.
import type { RawServerHandle } from '../platform/node/net';
import type { MasterMessage, WorkerMessage } from '../ipc';
import type { Asked } from './adopt';

type ListenResult = Extract<MasterMessage, { t: 'listen-result' }>;

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

  constructor(private readonly send: (m: WorkerMessage) => void) {}

  share(asked: Asked, backlog: number): Promise<RawServerHandle> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ t: 'listen', id, address: bindAddressOf(asked), backlog });
    });
  }

  settle(m: ListenResult, handle: unknown): void {
    const waiter = this.pending.get(m.id);
    if (!waiter) return;
    this.pending.delete(m.id);
    if (m.errno !== undefined || !handle) waiter.reject(m.errno ?? -22);
    else waiter.resolve(handle as RawServerHandle);
  }
}
