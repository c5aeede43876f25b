// Builds dist/ for `node`: the CLI bundled with everything it imports (runtime dependencies
// included, as CommonJS). The single binary embeds the main bundle alone (build/binary.mjs).
//   dist/narwhal.js          the executable (src/boot/entry.ts): turns on Node's compile cache, then
//                            loads the main bundle
//   dist/narwhal-main.js     master, ctl, healthcheck, and the worker too (it also runs alone)
//   dist/narwhal-worker.js   the worker's code only, which the master starts its workers from:
//                            less to compile and less heap in every worker
// Start-up compile is left to Node's own compile cache (module.enableCompileCache, Node >= 22.1):
// the master's through dist/narwhal.js, the workers' through NODE_COMPILE_CACHE
// (src/platform/compile-cache.ts).
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The oldest Node the bundles are written for: the floor of `engines` in package.json. */
export const TARGET = 'node22.12';

/** The bundles. `worker: false` builds the main one only (the binary runs it in every process). */
export async function bundle(outfile = join(root, 'dist/narwhal-main.js'), { worker = true } = {}) {
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: TARGET,
    charset: 'ascii',
    minifySyntax: true,
    legalComments: 'none',
    define: { NARWHAL_VERSION: JSON.stringify(pkg.version) },
    logLevel: 'warning',
  };
  const outputs = [outfile, ...(worker ? [join(dirname(outfile), 'narwhal-worker.js')] : [])];
  await Promise.all([
    build({ ...common, entryPoints: [join(root, 'src/boot/main.ts')], outfile }),
    worker && build({ ...common, entryPoints: [join(root, 'src/boot/worker.ts')], outfile: outputs[1] }),
  ]);
  return { outputs };
}

/** `npm run build`: dist/ as described at the top. */
export async function buildDist(dist = join(root, 'dist')) {
  await bundle(join(dist, 'narwhal-main.js'));
  const entry = join(dist, 'narwhal.js');
  await build({
    bundle: true, platform: 'node', format: 'cjs', target: TARGET, charset: 'ascii', minifySyntax: true, legalComments: 'none',
    logLevel: 'warning', entryPoints: [join(root, 'src/boot/entry.ts')], outfile: entry, banner: { js: '#!/usr/bin/env node' },
  });
  chmodSync(entry, 0o755);
  return entry;
}

if (import.meta.url === `file://${process.argv[1]}`) await buildDist();
