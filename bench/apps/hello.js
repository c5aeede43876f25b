// The benchmark app: hello world, counting requests per process; at exit each process appends
// "pid count" to $BENCH_COUNTS so the benchmark can tell how evenly load was spread
// (distribution.mjs); the suite (run.mjs) reads the per-process files of count.js instead.
const { appendFileSync } = require('node:fs');
const counter = require('./count.js');
if (process.env.BENCH_COUNTS) {
  process.on('exit', () => { if (counter.served > 0) appendFileSync(process.env.BENCH_COUNTS, `${process.pid} ${counter.served}\n`); });
}
module.exports = (req, res) => {
  counter.served++;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '12' });
  res.end('hello world\n');
};
