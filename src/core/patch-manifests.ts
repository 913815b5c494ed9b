// Edits the objects a bundle ships so an isolated cluster never asks a registry for an image it already holds.
// Edits are structural, on parsed objects: regex over YAML text breaks on block scalars, anchors and quoting.

import { defaultsToAlwaysPull, formatImageRef, parseImageRef } from './image-ref.js';
import type { KubernetesObject } from './k8s-object.js';
import { findPodTemplateContainers } from './pod-images.js';

export interface ManifestPatchOptions {
  /** Normalised reference -> reference the manifests must use instead (digest pins stored under a tag). */
  imageRewrites: ReadonlyMap<string, string>;
}

export interface ManifestChange {
  object: string;
  path: string;
  from: string | undefined;
  to: string;
}

export interface PatchedManifests {
  objects: KubernetesObject[];
  changes: ManifestChange[];
}

/**
 * Returns copies of the objects in which every pod-template container pulls `IfNotPresent` where it would otherwise
 * pull `Always` (explicitly, or by kubelet's default for `:latest` and untagged images), and whose image is rewritten
 * where `imageRewrites` says so. The input objects are not modified.
 */
export function patchManifests(objects: readonly KubernetesObject[], options: ManifestPatchOptions): PatchedManifests {
  const copies = structuredClone(objects) as KubernetesObject[];
  const changes: ManifestChange[] = [];
  for (const location of findPodTemplateContainers(copies)) {
    const { container } = location;
    const policyPath = location.path.replace(/\.image$/, '.imagePullPolicy');
    const policy = container['imagePullPolicy'];
    const pullsAlways = policy === 'Always' || (policy === undefined && defaultsToAlwaysPull(location.image));
    if (pullsAlways) {
      container['imagePullPolicy'] = 'IfNotPresent';
      changes.push({ object: location.object, path: policyPath, from: policy as string | undefined, to: 'IfNotPresent' });
    }
    const rewrite = options.imageRewrites.get(formatImageRef(parseImageRef(location.image)));
    if (rewrite !== undefined && rewrite !== location.image) {
      container['image'] = rewrite;
      changes.push({ object: location.object, path: location.path, from: location.image, to: rewrite });
    }
  }
  return { objects: copies, changes };
}
