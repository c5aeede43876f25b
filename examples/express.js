// Express: `narwhal examples/express.js`
const express = require('express');
const app = express();
app.get('/', (req, res) => res.send(`hello from express, worker ${process.pid}\n`));
module.exports = app;
