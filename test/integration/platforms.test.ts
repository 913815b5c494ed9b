// A bundle for the nodes' platform, whatever the build machine's: built on this amd64 machine for linux/arm64 from a
// two-platform list in the local registry, it holds the arm64 image (from the registries, and through an engine with
// docker pull --platform); a single-platform amd64 image in it is warned about and recorded; the bundle's installer
// refuses this amd64 node before anything is loaded.

import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import { ApiServerDouble } from '../api-double/api-server-double.js';
import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { QUICK_MS, runCommand, runKfbundle } from '../helpers/cli.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { MEDIA, pushTwoPlatformList } from '../helpers/registry-blobs.js';
import { dockerFor, pushStandIns } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  ns: string;
  manifests: string;
  /** The list's arm64 manifest digest, read from the list as served. */
  arm64Manifest: string;
}

const test = suite<Context>('bundles for a platform');

async function served(url: string, accept: string): Promise<{ bytes: Buffer; digest: string }> {
  const response = await fetch(url, { headers: { accept }, signal: AbortSignal.timeout(30_000) });
  assert.ok(response.ok, `${url}: ${response.status}`);
  return { bytes: Buffer.from(await response.arrayBuffer()), digest: response.headers.get('docker-content-digest')! };
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir('kfb-platform-');
    context.ns = `platform-${process.pid}`;
    const { env, ns } = context;
    const builder = dockerFor(env.builderHost);
    const [source] = await pushStandIns(builder, `${env.registry}/${ns}`, [`gcr.io/${ns}/multi:amd64-source`, `gcr.io/${ns}/single:1`]);
    const repository = `${env.registry}/${ns}/gcr.io/${ns}/multi`;
    const amd64 = await served(`http://${env.registry}/v2/${ns}/gcr.io/${ns}/multi/manifests/amd64-source`, MEDIA.dockerManifest);
    const configDigest = (JSON.parse(amd64.bytes.toString('utf8')) as { config: { digest: string } }).config.digest;
    assert.is(configDigest, source!.imageId);
    await pushTwoPlatformList(repository, '1', { ...amd64, mediaType: MEDIA.dockerManifest, configDigest });
    const list = JSON.parse((await served(`http://${env.registry}/v2/${ns}/gcr.io/${ns}/multi/manifests/1`, MEDIA.dockerList)).bytes.toString('utf8')) as {
      manifests: { digest: string; platform: { architecture: string } }[];
    };
    context.arm64Manifest = list.manifests.find((entry) => entry.platform.architecture === 'arm64')!.digest;
    context.manifests = join(context.work.path, 'rendered.yaml');
    const images = [`gcr.io/${ns}/multi:1`, `gcr.io/${ns}/single:1`];
    await writeFile(context.manifests, images.map((image, index) => deploymentYaml('kubeflow', `app-${index}`, `      - {name: main, image: "${image}"}\n`)).join('---\n'));
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    const target = dockerFor(context.env.targetHost);
    for (const image of await target.listImages()) {
      if ((image.RepoTags ?? []).some((tag) => tag.includes(`/${context.ns}/`))) await target.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    }
    await context.work?.remove();
    await context.env?.release();
  }),
);

function build(context: Context, out: string, extra: string[]) {
  const { env, ns, manifests, work } = context;
  return runKfbundle(['build', '--no-seed-registry', '--manifests', manifests, '--out', out, '--cache', join(work.path, 'cache'), '--no-progress', '--mirror', `gcr.io=${env.registry}/${ns}/gcr.io`, ...extra]);
}

const metadataOf = async (bundle: string) => JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleMetadata;

test('--platform linux/arm64 on an amd64 machine: the arm64 image from the list, the single-platform one warned about', async (context) => {
  const out = join(context.work.path, 'arm64');
  const built = await build(context, out, ['--platform', 'linux/arm64']);
  assert.is(built.code, 0, built.stderr);
  const metadata = await metadataOf(out);
  assert.is(metadata.platform, 'linux/arm64');
  const multi = metadata.images.find((image) => image.ref.endsWith('/multi:1'))!;
  assert.is(multi.platform, 'linux/arm64');
  assert.is(multi.manifestDigest, context.arm64Manifest);
  const single = metadata.images.find((image) => image.ref.endsWith('/single:1'))!;
  assert.is(single.platform, 'linux/amd64', 'the single-platform image is recorded as what it is');
  assert.match(built.stderr, new RegExp(`gcr\\.io/${context.ns}/single:1 is a linux/amd64 image only, in a bundle for linux/arm64`));

  const inspected = await runKfbundle(['inspect', out]);
  assert.match(inspected.stdout, /platform   linux\/arm64: install\.sh loads it only on nodes of this architecture/);
  assert.match(inspected.stdout, new RegExp(`but gcr\\.io/${context.ns}/single:1 is linux/amd64 only`));

  // The installer of this bundle refuses this amd64 node before loading anything.
  const target = dockerFor(context.env.targetHost);
  const refused = await runCommand('bash', [join(out, 'install.sh'), '--images-only', '--runtime', 'docker'], { env: { DOCKER_HOST: context.env.targetHost }, timeoutMs: QUICK_MS });
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, /this bundle holds linux\/arm64 images and this node is linux\/amd64 \(uname -m: x86_64\)/);
  assert.not.ok(await target.getImage(multi.bundleRef).inspect().then(() => true, () => false), 'nothing was loaded');

  // Loaded by hand, the archive is the arm64 image: its config says so.
  const loaded = await runCommand('docker', ['--host', context.env.targetHost, 'load', '-i', join(out, 'images/images.tar')]);
  assert.is(loaded.code, 0, loaded.stderr);
  const info = await target.getImage(multi.bundleRef).inspect();
  assert.is(info.Architecture, 'arm64');
  assert.is(info.Id, multi.imageId);
});

