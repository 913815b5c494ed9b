// The bundle contract: every file name, part name, line format and metadata field of a bundle, and the format
// version they make up. The writer (core/bundle-plan.ts, io/bundle-directory.ts), the verifier, inspect and the
// installer template (through its @@PLACEHOLDERS@@, core/installer-script.ts) all take them from here, so a change to
// the layout is one change. A leaf: it imports types only.

import type { AwsPartition } from './aws-partition.js';
import type { DiscoveryWarning, ImageTier } from './discover-images.js';
import type { PushAction } from './registry-push-plan.js';
import type { SEED_TIER } from './seed-registry.js';
import type { DeltaRecord } from './delta-base.js';
import type { ClusterRequirements } from './cluster-requirements.js';

/**
 * Raised whenever a reader of an older kfbundle would misread a bundle of this one. Readers refuse a bundle whose
 * formatVersion is higher than theirs, naming the kfbundle that wrote it (metadata `tool.version`).
 * 2: the images may be in several archives, loaded in stages (images/archives.txt lists them; bundle.json
 * `imageArchives`), which an installer of format 1 would not load.
 * 3: the images of several platforms, each platform's under a directory of its own (platformImagesDir), which an
 * installer of format 2 would not find. Written only for bundles of several platforms: a bundle of one platform is
 * still format 2 (formatVersionFor), which older installers read.
 */
export const BUNDLE_FORMAT_VERSION = 3;

/** The lowest format that describes a bundle of this many platforms, so older installers keep reading what they can. */
export function formatVersionFor(platformCount: number): number {
  return platformCount > 1 ? 3 : 2;
}

export const BUNDLE_FILES = {
  metadata: 'bundle.json',
  checksums: 'SHA256SUMS',
  /** Ed25519 signature over SHA256SUMS (raw 64 bytes); the only file SHA256SUMS cannot list. */
  signature: 'SHA256SUMS.sig',
  installer: 'install.sh',
  imagesDir: 'images',
  /** The image archive when there is one; several are imageArchivePath's. */
  imagesTar: 'images/images.tar',
  /** The image archives (formatImageArchives): what install.sh loads, in stages, each stage's archives at once. */
  imageArchives: 'images/archives.txt',
  /** Every reference the image archives hold, one per line, normalised: what install.sh checks after loading and pushes. */
  imageRefs: 'images/refs.txt',
  /**
   * Per reference, the manifest the image archives hold as the registry served it (formatImageManifests): what a push with
   * containerd keeps, so the target registry serves the upstream digest. Only bundles built from registries have it.
   */
  imageManifests: 'images/manifests.txt',
  /**
   * What a push over the registry HTTP API sends, and where each byte is in the archives (formatImagePush): how
   * install.sh pushes with curl alone. Only bundles built from registries have it.
   */
  imagePush: 'images/push.txt',
  /**
   * A delta bundle's base images that the target must hold (formatBaseImages): what install.sh checks before it
   * loads anything.
   */
  baseImages: 'images/base.txt',
  /** The seed registry's image alone (core/seed-registry.ts), what `install.sh --seed-registry` loads first. */
  seedRegistryArchive: 'images/registry.tar',
  /**
   * Bundles of several platforms: per reference with an index upstream, the index a registry serves once every
   * platform is pushed (imageIndexPath): the upstream one when the bundle holds all it lists, else one composed of the
   * bundle's platforms.
   */
  imageIndexesDir: 'images/indexes',
  manifestsDir: 'manifests',
  /**
   * Every object the phases apply, in apply order (formatObjectInventory): what install.sh records in the cluster, so
   * that the next upgrade can list (or with --prune delete) what its release no longer has.
   */
  objectInventory: 'manifests/objects.txt',
  /** The phases again, every image reference under the registry placeholder, for `install.sh --registry`. */
  registryManifestsDir: 'registry-manifests',
} as const;

/**
 * The bundle.json fields install.sh reads with sed (it has no JSON parser), so their names are part of the contract,
 * and so is their place: top-level, two spaces in (JSON.stringify with an indent of 2), where nested fields are deeper.
 */
export const METADATA_FIELDS = {
  formatVersion: 'formatVersion',
  contentDigest: 'contentDigest',
  toolVersion: 'version',
} as const;

/** Digits of a split archive's part suffix: `images.tar.0000` … `images.tar.9999`. */
export const ARCHIVE_PART_DIGITS = 4;
export const MAX_ARCHIVE_PARTS = 10 ** ARCHIVE_PART_DIGITS;

