// A Fastify 5 app as its getting-started page writes it: the entry file builds the app and calls
// fastify.listen() itself; narwhal adopts that listen. HOST keeps the benchmark on 127.0.0.1.
const fastify = require('fastify')();
const counter = require('./count.js');

fastify.get('/', async () => {
  counter.served++;
  return 'hello world\n';
});

fastify.listen({ port: Number(process.env.PORT) || 3000, host: process.env.HOST || '127.0.0.1' });
