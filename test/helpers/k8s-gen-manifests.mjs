#!/usr/bin/env node
// Regenerates k8s/manifests/*.yaml from the Helm chart's default render
// (release "narwhal"), minus Helm's own labels. Keeps the templates' comments.
//   node test/helpers/k8s-gen-manifests.mjs
// test/k8s-manifests.test.mjs fails when the files and the chart disagree.
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CHART, MANIFESTS, RELEASE, helm, requireHelm } from './k8s.mjs';

requireHelm();
const r = helm(['template', RELEASE, CHART]);
if (r.status !== 0) {
  console.error(r.stderr);
  process.exit(1);
}
const HEADER = (src) =>
  `# Generated from the Helm chart (k8s/helm/narwhal/${src}) with its default values:\n` +
  '#   node test/helpers/k8s-gen-manifests.mjs\n' +
  '# npm test checks that these files and the chart agree. See k8s/README.md.\n';
const files = new Map(); // manifest file -> [source template, documents]
for (const part of r.stdout.split(/^---\n/m)) {
  const m = part.match(/^# Source: narwhal\/(templates\/[^\n]+)\n/);
  if (!m) continue;
  const body = part
    .slice(m[0].length)
    .split('\n')
    .filter((l) => !/^\s*(helm\.sh\/chart|app\.kubernetes\.io\/managed-by):/.test(l))
    .join('\n')
    .replace(/\n*$/, '\n');
  const file = basename(m[1]);
  if (!files.has(file)) files.set(file, [m[1], []]);
  files.get(file)[1].push(body);
}
for (const [file, [src, bodies]] of files) writeFileSync(join(MANIFESTS, file), HEADER(src) + bodies.join('---\n'));
const written = [...files.keys()];
console.log(`wrote ${written.join(', ')} to ${MANIFESTS}`);
