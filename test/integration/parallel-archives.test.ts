// Several image archives from the registry source (`build --archives N`), in two stages: the shared base once in
// stage 1 with one image on it, the other image on it in stage 2 without it; no blob is in two archives; install.sh
// loads each stage's archives at once into a real Docker engine and into containerd, with the image IDs and upstream
// digests a pull gives; stage 2 alone fails, and a failed load names its archives.

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
import { registryDigest } from '../helpers/registry-client.js';
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
  const result = await runKfbundle(['build', '--no-seed-registry', '--manifests', context.manifests, '--out', out, '--cache', join(context.dir.path, 'cache'), '--json', '--no-progress', ...mirrors(context.env), ...extra], {
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

/** One entry of a tar archive, as text. */
async function tarText(file: string, name: string): Promise<string> {
  let text: string | undefined;
  const parser = new Parser({
    onReadEntry: (entry: ReadEntry) => {
      if (entry.path !== name) return entry.resume();
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => (text = Buffer.concat(chunks).toString('utf8')));
    },
  });
  await pipeline(createReadStream(file), parser);
  assert.ok(text !== undefined, `${name} in ${file}`);
  return text;
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

test('stage 1 holds the base once, with one image on it and the images that need no base; stage 2 the other image, without the base', async (context) => {
  const { metadata, bundle } = context;
  const layout = metadata.imageArchives.map((archive) => [archive.stage, archive.path, ...archive.refs.map(short)]);
  assert.equal(layout.slice(0, 1), [[1, 'images/images-1.tar', 'web:1']], 'the base image with the fewest bytes of its own, the largest archive, first');
  assert.equal(layout.slice(1, 3).map((entry) => entry.slice(0, 1).concat(entry.slice(2))).sort(), [[1, 'other:2'], [1, 'solo:1']]);
  assert.equal(layout[3], [2, 'images/images-4.tar', 'worker:1']);
  assert.is(await readFile(join(bundle, 'images/archives.txt'), 'utf8'), metadata.imageArchives.map((archive) => `${archive.stage}\t${archive.path}\n`).join(''));

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
  // The worker's archive names the base layer in its image list, and stage 1's archive holds it.
  const listed = JSON.parse(await tarText(join(bundle, 'images/images-4.tar'), 'manifest.json')) as { Layers: string[] }[];
  const [baseLayer] = listed[0]!.Layers;
  assert.is(seen.get(baseLayer!), 'images/images-1.tar');
  assert.is((await runKfbundle(['verify', bundle])).code, 0);
  const inspect = await runKfbundle(['inspect', bundle]);
  assert.match(inspect.stdout, /in 4 archives, loaded in 2 stages/);
});

test('a stage 1 archive loads on its own; stage 2 alone fails naming the missing layer, and loads once stage 1 is in', async (context) => {
  const target = dockerFor(context.env.targetHost);
  await removeFromTarget(context);
  const load = (path: string) => runCommand('docker', ['-H', context.env.targetHost, 'load', '-i', join(context.bundle, path)], { timeoutMs: INSTALL_MS });
  const idOf = (ref: string) => target.getImage(ref).inspect().then((info) => info.Id, () => undefined);
  const alone = await load('images/images-4.tar');
  assert.is.not(alone.code, 0, 'the worker without its base');
  assert.match(alone.stderr, /blobs\/sha256\/[0-9a-f]{64}: no such file or directory/);
  const solo = context.metadata.imageArchives.find((archive) => archive.refs.some((ref) => ref.includes('/solo:')))!;
  assert.is((await load(solo.path)).code, 0);
  for (const image of context.images) assert.is(await idOf(image.ref), image.ref.includes('/solo:') ? image.imageId : undefined, image.ref);
  assert.is((await load('images/images-1.tar')).code, 0);
  const after = await load('images/images-4.tar');
  assert.is(after.code, 0, after.stderr);
  for (const ref of ['web', 'worker']) {
    const image = context.images.find((candidate) => candidate.ref.includes(`/${ref}:`))!;
    assert.is(await idOf(image.ref), image.imageId, image.ref);
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
  assert.match(installed.stdout, /stage 2: the images that take their shared base layers from the archives loaded before\n.*loading images from images\/images-4\.tar/);
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
  assert.match(installed.stdout, 'stage 2:');
  const listed = await runCommand('ctr', ['--address', context.env.containerdAddress, '-n', 'k8s.io', 'images', 'ls']);
  const digests = new Map(listed.stdout.trim().split('\n').slice(1).map((line) => line.split(/\s+/)).map(([name, , digest]) => [name!, digest!]));
  for (const image of context.images) assert.is(digests.get(image.ref), image.digest, image.ref);
  await removeFromTarget(context);
});

test('install.sh --registry on a Docker node pushes through containerd, stage by stage, with the upstream digests', async (context) => {
  const registry = `${context.env.registry}/staged-push`;
  const installed = await runCommand('bash', [join(context.bundle, 'install.sh'), '--images-only', '--runtime', 'docker', '--registry', registry], {
    env: { DOCKER_HOST: context.env.targetHost, CONTAINERD_ADDRESS: context.env.containerdAddress },
    timeoutMs: INSTALL_MS,
  });
  assert.is(installed.code, 0, `${installed.stdout}\n${installed.stderr}`);
  assert.match(installed.stdout, 'stage 2:');
  assert.match(installed.stdout, `4 of 4 read back from ${registry} with their upstream digests`);
  for (const image of context.images) assert.is(await registryDigest(`${registry}/${image.ref}`), image.digest, image.ref);
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

test('a load that fails names every archive of the stage it failed for, and install.sh exits non-zero', async (context) => {
  const installed = await runCommand('bash', [join(context.bundle, 'install.sh'), '--images-only', '--runtime', 'docker'], {
    env: { DOCKER_HOST: `unix://${join(context.dir.path, 'nobody.sock')}` },
    timeoutMs: INSTALL_MS,
  });
  assert.is.not(installed.code, 0);
  assert.match(installed.stderr, 'docker load failed for images/images-1.tar images/images-2.tar images/images-3.tar');
  assert.not.match(installed.stdout, 'images-4.tar', 'stage 2 is not tried once stage 1 failed');
});

test('--archives 1 writes one images.tar of every image; the default keeps a small bundle whole; the engine source takes none above 1', async (context) => {
  const one = await build(context, join(context.dir.path, 'one'), ['--archives', '1']);
  assert.equal(one.imageArchives.map((archive) => [archive.path, archive.refs.length]), [['images/images.tar', 4]]);
  const auto = await build(context, join(context.dir.path, 'auto'), []);
  assert.equal(auto.imageArchives.map((archive) => archive.path), ['images/images.tar']);
  const engine = await runKfbundle(['build', '--no-seed-registry', '--manifests', context.manifests, '--out', join(context.dir.path, 'engine'), '--source', 'engine', '--archives', '2']);
  assert.is(engine.code, 2, engine.stderr);
  assert.match(engine.stderr, '--archives above 1 is for the registry source');
  const many = await runKfbundle(['build', '--no-seed-registry', '--manifests', context.manifests, '--out', join(context.dir.path, 'many'), '--archives', '10']);
  assert.is(many.code, 2, many.stderr);
  assert.match(many.stderr, '--archives 10 is more than 9');
});

test.run();
