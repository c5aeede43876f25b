// Koa: `narwhal examples/koa.js` (narwhal calls app.callback())
const Koa = require('koa');
const app = new Koa();
app.use((ctx) => { ctx.body = `hello from koa, worker ${process.pid}\n`; });
module.exports = app;
