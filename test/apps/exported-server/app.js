// An http.Server that is created and exported, never listened on: whoever requires it serves it.
const http = require('node:http');

module.exports = http.createServer((req, res) => {
  if (req.method === 'POST') {
    res.setHeader('content-type', req.headers['content-type'] || 'application/octet-stream');
    req.pipe(res);
    return;
  }
  res.end(`exported pid=${process.pid}`);
});
