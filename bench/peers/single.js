// One plain Node process: the baseline every ratio is relative to.
//   node bench/peers/single.js PORT
const http = require('node:http');
const app = require('../apps/hello.js');
const server = http.createServer(app).listen(Number(process.argv[2]), '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
