// Edits the objects a bundle ships so an isolated cluster never asks a registry for an image it already holds.
// Edits are structural, on parsed objects: regex over a whole YAML stream breaks on block scalars and quoting.

import { discoverImages, pathSegments, type ImageFinding, type PathSegment } from './discover-images.js';
import { defaultsToAlwaysPull, formatImageRef, parseImageRef } from './image-ref.js';
import { isRecord, type KubernetesObject } from './k8s-object.js';
import { findPodTemplateContainers } from './pod-images.js';

export interface ManifestPatchOptions {
  /** Normalised reference -> reference the manifests must use instead (digest pins stored under a tag). */
  imageRewrites: ReadonlyMap<string, string>;
  /** Where each image was found; discovered from the objects when not given. */
  findings?: readonly ImageFinding[];
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
 * Returns the objects with
 * - every pod-template container pulling `IfNotPresent` where it would otherwise pull `Always` (explicitly, or by
 *   kubelet's default for `:latest` and untagged images), and
 * - every reference named in `imageRewrites` replaced wherever it was found: pod templates, env, args, custom
 *   resources, and JSON/YAML held in ConfigMaps.
 * Edited objects are copies; untouched objects are the same references, so callers can tell which documents changed.
 */
export function patchManifests(objects: readonly KubernetesObject[], options: ManifestPatchOptions): PatchedManifests {
  const result = [...objects];
  const copied = new Set<number>();
  const editable = (index: number): KubernetesObject => {
    if (!copied.has(index)) {
      result[index] = structuredClone(objects[index]!) as KubernetesObject;
      copied.add(index);
    }
    return result[index]!;
  };
  const changes: ManifestChange[] = [];

  for (const location of findPodTemplateContainers(objects)) {
    const policy = location.container['imagePullPolicy'] as string | undefined;
    if (policy === 'Always' || (policy === undefined && defaultsToAlwaysPull(location.image))) {
      const container = containerAt(editable(location.objectIndex), location.path);
      container['imagePullPolicy'] = 'IfNotPresent';
      changes.push({ object: location.object, path: location.path.replace(/\.image$/, '.imagePullPolicy'), from: policy, to: 'IfNotPresent' });
    }
  }

  if (options.imageRewrites.size > 0) {
    const findings = options.findings ?? discoverImages(objects).images.flatMap((image) => image.locations);
    for (const finding of findings) {
      const target = options.imageRewrites.get(formatImageRef(parseImageRef(finding.raw)));
      if (target === undefined || target === finding.raw) continue;
      const holderText = valueAt(objects[finding.objectIndex]!, finding.holder);
      if (typeof holderText !== 'string' || !containsRef(holderText, finding.raw)) continue;
      const object = editable(finding.objectIndex);
      const current = valueAt(object, finding.holder) as string;
      setValueAt(object, finding.holder, replaceRef(current, finding.raw, target));
      changes.push({ object: finding.object, path: finding.path, from: finding.raw, to: target });
    }
  }
  return { objects: result, changes };
}

function containerAt(object: KubernetesObject, imagePath: string): Record<string, unknown> {
  const container = valueAt(object, pathSegments(imagePath.replace(/\.image$/, '')));
  if (!isRecord(container)) throw new Error(`no container at ${imagePath}`);
  return container;
}

/** The value at a field path inside an object, or undefined where the path leaves it. */
export function valueAt(root: unknown, segments: readonly PathSegment[]): unknown {
  let node = root;
  for (const segment of segments) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment];
    else if (isRecord(node) && typeof segment === 'string') node = node[segment];
    else return undefined;
  }
  return node;
}

function setValueAt(root: unknown, segments: readonly PathSegment[], value: string): void {
  const parent = valueAt(root, segments.slice(0, -1));
  const last = segments.at(-1)!;
  if (Array.isArray(parent) && typeof last === 'number') parent[last] = value;
  else if (isRecord(parent) && typeof last === 'string') parent[last] = value;
}

// A reference is replaced only where it stands whole: `mysql:8.0` must not match inside `mysql:8.0.29`.
function refPattern(ref: string): RegExp {
  const escaped = ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![\\w./:@-])${escaped}(?![\\w./:@-])`, 'g');
}

function containsRef(text: string, ref: string): boolean {
  return refPattern(ref).test(text);
}

function replaceRef(text: string, ref: string, replacement: string): string {
  return text.replace(refPattern(ref), () => replacement);
}
