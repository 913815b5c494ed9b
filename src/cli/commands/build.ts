// `kfbundle build`: wires the build use case to the registries (or a Docker engine), the file system and the progress
// display.

import { setTimeout as sleep } from 'node:timers/promises';
import { buildBundle } from '../../app/build-bundle.js';
import { credentialsFor } from '../../core/docker-auth.js';
import { parseMirror } from '../../core/mirrors.js';
import { parseRegistryTarget } from '../../core/relocate-images.js';
import { parseAwsPartition } from '../../core/aws-partition.js';
import { parseByteSize } from '../../core/byte-size.js';
import { directoryBundleOutput } from '../../io/bundle-directory.js';
import { readDockerConfig } from '../../io/docker-config.js';
import { resolveManifestInput } from '../manifest-input.js';
import { signBytes } from '../../io/bundle-signature.js';
import { readKey } from './keygen.js';
import { tiersOption } from './images.js';
import { DockerImageStore } from '../../io/docker-image-store.js';
import { readBundleMetadata } from '../../io/bundle-reader.js';
import { RegistryImageStore } from '../../io/registry-image-store.js';
import { registryClientFor } from '../registry-client-for.js';
import { KfbundleError } from '../../core/errors.js';
import { MAX_ARCHIVES } from '../../core/archive-groups.js';
import { parseImageRef } from '../../core/image-ref.js';
import type { Platform } from '../../core/registry-image.js';
import { formatPlatform } from '../../core/registry-manifest.js';
import { platformsOption } from '../platform-option.js';
import { DEFAULT_SEED_REGISTRY_IMAGE, SEED_TIER } from '../../core/seed-registry.js';
import { BUNDLE_FILES, type BundleMetadata, type ImageArchiveFacts } from '../../core/bundle-layout.js';
import { baseContent, parseBaseMetadata, type BaseBundle } from '../../core/delta-base.js';
import { readFile } from 'node:fs/promises';
import type { ImageStore, ManifestSource } from '../../app/ports.js';
import { normalisedRef, parseImageList } from '../../core/image-list.js';
import type { AddedImage } from '../../core/resolve-images.js';
import { createBuildReporter } from '../../ui/build-reporter.js';
import { formatBytes } from '../../ui/format.js';
import { readInstallerTemplate } from '../../version.js';
import { writeJson, type CliContext } from '../context.js';

export interface BuildCommandOptions {
  manifests: string | undefined;
  /** `--image REF`, repeatable. */
  image: string[];
  imageList: string | undefined;
  release: string | undefined;
  releaseUrl: string | undefined;
  spec: string | undefined;
  tiers: string | undefined;
  platform: string | undefined;
  out: string;
  mirror: string[];
  registry: string | undefined;
  awsPartition: string | undefined;
  splitSize: string | undefined;
  archives: number | undefined;
  seedRegistryImage: string | undefined;
  /** False with --no-seed-registry. */
  seedRegistry: boolean;
  force: boolean;
  concurrency: number;
  attempts: number;
  source: string;
  cache: string | undefined;
  insecureRegistry: string[];
  dockerHost: string | undefined;
  sign: string | undefined;
  since: string | undefined;
  json: boolean;
  progress: boolean;
}

export type ImageSourceKind = 'registry' | 'engine';

export function sourceOption(text: string): ImageSourceKind {
  if (text === 'registry' || text === 'engine') return text;
  throw new KfbundleError('USAGE', `invalid --source "${text}"`, {
    hint: 'registry (the default: straight from the registries, no Docker engine) or engine (through a Docker engine, for images only it has)',
  });
}

/**
 * The image store a build uses: the registries themselves (blobs kept in the cache, layers as served), or a Docker
 * engine (pull, then `docker save`).
 */
async function imageStoreFor(
  source: ImageSourceKind,
  options: BuildCommandOptions,
  context: CliContext,
  platforms: readonly Platform[],
  base: BaseBundle | undefined,
  warn: (message: string) => void,
): Promise<{ store: ImageStore; storeFor: (platform: Platform) => ImageStore; close(): void }> {
  if (source === 'engine') {
    const store = new DockerImageStore({ host: options.dockerHost ?? context.env['DOCKER_HOST'], platform: platforms[0]! });
    return { store, storeFor: () => store, close() {} };
  }
  // One client, so one blob cache and one set of registry tokens, for every platform's store.
  const client = await registryClientFor(options, context, warn);
  // Each platform's nodes hold the base images of that platform only.
  const held = (platform: Platform) => (base === undefined ? undefined : baseContent(base, formatPlatform(platform)));
  return {
    store: new RegistryImageStore({ client, platform: platforms[0]!, base: held(platforms[0]!) }),
    storeFor: (platform) => new RegistryImageStore({ client, platform, base: held(platform) }),
    close: () => client.close(),
  };
}

