// npm run release: the downloadable release, in release/:
//   narwhal-<version>-linux-x64.tar.gz     the executable, LICENSE, README (one folder)
//   narwhal-<version>-linux-arm64.tar.gz   the same for arm64, built here under qemu-user
//   narwhal-<version>.cdx.json             CycloneDX SBOM of what the executables embed
//   SHA256SUMS                             `sha256sum -c SHA256SUMS` verifies the three above
//
// Reproducible: the same commit gives the same bytes (test/release.test.mjs builds twice and
// compares). The bundle is esbuild's (deterministic), the SEA blob is made with --predictable
// (build/binary.mjs), the build date is the commit's (or SOURCE_DATE_EPOCH), tar sorts names and
// sets owner 0 and the commit's date on every entry, gzip leaves out name and time (-n). What
// can still differ elsewhere: another tar or gzip version (their output format), and another
// lockfile or Node package (a new input).
//
// An architecture whose Node cannot run here (arm64 on a machine without qemu-user and the arm64
// libraries) is left out with one line saying so; --arch x64 builds one on purpose.
// Usage: node build/release.mjs [--arch x64|arm64]... [--out release]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARCHES, buildBinary, cannotRun } from './binary.mjs';
import { buildInfo } from './bundle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const SBOM_TOOL = join(root, 'tools/sbom/node_modules/@cyclonedx/cyclonedx-npm/bin/cyclonedx-npm-cli.js');

const say = (line) => process.stderr.write(`release: ${line}\n`);
const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Installs a nested package from its lockfile when missing (test/setup.mjs, stamped). */
function setupStep(dir) {
  execFileSync(process.execPath, [join(root, 'test/setup.mjs'), dir], { cwd: root, stdio: ['ignore', 2, 2] });
}

/** The LICENSE of an archive: narwhal's, then that of everything the executable embeds. */
function licenseText(arch, sbomComponents) {
  const parts = [readFileSync(join(root, 'LICENSE'), 'utf8').trimEnd()];
  parts.push('', '', '='.repeat(78), 'Third-party software embedded in this executable', '='.repeat(78));
  const nodeDir = join(root, ARCHES[arch].dir, 'node_modules', ARCHES[arch].pkg);
  const nodeVersion = JSON.parse(readFileSync(join(nodeDir, 'package.json'), 'utf8')).version;
  parts.push('', `--- Node.js ${nodeVersion} (official linux-${arch} build), LICENSE ---`, '', readFileSync(join(nodeDir, 'LICENSE'), 'utf8').trimEnd());
  for (const c of sbomComponents) {
    const path = c.properties?.find((p) => p.name === 'cdx:npm:package:path')?.value;
    const name = c.group ? `${c.group}/${c.name}` : c.name;
    const dir = path && join(root, path);
    const file = dir && existsSync(dir) ? readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f)) : null;
    const declared = (c.licenses ?? []).map((l) => l.license?.id ?? l.license?.name ?? l.expression).filter(Boolean).join(', ') || 'unknown';
    parts.push('', `--- ${name} ${c.version} (${declared}) ---`, '');
    parts.push(file ? readFileSync(join(dir, file), 'utf8').trimEnd() : `(the package ships no license file; its package.json declares ${declared})`);
  }
  return `${parts.join('\n')}\n`;
}

/** The README of an archive. */
function readmeText({ version, arch, archive, nodeVersion, info }) {
  const libs = 'glibc >= 2.28, libstdc++ (GLIBCXX 3.4.21) and libatomic.so.1';
  return `narwhal ${version} for linux-${arch}
${'='.repeat(`narwhal ${version} for linux-${arch}`.length)}

A pre-fork HTTP application server for Node.js apps, as one standalone executable: Node.js
${nodeVersion} with narwhal built in. The host needs no Node.js.

Built from commit ${info.commit} (${info.date}).

Verify and install
------------------
  sha256sum -c --ignore-missing SHA256SUMS      # SHA256SUMS from the same release
  tar -xzf ${archive}
  install -m 755 narwhal-${version}-linux-${arch}/narwhal /usr/local/bin/narwhal
  narwhal --version

Run
---
  narwhal -w 4 -b 0.0.0.0:8000 app.js            # your app: CommonJS, ESM or TypeScript
  narwhal --help

Requirements
------------
Linux ${arch === 'x64' ? 'x86-64' : 'arm64 (AArch64)'} with ${libs}
(Node.js 25 and later link libatomic): Debian 10+, Ubuntu 20.04+, RHEL/Rocky/Alma 8+, Amazon Linux 2023. Minimal
and slim systems often lack libatomic: \`apt-get install libatomic1\` (Debian, Ubuntu, also
debian:12-slim), \`dnf install libatomic\` (RHEL). Not Alpine or another musl system: run it
in a glibc image instead (narwhal's image, or debian:12-slim with libatomic1).

LICENSE holds narwhal's license and those of the software the executable embeds (Node.js and
the npm packages of narwhal-${version}.cdx.json, the SBOM of this release).
`;
}

