// install.sh --seed-registry against the API server double, with the real registry: a bundle built for real carries a
// stand-in of the registry image (Debian's docker-registry, the same Distribution software, pushed under the real name
// through the mirror); the installer loads only that image into the target engine, applies the registry's Deployment
// and NodePort Service, pushes every image through 127.0.0.1:PORT, switches it to read-only, and applies the manifests
// relocated to 127.0.0.1:PORT. A stand-in node (test/helpers/seed-node.ts) runs the registry from the image exactly as
// the Deployment says; the target engine plays every other node and pulls from 127.0.0.1:PORT with no configuration.

import { copyFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiServerDouble } from '../api-double/api-server-double.js';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import { runCommand, runKfbundle } from '../helpers/cli.js';
import { flipByte } from '../helpers/flip-byte.js';
import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { freeNodePort } from '../helpers/free-port.js';
import { SeedNode } from '../helpers/seed-node.js';
import { dockerFor, pushImage, pushStandIns } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';
import { fetchRegistryImage, MEDIA, pushTwoPlatformList } from '../helpers/registry-blobs.js';

const NAMESPACE = 'kfbundle-registry';
const NAME = 'kfbundle-registry';
const REGISTRY_IMAGE = 'docker.io/library/registry:2.8.3';
// Servers with no compiled-in image the default tiers bundle (an API server would add the driver and launcher).
const FIRST = ['gcr.io/ml-pipeline/scheduledworkflow:2.0.5', 'gcr.io/ml-pipeline/frontend:2.0.5', 'docker.io/library/mysql:8.0.29'];
const SECOND = ['gcr.io/ml-pipeline/scheduledworkflow:2.0.5', 'ghcr.io/kubeflow/kfp-scheduled-workflow-controller:2.5.0'];
/** A two-platform list upstream (made in the setup), with an image of one platform: for a bundle of two platforms. */
const MIXED = ['gcr.io/ml-pipeline/visualization-server:2.0.5', 'docker.io/library/mysql:8.0.29'];
const INSTALL_MS = 180_000;

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  prefix: string;
  port: number;
  double: ApiServerDouble;
  node: SeedNode;
  kubeconfig: string;
  first: string;
  second: string;
  mixed: string;
}

const test = suite<Context>('install.sh --seed-registry');

/** The registry image as the bundle carries it, made from Debian's docker-registry (dynamically linked: with its libc). */
async function pushRegistryStandIn(env: TestEnv, prefix: string, dir: string): Promise<void> {
  const context = join(dir, 'registry-image');
  for (const sub of ['bin', 'lib/x86_64-linux-gnu', 'lib64']) await mkdir(join(context, sub), { recursive: true });
  await copyFile('/usr/bin/docker-registry', join(context, 'bin/registry'));
  await copyFile('/bin/busybox', join(context, 'bin/busybox'));
  await copyFile('/lib/x86_64-linux-gnu/libc.so.6', join(context, 'lib/x86_64-linux-gnu/libc.so.6'));
  await copyFile('/lib64/ld-linux-x86-64.so.2', join(context, 'lib64/ld-linux-x86-64.so.2'));
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY . /\nENTRYPOINT ["/bin/registry"]\nCMD ["serve", "/etc/docker/registry/config.yml"]\n');
  const tag = `${env.registry}/${prefix}/${REGISTRY_IMAGE}`;
  const built = await runCommand('docker', ['--host', env.builderHost, 'build', '-q', '-t', tag, context]);
  assert.is(built.code, 0, built.stderr);
  await pushImage(dockerFor(env.builderHost), tag);
  await dockerFor(env.builderHost).getImage(tag).remove({ force: true });
}

function release(refs: readonly string[]): string {
  return [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: kubeflow}\n',
    ...refs.map((ref) => deploymentYaml('kubeflow', ref.split('/').at(-1)!.split(':')[0]!, `      - {name: main, image: "${ref}"}\n`)),
  ].join('---\n');
}

