// The `docker save` archive written straight from registry blobs: layers stay compressed as served and are stored once;
// Docker 20.10 loads it (image IDs equal to what `docker pull` of the same image gives on the builder engine), ctr
// imports it keeping the upstream manifest and index digests, whole or split and concatenated; it is byte-stable and a
// fixed point of the tar normaliser, and much smaller than `docker save` of the same images.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Header, Parser, type ReadEntry } from 'tar';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bundleRefFor, parseImageRef } from '../../src/core/image-ref.js';
import type { BlobSource, RegistryImage } from '../../src/core/registry-image.js';
import { saveArchiveLayout, type ImageToSave, type SaveArchiveLayout } from '../../src/core/save-archive-layout.js';
import { stageBundle } from '../../src/io/bundle-directory.js';
import { archiveHeader, registryArchive } from '../../src/io/registry-archive-writer.js';
import { TarNormalizer } from '../../src/io/tar-normalizer.js';
import { registryDigest } from '../helpers/registry-client.js';
import { fetchRegistryImage, getBlob, MEDIA, mountBlob, pushTwoPlatformList, putManifest, registryBlobSource, sha256 } from '../helpers/registry-blobs.js';
import { textFiles } from '../helpers/compressible-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

const COMMAND_TIMEOUT_MS = 180_000;
const BIG_LAYER_BYTES = 24 * 1024 * 1024;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with a time limit (killed when it passes), optionally feeding it a stream on stdin. */
function run(command: string, args: readonly string[], options: { stdin?: Readable; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? COMMAND_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    if (options.stdin !== undefined) pipeline(options.stdin, child.stdin!).catch((error: unknown) => (stderr += `\nstdin: ${String(error)}`));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, stdout, stderr: signal === null ? stderr : `${stderr}\nkilled by ${signal}` }));
  });
}

