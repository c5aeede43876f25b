// Per-process (per-thread, for Watt's worker threads) request counts for the benchmark suite:
// with $BENCH_COUNTS_DIR set, each serving process or thread writes its count to its own file
// there when it loads the app and then every 200 ms, so the harness can tell how many workers
// serve and how evenly the measured load was spread. A write of a few bytes 5 times a second
// costs the same in every variant.
const { renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { threadId } = require('node:worker_threads');

const dir = process.env.BENCH_COUNTS_DIR;
const file = dir ? join(dir, `${process.pid}-${threadId}`) : null;
const counter = { served: 0 };
if (file) {
  let written = -1;
  // Written aside and renamed into place: a reader never sees a half-written file.
  const flush = () => {
    if (counter.served === written) return;
    written = counter.served;
    writeFileSync(`${file}.tmp`, String(written));
    renameSync(`${file}.tmp`, file);
  };
  flush();
  setInterval(flush, 200).unref();
  process.on('exit', flush);
}
module.exports = counter;
