// Socket.IO 4.8 for a multi-process deployment: the same listening server, plus the two lines
// @socket.io/cluster-adapter asks of each worker so that io.emit() reaches the clients of every
// worker (the node:cluster primary runs the adapter's setupPrimary()).
const { createServer } = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/cluster-adapter');

const httpServer = createServer((req, res) => {
  if (req.method === 'POST') {
    res.setHeader('content-type', req.headers['content-type'] || 'application/octet-stream');
    req.pipe(res);
    return;
  }
  res.end(`socket.io cluster-adapter pid=${process.pid}`);
});

const io = new Server(httpServer);
io.adapter(createAdapter());

io.on('connection', (socket) => {
  socket.on('hello', (message, ack) => {
    ack({ reply: `hello ${message}`, pid: process.pid });
  });
  // A broadcast to every client on every worker; the ack says which worker sent it.
  socket.on('shout', (message, ack) => {
    io.emit('shouted', { message, from: process.pid });
    ack({ pid: process.pid });
  });
});

httpServer.listen(process.env.PORT || 3000);
