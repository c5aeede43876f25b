// `narwhal ctl [--control-socket PATH] [-c FILE] COMMAND`: talks to a running master over its
// control socket (src/master/control.ts). The socket is --control-socket, else
// NARWHAL_CONTROL_SOCKET, else control_socket in the config file (-c FILE, else only a
// narwhal.config.json in the working directory: ctl runs no config code it is not told to). A
// socket not owned by root or the caller, or in a directory others may write, is refused.
//   status [--json]  each worker's pid, state, age, requests served, RSS, event-loop lag (and, with
//                    --threads, each of its event loops); the target
//   reload           as HUP          scale N | incr | decr   the pool's target
//   reopen-logs      as USR1         stop [--quick]          as TERM (INT with --quick)
import { existsSync, lstatSync, statSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_FILES, resolveSettings } from './config/load';
import type { ControlRequest, PoolStatus } from './master/control';

const USAGE = 'narwhal ctl [--control-socket PATH] [-c FILE] status [--json] | reload | scale N | incr | decr | reopen-logs | stop [--quick]';

class CtlError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

function request(path: string, req: ControlRequest): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    let data = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('no reply within 10 s')));
    socket.on('connect', () => socket.end(`${JSON.stringify(req)}\n`));
    socket.on('data', (chunk) => { data += chunk; });
    socket.on('end', () => {
      try {
        resolve(JSON.parse(data) as Record<string, unknown>);
      } catch {
        reject(new CtlError(`unexpected reply from ${path}: ${JSON.stringify(data.slice(0, 200))}`, 1));
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const why: Record<string, string> = {
        ENOENT: `no socket at ${path}: is narwhal running with --control-socket ${path}?`,
        ECONNREFUSED: `nothing listens on ${path}: the master that made it is gone`,
        EACCES: `permission denied on ${path} (mode 0600): run as the master's user`,
      };
      reject(new CtlError(`cannot reach the master: ${why[err.code ?? ''] ?? err.message}`, 1));
    });
  });
}

const seconds = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
  : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`);

export function formatStatus(status: PoolStatus): string {
  const m = status.master;
  const lines = [
    `master ${m.pid}: ${m.phase}, target ${m.target} worker${m.target === 1 ? '' : 's'}, ${m.distribution}, up ${seconds(m.uptime_s)}` +
      (m.listeners.length ? `, listening at ${m.listeners.join(' ')}` : ''),
  ];
  const lag = (s: number) => `${(s * 1000).toFixed(1)} ms`;
  // --threads: a row per event loop under its worker's row (thread 0 is the process's own loop).
  const rows = [['PID', 'STATE', 'AGE', 'REQUESTS', 'RSS', 'LAG'], ...status.workers.flatMap((w) => [[
    String(w.pid), w.retiring && w.state !== 'draining' ? `${w.state} (retiring: ${w.retiring})` : w.state, seconds(w.age_s),
    String(w.requests), `${(w.rss_bytes / 1e6).toFixed(1)} MB`, lag(w.lag_s),
  ], ...(w.threads ?? []).map((t) => [
    `  thread ${t.thread}`, t.restarts > 0 ? `${t.state} (restarts: ${t.restarts})` : t.state, seconds(t.age_s),
    String(t.requests), `heap ${(t.heap_used_bytes / 1e6).toFixed(1)} MB`, lag(t.lag_s),
  ])])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) lines.push(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  return `${lines.join('\n')}\n`;
}

async function socketPath(flag: string | undefined, config: string | undefined): Promise<string> {
  if (flag) return flag;
  if (process.env.NARWHAL_CONTROL_SOCKET) return process.env.NARWHAL_CONTROL_SOCKET;
  // Config code runs only when named (-c FILE, or NARWHAL_CONFIG): found in the working directory,
  // only narwhal.config.json is read (data), never a .js, .mjs or .cjs file (code that would run
  // as whoever runs ctl, often root, from a directory the app may write).
  const named = config ?? process.env.NARWHAL_CONFIG;
  const json = join(process.cwd(), 'narwhal.config.json');
  const file = named ?? (existsSync(json) ? json : null);
  if (file) {
    const { settings } = await resolveSettings({ config: file }, process.env, process.cwd());
    if (settings.control_socket) return settings.control_socket;
  }
  const skipped = named ? [] : DEFAULT_CONFIG_FILES.filter((f) => !f.endsWith('.json') && existsSync(join(process.cwd(), f)));
  throw new CtlError('no control socket: give --control-socket PATH (or NARWHAL_CONTROL_SOCKET), as the master was started with' +
    (skipped.length ? ` (${skipped[0]} is not read without -c ${skipped[0]}: ctl runs no config code it is not told to)` : ''), 2);
}

/**
 * Whether the socket at `path` may be trusted to be the master's: owned by root or the caller,
 * in a directory no one else may write (a sticky one, as /tmp, only with the socket owned as
 * above). Anything else could be a stand-in made by another user to read ctl's requests or
 * answer them falsely.
 */
export function checkSocketOwner(path: string, uid = process.getuid?.() ?? 0): string | null {
  let st;
  let dir;
  try {
    st = lstatSync(path);
    dir = statSync(dirname(resolve(path)));
  } catch {
    return null; // missing: request() says so
  }
  if (!st.isSocket()) return `${path} is not a socket`;
  if (st.uid !== 0 && st.uid !== uid) return `${path} is owned by uid ${st.uid}, neither root nor you (uid ${uid}): refusing to talk to it`;
  const othersWrite = (dir.mode & 0o022) !== 0;
  const sticky = (dir.mode & 0o1000) !== 0;
  if (othersWrite && !sticky) return `${dirname(resolve(path))} is writable by others (mode ${(dir.mode & 0o7777).toString(8)}): the socket in it could be anyone's; refusing to talk to it`;
  if (dir.uid !== 0 && dir.uid !== uid) return `${dirname(resolve(path))} is owned by uid ${dir.uid}, neither root nor you: refusing to talk to its socket`;
  return null;
}

