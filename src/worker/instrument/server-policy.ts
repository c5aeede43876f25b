// narwhal's server settings on a server it did not make (adopted from the app's listen(), or
// exported): the limits and Gunicorn's parsing rules always, strictly; the timeouts only where
// the app left Node's defaults, since an app that chose its own meant it.
import type http from 'node:http';
import type net from 'node:net';
import type { Settings } from '../../config/settings';
import { maxHeadersCount, serverOptions, type RequestLimits } from '../../http/request-checks';
import {
  connectionsCheckingIntervalOf, maxHeaderSizeOf, setConnectionsCheckingInterval, setStrictParsing,
} from '../../platform/node/http';

/** Node's own default keep-alive timeout: an app server still at it did not choose one. */
const NODE_KEEP_ALIVE_MS = 5000;
// reliability: Node's own header and request timeouts, which narwhal's settings replace likewise.
const NODE_HEADERS_TIMEOUT_MS = 60_000;
const NODE_REQUEST_TIMEOUT_MS = 300_000;

/** Whether a server speaks HTTP/1 through Node's http module (http.Server or https.Server). */
export function isHttp1Server(server: net.Server): server is http.Server {
  return typeof (server as Partial<http.Server>).closeIdleConnections === 'function' && 'maxHeadersCount' in server;
}

export function applyServerPolicy(
  server: http.Server, settings: Pick<Settings, 'keep_alive' | 'header_timeout' | 'request_timeout'>, limits: RequestLimits,
): void {
  const options = serverOptions(limits);
  setStrictParsing(server, {
    maxHeaderSize: Math.max(maxHeaderSizeOf(server) ?? 0, options.maxHeaderSize),
    requireHostHeader: options.requireHostHeader,
  });
  server.maxHeadersCount = maxHeadersCount(limits);
  if (server.keepAliveTimeout === NODE_KEEP_ALIVE_MS) server.keepAliveTimeout = settings.keep_alive * 1000;
  // reliability: header_timeout and request_timeout, where the app left Node's; Node checks
  // them every connectionsCheckingInterval (30 s by default): often enough to hold to the second.
  if (server.headersTimeout === NODE_HEADERS_TIMEOUT_MS) server.headersTimeout = Math.round(settings.header_timeout * 1000);
  if (server.requestTimeout === NODE_REQUEST_TIMEOUT_MS) server.requestTimeout = Math.round(settings.request_timeout * 1000);
  const shortest = Math.min(...[server.headersTimeout, server.requestTimeout].filter((t) => t > 0));
  if (Number.isFinite(shortest)) {
    setConnectionsCheckingInterval(server, Math.max(100, Math.min(connectionsCheckingIntervalOf(server), 1000, Math.round(shortest / 4))));
  }
}