/** `--archives`: several archives are laid out by shared layers, which only the registry source knows before saving. */
function archivesOption(archives: number | undefined, source: ImageSourceKind): number | undefined {
  if (archives === undefined) return undefined;
  if (archives > MAX_ARCHIVES) {
    throw new KfbundleError('USAGE', `--archives ${archives} is more than ${MAX_ARCHIVES}`, { hint: `choose 1 to ${MAX_ARCHIVES}; install.sh loads one archive per core at a time` });
  }
  if (source === 'engine' && archives > 1) {
    throw new KfbundleError('USAGE', '--archives above 1 is for the registry source', { hint: 'with --source engine the images go into one archive; drop --archives' });
  }
  return archives;
}

function describeArchives(archives: readonly ImageArchiveFacts[]): string {
  const bytes = formatBytes(archives.reduce((sum, archive) => sum + archive.size, 0));
  const parts = archives.reduce((sum, archive) => sum + archive.parts.length, 0);
  const split = parts > archives.length ? ` in ${parts} parts` : '';
  return archives.length === 1 ? `${bytes}${split}` : `${bytes} in ${archives.length} archives${split}`;
}

const ADD_ON_INPUT = 'add-on images';

/** The manifests of an add-on bundle: none. */
const ADD_ON_SOURCE: ManifestSource = {
  render: async () => ({ text: '', kind: 'images', description: ADD_ON_INPUT }),
};

/** `--image REF …` and `--image-list FILE`, each reference checked, in the order given. */
async function addedImagesOption(options: BuildCommandOptions): Promise<AddedImage[]> {
  const named = options.image.map((ref) => ({ ref: normalisedRef(ref, '--image'), from: '--image' }));
  if (options.imageList === undefined) return named;
  const text = await readFile(options.imageList, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new KfbundleError('USAGE', `--image-list ${options.imageList}: cannot read it (${error.code ?? error.message})`);
  });
  const listed = parseImageList(text, options.imageList);
  if (listed.length === 0) throw new KfbundleError('USAGE', `--image-list ${options.imageList} names no image`, { hint: 'one image reference a line; # starts a comment' });
  return [...named, ...listed];
}

/** Refuses, before anything is read or fetched, what only the registry source can build. */
function registryOnly(source: ImageSourceKind, platforms: readonly Platform[], since: string | undefined): void {
  if (source !== 'engine') return;
  // An engine keeps one image per tag: a second platform's pull would replace the first's before it was saved.
  if (platforms.length > 1) {
    throw new KfbundleError('USAGE', `--platform ${platforms.map(formatPlatform).join(',')}: a bundle of several platforms is built from registries`, {
      hint: 'drop --source engine, or build one bundle per platform through the engine',
    });
  }
  // An engine's save re-writes every layer: it cannot leave out the ones a base holds.
  if (since !== undefined) throw new KfbundleError('USAGE', '--since: a delta bundle is built from registries', { hint: 'drop --source engine, or build a full bundle through the engine' });
}

/** `--since OLD`: a bundle directory or its bundle.json. */
async function readBaseBundle(path: string): Promise<BaseBundle> {
  const read = await readBundleMetadata(path);
  if (read === undefined) throw new KfbundleError('USAGE', `--since ${path}: no bundle there (no ${BUNDLE_FILES.metadata})`, { hint: 'give the base bundle\'s directory, or its bundle.json' });
  return parseBaseMetadata(read.text, path);
}

/** What a delta left to its base, in the build's closing lines. */
function describeDelta(metadata: BundleMetadata): string {
  const base = metadata.base;
  if (base === undefined) return '';
  const refs = new Set(metadata.images.filter((image) => image.tier !== SEED_TIER).map((image) => image.bundleRef)).size;
  const layered = new Set(base.uses.filter((use) => use.use === 'layers').flatMap((use) => use.for)).size;
  return (
    `a delta on ${base.release} (bundle ${base.contentDigest.slice(0, 12)}): ${base.taken.length} of ${refs} images are the base's (carried as config and manifest only), ` +
    `${layered} more share its layers; the target needs the ${base.uses.length} base images listed in ${BUNDLE_FILES.baseImages}\n`
  );
}

function seedRegistryImageOption(options: BuildCommandOptions): string | undefined {
  if (!options.seedRegistry) {
    if (options.seedRegistryImage !== undefined) throw new KfbundleError('USAGE', '--seed-registry-image and --no-seed-registry contradict each other', { hint: 'give one of them' });
    return undefined;
  }
  const ref = options.seedRegistryImage ?? DEFAULT_SEED_REGISTRY_IMAGE;
  try {
    parseImageRef(ref);
  } catch (error) {
    throw new KfbundleError('USAGE', `invalid --seed-registry-image "${ref}": ${(error as Error).message}`, { hint: 'an image reference, e.g. docker.io/library/registry:2.8.3' });
  }
  return ref;
}

