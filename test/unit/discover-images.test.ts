// Image discovery on the three real releases: counts per tier, every kind of hiding place, and the tricky cases.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { discoverImages, type Discovery, type ImageTier } from '../../src/core/discover-images.js';
import { parseManifests, type KubernetesObject } from '../../src/core/k8s-object.js';
import { patchManifests } from '../../src/core/patch-manifests.js';
import { ALL_RELEASES, readRendered, type AnyRelease as Release } from '../helpers/fixtures.js';

const test = suite('image discovery on real releases');
const objectsOf = new Map<Release, KubernetesObject[]>();
const found = new Map<Release, Discovery>();

test.before(async () => {
  for (const release of ALL_RELEASES) {
    const objects = parseManifests(await readRendered(release), release);
    objectsOf.set(release, objects);
    found.set(release, discoverImages(objects));
  }
});

// Reviewed by hand against the rendered manifests; a change here means discovery changed and needs a new review.
// Conditional includes Istio's opt-in grpc-simple template's busybox:1.28; v1.8.1's catalog its Docker Hub short names.
const EXPECTED: Record<Release, Record<ImageTier, number>> = {
  '26.03': { install: 53, runtime: 22, catalog: 25, conditional: 3, example: 2 },
  'v1.11.0': { install: 52, runtime: 21, catalog: 25, conditional: 3, example: 2 },
  'v1.10.2': { install: 51, runtime: 21, catalog: 19, conditional: 3, example: 2 },
  'v1.8.1': { install: 52, runtime: 20, catalog: 16, conditional: 4, example: 3 },
};

// 26.03's opt-in agentgateway template builds its image from a value the release does not set.
const EXPECTED_WARNINGS: Record<Release, string[]> = {
  '26.03': ['ConfigMap/istio-system/istio-sidecar-injector data[config].templates.agentgateway line 86'],
  'v1.11.0': [],
  'v1.10.2': [],
  'v1.8.1': [],
};

function image(release: Release, ref: string) {
  const hit = found.get(release)!.images.find((candidate) => candidate.ref === ref);
  assert.ok(hit, `${release} has ${ref}`);
  return hit!;
}

