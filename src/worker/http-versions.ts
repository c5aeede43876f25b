// Which protocols the served server is offered, from the settings (http_protocols,
// http2_cleartext, TLS on or off) and what the server can speak:
//   - an http.Server (every shape but the app's own http2 or TLS server): HTTP/1.1 as it is, and
//     HTTP/2 through narwhal's bridge (http2-bridge.ts): over TLS when ALPN picks h2, in
//     cleartext with http2_cleartext for clients that open with the preface;
//   - the app's own http2 server (http2.createServer(), Fastify with http2: true) speaks only
//     HTTP/2: served over TLS when h2 is offered, in cleartext with http2_cleartext, and refused
//     at boot otherwise, since no client of narwhal's binds could talk to it;
//   - the app's own TLS server (https, http2.createSecureServer), or a plain net.Server: as it
//     is, its bytes untouched.
import type net from 'node:net';
import type { Settings } from '../config/settings';
import type { TlsConfig } from '../http/tls';
import { isHttp2Server } from './adapters';
import { isHttp1Server } from './instrument/server-policy';
import { AppLoadError } from './load-app';

export interface ServedProtocols {
  /** The ALPN names the TLS front offers, in order of preference (null without narwhal's TLS). */
  alpn: string[] | null;
  /** Whether HTTP/1.1 goes to the server: false for an HTTP/2-only server or http_protocols h2. */
  http1: boolean;
  /** Where HTTP/2 connections go: narwhal's bridge to an http.Server, or the app's http2 server. */
  h2: 'bridge' | 'server' | null;
  /** Cleartext connections may be h2c with prior knowledge. */
  h2c: boolean;
  /** For the master's log: " (h2, http/1.1)", or "" when narwhal adds nothing. */
  description: string;
}

const terminatesTls = (server: net.Server): boolean => 'setSecureContext' in server;

const AS_IT_IS: ServedProtocols = { alpn: null, http1: true, h2: null, h2c: false, description: '' };

export function servedProtocols(server: net.Server, settings: Pick<Settings, 'http_protocols' | 'http2_cleartext'>, tls: TlsConfig | null): ServedProtocols {
  const h2c = settings.http2_cleartext !== 'off';
  if (terminatesTls(server)) return AS_IT_IS;
  if (isHttp2Server(server)) {
    const what = 'the app\'s server is an http2 server, which speaks only HTTP/2 (http2.createServer(), Fastify with http2: true)';
    if (tls) {
      if (!tls.alpn.includes('h2')) {
        throw new AppLoadError(`${what}, and http_protocols (${settings.http_protocols.join(',')}) offers no h2: add h2 to http_protocols, or serve an http.Server (Fastify without http2: true), which narwhal serves over both`);
      }
      return { alpn: ['h2'], http1: false, h2: 'server', h2c: false, description: ' (h2 only)' };
    }
    if (!h2c) {
      throw new AppLoadError(`${what}, and narwhal's binds speak HTTP/1.1 without TLS: serve it over TLS (--certfile, --keyfile), or as cleartext HTTP/2 to clients that know (--http2-cleartext prior-knowledge), or serve an http.Server (Fastify without http2: true), to which narwhal adds HTTP/2`);
    }
    return { alpn: null, http1: false, h2: 'server', h2c: true, description: ' (h2c only)' };
  }
  if (!isHttp1Server(server)) return tls ? { ...AS_IT_IS, alpn: ['http/1.1'] } : AS_IT_IS;
  if (tls) {
    const h2 = tls.alpn.includes('h2');
    return { alpn: tls.alpn, http1: tls.alpn.includes('http/1.1'), h2: h2 ? 'bridge' : null, h2c: false, description: ` (${tls.alpn.join(', ')})` };
  }
  return h2c ? { alpn: null, http1: true, h2: 'bridge', h2c: true, description: ' (http/1.1, h2c)' } : AS_IT_IS;
}