async function build(context: Context, name: string, refs: readonly string[], extra: readonly string[] = []): Promise<string> {
  const { env, prefix, work } = context;
  const manifests = join(work.path, `${name}.yaml`);
  await writeFile(manifests, release(refs));
  const out = join(work.path, name);
  const mirrors = ['gcr.io', 'ghcr.io', 'docker.io'].flatMap((host) => ['--mirror', `${host}=${env.registry}/${prefix}/${host}`]);
  const result = await runKfbundle(['build', '--manifests', manifests, '--out', out, '--cache', join(work.path, 'cache'), '--no-progress', '--seed-registry-image', REGISTRY_IMAGE, ...mirrors, ...extra]);
  assert.is(result.code, 0, result.stderr);
  return out;
}

function install(context: Context, bundle: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  return runCommand(
    'bash',
    [join(bundle, 'install.sh'), '--seed-registry', '--registry-node', 'node-1', '--registry-port', String(context.port), '--runtime', 'docker', '--timeout', '60', '--retries', '2', '--retry-delay', '1', ...extra],
    { env: { DOCKER_HOST: context.env.targetHost, KUBECONFIG: context.kubeconfig, HOME: context.work.path, ...env }, timeoutMs: INSTALL_MS },
  );
}

const metadataOf = async (bundle: string) => JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleMetadata;
const blobLines = async (bundle: string) =>
  (await readFile(join(bundle, 'images/push.txt'), 'utf8'))
    .split('\n')
    .filter((line) => line.startsWith('blob\t'))
    .map((line) => line.split('\t'));
/** Blob uploads that reached the registry: the PUT that ends an upload, once per blob sent. */
const uploads = (node: SeedNode) => node.proxy?.matching(/^PUT \S*\/blobs\/uploads\/\S*digest=/).length ?? 0;
const mounts = (node: SeedNode) => node.proxy?.matching(/^POST \S*\/blobs\/uploads\/\?(\S*&)?mount=/).length ?? 0;

