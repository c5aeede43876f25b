// Node builtins that only some settings need (TLS, HTTP/2), loaded on their first use: a worker
// that serves neither never loads them (node:tls and node:http2 take about 15 ms of every
// worker's start and 2 MB of its memory). `require` caches, so a later call is a lookup.
import type NodeCrypto from 'node:crypto';
import type NodeTls from 'node:tls';

export const nodeTls = (): typeof NodeTls => require('node:tls') as typeof NodeTls;
export const nodeCrypto = (): typeof NodeCrypto => require('node:crypto') as typeof NodeCrypto;
