// A plain node:http request listener: `narwhal examples/node-http.js`
module.exports = (req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(`hello from worker ${process.pid}\n`);
};
