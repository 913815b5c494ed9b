// What a bundle contains, decided without writing anything: the resolved release, the pulled images' facts and the
// build options in; every text file with its bytes, the install phases, the image references, the installer values
// and bundle.json (less what only the image archive's stream can tell) out. `build` writes what this returns, so the
// plan can be tested, printed and compared (test/golden/) without an engine or a disk.

import { createHash } from 'node:crypto';
import {
  BUNDLE_FILES,
  contentDigestInput,
  formatBaseImages,
  formatObjectInventory,
  formatImageArchives,
  formatImagePush,
  formatVersionFor,
  imageSetFiles,
  locatePushActions,
  formatImageManifests,
  formatWaits,
  phaseManifestPath,
  phaseWaitsPath,
  registryPhaseManifestPath,
  type BundleFile,
  type BundleImage,
  type BundleMetadata,
  type BundlePhase,
  type ImageArchiveFacts,
  type ImageManifestLine,
} from './bundle-layout.js';
import { formatChecksums } from './checksums.js';
import { clusterRequirements } from './cluster-requirements.js';
import { rewriteAwsPartition, type AwsPartition } from './aws-partition.js';
import type { BundleSpec } from './bundle-spec.js';
import type { ImageFinding } from './discover-images.js';
import { KfbundleError } from './errors.js';
import { planInstall } from './install-plan.js';
import { installerValuesFor, renderInstaller, type InstallerValues } from './installer-script.js';
import { describeObject, objectTexts, type KubernetesObject } from './k8s-object.js';
import type { Mirror } from './mirrors.js';
import type { PushAction } from './registry-push-plan.js';
import type { DeltaRecord } from './delta-base.js';
import { planImageIndexes, platformManifestLines, platformPushActions, type PlatformImageSet, type ServedIndex } from './platform-images.js';
import { SEED_TIER } from './seed-registry.js';
import type { Platform } from './registry-image.js';
import { formatPlatform } from './registry-manifest.js';
import { patchManifests, type ManifestChange } from './patch-manifests.js';
import { REGISTRY_PLACEHOLDER, relocateManifests, unrelocatedImages } from './relocate-images.js';
import type { ResolvedRelease } from './resolve-release.js';

export interface BundlePlanInput {
  release: ResolvedRelease;
  rendered: { kind: BundleMetadata['input']['kind']; description: string; text: string };
  /** The images as pulled, in pull order. */
  images: readonly BundleImage[];
  /**
   * The image archives (imageArchivePath) in load order, as the save wrote them, with what a push reads of each.
   * Empty in a bundle of several platforms, whose archives are its platforms'.
   */
  archives: readonly { stage: number; path: string; push?: readonly PushAction[] | undefined }[];
  /** A bundle of several platforms: each platform's directory, release images and archives. */
  platformSets?: readonly (PlatformImageSet & { dir: string; archives: readonly { stage: number; path: string; push?: readonly PushAction[] | undefined }[] })[] | undefined;
  /** With `platformSets`: the upstream index of every reference that named one. */
  servedIndexes?: ReadonlyMap<string, ServedIndex> | undefined;
  /** A delta bundle (`build --since`): its base, and the base images it relies on. */
  base?: DeltaRecord | undefined;
  options: {
    mirrors: readonly Mirror[];
    spec?: BundleSpec | undefined;
    registry?: string | undefined;
    awsPartition?: AwsPartition | undefined;
    splitSize?: number | undefined;
    /** The platform the images were pulled for. */
    platform?: Platform | undefined;
  };
  tool: { version: string; installerTemplate: string };
}

export interface PlannedFile {
  path: string;
  text: string;
  executable: boolean;
  size: number;
  sha256: string;
}

/** bundle.json without the fields the archive stream and the final file list fill in (sealBundle). */
export type PlannedMetadata = Omit<BundleMetadata, 'contentDigest' | 'imageArchives' | 'files'>;

/** One object of the release as the bundle applies it. */
export interface PlannedObject {
  phase: string;
  /** `Kind/namespace/name`. */
  name: string;
  /** Its text in manifests/: the release's own bytes unless the bundle edited it. */
  text: string;
  edited: boolean;
}

