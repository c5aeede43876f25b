// dist/narwhal.js: narwhal's executable under Node. It turns on Node's compile cache for the
// code that follows, then loads the main bundle (dist/narwhal-main.js, src/boot/main.ts) compiled from
// it: a compile cache covers only modules loaded after it is on, and the master's bundle is
// most of what a master compiles before its first fork. Workers get theirs from the master
// (NODE_COMPILE_CACHE). The single binary embeds the main bundle itself, with a code cache of
// its own (build/binary.mjs).
import { join } from 'node:path';
import { enableOwnCompileCache } from '../platform/compile-cache';

enableOwnCompileCache(process.argv, process.env);
const main = join(__dirname, 'narwhal-main.js');
try {
  require(main);
} catch (err) {
  if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND' || !String((err as Error).message).includes(main)) throw err;
  process.stderr.write(`narwhal: cannot find ${main}: dist/narwhal.js runs the bundles beside it; build them with npm run build\n`);
  process.exit(1);
}
