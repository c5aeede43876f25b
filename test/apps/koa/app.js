// Koa 3: one middleware, app.listen() on PORT or 3000.
const Koa = require('koa');

const app = new Koa();

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

app.use(async (ctx) => {
  if (ctx.method === 'POST' && ctx.path === '/echo') {
    ctx.type = ctx.get('content-type') || 'text/plain';
    ctx.body = await readBody(ctx.req);
    return;
  }
  ctx.body = `koa pid=${process.pid}`;
});

app.listen(process.env.PORT || 3000);