async function ok(command: string, args: readonly string[], options: { stdin?: Readable; timeoutMs?: number } = {}): Promise<string> {
  const result = await run(command, args, options);
  assert.is(result.code, 0, `${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

const docker = (host: string, ...args: string[]) => ok('docker', ['-H', host, ...args]);
const ctr = (env: TestEnv, ...args: string[]) => ['--address', env.containerdAddress, '-n', 'k8s.io', ...args];

/** The parts of a split archive as one stream, as `cat images.tar.* |` gives them to the loaders. */
function concatenated(files: readonly string[]): Readable {
  return Readable.from(
    (async function* () {
      for (const file of files) yield* createReadStream(file);
    })(),
  );
}

async function copyInto(dir: string, files: readonly string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [index, file] of files.entries()) await copyFile(file, join(dir, `${String(index).padStart(4, '0')}-${file.split('/').pop()!}`));
}

interface ArchiveEntryRead {
  name: string;
  size: number;
  sha256: string;
  mode: number | undefined;
  mtime: number | undefined;
  uid: number | undefined;
  gid: number | undefined;
  uname: string | undefined;
  gname: string | undefined;
  type: string;
}

/** Every entry of a tar stream with its header fields and the digest of its data, read by node-tar. */
async function readArchive(source: Readable): Promise<ArchiveEntryRead[]> {
  const entries: ArchiveEntryRead[] = [];
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      const hash = createHash('sha256');
      entry.on('data', (chunk: Buffer) => hash.update(chunk));
      entry.on('end', () =>
        entries.push({
          name: entry.path,
          size: entry.size,
          sha256: hash.digest('hex'),
          mode: entry.mode,
          mtime: entry.mtime?.getTime(),
          uid: entry.uid,
          gid: entry.gid,
          uname: entry.uname,
          gname: entry.gname,
          type: entry.type,
        }),
      );
    },
  });
  await pipeline(source, parser);
  return entries;
}

async function fileSha256(files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of concatenated(files)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface Written {
  files: string[];
  size: number;
  sha256: string;
  layout: SaveArchiveLayout;
  lastProgress: number;
}

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  /** Where the test images live in the registry: `127.0.0.1:PORT/kfbarx-<random>`. */
  repo: string;
  images: ImageToSave[];
  /** The image ID a `docker pull` of each image gave on the builder engine, by the tag the archive names it. */
  pulledIds: Map<string, string>;
  /** The digest the registry serves for each image's reference (what `ctr pull` keeps), by archive tag. */
  upstreamDigests: Map<string, string>;
  /** The references pulled on the builder engine, removed at the end. */
  pulled: string[];
  /** The two plain images, for the size comparison with `docker save`. */
  plain: ImageToSave[];
  big: RegistryImage;
  archive: Written;
  writes: number;
}

const test = suite<Context>('archive written from registry blobs');

async function writeArchive(context: Context, images: readonly ImageToSave[], options: { partSize?: number; source?: BlobSource } = {}): Promise<Written> {
  const staged = await stageBundle(join(context.work.path, `bundle-${context.writes++}`));
  const layout = saveArchiveLayout(images);
  let lastProgress = 0;
  const archive = registryArchive(layout, options.source ?? registryBlobSource(), { onProgress: (progress) => (lastProgress = progress.bytes) });
  const result = await staged.writeStream('images/images.tar', archive, { partSize: options.partSize });
  return { files: result.files.map((file) => join(staged.dir, file.path)), size: result.size, sha256: result.sha256, layout, lastProgress };
}

/** Builds `tag` on the builder engine from a Dockerfile and a context directory. */
async function build(context: Context, tag: string, dockerfile: string, contextDir: string): Promise<void> {
  const file = join(contextDir, `Dockerfile.${randomBytes(4).toString('hex')}`);
  await writeFile(file, dockerfile);
  await docker(context.env.builderHost, 'build', '-q', '-f', file, '-t', tag, contextDir);
}

/** A second platform for `image` (same layers, a config saying arm64) and an index of both, pushed as `repo:tag`. */
async function pushTwoPlatformIndex(image: RegistryImage, repository: string, tag: string): Promise<void> {
  for (const blob of [image.config, ...image.layers]) await mountBlob(repository, blob.digest, image.repository);
  await putManifest(repository, image.manifestDigest, image.manifestBytes, image.manifestMediaType);
  await pushTwoPlatformList(repository, tag, { bytes: image.manifestBytes, digest: image.manifestDigest, mediaType: image.manifestMediaType, configDigest: image.config.digest });
}

/** The same image under an OCI manifest (OCI media types, the same blobs), pushed as `repo:tag`. */
async function pushOciManifest(image: RegistryImage, repository: string, tag: string): Promise<void> {
  for (const blob of [image.config, ...image.layers]) await mountBlob(repository, blob.digest, image.repository);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { ...image.config, mediaType: MEDIA.ociConfig },
    layers: image.layers.map((layer) => ({ ...layer, mediaType: MEDIA.ociLayer })),
  };
  await putManifest(repository, tag, Buffer.from(JSON.stringify(manifest)), MEDIA.ociManifest);
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir('kfb-regarchive-');
    context.writes = 0;
    const prefix = `kfbarx-${randomBytes(4).toString('hex')}`;
    const repo = `${context.env.registry}/${prefix}`;
    context.repo = repo;
    const builder = context.env.builderHost;

    const ctx = join(context.work.path, 'context');
    await mkdir(join(ctx, 'bin'), { recursive: true });
    await copyFile('/bin/busybox', join(ctx, 'bin/busybox'));
    const MB = 1024 * 1024;
    await copyInto(join(ctx, 'base'), await textFiles(5 * MB, 0));
    await copyInto(join(ctx, 'a'), await textFiles(1.5 * MB, 5 * MB));
    await copyInto(join(ctx, 'b'), await textFiles(1.5 * MB, 6.5 * MB));
    await writeFile(join(ctx, 'big'), randomBytes(BIG_LAYER_BYTES));

    // Two images on one base (busybox and a layer of text files), each with a layer of its own; one with a big
    // incompressible layer for the streaming tests.
    const base = `${repo}/base:1`;
    await build(context, base, 'FROM scratch\nCOPY bin/busybox /bin/busybox\nCOPY base /usr/share/base\nCMD ["/bin/busybox", "true"]\n', ctx);
    const built = { a: `${repo}/a:1`, b: `${repo}/b:1`, big: `${repo}/big:1` };
    await build(context, built.a, `FROM ${base}\nCOPY a /usr/share/a\nLABEL org.kfbundle.test=a-${prefix}\n`, ctx);
    await build(context, built.b, `FROM ${base}\nCOPY b /usr/share/b\nLABEL org.kfbundle.test=b-${prefix}\n`, ctx);
    await build(context, built.big, `FROM ${base}\nCOPY big /big\n`, ctx);
    for (const ref of Object.values(built)) await docker(builder, 'push', ref);
    // Removed, so the pulls below really fetch them.
    await docker(builder, 'rmi', '--force', base, ...Object.values(built));

    const a = await fetchRegistryImage(built.a);
    const b = await fetchRegistryImage(built.b);
    context.big = await fetchRegistryImage(built.big);
    await pushOciManifest(a, `${repo}/a-oci`, '1');
    await pushTwoPlatformIndex(b, `${repo}/multi`, '1');
    const aOci = await fetchRegistryImage(`${repo}/a-oci:1`);
    const multi = await fetchRegistryImage(`${repo}/multi:1`);
    assert.is(aOci.manifestMediaType, MEDIA.ociManifest);
    assert.is(multi.indexMediaType, MEDIA.dockerList);

    // What the bundle names them: tags as they are, digest-pinned references under their digest tag, a Docker Hub
    // name (never pulled: only a name in the archive) to see normalisation.
    const pinnedA = bundleRefFor(parseImageRef(`${repo}/a@${a.manifestDigest}`));
    const hubB = `docker.io/${prefix}/b:1.0`;
    context.images = [
      { image: a, tags: [built.a, pinnedA] },
      { image: aOci, tags: [`${repo}/a-oci:1`] },
      { image: b, tags: [hubB] },
      { image: multi, tags: [`${repo}/multi:1`] },
    ];
    context.plain = [context.images[0]!, context.images[2]!];

    // The engine path: what `docker pull` gives for each, and what the registry serves for each reference.
    const pulledAs = new Map([
      [built.a, built.a],
      [pinnedA, `${repo}/a@${a.manifestDigest}`],
      [`${repo}/a-oci:1`, `${repo}/a-oci:1`],
      [hubB, built.b],
      [`${repo}/multi:1`, `${repo}/multi:1`],
    ]);
    context.pulledIds = new Map();
    context.upstreamDigests = new Map();
    context.pulled = [...new Set(pulledAs.values())];
    for (const [tag, ref] of pulledAs) {
      await docker(builder, 'pull', '-q', ref);
      context.pulledIds.set(tag, (await docker(builder, 'image', 'inspect', '-f', '{{.Id}}', ref)).trim());
      context.upstreamDigests.set(tag, (await registryDigest(ref))!);
    }
    context.archive = await writeArchive(context, context.images);
  }),
);

test.after(
  loudHook('cleanup', async (context) => {
    const tags = context.images?.flatMap((entry) => entry.tags) ?? [];
    if (tags.length > 0) {
      await run('docker', ['-H', context.env.targetHost, 'rmi', '--force', ...tags]);
      await run('ctr', ctr(context.env, 'images', 'rm', ...tags));
    }
    if (context.pulled?.length) await run('docker', ['-H', context.env.builderHost, 'rmi', '--force', ...context.pulled]);
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('each blob once, byte for byte as the registry serves it; fixed times, owners and modes', async (context) => {
  const { archive } = context;
  const entries = await readArchive(concatenated(archive.files));
  const names = entries.map((entry) => entry.name);
  assert.is(new Set(names).size, names.length, 'no entry is repeated');

  // Expected from the registry's own manifests: every config, layer, manifest and index, once.
  const expected = new Set<string>();
  let layerReferences = 0;
  for (const { image } of context.images) {
    for (const digest of [image.manifestDigest, image.indexDigest, image.config.digest, ...image.layers.map((layer) => layer.digest)]) {
      if (digest !== undefined) expected.add(`blobs/sha256/${digest.slice('sha256:'.length)}`);
    }
    layerReferences += image.layers.length;
  }
  const blobNames = names.filter((name) => name.startsWith('blobs/'));
  assert.equal(new Set(blobNames), expected);
  assert.equal(names.filter((name) => !name.startsWith('blobs/')), ['index.json', 'manifest.json', 'oci-layout']);
  const layerEntries = new Set(context.images.flatMap(({ image }) => image.layers.map((layer) => `blobs/sha256/${layer.digest.slice(7)}`)));
  assert.ok(layerEntries.size < layerReferences / 2, `${layerEntries.size} layer files for ${layerReferences} layer references`);

  for (const entry of entries) {
    assert.equal(
      { type: entry.type, mode: entry.mode, mtime: entry.mtime, uid: entry.uid, gid: entry.gid, uname: entry.uname ?? '', gname: entry.gname ?? '' },
      { type: 'File', mode: 0o644, mtime: 0, uid: 0, gid: 0, uname: '', gname: '' },
      entry.name,
    );
    if (!entry.name.startsWith('blobs/')) continue;
    const digest = `sha256:${entry.name.slice('blobs/sha256/'.length)}`;
    const served = await getBlobOrManifest(context, digest);
    assert.is(entry.size, served.length, entry.name);
    assert.is(entry.sha256, createHash('sha256').update(served).digest('hex'), entry.name);
  }
  assert.is(archive.size, (await stat(archive.files[0]!)).size);
  assert.is(archive.lastProgress, archive.size, 'progress reaches the archive size');
  assert.is(archive.layout.size, archive.size, 'the layout knew the size before the first byte');
});

/** A blob, or a manifest or index, as the registry serves it. */
async function getBlobOrManifest(context: Context, digest: string): Promise<Buffer> {
  for (const { image } of context.images) {
    if (image.manifestDigest === digest) return image.manifestBytes;
    if (image.indexDigest === digest) return image.indexBytes!;
    if ([image.config, ...image.layers].some((blob) => blob.digest === digest)) return getBlob(image.repository, digest);
  }
  throw new Error(`${digest} is no blob of the test images`);
}

test('the same images give the same bytes, in any order; the tar normaliser leaves them as they are', async (context) => {
  const again = await writeArchive(context, [...context.images].reverse());
  assert.is(again.sha256, context.archive.sha256);
  const normalised = createHash('sha256');
  await pipeline(concatenated(context.archive.files), new TarNormalizer(), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) normalised.update(chunk);
  });
  assert.is(normalised.digest('hex'), context.archive.sha256);
});

/** Image ID and tags of each archive tag in the target engine. */
async function targetImages(context: Context): Promise<Map<string, { id: string; repoTags: string[] }>> {
  const found = new Map<string, { id: string; repoTags: string[] }>();
  for (const tag of context.images.flatMap((entry) => entry.tags)) {
    const [info] = JSON.parse(await docker(context.env.targetHost, 'image', 'inspect', tag)) as { Id: string; RepoTags: string[] }[];
    found.set(tag, { id: info!.Id, repoTags: info!.RepoTags });
  }
  return found;
}

/** Docker shows Docker Hub names short (`prefix/b:1.0`), as `docker images` does. */
const familiar = (tag: string) => tag.replace(/^docker\.io\/(library\/)?/, '');

async function assertLoadedIntoTarget(context: Context): Promise<void> {
  const loaded = await targetImages(context);
  for (const [tag, { id, repoTags }] of loaded) {
    assert.is(id, context.pulledIds.get(tag), `${tag}: loaded image ID against the builder's pull`);
    assert.ok(repoTags.includes(familiar(tag)), `${tag} in ${repoTags.join(', ')}`);
  }
  // Tags of one image (one config) are on one image ID.
  const byId = new Map<string, string[]>();
  for (const [tag, { id }] of loaded) byId.set(id, [...(byId.get(id) ?? []), familiar(tag)]);
  for (const [id, tags] of byId) {
    const [info] = JSON.parse(await docker(context.env.targetHost, 'image', 'inspect', id)) as { RepoTags: string[] }[];
    assert.equal(new Set(info!.RepoTags), new Set(tags), id);
  }
  const listed = await docker(context.env.targetHost, 'run', '--rm', '--network', 'none', context.images[0]!.tags[0]!, '/bin/busybox', 'sh', '-c', 'ls /usr/share/base | wc -l; ls /usr/share/a | wc -l');
  const [baseFiles, ownFiles] = listed.trim().split('\n').map(Number);
  assert.ok(baseFiles! > 10 && ownFiles! > 10, `files in the container: ${listed}`);
}