export interface BundlePlan {
  /** Every file of the bundle but the image archive, bundle.json, SHA256SUMS and its signature, sorted by path. */
  files: PlannedFile[];
  phases: BundlePhase[];
  /** The references images/refs.txt lists (what the archive must hold), sorted. */
  imageRefs: string[];
  installer: InstallerValues;
  /** Every edit made to the release's objects (pull policies, digest pins), in object order. */
  changes: ManifestChange[];
  /** Every object in apply order, with the phase it is in. */
  objects: PlannedObject[];
  metadata: PlannedMetadata;
}

/** An image archive as written: known only once its stream has ended. */
export interface WrittenArchive {
  path: string;
  stage: number;
  files: BundleFile[];
  size: number;
  sha256: string;
  refs: readonly string[];
  push?: readonly PushAction[] | undefined;
  /** In a bundle of several platforms: whose images it holds. */
  platform?: string | undefined;
}

export interface SealedBundle {
  metadata: BundleMetadata;
  metadataText: string;
  /** SHA256SUMS over every file, bundle.json included; the signature, if any, is over these bytes. */
  checksumsText: string;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

function plannedFile(path: string, text: string, executable = false): PlannedFile {
  return { path, text, executable, size: Buffer.byteLength(text, 'utf8'), sha256: sha256(text) };
}

const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);

