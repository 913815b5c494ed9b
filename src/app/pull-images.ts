// Pulls every image a bundle needs, through mirrors, with bounded concurrency and retries, and names each one the
// way the bundle will store it. Every failure is collected so one build reports every missing image at once.

import pLimit from 'p-limit';
import type { BundleImage, BundleTier } from '../core/bundle-layout.js';
import { ENGINE_FAILURES, KfbundleError, LOCAL_FAILURES, isKfbundleError } from '../core/errors.js';
import { bundleRefFor, imageName, parseImageRef, pullRefFor, type ImageRef } from '../core/image-ref.js';
import { mirrorCandidates, type Mirror } from '../core/mirrors.js';
import { isRetryablePullError, retry } from '../core/retry.js';
import type { ImageStore, PullProgress, RegistryAuth, ServedManifest, Sleeper } from './ports.js';

export type PullEvent =
  | { type: 'pull-start'; ref: string; from: string }
  | { type: 'pull-progress'; ref: string; current: number; total: number }
  | { type: 'pull-retry'; ref: string; attempt: number; delayMs: number; message: string }
  | { type: 'pull-done'; ref: string; size: number; alreadyPresent: boolean }
  | { type: 'pull-failed'; ref: string; message: string }
  /** One source (a mirror) failed or served the wrong image; the next one is tried. */
  | { type: 'pull-source-failed'; ref: string; from: string; message: string };

/** An image to bundle: its normalised reference, where to pull it from if not from there, and where it is used. */
export interface ImageToPull {
  ref: string;
  parsed: ImageRef;
  tier: BundleTier;
  locations: readonly { object: string; path: string }[];
  pullFrom?: ImageRef | undefined;
}

export interface PullImagesOptions {
  mirrors: readonly Mirror[];
  concurrency: number;
  attempts: number;
  signal?: AbortSignal | undefined;
}

export interface PullImagesDeps {
  store: ImageStore;
  credentials: (registry: string) => RegistryAuth | undefined;
  sleep: Sleeper;
  random: () => number;
  report: (event: PullEvent) => void;
}

function sumLayers(progress: PullProgress): { current: number; total: number } {
  let current = 0;
  let total = 0;
  for (const [layerCurrent, layerTotal] of progress.layers.values()) {
    current += layerCurrent;
    total += layerTotal;
  }
  return { current, total };
}

/** The repository digest the engine recorded for the reference pulled, e.g. `sha256:…`. */
function repoDigestFor(pulledRef: string, repoDigests: readonly string[]): string | undefined {
  const name = imageName(parseImageRef(pulledRef));
  for (const repoDigest of repoDigests) {
    const at = repoDigest.lastIndexOf('@');
    if (at === -1) continue;
    if (imageName(parseImageRef(repoDigest.slice(0, at) + ':x')) === name) return repoDigest.slice(at + 1);
  }
  return undefined;
}

interface SourceFailure {
  from: string;
  message: string;
  mismatch: boolean;
}

/**
 * Tries each mirror for the image in order, then its origin. An image from a mirror is kept only when its digest is
 * the pinned one, or the origin's when the origin answers; otherwise the next source is tried. bundle.json records
 * which source served it (`pulledFrom`).
 */
