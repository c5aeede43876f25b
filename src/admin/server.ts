// The admin server, run by the master on --admin-bind (off unless set):
//   GET /healthz  liveness: 200 while the master is running and supervising its pool.
//   GET /readyz   readiness: 200 when enough workers are ready and the server is not shutting
//                 down; else 503 with a JSON reason. "Enough": the whole initial pool at boot;
//                 after that at least one ready worker (a crashed worker being replaced must
//                 not take the pod out of its Service). A pool below its target for longer
//                 than --degraded-after stays ready while a worker serves, with a `degraded`
//                 detail (master/policy.ts: watchPool); one that never completed its first
//                 boot counts as booted once it is degraded.
//   GET /metrics  Prometheus text format (metrics.ts), with the workers' counters asked for
//                 at scrape time (metrics.ts: refreshWorkerStats).
// It never runs app code and shares nothing with the app's listeners.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { BindError, type ParsedAddress, parseAddress } from '../http/listeners';
import type { Logger } from '../log/logger';
import type { Arbiter } from '../master/arbiter';
import type { DegradedDetail } from '../master/policy';
import { poolStatus } from '../master/status';
import { createMetrics, refreshWorkerStats } from './metrics';
import { STATUS_CSP, STATUS_HTML, STATUS_JS } from './status-page';

export interface Readiness {
  ready: boolean;
  status: 'ready' | 'booting' | 'shutting down' | 'no ready workers';
  reason?: string;
  workers: { ready: number; desired: number; booting: number; draining: number };
  degraded?: DegradedDetail;
}

export class ReadinessTracker {
  /** The whole initial pool has been ready once. */
  private booted = false;

  constructor(private readonly arbiter: Arbiter) {
    arbiter.onChange.push(() => this.check());
  }

  check(): Readiness {
    const pool = this.arbiter.snapshot;
    const workers = { ready: pool.counts.ready, desired: pool.target, booting: pool.counts.booting, draining: pool.counts.draining };
    if (!this.booted && pool.phase !== 'stopping' && workers.ready > 0 && (workers.ready >= pool.target || pool.degraded)) this.booted = true;
    const degraded = pool.degraded ? { degraded: pool.degraded } : {};
    if (pool.phase === 'stopping') {
      return { ready: false, status: 'shutting down', reason: 'the master received TERM and is draining or about to', workers };
    }
    if (!this.booted) {
      return { ready: false, status: 'booting', reason: `${workers.ready} of ${pool.target} workers ready`, workers, ...degraded };
    }
    if (workers.ready === 0) return { ready: false, status: 'no ready workers', reason: 'no worker is ready to serve', workers, ...degraded };
    return { ready: true, status: 'ready', workers, ...degraded };
  }
}

/** The admin server's limits: small headers, seconds to send them, few connections at once. */
const ADMIN_LIMITS = { maxHeaderSize: 8192, headersTimeout: 5000, requestTimeout: 10_000, connectionsCheckingInterval: 1000 } as const;
/** Connections beyond this are closed on accept (probes and scrapers need a handful). */
const ADMIN_MAX_CONNECTIONS = 64;

export interface AdminServer {
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

/**
 * admin_bind as parseAddress reads a bind address (the setting was checked like one when it was
 * read), except fd://N, which the admin server does not take.
 */
function parseAdminBind(address: string): { host: string; port: number } | { path: string } {
  const invalid = () => new BindError(`invalid admin_bind "${address}": expected HOST:PORT, [IPv6]:PORT or unix:PATH`);
  let parsed: ParsedAddress;
  try {
    parsed = parseAddress(address);
  } catch {
    throw invalid();
  }
  if (parsed.kind === 'unix') return { path: parsed.path };
  if (parsed.kind !== 'tcp') throw invalid();
  return { host: parsed.host, port: parsed.port };
}

/** `upgradeParent`: the master that started this one by USR2 (0: none), which still holds the admin port. */
export async function startAdmin(arbiter: Arbiter, address: string, log: Logger, { upgradeParent = 0 } = {}): Promise<AdminServer> {
  const target = parseAdminBind(address);
  const readiness = new ReadinessTracker(arbiter);
  const { registry } = createMetrics(arbiter, () => readiness.check().ready);

  const json = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(`${JSON.stringify(body)}\n`);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(res, 405, { error: 'method not allowed' });
    }
    switch (path) {
      case '/healthz':
      case '/livez':
        return json(res, 200, { status: 'ok', phase: arbiter.snapshot.phase, pid: process.pid });
      case '/readyz': {
        const r = readiness.check();
        return json(res, r.ready ? 200 : 503, r);
      }
      case '/metrics': {
        await refreshWorkerStats(arbiter, undefined, log);
        const text = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        return void res.end(text);
      }
      case '/status':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': STATUS_CSP, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
        return void res.end(STATUS_HTML);
      case '/status.js':
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
        return void res.end(STATUS_JS);
      case '/status.json':
        return json(res, 200, poolStatus(arbiter));
      default:
        return json(res, 404, { error: 'not found', endpoints: ['/healthz', '/readyz', '/metrics', '/status', '/status.json'] });
    }
  };
  // Bounded as every way in is: a probe or a scrape is one small request, answered at once.
  const server = http.createServer({ ...ADMIN_LIMITS }, (req, res) => {
    handle(req, res).catch((err) => {
      log.error(`Admin ${req.url}: ${(err as Error)?.message ?? err}`);
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  server.maxConnections = ADMIN_MAX_CONNECTIONS;
  server.maxHeadersCount = 50;
  const listen = () => new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(err);
    server.once('error', onError);
    server.listen('path' in target ? { path: target.path } : { host: target.host, port: target.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const announce = () => {
    // The master may not keep running only for the admin server.
    server.unref();
    const where = server.address();
    const url = typeof where === 'string' || where === null
      ? `unix:${where}`
      : `http://${where.family === 'IPv6' ? `[${where.address}]` : where.address}:${where.port}`;
    log.info(`Admin server at: ${url} (/healthz /readyz /metrics /status)`);
    return url;
  };
  const admin: AdminServer = {
    server, url: '',
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
  try {
    await listen();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A master started by USR2: its predecessor still holds the admin port and releases it when
    // it stops; bind then, rather than fail the upgrade.
    const parent = upgradeParent;
    if (code !== 'EADDRINUSE' || !parent) throw new BindError(`cannot bind admin_bind ${address}: ${code ?? (err as Error).message}`);
    log.warning(`Admin address ${address} is held by the previous master (pid ${parent}): binding it once that one stops`);
    const retry = setInterval(() => {
      listen().then(() => { clearInterval(retry); admin.url = announce(); }, () => {});
    }, 1000);
    retry.unref();
    return admin;
  }
  admin.url = announce();
  return admin;
}
