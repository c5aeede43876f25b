// About 1 ms of CPU per request (BENCH_CPU_ITERS iterations, ~2.2 ns each on the 2-core bench
// machine), and the CPU time this handler took in x-handler-us (process CPU time, so that being
// preempted by another process does not count), so the suite can check that every variant runs
// the same machine code before it compares throughput. Where Node has it (>= 23.9), the time is
// the thread's own (Watt runs workers as threads of one process, whose CPU time is shared). Small-integer arithmetic only: the accumulator stays below 2^16, so
// V8 keeps it a Smi in every process, whatever its JIT timing (a value above 2^31 would make
// it float code, 1-2x slower depending on when the function was optimised).
const counter = require('./count.js');
const ITERS = Number(process.env.BENCH_CPU_ITERS) || 460000;
const cpuUsage = process.threadCpuUsage ? (t) => process.threadCpuUsage(t) : (t) => process.cpuUsage(t);

function spin(n) {
  let x = 1;
  for (let i = 0; i < n; i++) x = (x * 31 + i) & 0xffff;
  return x;
}

module.exports = (req, res) => {
  counter.served++;
  const t0 = cpuUsage();
  const x = spin(ITERS);
  const t = cpuUsage(t0);
  const us = t.user + t.system;
  const body = `${x}\n`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length), 'x-handler-us': us.toFixed(1) });
  res.end(body);
};