async function pullOne(image: ImageToPull, options: PullImagesOptions, deps: PullImagesDeps): Promise<BundleImage> {
  const origin = image.pullFrom ?? image.parsed;
  const candidates = mirrorCandidates(origin, options.mirrors);
  const bundleRef = bundleRefFor(image.parsed);
  // The origin's digest is worth a question only when a mirror may serve the image instead.
  const expected = origin.digest ?? (candidates.length > 1 ? await remoteDigest(pullRefFor(origin), deps) : undefined);
  const failures: SourceFailure[] = [];

  for (const candidate of candidates) {
    const pulledFrom = pullRefFor(candidate);
    deps.report({ type: 'pull-start', ref: image.ref, from: pulledFrom });
    let alreadyPresent: boolean;
    try {
      alreadyPresent = await presentWithDigest(pulledFrom, expected, deps);
      if (!alreadyPresent) await pullWithRetries(image.ref, pulledFrom, candidate.registry, options, deps);
    } catch (error) {
      if (options.signal?.aborted || noSourceCanHelp(error)) throw error;
      failures.push({ from: pulledFrom, message: (error as Error).message, mismatch: false });
      deps.report({ type: 'pull-source-failed', ref: image.ref, from: pulledFrom, message: (error as Error).message });
      continue;
    }
    const pulled = await deps.store.inspect(pulledFrom);
    if (pulled === undefined) {
      failures.push({ from: pulledFrom, message: 'the pull reported success but the engine has no such image', mismatch: false });
      continue;
    }
    const digest = repoDigestFor(pulledFrom, pulled.repoDigests);
    if (expected !== undefined && digest !== expected) {
      const wanted = origin.digest === undefined ? `the origin's ${expected}` : `the pinned ${expected}`;
      const message = `served ${digest ?? 'no repository digest'}, not ${wanted}`;
      failures.push({ from: pulledFrom, message, mismatch: true });
      deps.report({ type: 'pull-source-failed', ref: image.ref, from: pulledFrom, message });
      continue;
    }
    if (pulledFrom !== bundleRef) await deps.store.tag(pulledFrom, bundleRef);
    deps.report({ type: 'pull-done', ref: image.ref, size: pulled.size, alreadyPresent });
    return {
      ref: image.ref,
      tier: image.tier,
      bundleRef,
      pulledFrom,
      digest,
      ...(image.parsed.digest === undefined ? {} : { pinnedDigest: image.parsed.digest }),
      ...(pulled.platform === undefined ? {} : { platform: pulled.platform }),
      ...servedManifestFacts(pulled.manifest),
      imageId: pulled.id,
      size: pulled.size,
      locations: image.locations.map((location) => ({ object: location.object, path: location.path })),
    };
  }

  const mismatch = failures.some((failure) => failure.mismatch);
  const detail = failures.map((failure) => `${failure.from}: ${failure.message}`).join('; ');
  throw new KfbundleError(mismatch ? 'DIGEST_MISMATCH' : 'PULL_FAILED', candidates.length === 1 ? failures[0]!.message : `every source failed: ${detail}`, {
    hint: mismatch ? 'a mirror serves different content under this name; remove it or fix the mirror' : undefined,
  });
}

/** What bundle.json records of the manifest the archive holds as served (nothing for an engine's image). */
function servedManifestFacts(manifest: ServedManifest | undefined): Pick<BundleImage, 'manifestDigest' | 'manifestMediaType' | 'platform' | 'indexComplete' | 'layers'> {
  if (manifest === undefined) return {};
  return {
    manifestDigest: manifest.digest,
    manifestMediaType: manifest.mediaType,
    platform: manifest.platform,
    ...(manifest.indexComplete === undefined ? {} : { indexComplete: manifest.indexComplete }),
    ...(manifest.layers === undefined ? {} : { layers: [...manifest.layers] }),
  };
}

/**
 * The engine itself failed (gone, refused us, too old), or this machine did (the blob cache's disk): no other source
 * can help, and no retry of a source will.
 */
function noSourceCanHelp(error: unknown): boolean {
  return isKfbundleError(error) && (ENGINE_FAILURES.has(error.code) || LOCAL_FAILURES.has(error.code));
}

