// Relocation to a private registry: every reference the resolver finds moves, on hand-written hard cases and on the
// three real releases, and nothing that only looks like an image name is touched. On the real releases the resolver
// is the observer (what it finds before and after); where each reference must land is written out here.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { discoverImages } from '../../src/core/discover-images.js';
import { bundleRefFor, formatImageRef } from '../../src/core/image-ref.js';
import { objectTexts, parseManifestDocuments, parseManifests, type KubernetesObject } from '../../src/core/k8s-object.js';
import { isKfbundleError } from '../../src/core/errors.js';
import {
  parseRegistryTarget,
  REGISTRY_PLACEHOLDER,
  relocatedHub,
  relocatedRef,
  relocateManifests,
  unrelocatedImages,
} from '../../src/core/relocate-images.js';
import { parseAwsPartition, rewriteAwsPartition } from '../../src/core/aws-partition.js';
import { readRendered, RELEASES } from '../helpers/fixtures.js';
import { findCompiledDefaults } from '../../src/core/component-defaults.js';
import { COMPONENT_TABLE } from '../../src/core/component-table.js';

const test = suite('relocation to a private registry');
const REGISTRY = 'harbor.example.cn/kubeflow';

function relocate(objects: KubernetesObject[], registry = REGISTRY) {
  const discovery = discoverImages(objects);
  const findings = discovery.images.flatMap((image) => image.locations);
  return relocateManifests(objects, findings, discovery.images.map((image) => bundleRefFor(image.parsed)), registry);
}

test('registry targets: HOST[:PORT][/PREFIX] accepted, anything else refused with the expected form', () => {
  assert.is(parseRegistryTarget('harbor.example.cn/kubeflow/'), 'harbor.example.cn/kubeflow');
  assert.is(parseRegistryTarget('10.0.0.5:5000'), '10.0.0.5:5000');
  assert.is(parseRegistryTarget('localhost:5000/a/b'), 'localhost:5000/a/b');
  for (const bad of ['https://harbor.example.cn', 'kubeflow', 'harbor.example.cn/Kubeflow', 'harbor.example.cn/a b', '']) {
    try {
      parseRegistryTarget(bad);
      assert.unreachable(`accepted "${bad}"`);
    } catch (error) {
      assert.ok(isKfbundleError(error) && error.code === 'USAGE', String(error));
      assert.match((error as Error).message, bad === '' ? 'registry ""' : bad);
      assert.match(error.hint ?? '', 'HOST[:PORT][/PREFIX]');
    }
  }
});

test('a reference keeps its registry host as a path segment; digest pins move under their tag; hubs move alike', () => {
  assert.is(relocatedRef('busybox', REGISTRY), 'harbor.example.cn/kubeflow/docker.io/library/busybox:latest');
  assert.is(relocatedRef('gcr.io/ml-pipeline/api-server:2.5.0', REGISTRY), 'harbor.example.cn/kubeflow/gcr.io/ml-pipeline/api-server:2.5.0');
  const digest = `sha256:${'ab'.repeat(32)}`;
  assert.is(relocatedRef(`gcr.io/knative-releases/x@${digest}`, REGISTRY), `harbor.example.cn/kubeflow/gcr.io/knative-releases/x:sha256-${'ab'.repeat(32)}`);
  assert.is(relocatedHub('istio', REGISTRY), 'harbor.example.cn/kubeflow/docker.io/istio');
  assert.is(relocatedHub('gcr.io/istio-release', REGISTRY), 'harbor.example.cn/kubeflow/gcr.io/istio-release');
});

