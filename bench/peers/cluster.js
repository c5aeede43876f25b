// The peer to beat: a hand-written node:cluster script, as teams run today.
//   node bench/peers/cluster.js PORT WORKERS [rr|none]
const cluster = require('node:cluster');
const http = require('node:http');
const [port, workers, policy] = [Number(process.argv[2]), Number(process.argv[3] ?? 2), process.argv[4] ?? 'rr'];
cluster.schedulingPolicy = policy === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let listening = 0;
  cluster.on('listening', () => { if (++listening === workers) console.log('ready'); });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    cluster.on('exit', () => { if (Object.keys(cluster.workers).length === 0) process.exit(0); });
  });
} else {
  const app = require('../apps/hello.js');
  const server = http.createServer(app).listen(port, '127.0.0.1');
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