async function pullWithRetries(ref: string, pulledFrom: string, registry: string, options: PullImagesOptions, deps: PullImagesDeps): Promise<void> {
  await retry(
    () =>
      deps.store.pull(pulledFrom, {
        auth: deps.credentials(registry),
        signal: options.signal,
        onProgress: (progress) => deps.report({ type: 'pull-progress', ref, ...sumLayers(progress) }),
      }),
    {
      attempts: options.attempts,
      baseDelayMs: 1000,
      maxDelayMs: 30_000,
      sleep: deps.sleep,
      random: deps.random,
      isRetryable: isRetryablePullError,
      signal: options.signal,
      onRetry: ({ attempt, delayMs, error }) => deps.report({ type: 'pull-retry', ref, attempt, delayMs, message: (error as Error).message }),
    },
  );
}

/** The digest the registry serves for a reference now, or undefined when it cannot be asked (then nothing is assumed). */
async function remoteDigest(ref: string, deps: PullImagesDeps): Promise<string | undefined> {
  return deps.store.remoteDigest(ref, deps.credentials(parseImageRef(ref).registry)).catch(() => undefined);
}

/**
 * Whether the engine already holds `pulledFrom` with the digest wanted (pinned, the origin's, or else the one the
 * source serves now), so a build run again after an interruption does not pull gigabytes a second time. The source
 * is asked only about images the engine has; without a digest to compare, it pulls.
 */
async function presentWithDigest(pulledFrom: string, expected: string | undefined, deps: PullImagesDeps): Promise<boolean> {
  const local = await deps.store.inspect(pulledFrom);
  const localDigest = local === undefined ? undefined : repoDigestFor(pulledFrom, local.repoDigests);
  if (localDigest === undefined) return false;
  return localDigest === (expected ?? (await remoteDigest(pulledFrom, deps)));
}

/** Pulls under way: one promise per image (in the order given), and the outcome of them all. */
export interface StartedPulls {
  /** Settles when that image is pulled (or has failed); lets its save start before the others finish. */
  each: Promise<BundleImage>[];
  /**
   * Every image, in the order given, once all have settled.
   * @throws KfbundleError PULL_FAILED listing every image that could not be pulled.
   */
  all: Promise<BundleImage[]>;
}

export function startPulls(images: readonly ImageToPull[], options: PullImagesOptions, deps: PullImagesDeps): StartedPulls {
  const limit = pLimit(Math.max(1, options.concurrency));
  const each = images.map((image) => limit(() => pullOne(image, options, deps)));
  return { each, all: collectPulls(images, each, options, deps) };
}

/** Pulls all images; resolves in the order given. */
export async function pullImages(images: readonly ImageToPull[], options: PullImagesOptions, deps: PullImagesDeps): Promise<BundleImage[]> {
  return startPulls(images, options, deps).all;
}

async function collectPulls(
  images: readonly ImageToPull[],
  each: readonly Promise<BundleImage>[],
  options: PullImagesOptions,
  deps: PullImagesDeps,
): Promise<BundleImage[]> {
  const settled = await Promise.allSettled(each);
  const failures: string[] = [];
  const pulled: BundleImage[] = [];
  settled.forEach((result, index) => {
    if (result.status === 'fulfilled') {
      pulled.push(result.value);
    } else {
      const message = (result.reason as Error).message;
      deps.report({ type: 'pull-failed', ref: images[index]!.ref, message });
      failures.push(`  ${images[index]!.ref}: ${message}`);
    }
  });
  if (options.signal?.aborted) throw options.signal.reason;
  // An engine that went away (or a cache disk that is full) fails every image after it; its error says what to do.
  const fatal = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected' && noSourceCanHelp(r.reason));
  if (fatal !== undefined) throw fatal.reason;
  if (failures.length > 0) {
    const first = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
    throw new KfbundleError(
      first instanceof KfbundleError && first.code === 'DIGEST_MISMATCH' ? 'DIGEST_MISMATCH' : 'PULL_FAILED',
      `${failures.length} of ${images.length} images could not be pulled:\n${failures.join('\n')}`,
      { hint: 'check the names, your registry credentials (docker login), or add --mirror SRC=DST for a registry you can reach' },
    );
  }
  return pulled;
}
