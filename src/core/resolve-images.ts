// Combines what discovery found in the manifests with what the bundle spec knows, and decides what a bundle holds.

import type { BundleSpec } from './bundle-spec.js';
import { IMAGE_TIERS, type DiscoveredImage, type Discovery, type DiscoveryWarning, type ImageTier } from './discover-images.js';
import { imageName, parseImageRef, type ImageRef } from './image-ref.js';
import { stagingImage } from './staging-registries.js';

export interface ResolvedImage extends DiscoveredImage {
  /** Whether the bundle holds it, by the tiers selected. */
  included: boolean;
  /** Where to pull it from instead of `ref` (a spec override); the bundle still stores it as `ref`. */
  pullFrom?: ImageRef;
  /** The spec's reason, for extras and overrides. */
  why?: string;
}

export interface Resolution {
  images: ResolvedImage[];
  excluded: { ref: string; why: string }[];
  warnings: DiscoveryWarning[];
  tiers: ImageTier[];
}

export const DEFAULT_TIERS: readonly ImageTier[] = ['install', 'runtime'];

/** An image the user named for the bundle (`build --image`, `--image-list`), bundled whatever the tiers. */
export interface AddedImage {
  ref: string;
  /** Where it was named, for messages and `images --why`: `--image`, or `FILE line N`. */
  from: string;
}

/**
 * @param tiers overrides the spec's default tiers (the CLI's --tiers).
 * @param added images bundled whatever the tiers: an add-on bundle's, or extras beside a release.
 */
export function resolveImages(discovery: Discovery, spec: BundleSpec | undefined, tiers?: readonly ImageTier[], added: readonly AddedImage[] = []): Resolution {
  const selected = [...(tiers ?? spec?.tiers ?? DEFAULT_TIERS)];
  const warnings = [...discovery.warnings];
  const byRef = new Map<string, ResolvedImage>(discovery.images.map((image) => [image.ref, { ...image, included: false }]));

  spec?.images.extra.forEach((extra, index) => {
    const finding = {
      objectIndex: -1,
      object: `bundle spec ${spec.release}`,
      holder: [],
      path: `images.extra[${index}]`,
      raw: extra.ref,
      via: 'spec' as const,
      tier: extra.tier,
    };
    const existing = byRef.get(extra.ref);
    if (existing !== undefined) {
      existing.locations.push(finding);
      if (IMAGE_TIERS.indexOf(extra.tier) < IMAGE_TIERS.indexOf(existing.tier)) existing.tier = extra.tier;
    } else {
      byRef.set(extra.ref, { ref: extra.ref, parsed: parseImageRef(extra.ref), tier: extra.tier, locations: [finding], included: false, why: extra.why });
    }
  });

  spec?.images.override.forEach((override, index) => {
    const path = `images.override[${index}]`;
    if (override.repository !== undefined) {
      // Every tag and digest of the repository, from the same tag or digest of the other.
      const images = [...byRef.values()].filter((image) => imageName(image.parsed) === override.repository);
      if (images.length === 0) warnings.push({ object: `bundle spec ${spec.release}`, path, value: override.repository, message: 'overrides a repository the release does not use' });
      const target = parseImageRef(override.pullFrom);
      for (const image of images) {
        image.pullFrom = { ...target, tag: image.parsed.tag, digest: image.parsed.digest };
        image.why = override.why;
      }
      return;
    }
    const image = byRef.get(override.ref);
    if (image === undefined) {
      warnings.push({ object: `bundle spec ${spec.release}`, path, value: override.ref, message: 'overrides an image the release does not use' });
      return;
    }
    image.pullFrom = parseImageRef(override.pullFrom);
    image.why = override.why;
  });

  const excluded: { ref: string; why: string }[] = [];
  spec?.images.exclude.forEach((exclude, index) => {
    if (byRef.delete(exclude.ref)) excluded.push(exclude);
    else warnings.push({ object: `bundle spec ${spec.release}`, path: `images.exclude[${index}]`, value: exclude.ref, message: 'excludes an image the release does not use' });
  });

  const named = new Set<string>();
  for (const { ref, from } of added) {
    const finding = { objectIndex: -1, object: from, holder: [], path: '', raw: ref, via: 'added' as const, tier: 'install' as const };
    const existing = byRef.get(ref);
    if (existing !== undefined) existing.locations.push(finding);
    else byRef.set(ref, { ref, parsed: parseImageRef(ref), tier: 'install', locations: [finding], included: false, why: `named with ${from}` });
    named.add(ref);
  }

  warnings.push(...stagingWarnings([...byRef.values()]));
  const images = [...byRef.values()]
    .map((image) => ({ ...image, included: named.has(image.ref) || selected.includes(image.tier) }))
    .sort((a, b) => IMAGE_TIERS.indexOf(a.tier) - IMAGE_TIERS.indexOf(b.tier) || (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  return { images, excluded, warnings, tiers: selected };
}

/**
 * One warning per image the release names from a staging registry, unless a spec already pulls it from elsewhere:
 * where the release names it first, and the released repository when the convention says (core/staging-registries.ts).
 */
function stagingWarnings(images: readonly ResolvedImage[]): DiscoveryWarning[] {
  return images.flatMap((image) => {
    const staging = image.pullFrom === undefined ? stagingImage(image.parsed) : undefined;
    if (staging === undefined) return [];
    const where = image.locations[0];
    const released = staging.releasedRepository;
    const version = image.parsed.digest === undefined ? `:${image.parsed.tag ?? 'latest'}` : `@${image.parsed.digest}`;
    const message =
      `names a staging registry, which prunes what it holds: the build may not find it` +
      (released === undefined
        ? '; pull it from a released registry with a spec override (images.override, by ref or repository)'
        : `; the released image is ${released}${version}: override the repository in a spec (images.override: repository ${imageName(image.parsed)}, pullFrom ${released})`);
    return [{ object: where?.object ?? image.ref, path: where?.path ?? '', value: image.ref, message }];
  });
}

/** Parses `--tiers install,runtime` (or `all`). */
export function parseTiers(text: string): ImageTier[] | undefined {
  if (text === 'all') return [...IMAGE_TIERS];
  const tiers = text.split(',').map((tier) => tier.trim()).filter((tier) => tier !== '');
  return tiers.every((tier) => (IMAGE_TIERS as readonly string[]).includes(tier)) ? (tiers as ImageTier[]) : undefined;
}
