'use strict';
// dist/narwhal.js: narwhal's executable under Node. It runs the master's bundle
// (narwhal-main.js) or, in a worker, the worker's (narwhal-worker.js), each compiled from the V8
// code cache the build made beside it (build/bundle.mjs): what every start would otherwise
// spend parsing and compiling the bundle, ~20 ms of the master's start and a few of each
// worker's (bench/README.md, start-up). Not bundled, not TypeScript: it must stay this small.
//
// A cache is used only if it was made for this very bundle (the build id both carry) and V8
// accepts it (same Node, same V8 flags: a worker given --max-old-space-size compiles as usual).
// The bundles also run without it: `node dist/narwhal-main.js` is the same program.
const { readFileSync, writeFileSync } = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const file = join(__dirname, process.env.NARWHAL_WORKER_PROCESS ? 'narwhal-worker.js' : 'narwhal-main.js');
let source;
try {
  source = readFileSync(file, 'latin1'); // esbuild writes ASCII only
} catch (err) {
  process.stderr.write(`narwhal: cannot read ${file} (${err.code}): dist/narwhal.js runs the bundles beside it; build them with npm run build\n`);
  process.exit(1);
}
const BUILD_ID = /\/\/# narwhal-build-id=(\w+)\n$/.exec(source.slice(-64))?.[1] ?? '';
const cacheFile = `${file}.cache`;

let cachedData;
let outcome = 'none (compiled as Node would)';
try {
  const cache = readFileSync(cacheFile);
  const header = Buffer.from(`${BUILD_ID}\n`, 'latin1');
  if (BUILD_ID && cache.subarray(0, header.length).equals(header)) cachedData = cache.subarray(header.length);
  else outcome = 'not used: made for another build';
} catch {
  // no cache: compile as Node would
}
const script = new Script(wrap(source), { filename: file, cachedData });
if (cachedData) outcome = script.cachedDataRejected ? 'not used: rejected by V8 (another Node, or other V8 flags)' : 'used';
cachedData = undefined; // V8 has what it needs: the buffer need not live as long as the process
globalThis[Symbol.for('narwhal.codeCache')] = { file: cacheFile, outcome };

// The build's training run (build/bundle.mjs) asks each process to leave what it compiled.
if (process.env.NARWHAL_WRITE_CODE_CACHE === BUILD_ID && BUILD_ID) {
  process.once('exit', () => writeFileSync(cacheFile, Buffer.concat([Buffer.from(`${BUILD_ID}\n`, 'latin1'), script.createCachedData()])));
}
// Node 20 cannot run import() in code compiled from a cache by vm.Script: the bundles import the
// user's files (the app, a config file) through this one (src/platform/launcher.ts).
globalThis[Symbol.for('narwhal.importFile')] = (url) => import(url);
script.runInThisContext()(exports, createRequire(file), module, file, __dirname);
