// Who a serving event loop answers to: the master, over the process's IPC channel (a worker
// process's own loop), or the worker's main loop, over the thread's message port (a thread of a
// worker with --threads, worker/threads/). The Worker object speaks the same messages either way.
import { parentPort, workerData } from 'node:worker_threads';
import { Outbox } from '../platform/node/child_process';
import { bindHandle, type RawServerHandle } from '../platform/node/net';
import type { BootMessage, MasterMessage, WorkerMessage } from '../ipc';
import type { BeatLink } from './heartbeat';

export interface SupervisorLink extends BeatLink {
  /** 0: a worker process's own loop; 1 and up: a thread. */
  readonly thread: number;
  boot(): Promise<BootMessage>;
  onMessage(fn: (m: MasterMessage, handle: unknown) => void): void;
  /** A message with a socket's handle, closed here once it is written, then `sent` (a process only). */
  sendHandle?(m: WorkerMessage, handle: RawServerHandle, sent: () => void): void;
}

/** A thread's workerData (worker/threads/group.ts). */
export interface ThreadData {
  boot: BootMessage;
  thread: number;
}

export class ProcessLink implements SupervisorLink {
  readonly thread = 0;
  /** Messages to the master in order, handles one at a time (platform/node/child_process.ts). */
  private readonly outbox = new Outbox((m, h, cb) => process.send!(m, h as never, cb), () => process.connected);

  get connected(): boolean {
    return process.connected;
  }

  send(m: WorkerMessage): void {
    if (process.connected && process.send) this.outbox.post(m);
  }

  sendHandle(m: WorkerMessage, handle: RawServerHandle, sent: () => void): void {
    // The descriptor is copied into the message as it is written: the handle can go then.
    this.outbox.post(m, handle, () => {
      handle.close();
      sent();
    });
  }

  boot(): Promise<BootMessage> {
    return new Promise((resolve) => {
      const onMessage = (m: MasterMessage) => {
        if (m?.t !== 'boot') return;
        process.off('message', onMessage);
        resolve(m);
      };
      process.on('message', onMessage);
    });
  }

  onMessage(fn: (m: MasterMessage, handle: unknown) => void): void {
    process.on('message', fn);
  }
}

export class ThreadLink implements SupervisorLink {
  readonly thread: number;
  private readonly data = workerData as ThreadData;
  private closed = false;

  constructor() {
    this.thread = this.data.thread;
    parentPort!.once('close', () => { this.closed = true; });
  }

  get connected(): boolean {
    return !this.closed;
  }

  send(m: WorkerMessage): void {
    if (!this.closed) parentPort!.postMessage(m);
  }

  boot(): Promise<BootMessage> {
    return Promise.resolve(this.data.boot);
  }

  onMessage(fn: (m: MasterMessage, handle: unknown) => void): void {
    // An extra listener's socket comes as an fd the process's loop holds open for this thread.
    parentPort!.on('message', (m: MasterMessage & { fd?: number }) => {
      const handle = m.fd === undefined ? undefined : bindHandle(null, -1, null, m.fd);
      fn(m, typeof handle === 'number' ? undefined : handle);
    });
  }
}
