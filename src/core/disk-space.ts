// How much room the image archive needs, from what the engine knows before the save: each image's size and the part
// of it shared with other images. Shared layers are stored once in the archive, so the sum of sizes overcounts.

export interface ImageUsage {
  size: number;
  /** Bytes of the image's layers that other images in the engine also use. */
  sharedSize: number;
}

export interface SizeBounds {
  /** The archive cannot be smaller: the layers no other image has, plus the largest shared part of any one image. */
  lower: number;
  /** The archive cannot be larger (plus tar headers): every image counted whole. */
  upper: number;
}

/** Tar headers and the per-image JSON files: a few kilobytes per layer, generously rounded. */
const OVERHEAD_PER_IMAGE = 64 * 1024;

export function archiveSizeBounds(images: readonly ImageUsage[]): SizeBounds {
  const unique = images.reduce((sum, image) => sum + Math.max(0, image.size - Math.max(0, image.sharedSize)), 0);
  const largestShared = images.reduce((max, image) => Math.max(max, image.sharedSize), 0);
  const largest = images.reduce((max, image) => Math.max(max, image.size), 0);
  return {
    lower: Math.max(largest, unique + largestShared),
    upper: images.reduce((sum, image) => sum + image.size, 0) + images.length * OVERHEAD_PER_IMAGE,
  };
}
