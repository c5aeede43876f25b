// Load for the reliability scenarios: keep-alive connections sending GETs back to back, as a
// client behind a load balancer would, with everything counted: responses by status class,
// failures by error, requests that timed out (hung), which worker PID answered, and which
// requests were in flight at a given moment (so a kill can be charged only what it could cost).
import http from 'node:http';

/** Percentile `p` (0..1) of sorted numbers. */
const percentile = (sorted, p) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);

/**
 * Starts `connections` keep-alive connections to 127.0.0.1:`port` (or `socketPath`), each sending
 * GET `path` back to back until stop() or `durationMs`. The fixture apps answer `pid=N`, which
 * tells which worker served each connection last.
 */
export function keepAliveLoad({ port, socketPath, connections = 16, durationMs = Infinity, path = '/', timeoutMs = 10_000 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const result = {
    sent: 0, ok: 0, failed: 0, hung: 0, statuses: {}, errors: {}, failedOnReusedSocket: 0,
    pids: new Set(), latencies: [],
  };
  /** The worker that last answered on each socket. */
  const lastPid = new WeakMap();
  /** Requests written and not yet finished: their socket (once assigned). */
  const outstanding = new Set();
  let running = true;
  const deadline = Date.now() + durationMs;
  const fail = (code, reused) => {
    result.failed++;
    result.errors[code] = (result.errors[code] ?? 0) + 1;
    if (reused) result.failedOnReusedSocket++;
  };
  const one = () => new Promise((resolve) => {
    const entry = { socket: null };
    const started = performance.now();
    outstanding.add(entry);
    result.sent++;
    const target = socketPath ? { socketPath } : { host: '127.0.0.1', port };
    const req = http.get({ ...target, path, agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        outstanding.delete(entry);
        const cls = `${Math.floor(res.statusCode / 100)}xx`;
        result.statuses[cls] = (result.statuses[cls] ?? 0) + 1;
        if (res.statusCode >= 200 && res.statusCode < 400) {
          result.ok++;
          result.latencies.push(performance.now() - started);
        } else fail(`status ${res.statusCode}`, req.reusedSocket);
        const pid = Number(/pid=(\d+)/.exec(body)?.[1]);
        if (pid) {
          result.pids.add(pid);
          if (entry.socket) lastPid.set(entry.socket, pid);
        }
        resolve();
      });
      res.on('error', () => {});
    });
    req.on('socket', (socket) => { entry.socket = socket; });
    req.on('timeout', () => { result.hung++; req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })); });
    req.on('error', (err) => {
      outstanding.delete(entry);
      fail(err.code ?? err.message, req.reusedSocket);
      resolve();
    });
  });
  const done = Promise.all(Array.from({ length: connections }, async () => {
    while (running && Date.now() < deadline) await one();
  })).then(() => {
    agent.destroy();
    const sorted = result.latencies.sort((a, b) => a - b);
    result.p50Ms = Math.round(percentile(sorted, 0.5) * 10) / 10;
    result.p99Ms = Math.round(percentile(sorted, 0.99) * 10) / 10;
    result.maxMs = Math.round((sorted[sorted.length - 1] ?? 0) * 10) / 10;
    delete result.latencies;
    result.pids = [...result.pids].sort((a, b) => a - b);
    return result;
  });
  return {
    done,
    stop() { running = false; return done; },
    /**
     * Requests in flight right now that may be on worker `pid`: those on a socket it answered
     * last, or on a socket no worker has answered yet (its worker is unknown).
     */
    inFlightOn(pid) {
      let n = 0;
      for (const { socket } of outstanding) {
        const owner = socket ? lastPid.get(socket) : undefined;
        if (owner === undefined || owner === pid) n++;
      }
      return n;
    },
    get sent() { return result.sent; },
    get failed() { return result.failed; },
  };
}

/** One GET on a fresh connection; resolves { status, body, ms } or { error, ms }, never rejects. */
export function probe({ port, path = '/', timeoutMs = 10_000 }) {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body, ms: performance.now() - started }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err) => resolve({ error: err.code ?? err.message, ms: performance.now() - started }));
  });
}
