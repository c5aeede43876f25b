// HTTP/2 against HTTP/1.1 over TLS, with h2load (Debian's nghttp2-client), in the same run:
// narwhal (1 and N workers, --certfile, ALPN h2 + http/1.1) next to one plain Node process
// serving both protocols (http2.createSecureServer with allowHTTP1: bench/peers/tls-single.js).
//   npm run build && node bench/h2load.mjs [--rounds 5] [--seconds 4] [--workers 2]
// Three loads, 64 requests in flight each, on keep-alive connections made before the clock starts:
//   h1      64 HTTP/1.1 connections, one request at a time each (h2load --h1 -c 64 -m 1)
//   h2      64 HTTP/2 connections, one stream at a time each (-c 64 -m 1): the per-request cost
//   h2 mux  4 HTTP/2 connections, 16 streams at a time each (-c 4 -m 16): what HTTP/2 is for
// Certificates are made with openssl in a temp dir. Traffic goes to 127.0.0.1 only; every
// server is stopped by PID.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, median, startVariant, ROOT } from './lib.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const rounds = Number(arg('rounds', 5));
const seconds = Number(arg('seconds', 4));
const workers = Number(arg('workers', 2));
const app = join(ROOT, 'bench', 'apps', 'hello.js');

const dir = mkdtempSync(join(tmpdir(), 'narwhal-h2load-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
  '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
{ stdio: 'ignore' });
const TLS = [join(dir, 'cert.pem'), join(dir, 'key.pem')];

const narwhal = (n) => (port) => ({
  cmd: process.execPath,
  args: [join(ROOT, 'dist', 'narwhal.js'), '-w', String(n), '-b', `127.0.0.1:${port}`, '--certfile', TLS[0], '--keyfile', TLS[1], app],
});
const variants = [
  ['node http2.createSecureServer (allowHTTP1), 1 process', (port) => ({ cmd: process.execPath, args: [join(ROOT, 'bench/peers/tls-single.js'), String(port), ...TLS] })],
  ['narwhal -w 1', narwhal(1)],
  [`narwhal -w ${workers}`, narwhal(workers)],
];
const LOADS = [
  ['h1', ['--h1', '-c', '64', '-m', '1']],
  ['h2', ['-c', '64', '-m', '1']],
  ['h2 mux', ['-c', '4', '-m', '16']],
];

/** One h2load run: requests per second, and whether every request succeeded. */
function h2load(port, args, duration) {
  const out = execFileSync('h2load', [...args, '-t', '1', '--warm-up-time', '1', '-D', String(duration), `https://127.0.0.1:${port}/`],
    { encoding: 'utf8', timeout: (duration + 30) * 1000 });
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1]);
  const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(out);
  const protocol = /Application protocol: (\S+)/.exec(out)?.[1];
  return { rps, failed: Number(m?.[5] ?? -1), protocol };
}

// Every server runs for the whole benchmark, and the runs interleave (each round goes through
// the loads, each load through the servers, in an order that turns every round), so that the
// machine's drift and its other jobs hit every server alike.
const servers = [];
try {
  for (const [name, make] of variants) {
    const port = await freePort();
    servers.push({ name, port, v: await startVariant({ ...make(port), port }) });
  }
  for (const { port } of servers) for (const [, args] of LOADS) h2load(port, args, 1); // warm-up
  const results = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const [load, args] of LOADS) {
      for (let i = 0; i < servers.length; i++) {
        const { name, port } = servers[(i + round) % servers.length];
        const r = h2load(port, args, seconds);
        const key = `${name}|${load}`;
        if (!results.has(key)) results.set(key, []);
        results.get(key).push(r.rps);
        process.stderr.write(`round ${round + 1} ${name} ${load}: ${Math.round(r.rps)} req/s (${r.protocol}${r.failed ? `, ${r.failed} failed` : ''})\n`);
        if (r.failed !== 0) throw new Error(`${name} ${load}: ${r.failed} requests failed`);
      }
    }
  }
  report(results);
} finally {
  for (const { v } of servers) await v.stop();
}

function report(results) {
  const med = (name, load) => median(results.get(`${name}|${load}`));
  const base = med(variants[0][0], 'h1');
  console.log(`\nh2load -t1, 64 requests in flight, ${seconds}s (after 1s warm-up) x ${rounds} rounds (interleaved), medians; Node ${process.version}\n`);
  console.log('| server | TLS + HTTP/1.1 req/s | TLS + h2 req/s | h2 / h1 | TLS + h2, 4 conns x 16 streams req/s | h2 mux / h1 | h1 vs node | h2 mux vs node |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  const baseMux = med(variants[0][0], 'h2 mux');
  for (const [name] of variants) {
    const [h1, h2, mux] = ['h1', 'h2', 'h2 mux'].map((l) => med(name, l));
    console.log(`| ${name} | ${Math.round(h1)} | ${Math.round(h2)} | ${(h2 / h1).toFixed(2)} | ${Math.round(mux)} | ${(mux / h1).toFixed(2)} | ${(h1 / base).toFixed(2)} | ${(mux / baseMux).toFixed(2)} |`);
  }
}