/** @throws KfbundleError RELOCATION_INCOMPLETE when a registry was named and a reference cannot move there. */
export function planBundle(input: BundlePlanInput): BundlePlan {
  const { release, images, options } = input;
  const { documents, objects, resolution } = release;
  const imageRewrites = new Map(images.filter((i) => i.bundleRef !== i.ref).map((i) => [i.ref, i.bundleRef] as const));
  const findings = resolution.images.flatMap((image) => image.locations);
  const patched = patchManifests(objects, { imageRewrites, findings });
  const aws = options.awsPartition === undefined ? undefined : rewriteAwsPartition(patched.objects, options.awsPartition);
  const finalObjects = aws?.objects ?? patched.objects;
  const relocation = relocateForRegistry(finalObjects, findings, images, options.registry);
  const plan = planInstall(finalObjects);
  const texts = objectTexts(documents, finalObjects);
  const registryTexts = objectTexts(documents, relocation.objects);
  const mainTexts = options.registry === undefined ? texts : registryTexts.map((text) => text.replaceAll(REGISTRY_PLACEHOLDER, options.registry!));

  const files: PlannedFile[] = [];
  const phases: BundlePhase[] = [];
  const planned: PlannedObject[] = [];
  for (const phase of plan.phases) {
    for (const index of phase.objects) {
      planned.push({ phase: phase.name, name: describeObject(finalObjects[index]!), text: mainTexts[index]!, edited: (options.registry === undefined ? finalObjects : relocation.objects)[index] !== objects[index] });
    }
    const file = phaseManifestPath(phase.name);
    files.push(plannedFile(file, phase.objects.map((index) => mainTexts[index]).join('---\n')));
    files.push(plannedFile(phaseWaitsPath(phase.name), formatWaits(phase.waits)));
    files.push(plannedFile(registryPhaseManifestPath(phase.name), phase.objects.map((index) => registryTexts[index]).join('---\n')));
    phases.push({ name: phase.name, file, objects: phase.objects.length, waits: phase.waits, why: phase.why });
  }
  const applied = plan.phases.flatMap((phase) => phase.objects.map((index) => finalObjects[index]!));
  if (applied.length > 0) {
    const inventory = applied.map((object) => ({ apiVersion: String(object.apiVersion), kind: object.kind ?? '', namespace: object.metadata?.namespace, name: object.metadata?.name ?? '' }));
    files.push(plannedFile(BUNDLE_FILES.objectInventory, formatObjectInventory(inventory)));
  }
  // The seed registry's image is loaded by --seed-registry alone, and runs from the node it is loaded on: never pushed.
  const releaseImages = images.filter((image) => image.tier !== SEED_TIER);
  const seedImage = images.find((image) => image.tier === SEED_TIER);
  const imageRefs = [...new Set(releaseImages.map((image) => image.bundleRef))].sort();
  const refsText = (refs: readonly string[]) => `${refs.join('\n')}\n`;
  if (imageRefs.length > 0) files.push(plannedFile(BUNDLE_FILES.imageRefs, refsText(imageRefs)));
  const sets = input.platformSets ?? [];
  const indexes = sets.length === 0 ? [] : planImageIndexes(sets, (ref) => input.servedIndexes?.get(ref));
  if (sets.length === 0) {
    if (input.archives.length > 0) files.push(plannedFile(BUNDLE_FILES.imageArchives, formatImageArchives(input.archives)));
    const manifestLines = imageManifestLines(releaseImages);
    if (manifestLines.length > 0) files.push(plannedFile(BUNDLE_FILES.imageManifests, formatImageManifests(manifestLines)));
    // All or nothing: a push plan that missed one archive would leave its images out of the registry.
    if (input.archives.length > 0 && input.archives.every((archive) => archive.push !== undefined)) {
      files.push(plannedFile(BUNDLE_FILES.imagePush, formatImagePush(locatePushActions(input.archives))));
    }
  } else {
    // Each platform's directory loads on its own; images/ says how a registry serves them all.
    for (const set of sets) {
      if (set.archives.length === 0) continue;
      const setFiles = imageSetFiles(set.dir);
      files.push(plannedFile(setFiles.archives, formatImageArchives(set.archives)));
      files.push(plannedFile(setFiles.refs, refsText([...new Set(set.images.map((image) => image.bundleRef))].sort())));
    }
    const manifestLines = platformManifestLines(sets, indexes);
    if (manifestLines.length > 0) files.push(plannedFile(BUNDLE_FILES.imageManifests, formatImageManifests(manifestLines)));
    for (const index of indexes) files.push(plannedFile(index.path, index.text));
    const allArchives = sets.flatMap((set) => set.archives);
    if (allArchives.length > 0 && allArchives.every((archive) => archive.push !== undefined)) {
      files.push(plannedFile(BUNDLE_FILES.imagePush, formatImagePush(platformPushActions(sets, indexes))));
    }
  }
  if (input.base !== undefined && input.base.uses.length > 0) files.push(plannedFile(BUNDLE_FILES.baseImages, formatBaseImages(input.base.uses)));
  const platforms = sets.map((set) => set.platform);
  const range = options.spec?.kubernetes;
  const requirements = applied.length === 0 ? undefined : clusterRequirements(applied, range === undefined ? undefined : { min: range.min, max: range.max });
  const installer = installerValuesFor(input.tool.version, options.registry, seedImage?.bundleRef, {
    platform: options.platform === undefined ? undefined : formatPlatform(options.platform),
    platformDirs: sets.map((set) => ({ platform: set.platform, dir: set.dir })),
    base: input.base === undefined ? undefined : describeBase(input.base),
    requirements,
  });
  files.push(plannedFile(BUNDLE_FILES.installer, renderInstaller(input.tool.installerTemplate, installer), true));

  const metadata: PlannedMetadata = {
    formatVersion: formatVersionFor(Math.max(1, platforms.length)),
    tool: { name: 'kfbundle', version: input.tool.version },
    input: {
      kind: input.rendered.kind,
      name: input.rendered.description,
      renderedSha256: sha256(input.rendered.text),
      objects: objects.length,
    },
    mirrors: options.mirrors.map((m) => ({ source: m.source, target: m.target })),
    ...(options.platform === undefined ? {} : { platform: formatPlatform(options.platform) }),
    ...(platforms.length === 0 ? {} : { platforms }),
    resolution: {
      spec: options.spec?.release,
      tiers: resolution.tiers,
      notBundled: resolution.images.filter((image) => !image.included).map((image) => ({ ref: image.ref, tier: image.tier })),
      excluded: resolution.excluded,
      warnings: resolution.warnings,
    },
    images: [...images],
    ...(sets.length === 0 ? {} : { imageIndexes: indexes.map(({ text: _text, ...index }) => index) }),
    ...(input.base === undefined ? {} : { base: input.base }),
    ...(requirements === undefined ? {} : { requirements }),
    manifests: {
      changes: patched.changes.length,
      ...(aws === undefined || options.awsPartition === undefined ? {} : { awsPartition: { partition: options.awsPartition, objects: aws.changed.length } }),
    },
    relocation: {
      placeholder: REGISTRY_PLACEHOLDER,
      registry: options.registry,
      objects: relocation.changed.length,
      leftovers: relocation.leftovers.map((image) => ({ ref: image.ref, locations: image.locations.map((l) => ({ object: l.object, path: l.path })) })),
    },
    plan: { phases, warnings: plan.warnings },
  };
  return { files: files.sort(byPath), phases, imageRefs, installer, changes: patched.changes, objects: planned, metadata };
}

