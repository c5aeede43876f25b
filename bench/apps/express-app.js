// The Express app of express-listen.js in the exported form (module.exports = app), for a
// narwhal that cannot adopt listen-form apps yet. Same routes, same middleware.
const express = require('express');
const counter = require('./count.js');

const app = express();
app.disable('x-powered-by');
app.use(express.json());
app.get('/', (req, res) => { counter.served++; res.send('hello world\n'); });
app.get('/users/:id', (req, res) => { counter.served++; res.json({ id: req.params.id, name: 'narwhal' }); });
app.post('/echo', (req, res) => { counter.served++; res.json(req.body); });
module.exports = app;
