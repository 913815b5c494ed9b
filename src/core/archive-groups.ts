// Which images go into which of the bundle's image archives. One `docker load` applies its layers one after another,
// and for layers kept compressed it gunzips them on one core: a 10 GB bundle loads at the pace of a single core while
// the node has many. Archives loaded at once use the cores, but most images share base layers (a distroless or
// Python base under half a release), and a shared layer is stored once, so the archives cannot all be independent.
//
// They load in two stages. Images share bases as common prefixes of their layer lists; for every deepest shared
// prefix, one image that has it (the one with the fewest bytes of its own) goes to stage 1, which holds every blob of
// its images. Every other image goes to stage 2 with only its own blobs: the layers past its shared prefix, and its
// config. Once stage 1 is loaded, the shared prefixes are present on the node, and both `docker load` and `ctr images
// import` take a layer that is present without reading it from the archive (measured with Docker 20.10 and
// containerd 1.6: without stage 1 they fail, naming the missing layer). Within a stage, images whose blobs overlap
// stay in one archive, so no blob is in two archives and the archives of a stage load at once; they are packed
// largest first into the emptiest archive. Images that share nothing need no stage 1: they go there while they fit
// beside its largest archive (a lane that would idle), else to stage 2.

import type { ImageToSave } from './save-archive-layout.js';
import { byteOrder } from './byte-order.js';

/** Archives per stage at most, unless the build asks for another number: enough for the cores of common nodes. */
export const DEFAULT_MAX_ARCHIVES = 4;
/** The most archives per stage a build may ask for. */
export const MAX_ARCHIVES = 9;
/**
 * Without an explicit number, an archive gets at least this many bytes (compressed; about 5 s of one core's
 * gunzip and unpacking): below it, what a second load at once saves is less than what it costs to start.
 */
export const MIN_AUTO_ARCHIVE_BYTES = 128 * 1024 * 1024;

export interface ArchiveGroupsOptions {
  /** The build's explicit number (`--archives`): up to this many archives per stage, whatever their size. */
  maxArchives?: number | undefined;
}

export interface ArchiveGroup {
  /** 1 or 2: every archive of stage 1 is loaded before any of stage 2; those of one stage load at once. */
  stage: number;
  images: ImageToSave[];
  /** Blobs its images use that an archive of stage 1 holds: listed in its manifests, not stored in it. */
  heldEarlier: ReadonlySet<string>;
}

const byManifest = (a: ImageToSave, b: ImageToSave) => byteOrder(a.image.manifestDigest, b.image.manifestDigest) || byteOrder(a.image.ref, b.image.ref);

interface Member {
  item: ImageToSave;
  /** Layers past the shared prefix, and the config: what the image alone brings. */
  own: Map<string, number>;
  all: Map<string, number>;
  /** How many leading layers other images have too, as the same prefix. */
  sharedPrefix: number;
}

const prefixKey = (item: ImageToSave, length: number) => item.image.layers.slice(0, length).map((layer) => layer.digest).join(',');

/** Per image: the length of its longest layer prefix that another image (by manifest) also starts with. */
function members(images: readonly ImageToSave[]): Member[] {
  const users = new Map<string, Set<string>>();
  for (const item of images) {
    for (let length = 1; length <= item.image.layers.length; length++) {
      const key = prefixKey(item, length);
      const set = users.get(key) ?? new Set<string>();
      users.set(key, set.add(item.image.manifestDigest));
    }
  }
  return images.map((item) => {
    let sharedPrefix = 0;
    while (sharedPrefix < item.image.layers.length && (users.get(prefixKey(item, sharedPrefix + 1))?.size ?? 0) > 1) sharedPrefix++;
    const all = new Map([item.image.config, ...item.image.layers].map((blob) => [blob.digest, blob.size] as const));
    const own = new Map([item.image.config, ...item.image.layers.slice(sharedPrefix)].map((blob) => [blob.digest, blob.size] as const));
    return { item, own, all, sharedPrefix };
  });
}

const bytesOf = (blobs: ReadonlyMap<string, number>) => [...blobs.values()].reduce((sum, size) => sum + size, 0);

/** One image per deepest shared prefix: the one with the fewest bytes of its own, then by manifest digest. */
function seedsOf(all: readonly Member[]): Set<Member> {
  const prefixes = new Map<string, Member[]>();
  for (const member of all) {
    if (member.sharedPrefix === 0) continue;
    const key = prefixKey(member.item, member.sharedPrefix);
    prefixes.set(key, [...(prefixes.get(key) ?? []), member]);
  }
  // A prefix that is the start of a longer shared one is covered by the longer one's seed.
  const keys = [...prefixes.keys()];
  const deepest = keys.filter((key) => !keys.some((other) => other !== key && other.startsWith(`${key},`)));
  const seeds = new Set<Member>();
  for (const key of deepest) {
    const candidates = prefixes.get(key)!;
    seeds.add([...candidates].sort((a, b) => bytesOf(a.own) - bytesOf(b.own) || byManifest(a.item, b.item))[0]!);
  }
  return seeds;
}

/** Images that go together (a group whose blobs overlap, or an archive being packed) and the bytes of their blobs. */
interface Component {
  members: Member[];
  bytes: number;
  /** The smallest manifest digest in it: a tie-breaker independent of input order. */
  key: string;
}