test('hard cases: bare names, env, args, variables, composed hub + name + tag, ConfigMap JSON, whole references only', () => {
  const objects = parseManifests(
    `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: n}
spec:
  template:
    spec:
      containers:
      - name: busybox
        image: busybox
        args: ["--launcher-image=gcr.io/ml-pipeline/kfp-launcher:2.5.0", "--db-image", "mysql:8.0"]
        env:
        - {name: DRIVER_IMAGE, value: "ghcr.io/kubeflow/kfp-driver:2.5.0"}
        - {name: V2_LAUNCHER, value: "gcr.io/ml-pipeline/kfp-launcher:2.5.0"}
        - {name: NOTE, value: "mysql:8.0.29 is newer than mysql:8.0"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-sidecar-injector, namespace: istio-system}
data:
  values: '{"global": {"hub": "gcr.io/istio-release", "tag": "1.28.0", "proxy": {"image": "proxyv2"}}}'
---
apiVersion: v1
kind: ConfigMap
metadata: {name: workflow-controller, namespace: n}
data:
  config: |
    executor:
      image: $(EXECUTOR)
---
apiVersion: v1
kind: ConfigMap
metadata: {name: vars, namespace: n}
data:
  EXECUTOR: quay.io/argoproj/argoexec:v3.5.14
`,
    'hard.yaml',
  );
  const result = relocate(objects);
  assert.equal(unrelocatedImages(result.objects, REGISTRY), []);
  const [deployment, injector, workflow, vars] = result.objects as [KubernetesObject, KubernetesObject, KubernetesObject, KubernetesObject];
  const container = (deployment as any).spec.template.spec.containers[0];
  assert.is(container.name, 'busybox', 'a container named like an image keeps its name');
  assert.is(container.image, `${REGISTRY}/docker.io/library/busybox:latest`);
  assert.equal(container.args, [`--launcher-image=${REGISTRY}/gcr.io/ml-pipeline/kfp-launcher:2.5.0`, '--db-image', `${REGISTRY}/docker.io/library/mysql:8.0`]);
  assert.is(container.env[0].value, `${REGISTRY}/ghcr.io/kubeflow/kfp-driver:2.5.0`);
  assert.is(container.env[1].value, `${REGISTRY}/gcr.io/ml-pipeline/kfp-launcher:2.5.0`, 'a known reference in a value of any name');
  assert.is(container.env[2].value, `mysql:8.0.29 is newer than ${REGISTRY}/docker.io/library/mysql:8.0`, 'mysql:8.0 is not a prefix of mysql:8.0.29');
  assert.match((injector as any).data.values, `"hub": "${REGISTRY}/gcr.io/istio-release"`);
  assert.match((injector as any).data.values, '"tag": "1.28.0"');
  assert.match((workflow as any).data.config, 'image: $(EXECUTOR)', 'the variable reference stays');
  assert.is((vars as any).data.EXECUTOR, `${REGISTRY}/quay.io/argoproj/argoexec:v3.5.14`, 'its definition moves');
  const composed = discoverImages(result.objects).images.find((image) => image.locations.some((l) => l.via === 'composed'))!;
  assert.is(composed.ref, `${REGISTRY}/gcr.io/istio-release/proxyv2:1.28.0`);
});

test('AWS partition: every ARN moves to aws-cn, wherever it is; other text is left alone', () => {
  const objects = parseManifests(
    `
apiVersion: v1
kind: ServiceAccount
metadata: {name: s, annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/kf"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data:
  config.json: '{"bucketArn": "arn:aws:s3:::models", "already": "arn:aws-cn:s3:::x", "text": "yarn:aws:no"}'
`,
    'aws.yaml',
  );
  const { objects: moved, changed } = rewriteAwsPartition(objects, parseAwsPartition('aws-cn'));
  assert.equal(changed, [0, 1]);
  assert.is((moved[0] as any).metadata.annotations['eks.amazonaws.com/role-arn'], 'arn:aws-cn:iam::123456789012:role/kf');
  assert.is((moved[1] as any).data['config.json'], '{"bucketArn": "arn:aws-cn:s3:::models", "already": "arn:aws-cn:s3:::x", "text": "yarn:aws:no"}');
  assert.throws(() => parseAwsPartition('aws-china'), /unknown AWS partition "aws-china"/);
});

