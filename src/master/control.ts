// The control socket (--control-socket PATH): a unix socket, mode 0600, on which the master
// takes `narwhal ctl` commands (src/ctl.ts), as Gunicorn's gunicornc and Puma's pumactl do.
// Never TCP: only the master's own user (and root) can connect. One JSON request per
// connection, one JSON reply, then the connection closes:
//   {"command":"status"} {"command":"reload"} {"command":"scale","n":3} {"command":"incr"}
//   {"command":"decr"} {"command":"reopen-logs"} {"command":"stop","quick":false}
// Each command is a call to the arbiter's own handler of the matching signal. Nothing a client
// sends can take the master down: a request that is not JSON, JSON of the wrong shape, too long
// (64 KiB in all), not complete 5 s after the connection (however its bytes trickle in) or one
// connection too many (16 at once) gets an error reply.
import { chmodSync, existsSync, lstatSync, unlinkSync, statSync } from 'node:fs';
import net from 'node:net';
import { BindError } from '../http/listeners';
import type { Logger } from '../log/logger';
import type { Arbiter } from './arbiter';
import { poolStatus, type PoolStatus } from './status';

export type { PoolStatus } from './status';

export interface ControlRequest {
  command: 'status' | 'reload' | 'scale' | 'incr' | 'decr' | 'reopen-logs' | 'stop';
  n?: number;
  quick?: boolean;
}

type Reply = { ok: true; message?: string } & Partial<PoolStatus> | { ok: false; error: string };

const MAX_REQUEST_BYTES = 64 * 1024;
/** A request must be complete this long after the connection. */
const REQUEST_TIMEOUT_MS = 5000;
/** Control connections served at once; more are refused with an error reply. */
const MAX_CONNECTIONS = 16;
const COMMANDS = new Set(['status', 'reload', 'scale', 'incr', 'decr', 'reopen-logs', 'stop']);

/** One request line as a ControlRequest, or why it is not one (JSON of the wrong shape included). */
export function parseControlRequest(line: string): ControlRequest | string {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    return 'expected one JSON request line';
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req)) return 'expected a JSON object: {"command": ...}';
  const { command, n, quick } = req as Record<string, unknown>;
  if (typeof command !== 'string' || !COMMANDS.has(command)) {
    return `unknown command ${JSON.stringify(command)?.slice(0, 64) ?? 'undefined'}; expected one of ${[...COMMANDS].join(', ')}`;
  }
  if (n !== undefined && typeof n !== 'number') return 'n: expected a number';
  if (quick !== undefined && typeof quick !== 'boolean') return 'quick: expected true or false';
  return { command: command as ControlRequest['command'], n, quick };
}

/** What a request asks, done; `after` runs once the reply is written (stop). */
function execute(arbiter: Arbiter, req: ControlRequest): { reply: Reply; after?: () => void } {
  const scale = (n: number): Reply => {
    if (!Number.isInteger(n) || n < 1 || n > 1024) return { ok: false, error: `scale: expected a number of workers from 1 to 1024, got ${JSON.stringify(req.n)}` };
    const refusal = arbiter.scaleTo(n);
    if (refusal) return { ok: false, error: `scale ${n} refused: ${refusal}` };
    return { ok: true, message: `target: ${arbiter.target} worker${arbiter.target === 1 ? '' : 's'}` };
  };
  switch (req.command) {
    case 'status': return { reply: { ok: true, ...poolStatus(arbiter) } };
    case 'reload':
      void arbiter.handleHup();
      return { reply: { ok: true, message: 'reloading: each worker is replaced, its successor ready first' } };
    case 'scale': return { reply: scale(Number(req.n)) };
    case 'incr': return { reply: scale(arbiter.target + 1) };
    case 'decr':
      if (arbiter.target <= 1) return { reply: { ok: false, error: 'decr: the pool is at 1 worker, the least TTOU leaves; use stop to stop' } };
      return { reply: scale(arbiter.target - 1) };
    case 'reopen-logs':
      arbiter.handleUsr1();
      return { reply: { ok: true, message: 'log files reopened (master and workers)' } };
    case 'stop':
      return {
        reply: { ok: true, message: req.quick ? 'stopping now (quick)' : 'stopping gracefully' },
        after: () => (req.quick ? arbiter.handleInt() : arbiter.handleTerm()),
      };
    default:
      return { reply: { ok: false, error: `unknown command ${JSON.stringify((req as { command?: unknown }).command)}` } };
  }
}

