// A hand-written node:cluster script for an app that listens itself, as teams run one today:
//   node bench/peers/cluster-app.js APP WORKERS [rr|none]
// Each worker requires APP; its listen() is shared through the primary (rr: the primary
// accepts and hands connections round-robin; none: the workers accept from one shared socket).
const cluster = require('node:cluster');
const { resolve } = require('node:path');
const [app, workers, policy] = [resolve(process.argv[2]), Number(process.argv[3] ?? 2), process.argv[4] ?? 'rr'];
cluster.schedulingPolicy = policy === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    cluster.on('exit', () => { if (Object.keys(cluster.workers).length === 0) process.exit(0); });
  });
} else {
  process.on('SIGTERM', () => process.exit(0));
  if (app.endsWith('.mjs')) import(require('node:url').pathToFileURL(app).href);
  else require(app);
}