/** Groups of members whose `blobsOf` overlap, directly or through others. */
function components(list: readonly Member[], blobsOf: (member: Member) => ReadonlyMap<string, number>): Component[] {
  const parent = list.map((_, index) => index);
  const root = (index: number): number => {
    while (parent[index] !== index) index = parent[index] = parent[parent[index]!]!;
    return index;
  };
  const owner = new Map<string, number>();
  list.forEach((member, index) => {
    for (const digest of blobsOf(member).keys()) {
      const first = owner.get(digest);
      if (first === undefined) owner.set(digest, index);
      else parent[root(index)] = root(first);
    }
  });
  const groups = new Map<number, Member[]>();
  list.forEach((member, index) => groups.set(root(index), [...(groups.get(root(index)) ?? []), member]));
  return [...groups.values()].map((group) => {
    const blobs = new Map<string, number>();
    for (const member of group) for (const [digest, size] of blobsOf(member)) blobs.set(digest, size);
    return { members: group, bytes: bytesOf(blobs), key: group.map((member) => member.item.image.manifestDigest).sort(byteOrder)[0]! };
  });
}

const largestFirst = (a: Component, b: Component) => b.bytes - a.bytes || byteOrder(a.key, b.key);
/** The bin with the fewest bytes; among equals the first, so the result depends on sizes and digests only. */
const emptiest = (bins: readonly Component[]) => bins.reduce((least, candidate) => (candidate.bytes < least.bytes ? candidate : least));

function place(bin: Component, part: Component): void {
  bin.members.push(...part.members);
  bin.bytes += part.bytes;
  if (bin.key === '' || part.key < bin.key) bin.key = part.key;
}

/** Components packed largest first into `count` bins, each into the emptiest. */
function pack(parts: readonly Component[], count: number): Component[] {
  const bins: Component[] = Array.from({ length: Math.max(1, count) }, () => ({ members: [], bytes: 0, key: '' }));
  for (const part of [...parts].sort(largestFirst)) place(emptiest(bins), part);
  return bins;
}

/** The bins with something in them, largest first, their images in manifest order. */
function archivesOf(bins: readonly Component[]): Member[][] {
  return bins
    .filter((bin) => bin.members.length > 0)
    .sort(largestFirst)
    .map((bin) => bin.members.sort((a, b) => byManifest(a.item, b.item)));
}

/**
 * The images split into archives in stages (above): at most `maxArchives` per stage when given, else at most
 * DEFAULT_MAX_ARCHIVES of at least MIN_AUTO_ARCHIVE_BYTES (by the blobs' served sizes), one archive when that is
 * one. Stage 1 first, each stage's largest archive first: the order an installer starts loads in. The same images
 * give the same archives whatever their order; no blob is in two archives.
 */
export function archiveGroups(images: readonly ImageToSave[], options: ArchiveGroupsOptions = {}): ArchiveGroup[] {
  if (images.length === 0) return [];
  const all = members(images);
  const total = bytesOf(new Map(all.flatMap((member) => [...member.all])));
  const count = options.maxArchives ?? Math.min(DEFAULT_MAX_ARCHIVES, Math.max(1, Math.floor(total / MIN_AUTO_ARCHIVE_BYTES)));
  if (count <= 1) return [{ stage: 1, images: [...images].sort(byManifest), heldEarlier: new Set() }];

  // Stage 1: the seeds, and any image whose own blobs stage 1 also holds (a layer two images have on different
  // parents, a config two manifests share): it could not take them from there, nor store them a second time.
  const first = seedsOf(all);
  for (let grew = true; grew; ) {
    grew = false;
    const held = new Set([...first].flatMap((member) => [...member.all.keys()]));
    for (const member of all) {
      if (first.has(member) || ![...member.own.keys()].some((digest) => held.has(digest))) continue;
      first.add(member);
      grew = true;
    }
  }
  const second = all.filter((member) => !first.has(member));
  // Stage 2 images that share own blobs (the same layer past different prefixes) stay together, like stage 1's.
  const secondParts = components(second, (member) => member.own);
  const firstBins = pack(components([...first], (member) => member.all), count);
  // Images that share nothing need no stage 1, and wait for none: they fill stage 1's lanes up to its longest one.
  const longest = Math.max(...firstBins.map((bin) => bin.bytes));
  const later: Component[] = [];
  for (const part of [...secondParts].sort(largestFirst)) {
    const bin = emptiest(firstBins);
    const alone = part.members.every((member) => member.sharedPrefix === 0);
    if (alone && (first.size === 0 || bin.bytes + part.bytes <= longest)) place(bin, part);
    else later.push(part);
  }
  const heldByFirst = new Set(firstBins.flatMap((bin) => bin.members.flatMap((member) => [...member.all.keys()])));
  const groups: ArchiveGroup[] = archivesOf(firstBins).map((bin) => ({ stage: 1, images: bin.map((member) => member.item), heldEarlier: new Set() }));
  for (const bin of archivesOf(pack(later, count))) {
    const heldEarlier = new Set(bin.flatMap((member) => [...member.all.keys()].filter((digest) => !member.own.has(digest))));
    for (const digest of heldEarlier) {
      // Every shared prefix starts some seed's layers; a prefix blob missing from stage 1 would fail the load.
      if (!heldByFirst.has(digest)) throw new Error(`archive groups: blob ${digest} is left to stage 1, which does not hold it`);
    }
    groups.push({ stage: 2, images: bin.map((member) => member.item), heldEarlier });
  }
  return groups;
}
