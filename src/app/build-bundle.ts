// `kfbundle build`: stage → render and resolve → pull and save → plan (core/bundle-plan.ts) → write the plan →
// commit. Everything goes into a staging directory that becomes the bundle only when every step has succeeded.

import { BUNDLE_FILES, imageArchivePath, imageSetFiles, MAX_ARCHIVE_PARTS, platformImagesDir, SEED_REGISTRY_STAGE, type BundleImage, type BundleMetadata } from '../core/bundle-layout.js';
import type { ServedIndex } from '../core/platform-images.js';
import { deltaRecord, type BaseBundle } from '../core/delta-base.js';
import type { AddedImage } from '../core/resolve-images.js';
import { estimatePulls, type PullEstimate } from './estimate-pulls.js';
import { planBundle, sealBundle, type WrittenArchive } from '../core/bundle-plan.js';
import type { Mirror } from '../core/mirrors.js';
import type { BundleSpec } from '../core/bundle-spec.js';
import type { ImageTier } from '../core/discover-images.js';
import { describeComponents, describeWarning, resolveRelease } from '../core/resolve-release.js';
import type { AwsPartition } from '../core/aws-partition.js';
import { KfbundleError } from '../core/errors.js';
import { archiveSizeBounds } from '../core/disk-space.js';
import type { BundleOutput, ImageStore, ManifestSource, RegistryAuth, Sleeper, StagedBundle } from './ports.js';
import { startPulls, type ImageToPull, type PullEvent, type StartedPulls } from './pull-images.js';
import { planSaveBatches } from '../core/save-batches.js';
import { bundleRefFor, formatImageRef, parseImageRef } from '../core/image-ref.js';
import { SEED_TIER } from '../core/seed-registry.js';
import type { Platform } from '../core/registry-image.js';
import { formatPlatform, imagesOfOtherPlatform } from '../core/registry-manifest.js';

export interface BuildOptions {
  /** A rendered YAML file or a kustomization directory. */
  manifests: string;
  outDir: string;
  mirrors: readonly Mirror[];
  /** Extra, excluded and overridden images, and default tiers. */
  spec?: BundleSpec | undefined;
  /** Images bundled whatever the tiers (`--image`, `--image-list`): an add-on bundle's, or extras beside a release. */
  addedImages?: readonly AddedImage[] | undefined;
  /** Tiers to bundle; the spec's (or install + runtime) when not given. */
  tiers?: readonly ImageTier[] | undefined;
  /** Private registry (`HOST[:PORT][/PREFIX]`, validated) that manifests/ is relocated to; install.sh pushes there. */
  registry?: string | undefined;
  /** Move every `arn:aws:` ARN to this partition (aws-cn for AWS China). */
  awsPartition?: AwsPartition | undefined;
  /** Write each image archive as parts of at most this many bytes (`--split-size`). */
  splitSize?: number | undefined;
  /** Up to this many image archives a stage, each stage's loaded at once on the target (`--archives`). */
  maxArchives?: number | undefined;
  /**
   * The registry image `install.sh --seed-registry` runs (core/seed-registry.ts), saved alone in
   * images/registry.tar; none without it.
   */
  seedRegistryImage?: string | undefined;
  /**
   * A delta bundle's base (`build --since`): its images the stores were told of (they fetch and save none of the
   * layers it holds), recorded in bundle.json with every base image the target must hold.
   */
  base?: BaseBundle | undefined;
  /**
   * The platforms to bundle: one, which `deps.store` pulls (it was made for it), or several, each pulled by
   * `deps.storeFor`'s store into a directory of its own. Recorded, and every image checked against its platform.
   */
  platforms?: readonly Platform[] | undefined;
  force: boolean;
  concurrency: number;
  attempts: number;
  signal?: AbortSignal | undefined;
}

export type BuildStep = 'render' | 'resolve' | 'pull' | 'save' | 'write';

/** Where the time went; `hash` is spent inside `save` (one pass), shown so a slow hasher would be visible. */
export type BuildTimings = Record<BuildStep | 'hash', number>;

export type BuildEvent =
  | { type: 'step'; step: BuildStep; detail: string; total?: number }
  | PullEvent
  | { type: 'save-progress'; bytes: number; estimatedTotal: number }
  /** What the pulls of one platform will fetch, told before they start (from registries only). */
  | ({ type: 'estimate'; platform: string | undefined } & PullEstimate)
  | { type: 'warning'; message: string }
  /** Said once, not wrong: what the component table made of a release no curated spec stands behind. */
  | { type: 'note'; message: string };

