// The hand-written node:cluster script a team runs an unmodified app with today (PM2 cluster mode
// does the same): the primary forks WORKERS processes that each run APP as `node APP` would,
// and their listen() calls are shared through the primary.
//   node test/helpers/node-cluster.cjs APP WORKERS [--cluster-adapter]
// --cluster-adapter: the primary runs @socket.io/cluster-adapter's setupPrimary(), the line a
// Socket.IO app's cluster script has (resolved from test/apps).
// Prints `ready` once every worker listens; TERM stops the workers (TERM each) and exits 0.
const cluster = require('node:cluster');
const { createRequire } = require('node:module');
const path = require('node:path');

const [appPath, count = '2', ...flags] = process.argv.slice(2);
const workers = Number(count);

if (flags.includes('--cluster-adapter')) {
  createRequire(path.join(__dirname, '..', 'apps', 'package.json'))('@socket.io/cluster-adapter').setupPrimary();
}

cluster.setupPrimary({ exec: path.resolve(appPath), args: [] });
const listening = new Set();
let stopping = false;
for (let i = 0; i < workers; i++) cluster.fork();

cluster.on('listening', (worker) => {
  listening.add(worker.id);
  if (listening.size === workers) console.log('ready');
});
cluster.on('exit', (worker, code, signal) => {
  if (!stopping) {
    console.error(`worker ${worker.process.pid} exited (${signal ?? code}) ${listening.has(worker.id) ? 'while serving' : 'before it listened'}`);
    process.exit(1);
  }
  if (Object.keys(cluster.workers).length === 0) process.exit(0);
});
process.on('SIGTERM', () => {
  stopping = true;
  for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
});
