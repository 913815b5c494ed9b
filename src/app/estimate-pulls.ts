// How much a build will fetch for one platform, told before the first blob is: each image's manifest (through the
// mirrors, the way the pull will go) says its blobs and their sizes as served, and a blob shared by several images
// counts once. The registries' own numbers, so the figure is what crosses the wire, not an engine's unpacked size.

import pLimit from 'p-limit';
import { mirrorCandidates, type Mirror } from '../core/mirrors.js';
import { pullRefFor } from '../core/image-ref.js';
import type { ImageStore } from './ports.js';
import type { BlobDescriptor } from '../core/registry-image.js';
import type { ImageToPull } from './pull-images.js';

export interface PullEstimate {
  /** Bytes of the distinct blobs of every image whose manifest answered. */
  bytes: number;
  /** Images counted in `bytes`. */
  images: number;
  /** Images no source described before pulling (the pull will say why, or get them). */
  unknown: string[];
}

/**
 * Manifests asked at once: small requests, so more than the pulls' concurrency. A store that fetches blobs itself
 * keeps each answer for the pull (one request either way).
 */
export const ESTIMATE_CONCURRENCY = 8;

/**
 * How long the estimate waits for one image's manifest. A slower one counts as not known: the estimate must never
 * hold back the pulls (a registry that stalls one image would stall them all). Its request goes on for the pull.
 */
export const ESTIMATE_WAIT_MS = 2000;

/** How long the whole estimate may take before the pulls start, whatever the number of images. */
export const ESTIMATE_TOTAL_MS = 10_000;

/** undefined when the store cannot describe an image before pulling it (an engine). */
export async function estimatePulls(
  images: readonly ImageToPull[],
  options: { mirrors: readonly Mirror[]; concurrency: number; signal?: AbortSignal | undefined },
  store: ImageStore,
  waitMs: number = ESTIMATE_WAIT_MS,
  totalMs: number = ESTIMATE_TOTAL_MS,
): Promise<PullEstimate | undefined> {
  const describe = store.describe?.bind(store);
  if (describe === undefined) return undefined;
  const limit = pLimit(Math.max(ESTIMATE_CONCURRENCY, options.concurrency));
  const describeOne = async (image: ImageToPull): Promise<BlobDescriptor[] | undefined> => {
    for (const candidate of mirrorCandidates(image.pullFrom ?? image.parsed, options.mirrors)) {
      if (options.signal?.aborted) break;
      const blobs = await describe(pullRefFor(candidate), { signal: options.signal }).catch(() => undefined);
      if (blobs !== undefined) return blobs;
    }
    return undefined;
  };
  const deadline = Date.now() + totalMs;
  const described = await Promise.all(
    images.map((image) =>
      limit(() => {
        const left = Math.min(waitMs, deadline - Date.now());
        return left <= 0 ? undefined : withinMs(describeOne(image), left);
      }),
    ),
  );
  const sizes = new Map<string, number>();
  const unknown: string[] = [];
  described.forEach((blobs, index) => {
    if (blobs === undefined) return void unknown.push(images[index]!.ref);
    for (const blob of blobs) sizes.set(blob.digest, blob.size);
  });
  let bytes = 0;
  for (const size of sizes.values()) bytes += size;
  return { bytes, images: images.length - unknown.length, unknown };
}

/** The promise's value, or undefined once `ms` have passed (the work itself goes on). */
async function withinMs<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
