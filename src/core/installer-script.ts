// Fills the installer template from installer/ with the few values that differ per bundle.

import { BUNDLE_FILES, BUNDLE_FORMAT_VERSION } from './bundle-layout.js';
import { REGISTRY_PLACEHOLDER } from './relocate-images.js';

export interface InstallerValues {
  toolVersion: string;
  formatVersion: number;
  imagesTar: string;
  manifestsDir: string;
  checksums: string;
  imageRefs: string;
  registryManifestsDir: string;
  registryPlaceholder: string;
  /** The registry `build --registry` named, or empty. */
  buildRegistry: string;
}

/** The values of a bundle in the current format, made by `toolVersion`. */
export function installerValuesFor(toolVersion: string, buildRegistry: string | undefined): InstallerValues {
  return {
    toolVersion,
    formatVersion: BUNDLE_FORMAT_VERSION,
    imagesTar: BUNDLE_FILES.imagesTar,
    manifestsDir: BUNDLE_FILES.manifestsDir,
    checksums: BUNDLE_FILES.checksums,
    imageRefs: BUNDLE_FILES.imageRefs,
    registryManifestsDir: BUNDLE_FILES.registryManifestsDir,
    registryPlaceholder: REGISTRY_PLACEHOLDER,
    buildRegistry: buildRegistry ?? '',
  };
}

/**
 * Replaces every `@@NAME@@` placeholder. A placeholder without a value is an error in the template, not in the
 * user's input, so it throws a plain Error (reported as a bug).
 */
export function renderInstaller(template: string, values: InstallerValues): string {
  const table: Record<string, string> = {
    KFBUNDLE_VERSION: values.toolVersion,
    FORMAT_VERSION: String(values.formatVersion),
    IMAGES_TAR: values.imagesTar,
    MANIFESTS_DIR: values.manifestsDir,
    CHECKSUMS: values.checksums,
    IMAGE_REFS: values.imageRefs,
    REGISTRY_MANIFESTS_DIR: values.registryManifestsDir,
    REGISTRY_PLACEHOLDER: values.registryPlaceholder,
    BUILD_REGISTRY: values.buildRegistry,
  };
  return template.replace(/@@([A-Z_]+)@@/g, (_, name: string) => {
    const value = table[name];
    if (value === undefined) throw new Error(`installer template has unknown placeholder @@${name}@@`);
    return value;
  });
}
