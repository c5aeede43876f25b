// What the suite measures: the variants (narwhal and its peers) and the scenarios (an app, a
// load, and which variants take part). A variant's `group` is the runtime it runs on: `main`
// is the Node of --node (every peer and narwhal); `watt` (Watt, and a bare process beside it)
// and `binary` (the Node the binary embeds) join `main` when they are the same Node, as they are
// on the default line. Ratios compare a variant with the best *peer* of its own group.
import { join } from 'node:path';
import { ROOT } from './servers.mjs';

const app = (name) => join(ROOT, 'bench/apps', name);
/** The framework apps of the test suite (test/apps, built by test/setup.mjs). */
const testApp = (path) => join(ROOT, 'test/apps', path);
/** Counts requests in apps the suite does not write (bench/apps/count-requests.js). */
const COUNTED = { NODE_OPTIONS: `--require ${app('count-requests.js')}` };
const SERVE = app('serve.js');

export const VARIANTS = {
  node: { label: 'node:http, 1 process', group: 'main', peer: true, workers: 1 },
  'cluster-rr': { label: 'node:cluster round-robin', group: 'main', peer: true },
  'cluster-shared': { label: 'node:cluster shared socket', group: 'main', peer: true },
  pm2: { label: 'PM2 7.0.4 cluster mode', group: 'main', peer: true },
  gunicorn: { label: 'Gunicorn 20.1 sync (Python WSGI)', group: 'main', peer: true, needs: 'gunicorn' },
  narwhal: { label: 'narwhal (default: shared socket)', group: 'main', peer: false },
  'narwhal-rr': { label: 'narwhal --distribution round-robin', group: 'main', peer: false, base: 'narwhal', args: ['--distribution', 'round-robin'] },
  // The shared socket without the balance: connections stay where the kernel put them.
  'narwhal-unbalanced': { label: 'narwhal --balance-connections off', group: 'main', peer: false, base: 'narwhal', args: ['--balance-connections', 'off'] },
  // A reference for memory (worker RSS − a bare process on the same Node), not a peer to beat.
  node24: { label: "node:http on Watt's Node, 1 process (reference)", group: 'watt', peer: false, workers: 1, needs: 'node24' },
  watt: { label: 'Watt 3.67.0 (threads + SO_REUSEPORT)', group: 'watt', peer: true, needs: 'node24' },
  // --threads: `workers` here is the event loops the harness waits for and spreads load over.
  'narwhal-w1t2': { label: 'narwhal -w 1 --threads 2', group: 'main', peer: false, base: 'narwhal', args: ['-w', '1', '--threads', '2'], workers: 2 },
  'narwhal-w2t2': { label: 'narwhal -w 2 --threads 2', group: 'main', peer: false, base: 'narwhal', args: ['-w', '2', '--threads', '2'], workers: 4 },
  'narwhal-w4': { label: 'narwhal -w 4', group: 'main', peer: false, base: 'narwhal', args: ['-w', '4'], workers: 4 },
  'watt-4': { label: 'Watt 3.67.0, 4 threads', group: 'watt', peer: true, needs: 'node24', base: 'watt', workers: 4 },
  'narwhal-bin': { label: 'narwhal binary (default: shared socket)', group: 'binary', peer: false, needs: 'binary' },
  'narwhal-bin-reuseport': { label: 'narwhal binary --distribution reuseport', group: 'binary', peer: false, needs: 'binary', base: 'narwhal-bin', args: ['--distribution', 'reuseport'] },
};

/** A handler module: the peers serve it through serve.js (they listen), narwhal through its export. */
const handler = (file, env = {}) => ({ listen: SERVE, narwhal: app(file), env: { BENCH_APP: app(file), ...env } });

const CORE = ['node', 'cluster-rr', 'cluster-shared', 'pm2', 'narwhal', 'watt', 'narwhal-bin'];
const SMALL = ['node', 'cluster-rr', 'pm2', 'narwhal', 'watt', 'narwhal-bin'];

/**
 * Scenarios. `quick`: part of the ~2 minute quick mode (with `quickVariants` there). `variants`
 * may name a scenario-only variant: { id, base, label, args(ctx) }. `pending`: a slot kept for a
 * feature not landed yet, filled when `ready()` says the feature is there.
 */
