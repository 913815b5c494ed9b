// Targets as they really are: a containerd node (a standalone containerd with its own root, state and socket), a
// runtime picked automatically, and a private registry that every image is pushed to and every reference moved to,
// checked against the API server double whose workloads become Available only when their images are in that registry.

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import { parseManifests, type KubernetesObject } from '../../src/core/k8s-object.js';
import { ApiServerDouble } from '../api-double/api-server-double.js';
import { QUICK_MS, runCommand, runKfbundle } from '../helpers/cli.js';
import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { registryImageId } from '../helpers/registry-client.js';
import { dockerFor, pushStandIns, type StandIn } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  standIns: StandIn[];
  rendered: string;
  bundle: string;
  metadata: BundleMetadata;
}

const test = suite<Context>('containerd nodes, runtime detection, private registry relocation');

const UPSTREAM_REFS = [
  'gcr.io/ml-pipeline/api-server:2.5.0',
  'ghcr.io/kubeflow/kfp-launcher:2.5.0',
  'ghcr.io/kubeflow/kfp-driver:2.5.0',
  'gcr.io/knative-releases/knative.dev/serving/cmd/activator@sha256:cc39d40985f7b37ba384a857d194a24ac5eae7e204aac4ed9bf4ebfd8d62e721',
  'busybox',
  'docker.io/istio/proxyv2:1.28.0',
  'ghcr.io/kubeflow/katib/suggestion-hyperopt:v0.18.0',
  'kserve/sklearnserver:v0.15.0',
];

/**
 * Each upstream reference (by its index in UPSTREAM_REFS) as the bundle stores it and its manifests name it once
 * patched, written out by hand: names normalised, the digest pin under a `sha256-<hex>` tag.
 */
function bundledRefs(standIns: readonly StandIn[]): { index: number; ref: string }[] {
  const pin = standIns[3]!.digest.replace('sha256:', 'sha256-');
  return [
    'gcr.io/ml-pipeline/api-server:2.5.0',
    'ghcr.io/kubeflow/kfp-launcher:2.5.0',
    'ghcr.io/kubeflow/kfp-driver:2.5.0',
    `gcr.io/knative-releases/knative.dev/serving/cmd/activator:${pin}`,
    'docker.io/library/busybox:latest',
    'docker.io/istio/proxyv2:1.28.0',
    'ghcr.io/kubeflow/katib/suggestion-hyperopt:v0.18.0',
    'docker.io/kserve/sklearnserver:v0.15.0',
  ].map((ref, index) => ({ index, ref }));
}

/**
 * Fails if `text` names an image anywhere but under `registry`: every token under the registry is taken out, and
 * what is left must name no upstream registry and none of the release's short names in an image field.
 */
function assertNothingOutside(text: string, registry: string): void {
  const escaped = registry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const rest = text.replace(new RegExp(escaped + String.raw`/[^"'\\\s,]*`, 'g'), '');
  for (const upstream of [/(?<![\w.-])(gcr|ghcr|quay)\.io\//, /(?<![\w.-])docker\.io\//, /kserve\/sklearnserver/, /image"?:\s*"?busybox/]) {
    const found = upstream.exec(rest);
    assert.is(found, null, `an image outside ${registry}: …${found === null ? '' : rest.slice(Math.max(0, found.index - 120), found.index + 80)}…`);
  }
}

function release(refs: readonly string[]): string {
  const [api, launcher, driver, activator, busybox, , suggestion, sklearn] = refs as string[];
  const deployment = deploymentYaml;
  return [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: kubeflow}\n',
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n',
    `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: clusterservingruntimes.serving.kserve.io}
spec:
  group: serving.kserve.io
  names: {kind: ClusterServingRuntime, plural: clusterservingruntimes}
  scope: Cluster
  versions: [{name: v1alpha1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
`,
    deployment('kubeflow', 'ml-pipeline', `      - name: api
        image: ${api}
        env: [{name: V2_LAUNCHER_IMAGE, value: "${launcher}"}, {name: V2_DRIVER_IMAGE, value: "${driver}"}]
`),
    deployment('kubeflow', 'activator', `      - {name: activator, image: "${activator}"}\n`),
    deployment('kubeflow', 'busybox', `      - {name: busybox, image: ${busybox}}\n`),
    `apiVersion: v1
kind: ConfigMap
metadata: {name: istio-sidecar-injector, namespace: istio-system}
data:
  values: '{"global": {"hub": "docker.io/istio", "tag": "1.28.0", "proxy": {"image": "proxyv2"}}}'
`,
    `apiVersion: v1
kind: ConfigMap
metadata: {name: katib-config, namespace: kubeflow}
data:
  katib-config.yaml: |
    runtime:
      suggestions:
      - algorithmName: tpe
        image: ${suggestion}
`,
    `apiVersion: v1
kind: ServiceAccount
metadata:
  name: pipeline-runner
  namespace: kubeflow
  annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/kubeflow-pipelines"}
`,
    `apiVersion: serving.kserve.io/v1alpha1
kind: ClusterServingRuntime
metadata: {name: kserve-sklearnserver}
spec: {containers: [{name: kserve-container, image: "${sklearn}"}]}
`,
  ].join('---\n');
}