/**
 * Archive `index` (0-based) of `count` in `dir` (images/, or a platform's directory): `images.tar` when there is one,
 * else `images-1.tar` ….
 */
export function imageArchivePath(index: number, count: number, dir: string = BUNDLE_FILES.imagesDir): string {
  return `${dir}/${count === 1 ? 'images.tar' : `images-${index + 1}.tar`}`;
}

/**
 * images/base.txt: `<platform or ->\t<imageId>\t<bundleRef>\t<use>` a line, one per base image a delta bundle relies
 * on (`same`: the image itself; `layers`: layers a new image shares), sorted. `bundleRef` is the base's name for it.
 */
export function formatBaseImages(uses: readonly { platform: string | undefined; imageId: string; bundleRef: string; use: string }[]): string {
  const lines = uses.map((use) => `${use.platform ?? '-'}\t${use.imageId}\t${use.bundleRef}\t${use.use}\n`);
  return lines.sort().join('');
}

/**
 * `images/linux-arm64`: where a bundle of several platforms keeps one platform's images, each directory loadable on
 * its own. A bundle of one platform keeps them in images/ itself.
 */
export function platformImagesDir(platform: string): string {
  return `${BUNDLE_FILES.imagesDir}/${platform.replaceAll('/', '-')}`;
}

/**
 * The files of one platform's images in `dir`, named as in images/ of a bundle of one platform (install.sh relies on
 * the same base names): the archives' list, the references, the seed registry's archive.
 */
export function imageSetFiles(dir: string): { archives: string; refs: string; seedRegistryArchive: string } {
  const base = (path: string) => `${dir}/${path.slice(path.lastIndexOf('/') + 1)}`;
  return { archives: base(BUNDLE_FILES.imageArchives), refs: base(BUNDLE_FILES.imageRefs), seedRegistryArchive: base(BUNDLE_FILES.seedRegistryArchive) };
}

/** `images/indexes/<hex>.json`: an index of a bundle of several platforms, named by its digest. */
export function imageIndexPath(digest: string): string {
  return `${BUNDLE_FILES.imageIndexesDir}/${digest.slice(digest.indexOf(':') + 1)}.json`;
}

/**
 * images/archives.txt: `<stage>\t<path>` a line, in the order given (stage 1 first, each stage's largest first).
 * Every archive of a stage is loaded before any of the next, whose images use layers the earlier stage holds.
 */
export function formatImageArchives(archives: readonly { stage: number; path: string }[]): string {
  return archives.map((archive) => `${archive.stage}\t${archive.path}\n`).join('');
}

/** A push action and the file it reads from (an archive, or in a bundle of several platforms an index file too). */
export interface LocatedPushAction {
  path: string;
  action: PushAction;
}

/**
 * images/push.txt, tab-separated, one action a line, in the order to run them: every blob, then every manifest (a
 * registry refuses a manifest whose blobs it lacks), each kind in the order given:
 * - `blob <archive> <offset> <size> <digest> <repository>[ <repository>…]`: upload to the first repository, mount into
 *   the others;
 * - `base - 0 <size> <digest> <repository>[ <repository>…]`: a layer of a delta bundle's base, in none of its archives:
 *   the registry must have it from the base's push (checked in each repository, mounted where missing);
 * - `manifest <archive> <offset> <size> <digest> <mediaType> <repository> <reference>`: put under the tag (or, for an
 *   index's child, the digest).
 * `<offset>` counts bytes in the archive's stream (its parts concatenated); repositories are named as in the bundle's
 * references (`gcr.io/ml-pipeline/api-server`), below the registry's path prefix once pushed.
 */
export function formatImagePush(actions: readonly LocatedPushAction[]): string {
  const line = ({ path, action }: LocatedPushAction) => {
    switch (action.kind) {
      case 'blob':
        return `blob\t${path}\t${action.offset}\t${action.size}\t${action.digest}\t${action.repositories.join(' ')}\n`;
      case 'base':
        return `base\t-\t0\t${action.size}\t${action.digest}\t${action.repositories.join(' ')}\n`;
      case 'manifest':
        return `manifest\t${path}\t${action.offset}\t${action.size}\t${action.digest}\t${action.mediaType}\t${action.repository}\t${action.reference}\n`;
    }
  };
  const of = (kind: PushAction['kind']) => actions.filter(({ action }) => action.kind === kind).map(line);
  return [...of('blob'), ...of('base'), ...of('manifest')].join('');
}

/** The blobs images/push.txt says the archives hold (its `blob` lines): digest and size. */
export function parsePushBlobs(text: string): Map<string, number> {
  const blobs = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [kind, , , size, digest] = line.split('\t');
    if (kind === 'blob' && digest !== undefined && size !== undefined && /^\d+$/.test(size)) blobs.set(digest, Number(size));
  }
  return blobs;
}

