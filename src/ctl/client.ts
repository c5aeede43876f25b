// The control socket's client side: finding the socket (flag, environment, config file), checking
// that it is the master's, sending one request and reading its reply.
import { existsSync, lstatSync, statSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_CONFIG_FILES, resolveSettings } from '../config/load';
import type { ControlRequest } from '../master/control';

export class CtlError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

export function request(path: string, req: ControlRequest): Promise<Record<string, unknown>> {
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

export async function socketPath(flag: string | undefined, config: string | undefined): Promise<string> {
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

