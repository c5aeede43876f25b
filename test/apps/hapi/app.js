// hapi 21, as its getting-started page writes it (all interfaces rather than only localhost).
const Hapi = require('@hapi/hapi');

const init = async () => {
  const server = Hapi.server({ port: process.env.PORT || 3000 });

  server.route({
    method: 'GET',
    path: '/',
    handler: () => `hapi pid=${process.pid}`,
  });

  server.route({
    method: 'POST',
    path: '/echo',
    handler: (request) => request.payload,
  });

  await server.start();
  console.log('Server running on %s', server.info.uri);
};

process.on('unhandledRejection', (err) => {
  console.log(err);
  process.exit(1);
});

init();
