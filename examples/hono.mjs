// Hono (or any object with fetch(request)): `narwhal examples/hono.mjs`
import { Hono } from 'hono';
const app = new Hono();
app.get('/', (c) => c.text(`hello from hono, worker ${process.pid}\n`));
export default app;
