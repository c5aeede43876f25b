// The benchmark app: hello world, counting requests per process; at exit each process appends
// "pid count" to $BENCH_COUNTS so the benchmark can tell how evenly load was spread.
const { appendFileSync } = require('node:fs');
let served = 0;
if (process.env.BENCH_COUNTS) {
  process.on('exit', () => { if (served > 0) appendFileSync(process.env.BENCH_COUNTS, `${process.pid} ${served}\n`); });
}
module.exports = (req, res) => {
  served++;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '12' });
  res.end('hello world\n');
};