export const SCENARIOS = [
  {
    id: 'hello', title: 'hello world, keep-alive', app: handler('hello.js'), load: {},
    variants: [...CORE, 'narwhal-rr', 'narwhal-unbalanced', 'node24', 'narwhal-bin-reuseport', 'gunicorn'],
    quick: true, quickVariants: ['node', 'cluster-rr', 'pm2', 'narwhal', 'watt', 'narwhal-bin'],
  },
  {
    // Issue 21: event loops as threads of one process against as many processes, and Watt.
    id: 'threads', title: 'hello world, keep-alive: 2 and 4 event loops as processes, as --threads, and as Watt threads', app: handler('hello.js'), load: {},
    variants: ['cluster-shared', 'narwhal', 'narwhal-w1t2', 'watt', 'narwhal-w4', 'narwhal-w2t2', 'watt-4'],
  },
  {
    id: 'close', title: 'hello world, Connection: close (a connection per request)', app: handler('hello.js'), load: { close: true },
    variants: [...CORE, 'narwhal-rr', 'narwhal-unbalanced', 'narwhal-bin-reuseport', 'gunicorn'],
    quick: true, quickVariants: ['node', 'cluster-rr', 'cluster-shared', 'narwhal', 'narwhal-rr'],
  },
  {
    id: 'cpu', title: '~1 ms of CPU per request (small-integer loop)', app: handler('cpu.js'), load: {}, handlerTime: true,
    variants: CORE, quick: true, quickVariants: ['node', 'narwhal'],
  },
  { id: 'big', title: '64 KiB response', app: handler('big.js'), load: {}, variants: SMALL },
  { id: 'echo', title: '16 KiB POST echo', app: handler('echo.js'), load: { postBytes: 16384 }, variants: SMALL },
  {
    // Issue 8's benchmark: the same unmodified Express app, in the listen form, under each.
    id: 'express', title: 'Express 5 app that listens itself (app.listen(PORT))',
    app: { listen: app('express-listen.js'), narwhal: app('express-listen.js'), exportForm: app('express-app.js'), env: {} },
    load: {}, variants: ['node', 'cluster-rr', 'pm2', 'narwhal', 'watt', 'narwhal-bin'],
    quick: true, quickVariants: ['cluster-rr', 'pm2', 'narwhal'],
  },
  {
    // The same unmodified Fastify app, which listens itself, under each.
    id: 'fastify', title: 'Fastify 5 app that listens itself (fastify.listen)',
    app: { listen: app('fastify-listen.js'), narwhal: app('fastify-listen.js'), env: {} },
    load: {}, variants: ['node', 'cluster-rr', 'cluster-shared', 'pm2', 'narwhal'],
  },
  {
    // test/apps/nest: the standard main.ts (NestFactory.create, app.listen(PORT)), built with tsc.
    id: 'nest', title: 'NestJS app (test/apps/nest: app.listen(PORT))', frameworks: true, countsFromFirstRequest: true,
    app: { listen: testApp('nest/dist/main.js'), narwhal: testApp('nest/dist/main.js'), env: COUNTED },
    load: {}, variants: ['node', 'cluster-rr', 'cluster-shared', 'pm2', 'narwhal'],
  },
  {
    // test/apps/nextjs: `next build` with output standalone; its server.js listens itself.
    id: 'nextjs', title: 'Next.js standalone, a page rendered per request (test/apps/nextjs)', frameworks: true, countsFromFirstRequest: true,
    app: {
      listen: testApp('nextjs/.next/standalone/nextjs/server.js'), narwhal: testApp('nextjs/.next/standalone/nextjs/server.js'),
      env: { ...COUNTED, HOSTNAME: '127.0.0.1', NEXT_TELEMETRY_DISABLED: '1' },
    },
    load: {}, variants: ['node', 'cluster-rr', 'cluster-shared', 'pm2', 'narwhal'],
  },
  {
    // 10 000 concurrent keep-alive connections; narwhal's per-worker cap (worker_connections,
    // 1000 by default as Gunicorn's) raised, as its help tells deployments with many connections.
    id: 'c10k', title: 'hello world, 10 000 keep-alive connections (wrk -t2 -c10000)', app: handler('hello.js'),
    load: { connections: 10000, threads: 2 }, narwhalArgs: ['--worker-connections', '10000'],
    variants: ['cluster-rr', 'cluster-shared', 'pm2', 'narwhal', 'narwhal-rr'],
  },
  {
    id: 'hono', title: 'Hono { fetch } app (peers: @hono/node-server)', app: handler('hono.mjs'), load: {},
    variants: ['node', 'cluster-rr', 'pm2', 'narwhal', 'watt', 'narwhal-bin'],
  },
  {
    id: 'access-log', title: 'hello world, narwhal access log on (to a file)', app: handler('hello.js'), load: {},
    variants: ['node', 'cluster-rr', 'narwhal',
      { id: 'narwhal-access', base: 'narwhal', label: 'narwhal --access-logfile FILE', args: (ctx) => ['--access-logfile', join(ctx.dir, `access-${ctx.port}.log`)] }],
  },
  {
    id: 'metrics', title: 'hello world, narwhal metrics on (--admin-bind, /metrics scraped every 1 s)', app: handler('hello.js'), load: {},
    variants: ['node', 'cluster-rr', 'narwhal',
      { id: 'narwhal-metrics', base: 'narwhal', label: 'narwhal --admin-bind (metrics on)', args: () => ['--admin-bind', '127.0.0.1:0'], scrapeMetrics: true }],
  },
  {
    id: 'tls', title: 'hello world over TLS (keep-alive)', app: handler('hello.js'), load: { tls: true }, tls: true,
    variants: ['node', 'cluster-rr', 'pm2', 'narwhal', 'narwhal-bin'],
  },
  {
    id: 'h2', title: 'HTTP/2 cleartext (h2load -m 1)', app: handler('hello.js', { BENCH_H2: '1' }), load: { h2: true }, h2: true,
    variants: ['node', 'cluster-rr', 'narwhal'],
    // h2c with prior knowledge (what h2load speaks), as a proxy in front would (docs/protocols.md).
    narwhalReady: (help) => /--http2-cleartext\b/.test(help), narwhalArgs: ['--http2-cleartext', 'prior-knowledge'],
    narwhalPending: 'narwhal serves no HTTP/2 yet (protocols issue): peers only',
  },
  {
    id: 'sticky', title: 'issue 10: --sticky off vs on, hello world, Connection: close', app: handler('hello.js'), load: { close: true },
    variants: ['node', 'cluster-rr', 'narwhal', { id: 'narwhal-sticky', base: 'narwhal', label: 'narwhal --sticky', args: () => ['--sticky'] }],
    ready: (help) => /--sticky\b/.test(help), pending: 'no --sticky yet (issue 10): slot kept, measured once it lands',
  },
];
