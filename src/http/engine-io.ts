// Engine.IO (Socket.IO's transport) as narwhal sees it on the wire, for --sticky.

/** The Engine.IO session id in a request line or URL (`/socket.io/?EIO=4&transport=polling&sid=…`). */
export function sessionIdOf(requestLine: string): string | null {
  const query = requestLine.indexOf('?');
  if (query < 0) return null;
  const m = /[?&]sid=([^&\s#]+)/.exec(requestLine.slice(query));
  return m ? m[1]! : null;
}
