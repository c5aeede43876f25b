// Fastify, built by a factory once per worker: `narwhal 'examples/fastify.js:build()'`
const fastify = require('fastify');
exports.build = async () => {
  const app = fastify({ logger: false });
  app.get('/', async () => ({ hello: 'fastify', worker: process.pid }));
  return app;
};