export interface BuildDeps {
  source: ManifestSource;
  store: ImageStore;
  /** The store of each platform of a build of several (`options.platforms`). */
  storeFor?: ((platform: Platform) => ImageStore) | undefined;
  output: BundleOutput;
  installerTemplate: string;
  toolVersion: string;
  credentials: (registry: string) => RegistryAuth | undefined;
  sleep: Sleeper;
  random: () => number;
  now: () => number;
  report: (event: BuildEvent) => void;
  /** Signs SHA256SUMS (Ed25519) when the user asked for a signed bundle. */
  sign?: ((data: Buffer) => Buffer) | undefined;
}

export interface BuildResult {
  metadata: BundleMetadata;
  /** Milliseconds spent in each step, so regressions show in --json output. */
  timings: BuildTimings;
}

export async function buildBundle(options: BuildOptions, deps: BuildDeps): Promise<BuildResult> {
  const timings: BuildTimings = { render: 0, resolve: 0, pull: 0, save: 0, hash: 0, write: 0 };
  const timed = async <T>(step: BuildStep, detail: string, work: () => Promise<T> | T, total?: number): Promise<T> => {
    deps.report({ type: 'step', step, detail, ...(total === undefined ? {} : { total }) });
    const started = deps.now();
    try {
      return await work();
    } finally {
      timings[step] += deps.now() - started;
    }
  };

  const platforms = options.platforms ?? [];
  const several = platforms.length > 1;
  if (several && deps.storeFor === undefined) throw new Error('a build of several platforms needs a store per platform');
  const imageSets: ImageSet[] = several
    ? platforms.map((platform) => ({ platform, store: deps.storeFor!(platform), dir: platformImagesDir(formatPlatform(platform)) }))
    : [{ platform: platforms[0], store: deps.store, dir: BUNDLE_FILES.imagesDir }];
  // Fail on an existing output or an unreachable engine before spending minutes on anything else.
  for (const set of imageSets) await set.store.ping();
  const staged = await deps.output.stage(options.outDir, { force: options.force });
  try {
    const rendered = await timed('render', options.manifests, () => deps.source.render(options.manifests));
    const release = await timed('resolve', rendered.description, () => resolveRelease(rendered.text, rendered.description, options.spec, options.tiers, options.addedImages));
    if (options.spec === undefined && rendered.kind !== 'images') for (const line of describeComponents(release.components)) deps.report({ type: 'note', message: line });
    for (const warning of release.resolution.warnings) deps.report({ type: 'warning', message: describeWarning(warning) });
    const toPull: ImageToPull[] = release.resolution.images.filter((image) => image.included);
    // Nothing to seed a registry with when the release names no image.
    if (options.seedRegistryImage !== undefined && toPull.length > 0) {
      const parsed = parseImageRef(options.seedRegistryImage);
      toPull.push({ ref: formatImageRef(parsed), parsed, tier: SEED_TIER, locations: [] });
    }

    const built: BuiltImageSet[] = [];
    for (const set of imageSets) {
      built.push(await pullAndSave(staged, toPull, set, several, options, deps, timings, timed));
    }
    const images = built.flatMap((set) => set.images);
    const archives = built.flatMap((set) => set.archives);
    timings.hash = archives.reduce((sum, archive) => sum + archive.hashMs, 0);
    const releaseArchives = (set: BuiltImageSet) => set.archives.filter(({ stage }) => stage !== SEED_REGISTRY_STAGE).map(({ stage, path, push }) => ({ stage, path, push }));

    const metadata = await timed('write', options.outDir, async () => {
      const plan = planBundle({
        release,
        rendered,
        images,
        archives: several ? [] : releaseArchives(built[0]!),
        platformSets: several
          ? built.map((set) => ({ platform: formatPlatform(set.platform!), dir: set.dir, images: set.images.filter((image) => image.tier !== SEED_TIER), archives: releaseArchives(set) }))
          : undefined,
        servedIndexes: several ? servedIndexes(built) : undefined,
        base:
          options.base === undefined
            ? undefined
            : deltaRecord(images.filter((image) => image.tier !== SEED_TIER), options.base, several || platforms[0] === undefined ? undefined : formatPlatform(platforms[0])),
        options: { ...options, platform: several ? undefined : options.platforms?.[0] },
        tool: { version: deps.toolVersion, installerTemplate: deps.installerTemplate },
      });
      for (const file of plan.files) await staged.writeText(file.path, file.text, { executable: file.executable });
      const sealed = sealBundle(plan, archives, options.splitSize);
      await staged.writeText(BUNDLE_FILES.metadata, sealed.metadataText);
      // SHA256SUMS (and its signature) are written last: their presence marks the content as complete.
      await staged.writeText(BUNDLE_FILES.checksums, sealed.checksumsText);
      if (deps.sign !== undefined) await staged.writeBytes(BUNDLE_FILES.signature, deps.sign(Buffer.from(sealed.checksumsText, 'utf8')));
      return sealed.metadata;
    });

    await staged.commit();
    return { metadata, timings };
  } catch (error) {
    await staged.discard();
    throw error;
  }
}

