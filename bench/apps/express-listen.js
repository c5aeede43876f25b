// An Express app as people run it: the entry file listens itself and exports nothing (issue 8's
// form), like express-generator's bin/www next to its app.js (here express-app.js, which
// narwhal serves directly until it can adopt listen-form apps). HOST keeps the benchmark on
// 127.0.0.1.
const app = require('./express-app.js');

app.listen(process.env.PORT || 3000, process.env.HOST || '127.0.0.1');