async function build(context: Context, out: string, extra: string[] = []): Promise<BundleMetadata> {
  const mirrors = ['gcr.io', 'ghcr.io', 'docker.io'].flatMap((host) => ['--mirror', `${host}=${context.env.registry}/${host}`]);
  // The catalog tier too (the serving runtime's image), so that every image the manifests name is in the bundle.
  const result = await runKfbundle(
    ['build', '--no-seed-registry', '--manifests', context.rendered, '--out', out, '--source', 'engine', '--docker-host', context.env.builderHost, '--no-progress', '--tiers', 'install,runtime,catalog', ...mirrors, ...extra],
    { timeoutMs: 300_000 },
  );
  assert.is(result.code, 0, result.stderr);
  return JSON.parse(await readFile(join(out, 'bundle.json'), 'utf8')) as BundleMetadata;
}

async function manifestObjects(bundle: string): Promise<KubernetesObject[]> {
  const names = (await readdir(join(bundle, 'manifests'))).filter((name) => name.endsWith('.yaml')).sort();
  const texts = await Promise.all(names.map((name) => readFile(join(bundle, 'manifests', name), 'utf8')));
  return parseManifests(texts.join('---\n'), bundle);
}

async function containerdImages(env: TestEnv): Promise<string[]> {
  const listed = await runCommand('ctr', ['--address', env.containerdAddress, '-n', 'k8s.io', 'images', 'ls', '-q'], { timeoutMs: QUICK_MS });
  assert.is(listed.code, 0, listed.stderr);
  return listed.stdout.trim().split('\n').filter((line) => line !== '');
}

/** A registry prefix of this run's own: the registry may be shared with earlier runs. */
const freshPrefix = (context: Context, name: string) => `${context.env.registry}/${name}-${randomBytes(4).toString('hex')}`;

// Loading, importing or pushing eight small images, then (with a cluster) phases that wait up to --timeout each.
const install = (context: Context, bundle: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCommand('bash', [join(bundle, 'install.sh'), '--retry-delay', '1', ...args], {
    env: { DOCKER_HOST: context.env.targetHost, CONTAINERD_ADDRESS: context.env.containerdAddress, HOME: join(context.work.path, 'home'), ...env },
    timeoutMs: 300_000,
  });

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir();
    await mkdir(join(context.work.path, 'home'));
    context.standIns = await pushStandIns(dockerFor(context.env.builderHost), context.env.registry, UPSTREAM_REFS);
    context.rendered = join(context.work.path, 'rendered.yaml');
    await writeFile(context.rendered, release(context.standIns.map((standIn) => standIn.ref)));
    context.bundle = join(context.work.path, 'bundle');
    context.metadata = await build(context, context.bundle);
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('--runtime containerd imports every image into k8s.io: every reference the manifests name is there', async (context) => {
  const result = await install(context, context.bundle, ['--images-only', '--runtime', 'containerd']);
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stdout, 'runtime: containerd (--runtime)');
  assert.match(result.stdout, `all ${UPSTREAM_REFS.length} images present in containerd`);
  const present = new Set(await containerdImages(context.env));
  for (const { ref } of bundledRefs(context.standIns)) assert.ok(present.has(ref), `containerd has ${ref}`);
  // The pod templates name them in the same form (a digest pin under its tag), or kubelet would look for another.
  const manifests = JSON.stringify(await manifestObjects(context.bundle));
  assert.ok(manifests.includes(`"image":"${bundledRefs(context.standIns)[3]!.ref}"`), 'the patched digest pin is what the pod template names');
  assert.not.ok(manifests.includes('@sha256:'), 'no digest pin is left for kubelet to resolve');
  const pinned = context.metadata.images.find((image) => image.pinnedDigest !== undefined)!;
  assert.ok(present.has(pinned.bundleRef), 'the digest-pinned image resolves under the tag the manifests use');
  assert.is(pinned.pinnedDigest, context.standIns.find((s) => s.ref.includes('@sha256:'))!.digest, 'bundle.json keeps the original digest');
});

