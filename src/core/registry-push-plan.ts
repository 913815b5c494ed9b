// What an installer with nothing but curl must do to put a bundle's images into a registry over its HTTP API, and where
// in the archives each byte it sends is: the bundle's images/push.txt. The archives were laid out before a byte was
// written (save-archive-layout.ts), so each blob's offset is known here, and the installer reads one blob with a seek
// instead of unpacking an archive. A blob is uploaded to one repository and mounted into the others that use it, so
// a layer shared by twenty images crosses the wire once; manifests come after every blob, since a registry refuses a
// manifest whose blobs it lacks, and an index after the manifest it lists.

import { imageName, parseImageRef } from './image-ref.js';
import type { RegistryImage } from './registry-image.js';
import { parseManifest } from './registry-manifest.js';
import { archiveDataOffsets, blobPath, type ImageToSave, type SaveArchiveLayout } from './save-archive-layout.js';
import { byteOrder } from './byte-order.js';

/** Where bytes are in an archive's stream (its parts concatenated): the offset of the first, and how many. */
export interface ArchiveSpan {
  offset: number;
  size: number;
}

/** A config or layer: uploaded to `repositories[0]`, mounted from there into the rest. */
export interface BlobPush extends ArchiveSpan {
  kind: 'blob';
  digest: string;
  repositories: string[];
}

/** A manifest or index, put under `reference` (a tag, or for an index's child the digest). */
export interface ManifestPut extends ArchiveSpan {
  kind: 'manifest';
  digest: string;
  mediaType: string;
  repository: string;
  reference: string;
}

/**
 * A layer a delta bundle leaves out (core/delta-base.ts): the target registry has it from the base bundle's push. Never
 * uploaded; checked in each repository, and mounted from one that has it into those that lack it.
 */
export interface BasePush {
  kind: 'base';
  digest: string;
  size: number;
  repositories: string[];
}

export type PushAction = BlobPush | ManifestPut | BasePush;


/**
 * Whether the image's index lists nothing but the manifest the bundle holds: then the index itself can be pushed;
 * otherwise a registry would refuse it for the manifests it lacks, and the platform's manifest goes under the tag.
 */
export function holdsWholeIndex(image: RegistryImage): boolean {
  if (image.indexBytes === undefined) return false;
  const index = parseManifest(image.indexBytes, image.indexMediaType);
  return index.kind === 'index' && index.manifests.every((entry) => entry.digest === image.manifestDigest);
}

/** The repository and tag a bundle reference names (`gcr.io/x/y:1` → `gcr.io/x/y`, `1`). */
export function repositoryAndTag(bundleRef: string): { repository: string; tag: string } {
  const ref = parseImageRef(bundleRef);
  if (ref.tag === undefined || ref.digest !== undefined) throw new Error(`bundle reference ${bundleRef} is not name:tag`);
  return { repository: imageName(ref), tag: ref.tag };
}

/** An archive: the images it names, and its layout (saveArchiveLayout), which says where their bytes are. */
export interface LaidOutArchive {
  images: readonly ImageToSave[];
  layout: SaveArchiveLayout;
}

/**
 * The push of every image the archives hold, per archive (`[i]` reads `archives[i]`), each in the order to run it:
 * blobs by offset, then manifests, an index after its child. Run every archive's blobs before any manifest
 * (formatImagePush does). A blob's repositories are every repository whose image uses it, sorted, so the same
 * images give the same plan.
 * @throws Error when a blob or manifest an image needs is in no archive: archives that could not load either.
 */
export function registryPushPlan(archives: readonly LaidOutArchive[], held: ReadonlyMap<string, readonly string[]> = new Map()): PushAction[][] {
  const located = new Map<string, ArchiveSpan & { archive: number }>();
  for (const [archive, { layout }] of archives.entries()) {
    for (const [name, span] of archiveDataOffsets(layout.entries)) {
      if (!located.has(name)) located.set(name, { archive, ...span });
    }
  }
  const spanOf = (digest: string, image: RegistryImage): ArchiveSpan & { archive: number } => {
    const span = located.get(blobPath(digest));
    if (span === undefined) throw new Error(`${digest} of ${image.ref} is in none of the archives`);
    return span;
  };

  const repositoriesOf = new Map<string, { span: ArchiveSpan & { archive: number }; repositories: Set<string> }>();
  const fromBase = new Map<string, { size: number; repositories: Set<string> }>();
  const manifests = new Map<string, ManifestPut & { archive: number }>();
  const put = (image: RegistryImage, digest: string, mediaType: string, repository: string, reference: string) => {
    manifests.set(`${repository}\t${reference}`, { kind: 'manifest', ...spanOf(digest, image), digest, mediaType, repository, reference });
  };
  const tagged = archives.flatMap((archive) => archive.images).flatMap(({ image, tags }) => tags.map((tag) => ({ image, tag })));
  tagged.sort((a, b) => byteOrder(a.tag, b.tag));
  for (const { image, tag } of tagged) {
    const { repository, tag: reference } = repositoryAndTag(tag);
    for (const blob of [image.config, ...image.layers]) {
      if (held.has(blob.digest) && !located.has(blobPath(blob.digest))) {
        // The base's repositories too: where the registry has the layer, to mount it from.
        const known = fromBase.get(blob.digest) ?? { size: blob.size, repositories: new Set<string>(held.get(blob.digest)) };
        fromBase.set(blob.digest, known);
        known.repositories.add(repository);
        continue;
      }
      const known = repositoriesOf.get(blob.digest) ?? { span: spanOf(blob.digest, image), repositories: new Set<string>() };
      repositoriesOf.set(blob.digest, known);
      known.repositories.add(repository);
    }
    if (image.indexDigest !== undefined && holdsWholeIndex(image)) {
      put(image, image.manifestDigest, image.manifestMediaType, repository, image.manifestDigest);
      put(image, image.indexDigest, image.indexMediaType!, repository, reference);
    } else {
      put(image, image.manifestDigest, image.manifestMediaType, repository, reference);
    }
  }

  const plan: PushAction[][] = archives.map(() => []);
  const blobs = [...repositoriesOf.entries()].map(([digest, { span: { archive, offset, size }, repositories }]) => ({
    archive,
    action: { kind: 'blob', offset, size, digest, repositories: [...repositories].sort(byteOrder) } satisfies BlobPush,
  }));
  blobs.sort((a, b) => a.action.offset - b.action.offset);
  for (const { archive, action } of blobs) plan[archive]!.push(action);
  // In no archive: listed with the first, before any manifest that names them.
  const based = [...fromBase.entries()].sort(([a], [b]) => byteOrder(a, b));
  if (based.length > 0 && plan.length > 0) {
    plan[0]!.push(...based.map(([digest, { size, repositories }]) => ({ kind: 'base', digest, size, repositories: [...repositories].sort(byteOrder) }) satisfies BasePush));
  }
  for (const { archive, ...action } of manifests.values()) plan[archive]!.push(action);
  return plan;
}
