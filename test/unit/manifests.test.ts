import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KfbundleError } from '../../src/core/errors.js';
import { collectInstallImages } from '../../src/core/install-images.js';
import { parseManifests } from '../../src/core/k8s-object.js';
import { patchManifests } from '../../src/core/patch-manifests.js';

const test = suite('manifests');

test('malformed YAML is reported with its source and line', () => {
  const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: a: b\n';
  try {
    parseManifests(text, 'rendered.yaml');
    assert.unreachable();
  } catch (error) {
    assert.instance(error, KfbundleError);
    assert.match((error as Error).message, /rendered\.yaml at line 7/);
  }
});

test('a document that is not an object is refused; empty documents and Lists are handled', () => {
  assert.throws(() => parseManifests('- a\n- b\n', 'x.yaml'), /x\.yaml at line 1 is not a Kubernetes object/);
  const objects = parseManifests('---\n---\nkind: List\nitems:\n- {kind: Namespace, metadata: {name: a}}\n- {kind: Namespace, metadata: {name: b}}\n', 'l');
  assert.equal(objects.map((o) => o.metadata?.name), ['a', 'b']);
});

test('every workload kind, init and ephemeral containers are found with their field paths', () => {
  const yaml = `
kind: CronJob
metadata: {name: c, namespace: "n"}
spec: {jobTemplate: {spec: {template: {spec: {initContainers: [{name: i, image: "busybox:1.28"}], containers: [{name: m, image: "mysql:8.0"}]}}}}}
---
kind: Pod
metadata: {name: p}
spec: {containers: [{name: a, image: "mysql:8.0"}], ephemeralContainers: [{name: d, image: "gcr.io/x/debug:1"}]}
---
kind: ConfigMap
metadata: {name: not-a-workload}
data: {image: "gcr.io/should/not:count"}
`;
  const found = collectInstallImages(parseManifests(yaml, 'y'));
  assert.equal(found.map((f) => f.ref), ['docker.io/library/busybox:1.28', 'docker.io/library/mysql:8.0', 'gcr.io/x/debug:1']);
  assert.equal(found[1]!.locations, [
    { object: 'CronJob/n/c', path: 'spec.jobTemplate.spec.template.spec.containers[0].image' },
    { object: 'Pod/p', path: 'spec.containers[0].image' },
  ]);
});

test('an invalid pod-template image names the object and field', () => {
  const yaml = 'kind: Deployment\nmetadata: {name: d, namespace: "n"}\nspec: {template: {spec: {containers: [{name: a, image: "Bad:Ref:x"}]}}}\n';
  assert.throws(() => collectInstallImages(parseManifests(yaml, 'y')), /Deployment\/n\/d spec\.template\.spec\.containers\[0\]\.image/);
});

test('Always and kubelet-default Always become IfNotPresent; Never and pinned tags are left alone', () => {
  const yaml = `
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      containers:
      - {name: a, image: "x:1", imagePullPolicy: Always}
      - {name: b, image: "x"}
      - {name: c, image: "x:latest", imagePullPolicy: Never}
      - {name: d, image: "x:2"}
`;
  const { objects, changes } = patchManifests(parseManifests(yaml, 'y'), { imageRewrites: new Map() });
  const containers = (objects[0] as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } }).spec.template.spec.containers;
  assert.equal(containers.map((c) => c['imagePullPolicy']), ['IfNotPresent', 'IfNotPresent', 'Never', undefined]);
  assert.is(changes.length, 2);
});

test.run();
