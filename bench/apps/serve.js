// The listen form of a benchmark app, for the peers (node, node:cluster, PM2, Watt): loads the
// handler module $BENCH_APP and listens on $PORT at 127.0.0.1, as an app that listens itself
// does. A { fetch } app goes through @hono/node-server; $BENCH_TLS_CERT/$BENCH_TLS_KEY make it
// HTTPS, $BENCH_H2=1 cleartext HTTP/2 (h2c).
const { readFileSync } = require('node:fs');

async function main() {
  let app = await import(require('node:url').pathToFileURL(process.env.BENCH_APP).href);
  app = app.default ?? app;
  const port = Number(process.env.PORT) || 3000;
  const host = process.env.HOST || '127.0.0.1';
  if (typeof app.fetch === 'function') {
    const { serve } = require('@hono/node-server');
    serve({ fetch: app.fetch, port, hostname: host });
    return;
  }
  let server;
  if (process.env.BENCH_TLS_CERT) {
    const tls = { cert: readFileSync(process.env.BENCH_TLS_CERT), key: readFileSync(process.env.BENCH_TLS_KEY) };
    server = require('node:https').createServer(tls, app);
  } else if (process.env.BENCH_H2) {
    server = require('node:http2').createServer(app);
  } else {
    server = require('node:http').createServer(app);
  }
  server.listen(port, host);
}
// A normal exit on TERM (as an app's own shutdown code would), so --cpu-prof can write its profile.
if (require('node:worker_threads').isMainThread) process.on('SIGTERM', () => process.exit(0));
main().catch((err) => { console.error(err); process.exit(1); });