export async function runBuild(options: BuildCommandOptions, context: CliContext): Promise<number> {
  const imageSource = sourceOption(options.source);
  if (imageSource === 'registry' && options.dockerHost !== undefined) {
    throw new KfbundleError('USAGE', '--docker-host is for --source engine', { hint: 'add --source engine to build through that Docker engine' });
  }
  const mirrors = options.mirror.flatMap(parseMirror);
  const tiers = tiersOption(options.tiers);
  const platforms = platformsOption(options.platform, process.arch);
  registryOnly(imageSource, platforms, options.since);
  const registry = options.registry === undefined ? undefined : parseRegistryTarget(options.registry);
  const awsPartition = options.awsPartition === undefined ? undefined : parseAwsPartition(options.awsPartition);
  const splitSize = options.splitSize === undefined ? undefined : parseByteSize(options.splitSize);
  const maxArchives = archivesOption(options.archives, imageSource);
  const addedImages = await addedImagesOption(options);
  // Images and no release: an add-on bundle, installed (loaded, pushed or seeded) by the same installer.
  const addOn = addedImages.length > 0 && options.manifests === undefined && options.release === undefined;
  if (addOn && options.spec !== undefined) throw new KfbundleError('USAGE', '--spec is for a release; an add-on bundle of --image / --image-list has none', { hint: 'drop --spec, or give --release or --manifests too' });
  const { source, input, spec, notice } = addOn ? { source: ADD_ON_SOURCE, input: ADD_ON_INPUT, spec: undefined, notice: undefined } : await resolveManifestInput(options, context.signal, true, context.env);
  if (notice !== undefined) context.stderr.write(`note: ${notice}\n`);
  // Read and check the key before minutes of pulls, not after.
  const signingKey = options.sign === undefined ? undefined : await readKey(options.sign);
  if (signingKey !== undefined) signBytes(Buffer.from('probe'), signingKey, options.sign!);
  const base = options.since === undefined ? undefined : await readBaseBundle(options.since);
  const dockerConfig = await readDockerConfig(context.env);
  const reporter = createBuildReporter({
    stream: context.stderr,
    // NOTE: a pseudo-terminal can report 0 columns (script, some CI runners); ora then loops forever clearing its line.
    interactive: options.progress && context.stderr.isTTY === true && (context.stderr.columns ?? 0) > 0,
    now: () => new Date(),
  });
  const images = await imageStoreFor(imageSource, options, context, platforms, base, (message) => reporter.report({ type: 'warning', message }));
  try {
    const result = await buildBundle(
      {
        manifests: input,
        addedImages,
        outDir: options.out,
        mirrors,
        spec,
        tiers,
        platforms,
        registry,
        awsPartition,
        splitSize,
        maxArchives,
        seedRegistryImage: seedRegistryImageOption(options),
        base,
        force: options.force,
        concurrency: options.concurrency,
        attempts: options.attempts,
        signal: context.signal,
      },
      {
        source,
        store: images.store,
        storeFor: images.storeFor,
        output: directoryBundleOutput,
        installerTemplate: await readInstallerTemplate(),
        toolVersion: context.toolVersion,
        credentials: (registry) => credentialsFor(dockerConfig, registry),
        sleep: (ms, signal) => sleep(ms, undefined, { signal }),
        random: Math.random,
        now: () => performance.now(),
        report: (event) => reporter.report(event),
        sign: signingKey === undefined ? undefined : (data) => signBytes(data, signingKey, options.sign!),
      },
    );
    reporter.close();
    const archives = result.metadata.imageArchives;
    if (options.json) {
      writeJson(context, { bundle: options.out, metadata: result.metadata, timingsMs: result.timings });
    } else {
      context.stdout.write(
        `bundle written to ${options.out} for ${(result.metadata.platforms ?? [result.metadata.platform ?? formatPlatform(platforms[0]!)]).join(', ')}: ` +
          `${result.metadata.input.kind === 'images' ? 'an add-on of ' : ''}${new Set(result.metadata.images.filter((image) => image.tier !== SEED_TIER).map((image) => image.ref)).size} images` +
          (result.metadata.images.some((image) => image.tier === SEED_TIER) ? ' and the seed registry' : '') +
          `${archives.length === 0 ? '' : ` (${describeArchives(archives)})`}, ` +
          `${result.metadata.input.objects} objects, ` +
          `${result.metadata.manifests.changes} manifest edits\n` +
          (registry === undefined ? '' : `manifests/ name every image under ${registry}; install.sh pushes them there\n`) +
          describeDelta(result.metadata) +
          `next: kfbundle verify ${options.out}   then on the target: ${options.out}/install.sh\n`,
      );
    }
    return 0;
  } finally {
    images.close();
    reporter.close();
  }
}
