// What an app error does to its request: a 500, never the worker.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log/logger';

/** An app error fails its request with a 500 and 'Error handling request', not the worker. */
export function failRequest(log: Logger, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  log.error(`Error handling request ${req.method} ${req.url}\n${(err as Error)?.stack ?? String(err)}`);
  if (res.headersSent) return void res.destroy();
  // HTTP/2 has no Connection field (Node refuses it): the stream ends, the connection goes on.
  const h2 = (req as { stream?: unknown }).stream !== undefined;
  res.writeHead(500, h2 ? { 'content-type': 'text/plain' } : { 'content-type': 'text/plain', connection: 'close' });
  res.end('Internal Server Error\n');
}
