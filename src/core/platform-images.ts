// What a bundle of several platforms adds to each platform's images: the index a registry must serve under each
// reference once every platform is pushed, and the one push (images/push.txt) that puts every platform there. Each
// platform's images are pulled, saved and laid out on their own (one directory each, loadable alone); these rules
// join them for a registry, which serves one reference to nodes of every platform.

import { createHash } from 'node:crypto';
import { imageIndexPath, type BundleImage, type BundleImageIndex, type ImageManifestLine, type LocatedPushAction } from './bundle-layout.js';
import { KfbundleError } from './errors.js';
import { isRecord } from './k8s-object.js';
import { formatPlatform, parseManifest } from './registry-manifest.js';
import { repositoryAndTag, type ManifestPut, type PushAction } from './registry-push-plan.js';
import { byteOrder } from './byte-order.js';

/** An index as the registry served it, byte for byte. */
export interface ServedIndex {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** One platform's images and archives, as built for it. */
export interface PlatformImageSet {
  platform: string;
  /** The release's images pulled for it (the seed registry's image is never pushed). */
  images: readonly BundleImage[];
  archives: readonly { path: string; push?: readonly PushAction[] | undefined }[];
}

/** An index the bundle carries as a file of its own, with its text. */
export interface PlannedIndex extends BundleImageIndex {
  text: string;
}

const sha256 = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Whether the entry names a multi-platform index upstream (its `digest` is the index's, not the manifest's). */
function namesIndex(image: BundleImage): boolean {
  return image.digest !== undefined && image.manifestDigest !== undefined && image.digest !== image.manifestDigest;
}

/**
 * Per reference that names an index upstream, the index to serve: the upstream bytes when the bundle holds every
 * manifest it lists (the upstream digest is kept), else the upstream index with only the manifests the bundle holds
 * (other platforms and build attestations left out), which has a digest of its own. A registry refuses an index whose
 * manifests it lacks, so nothing else could be pushed under the tag.
 * @throws Error when an index the images name was not served (a bug: the store had it)
 */
export function planImageIndexes(sets: readonly PlatformImageSet[], servedIndex: (bundleRef: string) => ServedIndex | undefined): PlannedIndex[] {
  // The platforms are pulled one after another: a tag that moved in between would join manifests of two images.
  const served = new Map<string, Map<string, string>>();
  for (const set of sets) {
    for (const image of set.images) {
      if (image.digest === undefined) continue;
      served.set(image.bundleRef, (served.get(image.bundleRef) ?? new Map()).set(set.platform, image.digest));
    }
  }
  for (const [bundleRef, digests] of served) {
    if (new Set(digests.values()).size > 1) {
      const what = [...digests].map(([platform, digest]) => `${platform} got ${digest}`).join(', ');
      throw new KfbundleError('DIGEST_MISMATCH', `${bundleRef} changed while the build pulled its platforms one after another (${what})`, { hint: 'build again; pin the image by digest if its tag moves often' });
    }
  }
  const held = new Map<string, Set<string>>();
  for (const set of sets) {
    for (const image of set.images) {
      if (!namesIndex(image)) continue;
      held.set(image.bundleRef, (held.get(image.bundleRef) ?? new Set()).add(image.manifestDigest!));
    }
  }
  return [...held.entries()]
    .sort(([a], [b]) => byteOrder(a, b))
    .map(([bundleRef, digests]) => {
      const served = servedIndex(bundleRef);
      if (served === undefined) throw new Error(`the index of ${bundleRef} was not kept`);
      return indexFor(bundleRef, served, digests);
    });
}

function indexFor(bundleRef: string, served: ServedIndex, held: ReadonlySet<string>): PlannedIndex {
  const parsed = parseManifest(served.bytes, served.mediaType);
  if (parsed.kind !== 'index') throw new Error(`${bundleRef}: ${served.digest} is not an index`);
  const kept = parsed.manifests.filter((entry) => held.has(entry.digest));
  const platforms = kept.flatMap((entry) => (entry.platform === undefined ? [] : [formatPlatform(entry.platform)]));
  const upstream = served.bytes.toString('utf8');
  if (kept.length === parsed.manifests.length && Buffer.from(upstream, 'utf8').equals(served.bytes)) {
    return { bundleRef, digest: served.digest, mediaType: served.mediaType, path: imageIndexPath(served.digest), composed: false, platforms, text: upstream };
  }
  const json: unknown = JSON.parse(upstream);
  if (!isRecord(json) || !Array.isArray(json['manifests'])) throw new Error(`${bundleRef}: ${served.digest} has no manifests`);
  const manifests = json['manifests'].filter((entry: unknown) => isRecord(entry) && typeof entry['digest'] === 'string' && held.has(entry['digest']));
  const text = `${JSON.stringify({ ...json, manifests }, null, 2)}\n`;
  const digest = sha256(text);
  return { bundleRef, digest, mediaType: served.mediaType, path: imageIndexPath(digest), composed: true, platforms, text };
}

/**
 * What images/manifests.txt says of each reference of a bundle of several platforms: the digest the registry serves
 * under the tag once the push is done, and the platforms it serves there.
 */
export function platformManifestLines(sets: readonly PlatformImageSet[], indexes: readonly PlannedIndex[]): ImageManifestLine[] {
  const byRef = new Map(indexes.map((index) => [index.bundleRef, index] as const));
  const lines = new Map<string, ImageManifestLine>();
  for (const image of sets.flatMap((set) => set.images)) {
    const { bundleRef, manifestDigest, platform } = image;
    if (lines.has(bundleRef) || manifestDigest === undefined || platform === undefined) continue;
    const index = byRef.get(bundleRef);
    lines.set(
      bundleRef,
      index === undefined
        ? { bundleRef, digest: manifestDigest, push: 'manifest', platform }
        : { bundleRef, digest: index.digest, push: index.composed ? 'composed' : 'index', platform: index.platforms.join(',') },
    );
  }
  return [...lines.values()];
}

/**
 * The push of every platform at once, in the order to run it: each blob once (from the first archive that holds it,
 * mounted into every repository of any platform that uses it), every platform's manifests by digest, then each tag:
 * its index file (planImageIndexes), or for an image of one manifest that manifest.
 */
export function platformPushActions(sets: readonly PlatformImageSet[], indexes: readonly PlannedIndex[]): LocatedPushAction[] {
  const blobs = new Map<string, { path: string; action: PushAction & { kind: 'blob' | 'base' } }>();
  const byDigest = new Map<string, { path: string; action: ManifestPut }>();
  for (const set of sets) {
    const manifestDigests = new Set(set.images.flatMap((image) => (image.manifestDigest === undefined ? [] : [image.manifestDigest])));
    for (const { path, push = [] } of set.archives) {
      for (const action of push) {
        if (action.kind === 'blob' || action.kind === 'base') {
          const known = blobs.get(action.digest);
          // An archive's copy wins over the base's promise of one.
          if (known === undefined || (known.action.kind === 'base' && action.kind === 'blob')) {
            const repositories = known === undefined ? action.repositories : [...new Set([...known.action.repositories, ...action.repositories])].sort(byteOrder);
            blobs.set(action.digest, { path, action: { ...action, repositories: [...repositories] } });
          } else {
            known.action.repositories = [...new Set([...known.action.repositories, ...action.repositories])].sort(byteOrder);
          }
        } else if (manifestDigests.has(action.digest)) {
          // An image's own manifest, whatever its platform's plan put it under; an index of one platform is dropped.
          const key = `${action.repository}\t${action.digest}`;
          if (!byDigest.has(key)) byDigest.set(key, { path, action: { ...action, reference: action.digest } });
        }
      }
    }
  }
  const indexOf = new Map(indexes.map((index) => [index.bundleRef, index] as const));
  const tags = new Map<string, LocatedPushAction>();
  for (const image of sets.flatMap((set) => set.images)) {
    if (tags.has(image.bundleRef) || image.manifestDigest === undefined) continue;
    const { repository, tag } = repositoryAndTag(image.bundleRef);
    const index = indexOf.get(image.bundleRef);
    if (index !== undefined) {
      const size = Buffer.byteLength(index.text, 'utf8');
      tags.set(image.bundleRef, { path: index.path, action: { kind: 'manifest', offset: 0, size, digest: index.digest, mediaType: index.mediaType, repository, reference: tag } });
      continue;
    }
    const manifest = byDigest.get(`${repository}\t${image.manifestDigest}`);
    if (manifest === undefined) throw new Error(`the manifest of ${image.bundleRef} is in none of the push plans`);
    tags.set(image.bundleRef, { path: manifest.path, action: { ...manifest.action, reference: tag } });
  }
  const sortedTags = [...tags.entries()].sort(([a], [b]) => byteOrder(a, b)).map(([, action]) => action);
  return [...blobs.values(), ...byDigest.values(), ...sortedTags];
}