/** Every archive's actions in archive order, each with its archive's path: what formatImagePush takes. */
export function locatePushActions(archives: readonly { path: string; push?: readonly PushAction[] | undefined }[]): LocatedPushAction[] {
  return archives.flatMap(({ path, push = [] }) => push.map((action) => ({ path, action })));
}

/** `images/images.tar.0003`: part `index` of a split archive; the parts concatenated in name order are the archive. */
export function archivePartPath(path: string, index: number): string {
  return `${path}.${String(index).padStart(ARCHIVE_PART_DIGITS, '0')}`;
}

/** Digits of a phase's number; phase names are `NN-<label>` and phases apply in lexical order of their names. */
export const PHASE_NUMBER_DIGITS = 2;

export function phaseName(index: number, label: string): string {
  return `${String(index).padStart(PHASE_NUMBER_DIGITS, '0')}-${label}`;
}

export const PHASE_MANIFEST_SUFFIX = '.yaml';
export const PHASE_WAITS_SUFFIX = '.waits';

/** `manifests/<phase>.yaml`: the objects of one install phase, applied in lexical order of phase names. */
export function phaseManifestPath(phase: string): string {
  return `${BUNDLE_FILES.manifestsDir}/${phase}${PHASE_MANIFEST_SUFFIX}`;
}

/** `manifests/<phase>.waits`: one wait per line (formatWaits), read by install.sh. */
export function phaseWaitsPath(phase: string): string {
  return `${BUNDLE_FILES.manifestsDir}/${phase}${PHASE_WAITS_SUFFIX}`;
}

/** `registry-manifests/<phase>.yaml`: the phase with every image under REGISTRY_PLACEHOLDER; its waits are the phase's. */
export function registryPhaseManifestPath(phase: string): string {
  return `${BUNDLE_FILES.registryManifestsDir}/${phase}${PHASE_MANIFEST_SUFFIX}`;
}

/** What install.sh waits for (or ensures, for `label`) after applying a phase. */
export type PlanWait =
  | { type: 'established'; crd: string }
  | { type: 'label'; namespace: string; label: string }
  | { type: 'available'; namespace: string; deployment: string }
  | { type: 'endpoints'; namespace: string; service: string };

/**
 * What a push of a reference keeps of the manifests the image archives hold for it (the third column of images/manifests.txt):
 * - `manifest`: a single-platform manifest, pushed as it is;
 * - `index`: a multi-platform index the bundle holds every manifest of, pushed as it is;
 * - `platform`: an index the bundle holds one platform's manifest of; that manifest is pushed under the tag, since a
 *   registry refuses an index whose other manifests it lacks;
 * - `composed` (bundles of several platforms): an index the bundle holds some platforms of; an index of those
 *   platforms alone (images/indexes/) goes under the tag, with a digest of its own.
 */
export type ManifestPush = 'manifest' | 'index' | 'platform' | 'composed';

export interface ImageManifestLine {
  bundleRef: string;
  /** What the target registry serves under the tag once pushed: the upstream digest of the manifest or index pushed. */
  digest: string;
  push: ManifestPush;
  /**
   * `os/arch[/variant]` of the manifest the bundle holds: for an index, the platform picked from it. In a bundle of
   * several platforms, those of the index pushed, comma-separated.
   */
  platform: string;
}

/** images/manifests.txt: `<bundleRef>\t<digest>\t<push>\t<platform>` a line, sorted by reference (C order). */
export function formatImageManifests(lines: readonly ImageManifestLine[]): string {
  const sorted = [...lines].sort((a, b) => (a.bundleRef < b.bundleRef ? -1 : a.bundleRef > b.bundleRef ? 1 : 0));
  return sorted.map((line) => `${line.bundleRef}\t${line.digest}\t${line.push}\t${line.platform}\n`).join('');
}

/** manifests/objects.txt: `<apiVersion>\t<kind>\t<namespace or ->\t<name>` a line, in apply order. */
export function formatObjectInventory(objects: readonly { apiVersion: string; kind: string; namespace: string | undefined; name: string }[]): string {
  return objects.map((object) => `${object.apiVersion}\t${object.kind}\t${object.namespace ?? '-'}\t${object.name}\n`).join('');
}

/** The wait types install.sh knows; a `.waits` line of another type is refused there. */
export const WAIT_TYPES = ['established', 'label', 'available', 'endpoints'] as const satisfies readonly PlanWait['type'][];