async function removeFromTarget(context: Context): Promise<void> {
  await ok('docker', ['-H', context.env.targetHost, 'rmi', '--force', ...context.images.flatMap((entry) => entry.tags)]);
}

test('docker load (the target engine) whole and from concatenated parts: image IDs as the builder pulled them, tags as given', async (context) => {
  const version = (await docker(context.env.targetHost, 'version', '-f', '{{.Server.Version}}')).trim();
  console.log(`    target engine: Docker ${version}`);
  await docker(context.env.targetHost, 'load', '-i', context.archive.files[0]!);
  await assertLoadedIntoTarget(context);
  await removeFromTarget(context);

  const split = await writeArchive(context, context.images, { partSize: 1024 * 1024 });
  assert.ok(split.files.length > 3, `${split.files.length} parts`);
  assert.is(split.sha256, context.archive.sha256, 'split, the same bytes');
  assert.is(await fileSha256(split.files), context.archive.sha256);
  await ok('docker', ['-H', context.env.targetHost, 'load'], { stdin: concatenated(split.files) });
  await assertLoadedIntoTarget(context);
  await removeFromTarget(context);
});

/** Name -> target digest of the images in the containerd's k8s.io namespace. */
async function containerdImages(context: Context): Promise<Map<string, string>> {
  const listed = await ok('ctr', ctr(context.env, 'images', 'ls'));
  const images = new Map<string, string>();
  for (const line of listed.trim().split('\n').slice(1)) {
    const [name, , digest] = line.split(/\s+/);
    images.set(name!, digest!);
  }
  return images;
}