/** One platform's images: pulled by their own store, saved in their own directory. */
interface ImageSet {
  /** Undefined for a build that named no platform (tests); the store then pulls its default. */
  platform: Platform | undefined;
  store: ImageStore;
  /** images/, or in a bundle of several platforms the platform's directory (platformImagesDir). */
  dir: string;
}

interface BuiltImageSet extends ImageSet {
  images: BundleImage[];
  archives: (WrittenArchive & { hashMs: number })[];
}

type Timed = <T>(step: BuildStep, detail: string, work: () => Promise<T> | T, total?: number) => Promise<T>;

/**
 * Estimates, pulls and saves one platform's images; pulls and saves overlap (each batch of images is saved as soon as
 * it is pulled, core/save-batches.ts). In a bundle of several platforms each image is tagged with the platform.
 */
async function pullAndSave(
  staged: StagedBundle,
  toPull: readonly ImageToPull[],
  set: ImageSet,
  several: boolean,
  options: BuildOptions,
  deps: BuildDeps,
  timings: BuildTimings,
  timed: Timed,
): Promise<BuiltImageSet> {
  const wanted = set.platform === undefined ? undefined : formatPlatform(set.platform);
  const estimate = await estimatePulls(toPull, options, set.store);
  if (estimate !== undefined) deps.report({ type: 'estimate', platform: wanted, ...estimate });
  const forPlatform = several ? ` for ${wanted}` : '';
  const setDeps = { ...deps, store: set.store };
  let pulls: StartedPulls | undefined;
  const pulling = timed(
    'pull',
    `${toPull.length} images${forPlatform}`,
    () => {
      pulls = startPulls(toPull, options, { store: set.store, credentials: deps.credentials, sleep: deps.sleep, random: deps.random, report: deps.report });
      return pulls.all;
    },
    toPull.length,
  );
  const saving = saveImagesAsPulled(staged, toPull, pulls!.each, set.dir, options, setDeps, timings);
  const [pulled, saved] = await Promise.allSettled([pulling, saving]);
  // A failed pull is the cause; the save it stopped is not worth reporting.
  if (pulled.status === 'rejected') throw pulled.reason;
  if (saved.status === 'rejected') throw saved.reason;
  if (set.platform !== undefined) {
    for (const image of imagesOfOtherPlatform(pulled.value, set.platform)) {
      const message = `${image.ref} is a ${image.platform} image only, in a bundle${several ? ' with images' : ''} for ${wanted}: its pods will fail there with "exec format error" (bundle.json records its platform)`;
      deps.report({ type: 'warning', message });
    }
  }
  const images = several ? pulled.value.map((image) => ({ ...image, forPlatform: wanted! })) : pulled.value;
  const archives = several ? saved.value.map((archive) => ({ ...archive, platform: wanted! })) : saved.value;
  return { ...set, images, archives };
}

/** The upstream index of every reference that named one, as the first platform's store pulled it. */
function servedIndexes(built: readonly BuiltImageSet[]): ReadonlyMap<string, ServedIndex> {
  const indexes = new Map<string, ServedIndex>();
  for (const set of built) {
    for (const image of set.images) {
      if (indexes.has(image.bundleRef)) continue;
      const index = set.store.servedIndex?.(image.bundleRef);
      if (index !== undefined) indexes.set(image.bundleRef, index);
    }
  }
  return indexes;
}

/**
 * Refuses before a batch's save when the archive cannot fit (a 10 GB save that fails at 9 GB wastes the most time);
 * warns when it may not, since shared layers make the exact size unknowable in advance. `pulled` are the images of
 * this batch and the ones before it, `written` what the archive holds already.
 */
