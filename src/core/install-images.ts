// The distinct images that pod templates reference, normalised, each with every place it was found.

import { KfbundleError } from './errors.js';
import { formatImageRef, parseImageRef, type ImageRef } from './image-ref.js';
import type { KubernetesObject } from './k8s-object.js';
import { findPodTemplateContainers } from './pod-images.js';

export interface ImageLocation {
  object: string;
  path: string;
}

export interface FoundImage {
  /** Normalised reference, the key images are compared by. */
  ref: string;
  parsed: ImageRef;
  locations: ImageLocation[];
}

/**
 * Collects pod-template images in first-seen order.
 * @throws KfbundleError IMAGE_REF_INVALID naming the object and field of a reference that does not parse.
 */
export function collectInstallImages(objects: readonly KubernetesObject[]): FoundImage[] {
  const byRef = new Map<string, FoundImage>();
  for (const location of findPodTemplateContainers(objects)) {
    let parsed: ImageRef;
    try {
      parsed = parseImageRef(location.image);
    } catch (error) {
      throw new KfbundleError(
        'IMAGE_REF_INVALID',
        `${location.object} ${location.path}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const ref = formatImageRef(parsed);
    const entry = byRef.get(ref) ?? { ref, parsed, locations: [] };
    entry.locations.push({ object: location.object, path: location.path });
    byRef.set(ref, entry);
  }
  return [...byRef.values()];
}