test('ctr images import of the concatenated parts keeps the digests the registry serves', async (context) => {
  const split = await writeArchive(context, context.images, { partSize: 1024 * 1024 });
  await ok('ctr', ctr(context.env, 'images', 'import', '-'), { stdin: concatenated(split.files) });
  const images = await containerdImages(context);
  for (const [tag, digest] of context.upstreamDigests) assert.is(images.get(tag), digest, `${tag} in containerd`);
  // The two-platform image: the index as served, complete for this node's platform.
  const multi = context.images[3]!;
  assert.is(images.get(multi.tags[0]!), multi.image.indexDigest);
  const checked = await ok('ctr', ctr(context.env, 'images', 'check', `name==${multi.tags[0]!}`));
  assert.match(checked, /complete/);
  await ok('ctr', ctr(context.env, 'images', 'rm', ...context.images.flatMap((entry) => entry.tags)));
});

test('much smaller than docker save of the same images', async (context) => {
  const ours = await writeArchive(context, context.plain);
  const saved = join(context.work.path, 'saved.tar');
  const refs = context.plain.map(({ image }) => image.ref);
  await docker(context.env.builderHost, 'save', '-o', saved, ...refs);
  const savedSize = (await stat(saved)).size;
  const ratio = ours.size / savedSize;
  console.log(`    ${refs.length} images: ${ours.size} bytes against ${savedSize} from docker save (${ratio.toFixed(3)}x)`);
  assert.ok(ratio < 0.5, `ratio ${ratio}`);
});

