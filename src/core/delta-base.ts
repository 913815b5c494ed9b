// What a delta bundle (`build --since OLD`) may leave out: the layers the target already holds because the base bundle
// brought them. Compared by content, never by name: a layer is held when the base recorded it (its images' `layers`),
// or when the base holds the very manifest that lists it (a base built before layers were recorded). An image of the
// base's content (its manifest or image ID) whose every layer is held is taken from the base: the delta carries its
// config and manifest only (a few KiB, so that a new
// tag of identical content still loads under its new name); a changed image under the same tag carries its new layers.

import { unreadableFormat, type BundleImage, type BundleMetadata } from './bundle-layout.js';
import { KfbundleError } from './errors.js';
import { imageName, parseImageRef } from './image-ref.js';

/** What a delta needs to know of its base: read from the base's bundle.json. */
export interface BaseBundle {
  contentDigest: string;
  /** How messages name the base's release: the spec's release, else the input's name. */
  release: string;
  images: readonly BaseImage[];
}

export interface BaseImage {
  bundleRef: string;
  imageId: string;
  manifestDigest: string | undefined;
  /** The bundle's platform the entry is for (`forPlatform`, or the bundle's `platform`); undefined when not recorded. */
  platform: string | undefined;
  layers: readonly string[] | undefined;
}

/** The content a target holds once the base is installed: layers, and whole manifests. */
export interface BaseContent {
  layers: ReadonlySet<string>;
  manifests: ReadonlySet<string>;
  /**
   * Per layer, the repositories of the base images that have it: where a registry the base was pushed to has it, to
   * mount from into a repository the delta adds.
   */
  repositories: ReadonlyMap<string, readonly string[]>;
}

/**
 * A base bundle's bundle.json, read for what a delta compares with.
 * @throws KfbundleError USAGE when it is not a kfbundle bundle.json, or its images carry no content identity
 *   (built through an engine, whose archives hold no layers as served)
 */
export function parseBaseMetadata(text: string, source: string): BaseBundle {
  let metadata: Partial<BundleMetadata>;
  try {
    metadata = JSON.parse(text) as Partial<BundleMetadata>;
  } catch (error) {
    throw new KfbundleError('USAGE', `--since ${source}: not valid JSON (${(error as Error).message})`, { hint: 'give the base bundle\'s directory, or its bundle.json' });
  }
  if (typeof metadata.contentDigest !== 'string' || !Array.isArray(metadata.images)) {
    throw new KfbundleError('USAGE', `--since ${source}: not a kfbundle bundle.json (no contentDigest or images)`, { hint: 'give the base bundle\'s directory, or its bundle.json' });
  }
  const unreadable = unreadableFormat(metadata.formatVersion, metadata.tool?.version);
  if (unreadable !== undefined) throw new KfbundleError('USAGE', `--since ${source}: ${unreadable}`);
  const present = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const images = metadata.images.map((image: Partial<BundleImage>, index) => {
    const bundleRef = present(image.bundleRef);
    const imageId = present(image.imageId);
    if (bundleRef === undefined || imageId === undefined) {
      throw new KfbundleError('USAGE', `--since ${source}: images[${index}] has no bundleRef or imageId`, { hint: 'give a bundle.json kfbundle wrote, unedited' });
    }
    const layers = Array.isArray(image.layers) && image.layers.every((layer) => typeof layer === 'string') ? image.layers : undefined;
    return { bundleRef, imageId, manifestDigest: present(image.manifestDigest), platform: present(image.forPlatform) ?? present(metadata.platform), layers };
  });
  if (images.length > 0 && images.every((image) => image.manifestDigest === undefined)) {
    throw new KfbundleError('USAGE', `--since ${source}: the base was built through an engine (--source engine), whose archives say nothing of the layers as the registries serve them`, {
      hint: 'build the base from registries (the default source), or build a full bundle',
    });
  }
  const release = metadata.resolution?.spec ?? metadata.input?.name ?? 'unknown release';
  return { contentDigest: metadata.contentDigest, release, images };
}

