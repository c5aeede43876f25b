// A Hono app in the { fetch } shape (export default app): narwhal bridges it from node:http
// itself; the peers serve it through @hono/node-server.
import { Hono } from 'hono';
import counter from './count.js';

const app = new Hono();
app.get('/', (c) => { counter.served++; return c.text('hello world\n'); });
app.get('/users/:id', (c) => { counter.served++; return c.json({ id: c.req.param('id'), name: 'narwhal' }); });
export default app;
