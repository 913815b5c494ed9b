// Which images go into which of the bundle's image archives. One `docker load` applies its layers one after another,
// and for layers kept compressed it gunzips them on one core: a 10 GB bundle loads at the pace of a single core while
// the node has many. Several archives that each load on their own can be loaded at once (install.sh runs one load per
// core). An archive loads on its own only if it holds every blob of its images, and a shared layer is stored once, so
// images that share any blob (layer or config), directly or through others, stay in one archive: the groups are
// whole connected components, packed largest first into the emptiest archive.

import type { ImageToSave } from './save-archive-layout.js';

/** Archives at most, unless the build asks for another number: enough for the cores of common nodes. */
export const DEFAULT_MAX_ARCHIVES = 4;
/** The most archives a build may ask for (one digit in their names). */
export const MAX_ARCHIVES = 9;
/**
 * Without an explicit number, an archive gets at least this many bytes (compressed; about 5 s of one core's
 * gunzip and unpacking): below it, what a second load at once saves is less than what it costs to start.
 */
export const MIN_AUTO_ARCHIVE_BYTES = 128 * 1024 * 1024;

export interface ArchiveGroupsOptions {
  /** The build's explicit number (`--archives`): up to this many archives, whatever their size. */
  maxArchives?: number | undefined;
}

interface Component {
  images: ImageToSave[];
  bytes: number;
  /** The smallest manifest digest in it: a tie-breaker independent of input order. */
  key: string;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function blobsOf(item: ImageToSave): { digest: string; size: number }[] {
  return [item.image.config, ...item.image.layers];
}

/** Groups of images sharing blobs, with the bytes their distinct blobs take. */
function components(images: readonly ImageToSave[]): Component[] {
  const parent = images.map((_, index) => index);
  const root = (index: number): number => {
    while (parent[index] !== index) {
      parent[index] = parent[parent[index]!]!;
      index = parent[index]!;
    }
    return index;
  };
  const owner = new Map<string, number>();
  images.forEach((item, index) => {
    for (const blob of blobsOf(item)) {
      const first = owner.get(blob.digest);
      if (first === undefined) owner.set(blob.digest, index);
      else parent[root(index)] = root(first);
    }
  });
  const byRoot = new Map<number, { images: ImageToSave[]; blobs: Map<string, number> }>();
  images.forEach((item, index) => {
    const group = byRoot.get(root(index)) ?? { images: [], blobs: new Map<string, number>() };
    byRoot.set(root(index), group);
    group.images.push(item);
    for (const blob of blobsOf(item)) group.blobs.set(blob.digest, blob.size);
  });
  return [...byRoot.values()].map(({ images: members, blobs }) => ({
    images: members,
    bytes: [...blobs.values()].reduce((sum, size) => sum + size, 0),
    key: members.map((item) => item.image.manifestDigest).sort(compare)[0]!,
  }));
}

/**
 * The images split into archives that each load on their own: at most `maxArchives` when given, else at most
 * DEFAULT_MAX_ARCHIVES of at least MIN_AUTO_ARCHIVE_BYTES (by the blobs' served sizes). Largest archive first, so
 * an installer that starts loads in this order finishes soonest. The same images give the same groups whatever
 * their order. Fewer archives than asked when fewer groups of images share nothing.
 */
export function archiveGroups(images: readonly ImageToSave[], options: ArchiveGroupsOptions = {}): ImageToSave[][] {
  if (images.length === 0) return [];
  const parts = components(images).sort((a, b) => b.bytes - a.bytes || compare(a.key, b.key));
  const total = parts.reduce((sum, part) => sum + part.bytes, 0);
  const wanted = options.maxArchives ?? Math.min(DEFAULT_MAX_ARCHIVES, Math.max(1, Math.floor(total / MIN_AUTO_ARCHIVE_BYTES)));
  const count = Math.max(1, Math.min(wanted, parts.length));
  const bins = Array.from({ length: count }, () => ({ images: [] as ImageToSave[], bytes: 0, key: '' }));
  for (const part of parts) {
    // The emptiest archive; among equals the first, so the result depends on sizes and digests only.
    const bin = bins.reduce((least, candidate) => (candidate.bytes < least.bytes ? candidate : least));
    bin.images.push(...part.images);
    bin.bytes += part.bytes;
    if (bin.key === '' || part.key < bin.key) bin.key = part.key;
  }
  return bins
    .sort((a, b) => b.bytes - a.bytes || compare(a.key, b.key))
    .map((bin) => bin.images.sort((a, b) => compare(a.image.manifestDigest, b.image.manifestDigest) || compare(a.image.ref, b.image.ref)));
}