/**
 * The `.waits` file of a phase: one wait a line, `<type>\t<namespace or ->\t<object>`: `established - <crd>`,
 * `available <ns> <deployment>`, `endpoints <ns> <service>`, `label <ns> <key=value>`.
 */
export function formatWaits(waits: readonly PlanWait[]): string {
  return waits
    .map((wait) => {
      switch (wait.type) {
        case 'established':
          return `established\t-\t${wait.crd}\n`;
        case 'label':
          return `label\t${wait.namespace}\t${wait.label}\n`;
        case 'available':
          return `available\t${wait.namespace}\t${wait.deployment}\n`;
        case 'endpoints':
          return `endpoints\t${wait.namespace}\t${wait.service}\n`;
      }
    })
    .join('');
}

/**
 * The text bundle.json's contentDigest is the SHA-256 of: SHA256SUMS without the line of bundle.json itself (which
 * cannot list its own digest). Ties bundle.json to the exact content, so one moved from another bundle is caught.
 */
export function contentDigestInput(checksumsText: string): string {
  const metadata = BUNDLE_FILES.metadata;
  return checksumsText
    .split('\n')
    .filter((line) => !line.endsWith(`  ${metadata}`) && !line.endsWith(` *${metadata}`))
    .join('\n');
}

/** Why a reader refuses a bundle's formatVersion, or undefined when it can read it. */
export function unreadableFormat(formatVersion: unknown, writtenBy: unknown): string | undefined {
  if (typeof formatVersion !== 'number' || !Number.isSafeInteger(formatVersion) || formatVersion < 1) {
    return `bundle.json has no valid formatVersion (${JSON.stringify(formatVersion)})`;
  }
  if (formatVersion <= BUNDLE_FORMAT_VERSION) return undefined;
  const by = typeof writtenBy === 'string' && writtenBy !== '' ? `kfbundle ${writtenBy}` : 'a newer kfbundle';
  return `the bundle is format ${formatVersion}, written by ${by}; this kfbundle reads formats up to ${BUNDLE_FORMAT_VERSION}: use ${by} or newer`;
}

export interface BundlePhase {
  name: string;
  file: string;
  objects: number;
  waits: PlanWait[];
  why: string;
}

/** A release's tiers, and `seed`: the image of the registry `install.sh --seed-registry` runs. */
export type BundleTier = ImageTier | typeof SEED_TIER;

/**
 * The stage of the seed registry's archive in bundle.json `imageArchives`: not in images/archives.txt, so a load on a
 * node does not take it; `install.sh --seed-registry` loads it alone.
 */
export const SEED_REGISTRY_STAGE = 0;

export interface BundleImage {
  /** Normalised reference as the release names it. */
  ref: string;
  /** Why it is needed: install, runtime, catalog, conditional or example (docs/image-discovery.md), or seed. */
  tier: BundleTier;
  /** Reference stored in the image archive and used by the bundle's manifests (differs from `ref` for digest pins). */
  bundleRef: string;
  /** Reference actually pulled (a mirror's, when one served it). */
  pulledFrom: string;
  /** Repository digest the registry served (`sha256:…`); for digest pins, equal to the pinned digest. */
  digest: string | undefined;
  /** The pinned digest, present only for references pinned by digest. */
  pinnedDigest?: string;
  /**
   * Built from registries only: the single-platform image manifest the bundle holds, exactly as served. Equal to
   * `digest` unless the reference names a multi-platform index (then `digest` is the index's).
   */
  manifestDigest?: string;
  /** With `manifestDigest`: its media type (Docker schema 2 or OCI). */
  manifestMediaType?: string;
  /** With `manifestDigest`: its platform, `os/arch[/variant]` (for an index, the one picked from it). */
  platform?: string;
  /** With `manifestDigest`, when `digest` is an index's: whether the bundle holds every manifest the index lists. */
  indexComplete?: boolean;
  /**
   * With `manifestDigest`: the layers' digests as served, base layer first. What a delta bundle built on this one
   * compares with (`build --since`), so it leaves out every layer the target already holds.
   */
  layers?: string[];
  /**
   * Bundles of several platforms (one entry per reference and platform): the bundle's platform this entry was pulled
   * for, whose directory holds it (platformImagesDir). `platform` is the image's own, which differs for an image of
   * one platform only.
   */
  forPlatform?: string;
  /** Engine image ID (config digest). */
  imageId: string;
  /** Uncompressed size in bytes as the engine reports it. */
  size: number;
  /** Where the manifests reference it. */
  locations: { object: string; path: string }[];
}

