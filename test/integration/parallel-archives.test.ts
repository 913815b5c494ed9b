// Several image archives from the registry source (`build --archives N`): images that share a layer stay in one
// archive, no blob is in two, each archive loads on its own, and install.sh loads them at once into a real Docker
// engine and into containerd, with the image IDs and upstream digests a pull gives; a failed load names its archives.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { create as createTar, Parser, type ReadEntry } from 'tar';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import { PullStatusSink } from '../../src/io/pull-progress-parser.js';
import { runCommand, runKfbundle } from '../helpers/cli.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { dockerFor, pushImage } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

interface Pushed {
  /** As the manifests name it. */
  ref: string;
  pushedAs: string;
  digest: string;
  imageId: string;
}

interface Context {
  env: TestEnv;
  dir: Awaited<ReturnType<typeof makeTempDir>>;
  manifests: string;
  images: Pushed[];
  bundle: string;
  metadata: BundleMetadata;
}

const test = suite<Context>('parallel image archives');
const INSTALL_MS = 180_000;

// Two images on one base, and two that share nothing: three groups of images that share no blob.
const BASE = 'gcr.io/kfb-parallel/base:1';
const FAMILY = ['gcr.io/kfb-parallel/web:1', 'gcr.io/kfb-parallel/worker:1'];
const LONE = ['ghcr.io/kfb-parallel/solo:1', 'ghcr.io/kfb-parallel/other:2'];

async function drain(stream: Readable): Promise<void> {
  const sink = new PullStatusSink(() => undefined);
  await pipeline(stream, sink);
  if (sink.error !== undefined) throw new Error(sink.error);
}