async function checkFreeSpace(pulled: readonly BundleImage[], written: number, warn: boolean, options: BuildOptions, deps: BuildDeps): Promise<void> {
  const ids = [...new Set(pulled.map((image) => image.imageId))];
  const bounds = archiveSizeBounds(await deps.store.usage(ids));
  if (options.splitSize !== undefined && bounds.lower / options.splitSize > MAX_ARCHIVE_PARTS) {
    // Said now rather than at part 10,001, after most of the save.
    throw new KfbundleError('SPLIT_TOO_MANY_PARTS', `the image archive needs more than ${MAX_ARCHIVE_PARTS.toLocaleString('en-US')} parts of ${options.splitSize} bytes (--split-size)`, {
      hint: `choose a --split-size of at least ${Math.ceil(bounds.lower / MAX_ARCHIVE_PARTS)} bytes`,
    });
  }
  const free = await deps.output.freeBytes(options.outDir);
  const lower = Math.max(0, bounds.lower - written);
  const upper = Math.max(0, bounds.upper - written);
  if (free < lower) {
    throw new KfbundleError(
      'DISK_FULL',
      `the image archive needs at least ${formatSize(lower)}${written === 0 ? '' : ' more'} but ${formatSize(free)} is free where ${options.outDir} goes`,
      { hint: 'free space there, or choose another --out on a disk with room (with --split-size the parts may go to a FAT32 disk)' },
    );
  }
  if (warn && free < upper) {
    const more = written === 0 ? '' : ' more';
    deps.report({ type: 'warning', message: `the image archive needs between ${formatSize(lower)} and ${formatSize(upper)}${more}; ${formatSize(free)} is free: it may not fit` });
  }
}

function formatSize(bytes: number): string {
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

/**
 * Saves the images in batches, each as soon as its images are pulled, into the store's archives, written one after
 * another. Stops at the first failed pull (the pulls go on, so the error can name every image that failed).
 */
async function saveImagesAsPulled(
  staged: StagedBundle,
  toPull: readonly ImageToPull[],
  pulls: readonly Promise<BundleImage>[],
  dir: string,
  options: BuildOptions,
  deps: BuildDeps,
  timings: BuildTimings,
): Promise<(WrittenArchive & { hashMs: number })[]> {
  const byRef = new Map<string, number[]>();
  const seed: number[] = [];
  toPull.forEach((image, index) => {
    if (image.tier === SEED_TIER) return void seed.push(index);
    const ref = bundleRefFor(image.parsed);
    byRef.set(ref, [...(byRef.get(ref) ?? []), index]);
  });
  const batches = planSaveBatches([...byRef.entries()]);
  if (batches.length === 0) return [];

  const stop = new AbortController();
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
  for (const pull of pulls) pull.catch((error: unknown) => stop.abort(error));

  const pulled: BundleImage[] = [];
  let written = 0;
  let started: number | undefined;
  // Uncompressed sizes overcount shared layers, so this is an upper bound for the progress bar, not a promise.
  let estimatedTotal = 0;
  async function* refBatches(): AsyncGenerator<readonly string[]> {
    for (const [index, batch] of batches.entries()) {
      const images = await Promise.all(batch.flatMap(([, indices]) => indices.map((i) => pulls[i]!)));
      pulled.push(...images);
      estimatedTotal += images.reduce((sum, image) => sum + image.size, 0);
      await checkFreeSpace(pulled, written, index === batches.length - 1, options, deps);
      if (started === undefined) {
        deps.report({ type: 'step', step: 'save', detail: `${byRef.size} images in ${batches.length} batch${batches.length === 1 ? '' : 'es'}` });
        started = deps.now();
      }
      yield batch.map(([ref]) => ref);
    }
  }
  try {
    const streams = await deps.store.saveArchives(refBatches(), { maxArchives: options.maxArchives, signal });
    const archives: (WrittenArchive & { hashMs: number })[] = [];
    for (const [index, { stage, refs, stream, push }] of streams.entries()) {
      const path = imageArchivePath(index, streams.length, dir);
      const before = written;
      const result = await staged.writeStream(path, stream, {
        signal,
        partSize: options.splitSize,
        onBytes: (bytes) => {
          written = before + bytes;
          deps.report({ type: 'save-progress', bytes: written, estimatedTotal });
        },
      });
      archives.push({ path, stage, ...result, refs: refs ?? [...byRef.keys()], push });
    }
    for (const index of seed) {
      const { bundleRef } = await pulls[index]!;
      const [alone] = await deps.store.saveArchives(oneBatch([bundleRef]), { maxArchives: 1, signal });
      const path = imageSetFiles(dir).seedRegistryArchive;
      const result = await staged.writeStream(path, alone!.stream, { signal, partSize: options.splitSize });
      archives.push({ path, stage: SEED_REGISTRY_STAGE, ...result, refs: [bundleRef] });
    }
    return archives;
  } finally {
    if (started !== undefined) timings.save += deps.now() - started;
  }
}

async function* oneBatch(refs: readonly string[]): AsyncGenerator<readonly string[]> {
  yield refs;
}