test('a blob whose length differs from its manifest is refused, longer or shorter', async (context) => {
  const layer = context.plain[0]!.image.layers[0]!;
  for (const size of [layer.size - 1, layer.size + 1]) {
    const image = { ...context.plain[0]!.image, layers: [{ ...layer, size }] };
    const error = await writeArchive(context, [{ image, tags: [`${context.repo}/wrong:1`] }], { source: registryBlobSource({ verify: false }) }).then(
      () => undefined,
      (caught: unknown) => caught as { code?: string; message: string },
    );
    assert.is(error?.code, 'DIGEST_MISMATCH', String(error?.message));
    assert.match(error!.message, layer.digest);
    assert.match(error!.message, image.ref);
  }
});

test('a held manifest whose bytes do not match its digest is refused before a byte is written', async (context) => {
  const image = { ...context.plain[0]!.image, manifestBytes: Buffer.concat([context.plain[0]!.image.manifestBytes, Buffer.from(' ')]) };
  const source = registryBlobSource();
  const error = await writeArchive(context, [{ image, tags: [`${context.repo}/wrong:1`] }], { source }).then(
    () => undefined,
    (caught: unknown) => caught as { code?: string; message: string },
  );
  assert.is(error?.code, 'DIGEST_MISMATCH');
  assert.match(error!.message, image.manifestDigest);
  assert.match(error!.message, image.ref);
  assert.is(source.requested.length, 0, 'no blob was asked for');
});

