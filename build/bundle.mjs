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
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The oldest Node the bundles are written for: the floor of `engines` in package.json. */
export const TARGET = 'node22.12';

/**
 * What `narwhal --version` says about the build: the commit (12 hex digits, `-dirty` when
 * tracked files differ from it) and its date, both `unknown` outside a git checkout. The date is
 * SOURCE_DATE_EPOCH when set, else the commit's date, never the clock: the same commit builds
 * the same bytes (reproducible builds).
 */
export function buildInfo() {
  const git = (args) => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const head = git(['rev-parse', '--short=12', 'HEAD']);
  const commit = !head ? 'unknown' : git(['status', '--porcelain', '--untracked-files=no']) ? `${head}-dirty` : head;
  const epoch = process.env.SOURCE_DATE_EPOCH || git(['log', '-1', '--format=%ct']);
  const date = /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000).toISOString().replace(/\.000Z$/, 'Z') : 'unknown';
  return { commit, date, epoch: /^\d+$/.test(epoch) ? Number(epoch) : null };
}

/**
 * The bundles. `worker: false` builds the main one only (the binary runs it in every process).
 * `metafile: true` also resolves `metafile`, esbuild's list of the main bundle's inputs (the
 * release checks that every package in it is in the SBOM).
 */
export async function bundle(outfile = join(root, 'dist/narwhal-main.js'), { worker = true, metafile = false } = {}) {
  const info = buildInfo();
  const common = {
    // The path comments in the bundle are relative to the checkout, whatever the cwd.
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: TARGET,
    charset: 'ascii',
    minifySyntax: true,
    legalComments: 'none',
    define: {
      NARWHAL_VERSION: JSON.stringify(pkg.version),
      NARWHAL_COMMIT: JSON.stringify(info.commit),
      NARWHAL_BUILD_DATE: JSON.stringify(info.date),
    },
    logLevel: 'warning',
  };
  const outputs = [outfile, ...(worker ? [join(dirname(outfile), 'narwhal-worker.js')] : [])];
  const [main] = await Promise.all([
    build({ ...common, metafile, entryPoints: [join(root, 'src/boot/main.ts')], outfile }),
    worker && build({ ...common, entryPoints: [join(root, 'src/boot/worker.ts')], outfile: outputs[1] }),
  ]);
  return { outputs, metafile: main.metafile };
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
