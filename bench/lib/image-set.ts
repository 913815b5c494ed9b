// The synthetic image set of the registry benchmarks: two shared bases and one own layer per image, made of real files
// of this machine (libraries, binaries, text), so that its layers compress as a real image's do (random bytes would
// not compress at all, one kind of file would compress unlike a real mix), built in the builder engine and pushed to
// the local registry under a mirror prefix, where the builds fetch it from.

import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import pLimit from 'p-limit';
import { Header } from 'tar';
import { PullStatusSink } from '../../src/io/pull-progress-parser.js';
import { removeAllImages, ROOT } from './services.js';

const MB = 1024 * 1024;

/** Already compressed: in a real image these do not shrink either, but they would let one layer dominate the mix. */
const COMPRESSED = /\.(gz|tgz|xz|bz2|zst|lz4|br|zip|jar|whl|7z|deb|png|jpe?g|gif|webp|woff2?|mo)$/;
const LARGEST_FILE = 24 * MB;

export interface PoolFile {
  path: string;
  size: number;
}

/**
 * Regular files under the usual roots of an image (shared libraries, executables, Python and Perl libraries,
 * headers, docs, node_modules), in an order shuffled by a fixed seed, so that every layer is a similar mix of
 * binaries and text and compresses as a real one does, instead of one layer of ELF and another of Markdown.
 */
export async function filePool(): Promise<PoolFile[]> {
  const roots = ['/usr/lib', '/usr/bin', '/usr/libexec', '/usr/share', '/usr/include', join(ROOT, 'node_modules')];
  const files: PoolFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const path = join(dir, name);
      const info = await lstat(path).catch(() => undefined);
      if (info === undefined) continue;
      if (info.isDirectory()) await walk(path);
      else if (info.isFile() && info.size > 0 && info.size <= LARGEST_FILE && !COMPRESSED.test(name)) files.push({ path, size: info.size });
    }
  };
  for (const root of roots) await walk(root);
  let x = 0x9e3779b9;
  const random = () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
  for (let i = files.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [files[i], files[j]] = [files[j]!, files[i]!];
  }
  return files;
}

/** Hands out consecutive slices of the pool; past its end it starts over (the layers still differ by path). */
export class Slicer {
  private cursor = 0;
  /** Bytes handed out so far: files overshoot each budget, so this is the set's real size. */
  taken = 0;
  private readonly pool: readonly PoolFile[];

  constructor(pool: readonly PoolFile[]) {
    this.pool = pool;
  }

  take(bytes: number): string[] {
    const out: string[] = [];
    for (let total = 0; total < bytes; ) {
      const file = this.pool[this.cursor++ % this.pool.length]!;
      out.push(file.path);
      total += file.size;
      this.taken += file.size;
    }
    return out;
  }
}

function tarEntry(name: string, data: Buffer): Buffer[] {
  const header = Buffer.alloc(512);
  new Header({ path: name, mode: 0o644, size: data.length, mtime: new Date(0), uid: 0, gid: 0, type: 'File' }).encode(header);
  const pad = (512 - (data.length % 512)) % 512;
  return pad === 0 ? [header, data] : [header, data, Buffer.alloc(pad)];
}

/**
 * A build context streamed as it is read: the Dockerfile, then each file under `dir/` with a short, safe name (a lone
 * file keeps its own, so /bin/busybox stays /bin/busybox).
 */
async function* buildContext(dockerfile: string, entries: { dir: string; files: readonly string[] }[]): AsyncGenerator<Buffer> {
  yield* tarEntry('Dockerfile', Buffer.from(dockerfile));
  for (const { dir, files } of entries) {
    for (const [index, file] of files.entries()) {
      // A file that vanished since the walk (a package upgraded meanwhile) is left out.
      const data = await readFile(file).catch(() => undefined);
      if (data === undefined) continue;
      const base = file.split('/').pop()!.replace(/[^A-Za-z0-9._-]/g, '_').slice(-40);
      yield* tarEntry(files.length === 1 ? `${dir}/${base}` : `${dir}/${String(index).padStart(6, '0')}-${base}`, data);
    }
  }
  yield Buffer.alloc(1024);
}

