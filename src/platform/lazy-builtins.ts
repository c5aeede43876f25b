// Node builtins that only some settings need (TLS, HTTP/2), loaded on their first use: a worker
// that serves neither never loads them (node:tls and node:http2 take about 15 ms of every
// worker's start and 2 MB of its memory). node:perf_hooks (5-10 ms to load) is needed only
// once a worker is up, for its event-loop lag; node:dns/promises (~1 ms, and a resolver reading
// /etc/resolv.conf) only for a bind address that is a host name. `require` caches, so a later
// call is a lookup.
import type NodeCrypto from 'node:crypto';
import type NodeDns from 'node:dns/promises';
import type NodePerfHooks from 'node:perf_hooks';
import type NodeTls from 'node:tls';

export const nodeTls = (): typeof NodeTls => require('node:tls') as typeof NodeTls;
export const nodeCrypto = (): typeof NodeCrypto => require('node:crypto') as typeof NodeCrypto;
export const nodePerfHooks = (): typeof NodePerfHooks => require('node:perf_hooks') as typeof NodePerfHooks;
export const nodeDns = (): typeof NodeDns => require('node:dns/promises') as typeof NodeDns;