test('--runtime auto follows kubelet, else the runtime that answers, and says why', async (context) => {
  const kubeletConfig = join(context.work.path, 'kubelet-config.yaml');
  await writeFile(kubeletConfig, 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncontainerRuntimeEndpoint: "unix:///run/containerd/containerd.sock"\n');
  const byKubelet = await install(context, context.bundle, ['--images-only'], { KFB_KUBELET_CONFIG: kubeletConfig });
  assert.is(byKubelet.code, 0, byKubelet.stderr);
  assert.match(byKubelet.stdout, "runtime: containerd (kubelet's runtime endpoint is unix:///run/containerd/containerd.sock)");

  const dead = join(context.work.path, 'nothing.sock');
  const onlyContainerd = await install(context, context.bundle, ['--images-only'], { DOCKER_HOST: `unix://${dead}` });
  assert.is(onlyContainerd.code, 0, onlyContainerd.stderr);
  assert.match(onlyContainerd.stdout, 'runtime: containerd (no kubelet configuration found; only containerd answers)');

  const onlyDocker = await install(context, context.bundle, ['--images-only'], { CONTAINERD_ADDRESS: dead });
  assert.is(onlyDocker.code, 0, onlyDocker.stderr);
  assert.match(onlyDocker.stdout, 'runtime: docker (no kubelet configuration found; only Docker answers)');
  assert.match(onlyDocker.stdout, `all ${UPSTREAM_REFS.length} images present in docker`);

  const neither = await install(context, context.bundle, ['--images-only'], { CONTAINERD_ADDRESS: dead, DOCKER_HOST: `unix://${dead}` });
  assert.is.not(neither.code, 0);
  // The preflight finds it, before anything is loaded.
  assert.match(neither.stdout, 'fail  disk: neither Docker nor containerd answers on this node: the images cannot be loaded here');
  assert.match(neither.stderr, 'preflight failed (disk): nothing was loaded or applied');
});

test('--registry: images pushed, every reference moved, and the cluster finds every image there', async (context) => {
  const registry = freshPrefix(context, 'private');
  for (const image of context.metadata.images) {
    assert.is(await registryImageId(`${registry}/${image.bundleRef}`), undefined, 'nothing is there before the install');
  }
  // Workloads become Available only if every image they name is in the private registry, as on an isolated cluster.
  const double = new ApiServerDouble({
    hasImage: async (ref) => ref.startsWith(`${registry}/`) && (await registryImageId(ref)) !== undefined,
  });
  await double.start();
  try {
    const kubeconfig = await writeKubeconfig(context.work.path, double.url);
    const result = await install(context, context.bundle, ['--registry', registry, '--runtime', 'docker', '--timeout', '60'], { KUBECONFIG: kubeconfig });
    assert.is(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, `all ${UPSTREAM_REFS.length} images pushed to ${registry}`);

    for (const image of context.metadata.images) {
      assert.is(await registryImageId(`${registry}/${image.bundleRef}`), image.imageId, `${registry}/${image.bundleRef} is the image that was pulled`);
    }
    // The plan waits only for what later phases need; the rest settles after install.sh returns, as on a cluster.
    const deadline = Date.now() + 15_000;
    while (!double.list('Deployment').every((d) => double.isAvailable(d)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    for (const deployment of double.list('Deployment')) {
      assert.ok(double.isAvailable(deployment), `${deployment['metadata']['name']} Available: ${JSON.stringify(deployment['status'])}`);
    }

    // The scan, without the resolver that chose what to move: kubectl's own JSONPath lists the images the pod
    // templates name; the references hidden elsewhere are looked up where this release put them; and no text in the
    // cluster names an image outside the private registry.
    const listed = await runCommand('kubectl', ['get', 'deployments', '-A', '-o', 'jsonpath={..image}'], {
      env: { KUBECONFIG: kubeconfig, HOME: join(context.work.path, 'home') },
      timeoutMs: QUICK_MS,
    });
    assert.is(listed.code, 0, listed.stderr);
    const expected = bundledRefs(context.standIns).map(({ index, ref }) => ({ index, ref: `${registry}/${ref}` }));
    const podImages = [0, 3, 4].map((i) => expected[i]!.ref);
    assert.equal(listed.stdout.trim().split(/\s+/).sort(), [...podImages].sort());
    const api = double.get('Deployment', 'kubeflow', 'ml-pipeline')!['spec']['template']['spec']['containers'][0];
    assert.equal(api['env'], [
      { name: 'V2_LAUNCHER_IMAGE', value: expected[1]!.ref },
      { name: 'V2_DRIVER_IMAGE', value: expected[2]!.ref },
    ]);
    assert.match(double.get('ConfigMap', 'kubeflow', 'katib-config')!['data']['katib-config.yaml'], `image: ${expected[6]!.ref}\n`);
    assertNothingOutside(JSON.stringify(double.all()), registry);
    for (const { index, ref } of expected) {
      assert.is(await registryImageId(ref), context.standIns[index]!.imageId, `${ref} can be pulled and is the stand-in for ${UPSTREAM_REFS[index]}`);
    }
    const values = JSON.parse(double.get('ConfigMap', 'istio-system', 'istio-sidecar-injector')!['data']['values']);
    assert.is(values.global.hub, `${registry}/docker.io/istio`, 'the hub moved, so sidecars composed from it at run time are found too');
    const runtime = double.list('ClusterServingRuntime')[0]!;
    assert.is(runtime['spec']['containers'][0]['image'], `${registry}/docker.io/kserve/sklearnserver:v0.15.0`, 'custom resources move too');
  } finally {
    await double.stop();
  }
});

test('--registry with containerd pushes from the k8s.io namespace; the pushed images are the pulled ones', async (context) => {
  const registry = freshPrefix(context, 'viactr');
  const result = await install(context, context.bundle, ['--images-only', '--runtime', 'containerd', '--registry', registry, '--registry-plain-http']);
  assert.is(result.code, 0, result.stderr);
  for (const image of context.metadata.images) {
    assert.is(await registryImageId(`${registry}/${image.bundleRef}`), image.imageId, `${registry}/${image.bundleRef}`);
  }
});

test('build --registry relocates manifests/ at build time and install.sh pushes there by default; --aws-partition moves ARNs', async (context) => {
  const registry = freshPrefix(context, 'built');
  const bundle = join(context.work.path, 'bundle-registry');
  const metadata = await build(context, bundle, ['--registry', registry, '--aws-partition', 'aws-cn']);
  assert.is(metadata.relocation.registry, registry);
  assert.equal(metadata.relocation.leftovers, []);
  assert.equal(metadata.manifests.awsPartition, { partition: 'aws-cn', objects: 1 });
  const objects = await manifestObjects(bundle);
  const text = JSON.stringify(objects);
  const expected = bundledRefs(context.standIns).map(({ index, ref }) => ({ index, ref: `${registry}/${ref}` }));
  // Seven references are written whole; the eighth (Istio's proxy) is composed from the hub, which moved.
  for (const { ref } of expected.filter(({ index }) => index !== 5)) assert.ok(text.includes(ref), `the manifests name ${ref}`);
  const injector = objects.find((object) => object.kind === 'ConfigMap' && object.metadata?.name === 'istio-sidecar-injector')!;
  assert.is(JSON.parse((injector['data'] as Record<string, string>)['values']!).global.hub, `${registry}/docker.io/istio`, 'the hub moved');
  assertNothingOutside(text, registry);
  const account = objects.find((object) => object.kind === 'ServiceAccount')!;
  assert.is((account.metadata!.annotations as Record<string, string>)['eks.amazonaws.com/role-arn'], 'arn:aws-cn:iam::123456789012:role/kubeflow-pipelines');

  const plan = await install(context, bundle, ['--dry-run']);
  assert.match(plan.stdout, `images: pushed to ${registry}`);
  const result = await install(context, bundle, ['--images-only', '--runtime', 'docker']);
  assert.is(result.code, 0, result.stderr);
  for (const { index, ref } of expected) assert.is(await registryImageId(ref), context.standIns[index]!.imageId, `${ref} is the stand-in for ${UPSTREAM_REFS[index]}`);
});

test('a registry that is not HOST[:PORT][/PREFIX] is refused by build and install.sh before anything happens', async (context) => {
  const built = await runKfbundle(['build', '--no-seed-registry', '--manifests', context.rendered, '--out', join(context.work.path, 'never'), '--registry', 'https://harbor.example.cn']);
  assert.is(built.code, 2);
  assert.match(built.stderr, 'registry "https://harbor.example.cn" has a scheme');
  const installed = await install(context, context.bundle, ['--registry', 'Harbor/Kubeflow']);
  assert.is.not(installed.code, 0);
  assert.match(installed.stderr, "--registry 'Harbor/Kubeflow' is not HOST[:PORT][/PREFIX]");
});

test.run();
