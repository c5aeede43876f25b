// node:child_process, where narwhal goes past its public API: Node's own receipts for the
// handles the master sends its workers.
import type { ChildProcess } from 'node:child_process';

/**
 * Node's own receipt for a handle sent over IPC. When a child's Node gets a message carrying a
 * handle, it answers `NODE_HANDLE_ACK` at once — before the message reaches any listener, so
 * before anything in the child can read from the socket — or `NODE_HANDLE_NACK` when the file
 * descriptor did not arrive (the child was out of descriptors). The sender sees these only as
 * 'internalMessage' events on the ChildProcess, one per handle, in the order the handles were
 * sent (Node sends one handle at a time and queues the next until the receipt).
 *
 * Calls `receipt(true)` per ACK and `receipt(false)` per NACK, and returns true; returns false
 * when this Node does not look like it sends them (then the caller cannot know).
 */
export function onHandleReceipt(child: ChildProcess, receipt: (received: boolean) => void): boolean {
  // Both fields are set up with the IPC channel of a Node that queues handles behind receipts.
  if (!child.connected || !('_handleQueue' in child) || typeof (child as unknown as { _send?: unknown })._send !== 'function') return false;
  child.on('internalMessage' as 'message', (message: { cmd?: unknown } | null) => {
    if (message?.cmd === 'NODE_HANDLE_ACK') receipt(true);
    else if (message?.cmd === 'NODE_HANDLE_NACK') receipt(false);
  });
  return true;
}

/** What an outbox sends with: ChildProcess#send, or process.send in a child. */
type Send = (message: unknown, handle: unknown, callback: (err: Error | null) => void) => void;

interface Outgoing {
  message: unknown;
  handle: unknown;
  callback: ((err: Error | null) => void) | undefined;
}

/**
 * IPC messages in order, with at most one in Node's hands at a time once a handle is involved.
 * Node holds every message sent after a handle until the other side's receipt, and on each
 * receipt walks all it holds again: thousands of sockets handed over at once (a burst of new
 * connections under round-robin, the balance moving connections) cost the sender quadratic
 * time and stall its event loop. Each message here goes to Node when the one before it has been
 * written, which keeps Node's own queue at one.
 */
export class Outbox {
  private readonly queue: Outgoing[] = [];
  private head = 0;
  private busy = false;

  constructor(private readonly send: Send, private readonly connected: () => boolean) {}

  post(message: unknown, handle?: unknown, callback?: (err: Error | null) => void): void {
    if (!this.busy && handle === undefined) return this.send(message, undefined, callback ?? noop);
    this.queue.push({ message, handle, callback });
    if (!this.busy) this.next();
  }

  private next(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
      this.busy = false;
      return;
    }
    this.busy = true;
    const item = this.queue[this.head]!;
    this.queue[this.head++] = undefined as unknown as Outgoing;
    if (!this.connected()) {
      item.callback?.(new Error('IPC channel closed'));
      return this.next();
    }
    this.send(item.message, item.handle, (err) => {
      item.callback?.(err);
      this.next();
    });
  }
}

const noop = () => {};
