// Request counts per process for apps the suite does not write (NestJS, Next.js): preloaded with
// NODE_OPTIONS=--require, it counts every 'request' event an HTTP server emits and, from the
// first one on, writes the count to $BENCH_COUNTS_DIR as count.js does. A process that serves
// nothing (narwhal's master, a cluster primary) writes no file.
const http = require('node:http');

if (process.env.BENCH_COUNTS_DIR) {
  let counter = null;
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function countedEmit(event, ...args) {
    if (event === 'request') (counter ??= require('./count.js')).served++;
    return emit.call(this, event, ...args);
  };
}
