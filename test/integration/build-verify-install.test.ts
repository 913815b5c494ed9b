// The foundation journey on real engines: stand-ins pushed under upstream names → build through mirrors → verify →
// a flipped byte is refused by verify and install.sh → restored → install.sh --images-only loads into the target.

import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import { parseManifests, type KubernetesObject } from '../../src/core/k8s-object.js';
import { findPodTemplateContainers } from '../../src/core/pod-images.js';
import { runCommand, runKfbundle } from '../helpers/cli.js';
import { dockerFor, pushStandIns, type StandIn } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';
import { flipByte } from '../helpers/flip-byte.js';

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  standIns: StandIn[];
  bundle: string;
}

const journey = suite<Context>('build → verify → install on real engines');

const UPSTREAM_REFS = [
  'gcr.io/ml-pipeline/mysql:8.0.26',
  'ghcr.io/kubeflow/katib/katib-controller:v0.18.0',
  'quay.io/jetstack/cert-manager-controller:v1.16.1',
  'mysql:8.0.29',
  'busybox',
  'gcr.io/knative-releases/knative.dev/serving/cmd/activator@sha256:cc39d40985f7b37ba384a857d194a24ac5eae7e204aac4ed9bf4ebfd8d62e721',
  // Runtime images: named only in ConfigMaps, pulled by controllers later.
  'ghcr.io/kubeflow/katib/suggestion-hyperopt:v0.18.0',
  'gcr.io/knative-releases/knative.dev/serving/cmd/queue@sha256:698ef80ebc698f4d2bb93c1e85684063a0cf253a83faebcbf106cee444181d8e',
];

function deployment(name: string, image: string, extra: Record<string, unknown> = {}): KubernetesObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'kubeflow' },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image, ...extra }] } } },
  };
}

function manifestsFor(refs: readonly string[]): string {
  const [gcr, ghcr, quay, mysql, busybox, pinned, suggestion, queue] = refs as [string, string, string, string, string, string, string, string];
  const objects: KubernetesObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kubeflow' } },
    deployment('ml-pipeline-mysql', gcr),
    deployment('katib-controller', ghcr, { imagePullPolicy: 'Always' }),
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'cert-manager', namespace: 'kubeflow' },
      spec: { serviceName: 'cm', selector: {}, template: { spec: { initContainers: [{ name: 'init', image: busybox }], containers: [{ name: 'cm', image: quay }] } } },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'backup', namespace: 'kubeflow' },
      spec: { schedule: '@daily', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'db', image: mysql }] } } } } },
    },
    deployment('activator', pinned),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'katib-config', namespace: 'kubeflow' },
      data: { 'katib-config.yaml': `runtime:\n  suggestions:\n  - algorithmName: tpe\n    image: ${suggestion}\n` },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config-deployment', namespace: 'knative-serving' }, data: { 'queue-sidecar-image': queue } },
  ];
  return objects.map((object) => JSON.stringify(object)).join('\n---\n');
}

/** The bundle's phase files, concatenated in apply order. */
async function allManifests(bundle: string): Promise<string> {
  const names = (await readdir(join(bundle, 'manifests'))).filter((name) => name.endsWith('.yaml')).sort();
  const texts = await Promise.all(names.map((name) => readFile(join(bundle, 'manifests', name), 'utf8')));
  return texts.join('---\n');
}

/**
 * The references the bundle's manifests must name, by the rule the bundle promises (written out here, not taken from
 * the code that patches): as the release wrote them, a digest pin `name@sha256:<hex>` under the tag `sha256-<hex>`.
 */
function patchedRefs(standIns: readonly StandIn[]): string[] {
  return standIns.map((standIn) => standIn.ref.replace('@sha256:', ':sha256-'));
}

journey.before(loudHook('setup', async (context) => {
  context.env = await useTestEnv();
  context.work = await makeTempDir();
  context.standIns = await pushStandIns(dockerFor(context.env.builderHost), context.env.registry, UPSTREAM_REFS, { layers: 2 });
  context.bundle = join(context.work.path, 'bundle');
}));

journey.after(async (context) => {
  await context.work?.remove();
  await context.env?.release();
});

