// The real-framework apps of test/apps/ (built by test/setup.mjs): where each one is, how it is
// run, and what it answers. Shared by the tests and the benchmarks.
//
// Every app is written as its framework's docs (or a user) would write it for `node app.js` or
// PM2, and knows nothing of narwhal. Each answers `GET /` with a body containing
// `pid=<process.pid>` and echoes the JSON body of `POST /echo`; the Socket.IO apps ack the
// `hello` event with { reply, pid }.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './server.mjs';

export const APPS_DIR = join(ROOT, 'test', 'apps');

/** require() from the fixtures package (socket.io-client and friends are not root deps). */
export const requireFromApps = createRequire(join(APPS_DIR, 'package.json'));

/** The exact version of a fixtures package, as installed from test/apps/package-lock.json. */
export function installedVersion(pkg) {
  return JSON.parse(readFileSync(join(APPS_DIR, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

/**
 * id: its folder, test/apps/<id> (dir), where it is run; framework: its name in
 * docs/frameworks.md; pkg: the package whose version is the one tested; entry: what `node` (and
 * narwhal) is given; port: what the app listens on by itself ('PORT': process.env.PORT, else
 * 3000; a number: hard-coded; null: never listens); env: what its run needs; gets: paths answered
 * with the pid; kind: 'http' or 'socket.io'; broadcasts: it uses @socket.io/cluster-adapter;
 * shutdownLogEnv: the env var naming the file its shutdown hook (shutdownHook) appends
 * `signal=… pid=…` to.
 */
export const APPS = [
  { id: 'express', framework: 'Express', pkg: 'express', entry: 'app.js', port: 'PORT' },
  { id: 'koa', framework: 'Koa', pkg: 'koa', entry: 'app.js', port: 'PORT' },
  { id: 'fastify', framework: 'Fastify', pkg: 'fastify', entry: 'app.js', port: 'PORT' },
  { id: 'plain-listen', framework: 'node:http', pkg: null, entry: 'app.js', port: 3000 },
  { id: 'exported-server', framework: 'node:http (exported)', pkg: null, entry: 'app.js', port: null },
  { id: 'hapi', framework: 'hapi', pkg: '@hapi/hapi', entry: 'app.js', port: 'PORT' },
  { id: 'nest', framework: 'NestJS', pkg: '@nestjs/core', entry: 'dist/main.js', port: 'PORT', shutdownLogEnv: 'SHUTDOWN_LOG', shutdownHook: 'onApplicationShutdown' },
  { id: 'nextjs', framework: 'Next.js', pkg: 'next', entry: '.next/standalone/nextjs/server.js', port: 'PORT', gets: ['/', '/echo'], env: { HOSTNAME: '0.0.0.0' } },
  { id: 'nitro', framework: 'Nitro', pkg: 'nitropack', entry: '.output/server/index.mjs', port: 'PORT' },
  { id: 'socketio', framework: 'Socket.IO', pkg: 'socket.io', entry: 'app.js', port: 'PORT', kind: 'socket.io' },
  { id: 'socketio-cluster-adapter', framework: 'Socket.IO + cluster adapter', pkg: '@socket.io/cluster-adapter', entry: 'app.js', port: 'PORT', kind: 'socket.io', broadcasts: true },
].map((app) => ({ gets: ['/'], kind: 'http', env: {}, broadcasts: false, ...app, dir: join(APPS_DIR, app.id), main: join(APPS_DIR, app.id, app.entry) }));

export const app = (id) => {
  const found = APPS.find((a) => a.id === id);
  if (!found) throw new Error(`no test app "${id}"; apps: ${APPS.map((a) => a.id).join(', ')}`);
  return found;
};

/** Throws one clear line when test/apps was not installed or built (npm test does both). */
export function assertReady(apps = APPS) {
  const missing = [join(APPS_DIR, 'node_modules'), ...apps.map((a) => a.main)].filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`test apps not set up (missing ${missing.join(', ')}): run \`node test/setup.mjs\` (npm test does)`);
}
