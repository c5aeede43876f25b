// An Express app as people write it: it listens itself and exports nothing (issue 8's form).
// HOST keeps benchmark traffic on 127.0.0.1.
const express = require('express');
const counter = require('./count.js');

const app = express();
app.disable('x-powered-by');
app.use(express.json());
app.get('/', (req, res) => { counter.served++; res.send('hello world\n'); });
app.get('/users/:id', (req, res) => { counter.served++; res.json({ id: req.params.id, name: 'narwhal' }); });
app.post('/echo', (req, res) => { counter.served++; res.json(req.body); });
app.listen(process.env.PORT || 3000, process.env.HOST || '127.0.0.1');
