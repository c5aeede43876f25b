// Imports one TypeScript module of src/ (and what it imports) for unit tests of pure functions,
// bundled in memory by esbuild as build/settings-table.mjs does.
import { build } from 'esbuild';
import { join } from 'node:path';
import { ROOT } from './server.mjs';

export async function importSource(path) {
  const out = await build({
    entryPoints: [join(ROOT, path)], bundle: true, platform: 'node', format: 'esm', write: false, logLevel: 'error',
  });
  return import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
}
