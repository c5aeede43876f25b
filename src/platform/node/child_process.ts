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
