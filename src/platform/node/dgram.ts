// node:dgram, through its public API only: in a node:cluster worker, a UDP bind that is not
// `exclusive` asks the primary for the socket (`cluster._getServer`), and a narwhal worker,
// which poses as one, has no primary that binds UDP. Every bind in a worker is made exclusive:
// the worker binds the socket itself, with the app's own options (reuseAddr, ipv6Only…), which
// is what the primary's answer amounted to. (dgram's own way to bind for a primary,
// `dgram._createSocketHandle`, is gone from Node 25 on.)
import dgram from 'node:dgram';

/** Makes every dgram socket of this process bind exclusively. */
export function bindUdpExclusively(): void {
  const bind = dgram.Socket.prototype.bind as (this: dgram.Socket, ...args: unknown[]) => dgram.Socket;
  dgram.Socket.prototype.bind = function exclusiveBind(this: dgram.Socket, ...args: unknown[]) {
    return bind.apply(this, exclusively(args));
  } as typeof dgram.Socket.prototype.bind;
}

/** bind()'s arguments, in the options form, with `exclusive: true`. */
function exclusively(args: unknown[]): unknown[] {
  const [first, second] = args;
  if (first !== null && typeof first === 'object') {
    // A libuv handle (node:cluster's own call) is passed on as it is.
    if (typeof (first as { recvStart?: unknown }).recvStart === 'function') return args;
    return [{ ...first, exclusive: true }, ...args.slice(1)];
  }
  // bind([port][, address][, callback]): what dgram reads of them, as options.
  const last = args[args.length - 1];
  const callback = typeof last === 'function' ? last : undefined;
  const options = { port: typeof first === 'function' ? undefined : first, address: typeof second === 'string' ? second : undefined, exclusive: true };
  return callback ? [options, callback] : [options];
}
