// About 1 ms of CPU per request (BENCH_CPU_ITERS iterations, ~2.2 ns each on the 2-core bench
// machine), and the time this handler took in x-handler-us, so the suite can check that every
// variant runs the same machine code before it compares throughput: it takes the fastest of
// several requests, which a preemption can only slow down. (Wall time: process CPU time would
// count Watt's other threads, and per-thread CPU time is tick-granular.) Small-integer arithmetic only: the accumulator stays below 2^16, so
// V8 keeps it a Smi in every process, whatever its JIT timing (a value above 2^31 would make
// it float code, 1-2x slower depending on when the function was optimised).
const counter = require('./count.js');
const ITERS = Number(process.env.BENCH_CPU_ITERS) || 460000;

function spin(n) {
  let x = 1;
  for (let i = 0; i < n; i++) x = (x * 31 + i) & 0xffff;
  return x;
}

module.exports = (req, res) => {
  counter.served++;
  const t0 = process.hrtime.bigint();
  const x = spin(ITERS);
  const us = Number(process.hrtime.bigint() - t0) / 1000;
  const body = `${x}\n`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length), 'x-handler-us': us.toFixed(1) });
  res.end(body);
};
