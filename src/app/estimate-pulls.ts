// How much a build will fetch for one platform, told before the first blob is: each image's manifest (through the
// mirrors, the way the pull will go) says its blobs and their sizes as served, and a blob shared by several images
// counts once. The registries' own numbers, so the figure is what crosses the wire, not an engine's unpacked size.

import pLimit from 'p-limit';
import { mirrorCandidates, type Mirror } from '../core/mirrors.js';
import { pullRefFor } from '../core/image-ref.js';
import type { ImageStore } from './ports.js';
import type { ImageToPull } from './pull-images.js';

export interface PullEstimate {
  /** Bytes of the distinct blobs of every image whose manifest answered. */
  bytes: number;
  /** Images counted in `bytes`. */
  images: number;
  /** Images no source described before pulling (the pull will say why, or get them). */
  unknown: string[];
}

/** undefined when the store cannot describe an image before pulling it (an engine). */
export async function estimatePulls(
  images: readonly ImageToPull[],
  options: { mirrors: readonly Mirror[]; concurrency: number; signal?: AbortSignal | undefined },
  store: ImageStore,
): Promise<PullEstimate | undefined> {
  const describe = store.describe?.bind(store);
  if (describe === undefined) return undefined;
  const limit = pLimit(Math.max(1, options.concurrency));
  const described = await Promise.all(
    images.map((image) =>
      limit(async () => {
        for (const candidate of mirrorCandidates(image.pullFrom ?? image.parsed, options.mirrors)) {
          if (options.signal?.aborted) break;
          const blobs = await describe(pullRefFor(candidate), { signal: options.signal }).catch(() => undefined);
          if (blobs !== undefined) return blobs;
        }
        return undefined;
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
