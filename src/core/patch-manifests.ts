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
 * Returns the objects with every pod-template container pulling `IfNotPresent` where it would otherwise pull `Always`
 * (explicitly, or by kubelet's default for `:latest` and untagged images), and with images rewritten where
 * `imageRewrites` says so. Edited objects are copies; untouched objects are returned as the same references, so the
 * caller can tell which documents changed. The input is never modified.
 */
export function patchManifests(objects: readonly KubernetesObject[], options: ManifestPatchOptions): PatchedManifests {
  const needsEdit = new Set(
    findPodTemplateContainers(objects)
      .filter((location) => planContainerEdits(location.container, location.image, options).length > 0)
      .map((location) => location.objectIndex),
  );
  const result = objects.map((object, index) => (needsEdit.has(index) ? (structuredClone(object) as KubernetesObject) : object));
  const changes: ManifestChange[] = [];
  for (const location of findPodTemplateContainers(result)) {
    if (!needsEdit.has(location.objectIndex)) continue;
    for (const edit of planContainerEdits(location.container, location.image, options)) {
      location.container[edit.field] = edit.to;
      const path = edit.field === 'image' ? location.path : location.path.replace(/\.image$/, '.imagePullPolicy');
      changes.push({ object: location.object, path, from: edit.from, to: edit.to });
    }
  }
  return { objects: result, changes };
}

interface ContainerEdit {
  field: 'imagePullPolicy' | 'image';
  from: string | undefined;
  to: string;
}

function planContainerEdits(container: Record<string, unknown>, image: string, options: ManifestPatchOptions): ContainerEdit[] {
  const edits: ContainerEdit[] = [];
  const policy = container['imagePullPolicy'] as string | undefined;
  if (policy === 'Always' || (policy === undefined && defaultsToAlwaysPull(image))) {
    edits.push({ field: 'imagePullPolicy', from: policy, to: 'IfNotPresent' });
  }
  const rewrite = options.imageRewrites.get(formatImageRef(parseImageRef(image)));
  if (rewrite !== undefined && rewrite !== image) edits.push({ field: 'image', from: image, to: rewrite });
  return edits;
}
