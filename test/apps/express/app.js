// Express 5, the way its docs start an app: listen on PORT or 3000, no export.
const express = require('express');

const app = express();
app.use(express.json());

app.get('/', (req, res) => {
  res.send(`express pid=${process.pid}`);
});

app.post('/echo', (req, res) => {
  res.json(req.body);
});

const port = process.env.PORT || 3000;
app.listen(port, () => {
  console.log(`Example app listening on port ${port}`);
});
