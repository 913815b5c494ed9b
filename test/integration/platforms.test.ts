// A bundle for the nodes' platform, whatever the build machine's: built on this amd64 machine for linux/arm64 from a
// two-platform list in the local registry, it holds the arm64 image (from the registries, and through an engine with
// docker pull --platform); a single-platform amd64 image in it is warned about and recorded; the bundle's installer
// refuses this amd64 node before anything is loaded. A bundle of two platforms (split into parts) holds a directory per
// platform: this node loads its own, the other loads alone too; pushed to a registry, each tag names an index of both
// (the upstream list when it lists no more, else one composed of the two) and an engine pulls either platform; a
// bundle without this node's architecture is refused before loading.

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
  /** multi:1, wide:1 (a list of amd64, arm64 and s390x) and single:1: for bundles of several platforms. */
  mixed: string;
  /** wide:1 and single:1 only: a bundle of arm64 and s390x from them has nothing for this amd64 node. */
  foreign: string;
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
    const [source, , wideSource] = await pushStandIns(builder, `${env.registry}/${ns}`, [`gcr.io/${ns}/multi:amd64-source`, `gcr.io/${ns}/single:1`, `gcr.io/${ns}/wide:amd64-source`]);
    const repository = `${env.registry}/${ns}/gcr.io/${ns}/multi`;
    const amd64 = await served(`http://${env.registry}/v2/${ns}/gcr.io/${ns}/multi/manifests/amd64-source`, MEDIA.dockerManifest);
    const configDigest = (JSON.parse(amd64.bytes.toString('utf8')) as { config: { digest: string } }).config.digest;
    assert.is(configDigest, source!.imageId);
    await pushTwoPlatformList(repository, '1', { ...amd64, mediaType: MEDIA.dockerManifest, configDigest });
    const list = JSON.parse((await served(`http://${env.registry}/v2/${ns}/gcr.io/${ns}/multi/manifests/1`, MEDIA.dockerList)).bytes.toString('utf8')) as {
      manifests: { digest: string; platform: { architecture: string } }[];
    };
    context.arm64Manifest = list.manifests.find((entry) => entry.platform.architecture === 'arm64')!.digest;
    const wide = await served(`http://${env.registry}/v2/${ns}/gcr.io/${ns}/wide/manifests/amd64-source`, MEDIA.dockerManifest);
    await pushTwoPlatformList(`${env.registry}/${ns}/gcr.io/${ns}/wide`, '1', { ...wide, mediaType: MEDIA.dockerManifest, configDigest: wideSource!.imageId }, ['s390x']);
    const write = async (name: string, images: readonly string[]) => {
      const path = join(context.work.path, name);
      await writeFile(path, images.map((image, index) => deploymentYaml('kubeflow', `app-${index}`, `      - {name: main, image: "${image}"}\n`)).join('---\n'));
      return path;
    };
    context.manifests = await write('rendered.yaml', [`gcr.io/${ns}/multi:1`, `gcr.io/${ns}/single:1`]);
    context.mixed = await write('mixed.yaml', [`gcr.io/${ns}/multi:1`, `gcr.io/${ns}/wide:1`, `gcr.io/${ns}/single:1`]);
    context.foreign = await write('foreign.yaml', [`gcr.io/${ns}/wide:1`, `gcr.io/${ns}/single:1`]);
  }),
);

/** Removes from the target engine every image a test of this file loaded there. */
async function clearTarget(context: Context): Promise<void> {
  const target = dockerFor(context.env.targetHost);
  for (const image of await target.listImages()) {
    if ((image.RepoTags ?? []).some((tag) => tag.includes(`/${context.ns}/`))) await target.getImage(image.Id).remove({ force: true }).catch(() => undefined);
  }
}

test.after(
  loudHook('teardown', async (context) => {
    if (context.env !== undefined) await clearTarget(context);
    await context.work?.remove();
    await context.env?.release();
  }),
);

