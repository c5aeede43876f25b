// One plain Node process serving HTTPS with HTTP/2 and HTTP/1.1 on one port (ALPN), as Node's
// docs show it: http2.createSecureServer({ allowHTTP1: true }). The baseline of bench/h2load.mjs.
//   node bench/peers/tls-single.js PORT CERT KEY
const { readFileSync } = require('node:fs');
const http2 = require('node:http2');
const app = require('../apps/hello.js');
const [port, cert, key] = process.argv.slice(2);
const server = http2.createSecureServer({ cert: readFileSync(cert), key: readFileSync(key), allowHTTP1: true }, app);
server.listen(Number(port), '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