journey('build pulls every image through the mirrors and writes a complete bundle', async ({ env, work, standIns, bundle }) => {
  const manifests = join(work.path, 'rendered.yaml');
  await writeFile(manifests, manifestsFor(standIns.map((s) => s.ref)));
  const mirrors = ['gcr.io', 'ghcr.io', 'quay.io', 'docker.io'].flatMap((host) => ['--mirror', `${host}=${env.registry}/${host}`]);
  // Credentials for the mirror registry: used for the pulls, and never written into the bundle.
  const dockerConfig = join(work.path, 'docker-config');
  const secret = 'kfbundle-test-s3cret';
  await mkdir(dockerConfig);
  await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [env.registry]: { auth: Buffer.from(`builder:${secret}`).toString('base64') } } }));
  const result = await runKfbundle(['build', '--no-seed-registry', '--manifests', manifests, '--out', bundle, '--cache', join(work.path, 'cache'), '--json', '--no-progress', ...mirrors], {
    env: { DOCKER_CONFIG: dockerConfig },
  });
  assert.is(result.code, 0, result.stderr);
  const output = JSON.parse(result.stdout) as { bundle: string; metadata: BundleMetadata; timingsMs: Record<string, number> };
  assert.equal(Object.keys(output).sort(), ['bundle', 'metadata', 'timingsMs']);
  assert.equal(Object.keys(output.timingsMs).sort(), ['hash', 'pull', 'render', 'resolve', 'save', 'write']);
  assert.not.match(result.stderr, /\x1b\[/, 'progress on a pipe has no escape codes');

  const metadata = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleMetadata;
  assert.is(metadata.images.length, UPSTREAM_REFS.length);
  const sums = await readFile(join(bundle, 'SHA256SUMS'), 'utf8');
  const phaseFiles = metadata.plan.phases.flatMap((phase) => [phase.file, phase.file.replace(/\.yaml$/, '.waits')]);
  assert.ok(phaseFiles.includes('manifests/00-namespaces.yaml'), phaseFiles.join(' '));
  for (const path of ['bundle.json', 'install.sh', 'images/images.tar', ...phaseFiles]) {
    assert.match(sums, new RegExp(`^[0-9a-f]{64}  ${path.replace('.', '\\.')}$`, 'm'), `SHA256SUMS lists ${path}`);
  }
  // No staging directory is left beside the bundle.
  assert.equal(await readdir(work.path), ['bundle', 'cache', 'docker-config', 'rendered.yaml'].sort());
  for (const path of phaseFiles.concat(['bundle.json', 'install.sh', 'images/images.tar'])) {
    const bytes = await readFile(join(bundle, path));
    for (const needle of [secret, Buffer.from(`builder:${secret}`).toString('base64')]) assert.is(bytes.indexOf(needle), -1, `${path} holds no credentials`);
  }
});

journey('the digest-pinned image keeps its digest and is stored under a tag that survives docker load', async ({ standIns, bundle }) => {
  const metadata = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleMetadata;
  const pinnedStandIn = standIns.find((s) => s.ref.includes('/activator@sha256:'))!;
  const pinned = metadata.images.find((image) => image.pinnedDigest !== undefined && image.ref.includes('/activator'))!;
  assert.is(pinned.pinnedDigest, pinnedStandIn.digest);
  assert.is(pinned.digest, pinnedStandIn.digest, 'the pulled image has the pinned digest');
  assert.is(pinned.imageId, pinnedStandIn.imageId);
  assert.is(pinned.bundleRef, `gcr.io/knative-releases/knative.dev/serving/cmd/activator:${pinnedStandIn.digest.replace(':', '-')}`);
  const manifests = await allManifests(bundle);
  assert.match(manifests, `image: ${pinned.bundleRef}\n`);
  assert.not.match(manifests, '@sha256:', 'no digest pin is left anywhere in the manifests, ConfigMaps included');
  const queue = metadata.images.find((image) => image.ref.includes('/queue@'))!;
  assert.is(queue.tier, 'runtime');
  const queueStandIn = standIns.find((s) => s.ref.includes('/queue@sha256:'))!;
  assert.match(manifests, `queue-sidecar-image: gcr.io/knative-releases/knative.dev/serving/cmd/queue:${queueStandIn.digest.replace(':', '-')}\n`);
});

journey('manifests pull IfNotPresent wherever kubelet would pull Always', async ({ bundle }) => {
  const objects = parseManifests(await allManifests(bundle), 'bundle');
  const policies = Object.fromEntries(findPodTemplateContainers(objects).map((c) => [c.image, c.container['imagePullPolicy']]));
  assert.is(policies['busybox'], 'IfNotPresent', 'untagged image');
  assert.is(policies['ghcr.io/kubeflow/katib/katib-controller:v0.18.0'], 'IfNotPresent', 'explicit Always');
  assert.is(policies['gcr.io/ml-pipeline/mysql:8.0.26'], undefined, 'a pinned tag keeps kubelet default');
});

