// `narwhal ctl [--control-socket PATH] [-c FILE] COMMAND`: talks to a running master over its
// control socket (src/master/control.ts). The socket is --control-socket, else
// NARWHAL_CONTROL_SOCKET, else control_socket in the config file (-c FILE, else only a
// narwhal.config.json in the working directory: ctl runs no config code it is not told to). A
// socket not owned by root or the caller, or in a directory others may write, is refused.
//   status [--json] [--watch]  each worker's pid, state, age, requests served, RSS, event-loop
//                    lag (and, with --threads, each of its event loops); the target; --watch: every second
//   top              a live view (top.ts): keys scale, reload and stop
//   reload           as HUP          scale N | incr | decr   the pool's target
//   reopen-logs      as USR1         stop [--quick]          as TERM (INT with --quick)
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load';
import type { ControlRequest } from '../master/control';
import type { PoolStatus } from '../master/status';
import { CtlError, checkSocketOwner, request, socketPath } from './client';
import { formatStatus } from './format';
import { top, watchStatus } from './top';

const USAGE = 'narwhal ctl [--control-socket PATH] [-c FILE] status [--json] [--watch] | top | reload | scale N | incr | decr | reopen-logs | stop [--quick]';

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
      options: {
        'control-socket': { type: 'string' }, config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, watch: { type: 'boolean' },
        quick: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new CtlError(`${(err as Error).message.split('. ')[0]}\nusage: ${USAGE}`, 2);
  }
  if (parsed.values.help) {
    process.stdout.write(`usage: ${USAGE}\n`);
    return 0;
  }
  const isTop = parsed.positionals[0] === 'top';
  if (isTop && parsed.positionals.length > 1) throw new CtlError(`too many arguments for top\nusage: ${USAGE}`, 2);
  const req = isTop ? null : toRequest(parsed.positionals, Boolean(parsed.values.quick));
  if (parsed.values.json && req?.command !== 'status') throw new CtlError('--json goes with status', 2);
  if (parsed.values.watch && req?.command !== 'status') throw new CtlError('--watch goes with status', 2);
  const path = await socketPath(parsed.values['control-socket'], parsed.values.config);
  const distrust = checkSocketOwner(path);
  if (distrust) throw new CtlError(distrust, 1);
  if (req === null) return top(path);
  if (parsed.values.watch) return watchStatus(path, Boolean(parsed.values.json));
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