/** What a node that was never configured gets when its kubelet pulls the relocated reference. */
async function pullOnNode(env: TestEnv, ref: string): Promise<string | undefined> {
  const pulled = await runCommand('docker', ['--host', env.targetHost, 'pull', '-q', ref], { timeoutMs: 60_000 });
  if (pulled.code !== 0) return undefined;
  const inspected = await runCommand('docker', ['--host', env.targetHost, 'image', 'inspect', '-f', '{{.Id}}', ref], { timeoutMs: 30_000 });
  return inspected.stdout.trim();
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir('kfb-seed-');
    context.prefix = `seed-${process.pid}`;
    const builder = dockerFor(context.env.builderHost);
    await pushRegistryStandIn(context.env, context.prefix, context.work.path);
    await pushStandIns(builder, `${context.env.registry}/${context.prefix}`, [...new Set([...FIRST, ...SECOND])], { layers: 2 });
    context.first = await build(context, 'first', FIRST);
    context.second = await build(context, 'second', SECOND);
    const visualization = `${context.env.registry}/${context.prefix}/gcr.io/ml-pipeline/visualization-server`;
    await pushStandIns(builder, `${context.env.registry}/${context.prefix}`, ['gcr.io/ml-pipeline/visualization-server:amd64'], { layers: 2 });
    const amd64 = await fetchRegistryImage(`${visualization}:amd64`);
    await pushTwoPlatformList(visualization, '2.0.5', { bytes: amd64.manifestBytes, digest: amd64.manifestDigest, mediaType: amd64.manifestMediaType, configDigest: amd64.config.digest });
    context.mixed = await build(context, 'mixed', MIXED, ['--platform', 'linux/amd64,linux/arm64']);
    context.port = await freeNodePort();
    const target = dockerFor(context.env.targetHost);
    // A node has an image when it is in its engine, or when its kubelet can pull it: here, from 127.0.0.1:PORT.
    context.double = new ApiServerDouble({
      hasImage: async (ref) =>
        (await target.getImage(ref).inspect().then(() => true, () => false)) ||
        (ref.startsWith(`127.0.0.1:${context.port}/`) && (await pullOnNode(context.env, ref)) !== undefined),
    });
    await context.double.start();
    context.kubeconfig = await writeKubeconfig(context.work.path, context.double.url);
    context.node = new SeedNode({ double: context.double, runtime: { docker: context.env.targetHost }, dir: join(context.work.path, 'node'), namespace: NAMESPACE, name: NAME });
    await context.node.start();
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    await context.node?.stop();
    await context.double?.stop();
    const target = dockerFor(context.env.targetHost);
    const images = await target.listImages();
    for (const image of images) {
      if ((image.RepoTags ?? []).some((tag) => tag.startsWith(`127.0.0.1:${context.port}/`) || tag.startsWith('docker.io/library/registry:') || tag.startsWith('registry:'))) {
        await target.getImage(image.Id).remove({ force: true }).catch(() => undefined);
      }
    }
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('a tampered bundle is refused before the registry is started or a byte is pushed', async (context) => {
  const tampered = join(context.work.path, 'tampered');
  await cp(context.first, tampered, { recursive: true });
  await flipByte(join(tampered, 'images/images.tar'), 2000);
  const result = await install(context, tampered);
  assert.is.not(result.code, 0);
  assert.match(result.stderr, /checksum verification failed/);
  assert.is(context.double.get('Deployment', NAMESPACE, NAME), undefined, 'no registry Deployment was applied');
  assert.is(context.node.proxy, undefined, 'nothing reached the NodePort');
});

test('refuses what it cannot do before it changes anything: no registry image, --registry too, kube-proxy in ipvs mode', async (context) => {
  const { env, prefix, work } = context;
  const manifests = join(work.path, 'first.yaml');
  const bare = join(work.path, 'bare');
  const built = await runKfbundle(['build', '--no-seed-registry', '--manifests', manifests, '--out', bare, '--cache', join(work.path, 'cache'), '--no-progress', '--mirror', `gcr.io=${env.registry}/${prefix}/gcr.io`, '--mirror', `docker.io=${env.registry}/${prefix}/docker.io`]);
  assert.is(built.code, 0, built.stderr);
  const without = await install(context, bare);
  assert.is.not(without.code, 0);
  assert.match(without.stderr, /built without the seed registry image \(kfbundle build --no-seed-registry\)/);

  const both = await install(context, context.first, ['--registry', 'harbor.example.cn/kubeflow']);
  assert.is.not(both.code, 0);
  assert.match(both.stderr, /drop --registry harbor\.example\.cn\/kubeflow/);

  const ipvs = new ApiServerDouble({ hasImage: async () => true });
  await ipvs.start();
  try {
    const kubeconfig = await writeKubeconfig(work.path, ipvs.url);
    const proxyConfig = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-proxy, namespace: kube-system}\ndata:\n  config.conf: |\n    apiVersion: kubeproxy.config.k8s.io/v1alpha1\n    kind: KubeProxyConfiguration\n    mode: "ipvs"\n';
    const file = join(work.path, 'kube-proxy.yaml');
    await writeFile(file, proxyConfig);
    const applied = await runCommand('kubectl', ['apply', '-f', file], { env: { KUBECONFIG: kubeconfig, HOME: work.path } });
    assert.is(applied.code, 0, applied.stderr);
    const refused = await install({ ...context, kubeconfig }, context.first);
    assert.is.not(refused.code, 0);
    assert.match(refused.stderr, /kube-proxy runs in ipvs mode, which does not serve NodePorts on 127\.0\.0\.1/);
    assert.is(ipvs.get('Deployment', NAMESPACE, NAME), undefined);
  } finally {
    await ipvs.stop();
  }
  assert.is(context.node.proxy, undefined, 'nothing reached the NodePort');
});

