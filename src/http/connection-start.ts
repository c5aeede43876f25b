// Reading the first bytes of a new connection before it is handed on: a PROXY preamble
// (proxy-protocol.ts), or whether it opens with the HTTP/2 preface (h2c.ts). The bytes are read
// until `classify` can tell; a connection that closes, fails or stays silent for `timeoutMs`
// first is destroyed.
import type net from 'node:net';

/** What `classify` answers while the bytes so far cannot tell. */
export const UNDECIDED = Symbol('undecided');

export function readStart<T>(
  socket: net.Socket,
  timeoutMs: number,
  classify: (head: Buffer) => T | typeof UNDECIDED,
  decided: (result: T, head: Buffer) => void,
): void {
  let head: Buffer | null = null;
  const cleanup = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onGone);
    socket.off('close', onGone);
  };
  const onGone = (): void => { cleanup(); socket.destroy(); };
  const onData = (chunk: Buffer): void => {
    head = head === null ? chunk : Buffer.concat([head, chunk]);
    const result = classify(head);
    if (result === UNDECIDED) return;
    cleanup();
    decided(result, head);
  };
  const timer = setTimeout(onGone, timeoutMs);
  socket.on('data', onData);
  socket.on('error', onGone);
  socket.on('close', onGone);
}