test('v1.8.1: compiled-in defaults are in no text, so relocation sets their overrides on the controllers', async () => {
  const documents = parseManifestDocuments(await readRendered('v1.8.1'), 'v1.8.1');
  const objects = documents.flatMap((document) => document.objects);
  const findings = findCompiledDefaults(objects, COMPONENT_TABLE).findings.filter((f) => f.setBy !== undefined);
  const relocated = relocateManifests(objects, findings, [], 'harbor.example.cn/kf');
  const container = (name: string) => {
    const index = objects.findIndex((o) => o.kind === 'Deployment' && o.metadata?.name === name);
    assert.ok(relocated.changed.includes(index), name);
    return (relocated.objects[index] as any).spec.template.spec.containers[0];
  };
  assert.equal(container('training-operator').args, [
    '--pytorch-init-container-image=harbor.example.cn/kf/docker.io/library/alpine:3.10',
    '--mpi-kubectl-delivery-image=harbor.example.cn/kf/docker.io/mpioperator/kubectl-delivery:latest',
  ]);
  const env = container('ml-pipeline').env.filter((e: { name: string }) => e.name.startsWith('V2_'));
  assert.equal(env, [
    { name: 'V2_DRIVER_IMAGE', value: 'harbor.example.cn/kf/gcr.io/ml-pipeline/kfp-driver:sha256-8e60086b04d92b657898a310ca9757631d58547e76bbbb8bfc376d654bef1707' },
    { name: 'V2_LAUNCHER_IMAGE', value: 'harbor.example.cn/kf/gcr.io/ml-pipeline/kfp-launcher:sha256-80cf120abd125db84fa547640fd6386c4b2a26936e0c2b04a7d3634991a850a4' },
  ]);
  // The originals are left as they were.
  assert.is((objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'training-operator') as any).spec.template.spec.containers[0].args, undefined);
});

for (const release of RELEASES) {
  test(`${release}: after relocation no image the resolver finds is outside the registry, placeholder or real`, async () => {
    const documents = parseManifestDocuments(await readRendered(release), release);
    const objects = documents.flatMap((document) => document.objects);
    const before = discoverImages(objects).images;
    const relocated = relocate(objects, REGISTRY_PLACEHOLDER);
    assert.equal(unrelocatedImages(relocated.objects, REGISTRY_PLACEHOLDER).map((image) => image.ref), []);
    const after = discoverImages(relocated.objects).images;
    assert.is(after.length, before.length, 'every image is still found, now under the registry');
    // The documented rule, written out here rather than taken from the code that relocates: the registry in front of
    // the normalised name, and a pin `name[:tag]@sha256:<hex>` under the tag `sha256-<hex>`.
    const moved = (ref: string) => `${REGISTRY_PLACEHOLDER}/${ref.replace(/(:[\w][\w.-]*)?@sha256:/, ':sha256-')}`;
    assert.equal(after.map((image) => image.ref).sort(), before.map((image) => moved(image.ref)).sort());

    // install.sh substitutes the placeholder as text; the result must hold up as well, an IP registry included.
    const registry = '10.1.2.3:5000/kf';
    const text = objectTexts(documents, relocated.objects).join('---\n').replaceAll(REGISTRY_PLACEHOLDER, registry);
    const substituted = discoverImages(parseManifests(text, release)).images;
    assert.is(substituted.length, before.length);
    assert.ok(substituted.every((image) => formatImageRef(image.parsed).startsWith(`${registry}/`)), substituted.map((i) => i.ref).join('\n'));
    const pinned = before.filter((image) => image.parsed.digest !== undefined).length;
    assert.is(substituted.filter((image) => /:sha256-[0-9a-f]{64}$/.test(image.ref)).length, pinned, 'digest pins travel under their tag');
  });
}

test.run();