test('seeds the registry from the bundle, makes it read-only, and the relocated workloads pull through 127.0.0.1', async (context) => {
  const { double, node, env, port } = context;
  const result = await install(context, context.first);
  assert.is(node.error, undefined, node.error?.message);
  assert.is(result.code, 0, `${result.stdout}\n${result.stderr}\n${await node.log(1)}`);

  // The registry is the bundle's image, loaded on this node only, pinned to it, never pulled.
  const metadata = await metadataOf(context.first);
  const seedImage = metadata.images.find((image) => image.tier === 'seed')!;
  const deployment = double.get('Deployment', NAMESPACE, NAME)!;
  const pod = deployment['spec']['template']['spec'];
  assert.is(pod['containers'][0]['image'], seedImage.bundleRef);
  assert.is(pod['containers'][0]['imagePullPolicy'], 'Never');
  assert.is(pod['nodeSelector']['kubernetes.io/hostname'], 'node-1');
  assert.ok(pod['volumes'].some((volume: { hostPath?: unknown }) => volume.hostPath !== undefined), 'hostPath storage by default');
  const service = double.get('Service', NAMESPACE, NAME)!;
  assert.is(service['spec']['type'], 'NodePort');
  assert.is(service['spec']['ports'][0]['nodePort'], port);

  // Seeded under a random path, then restarted read-only at /v2/; the path was never printed.
  assert.is(node.configs.length, 2, 'started twice: seeding, then read-only');
  const path = /prefix: \/([0-9a-f]{32})\//.exec(node.configs[0]!)?.[1];
  assert.ok(path !== undefined, `the seeding config serves under a random path:\n${node.configs[0]}`);
  assert.not.match(node.configs[1]!, /prefix:/);
  assert.match(node.configs[1]!, /readonly:\n\s+enabled: true/);
  assert.not.ok(`${result.stdout}${result.stderr}`.includes(path!), 'the seeding path is not printed');
  for (const file of ['install.sh', 'bundle.json', 'SHA256SUMS']) assert.not.ok((await readFile(join(context.first, file), 'utf8')).includes(path!));
  const verified = await runKfbundle(['verify', context.first]);
  assert.is(verified.code, 0, 'nothing was written into the bundle');

  // Each blob crossed the wire once: uploaded to one repository, mounted into the others.
  const blobs = await blobLines(context.first);
  assert.is(uploads(node), blobs.length);
  assert.is(mounts(node), blobs.reduce((sum, line) => sum + line[5]!.split(' ').length - 1, 0));
  assert.ok(mounts(node) > 0, 'the images share a base layer');

  // Read-only: a push is refused. Pulls need no credentials: a node with no registry configuration gets every image.
  const refused = await fetch(`http://127.0.0.1:${port}/v2/kfbundle-test/blobs/uploads/`, { method: 'POST' });
  assert.is(refused.status, 405);
  for (const image of metadata.images.filter((entry) => entry.tier !== 'seed')) {
    assert.is(await pullOnNode(env, `127.0.0.1:${port}/${image.bundleRef}`), image.imageId, image.bundleRef);
  }
  // The manifests name the registry on 127.0.0.1, and their workloads came up from it.
  for (const ref of FIRST) {
    const app = double.get('Deployment', 'kubeflow', ref.split('/').at(-1)!.split(':')[0]!)!;
    assert.is(app['spec']['template']['spec']['containers'][0]['image'], `127.0.0.1:${port}/${ref}`);
    // Nothing in the install waits for these (no webhook needs them), so this waits as `kubectl wait` would.
    const name = app['metadata']['name'];
    const deadline = Date.now() + 30_000;
    while (!double.isAvailable(double.get('Deployment', 'kubeflow', name)!) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(double.isAvailable(double.get('Deployment', 'kubeflow', name)!), `${ref} is Available`);
  }
  assert.match(result.stdout, new RegExp(`kubectl delete namespace ${NAMESPACE}`), 'says how to remove it');
});

test('a rerun converges and sends no blob again; a second bundle adds only what is new', async (context) => {
  const { node, env, port } = context;
  const before = uploads(node);
  const rerun = await install(context, context.first);
  assert.is(rerun.code, 0, `${rerun.stdout}\n${rerun.stderr}`);
  assert.is(uploads(node), before, 'no blob sent twice');
  assert.is(node.configs.length, 4);
  assert.match(node.configs[3]!, /readonly:\n\s+enabled: true/);

  const known = new Set((await blobLines(context.first)).map((line) => line[4]));
  const fresh = (await blobLines(context.second)).filter((line) => !known.has(line[4]));
  assert.ok(fresh.length > 0 && fresh.length < (await blobLines(context.second)).length, 'the second bundle shares some blobs');
  const upgraded = await install(context, context.second);
  assert.is(upgraded.code, 0, `${upgraded.stdout}\n${upgraded.stderr}`);
  assert.is(uploads(node) - before, fresh.length, 'only the new blobs');
  const metadata = await metadataOf(context.second);
  const added = metadata.images.find((image) => image.ref.startsWith('ghcr.io/'))!;
  assert.is(await pullOnNode(env, `127.0.0.1:${port}/${added.bundleRef}`), added.imageId);
  // The first bundle's images are still served.
  const kept = (await metadataOf(context.first)).images.find((image) => image.ref.startsWith('docker.io/library/mysql'))!;
  assert.is(await pullOnNode(env, `127.0.0.1:${port}/${kept.bundleRef}`), kept.imageId);
});

test('a bundle of two platforms seeds both: each tag an index of them, the registry run from this node\'s platform', async (context) => {
  const { node, env, port } = context;
  const seeded = await install(context, context.mixed);
  assert.is(node.error, undefined, node.error?.message);
  assert.is(seeded.code, 0, `${seeded.stdout}\n${seeded.stderr}`);
  assert.match(seeded.stdout, /loading images from images\/linux-amd64\/registry\.tar into the Docker engine/);
  assert.not.match(seeded.stdout, /linux-arm64\/registry\.tar/);
  const metadata = await metadataOf(context.mixed);
  const index = metadata.imageIndexes!.find((candidate) => candidate.bundleRef.includes('visualization-server'))!;
  const tagged = await fetch(`http://127.0.0.1:${port}/v2/gcr.io/ml-pipeline/visualization-server/manifests/2.0.5`, { headers: { accept: MEDIA.dockerList } });
  assert.is(tagged.status, 200);
  assert.is(tagged.headers.get('docker-content-digest'), index.digest);
  const listed = (JSON.parse(await tagged.text()) as { manifests: { digest: string; platform: { architecture: string } }[] }).manifests;
  assert.equal(listed.map((entry) => entry.platform.architecture).sort(), ['amd64', 'arm64']);
  for (const entry of listed) {
    const child = await fetch(`http://127.0.0.1:${port}/v2/gcr.io/ml-pipeline/visualization-server/manifests/${entry.digest}`, { method: 'HEAD', headers: { accept: MEDIA.dockerManifest } });
    assert.is(child.status, 200, `the ${entry.platform.architecture} manifest is there`);
  }
  // The amd64 node pulls its own through the tag.
  const amd64 = metadata.images.find((image) => image.ref.includes('visualization-server') && image.forPlatform === 'linux/amd64')!;
  assert.is(await pullOnNode(env, `127.0.0.1:${port}/${amd64.bundleRef}`), amd64.imageId);
  assert.match(node.configs.at(-1)!, /readonly:\n\s+enabled: true/);
});

test('a delta bundle seeds onto the registry its base seeded, sending only its own blobs; without its base it changes nothing', async (context) => {
  const { node, env, port } = context;
  // Two images of the first bundle, and one the registry has never had.
  const fresh = 'gcr.io/ml-pipeline/persistenceagent:2.0.5';
  await pushStandIns(dockerFor(env.builderHost), `${env.registry}/${context.prefix}`, [fresh], { layers: 2 });
  const refs = [FIRST[0]!, FIRST[1]!, fresh];
  const delta = await build(context, 'delta-on-first', refs, ['--since', context.first]);
  const metadata = await metadataOf(delta);
  assert.equal(metadata.base!.taken, [FIRST[0]!, FIRST[1]!].sort(), 'the scheduled workflow controller and frontend are the base\'s');
  const before = uploads(node);
  const seeded = await install(context, delta);
  assert.is(node.error, undefined, node.error?.message);
  assert.is(seeded.code, 0, `${seeded.stdout}\n${seeded.stderr}`);
  // The taken images' configs are there already; the new image's blobs are all that is sent.
  const own = (await blobLines(delta)).filter((line) => line[5]!.split(' ').includes('gcr.io/ml-pipeline/persistenceagent'));
  assert.ok(own.length >= 3);
  assert.is(uploads(node) - before, own.length, 'only the blobs the delta carries that the registry lacks');
  assert.match(seeded.stdout, /\d+ layers of the base bundle .* to find in/);
  for (const image of metadata.images.filter((entry) => entry.tier !== 'seed')) assert.is(await pullOnNode(env, `127.0.0.1:${port}/${image.bundleRef}`), image.imageId, image.bundleRef);
  const configs = node.configs.length;

  // A delta on a base this registry never got (its image is only upstream): refused before the registry is touched.
  const unseen = 'gcr.io/ml-pipeline/metadata-writer:2.0.5';
  await pushStandIns(dockerFor(env.builderHost), `${env.registry}/${context.prefix}`, [unseen], { layers: 2 });
  const never = await build(context, 'never-seeded', [unseen]);
  const orphan = await build(context, 'delta-on-never-seeded', [unseen], ['--since', never]);
  assert.ok((await readFile(join(orphan, 'images/push.txt'), 'utf8')).includes('\nbase\t') || (await readFile(join(orphan, 'images/push.txt'), 'utf8')).startsWith('base\t'));
  const refused = await install(context, orphan);
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, /this is a delta bundle on .*, and the registry at 127\.0\.0\.1:\d+ does not serve \d+ of the base's layers .*seed the base bundle first/, refused.stderr);
  assert.is(node.configs.length, configs, 'the registry was not restarted');
});

test('--registry-storage-class keeps the images on a claim of that class; a class the cluster lacks is reported, not waited for silently', async (context) => {
  const { work, env } = context;
  const double = new ApiServerDouble({ hasImage: (ref) => dockerFor(env.targetHost).getImage(ref).inspect().then(() => true, () => false) });
  await double.start();
  const node = new SeedNode({ double, runtime: { docker: env.targetHost }, dir: join(work.path, 'claim-node'), namespace: NAMESPACE, name: NAME });
  await node.start();
  try {
    const kubeconfig = await writeKubeconfig(work.path, double.url);
    const port = await freeNodePort();
    const claimed = { ...context, kubeconfig, port, node, double };
    const missing = await install(claimed, context.first, ['--registry-storage-class', 'fast-ssd', '--timeout', '3']);
    assert.is.not(missing.code, 0);
    assert.match(missing.stderr, /did not become Available within 3s: check kubectl -n kfbundle-registry describe pod/);
    const claim = double.get('PersistentVolumeClaim', NAMESPACE, NAME)!;
    assert.is(claim['spec']['storageClassName'], 'fast-ssd');
    assert.match(claim['spec']['resources']['requests']['storage'], /^[1-9][0-9]*Gi$/);

    const storageClass = join(work.path, 'storage-class.yaml');
    await writeFile(storageClass, 'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast-ssd}\nprovisioner: kfbundle.test/none\n');
    const applied = await runCommand('kubectl', ['apply', '-f', storageClass], { env: { KUBECONFIG: kubeconfig, HOME: work.path } });
    assert.is(applied.code, 0, applied.stderr);
    const seeded = await install(claimed, context.first, ['--registry-storage-class', 'fast-ssd', '--registry-storage-size', '7Gi', '--images-only']);
    assert.is(seeded.code, 0, `${seeded.stdout}\n${seeded.stderr}`);
    const volumes = double.get('Deployment', NAMESPACE, NAME)!['spec']['template']['spec']['volumes'] as { name: string; persistentVolumeClaim?: { claimName: string } }[];
    assert.is(volumes.find((volume) => volume.name === 'storage')?.persistentVolumeClaim?.claimName, NAME);
    // The claim an earlier run made is kept: a volume cannot shrink, and its data is the registry's.
    assert.is(double.get('PersistentVolumeClaim', NAMESPACE, NAME)!['spec']['resources']['requests']['storage'], claim['spec']['resources']['requests']['storage']);
    assert.match(seeded.stdout, /its images are on volume kfbundle-registry\/kfbundle-registry \(storage class fast-ssd\)/);
    assert.is(double.list('Deployment').filter((deployment) => deployment['metadata']['namespace'] === 'kubeflow').length, 0, '--images-only applies no manifests');
  } finally {
    await node.stop();
    await double.stop();
  }
});

test('on a containerd node: only the registry image goes into k8s.io, and the registry runs from containerd\'s copy', async (context) => {
  const { work, env } = context;
  const ctr = (...args: string[]) => runCommand('ctr', ['--address', env.containerdAddress, '-n', 'k8s.io', ...args], { timeoutMs: 60_000 });
  const seedImage = (await metadataOf(context.first)).images.find((image) => image.tier === 'seed')!;
  const before = (await ctr('images', 'ls', '-q')).stdout.split('\n');
  const port = await freeNodePort();
  const inContainerd = async (ref: string) => (await ctr('images', 'ls', '-q')).stdout.split('\n').includes(ref);
  const double = new ApiServerDouble({
    hasImage: async (ref) => (await inContainerd(ref)) || (ref.startsWith(`127.0.0.1:${port}/`) && (await pullOnNode(env, ref)) !== undefined),
  });
  await double.start();
  const node = new SeedNode({ double, runtime: { containerd: env.containerdAddress }, dir: join(work.path, 'containerd-node'), namespace: NAMESPACE, name: NAME });
  await node.start();
  try {
    const kubeconfig = await writeKubeconfig(work.path, double.url);
    const result = await install({ ...context, kubeconfig, port, node, double }, context.first, ['--runtime', 'containerd', '--images-only'], { CONTAINERD_ADDRESS: env.containerdAddress });
    assert.is(node.error, undefined, node.error?.message);
    assert.is(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /importing images from images\/registry\.tar into containerd \(namespace k8s\.io\)/);
    const after = (await ctr('images', 'ls', '-q')).stdout.split('\n');
    assert.equal(after.filter((ref) => !before.includes(ref)), [seedImage.bundleRef], 'the registry image and nothing else');
    assert.is(node.configs.length, 2);
    const kept = (await metadataOf(context.first)).images.find((image) => image.ref.startsWith('docker.io/library/mysql'))!;
    assert.is(await pullOnNode(env, `127.0.0.1:${port}/${kept.bundleRef}`), kept.imageId);
  } finally {
    await node.stop();
    await double.stop();
    if (!before.includes(seedImage.bundleRef)) await ctr('images', 'rm', '--sync', seedImage.bundleRef);
    const target = dockerFor(env.targetHost);
    for (const image of await target.listImages()) {
      if ((image.RepoTags ?? []).some((tag) => tag.startsWith(`127.0.0.1:${port}/`))) await target.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    }
  }
});

test.run();
