// `kfbundle inspect`: what a bundle holds, read from its bundle.json and files, without hashing anything.

import { BUNDLE_FILES, platformImagesDir, SEED_REGISTRY_STAGE, unreadableFormat, type BundleMetadata, type BundleTier } from '../core/bundle-layout.js';
import { IMAGE_TIERS, type ImageTier } from '../core/discover-images.js';
import { KfbundleError } from '../core/errors.js';
import { SEED_TIER } from '../core/seed-registry.js';
import { imagesOfOtherPlatform, parsePlatform } from '../core/registry-manifest.js';
import type { BundleReader } from './ports.js';

export interface BundleSummary {
  formatVersion: number;
  tool: string;
  input: BundleMetadata['input'];
  /** The bundle spec's release, or null when the build used none (null, not absent, so JSON keeps its shape). */
  spec: string | null;
  tiers: ImageTier[];
  images: { tier: BundleTier; count: number; bytes: number; refs: string[] }[];
  notBundled: BundleMetadata['resolution']['notBundled'];
  phases: { name: string; objects: number; waits: number }[];
  /**
   * The image archives in load order (empty without images): install.sh loads each stage's at once, stage by stage;
   * stage 0 is the seed registry's, loaded by --seed-registry only.
   */
  archives: { path: string; stage: number; parts: number; bytes: number; partSize: number | null; images: number }[];
  /** `os/arch[/variant]` the images were pulled for, or null for a bundle that did not record it or holds several. */
  platform: string | null;
  /**
   * A bundle of several platforms: each, with the directory of its images, how many and their archives' bytes
   * (empty for a bundle of one).
   */
  platforms: { platform: string; dir: string; images: number; archives: number; bytes: number }[];
  /**
   * Images whose own platform is another (single-platform images): `ref` and its platform, and in a bundle of several
   * the bundle's platform it is there for.
   */
  otherPlatforms: { ref: string; platform: string; forPlatform?: string }[];
  /** A bundle of several platforms: the indexes a registry serves, upstream ones kept and ones composed. */
  indexes: { upstream: number; composed: number };
  /**
   * A delta bundle (`build --since`): its base's release and contentDigest, the images that are the base's, and how
   * many base images the target must hold; null for a full bundle.
   */
  base: { release: string; contentDigest: string; taken: number; needs: number } | null;
  /** The registry manifests/ names images under (`build --registry`), or null. */
  registry: string | null;
  /** What the manifests ask of a cluster (install.sh's preflight checks it), or null: no manifests, or an older bundle. */
  requirements: NonNullable<BundleMetadata['requirements']> | null;
  signed: boolean;
  files: number;
  totalBytes: number;
  warnings: number;
}

/** Format 1 had one archive, under `imagesArchive`, holding every image. */
interface FormatOneArchive {
  imagesArchive?: { parts: string[]; size: number; partSize?: number };
}

function archivesOf(metadata: BundleMetadata & FormatOneArchive): BundleSummary['archives'] {
  const legacy = metadata.imagesArchive;
  if (metadata.imageArchives === undefined) {
    if (legacy === undefined) return [];
    return [{ path: BUNDLE_FILES.imagesTar, stage: 1, parts: legacy.parts.length, bytes: legacy.size, partSize: legacy.partSize ?? null, images: new Set(metadata.images.map((image) => image.bundleRef)).size }];
  }
  return metadata.imageArchives.map((archive) => ({
    path: archive.path,
    stage: archive.stage,
    parts: archive.parts.length,
    bytes: archive.size,
    partSize: archive.partSize ?? null,
    images: archive.refs.length,
  }));
}

/** @throws KfbundleError BUNDLE_FORMAT when bundle.json is missing, unreadable, or from a newer kfbundle. */
export async function inspectBundle(reader: BundleReader): Promise<BundleSummary> {
  const text = await reader.readText(BUNDLE_FILES.metadata);
  if (text === undefined) throw new KfbundleError('BUNDLE_FORMAT', `${BUNDLE_FILES.metadata} is missing: not a kfbundle bundle`);
  let metadata: BundleMetadata;
  try {
    metadata = JSON.parse(text) as BundleMetadata;
  } catch (error) {
    throw new KfbundleError('BUNDLE_FORMAT', `${BUNDLE_FILES.metadata} is not valid JSON: ${(error as Error).message}`);
  }
  const unreadable = unreadableFormat(metadata.formatVersion, metadata.tool?.version);
  if (unreadable !== undefined) {
    throw new KfbundleError('BUNDLE_FORMAT', unreadable, { hint: 'inspect it with the kfbundle version named above, or a newer one' });
  }
  // A bundle of several platforms lists each image once per platform: counted once, its bytes every time.
  const images = [...IMAGE_TIERS, SEED_TIER].map((tier: BundleTier) => {
    const inTier = metadata.images.filter((image) => image.tier === tier);
    const refs = [...new Set(inTier.map((image) => image.ref))];
    return { tier, count: refs.length, bytes: inTier.reduce((sum, image) => sum + image.size, 0), refs };
  }).filter((group) => group.count > 0);
  const several = metadata.platforms ?? [];
  const listed = await reader.listFiles();
  let totalBytes = 0;
  for (const file of metadata.files) totalBytes += file.size;
  return {
    formatVersion: metadata.formatVersion,
    tool: `${metadata.tool.name} ${metadata.tool.version}`,
    input: metadata.input,
    spec: metadata.resolution?.spec ?? null,
    tiers: metadata.resolution?.tiers ?? [],
    images,
    notBundled: metadata.resolution?.notBundled ?? [],
    phases: (metadata.plan?.phases ?? []).map((phase) => ({ name: phase.name, objects: phase.objects, waits: phase.waits.length })),
    archives: archivesOf(metadata),
    platform: metadata.platform ?? null,
    platforms: several.map((platform) => {
      const archives = metadata.imageArchives.filter((archive) => archive.platform === platform && archive.stage !== SEED_REGISTRY_STAGE);
      return {
        platform,
        dir: platformImagesDir(platform),
        images: new Set(metadata.images.filter((image) => image.forPlatform === platform && image.tier !== SEED_TIER).map((image) => image.ref)).size,
        archives: archives.length,
        bytes: archives.reduce((sum, archive) => sum + archive.size, 0),
      };
    }),
    otherPlatforms:
      metadata.platform !== undefined
        ? imagesOfOtherPlatform(metadata.images, parsePlatform(metadata.platform)).map(({ ref, platform }) => ({ ref, platform }))
        : several.flatMap((forPlatform) =>
            imagesOfOtherPlatform(metadata.images.filter((image) => image.forPlatform === forPlatform), parsePlatform(forPlatform)).map(({ ref, platform }) => ({ ref, platform, forPlatform })),
          ),
    base: metadata.base === undefined ? null : { release: metadata.base.release, contentDigest: metadata.base.contentDigest, taken: metadata.base.taken.length, needs: metadata.base.uses.length },
    indexes: {
      upstream: (metadata.imageIndexes ?? []).filter((index) => !index.composed).length,
      composed: (metadata.imageIndexes ?? []).filter((index) => index.composed).length,
    },
    registry: metadata.relocation?.registry ?? null,
    requirements: metadata.requirements ?? null,
    signed: listed.includes(BUNDLE_FILES.signature),
    files: listed.length,
    totalBytes,
    warnings: (metadata.resolution?.warnings.length ?? 0) + (metadata.plan?.warnings.length ?? 0),
  };
}