test("the reader's pace sets the source's: a paused reader holds the source back", async (context) => {
  const source = registryBlobSource();
  const layout = saveArchiveLayout([{ image: context.big, tags: [`${context.repo}/big:1`] }]);
  const archive = registryArchive(layout, source);
  const iterator = archive[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let read = 0;
  // Well into the big layer: the other blobs together are far smaller than a quarter of it.
  while (read < BIG_LAYER_BYTES / 4) {
    const next = await iterator.next();
    assert.not.ok(next.done, 'the archive ended before the big layer was reached');
    read += next.value.length;
  }
  const before = source.delivered;
  await new Promise((resolve) => setTimeout(resolve, 750));
  console.log(`    paused after ${read} archive bytes: the source had delivered ${source.delivered} (${before} before the pause)`);
  // A quarter of the big layer read: the source has not run on to deliver most of it.
  assert.ok(source.delivered < BIG_LAYER_BYTES / 2, `the source delivered ${source.delivered} bytes to a reader paused at ${read}`);
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) read += next.value.length;
  assert.is(read, layout.size);
});

test('an abort ends the stream with an AbortError and stops its source', async (context) => {
  const source = registryBlobSource();
  const layout = saveArchiveLayout([{ image: context.big, tags: [`${context.repo}/big:1`] }]);
  const controller = new AbortController();
  const archive = registryArchive(layout, source, { signal: controller.signal });
  let read = 0;
  const consumed = (async () => {
    for await (const chunk of archive as AsyncIterable<Buffer>) {
      read += chunk.length;
      if (read > BIG_LAYER_BYTES / 4) controller.abort();
    }
  })();
  const error = await consumed.then(
    () => undefined,
    (caught: unknown) => caught as Error,
  );
  assert.is(error?.name, 'AbortError', String(error));
  const stopped = source.delivered;
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.is(source.delivered, stopped, 'nothing more is read from the source');
  assert.ok(stopped < layout.size, `${stopped} of ${layout.size} bytes`);
});

test('an archive made after the build was aborted errors only when read: no unhandled error ends the process', async (context) => {
  // A pull that fails before the save starts aborts the build first; the archives are made after, and read later.
  const layout = saveArchiveLayout([{ image: context.big, tags: [`${context.repo}/big:1`] }]);
  const controller = new AbortController();
  controller.abort(new Error('a pull failed'));
  const uncaught: unknown[] = [];
  const record = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', record);
  try {
    const archive = registryArchive(layout, registryBlobSource(), { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(uncaught, [], 'nothing thrown before the archive is read');
    const error = await (async () => {
      for await (const _chunk of archive as AsyncIterable<Buffer>) void _chunk;
    })().then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    assert.is(error?.message, 'a pull failed', String(error));
  } finally {
    process.off('uncaughtException', record);
  }
});

test('a blob of 8 GiB or more: its base-256 size is read by the tar readers of ctr and dockerd', async (context) => {
  // The header of a 9 GiB layer and only a little of its data: a reader that understands the size runs out of
  // data ("unexpected EOF"); one that does not refuses the header ("invalid tar header").
  const size = 9 * 1024 ** 3 + 5;
  const header = archiveHeader(`blobs/sha256/${'a'.repeat(64)}`, size);
  assert.is(new Header(header).size, size);
  assert.ok(new Header(header).cksumValid);
  const file = join(context.work.path, 'huge-header.tar');
  await writeFile(file, Buffer.concat([header, Buffer.alloc(8192)]));
  const imported = await run('ctr', ctr(context.env, 'images', 'import', file));
  assert.is.not(imported.code, 0);
  assert.match(imported.stderr, /unexpected EOF/);
  const loaded = await run('docker', ['-H', context.env.targetHost, 'load', '-i', file]);
  assert.is.not(loaded.code, 0);
  assert.match(loaded.stderr, /unexpected EOF/);
});

test.run();
