// Echoes the request body (the suite POSTs 16 KiB): request body reading and writing.
const counter = require('./count.js');
module.exports = (req, res) => {
  counter.served++;
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    res.end(body);
  });
};
