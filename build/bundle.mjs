// Bundles the CLI (and everything it imports, runtime dependencies included) into one
// CommonJS file: the same file runs under `node` and is embedded in the single binary.
import { build } from 'esbuild';
import { readFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/**
 * dist/narwhal.js: everything (master, worker, ctl, healthcheck), the executable users run and
 * the code the single binary embeds. dist/narwhal-worker.js: the worker's code alone, which the
 * master runs its workers with when it sits beside narwhal.js (src/master/spawn.ts).
 */
export async function bundle(outfile = 'dist/narwhal.js', { worker = true } = {}) {
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minifySyntax: true,
    legalComments: 'none',
    define: { NARWHAL_VERSION: JSON.stringify(pkg.version) },
    logLevel: 'warning',
  };
  await Promise.all([
    build({ ...common, entryPoints: ['src/cli.ts'], outfile, banner: { js: '#!/usr/bin/env node' } }),
    worker && build({ ...common, entryPoints: ['src/worker/entry.ts'], outfile: join(dirname(outfile), 'narwhal-worker.js') }),
  ]);
  chmodSync(outfile, 0o755);
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) await bundle();