/** Whether a live process listens on the unix socket at `path`. */
function inUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
}

export interface ControlServer {
  close(): void;
}

/**
 * Listens on `path`. A stale socket file is replaced; one a running master listens on is
 * refused, unless `takeOver` (a master started by USR2 takes the socket from its predecessor).
 */
export async function startControl(arbiter: Arbiter, path: string, log: Logger, { takeOver = false } = {}): Promise<ControlServer> {
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new BindError(`cannot create the control socket ${path}: a file that is not a socket is in the way`);
    if ((await inUse(path)) && !takeOver) {
      throw new BindError(`cannot create the control socket ${path}: another narwhal master is listening on it`);
    }
    unlinkSync(path);
  }
  let open = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    let answered = false;
    // One deadline per request, from the connection: an idle timeout (socket.setTimeout) starts
    // again at every byte, so a client dripping one byte every few seconds would hold its slot
    // for ever, and MAX_CONNECTIONS of them would lock `narwhal ctl` out.
    let deadline: NodeJS.Timeout | undefined;
    const reply = (r: Reply, after?: () => void) => {
      if (answered) return;
      answered = true;
      clearTimeout(deadline);
      if (socket.writable) socket.end(`${JSON.stringify(r)}\n`, () => after?.());
      else socket.destroy();
      // A peer that keeps its side open (or keeps sending) is not waited for.
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    // A flood: connections beyond MAX_CONNECTIONS are answered at once and closed.
    if (++open > MAX_CONNECTIONS) {
      socket.once('close', () => { open--; });
      return reply({ ok: false, error: `busy: ${MAX_CONNECTIONS} control requests are in progress` });
    }
    socket.once('close', () => { open--; clearTimeout(deadline); });
    deadline = setTimeout(() => reply({ ok: false, error: `no complete request within ${REQUEST_TIMEOUT_MS / 1000} s of connecting` }), REQUEST_TIMEOUT_MS);
    // Bytes, not text: the cap counts what was sent, and a character split between two chunks
    // is decoded whole. Each chunk is searched once for the newline (no rescan from byte 0).
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLong = () => {
      reply({ ok: false, error: `request longer than ${MAX_REQUEST_BYTES} bytes` });
      socket.pause();
      chunks.length = 0;
    };
    socket.on('data', (chunk: Buffer) => {
      if (answered) return;
      const end = chunk.indexOf(0x0a);
      // The cap is on the whole request, the chunk that ends it included.
      if (size + (end >= 0 ? end : chunk.length) > MAX_REQUEST_BYTES) return tooLong();
      if (end >= 0) return answer(Buffer.concat([...chunks, chunk.subarray(0, end)]).toString('utf8'));
      chunks.push(chunk);
      size += chunk.length;
    });
    socket.on('end', () => answer(Buffer.concat(chunks).toString('utf8')));
    const answer = (line: string) => {
      if (answered) return;
      const req = parseControlRequest(line);
      if (typeof req === 'string') return reply({ ok: false, error: req });
      log.info(`Control: ${req.command}${req.command === 'scale' ? ` ${req.n}` : ''}${req.quick ? ' --quick' : ''}`, { control: req.command });
      let done: { reply: Reply; after?: () => void };
      try {
        done = execute(arbiter, req);
      } catch (err) {
        log.error(`Control: ${req.command}: ${(err as Error)?.message ?? err}`);
        done = { reply: { ok: false, error: `${req.command} failed: ${(err as Error)?.message ?? err}` } };
      }
      reply(done.reply, done.after);
    };
  });
  // The socket file is created by bind() inside listen(), synchronously: a umask set around the
  // call makes it 0600 from the start (a chmod afterwards would leave a window).
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => { server.off('error', reject); resolve(); });
  });
  const umask = process.umask(0o177);
  try {
    server.listen(path);
  } finally {
    process.umask(umask);
  }
  try {
    await listening;
  } catch (err) {
    throw new BindError(`cannot create the control socket ${path}: ${(err as Error).message}`);
  }
  chmodSync(path, 0o600);
  const inode = statSync(path).ino;
  log.info(`Control socket: ${path}`);
  return {
    close() {
      server.close();
      // Only our own socket file: after USR2 the path belongs to the new master.
      try { if (statSync(path).ino === inode) unlinkSync(path); } catch { /* gone */ }
    },
  };
}
