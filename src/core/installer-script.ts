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
  | 'SEED_REGISTRY_IMAGE';

const digitsGlob = (count: number) => '[0-9]'.repeat(count);

/**
 * The values of a bundle in the current format, made by `toolVersion`; `seedRegistryImage` is the bundle reference
 * of the seed registry's image, when the bundle carries one.
 */
export function installerValuesFor(toolVersion: string, buildRegistry: string | undefined, seedRegistryImage?: string): InstallerValues {
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
  };
}

/** A line of the template that stands for one of installer/'s parts: `# @@include registry-http.sh@@`. */
const INCLUDE_LINE = /^# @@include ([a-z0-9-]+\.sh)@@$/gm;

/** The parts of the template names, in the order it names them. */
export function installerPartsNamed(template: string): string[] {
  return [...template.matchAll(INCLUDE_LINE)].map((match) => match[1]!);
}

/**
 * The template with each include line replaced by that part's text (its own `#!` line dropped): the bundle carries
 * one install.sh, while installer/ keeps one file per job. A part named but not given is a packaging bug.
 */
export function inlineInstallerParts(template: string, parts: Readonly<Record<string, string>>): string {
  return template.replace(INCLUDE_LINE, (_, name: string) => {
    const text = parts[name];
    if (text === undefined) throw new Error(`installer template includes ${name}, which is not in installer/`);
    return text.replace(/^#!.*\n/, '').replace(/\n$/, '');
  });
}

/**
 * Replaces every `@@NAME@@` placeholder. A placeholder without a value is an error in the template, not in the
 * user's input, so it throws a plain Error (reported as a bug).
 */
export function renderInstaller(template: string, values: InstallerValues): string {
  return template.replace(/@@([A-Z_]+)@@/g, (_, name: string) => {
    const value = (values as Record<string, string | undefined>)[name];
    if (value === undefined) throw new Error(`installer template has unknown placeholder @@${name}@@`);
    return value;
  });
}