function toRequest(words: string[], quick: boolean): ControlRequest {
  const [command, arg, ...rest] = words;
  const usage = (why: string) => new CtlError(`${why}\nusage: ${USAGE}`, 2);
  if (!command) throw usage('no command');
  if (rest.length > 0 || (arg !== undefined && command !== 'scale')) throw usage(`too many arguments for ${command}`);
  if (quick && command !== 'stop') throw usage('--quick goes with stop');
  switch (command) {
    case 'status': case 'reload': case 'incr': case 'decr': case 'reopen-logs':
      return { command };
    case 'scale':
      if (arg === undefined || !/^\d+$/.test(arg)) throw usage('scale needs a number of workers: scale N');
      return { command, n: Number(arg) };
    case 'stop':
      return { command, quick };
    default:
      throw usage(`unknown command ${command}`);
  }
}

async function ctl(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { 'control-socket': { type: 'string' }, config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, quick: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new CtlError(`${(err as Error).message.split('. ')[0]}\nusage: ${USAGE}`, 2);
  }
  if (parsed.values.help) {
    process.stdout.write(`usage: ${USAGE}\n`);
    return 0;
  }
  const req = toRequest(parsed.positionals, Boolean(parsed.values.quick));
  if (parsed.values.json && req.command !== 'status') throw new CtlError('--json goes with status', 2);
  const path = await socketPath(parsed.values['control-socket'], parsed.values.config);
  const distrust = checkSocketOwner(path);
  if (distrust) throw new CtlError(distrust, 1);
  const reply = await request(path, req);
  if (reply.ok !== true) throw new CtlError(String(reply.error ?? 'the master refused the command'), 1);
  if (req.command === 'status') {
    const { ok: _ok, ...status } = reply;
    process.stdout.write(parsed.values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status as unknown as PoolStatus));
  } else {
    process.stdout.write(`${String(reply.message ?? 'done')}\n`);
  }
  return 0;
}

export function runCtl(argv: string[]): void {
  ctl(argv).then((code) => process.exit(code), (err) => {
    const code = err instanceof CtlError || err instanceof ConfigError ? err.exitCode : 1;
    process.stderr.write(`narwhal ctl: ${err instanceof CtlError || err instanceof ConfigError ? err.message : (err as Error)?.stack ?? err}\n`);
    process.exit(code);
  });
}
