// Builds dist/ for `node`: the bundles of the CLI (everything it imports, runtime dependencies
// included, as CommonJS), the launcher that runs them, and the V8 code caches it compiles them
// from. The single binary embeds the main bundle alone (build/binary.mjs).
//   dist/narwhal.js          the executable (src/launcher.cjs)
//   dist/narwhal-main.js     master, ctl, healthcheck, and the worker too (it runs alone as well)
//   dist/narwhal-worker.js   the worker's code only: a third of the bytes for each worker to compile
//   dist/*.cache             V8's compiled code for each bundle, left by a training run
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The bundles. `worker: false` builds the main one only (the binary runs it in every process). */
export async function bundle(outfile = join(root, 'dist/narwhal-main.js'), { worker = true } = {}) {
  const buildId = randomBytes(8).toString('hex');
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    charset: 'ascii',
    minifySyntax: true,
    legalComments: 'none',
    define: { NARWHAL_VERSION: JSON.stringify(pkg.version) },
    // The launcher takes a code cache only if it was made for the bundle that carries this id.
    footer: { js: `//# narwhal-build-id=${buildId}` },
    logLevel: 'warning',
  };
  const outputs = [outfile, ...(worker ? [join(dirname(outfile), 'narwhal-worker.js')] : [])];
  await Promise.all([
    build({ ...common, entryPoints: [join(root, 'src/cli.ts')], outfile }),
    worker && build({ ...common, entryPoints: [join(root, 'src/worker/entry.ts')], outfile: outputs[1] }),
  ]);
  for (const out of outputs) {
    rmSync(`${out}.cache`, { force: true });
    // Code compiled from a cache cannot run import() on Node 20 (src/platform/launcher.ts).
    const stray = readFileSync(out, 'latin1').split('\n').filter((l) => /(^|[^\w$.])import\(/.test(l) && !l.includes('import(url)'));
    if (stray.length > 0) throw new Error(`${out}: import() outside src/platform/launcher.ts:\n${stray.join('\n')}`);
  }
  return { outputs, buildId };
}

/**
 * A training run: a master and a worker boot from the fresh bundles, serve one request and stop;
 * each leaves a code cache of everything it compiled. A run that fails leaves none (the
 * launcher then compiles as Node would) and says so.
 */
async function trainCodeCaches(launcher, bundles, buildId) {
  const child = spawn(process.execPath, [launcher, '-w', '1', '-b', '127.0.0.1:0', '--log-level', 'debug', join(root, 'examples/node-http.js')], {
    env: { ...process.env, NARWHAL_WRITE_CODE_CACHE: buildId }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let log = '';
  let asked = false;
  const trained = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 15_000);
    void exited.then(() => { clearTimeout(timer); resolve(false); }); // it died before serving: no need to wait
    child.stderr.on('data', async (d) => {
      log += d;
      const port = /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(log)?.[1];
      if (!port || !/Worker ready/.test(log) || asked) return;
      asked = true;
      try {
        await (await fetch(`http://127.0.0.1:${port}/`)).text();
        resolve(true);
      } catch {
        resolve(false);
      } finally {
        clearTimeout(timer);
      }
    });
  });
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
  if (!trained) {
    for (const out of bundles) rmSync(`${out}.cache`, { force: true });
    process.stderr.write(`build: no code cache (the training run did not serve a request); narwhal compiles as Node would\n${log.slice(-1500)}\n`);
  }
}

/** `npm run build`: dist/ as described at the top. */
export async function buildDist(dist = join(root, 'dist')) {
  const { outputs, buildId } = await bundle(join(dist, 'narwhal-main.js'));
  const launcher = join(dist, 'narwhal.js');
  writeFileSync(launcher, `#!/usr/bin/env node\n${readFileSync(join(root, 'src/launcher.cjs'), 'utf8')}`);
  chmodSync(launcher, 0o755);
  await trainCodeCaches(launcher, outputs, buildId);
  return launcher;
}

if (import.meta.url === `file://${process.argv[1]}`) await buildDist();
