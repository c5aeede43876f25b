#!/usr/bin/env node
// The test matrix, run by `npm test` after the build and test/setup.mjs: the suite on the Node.js
// lines narwhal supports, each an official build pinned in tools/node-lines (installed by
// test/setup.mjs), plus the machine's own `node`. Tests start narwhal with process.execPath, so
// the Node that runs uvu is the Node under test. The binary's tests run once, on the newest line:
// the executable carries its own Node, whatever runs the test.
//
//   node test/matrix.mjs             the whole suite on the newest line; on 22.12, 22 and 24 the
//                                    files that lean on Node internals (LEANING below); on the
//                                    machine's `node` a smoke run (MACHINE_SMOKE)
//   node test/matrix.mjs 22          the whole suite on one line (npm run test:node -- 22)
//   node test/matrix.mjs 22.12 adoption http2   only these files, on that line
//
// Lines: 22.12 (the floor), 22, 24, 26; and `machine` (whatever `node` is on PATH: Node 20 here,
// past its end of life and below narwhal's floor: it gets the boot check of internals, the
// distributions and adoption, which say whether narwhal still serves there, not the whole
// LEANING list). One line a line, then one closing line with the totals; exit 1 if any failed.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const LINES_DIR = join(ROOT, 'tools', 'node-lines', 'node_modules');

/** The pinned lines, oldest first; the last is the one the whole suite runs on. */
export const LINES = ['22.12', '22', '24', '26'];
const FULL_LINE = LINES[LINES.length - 1];

/**
 * Test files that exercise what moves between Node releases: adoption of listen() (UDP too),
 * every distribution mode and sticky routing, extra listeners, the request checks, HTTP/2, TLS,
 * the framework apps, the boot check of Node internals, start-up of the bundles.
 */
export const LEANING = [
  'node-internals', 'adoption', 'apps', 'frameworks', 'pool', 'sticky', 'unit-sticky', 'proxy',
  'conformance', 'http2', 'tls', 'tls-mutual', 'upgrade', 'lifecycle', 'threads', 'balance',
];

/** What the machine's own `node` runs in the default matrix. */
export const MACHINE_SMOKE = ['node-internals', 'pool', 'adoption'];

const nodeOf = (line) => (line === 'machine' ? 'node' : join(LINES_DIR, `node-${line}`, 'bin', 'node'));

function allFiles() {
  return readdirSync(join(ROOT, 'test')).filter((f) => f.endsWith('.test.mjs')).map((f) => f.slice(0, -'.test.mjs'.length)).sort();
}

/** Runs uvu on `files` with the Node of `line`; resolves to { passed, failed, skipped, code }. */
function runLine(line, files) {
  const node = nodeOf(line);
  if (line !== 'machine' && !existsSync(node)) {
    process.stderr.write(`matrix: ${node} is missing: run node test/setup.mjs tools/node-lines\n`);
    return Promise.resolve({ passed: 0, failed: 1, skipped: 0, code: 1 });
  }
  const pattern = `^(${files.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})\\.test\\.mjs$`;
  const uvu = join(ROOT, 'node_modules', 'uvu', 'bin.js');
  process.stdout.write(`\n=== Node ${line}: ${files.length === allFiles().length ? 'the whole suite' : files.join(', ')}\n`);
  // The line's own bin directory first: a test that runs `node` by name gets the same Node.
  const env = { ...process.env, NARWHAL_TEST_LINE: line };
  if (line !== 'machine') env.PATH = `${dirname(node)}:${process.env.PATH}`;
  return new Promise((resolve) => {
    const child = spawn(node, [uvu, 'test', pattern, '-i', '^apps$'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('close', (code) => {
      // uvu's summary: "  Total:     N", "  Passed:    N", "  Skipped:   N" (colour codes stripped).
      const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
      const count = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(plain)?.[1] ?? 0);
      const total = count('Total');
      const passed = count('Passed');
      const skipped = count('Skipped');
      const failed = code === 0 ? Math.max(0, total - passed - skipped) : Math.max(1, total - passed - skipped);
      resolve({ passed, failed, skipped, code: code ?? 1, failures: failureBlocks(plain) });
    });
  });
}

/**
 * uvu's failure reports (" FAIL  suite  "name"" then the message and stack), cut from the line's
 * output so the closing summary can repeat them: a CI log is often read from its tail.
 */
function failureBlocks(plain) {
  const blocks = [];
  const lines = plain.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s+FAIL\s/.test(lines[i])) continue;
    let end = i + 1;
    while (end < lines.length && end < i + 25 && !/^\s+FAIL\s/.test(lines[end]) && !/^\S+\.test\.mjs$/.test(lines[end].trim())) end++;
    blocks.push(lines.slice(i, end).join('\n').trimEnd());
  }
  return blocks;
}

const [lineArg, ...only] = process.argv.slice(2);
if (lineArg !== undefined && lineArg !== 'machine' && !LINES.includes(lineArg)) {
  process.stderr.write(`matrix: unknown Node line "${lineArg}": one of ${[...LINES, 'machine'].join(', ')}\n`);
  process.exit(2);
}
const plan = lineArg !== undefined
  ? [[lineArg, only.length > 0 ? only : allFiles()]]
  : [
    [FULL_LINE, allFiles()],
    ...LINES.filter((l) => l !== FULL_LINE).map((l) => [l, LEANING.filter((f) => allFiles().includes(f))]),
    ['machine', MACHINE_SMOKE],
  ];

const results = [];
for (const [line, files] of plan) results.push([line, await runLine(line, files)]);
process.stdout.write('\n');
for (const [line, r] of results) {
  for (const block of r.failures ?? []) process.stdout.write(`--- failed on Node ${line}:\n${block}\n`);
}
for (const [line, r] of results) process.stdout.write(`Node ${line}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped\n`);
const sum = (k) => results.reduce((n, [, r]) => n + r[k], 0);
process.stdout.write(`matrix: ${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped\n`);
process.exit(results.some(([, r]) => r.code !== 0) ? 1 : 0);
