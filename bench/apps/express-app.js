// The Express app (module.exports = app): express-listen.js listens on it; narwhal serves this
// export directly until it can adopt listen-form apps.
const express = require('express');
const counter = require('./count.js');

const app = express();
app.disable('x-powered-by');
app.use(express.json());
app.get('/', (req, res) => { counter.served++; res.send('hello world\n'); });
app.get('/users/:id', (req, res) => { counter.served++; res.json({ id: req.params.id, name: 'narwhal' }); });
app.post('/echo', (req, res) => { counter.served++; res.json(req.body); });
module.exports = app;
