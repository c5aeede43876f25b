// A worker's access log: one line per finished response, in the configured format.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type net from 'node:net';
import { compileAccessFormat, sentHeader } from './access-format';
import { LogSink } from './sink';

export class AccessLog {
  private readonly sink: LogSink;
  private readonly format: ReturnType<typeof compileAccessFormat>;

  /** `file`: "-" for stdout. */
  constructor(file: string, format: string) {
    this.sink = new LogSink(file, process.stdout, true);
    this.format = compileAccessFormat(format);
  }

  /** `socket`: the connection the request came on (see AccessEntry). */
  write(req: IncomingMessage, res: ServerResponse, seconds: number, socket: net.Socket = req.socket): void {
    // The body size as declared; a streamed body without Content-Length logs as "-" (0).
    const bytes = Number(sentHeader(res, 'content-length') ?? 0) || 0;
    this.sink.write(`${this.format({ req, res, socket, seconds, bytes, time: new Date() })}\n`);
  }

  reopen(): void {
    this.sink.reopen();
  }
}
