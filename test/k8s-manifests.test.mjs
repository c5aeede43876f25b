// k8s/manifests: plain, kustomize-ready YAML. Validated offline like the chart,
// and required to agree with the chart's default render.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFESTS, checkRollout, configKeysUnknownToNarwhal, compareSets, keyOf, parseDocs, readManifests, requireHelm, template, validateObject } from './helpers/k8s.mjs';

const REGENERATE = 'regenerate them with `node test/helpers/k8s-gen-manifests.mjs` (or fix the chart)';

test('kustomization.yaml lists every manifest, and only existing ones', () => {
  const { kustomization } = readManifests();
  assert.is(kustomization.apiVersion, 'kustomize.config.k8s.io/v1beta1');
  assert.is(kustomization.kind, 'Kustomization');
  const files = readdirSync(MANIFESTS).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
  assert.equal([...kustomization.resources].sort(), files);
});

test('the manifests are the objects the issue asks for', () => {
  const kinds = readManifests().docs.map((d) => d.kind).sort();
  assert.equal(kinds, ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service', 'Service']);
});

test('every manifest: Kubernetes schema and no unknown or misplaced fields', () => {
  for (const f of readManifests().kustomization.resources) {
    const docs = parseDocs(readFileSync(join(MANIFESTS, f), 'utf8'), f);
    assert.ok(docs.length >= 1, `${f} is empty`);
    for (const d of docs) assert.equal(validateObject(d), [], `${f}: ${keyOf(d)}`);
  }
});

test('manifests: rollout invariants hold', () => {
  assert.equal(checkRollout(readManifests().docs, { pdb: true, hpa: true, serviceMonitor: false }), []);
  assert.equal(configKeysUnknownToNarwhal(readManifests().docs), []);
});

test("manifests agree with the chart's default render", () => {
  requireHelm();
  const r = template();
  assert.is(r.status, 0, r.stderr);
  const diffs = compareSets(r.docs, readManifests().docs);
  assert.equal(diffs, [], `k8s/manifests and the chart differ; ${REGENERATE}:\n${diffs.join('\n')}`);
});

test('a manifest drifting from the chart is caught', () => {
  const docs = readManifests().docs;
  const dep = docs.find((d) => d.kind === 'Deployment');
  dep.spec.template.spec.terminationGracePeriodSeconds = 45;
  const cm = docs.find((d) => d.kind === 'ConfigMap');
  cm.data['narwhal.config.json'] = cm.data['narwhal.config.json'].replace('"shutdown_delay": 10', '"shutdown_delay": 5');
  const diffs = compareSets(template().docs, docs);
  assert.ok(diffs.some((d) => d.includes('Deployment/narwhal.spec.template.spec.terminationGracePeriodSeconds')), diffs.join('\n'));
  // ... and the hand edit also breaks the invariants on its own (stale checksum, too short delay).
  const v = checkRollout(docs);
  assert.ok(v.some((x) => x.includes('checksum/config')), v.join('\n'));
  assert.ok(v.some((x) => x.includes('shutdown delay 5s <')), v.join('\n'));
  delete dep.spec.template.spec.containers[0].resources.limits.cpu;
  assert.ok(checkRollout(docs).some((x) => x.includes('workers is auto but there is no CPU limit')));
});

test.run();
