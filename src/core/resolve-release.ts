// The one resolver `images` and `build` share: rendered text in, the parsed release and what the bundle holds out,
// so both commands find, warn and fail alike for the same input.

import type { BundleSpec } from './bundle-spec.js';
import { findCompiledDefaults, type Component, type RecognisedComponent } from './component-defaults.js';
import { COMPONENT_TABLE } from './component-table.js';
import { discoverImages, type DiscoveryWarning, type ImageTier } from './discover-images.js';
import { collectInstallImages } from './install-images.js';
import { parseManifestDocuments, type KubernetesObject, type ManifestDocument } from './k8s-object.js';
import { resolveImages, type AddedImage, type Resolution } from './resolve-images.js';

export interface ResolvedRelease {
  /** The documents as read; unedited ones are written back byte for byte. */
  documents: ManifestDocument[];
  objects: KubernetesObject[];
  resolution: Resolution;
  /** What the component table made of the release's workloads. */
  components: { recognised: RecognisedComponent[]; unrecognised: string[] };
}

/**
 * @param source names the input in messages (`rendered.yaml`, `kustomize build example`).
 * @throws KfbundleError MANIFEST_INVALID for YAML that does not parse; IMAGE_REF_INVALID for a pod-template image
 *   that does not parse: kubelet could not pull it either, so neither listing nor bundling it would help.
 */
export function resolveRelease(
  text: string,
  source: string,
  spec: BundleSpec | undefined,
  tiers?: readonly ImageTier[],
  added: readonly AddedImage[] = [],
  table: readonly Component[] = COMPONENT_TABLE,
): ResolvedRelease {
  const documents = parseManifestDocuments(text, source);
  const objects = documents.flatMap((document) => document.objects);
  collectInstallImages(objects);
  const compiled = findCompiledDefaults(objects, table);
  const found = discoverImages(objects, compiled.findings);
  const discovery = { images: found.images, warnings: [...found.warnings, ...compiled.warnings] };
  return {
    documents,
    objects,
    resolution: resolveImages(discovery, spec, tiers, added),
    components: { recognised: compiled.recognised, unrecognised: compiled.unrecognised },
  };
}

/**
 * What is said about the components when no curated spec stands behind the images: which the component table knows
 * (so their compiled-in images are in), and which workload images belong to none (so theirs, if any, are not).
 */
export function describeComponents(components: ResolvedRelease['components']): string[] {
  const known = components.recognised.filter((component) => component.known);
  const named = (c: RecognisedComponent) => (c.versions.length === 0 ? c.name : `${c.name} ${c.versions.join(', ')}`);
  const lines = [`components recognised (compiled-in images included): ${known.map(named).join('; ') || 'none'}`];
  const unknownVersion = components.recognised.filter((component) => !component.known);
  if (unknownVersion.length > 0) lines.push(`components at a version the table lacks (see the warnings): ${unknownVersion.map(named).join('; ')}`);
  if (components.unrecognised.length > 0) lines.push(`images of no component the table knows (any compiled-in images they pull are not included): ${components.unrecognised.join(', ')}`);
  return lines;
}

/** How every command words a discovery warning: the object and field, the value found there, and what is wrong. */
export function describeWarning(warning: DiscoveryWarning): string {
  return `${warning.object} ${warning.path}: ${JSON.stringify(warning.value)}: ${warning.message}`;
}