test('pushed to a registry from this amd64 node, the arm64 bundle goes, with a warning naming the cluster\'s amd64 nodes', async (context) => {
  const out = join(context.work.path, 'arm64');
  const double = new ApiServerDouble({ hasImage: async () => true, nodes: ['amd64-node'] });
  await double.start();
  try {
    const kubeconfig = await writeKubeconfig(context.work.path, double.url);
    const registry = `${context.env.secondRegistry}/${context.ns}-pushed`;
    const pushed = await runCommand('bash', [join(out, 'install.sh'), '--images-only', '--registry', registry, '--push-with', 'http'], { env: { KUBECONFIG: kubeconfig, HOME: context.work.path } });
    assert.is(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /the bundle's images are for linux\/arm64, but these nodes are not: amd64-node \(amd64\)/);
    const multi = (await metadataOf(out)).images.find((image) => image.ref.endsWith('/multi:1'))!;
    const tag = multi.bundleRef.slice(multi.bundleRef.lastIndexOf(':') + 1);
    const repository = multi.bundleRef.slice(0, multi.bundleRef.lastIndexOf(':'));
    const { digest } = await served(`http://${context.env.secondRegistry}/v2/${context.ns}-pushed/${repository}/manifests/${tag}`, MEDIA.dockerManifest);
    assert.is(digest, context.arm64Manifest, 'the registry serves the arm64 manifest');
  } finally {
    await double.stop();
  }
});

test('the default is this machine\'s platform, and one platform a bundle', async (context) => {
  const out = join(context.work.path, 'default');
  const built = await build(context, out, []);
  assert.is(built.code, 0, built.stderr);
  const metadata = await metadataOf(out);
  assert.is(metadata.platform, 'linux/amd64');
  assert.is(metadata.images.find((image) => image.ref.endsWith('/multi:1'))!.platform, 'linux/amd64');
  assert.not.match(built.stderr, /image only, in a bundle for/);

  const two = await build(context, join(context.work.path, 'two'), ['--platform', 'linux/amd64,linux/arm64']);
  assert.is(two.code, 2);
  assert.match(two.stderr, /a bundle holds the images of one platform/);
  const bad = await build(context, join(context.work.path, 'bad'), ['--platform', 'arm64']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /invalid platform "arm64"/);
});

test('through an engine too: docker pull --platform linux/arm64 of the list', async (context) => {
  const out = join(context.work.path, 'engine-arm64');
  const built = await build(context, out, ['--platform', 'linux/arm64', '--source', 'engine', '--docker-host', context.env.builderHost]);
  assert.is(built.code, 0, built.stderr);
  const metadata = await metadataOf(out);
  assert.is(metadata.platform, 'linux/arm64');
  assert.is(metadata.images.find((image) => image.ref.endsWith('/multi:1'))!.platform, 'linux/arm64');
  assert.match(built.stderr, /single:1 is a linux\/amd64 image only/);
});

test('images --platform asks the registries before any build: the list offers arm64, the single-platform image does not', async (context) => {
  const { env, ns, manifests, work } = context;
  const args = (platform: string) => ['images', '--manifests', manifests, '--platform', platform, '--mirror', `gcr.io=${env.registry}/${ns}/gcr.io`, '--cache', join(work.path, 'cache')];
  const arm = await runKfbundle(args('linux/arm64'));
  assert.is(arm.code, 5, arm.stderr);
  assert.match(arm.stdout, new RegExp(`gcr\\.io/${ns}/multi:1\tinstall\tlinux/arm64 offered`));
  assert.match(arm.stdout, new RegExp(`gcr\\.io/${ns}/single:1\tinstall\tlinux/amd64 only`));
  assert.match(arm.stderr, new RegExp(`1 of 2 bundled images do not offer linux/arm64: gcr\\.io/${ns}/single:1`));

  const s390x = JSON.parse((await runKfbundle([...args('linux/s390x'), '--json'])).stdout) as { images: { ref: string; platform: { status: string; message?: string } }[] };
  const multi = s390x.images.find((image) => image.ref.endsWith('/multi:1'))!;
  assert.is(multi.platform.status, 'not-offered');
  assert.match(multi.platform.message!, /has no linux\/s390x image \(it offers linux\/arm64, linux\/amd64\)/);

  const amd = await runKfbundle(args('linux/amd64'));
  assert.is(amd.code, 0, amd.stderr);
  assert.match(amd.stderr, /every bundled image offers linux\/amd64/);
});

test.run();
