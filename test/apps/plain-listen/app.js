// node:http on a hard-coded port, no export.
const http = require('node:http');

const server = http.createServer((req, res) => {
  if (req.method === 'POST') {
    res.setHeader('content-type', req.headers['content-type'] || 'application/octet-stream');
    req.pipe(res);
    return;
  }
  res.end(`plain pid=${process.pid}`);
});

server.listen(3000, () => {
  console.log('listening on 3000');
});