/** Reads an engine's progress stream (build, push) to its end; an error it reports fails the call. */
export async function drain(stream: Readable): Promise<void> {
  const sink = new PullStatusSink();
  await pipeline(stream, sink);
  if (sink.error !== undefined) throw new Error(sink.error);
}

async function buildImage(docker: Docker, tag: string, dockerfile: string, entries: { dir: string; files: readonly string[] }[], limitMs: number): Promise<void> {
  const context = Readable.from(buildContext(dockerfile, entries));
  const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, { t: tag, rm: true, abortSignal: AbortSignal.timeout(limitMs) } as never);
  await drain(stream as unknown as Readable);
}

/** A manifest of one Pod per reference, for `kfbundle build --manifests`. */
export async function writePodManifests(path: string, refs: readonly string[]): Promise<void> {
  await writeFile(path, refs.map((ref, i) => `apiVersion: v1\nkind: Pod\nmetadata: {name: p${i}, namespace: default}\nspec: {containers: [{name: c, image: "${ref}"}]}\n`).join('---\n'));
}

export interface ImageSet {
  /** `ghcr.io/kubeflow/NAME-image-I:v1`: the references the manifests name; the registry holds them under `ghcr.io/`. */
  refs: string[];
  /** The manifests file (in `dir`) naming every reference. */
  manifests: string;
  /** Bytes of files in the set's layers. */
  bytes: number;
}

/**
 * Two base images shared by half the set each, then one own layer per image; pushed, then removed locally.
 * `engineCallMs` limits each build and push the engine runs.
 */
export async function makeImageSet(options: {
  builder: Docker;
  registry: string;
  slicer: Slicer;
  dir: string;
  engineCallMs: number;
  name: string;
  count: number;
  baseMb: number;
  uniqueMb: number;
}): Promise<ImageSet> {
  const { builder, registry, slicer, name } = options;
  const takenBefore = slicer.taken;
  for (const base of [0, 1]) {
    await buildImage(builder, `${name}-base-${base}:1`, 'FROM scratch\nCOPY bin /bin\nCOPY base /usr/base\n', [
      { dir: 'bin', files: ['/bin/busybox'] },
      { dir: 'base', files: slicer.take(options.baseMb * MB) },
    ], options.engineCallMs);
  }
  const refs: string[] = [];
  const push = pLimit(2);
  const pushes: Promise<void>[] = [];
  for (let i = 0; i < options.count; i++) {
    const ref = `ghcr.io/kubeflow/${name}-image-${i}:v1`;
    const mirrored = `${registry}/${ref}`;
    await buildImage(builder, mirrored, `FROM ${name}-base-${i % 2}:1\nCOPY own /usr/own-${i}\n`, [{ dir: 'own', files: slicer.take(options.uniqueMb * MB) }], options.engineCallMs);
    // The engine compresses as it pushes (gzip, as registries serve real images); the next build overlaps it.
    pushes.push(push(async () => {
      const stream = await builder.getImage(mirrored).push({ authconfig: { serveraddress: registry }, abortSignal: AbortSignal.timeout(options.engineCallMs) } as never);
      await drain(stream as unknown as Readable);
    }));
    refs.push(ref);
  }
  await Promise.all(pushes);
  await removeAllImages(builder);
  const manifests = join(options.dir, `${name}.yaml`);
  await writePodManifests(manifests, refs);
  return { refs, manifests, bytes: slicer.taken - takenBefore };
}

/**
 * The options that size an image set, `--images`, `--base-mb` and `--unique-mb`, with a benchmark's own defaults;
 * they mean the same in every image-set benchmark (bench/build-vs-shell.ts's set of random bytes too).
 */
export function imageSetOptions(defaults: { images: number; baseMb: number; uniqueMb: number }) {
  return {
    images: { type: 'string', default: String(defaults.images) },
    'base-mb': { type: 'string', default: String(defaults.baseMb) },
    'unique-mb': { type: 'string', default: String(defaults.uniqueMb) },
  } as const;
}

/** The size those options give: how many images, and the MB of files in each base and in each image's own layer. */
export function imageSetSize(values: { images?: string; 'base-mb'?: string; 'unique-mb'?: string }): { count: number; baseMb: number; uniqueMb: number } {
  return { count: Number(values.images), baseMb: Number(values['base-mb']), uniqueMb: Number(values['unique-mb']) };
}
