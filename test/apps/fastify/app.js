// Fastify 5, as its getting-started page writes it: fastify.listen({ port }) with the default
// host (localhost).
const fastify = require('fastify')({ logger: true });

fastify.get('/', async () => `fastify pid=${process.pid}`);

fastify.post('/echo', async (request) => request.body);

const start = async () => {
  try {
    await fastify.listen({ port: Number(process.env.PORT) || 3000 });
  } catch (err) {
    fastify.log.error(err);
    process.exit(1);
  }
};
start();