/**
 * One image archive: `path` (imageArchivePath) written whole, or with `--split-size` as the parts `path.0000`, …
 * whose concatenation in name order is the archive.
 */
export interface ImageArchiveFacts {
  path: string;
  /** Loaded after every archive of a lower stage (formatImageArchives). */
  stage: number;
  parts: string[];
  size: number;
  sha256: string;
  partSize: number | undefined;
  /** The references it holds (bundle references, sorted). */
  refs: string[];
  /** Bundles of several platforms: the platform whose images it holds. */
  platform?: string;
}

/** Bundles of several platforms: the index a registry serves under a reference once every platform is pushed. */
export interface BundleImageIndex {
  bundleRef: string;
  digest: string;
  mediaType: string;
  /** imageIndexPath(digest). */
  path: string;
  /** False: the upstream index, which lists only platforms the bundle holds. True: an index of the bundle's platforms. */
  composed: boolean;
  /** The platforms it lists, `os/arch[/variant]`. */
  platforms: string[];
}

export interface BundleFile {
  path: string;
  size: number;
  sha256: string;
}

export interface BundleMetadata {
  formatVersion: number;
  tool: { name: 'kfbundle'; version: string };
  /**
   * SHA-256 of SHA256SUMS without its bundle.json line: ties this description to the exact content, so a
   * bundle.json moved from another bundle (or edited along with SHA256SUMS) is caught.
   */
  contentDigest: string;
  input: {
    /** `images`: an add-on bundle, images only (`build --image` / `--image-list` with no manifests). */
    kind: 'file' | 'kustomize' | 'release' | 'images';
    /** Base name of the input, never an absolute path of the build machine. */
    name: string;
    /** SHA-256 of the rendered manifests as read, before patching. */
    renderedSha256: string;
    objects: number;
  };
  mirrors: { source: string; target: string }[];
  /**
   * `os/arch[/variant]` the images were pulled for (`build --platform`): what install.sh checks a node against
   * before loading. Absent from bundles of kfbundle before it was recorded (they are linux/amd64 unless built on
   * another machine).
   */
  platform?: string;
  /**
   * Bundles of several platforms (format 3) instead of `platform`: every platform, each with its images in its own
   * directory (platformImagesDir).
   */
  platforms?: string[];
  /** The bundle spec applied, if any, and the tiers bundled. */
  resolution: {
    spec: string | undefined;
    tiers: ImageTier[];
    /** Images found in tiers not bundled: what a user would still need from elsewhere. */
    notBundled: { ref: string; tier: ImageTier }[];
    excluded: { ref: string; why: string }[];
    warnings: DiscoveryWarning[];
  };
  images: BundleImage[];
  /**
   * The image archives in load order (images/archives.txt); empty when there are no images. With several platforms,
   * each platform's in turn, in its own load order (its directory's archives.txt).
   */
  imageArchives: ImageArchiveFacts[];
  /** Bundles of several platforms: what a registry serves under each reference with an index upstream. */
  imageIndexes?: BundleImageIndex[];
  /**
   * A delta bundle (`build --since`): its base (contentDigest and release), the images whose content is the base's
   * (carried as config and manifest only), and every base image the target must hold (images/base.txt).
   */
  base?: DeltaRecord;
  /**
   * What the manifests ask of a cluster (summed requests, the largest pod, claims that need a default StorageClass,
   * supported Kubernetes versions): what install.sh's preflight checks. Absent from bundles without manifests and
   * from bundles of kfbundle before it was recorded.
   */
  requirements?: ClusterRequirements;
  manifests: {
    /** Edits made to the release's objects: pull policies and digest-pin references. */
    changes: number;
    /** The AWS partition ARNs were moved to (`--aws-partition`), and how many objects that changed. */
    awsPartition?: { partition: AwsPartition; objects: number };
  };
  /** How the manifests move to a private registry (docs/bundle-format.md). */
  relocation: {
    /** Host name standing for the registry in registry-manifests/. */
    placeholder: string;
    /** The registry `build --registry` relocated manifests/ to; install.sh then pushes there by default. */
    registry: string | undefined;
    /** Objects whose references moved. */
    objects: number;
    /** References the resolver still finds outside the registry after relocation (none, unless a reference is unusual). */
    leftovers: { ref: string; locations: { object: string; path: string }[] }[];
  };
  /** Install phases in order; install.sh applies them and waits as listed. */
  plan: { phases: BundlePhase[]; warnings: string[] };
  /** Every file the bundle ships except bundle.json and SHA256SUMS themselves. */
  files: BundleFile[];
}