function build(context: Context, out: string, extra: string[], manifests = context.manifests) {
  const { env, ns, work } = context;
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

test('the default is this machine\'s platform', async (context) => {
  const out = join(context.work.path, 'default');
  const built = await build(context, out, []);
  assert.is(built.code, 0, built.stderr);
  const metadata = await metadataOf(out);
  assert.is(metadata.platform, 'linux/amd64');
  assert.is(metadata.images.find((image) => image.ref.endsWith('/multi:1'))!.platform, 'linux/amd64');
  assert.not.match(built.stderr, /image only, in a bundle for/);

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
  // Several at once: an answer per platform, a column each.
  const both = await runKfbundle(args('linux/amd64,linux/arm64'));
  assert.is(both.code, 5, both.stderr);
  assert.match(both.stdout, new RegExp(`gcr\\.io/${ns}/multi:1\tinstall\tlinux/amd64 offered\tlinux/arm64 offered`));
  assert.match(both.stdout, new RegExp(`gcr\\.io/${ns}/single:1\tinstall\tlinux/amd64 offered\tlinux/amd64 only`));
  assert.match(both.stderr, /every bundled image offers linux\/amd64/);
  assert.match(both.stderr, new RegExp(`1 of 2 bundled images do not offer linux/arm64: gcr\\.io/${ns}/single:1`));
  const json = JSON.parse((await runKfbundle([...args('linux/amd64,linux/arm64'), '--json'])).stdout) as { images: { ref: string; platforms: { for: string; status: string }[] }[] };
  assert.equal(json.images.find((image) => image.ref.endsWith('/single:1'))!.platforms.map((answer) => `${answer.for} ${answer.status}`), ['linux/amd64 offered', 'linux/arm64 other-platform']);
});

const indexOf = async (url: string) => {
  const { bytes, digest } = await served(url, `${MEDIA.dockerList}, ${MEDIA.dockerManifest}`);
  return { digest, json: JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: { digest: string; platform: { architecture: string } }[] } };
};