/** tar | gzip with fixed names, owners, modes and dates: the same input, the same bytes. */
function tarball(parent, name, file, epoch) {
  execFileSync('bash', ['-o', 'pipefail', '-c',
    'tar --sort=name --format=gnu --mtime="@$3" --owner=0 --group=0 --numeric-owner -C "$0" -cf - "$1" | gzip -n > "$2"',
    parent, name, file, String(epoch)], { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Hex of an npm lockfile `integrity` (sha512-BASE64). */
function integrityHash(integrity) {
  const m = /^sha512-(.+)$/.exec(integrity ?? '');
  return m ? [{ alg: 'SHA-512', content: Buffer.from(m[1], 'base64').toString('hex') }] : [];
}

/**
 * The SBOM: cyclonedx-npm over the root lockfile, runtime dependencies only, then the Node.js
 * of each executable added as a component of its own, and the npm tarball hashes from the
 * lockfile. Returns the BOM.
 */
async function makeSbom(file, { version, info, builds }) {
  setupStep('tools/sbom');
  const raw = `${file}.raw`;
  execFileSync(process.execPath, [SBOM_TOOL, '--package-lock-only', '--omit', 'dev', '--output-reproducible', '--spec-version', '1.6',
    '--mc-type', 'application', '--validate', '--output-format', 'JSON', '--output-file', raw, join(root, 'package.json')],
  { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const bom = JSON.parse(readFileSync(raw, 'utf8'));
  rmSync(raw);
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages;
  const walk = (cs) => {
    for (const c of cs ?? []) {
      const path = c.properties?.find((p) => p.name === 'cdx:npm:package:path')?.value;
      if (path && lock[path]?.integrity && !c.hashes) c.hashes = integrityHash(lock[path].integrity);
      walk(c.components);
    }
  };
  walk(bom.components);

  const main = bom.metadata.component;
  main.version = version;
  main.properties = [...(main.properties ?? []), { name: 'narwhal:build:commit', value: info.commit }, { name: 'narwhal:build:date', value: info.date }];
  if (info.epoch !== null) bom.metadata.timestamp = new Date(info.epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
  for (const { arch, nodeVersion, archive } of builds) {
    const { dir, pkg: nodePkg } = ARCHES[arch];
    const entry = JSON.parse(readFileSync(join(root, dir, 'package-lock.json'), 'utf8')).packages[`node_modules/${nodePkg}`];
    const ref = `${nodePkg}@${nodeVersion}`;
    bom.components.push({
      type: 'platform',
      name: 'node',
      version: nodeVersion,
      'bom-ref': ref,
      description: `Node.js runtime (official linux-${arch} build, stripped), the executable of ${archive}`,
      licenses: [{ license: { id: 'MIT', acknowledgement: 'declared' } }],
      purl: `pkg:npm/${nodePkg}@${nodeVersion}`,
      hashes: integrityHash(entry?.integrity),
      properties: [
        { name: 'narwhal:arch', value: arch },
        { name: 'narwhal:archive', value: archive },
        { name: 'narwhal:source', value: `${dir}/package-lock.json` },
      ],
    });
    const top = bom.dependencies.find((d) => d.ref === main['bom-ref']);
    if (top) top.dependsOn = [...(top.dependsOn ?? []), ref].sort();
    else bom.dependencies.push({ ref: main['bom-ref'], dependsOn: [ref] });
    bom.dependencies.push({ ref });
  }
  bom.metadata.tools.components.push({ type: 'application', name: 'esbuild', version: createRequire(import.meta.url)('esbuild/package.json').version });
  await validate(bom);
  writeFileSync(file, `${JSON.stringify(bom, null, 2)}\n`);
  return bom;
}

/** CycloneDX 1.6 JSON schema validation, by the generator's own library (throws on errors). */
function validate(bom) {
  const req = createRequire(join(root, 'tools/sbom/package.json'));
  const { Validation, Spec } = req('@cyclonedx/cyclonedx-library');
  const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
  return validator.validate(JSON.stringify(bom)).then((errors) => {
    if (errors) throw new Error(`the SBOM is not valid CycloneDX 1.6: ${JSON.stringify(errors).slice(0, 2000)}`);
  });
}

/** The npm packages esbuild put into the bundle (names), from its metafile. */
export function bundledPackages(metafile) {
  const names = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) names.add(m[1]);
  }
  return [...names].sort();
}

export async function release({ out = join(root, 'release'), arches = Object.keys(ARCHES) } = {}) {
  const started = Date.now();
  const version = pkg.version;
  const info = buildInfo();
  if (info.commit.endsWith('-dirty')) say(`tracked files differ from commit ${info.commit.slice(0, -6)}: --version says ${info.commit}`);
  if (info.commit === 'unknown') say('not a git checkout: --version says commit unknown');
  // Every step takes its date from here (bundle.mjs reads it too): one date for the release.
  const epoch = info.epoch ?? 0;
  process.env.SOURCE_DATE_EPOCH = String(epoch);

  const built = [];
  const skipped = [];
  for (const arch of arches) {
    setupStep(ARCHES[arch].dir);
    const why = cannotRun(arch);
    if (why) {
      say(`linux-${arch} left out: its Node cannot run on this machine: ${why}`);
      skipped.push({ arch, why });
      continue;
    }
    built.push(arch);
  }
  if (built.length === 0) throw new Error('no architecture can be built on this machine');

  rmSync(out, { recursive: true, force: true });
  const work = join(out, '.work');
  mkdirSync(work, { recursive: true });
  const builds = [];
  for (const arch of built) {
    const name = `narwhal-${version}-linux-${arch}`;
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    const bin = await buildBinary(join(dir, 'narwhal'), { arch });
    const nodeVersion = /\(Node\.js v([\d.]+)\)/.exec(bin.version)?.[1];
    builds.push({ arch, name, dir, archive: `${name}.tar.gz`, nodeVersion, bin });
  }

  const sbomName = `narwhal-${version}.cdx.json`;
  const bom = await makeSbom(join(out, sbomName), { version, info, builds });
  // What esbuild bundled must all be in the SBOM (it lists the lockfile's runtime packages).
  const inSbom = new Set();
  const collect = (cs) => { for (const c of cs ?? []) { inSbom.add(c.group ? `${c.group}/${c.name}` : c.name); collect(c.components); } };
  collect(bom.components);
  const bundled = bundledPackages(builds[0].bin.metafile);
  const absent = bundled.filter((n) => !inSbom.has(n));
  if (absent.length) throw new Error(`bundled but not in the SBOM: ${absent.join(', ')} (a devDependency used at run time?)`);
  const npmComponents = bom.components.filter((c) => c.type !== 'platform');

  for (const b of builds) {
    writeFileSync(join(b.dir, 'LICENSE'), licenseText(b.arch, npmComponents));
    writeFileSync(join(b.dir, 'README'), readmeText({ version, arch: b.arch, archive: b.archive, nodeVersion: b.nodeVersion, info }));
    chmodSync(b.dir, 0o755);
    chmodSync(join(b.dir, 'narwhal'), 0o755);
    chmodSync(join(b.dir, 'LICENSE'), 0o644);
    chmodSync(join(b.dir, 'README'), 0o644);
    tarball(work, b.name, join(out, b.archive), epoch);
  }
  rmSync(work, { recursive: true, force: true });

  const files = [...builds.map((b) => b.archive), sbomName].sort();
  writeFileSync(join(out, 'SHA256SUMS'), files.map((f) => `${sha256(join(out, f))}  ${f}\n`).join(''));
  return {
    out, version, info, files: [...files, 'SHA256SUMS'], built, skipped, bundled,
    versions: Object.fromEntries(builds.map((b) => [b.arch, b.bin.version])),
    ms: Date.now() - started,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flags = (name) => process.argv.flatMap((a, i) => (a === name ? [process.argv[i + 1]] : []));
  const arches = flags('--arch');
  const [outFlag] = flags('--out');
  try {
    const r = await release({ out: outFlag ? resolve(outFlag) : undefined, arches: arches.length ? arches : undefined });
    for (const f of r.files) process.stdout.write(`${relative(process.cwd(), join(r.out, f))}\n`);
    process.stdout.write(`release: narwhal ${r.version} (commit ${r.info.commit}) for ${r.built.map((a) => `linux-${a}`).join(' and ')} in ${((r.ms) / 1000).toFixed(1)} s${r.skipped.length ? `; left out: ${r.skipped.map((s) => `linux-${s.arch}`).join(', ')}` : ''}\n`);
  } catch (err) {
    say(`error: ${err.message}`);
    process.exit(1);
  }
}
