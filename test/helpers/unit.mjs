// Unit tests of narwhal's pure modules: bundles one src/ module with esbuild (as the build does)
// into a temp file and imports it, so the tests call the real TypeScript code.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, tempApp } from './server.mjs';

export async function importSource(relativePath) {
  const { outputFiles } = await build({
    entryPoints: [join(ROOT, relativePath)], bundle: true, platform: 'node', format: 'esm', target: 'node22.12', write: false,
    define: { NARWHAL_VERSION: '"test"' },
  });
  const file = join(tempApp({}), `${relativePath.replace(/\W/g, '_')}.mjs`);
  writeFileSync(file, outputFiles[0].text);
  return import(pathToFileURL(file).href);
}
