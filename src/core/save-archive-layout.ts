// Decides what a `docker save` archive of registry images holds and in which order, without fetching a byte: each
// distinct blob once under `blobs/sha256/<hex>` (layers compressed as the registry serves them, configs, and the
// manifests and indexes exactly as served), then `index.json`, `manifest.json` and `oci-layout`.
//
// Two loaders read the same archive by different files, which is why both lists are there:
// - Docker's classic image store (20.10 and later) reads manifest.json only: config and layer paths per image. It
//   decompresses each layer file itself, so compressed layers load, and the image ID is the config's digest, as a pull
//   gives. Without manifest.json Docker 20.10 refuses the archive.
// - containerd (`ctr images import`, and Docker's containerd image store) reads index.json whenever `oci-layout` is
//   present, and keeps the manifest (or index) it points at, so `ctr images ls` shows the upstream digest; from
//   manifest.json alone it writes a manifest of its own with another digest. It names each image by the
//   `io.containerd.image.name` annotation only; without it the image is imported unnamed.
// A `repositories` file is left out: no loader of these versions reads it once manifest.json is there, and its
// legacy layer IDs would name directories the archive does not have.

import { canonicalEntry } from './archive-order.js';
import { formatImageRef, parseImageRef } from './image-ref.js';
import type { RegistryImage } from './registry-image.js';
import { BLOCK, paddedSize } from './tar-header.js';
import { byteOrder } from './byte-order.js';

export interface ImageToSave {
  image: RegistryImage;
  /** The references the archive names the image by (bundle references: tagged, never by digest). */
  tags: readonly string[];
}

/** A file whose bytes the layout already holds: manifests and indexes as served, and the archive's own lists. */
export interface InlineEntry {
  kind: 'inline';
  name: string;
  data: Buffer;
  /** For a manifest or index: the digest `data` must have, checked by the writer before a byte is written. */
  digest?: string;
  /** For a manifest or index: the image it was served for, to name in messages. */
  ref?: string;
}

/** A config or layer, streamed from a blob source by digest; `image` is the one it is fetched through. */
export interface BlobEntry {
  kind: 'blob';
  name: string;
  digest: string;
  size: number;
  image: RegistryImage;
}

export type ArchiveEntry = InlineEntry | BlobEntry;

export interface SaveArchiveLayout {
  /** In archive order: lexical by name, as `docker save` writes them. */
  entries: ArchiveEntry[];
  /** Bytes of the whole archive: every header, padded entry and the end-of-archive blocks. */
  size: number;
}

const SHA256 = /^sha256:[a-f0-9]{64}$/;
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const CONTAINERD_NAME = 'io.containerd.image.name';
const OCI_REF_NAME = 'org.opencontainers.image.ref.name';
/** Two zero blocks end a tar archive. */
export const END_OF_ARCHIVE_BYTES = 2 * BLOCK;

export function blobPath(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}

function checkedDigest(digest: string, what: string): string {
  if (!SHA256.test(digest)) throw new Error(`${what} has digest "${digest}"; the archive holds sha256 blobs only`);
  return digest;
}

/** The reference normalised as both loaders store it; refuses digests, which neither can keep as a name. */
function archiveTag(raw: string, image: RegistryImage): string {
  const ref = parseImageRef(raw);
  if (ref.digest !== undefined || ref.tag === undefined) {
    throw new Error(`${image.ref} cannot be named "${raw}" in the archive: a loaded image keeps tags, not digests`);
  }
  return formatImageRef(ref);
}

/** What containerd keeps as the image: the index the reference named when there was one, else the manifest. */
function target(image: RegistryImage): { mediaType: string; digest: string; bytes: Buffer } {
  if (image.indexDigest === undefined) {
    return { mediaType: image.manifestMediaType, digest: image.manifestDigest, bytes: image.manifestBytes };
  }
  if (image.indexBytes === undefined || image.indexMediaType === undefined) {
    throw new Error(`${image.ref} names index ${image.indexDigest} but its bytes are missing`);
  }
  return { mediaType: image.indexMediaType, digest: image.indexDigest, bytes: image.indexBytes };
}


function jsonEntry(name: string, value: unknown): InlineEntry {
  const text = Buffer.from(`${JSON.stringify(value)}\n`, 'utf8');
  // The same canonical order the tar normaliser gives an engine's lists, so normalising this archive changes nothing.
  return { kind: 'inline', name, data: canonicalEntry(name, text) ?? text };
}

/**
 * The archive for `images`; the same images give the same layout whatever their order. An image listed twice (by
 * manifest digest) is stored once under all its tags. Blobs in `heldEarlier` are listed in the image lists but not
 * stored: an archive loaded before this one holds them (core/archive-groups.ts).
 * @throws Error when a tag is claimed by two different images, a blob is described with two sizes, or a digest is
 * not sha256: inconsistent input that no archive could load correctly.
 */