test('--platform linux/amd64,linux/arm64: one directory per platform, an index per image, each part loadable alone', async (context) => {
  const out = join(context.work.path, 'mixed');
  // Split too: each platform's archive in parts, as for a FAT32 disk.
  const built = await build(context, out, ['--platform', 'linux/amd64,linux/arm64', '--split-size', '400Ki'], context.mixed);
  assert.is(built.code, 0, built.stderr);
  // The estimate comes before any pull of its platform, from the manifests alone.
  for (const platform of ['linux/amd64', 'linux/arm64']) {
    const estimate = built.stderr.indexOf(`estimate for ${platform}: `);
    assert.ok(estimate >= 0, built.stderr);
    assert.ok(estimate < built.stderr.indexOf(`pull: 3 images for ${platform}`), 'the estimate precedes the pulls');
    assert.match(built.stderr.slice(estimate), /^estimate for linux\/(amd|arm)64: [0-9.]+ (B|KiB|MiB|GiB) to fetch for 3 images/);
  }
  assert.match(built.stderr, new RegExp(`gcr\\.io/${context.ns}/single:1 is a linux/amd64 image only, in a bundle with images for linux/arm64`));

  const metadata = await metadataOf(out);
  assert.is(metadata.formatVersion, 3);
  assert.equal(metadata.platforms, ['linux/amd64', 'linux/arm64']);
  assert.is(metadata.platform, undefined);
  assert.equal([...new Set(metadata.imageArchives.map((archive) => archive.path.split('/').slice(0, 2).join('/')))], ['images/linux-amd64', 'images/linux-arm64']);
  const entry = (name: string, platform: string) => metadata.images.find((image) => image.ref.endsWith(`/${name}:1`) && image.forPlatform === platform)!;
  assert.is(entry('multi', 'linux/arm64').manifestDigest, context.arm64Manifest);
  assert.is(entry('multi', 'linux/arm64').platform, 'linux/arm64');
  assert.is.not(entry('multi', 'linux/amd64').imageId, entry('multi', 'linux/arm64').imageId);
  assert.is(entry('single', 'linux/arm64').manifestDigest, entry('single', 'linux/amd64').manifestDigest);
  const indexes = metadata.imageIndexes!;
  const multiIndex = indexes.find((index) => index.bundleRef.includes('/multi:'))!;
  assert.is(multiIndex.composed, false, 'the upstream list lists only the bundle\'s platforms: kept');
  assert.is(multiIndex.digest, entry('multi', 'linux/amd64').digest);
  const wideIndex = indexes.find((index) => index.bundleRef.includes('/wide:'))!;
  assert.is(wideIndex.composed, true, 'the upstream list has s390x too');
  assert.equal(wideIndex.platforms, ['linux/arm64', 'linux/amd64']);
  assert.is.not(wideIndex.digest, entry('wide', 'linux/amd64').digest);
  assert.is((await runKfbundle(['verify', out])).code, 0);
  const inspected = await runKfbundle(['inspect', out]);
  assert.match(inspected.stdout, /platforms  linux\/amd64, linux\/arm64: install\.sh loads on each node its architecture's images/);
  assert.match(inspected.stdout, /linux\/arm64 +3 images .* under images\/linux-arm64\//);
  assert.match(inspected.stdout, /indexes    1 kept as upstream serves them, 1 composed/);

  // This amd64 node loads the amd64 directory, and only it.
  const target = dockerFor(context.env.targetHost);
  const loaded = await runCommand('bash', [join(out, 'install.sh'), '--images-only', '--runtime', 'docker'], { env: { DOCKER_HOST: context.env.targetHost } });
  assert.is(loaded.code, 0, loaded.stderr);
  assert.match(loaded.stdout, /this node is linux\/amd64: loading the images in images\/linux-amd64/);
  assert.not.match(loaded.stdout, /images\/linux-arm64/);
  for (const name of ['multi', 'wide', 'single']) {
    const info = await target.getImage(entry(name, 'linux/amd64').bundleRef).inspect();
    assert.is(info.Architecture, 'amd64', name);
    assert.is(info.Id, entry(name, 'linux/amd64').imageId, name);
  }
  // The arm64 directory loads on its own too (on an arm64 node install.sh would pick it), its parts concatenated.
  const armArchive = metadata.imageArchives.find((a) => a.platform === 'linux/arm64')!;
  assert.ok(armArchive.parts.length > 1 && armArchive.parts.every((part) => part.startsWith('images/linux-arm64/images.tar.')), armArchive.parts.join(' '));
  const arm = await runCommand('bash', ['-c', 'cat "$@" | docker load', 'load', ...armArchive.parts.map((part) => join(out, part))], { env: { DOCKER_HOST: context.env.targetHost } });
  assert.is(arm.code, 0, arm.stderr);
  assert.is((await target.getImage(entry('multi', 'linux/arm64').bundleRef).inspect()).Architecture, 'arm64');
});

test('on a containerd node the two-platform bundle imports the amd64 directory into k8s.io, upstream digests kept', async (context) => {
  const out = join(context.work.path, 'mixed');
  const metadata = await metadataOf(out);
  const ctr = (...args: string[]) => runCommand('ctr', ['--address', context.env.containerdAddress, '-n', 'k8s.io', ...args], { timeoutMs: 60_000 });
  const refs = [...new Set(metadata.images.map((image) => image.bundleRef))];
  try {
    const imported = await runCommand('bash', [join(out, 'install.sh'), '--images-only', '--runtime', 'containerd'], { env: { CONTAINERD_ADDRESS: context.env.containerdAddress } });
    assert.is(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /importing images from images\/linux-amd64\/images\.tar into containerd \(namespace k8s\.io\)/);
    assert.not.match(imported.stdout, /linux-arm64/);
    const listed = (await ctr('images', 'ls')).stdout.split('\n');
    for (const image of metadata.images.filter((entry) => entry.forPlatform === 'linux/amd64')) {
      const line = listed.find((row) => row.startsWith(`${image.bundleRef} `));
      assert.ok(line !== undefined, `${image.bundleRef} in k8s.io`);
      // containerd keeps what the reference named upstream: the list's digest, or the one manifest.
      assert.ok(line!.includes(image.digest!), `${image.bundleRef}: ${line}`);
    }
  } finally {
    await ctr('images', 'rm', '--sync', ...refs);
  }
});

test('pushed to a registry, a two-platform bundle serves an index of both under each tag, every platform pullable', async (context) => {
  const out = join(context.work.path, 'mixed');
  const metadata = await metadataOf(out);
  const registry = `${context.env.secondRegistry}/${context.ns}-mixed`;
  const refused = await runCommand('bash', [join(out, 'install.sh'), '--images-only', '--registry', registry, '--push-with', 'ctr'], { timeoutMs: QUICK_MS });
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, /--push-with ctr pushes the images of one platform, and this bundle holds linux\/amd64, linux\/arm64/);

  const pushed = await runCommand('bash', [join(out, 'install.sh'), '--images-only', '--registry', registry], { env: { HOME: context.work.path } });
  assert.is(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stdout, /every platform is pushed with curl/);
  const url = (bundleRef: string, reference?: string) => {
    const at = bundleRef.lastIndexOf(':');
    return `http://${registry.replace(/^([^/]+)\//, '$1/v2/')}/${bundleRef.slice(0, at)}/manifests/${reference ?? bundleRef.slice(at + 1)}`;
  };
  const entries = (name: string) => metadata.images.filter((image) => image.ref.endsWith(`/${name}:1`));
  for (const name of ['multi', 'wide']) {
    const index = metadata.imageIndexes!.find((candidate) => candidate.bundleRef.includes(`/${name}:`))!;
    const servedIndex = await indexOf(url(index.bundleRef));
    assert.is(servedIndex.digest, index.digest, `${name}: the tag names the bundle's index`);
    assert.equal(servedIndex.json.manifests!.map((m) => m.platform.architecture).sort(), ['amd64', 'arm64'], name);
    for (const image of entries(name)) {
      const child = await indexOf(url(image.bundleRef, image.manifestDigest));
      assert.is(child.digest, image.manifestDigest, `${name} ${image.forPlatform}`);
    }
  }
  const single = entries('single')[0]!;
  assert.is((await indexOf(url(single.bundleRef))).digest, single.manifestDigest, 'one manifest for both: under the tag as it is');
  assert.match(pushed.stdout, /1 images name an index upstream that lists more platforms than the bundle's/);

  // An unconfigured engine pulls its own platform's image through the tag, and the other's when it asks.
  const target = dockerFor(context.env.targetHost);
  for (const [platform, architecture] of [['linux/arm64', 'arm64'], ['linux/amd64', 'amd64']] as const) {
    const wide = entries('wide').find((image) => image.forPlatform === platform)!;
    const pulled = await runCommand('docker', ['--host', context.env.targetHost, 'pull', '--platform', platform, `${registry}/${wide.bundleRef}`]);
    assert.is(pulled.code, 0, pulled.stderr);
    const info = await target.getImage(`${registry}/${wide.bundleRef}`).inspect();
    assert.is(info.Architecture, architecture);
    assert.is(info.Id, wide.imageId);
  }
});

test('a bundle of platforms this node is not is refused before loading; a platform an image lacks fails the build', async (context) => {
  const out = join(context.work.path, 'foreign');
  const built = await build(context, out, ['--platform', 'linux/arm64,linux/s390x'], context.foreign);
  assert.is(built.code, 0, built.stderr);
  const metadata = await metadataOf(out);
  const target = dockerFor(context.env.targetHost);
  await clearTarget(context);
  const refused = await runCommand('bash', [join(out, 'install.sh'), '--images-only', '--runtime', 'docker'], { env: { DOCKER_HOST: context.env.targetHost }, timeoutMs: QUICK_MS });
  assert.is.not(refused.code, 0);
  // The preflight finds it, before anything is loaded.
  assert.match(refused.stdout, /fail  disk: this bundle holds images for linux\/arm64, linux\/s390x and this node is linux\/amd64 \(uname -m: x86_64\): none of them runs here/);
  assert.match(refused.stderr, 'preflight failed (disk): nothing was loaded or applied');
  const wide = metadata.images.find((image) => image.ref.endsWith('/wide:1'))!;
  assert.not.ok(await target.getImage(wide.bundleRef).inspect().then(() => true, () => false), 'nothing was loaded');

  const lacking = await build(context, join(context.work.path, 'lacking'), ['--platform', 'linux/amd64,linux/s390x'], context.mixed);
  assert.is.not(lacking.code, 0);
  assert.match(lacking.stderr, new RegExp(`gcr\\.io/${context.ns}/multi:1 has no linux/s390x image \\(it offers linux/arm64, linux/amd64\\)`));
  const twice = await build(context, join(context.work.path, 'twice'), ['--platform', 'linux/arm64,linux/arm64/v8']);
  assert.is(twice.code, 2);
  assert.match(twice.stderr, /names linux\/arm64\/v8 twice/);
  const engine = await build(context, join(context.work.path, 'engine-two'), ['--platform', 'linux/amd64,linux/arm64', '--source', 'engine', '--docker-host', context.env.builderHost]);
  assert.is(engine.code, 2);
  assert.match(engine.stderr, /a bundle of several platforms is built from registries/);
});

test.run();