/**
 * What the target holds of the base for nodes of `platform`: only the base images of that platform (a layer an arm64
 * base image brought is not on an amd64 node), or every base image when either side records no platform.
 */
export function baseContent(base: BaseBundle, platform?: string): BaseContent {
  const images = base.images.filter((image) => samePlatform(image.platform, platform));
  const repositories = new Map<string, Set<string>>();
  for (const image of images) {
    const repository = imageName(parseImageRef(image.bundleRef));
    for (const layer of image.layers ?? []) repositories.set(layer, (repositories.get(layer) ?? new Set()).add(repository));
  }
  return {
    layers: new Set(images.flatMap((image) => image.layers ?? [])),
    manifests: new Set(images.flatMap((image) => (image.manifestDigest === undefined ? [] : [image.manifestDigest]))),
    repositories: new Map([...repositories].map(([layer, names]) => [layer, [...names].sort()] as const)),
  };
}

/** The layers of an image (by digest, as served) that the target holds from the base. */
export function heldLayers(image: { manifestDigest: string; layers: readonly { digest: string }[] }, content: BaseContent): string[] {
  if (content.manifests.has(image.manifestDigest)) return image.layers.map((layer) => layer.digest);
  return image.layers.map((layer) => layer.digest).filter((digest) => content.layers.has(digest));
}

/** A base image the delta relies on, and why: the same image (`same`), or layers a new image shares (`layers`). */
export interface BaseImageUse {
  bundleRef: string;
  imageId: string;
  platform: string | undefined;
  use: 'same' | 'layers';
  /** The delta's references that need it. */
  for: string[];
}

/** What bundle.json records of the base: which bundle, and every base image the delta relies on. */
export interface DeltaRecord {
  contentDigest: string;
  release: string;
  /** The delta's images whose content is wholly the base's (carried as config and manifest only). */
  taken: string[];
  uses: BaseImageUse[];
}

const samePlatform = (a: string | undefined, b: string | undefined) => a === undefined || b === undefined || a === b;

/**
 * The base images the target must hold for the delta's images to load: for an image of the same content (by manifest,
 * or by image ID), that image; for one that shares layers, each base image with one of them (the first, in the base's
 * order). Images of another platform than the entry's are never matched: an entry's platform is its `forPlatform`,
 * else `platform` (the bundle's, for a bundle of one).
 */
export function deltaRecord(images: readonly BundleImage[], base: BaseBundle, platform?: string): DeltaRecord {
  const uses = new Map<string, BaseImageUse>();
  const taken = new Set<string>();
  const need = (baseImage: BaseImage, use: BaseImageUse['use'], ref: string) => {
    const key = `${baseImage.platform ?? ''}\t${baseImage.bundleRef}`;
    const known = uses.get(key) ?? { bundleRef: baseImage.bundleRef, imageId: baseImage.imageId, platform: baseImage.platform, use, for: [] };
    if (use === 'same') known.use = 'same';
    if (!known.for.includes(ref)) known.for.push(ref);
    uses.set(key, known);
  };
  for (const image of images) {
    if (image.manifestDigest === undefined || image.layers === undefined) continue;
    const forPlatform = image.forPlatform ?? platform;
    const candidates = base.images.filter((candidate) => samePlatform(candidate.platform, forPlatform));
    const same = candidates.find((candidate) => candidate.manifestDigest === image.manifestDigest || candidate.imageId === image.imageId);
    const held = heldLayers({ manifestDigest: image.manifestDigest, layers: image.layers.map((digest) => ({ digest })) }, baseContent(base, forPlatform));
    if (same !== undefined && held.length === image.layers.length) {
      taken.add(image.bundleRef);
      need(same, 'same', image.bundleRef);
      continue;
    }
    for (const layer of held) {
      const donor = candidates.find((candidate) => candidate.layers?.includes(layer));
      if (donor !== undefined) need(donor, 'layers', image.bundleRef);
    }
  }
  return { contentDigest: base.contentDigest, release: base.release, taken: [...taken].sort(), uses: [...uses.values()] };
}