export function saveArchiveLayout(images: readonly ImageToSave[], heldEarlier: ReadonlySet<string> = new Set()): SaveArchiveLayout {
  const blobs = new Map<string, ArchiveEntry>();
  const addInline = (image: RegistryImage, digest: string, bytes: Buffer) => {
    const name = blobPath(checkedDigest(digest, `the manifest of ${image.ref}`));
    if (!blobs.has(name)) blobs.set(name, { kind: 'inline', name, data: bytes, digest, ref: image.ref });
  };
  const addBlob = (image: RegistryImage, digest: string, size: number) => {
    const name = blobPath(checkedDigest(digest, `a blob of ${image.ref}`));
    const known = blobs.get(name);
    if (known?.kind === 'blob' && known.size !== size) {
      throw new Error(`blob ${digest} is ${known.size} bytes in ${known.image.ref} but ${size} in ${image.ref}`);
    }
    if (known === undefined && !heldEarlier.has(digest)) blobs.set(name, { kind: 'blob', name, digest, size, image });
  };

  // Images in a fixed order first, so the image a shared blob is fetched through does not depend on the input order.
  const ordered = [...images].sort((a, b) => byteOrder(a.image.manifestDigest, b.image.manifestDigest) || byteOrder(a.image.ref, b.image.ref));
  const byManifest = new Map<string, { image: RegistryImage; tags: Set<string> }>();
  const byTag = new Map<string, { image: RegistryImage; target: ReturnType<typeof target> }>();
  for (const { image, tags } of ordered) {
    if (tags.length === 0) throw new Error(`${image.ref} has no tag to be loaded under`);
    const imageTarget = target(image);
    addInline(image, image.manifestDigest, image.manifestBytes);
    if (image.indexDigest !== undefined) addInline(image, imageTarget.digest, imageTarget.bytes);
    addBlob(image, image.config.digest, image.config.size);
    for (const layer of image.layers) addBlob(image, layer.digest, layer.size);

    const entry = byManifest.get(image.manifestDigest) ?? { image, tags: new Set<string>() };
    byManifest.set(image.manifestDigest, entry);
    for (const raw of tags) {
      const tag = archiveTag(raw, image);
      const claimed = byTag.get(tag);
      if (claimed !== undefined && claimed.target.digest !== imageTarget.digest) {
        throw new Error(`"${tag}" names both ${claimed.image.ref} (${claimed.target.digest}) and ${image.ref} (${imageTarget.digest})`);
      }
      byTag.set(tag, { image, target: imageTarget });
      entry.tags.add(tag);
    }
  }

  const manifestList = [...byManifest.values()].map(({ image, tags }) => ({
    Config: blobPath(image.config.digest),
    RepoTags: [...tags].sort(byteOrder),
    Layers: image.layers.map((layer) => blobPath(layer.digest)),
  }));
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [...byTag.entries()].map(([tag, { target: imageTarget }]) => ({
      mediaType: imageTarget.mediaType,
      digest: imageTarget.digest,
      size: imageTarget.bytes.length,
      annotations: { [CONTAINERD_NAME]: tag, [OCI_REF_NAME]: parseImageRef(tag).tag! },
    })),
  };

  const entries: ArchiveEntry[] = [
    ...[...blobs.values()].sort((a, b) => byteOrder(a.name, b.name)),
    jsonEntry('index.json', index),
    jsonEntry('manifest.json', manifestList),
    { kind: 'inline', name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}', 'utf8') },
  ];
  return { entries, size: archiveSize(entries) };
}

export function entrySizeOf(entry: ArchiveEntry): number {
  return entry.kind === 'inline' ? entry.data.length : entry.size;
}

/** Bytes of a tar archive of these entries: a header block and the padded data of each, then the end blocks. */
export function archiveSize(entries: readonly ArchiveEntry[]): number {
  return entries.reduce((total, entry) => total + BLOCK + paddedSize(entrySizeOf(entry)), END_OF_ARCHIVE_BYTES);
}

/**
 * Where each entry's data starts in the archive's stream, and its length: every entry has a header of one block
 * (names are short and sizes past the octal field are written in base-256, so no extended headers), then its data
 * padded to whole blocks.
 */
export function archiveDataOffsets(entries: readonly ArchiveEntry[]): Map<string, { offset: number; size: number }> {
  const offsets = new Map<string, { offset: number; size: number }>();
  let position = 0;
  for (const entry of entries) {
    const size = entrySizeOf(entry);
    offsets.set(entry.name, { offset: position + BLOCK, size });
    position += BLOCK + paddedSize(size);
  }
  return offsets;
}
