// Fills the installer template from installer/ with the bundle contract's names (core/bundle-layout.ts) and the few
// values that differ per bundle, so install.sh never spells a file name or format of its own.

import {
  ARCHIVE_PART_DIGITS,
  BUNDLE_FILES,
  BUNDLE_FORMAT_VERSION,
  METADATA_FIELDS,
  PHASE_MANIFEST_SUFFIX,
  PHASE_NUMBER_DIGITS,
  PHASE_WAITS_SUFFIX,
} from './bundle-layout.js';
import { REGISTRY_PLACEHOLDER } from './relocate-images.js';
import type { ClusterRequirements } from './cluster-requirements.js';

/** Every `@@NAME@@` of the template and its value. */
export type InstallerValues = Readonly<Record<InstallerPlaceholder, string>>;

export type InstallerPlaceholder =
  | 'KFBUNDLE_VERSION'
  | 'FORMAT_VERSION'
  | 'METADATA'
  | 'METADATA_FORMAT_FIELD'
  | 'METADATA_DIGEST_FIELD'
  | 'METADATA_TOOL_VERSION_FIELD'
  | 'CHECKSUMS'
  | 'SIGNATURE'
  | 'IMAGE_ARCHIVES'
  | 'ARCHIVE_PART_GLOB'
  | 'IMAGE_REFS'
  | 'IMAGE_MANIFESTS'
  | 'IMAGE_PUSH'
  | 'MANIFESTS_DIR'
  | 'REGISTRY_MANIFESTS_DIR'
  | 'PHASE_GLOB'
  | 'PHASE_SUFFIX'
  | 'WAITS_SUFFIX'
  | 'REGISTRY_PLACEHOLDER'
  | 'BUILD_REGISTRY'
  | 'SEED_REGISTRY_ARCHIVE'
  | 'SEED_REGISTRY_IMAGE'
  | 'BUNDLE_PLATFORM'
  | 'PLATFORM_IMAGE_DIRS'
  | 'IMAGE_INDEXES_DIR'
  | 'BASE_IMAGES'
  | 'BASE_BUNDLE'
  | 'OBJECT_INVENTORY'
  | 'KUBERNETES_RANGE'
  | 'REQUIRED_CPU_MILLIS'
  | 'REQUIRED_MEMORY_BYTES'
  | 'PER_NODE_CPU_MILLIS'
  | 'PER_NODE_MEMORY_BYTES'
  | 'LARGEST_POD'
  | 'DEFAULT_CLASS_CLAIMS';

const digitsGlob = (count: number) => '[0-9]'.repeat(count);

/** The platform (`os/arch[/variant]`) of a bundle of one, or the directory of each platform of a bundle of several. */
export interface InstallerPlatforms {
  platform?: string | undefined;
  platformDirs?: readonly { platform: string; dir: string }[] | undefined;
  /** A delta bundle: how messages name its base (its release and bundle). */
  base?: string | undefined;
  /** What the manifests ask of a cluster, for the preflight; absent: a bundle without manifests. */
  requirements?: ClusterRequirements | undefined;
}

/**
 * The values of a bundle in the current format, made by `toolVersion`; `seedRegistryImage` is the bundle reference
 * of the seed registry's image, when the bundle carries one, and `platforms` what its images are for.
 * PLATFORM_IMAGE_DIRS is `os/arch=dir` a word (no platform or path has a space), empty for a bundle of one platform.
 */
