// Cleartext HTTP/2 with prior knowledge (h2c, RFC 9113 3.3): the client opens with the HTTP/2
// connection preface instead of an HTTP/1 request line. With http2_cleartext on, a new
// connection from a trusted peer is read until its first bytes tell the two apart (almost
// always in its first packet: no HTTP/1 request starts with "PRI * HTTP/2.0"), and the bytes
// are put back before the connection is handed on.
import type net from 'node:net';
import { UNDECIDED, readStart } from './connection-start';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Whether `head` is the preface: true, false, or UNDECIDED while it is one's start. */
export function isPreface(head: Buffer): boolean | typeof UNDECIDED {
  const n = Math.min(head.length, PREFACE.length);
  for (let i = 0; i < n; i++) if (head[i] !== PREFACE[i]) return false;
  return n === PREFACE.length ? true : UNDECIDED;
}

/** Reads the start of `socket` until it is known whether it is HTTP/2, puts it back, calls `next`. */
export function readPreface(socket: net.Socket, timeoutMs: number, next: (h2: boolean) => void): void {
  readStart(socket, timeoutMs, isPreface, (h2, head) => {
    socket.pause();
    socket.unshift(head);
    next(h2);
    // node:http does not resume a stream that was paused explicitly (the bytes put back go
    // first); an HTTP/2 session takes them from the paused socket itself, and loses them if the
    // socket is resumed.
    if (!h2) socket.resume();
  });
}
