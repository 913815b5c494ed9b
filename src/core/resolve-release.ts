// The one resolver `images` and `build` share: rendered text in, the parsed release and what the bundle holds out,
// so both commands find, warn and fail alike for the same input.

import type { BundleSpec } from './bundle-spec.js';
import { discoverImages, type DiscoveryWarning, type ImageTier } from './discover-images.js';
import { collectInstallImages } from './install-images.js';
import { parseManifestDocuments, type KubernetesObject, type ManifestDocument } from './k8s-object.js';
import { resolveImages, type AddedImage, type Resolution } from './resolve-images.js';

export interface ResolvedRelease {
  /** The documents as read; unedited ones are written back byte for byte. */
  documents: ManifestDocument[];
  objects: KubernetesObject[];
  resolution: Resolution;
}

/**
 * @param source names the input in messages (`rendered.yaml`, `kustomize build example`).
 * @throws KfbundleError MANIFEST_INVALID for YAML that does not parse; IMAGE_REF_INVALID for a pod-template image
 *   that does not parse: kubelet could not pull it either, so neither listing nor bundling it would help.
 */
export function resolveRelease(text: string, source: string, spec: BundleSpec | undefined, tiers?: readonly ImageTier[], added: readonly AddedImage[] = []): ResolvedRelease {
  const documents = parseManifestDocuments(text, source);
  const objects = documents.flatMap((document) => document.objects);
  collectInstallImages(objects);
  return { documents, objects, resolution: resolveImages(discoverImages(objects), spec, tiers, added) };
}

/** How every command words a discovery warning: the object and field, the value found there, and what is wrong. */
export function describeWarning(warning: DiscoveryWarning): string {
  return `${warning.object} ${warning.path}: ${JSON.stringify(warning.value)}: ${warning.message}`;
}