/**
 * bundle.json and SHA256SUMS once the archives are written. The archives' parts are listed, the contentDigest ties
 * bundle.json to SHA256SUMS, and SHA256SUMS, which lists bundle.json too, is what a signature covers.
 */
export function sealBundle(plan: BundlePlan, archives: readonly WrittenArchive[], splitSize: number | undefined): SealedBundle {
  const archiveFiles = archives.flatMap((archive) => archive.files);
  const files: BundleFile[] = [...archiveFiles, ...plan.files.map(({ path, size, sha256: digest }) => ({ path, size, sha256: digest }))].sort(byPath);
  const imageArchives: ImageArchiveFacts[] = archives.map((archive) => ({
    path: archive.path,
    stage: archive.stage,
    parts: archive.files.map((file) => file.path),
    size: archive.size,
    sha256: archive.sha256,
    partSize: splitSize,
    refs: [...archive.refs].sort(),
    ...(archive.platform === undefined ? {} : { platform: archive.platform }),
  }));
  const { formatVersion, tool, ...rest } = plan.metadata;
  const { input, mirrors, platform, platforms, resolution, images, imageIndexes, base, requirements, manifests, relocation, plan: installPlan } = rest;
  // Field order is the order bundle.json has always had: its bytes stay the same for the same content.
  const metadata: BundleMetadata = {
    formatVersion,
    tool,
    contentDigest: sha256(contentDigestInput(formatChecksums(files))),
    input,
    mirrors,
    ...(platform === undefined ? {} : { platform }),
    ...(platforms === undefined ? {} : { platforms }),
    resolution,
    images,
    imageArchives,
    ...(imageIndexes === undefined ? {} : { imageIndexes }),
    ...(base === undefined ? {} : { base }),
    ...(requirements === undefined ? {} : { requirements }),
    manifests,
    relocation,
    plan: installPlan,
    files,
  };
  const metadataText = `${JSON.stringify(metadata, null, 2)}\n`;
  const checksumsText = formatChecksums([...files, { path: BUNDLE_FILES.metadata, sha256: sha256(metadataText) }]);
  return { metadata, metadataText, checksumsText };
}

/** How the installer names a delta's base: `release v1.10.2 (bundle 3f2a…)`. */
function describeBase(base: DeltaRecord): string {
  return `release ${base.release} (bundle ${base.contentDigest.slice(0, 12)})`;
}

/**
 * What a push keeps of each reference's manifests, for the images whose manifests the bundle holds as served (built
 * from registries; an engine's save writes manifests of its own, so those images have none). One line a reference.
 */
function imageManifestLines(images: readonly BundleImage[]): ImageManifestLine[] {
  const lines = new Map<string, ImageManifestLine>();
  for (const image of images) {
    const { bundleRef, digest, manifestDigest, platform } = image;
    if (manifestDigest === undefined || digest === undefined || platform === undefined || lines.has(bundleRef)) continue;
    if (digest === manifestDigest) lines.set(bundleRef, { bundleRef, digest, push: 'manifest', platform });
    else if (image.indexComplete === true) lines.set(bundleRef, { bundleRef, digest, push: 'index', platform });
    else lines.set(bundleRef, { bundleRef, digest: manifestDigest, push: 'platform', platform });
  }
  return [...lines.values()];
}

/**
 * The objects with every image under REGISTRY_PLACEHOLDER. When the user named a registry, a reference left outside
 * it would send a node to the internet, so the build stops and names it; otherwise bundle.json records it.
 */
function relocateForRegistry(objects: readonly KubernetesObject[], findings: readonly ImageFinding[], images: readonly BundleImage[], registry: string | undefined) {
  const relocated = relocateManifests(objects, findings, images.map((image) => image.bundleRef), REGISTRY_PLACEHOLDER);
  const leftovers = unrelocatedImages(relocated.objects, REGISTRY_PLACEHOLDER);
  if (registry !== undefined && leftovers.length > 0) {
    const list = leftovers.map((image) => `${image.ref} (${image.locations.map((l) => `${l.object} ${l.path}`).join(', ')})`).join('\n  ');
    throw new KfbundleError('RELOCATION_INCOMPLETE', `${leftovers.length} image reference(s) could not be moved to ${registry}:\n  ${list}`, {
      hint: 'rewrite these references in your manifests (or exclude the objects) and build again; please report the case',
    });
  }
  return { ...relocated, leftovers };
}