journey('verify passes, then names a flipped byte, and install.sh refuses before loading', async ({ env, bundle }) => {
  // The target engine may be shared with other tests: start from one that has none of these images.
  const target = dockerFor(env.targetHost);
  const built = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleMetadata;
  for (const image of built.images) await target.getImage(image.bundleRef).remove({ force: true }).catch(() => undefined);
  const ok = await runKfbundle(['verify', bundle]);
  assert.is(ok.code, 0, ok.stderr);

  const tar = join(bundle, 'images/images.tar');
  await flipByte(tar, 4096 + 7);
  const bad = await runKfbundle(['verify', bundle]);
  assert.is(bad.code, 9);
  assert.match(bad.stderr, 'images/images.tar');

  const refused = await runCommand('bash', [join(bundle, 'install.sh'), '--images-only'], { env: { DOCKER_HOST: env.targetHost } });
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, 'images/images.tar');
  for (const image of built.images) {
    const loaded = await target.getImage(image.bundleRef).inspect().then(() => true, () => false);
    assert.not.ok(loaded, `${image.bundleRef} was not loaded into the target`);
  }

  await flipByte(tar, 4096 + 7);
  const restored = await runKfbundle(['verify', bundle, '--json']);
  assert.is(restored.code, 0);
  assert.is(JSON.parse(restored.stdout).ok, true);
});

journey('verify and install.sh refuse a missing or an extra file, naming it', async ({ env, work, bundle }) => {
  const extra = join(bundle, 'manifests/99-extra.yaml');
  await writeFile(extra, 'apiVersion: v1\nkind: Namespace\nmetadata: {name: evil}\n');
  const withExtra = await runKfbundle(['verify', bundle]);
  assert.is(withExtra.code, 9);
  assert.match(withExtra.stderr, 'extra: manifests/99-extra.yaml');
  const installExtra = await runCommand('bash', [join(bundle, 'install.sh'), '--verify-only']);
  assert.is.not(installExtra.code, 0);
  assert.match(installExtra.stderr, 'manifests/99-extra.yaml');
  await rm(extra);

  const metadataPath = join(bundle, 'bundle.json');
  const saved = join(work.path, 'bundle.json.saved');
  await copyFile(metadataPath, saved);
  await rm(metadataPath);
  const missing = await runKfbundle(['verify', bundle]);
  assert.is(missing.code, 9);
  assert.match(missing.stderr, 'missing: bundle.json');
  const installMissing = await runCommand('bash', [join(bundle, 'install.sh'), '--images-only'], { env: { DOCKER_HOST: env.targetHost } });
  assert.is.not(installMissing.code, 0);
  assert.match(installMissing.stderr, 'bundle.json');
  await copyFile(saved, metadataPath);
  await rm(saved);
  assert.is((await runKfbundle(['verify', bundle])).code, 0);
});

journey('install.sh --images-only loads every image the manifests name into the target engine', async ({ env, standIns, bundle }) => {
  const result = await runCommand('bash', [join(bundle, 'install.sh'), '--images-only'], { env: { DOCKER_HOST: env.targetHost } });
  assert.is(result.code, 0, result.stderr);
  const target = dockerFor(env.targetHost);
  const metadata = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleMetadata;
  const idByBundleRef = new Map(metadata.images.map((image) => [image.bundleRef, image.imageId]));
  const manifests = await allManifests(bundle);
  const refs = patchedRefs(standIns);
  for (const [i, ref] of refs.entries()) {
    const escaped = ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // In YAML (`image: ref`, `queue-sidecar-image: ref`) or, for an object the build left as written, JSON.
    assert.match(manifests, new RegExp(`image"?:\\s*["']?${escaped}(?![\\w.:/@-])`), `the manifests name ${ref}`);
    const info = await target.getImage(ref).inspect().catch(() => undefined);
    assert.is(info?.Id, standIns[i]!.imageId, `target has ${ref}, the stand-in pushed for ${UPSTREAM_REFS[i]}`);
  }
  for (const [bundleRef, imageId] of idByBundleRef) {
    assert.is((await target.getImage(bundleRef).inspect()).Id, imageId, `${bundleRef} is the image that was pulled`);
  }
});

journey.run();