for (const release of ALL_RELEASES) {
  test(`${release}: images per tier, and the warnings expected`, () => {
    const counts: Record<string, number> = {};
    for (const { tier } of found.get(release)!.images) counts[tier] = (counts[tier] ?? 0) + 1;
    assert.equal(counts, EXPECTED[release]);
    assert.equal(found.get(release)!.warnings.map((w) => `${w.object} ${w.path}`), EXPECTED_WARNINGS[release]);
  });

  test(`${release}: no false positives: every ref is a well-formed image of a real registry, none from metadata or CRDs`, () => {
    const registries = new Set(['docker.io', 'gcr.io', 'ghcr.io', 'quay.io', 'registry.k8s.io', 'nvcr.io', 'public.ecr.aws', 'us-central1-docker.pkg.dev']);
    for (const discovered of found.get(release)!.images) {
      assert.ok(registries.has(discovered.parsed.registry), discovered.ref);
      assert.not.match(discovered.ref, /[{}$\s]/);
      for (const location of discovered.locations) {
        assert.not.match(location.path, /^metadata\./);
        assert.not.match(location.object, /^CustomResourceDefinition\//);
        assert.not.match(location.path, /_example/);
      }
    }
  });

  test(`${release}: every hiding place is represented`, () => {
    const vias = new Set(found.get(release)!.images.flatMap((i) => i.locations.map((l) => l.via)));
    // `value` (a qualified reference under a key that does not name an image) is a fallback none of these releases needs.
    for (const via of ['pod-template', 'image-field', 'env', 'arg', 'composed', 'variable'] as const) assert.ok(vias.has(via), via);
  });
}

test('env values and args: KFP driver and launcher, Argo executor, cert-manager ACME solver', () => {
  const driver = image('v1.10.2', 'ghcr.io/kubeflow/kfp-driver:2.5.0');
  assert.is(driver.tier, 'runtime');
  assert.equal(driver.locations.map((l) => [l.object, l.via]), [['Deployment/kubeflow/ml-pipeline', 'env']]);
  assert.is(image('v1.10.2', 'quay.io/argoproj/argoexec:v3.5.14').locations[0]!.via, 'arg');
  assert.is(image('26.03', 'quay.io/jetstack/cert-manager-acmesolver:v1.19.4').tier, 'conditional');
});

test('YAML and JSON held in ConfigMaps: Katib config, KServe inferenceservice config, Knative deployment config', () => {
  const hyperopt = image('v1.10.2', 'ghcr.io/kubeflow/katib/suggestion-hyperopt:v0.18.0');
  assert.is(hyperopt.tier, 'runtime', 'Katib deploys suggestions per experiment');
  assert.ok(hyperopt.locations.some((l) => l.object === 'ConfigMap/kubeflow/katib-config' && l.path === 'data[katib-config.yaml].runtime.suggestions[0].image'));
  const agent = image('26.03', 'docker.io/kserve/agent:v0.16.0');
  assert.is(agent.tier, 'runtime');
  assert.ok(agent.locations.some((l) => l.path === 'data[agent].image'));
  const queue = found.get('v1.10.2')!.images.find((i) => i.ref.startsWith('gcr.io/knative-releases/knative.dev/serving/cmd/queue@sha256:'))!;
  assert.equal(queue.locations.map((l) => l.object).sort(), ['ConfigMap/knative-serving/config-deployment', 'Image/knative-serving/queue-proxy']);
});

test('Istio: sidecar proxy composed from hub + image + tag, including 26.03 injector naming 1.29.0 while istiod runs 1.28.0', () => {
  const injected = image('26.03', 'gcr.io/istio-release/proxyv2:1.29.0');
  assert.is(injected.tier, 'runtime');
  assert.ok(injected.locations.every((l) => l.via === 'composed' && l.object === 'ConfigMap/istio-system/istio-sidecar-injector'));
  assert.is(image('26.03', 'gcr.io/istio-release/proxyv2:1.28.0').tier, 'install');
  // Istio's merged values leave hub and tag empty beside `image: pilot`; the chart falls back to global.hub/tag.
  assert.ok(image('v1.10.2', 'gcr.io/istio-release/pilot:1.26.1').locations.some((l) => l.object === 'ConfigMap/istio-system/values' && l.via === 'composed'));
});

test('v1.8.1: the spawner offers Docker Hub short names, every one found as catalog', () => {
  const notebooks = found
    .get('v1.8.1')!
    .images.filter((i) => i.ref.startsWith('docker.io/kubeflownotebookswg/') && i.tier === 'catalog')
    .map((i) => i.ref);
  assert.equal(notebooks, [
    'docker.io/kubeflownotebookswg/codeserver-python:v1.8.0',
    'docker.io/kubeflownotebookswg/jupyter-pytorch-cuda-full:v1.8.0',
    'docker.io/kubeflownotebookswg/jupyter-pytorch-full:v1.8.0',
    'docker.io/kubeflownotebookswg/jupyter-scipy:v1.8.0',
    'docker.io/kubeflownotebookswg/jupyter-tensorflow-cuda-full:v1.8.0',
    'docker.io/kubeflownotebookswg/jupyter-tensorflow-full:v1.8.0',
    'docker.io/kubeflownotebookswg/rstudio-tidyverse:v1.8.0',
  ]);
  const pytorch = image('v1.8.1', 'docker.io/kubeflownotebookswg/jupyter-pytorch-full:v1.8.0');
  assert.match(pytorch.locations[0]!.path, /spawnerFormDefaults\.image\.options\[1\]$/);
});

test("template text: Istio's opt-in grpc-simple template names busybox:1.28 as a literal, conditional; the sidecar's built image resolves through the values", () => {
  for (const release of ALL_RELEASES) {
    const busybox = image(release, 'docker.io/library/busybox:1.28');
    assert.is(busybox.tier, 'conditional', release);
    assert.equal(busybox.locations.map((l) => `${l.path} ${l.via}`), ['data[config].templates.grpc-simple line 7 template'], release);
  }
  // The sidecar template's `{{ annotation … .Values.global.proxy.image }}` reads a value found as an image: no warning.
  assert.not.ok(found.get('v1.10.2')!.warnings.some((w) => w.path.includes('templates.sidecar')));
});

test('variables: the PVC viewer image $VOLUME_VIEWER_IMAGE resolves from the volumes web app env', () => {
  const viewer = image('v1.10.2', 'docker.io/filebrowser/filebrowser:v2.25.0');
  assert.is(viewer.tier, 'runtime');
  assert.ok(viewer.locations.some((l) => l.via === 'variable' && l.path === 'data[viewer-spec.yaml].podSpec.containers[0].image'));
});

test('custom resources: serving runtimes, storage containers, training runtimes are catalog or runtime', () => {
  assert.is(image('v1.10.2', 'nvcr.io/nvidia/tritonserver:23.05-py3').tier, 'catalog');
  assert.is(image('26.03', 'ghcr.io/kubeflow/trainer/torchtune-trainer:v2.1.0').tier, 'catalog');
  const storage = image('v1.10.2', 'docker.io/kserve/storage-initializer:v0.15.0');
  assert.is(storage.tier, 'runtime');
  assert.ok(storage.locations.some((l) => l.object === 'ClusterStorageContainer/default'));
  assert.is(image('v1.10.2', 'ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-scipy:v1.10.0').tier, 'catalog');
  assert.is(image('v1.10.2', 'ghcr.io/kubeflow/katib/pytorch-mnist-cpu:v0.18.0').tier, 'example');
});

test('digest pins are rewritten in the Knative ConfigMap and Image too, not only in pod templates', () => {
  const objects = objectsOf.get('v1.10.2')!;
  const discovery = found.get('v1.10.2')!;
  const pinned = discovery.images.filter((i) => i.parsed.digest !== undefined);
  const rewrites = new Map(pinned.map((i) => [i.ref, `${i.ref.split('@')[0]}:${i.parsed.digest!.replace(':', '-')}`]));
  const patched = patchManifests(objects, { imageRewrites: rewrites, findings: discovery.images.flatMap((i) => i.locations) });
  const after = discoverImages(patched.objects);
  assert.not.ok(after.images.some((i) => i.parsed.digest !== undefined), 'no digest-pinned ref left anywhere');
  const queueTag = [...rewrites.values()].find((ref) => ref.includes('/queue:'))!;
  assert.equal(image2(after, queueTag).locations.map((l) => l.object).sort(), ['ConfigMap/knative-serving/config-deployment', 'Image/knative-serving/queue-proxy']);
});

function image2(discovery: Discovery, ref: string) {
  const hit = discovery.images.find((i) => i.ref === ref);
  assert.ok(hit, ref);
  return hit!;
}

test.run();