/** A one-layer image of busybox and a file of its own, made with `docker import`: it shares no layer with another. */
async function importImage(docker: ReturnType<typeof dockerFor>, tag: string, dir: string): Promise<void> {
  const root = join(dir, tag.replace(/[^a-z0-9]/g, '-'));
  await mkdir(join(root, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  await writeFile(join(root, 'own'), `${tag}\n`.repeat(20_000));
  const tarball = createTar({ cwd: root, portable: true, mtime: new Date(0) }, ['bin', 'own']) as unknown as Readable;
  const [repo, version] = [tag.slice(0, tag.lastIndexOf(':')), tag.slice(tag.lastIndexOf(':') + 1)];
  await drain((await docker.importImage(tarball as never, { repo, tag: version, changes: ['CMD ["/bin/busybox", "true"]'] } as never)) as unknown as Readable);
}

/** An image FROM `base` with one layer of its own. */
async function buildOnBase(docker: ReturnType<typeof dockerFor>, tag: string, base: string, dir: string): Promise<void> {
  const context = join(dir, tag.replace(/[^a-z0-9]/g, '-'));
  await mkdir(context, { recursive: true });
  await writeFile(join(context, 'own'), `${tag}\n`.repeat(30_000));
  await writeFile(join(context, 'Dockerfile'), `FROM ${base}\nCOPY own /own\n`);
  const tarball = createTar({ cwd: context, portable: true }, ['Dockerfile', 'own']) as unknown as Readable;
  await drain((await docker.buildImage(tarball, { t: tag, rm: true })) as unknown as Readable);
}

const pushedName = (env: TestEnv, ref: string) => `${env.registry}/${ref}`;

test.before(
  loudHook('parallel archives setup', async (context) => {
    context.env = await useTestEnv();
    context.dir = await makeTempDir('kfb-parallel-');
    const builder = dockerFor(context.env.builderHost);
    const work = context.dir.path;
    await importImage(builder, pushedName(context.env, BASE), work);
    for (const ref of FAMILY) await buildOnBase(builder, pushedName(context.env, ref), pushedName(context.env, BASE), work);
    for (const ref of LONE) await importImage(builder, pushedName(context.env, ref), work);
    context.images = [];
    for (const ref of [...FAMILY, ...LONE]) {
      const pushedAs = pushedName(context.env, ref);
      const digest = await pushImage(builder, pushedAs);
      const imageId = (await builder.getImage(pushedAs).inspect()).Id;
      context.images.push({ ref, pushedAs, digest, imageId });
    }
    for (const name of [BASE, ...FAMILY, ...LONE]) await builder.getImage(pushedName(context.env, name)).remove({ force: true }).catch(() => {});
    context.manifests = join(work, 'rendered.yaml');
    await writeFile(context.manifests, context.images.map((image, index) => deploymentYaml('kubeflow', `app-${index}`, `      - {name: main, image: "${image.ref}"}\n`)).join('---\n'));

    context.bundle = join(work, 'bundle');
    const built = await build(context, context.bundle, ['--archives', '3']);
    context.metadata = built;
  }),
);

test.after(async (context) => {
  await removeFromTarget(context);
  await context.dir?.remove();
  await context.env?.release();
});

const mirrors = (env: TestEnv) => ['--mirror', `gcr.io=${env.registry}/gcr.io`, '--mirror', `ghcr.io=${env.registry}/ghcr.io`];

async function build(context: Context, out: string, extra: string[]): Promise<BundleMetadata> {
  const result = await runKfbundle(['build', '--manifests', context.manifests, '--out', out, '--cache', join(context.dir.path, 'cache'), '--json', '--no-progress', ...mirrors(context.env), ...extra], {
    env: { DOCKER_HOST: `unix://${join(context.dir.path, 'no-engine.sock')}` },
  });
  assert.is(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { metadata: BundleMetadata }).metadata;
}

async function removeFromTarget(context: Context): Promise<void> {
  const target = dockerFor(context.env.targetHost);
  for (const image of context.images ?? []) await target.getImage(image.ref).remove({ force: true }).catch(() => {});
  const refs = (context.images ?? []).map((image) => image.ref);
  if (refs.length > 0) await runCommand('ctr', ['--address', context.env.containerdAddress, '-n', 'k8s.io', 'images', 'rm', ...refs]);
}

/** Blob names of a tar archive's entries. */
async function blobsIn(file: string): Promise<string[]> {
  const names: string[] = [];
  const parser = new Parser({
    onReadEntry: (entry: ReadEntry) => {
      if (entry.path.startsWith('blobs/')) names.push(entry.path);
      entry.resume();
    },
  });
  await pipeline(createReadStream(file), parser);
  return names;
}

const short = (ref: string) => ref.replace(/^[^/]+\/kfb-parallel\//, '');

test('images that share a layer are in one archive, no blob is in two, and archives.txt lists them largest first', async (context) => {
  const { metadata, bundle } = context;
  assert.is(metadata.imageArchives.length, 3);
  assert.equal(metadata.imageArchives.map((archive) => archive.path), ['images/images-1.tar', 'images/images-2.tar', 'images/images-3.tar']);
  assert.is(await readFile(join(bundle, 'images/archives.txt'), 'utf8'), 'images/images-1.tar\nimages/images-2.tar\nimages/images-3.tar\n');
  assert.equal(metadata.imageArchives[0]!.refs.map(short), ['web:1', 'worker:1'], 'the family on one base, the largest, first');
  assert.equal(metadata.imageArchives.slice(1).map((archive) => archive.refs.map(short)).sort(), [['other:2'], ['solo:1']]);
  const sizes = metadata.imageArchives.map((archive) => archive.size);
  assert.equal([...sizes].sort((a, b) => b - a), sizes);

  const seen = new Map<string, string>();
  for (const archive of metadata.imageArchives) {
    const file = join(bundle, archive.path);
    const digest = createHash('sha256').update(await readFile(file)).digest('hex');
    assert.is(digest, archive.sha256, `${archive.path} as bundle.json says`);
    for (const blob of await blobsIn(file)) {
      assert.not.ok(seen.has(blob), `${blob} is in ${seen.get(blob)} and ${archive.path}`);
      seen.set(blob, archive.path);
    }
  }
  assert.is((await runKfbundle(['verify', bundle])).code, 0);
  const inspect = await runKfbundle(['inspect', bundle]);
  assert.match(inspect.stdout, /in 3 archives that install\.sh loads at once/);
});

test('each archive loads on its own: docker load of one gives its images, with the IDs a pull gives', async (context) => {
  const target = dockerFor(context.env.targetHost);
  await removeFromTarget(context);
  const last = context.metadata.imageArchives[2]!;
  const loaded = await runCommand('docker', ['-H', context.env.targetHost, 'load', '-i', join(context.bundle, last.path)], { timeoutMs: INSTALL_MS });
  assert.is(loaded.code, 0, loaded.stderr);
  for (const image of context.images) {
    const present = await target.getImage(image.ref).inspect().then((info) => info.Id, () => undefined);
    assert.is(present, last.refs.includes(image.ref) ? image.imageId : undefined, image.ref);
  }
  await removeFromTarget(context);
});

test('install.sh loads the archives at once into Docker: every image, with the IDs a pull gives', async (context) => {
  await removeFromTarget(context);
  const installed = await runCommand('bash', [join(context.bundle, 'install.sh'), '--images-only', '--runtime', 'docker', '--parallel', '3'], {
    env: { DOCKER_HOST: context.env.targetHost },
    timeoutMs: INSTALL_MS,
  });
  assert.is(installed.code, 0, installed.stderr);
  assert.match(installed.stdout, '3 image archives, 3 at a time');
  for (const archive of context.metadata.imageArchives) assert.match(installed.stdout, `loading images from ${archive.path} into the Docker engine`);
  assert.match(installed.stdout, 'all 4 images present in docker');
  const target = dockerFor(context.env.targetHost);
  for (const image of context.images) assert.is((await target.getImage(image.ref).inspect()).Id, image.imageId, image.ref);
  await removeFromTarget(context);
});

test('install.sh imports the archives at once into containerd, keeping the digests the registry serves', async (context) => {
  await removeFromTarget(context);
  const installed = await runCommand('bash', [join(context.bundle, 'install.sh'), '--images-only', '--runtime', 'containerd'], {
    env: { CONTAINERD_ADDRESS: context.env.containerdAddress },
    timeoutMs: INSTALL_MS,
  });
  assert.is(installed.code, 0, installed.stderr);
  assert.match(installed.stdout, /3 image archives, [23] at a time/);
  const listed = await runCommand('ctr', ['--address', context.env.containerdAddress, '-n', 'k8s.io', 'images', 'ls']);
  const digests = new Map(listed.stdout.trim().split('\n').slice(1).map((line) => line.split(/\s+/)).map(([name, , digest]) => [name!, digest!]));
  for (const image of context.images) assert.is(digests.get(image.ref), image.digest, image.ref);
  await removeFromTarget(context);
});

test('split into parts, one archive at a time: each archive is its own parts, streamed in order', async (context) => {
  const out = join(context.dir.path, 'split');
  const metadata = await build(context, out, ['--archives', '3', '--split-size', '256Ki']);
  const parts = metadata.imageArchives.map((archive) => archive.parts);
  assert.ok(parts[0]!.length >= 2, `parts: ${parts[0]!.join(', ')}`);
  for (const [index, archive] of metadata.imageArchives.entries()) {
    assert.ok(archive.parts.every((part) => part.startsWith(`${archive.path}.`)), archive.parts.join(', '));
    assert.is(archive.sha256, context.metadata.imageArchives[index]!.sha256, `${archive.path}: the same bytes as unsplit`);
  }
  assert.not.ok((await readdir(join(out, 'images'))).some((name) => name.endsWith('.tar')), 'no whole archive beside the parts');
  await removeFromTarget(context);
  const installed = await runCommand('bash', [join(out, 'install.sh'), '--images-only', '--runtime', 'docker'], { env: { DOCKER_HOST: context.env.targetHost }, timeoutMs: INSTALL_MS });
  assert.is(installed.code, 0, installed.stderr);
  assert.match(installed.stdout, `images/images-1.tar is in ${parts[0]!.length} parts, streamed in order`);
  assert.match(installed.stdout, 'all 4 images present in docker');
  await removeFromTarget(context);
});

test('a load that fails names every archive it failed for, and install.sh exits non-zero', async (context) => {
  const installed = await runCommand('bash', [join(context.bundle, 'install.sh'), '--images-only', '--runtime', 'docker'], {
    env: { DOCKER_HOST: `unix://${join(context.dir.path, 'nobody.sock')}` },
    timeoutMs: INSTALL_MS,
  });
  assert.is.not(installed.code, 0);
  assert.match(installed.stderr, 'docker load failed for images/images-1.tar images/images-2.tar images/images-3.tar');
});

test('--archives 1 writes one images.tar of every image; the default keeps a small bundle whole; the engine source takes none above 1', async (context) => {
  const one = await build(context, join(context.dir.path, 'one'), ['--archives', '1']);
  assert.equal(one.imageArchives.map((archive) => [archive.path, archive.refs.length]), [['images/images.tar', 4]]);
  const auto = await build(context, join(context.dir.path, 'auto'), []);
  assert.equal(auto.imageArchives.map((archive) => archive.path), ['images/images.tar']);
  const engine = await runKfbundle(['build', '--manifests', context.manifests, '--out', join(context.dir.path, 'engine'), '--source', 'engine', '--archives', '2']);
  assert.is(engine.code, 2, engine.stderr);
  assert.match(engine.stderr, '--archives above 1 is for the registry source');
  const many = await runKfbundle(['build', '--manifests', context.manifests, '--out', join(context.dir.path, 'many'), '--archives', '10']);
  assert.is(many.code, 2, many.stderr);
  assert.match(many.stderr, '--archives 10 is more than 9');
});

test.run();
