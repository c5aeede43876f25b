// --sticky, the worker's side: tells the master which Engine.IO (Socket.IO) sessions this worker
// made and when they ended, without the app's help. A session is made by a handshake (a request
// with `EIO=` and no `sid=`), whose response body carries the new id (`0{"sid":"…"`); it ends
// when its WebSocket closes, or when this worker answers a request for it with 400 (Engine.IO's
// "Session ID unknown": it has already ended here). The report of a new session is sent before
// the handshake response, so it reaches the master before the client can use the id.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type net from 'node:net';
import type { WorkerMessage } from '../../ipc';
import { sessionIdOf } from '../../http/engine-io';

const SID_IN_BODY = /"sid":"([^"]+)"/;

export class EngineIoSessions {
  constructor(private readonly send: (m: WorkerMessage) => void) {}

  /** A request the app is about to see. */
  request(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    if (!url.includes('EIO=')) return;
    const sid = sessionIdOf(url);
    if (sid !== null) {
      res.once('finish', () => { if (res.statusCode === 400) this.send({ t: 'session', sid, open: false }); });
      return;
    }
    // The handshake: the first body chunk names the session.
    const { write, end } = res;
    let seen = false;
    const look = (chunk: unknown) => {
      if (seen || chunk === undefined || chunk === null || typeof chunk === 'function') return;
      seen = true;
      const m = SID_IN_BODY.exec(String(chunk).slice(0, 512));
      if (m) this.send({ t: 'session', sid: m[1]!, open: true });
    };
    res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      look(chunk);
      return Reflect.apply(write, this, [chunk, ...rest]) as boolean;
    } as typeof res.write;
    res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      look(chunk);
      return Reflect.apply(end, this, [chunk, ...rest]) as ServerResponse;
    } as typeof res.end;
  }

  /** An upgrade the app is about to take: a session's WebSocket ends the session when it closes. */
  upgrade(req: IncomingMessage, socket: net.Socket): void {
    const url = req.url ?? '';
    if (!url.includes('EIO=')) return;
    const sid = sessionIdOf(url);
    if (sid !== null) socket.once('close', () => this.send({ t: 'session', sid, open: false }));
  }
}