export function installerValuesFor(toolVersion: string, buildRegistry: string | undefined, seedRegistryImage?: string, platforms: InstallerPlatforms = {}): InstallerValues {
  return {
    KFBUNDLE_VERSION: toolVersion,
    FORMAT_VERSION: String(BUNDLE_FORMAT_VERSION),
    METADATA: BUNDLE_FILES.metadata,
    METADATA_FORMAT_FIELD: METADATA_FIELDS.formatVersion,
    METADATA_DIGEST_FIELD: METADATA_FIELDS.contentDigest,
    METADATA_TOOL_VERSION_FIELD: METADATA_FIELDS.toolVersion,
    CHECKSUMS: BUNDLE_FILES.checksums,
    SIGNATURE: BUNDLE_FILES.signature,
    IMAGE_ARCHIVES: BUNDLE_FILES.imageArchives,
    ARCHIVE_PART_GLOB: digitsGlob(ARCHIVE_PART_DIGITS),
    IMAGE_REFS: BUNDLE_FILES.imageRefs,
    IMAGE_MANIFESTS: BUNDLE_FILES.imageManifests,
    IMAGE_PUSH: BUNDLE_FILES.imagePush,
    MANIFESTS_DIR: BUNDLE_FILES.manifestsDir,
    REGISTRY_MANIFESTS_DIR: BUNDLE_FILES.registryManifestsDir,
    PHASE_GLOB: `${digitsGlob(PHASE_NUMBER_DIGITS)}-*${PHASE_MANIFEST_SUFFIX}`,
    PHASE_SUFFIX: PHASE_MANIFEST_SUFFIX,
    WAITS_SUFFIX: PHASE_WAITS_SUFFIX,
    REGISTRY_PLACEHOLDER,
    BUILD_REGISTRY: buildRegistry ?? '',
    SEED_REGISTRY_ARCHIVE: BUNDLE_FILES.seedRegistryArchive,
    SEED_REGISTRY_IMAGE: seedRegistryImage ?? '',
    BUNDLE_PLATFORM: platforms.platform ?? '',
    PLATFORM_IMAGE_DIRS: (platforms.platformDirs ?? []).map(({ platform, dir }) => `${platform}=${dir}`).join(' '),
    IMAGE_INDEXES_DIR: BUNDLE_FILES.imageIndexesDir,
    BASE_IMAGES: BUNDLE_FILES.baseImages,
    BASE_BUNDLE: platforms.base ?? '',
    OBJECT_INVENTORY: BUNDLE_FILES.objectInventory,
    ...preflightValues(platforms.requirements),
  };
}

/**
 * The preflight's figures as shell words: whole millicores and bytes, `MIN-MAX` minor versions, the largest pod as
 * `object cpu memory`, and claims as `namespace/name` words. Empty where there is nothing to check.
 */
function preflightValues(requirements: ClusterRequirements | undefined): Pick<InstallerValues, 'KUBERNETES_RANGE' | 'REQUIRED_CPU_MILLIS' | 'REQUIRED_MEMORY_BYTES' | 'PER_NODE_CPU_MILLIS' | 'PER_NODE_MEMORY_BYTES' | 'LARGEST_POD' | 'DEFAULT_CLASS_CLAIMS'> {
  const range = requirements?.kubernetes;
  const largest = requirements?.largestPod;
  return {
    KUBERNETES_RANGE: range === undefined ? '' : `${range.min}-${range.max}`,
    REQUIRED_CPU_MILLIS: String(requirements?.requests.cpuMillis ?? 0),
    REQUIRED_MEMORY_BYTES: String(requirements?.requests.memoryBytes ?? 0),
    PER_NODE_CPU_MILLIS: String(requirements?.perNode.cpuMillis ?? 0),
    PER_NODE_MEMORY_BYTES: String(requirements?.perNode.memoryBytes ?? 0),
    LARGEST_POD: largest === undefined ? '' : `${largest.name} ${largest.cpuMillis} ${largest.memoryBytes}`,
    DEFAULT_CLASS_CLAIMS: (requirements?.defaultClassClaims ?? []).join(' '),
  };
}

/**
 * Replaces every `@@NAME@@` placeholder. The template puts each in single quotes (`NAME='@@NAME@@'`), so a quote in a
 * value (a release named after a file `team's.yaml`) is closed, escaped and reopened: text, never code. A placeholder
 * without a value is an error in the template, not in the user's input, so it throws a plain Error (reported as a bug).
 */
export function renderInstaller(template: string, values: InstallerValues): string {
  return template.replace(/@@([A-Z_]+)@@/g, (_, name: string) => {
    const value = (values as Record<string, string | undefined>)[name];
    if (value === undefined) throw new Error(`installer template has unknown placeholder @@${name}@@`);
    return value.replaceAll("'", "'\\''");
  });
}
