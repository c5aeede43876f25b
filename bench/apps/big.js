// A 64 KiB response body (one preallocated buffer: the server's write path is what is measured).
const counter = require('./count.js');
const body = Buffer.alloc(64 * 1024, 'narwhal ');
module.exports = (req, res) => {
  counter.served++;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
  res.end(body);
};
