// Ways to run an unmodified app (test/helpers/apps.mjs) with N workers, behind one interface, so
// that the framework matrix can be checked against narwhal (the committed test) and, to validate
// the test itself, against plain `node app.js` and a node:cluster script:
//   FRAMEWORKS_RUNNER=narwhal|cluster|node npx uvu test frameworks
//
// start(app, { workers, env }) resolves a handle:
//   port          where the app is served on 127.0.0.1
//   pid           the process the runner started (narwhal's master, the cluster primary, node)
//   workers()     the PIDs that serve requests
//   output()      what it printed so far
//   exit          resolves { code, signal } when `pid` exits
//   terminate()   sends TERM to `pid`
import { spawn } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Started, childPids, cleanEnv, freePort, poll } from './proc.mjs';
import { startServer } from './server.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const started = new Started();


const canConnect = (port) => new Promise((resolve) => {
  const socket = net.connect(port, '127.0.0.1');
  socket.once('connect', () => { socket.destroy(); resolve(true); });
  socket.once('error', () => resolve(false));
});

/** Spawns CMD ARGS with the app's env; resolves a handle once READY(handle) is true. */
async function spawnRunner(cmd, args, { app, env, ready, port, workers, timeoutMs = 30000 }) {
  const child = started.watch(spawn(cmd, args, { cwd: app.dir, env: cleanEnv({ ...app.env, ...env }), stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const handle = {
    child,
    pid: child.pid,
    port,
    workers: () => workers(handle),
    output: () => out,
    exit: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
    terminate: () => child.kill('SIGTERM'),
  };
  let exited = null;
  handle.exit.then((e) => { exited = e; });
  await poll(async () => {
    if (exited) throw new Error(`${cmd} ${args.join(' ')} exited (${exited.signal ?? exited.code}) before serving:\n${out}`);
    return ready(handle);
  }, { timeoutMs, everyMs: 50, message: `${args.join(' ')} not serving on ${port} after ${timeoutMs} ms:\n${out}` });
  return handle;
}

const listenPort = async (app) => (typeof app.port === 'number' ? app.port : freePort());

export const RUNNERS = {
  /** narwhal -w N APP, bound by the test to 127.0.0.1:0; the app asks for 3000 or PORT. */
  narwhal: {
    name: 'narwhal',
    command: (app, n) => `narwhal -w ${n} ${app.entry}`,
    adopts: true,
    workerCount: (n) => n,
    relaysClusterAdapter: true,
    stoppedGracefully: ({ code }) => code === 0,
    async start(app, { workers = 2, env = {} } = {}) {
      const server = await startServer(['-w', String(workers), app.entry], { env: { ...app.env, ...env }, cwd: app.dir, timeoutMs: 30000 });
      const output = () => `${server.log}${server.stdout ? `\n(stdout)\n${server.stdout}` : ''}`;
      await Promise.race([
        server.waitForReady(workers, 30000).catch(() => { throw new Error(`${workers} workers not ready 30 s after narwhal listened; its output:\n${output()}`); }),
        server.exit.then((e) => { throw new Error(`narwhal exited (${e.signal ?? e.code}) before ${workers} workers were ready; its output:\n${output()}`); }),
      ]);
      return {
        child: server.child,
        pid: server.pid,
        port: server.port,
        workers: server.workers,
        output,
        exit: server.exit,
        terminate: () => server.signal('SIGTERM'),
      };
    },
  },

  /** The app's own listen() shared by a node:cluster primary (test/helpers/node-cluster.cjs). */
  cluster: {
    name: 'node:cluster',
    command: (app, n) => `node node-cluster.cjs ${app.entry} ${n}`,
    adopts: false,
    workerCount: (n) => n,
    relaysClusterAdapter: true,
    stoppedGracefully: ({ code }) => code === 0,
    async start(app, { workers = 2, env = {} } = {}) {
      const port = await listenPort(app);
      const args = [join(HERE, 'node-cluster.cjs'), app.entry, String(workers), ...(app.broadcasts ? ['--cluster-adapter'] : [])];
      return spawnRunner(process.execPath, args, {
        app, port, env: { PORT: String(port), ...env },
        workers: (h) => childPids(h.pid),
        ready: (h) => /^ready$/m.test(h.output()),
      });
    },
  },

  /** `node APP`: one process, the app's own listen(). */
  node: {
    name: 'node',
    command: (app) => `node ${app.entry}`,
    adopts: false,
    workerCount: () => 1,
    relaysClusterAdapter: false,
    noRelay: 'one process: the adapter needs a cluster primary',
    // Without a TERM handler Node dies of the signal; Next.js exits 143 after closing.
    stoppedGracefully: ({ code, signal }) => code === 0 || code === 143 || signal === 'SIGTERM',
    async start(app, { env = {} } = {}) {
      const port = await listenPort(app);
      return spawnRunner(process.execPath, [app.entry], {
        app, port, env: { PORT: String(port), ...env },
        workers: (h) => [h.pid],
        ready: () => canConnect(port),
      });
    },
  },
};

export function runnerFromEnv() {
  const name = process.env.FRAMEWORKS_RUNNER ?? 'narwhal';
  const runner = RUNNERS[name];
  if (!runner) throw new Error(`FRAMEWORKS_RUNNER=${name}: expected one of ${Object.keys(RUNNERS).join(', ')}`);
  return runner;
}

/** SIGKILLs (by PID) what the node and cluster runners started; narwhal's go through killAll in server.mjs. */
export function killRunners() {
  started.killAll();
}
