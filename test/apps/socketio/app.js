// Socket.IO 4.8 attached to a node:http server that listens itself (PORT or 3000).
const { createServer } = require('node:http');
const { Server } = require('socket.io');

const httpServer = createServer((req, res) => {
  if (req.method === 'POST') {
    res.setHeader('content-type', req.headers['content-type'] || 'application/octet-stream');
    req.pipe(res);
    return;
  }
  res.end(`socket.io pid=${process.pid}`);
});

const io = new Server(httpServer);

io.on('connection', (socket) => {
  socket.on('hello', (message, ack) => {
    ack({ reply: `hello ${message}`, pid: process.pid });
  });
});

httpServer.listen(process.env.PORT || 3000);
