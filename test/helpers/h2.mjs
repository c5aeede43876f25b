// HTTP/2 clients for the tests: one request with Node's http2 client, a bounded load that keeps
// many streams in flight on few connections (and behaves as browsers and gRPC do on GOAWAY:
// new streams go to a new connection, a stream the server did not take is sent again), and
// curl. Traffic goes to 127.0.0.1 only.
import { execFile } from 'node:child_process';
import http2 from 'node:http2';

/**
 * One request on a new connection: resolves { status, headers, body, alpn, remoteSettings }.
 * `origin`: https://127.0.0.1:PORT (tls options: ca, cert, key) or http://… (h2c).
 */
export function h2request(origin, { path = '/', method = 'GET', headers = {}, body, timeoutMs = 10000, ...tls } = {}) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(origin, tls);
    const timer = setTimeout(() => { session.destroy(); reject(new Error('h2 request timed out')); }, timeoutMs);
    const fail = (err) => { clearTimeout(timer); session.destroy(); reject(err); };
    session.on('error', fail);
    // CONNECT has no :path (path: null).
    const pseudo = path === null ? { ':method': method } : { ':method': method, ':path': path };
    const stream = session.request({ ...pseudo, ...headers }, { endStream: body === undefined });
    let response = null;
    const chunks = [];
    stream.on('response', (h) => { response = h; });
    stream.on('data', (c) => chunks.push(c));
    stream.on('error', fail);
    stream.on('end', () => {
      clearTimeout(timer);
      const result = {
        status: response?.[':status'], headers: response, body: Buffer.concat(chunks).toString(),
        alpn: session.alpnProtocol, remoteSettings: session.remoteSettings,
      };
      session.close();
      resolve(result);
    });
    if (body !== undefined) stream.end(body);
  });
}

/** Stream errors that mean "not processed, send it again" (RFC 9113 8.7): refused, or after GOAWAY. */
const RETRYABLE = /REFUSED_STREAM|ERR_HTTP2_GOAWAY_SESSION|ERR_HTTP2_INVALID_SESSION/;

/**
 * A bounded load: `connections` sessions, each with `streams` requests in flight, for
 * `durationMs`. A session that gets GOAWAY is replaced; a stream the server refused unprocessed
 * is sent again (counted in `retried`). Counts what answered 2xx, what failed otherwise (a
 * stream lost), the worker PIDs seen in bodies, and the sessions used.
 */
export async function h2load(origin, { connections = 2, streams = 25, durationMs = 3000, path = '/', ...tls } = {}) {
  const result = { ok: 0, failed: 0, retried: 0, errors: [], pids: new Set(), sessions: 0, goaways: 0 };
  const deadline = Date.now() + durationMs;
  const open = () => {
    result.sessions++;
    const session = http2.connect(origin, tls);
    session.on('error', () => {});
    session.on('goaway', () => { result.goaways++; });
    return session;
  };
  const one = (holder) => new Promise((resolve) => {
    if (holder.session.closed || holder.session.destroyed) holder.session = open();
    let stream;
    try {
      stream = holder.session.request({ ':path': path });
    } catch (err) {
      // The session got GOAWAY between the check and the request: a new one takes it.
      holder.session = open();
      result.retried++;
      return resolve();
    }
    let status = 0;
    let body = '';
    const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 10000);
    stream.setEncoding('utf8');
    stream.on('response', (h) => { status = h[':status']; });
    stream.on('data', (c) => { body += c; });
    stream.on('error', () => {});
    stream.on('close', () => {
      clearTimeout(timer);
      const code = stream.rstCode;
      if (status >= 200 && status < 300 && code === http2.constants.NGHTTP2_NO_ERROR) {
        result.ok++;
        const pid = /pid"?[=: ]+(\d+)/.exec(body)?.[1];
        if (pid) result.pids.add(Number(pid));
      } else if (status === 0 && (code === http2.constants.NGHTTP2_REFUSED_STREAM || RETRYABLE.test(String(stream.errored?.code ?? '')))) {
        result.retried++;
      } else {
        result.failed++;
        result.errors.push(`status ${status} rst ${code} ${stream.errored?.code ?? ''}`);
      }
      resolve();
    });
  });
  const holders = Array.from({ length: connections }, () => ({ session: open() }));
  await Promise.all(holders.flatMap((holder) => Array.from({ length: streams }, async () => {
    while (Date.now() < deadline) await one(holder);
  })));
  for (const { session } of holders) session.close();
  return result;
}

/** Runs curl with ARGS; resolves { code, stdout, stderr } (never rejects). */
export function curl(args, timeoutMs = 15000) {
  return new Promise((resolve) => {
    execFile('curl', ['--silent', '--show-error', '--max-time', String(timeoutMs / 1000), ...args], { timeout: timeoutMs + 2000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** GET with curl; `-w` appends "\n<http_version> <status>": resolves { version, status, body, code, stderr }. */
export async function curlGet(url, args = []) {
  const r = await curl([...args, '-w', '\n%{http_version} %{http_code}', url]);
  const i = r.stdout.lastIndexOf('\n');
  const [version, status] = r.stdout.slice(i + 1).split(' ');
  return { version, status: Number(status), body: r.stdout.slice(0, i), code: r.code, stderr: r.stderr };
}
