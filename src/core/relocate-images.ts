// Moves every image reference of a release under one private registry. The original registry host stays as the first
// path segment (`gcr.io/ml-pipeline/api-server:2.5.0` → `harbor.local/kubeflow/gcr.io/ml-pipeline/api-server:2.5.0`),
// so names from different registries cannot collide, and a hub moves by the same rule as a whole reference: images
// that Istio composes at run time from hub + name + tag land exactly where the installer pushed them.

import { discoverImages, pathSegments, type DiscoveredImage, type ImageFinding } from './discover-images.js';
import { KfbundleError } from './errors.js';
import { bundleRefFor, formatImageRef, imageName, parseImageRef } from './image-ref.js';
import { isRecord, type KubernetesObject } from './k8s-object.js';
import { valueAt } from './patch-manifests.js';
import { rewriteStrings, type RewrittenObjects } from './rewrite-strings.js';

/**
 * Stands for the registry in the bundle's relocatable manifests until install.sh knows it. A valid host name under
 * `.invalid` (RFC 2606): the files stay valid image references, and one applied by mistake can never reach anybody.
 */
export const REGISTRY_PLACEHOLDER = 'kfbundle-registry.invalid';

const REGISTRY_TARGET = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::\d{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/**
 * `HOST[:PORT][/PREFIX]`, e.g. `harbor.example.cn/kubeflow` or `10.0.0.5:5000`.
 * @throws KfbundleError USAGE naming the value and the expected form.
 */
export function parseRegistryTarget(text: string): string {
  const value = text.trim().replace(/\/+$/, '');
  const hint = 'give HOST[:PORT][/PREFIX] in lowercase, without a scheme, e.g. harbor.example.cn/kubeflow or 10.0.0.5:5000';
  if (/^[a-z]+:\/\//i.test(value)) throw new KfbundleError('USAGE', `registry "${text}" has a scheme`, { hint });
  if (!REGISTRY_TARGET.test(value)) throw new KfbundleError('USAGE', `registry "${text}" is not HOST[:PORT][/PREFIX]`, { hint });
  const host = value.split('/')[0]!;
  if (!host.includes('.') && !host.includes(':') && host !== 'localhost') {
    throw new KfbundleError('USAGE', `registry "${text}" does not start with a registry host (a name with a dot or a port, or localhost)`, { hint });
  }
  return value;
}

/** Where an image is pushed and named after relocation; digest pins travel under their `sha256-<hex>` tag. */
export function relocatedRef(raw: string, registry: string): string {
  return `${registry}/${bundleRefFor(parseImageRef(raw))}`;
}

/** A hub moves like the images composed from it: `istio` is Docker Hub's `docker.io/istio`. */
export function relocatedHub(hub: string, registry: string): string {
  const name = imageName(parseImageRef(`${hub}/name`));
  return `${registry}/${name.slice(0, -'/name'.length)}`;
}

/** A bare name (`busybox`) is replaced only where it was found; anything else wherever it stands whole. */
function isBare(text: string): boolean {
  return !/[/:@]/.test(text);
}

/**
 * Every text to replace → its relocated form: each reference as written where it was found, each hub a composed
 * reference was built from, and each reference the bundle stores (digest pins appear under their tag once patched).
 */
export function relocationTable(findings: readonly ImageFinding[], bundleRefs: readonly string[], registry: string): Map<string, string> {
  const table = new Map<string, string>();
  for (const finding of findings) {
    const raw = finding.raw.trim();
    if (!isBare(raw)) table.set(raw, relocatedRef(raw, registry));
    if (finding.hub !== undefined && !isBare(finding.hub)) table.set(finding.hub, relocatedHub(finding.hub, registry));
    // The controller appends the tag itself, so the name moves without one.
    if (finding.written !== undefined && !isBare(finding.written)) table.set(finding.written, `${registry}/${imageName(parseImageRef(finding.written))}`);
  }
  for (const ref of bundleRefs) table.set(ref, `${registry}/${ref}`);
  return table;
}

// A reference is replaced only where it stands whole: `mysql:8.0` must not match inside `mysql:8.0.29`, and
// `gcr.io/istio-release` (a hub) must not match inside `gcr.io/istio-release/pilot:1.28.0`.
function tokenPattern(texts: readonly string[]): RegExp {
  const escaped = [...texts].sort((a, b) => b.length - a.length).map((text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`(?<![\\w./:@-])(?:${escaped.join('|')})(?![\\w./:@-])`, 'g');
}

/**
 * Relocates every reference found in the objects (pod templates, env, args, custom resources, ConfigMap-embedded
 * documents) and every hub a reference was composed from. Bare names are replaced at the place they were found only,
 * since `busybox` may as well be a container's name.
 */
export function relocateManifests(
  objects: readonly KubernetesObject[],
  findings: readonly ImageFinding[],
  bundleRefs: readonly string[],
  registry: string,
): RewrittenObjects {
  const bareByObject = new Map<number, ImageFinding[]>();
  for (const finding of findings) {
    if (!isBare(finding.raw.trim())) continue;
    bareByObject.set(finding.objectIndex, [...(bareByObject.get(finding.objectIndex) ?? []), finding]);
  }
  const working = objects.map((object, index) => {
    const bare = bareByObject.get(index);
    if (bare === undefined) return object;
    const copy = structuredClone(object) as KubernetesObject;
    for (const finding of bare) replaceAtHolder(copy, finding, relocatedRef(finding.raw, registry));
    return copy;
  });
  const table = relocationTable(findings, bundleRefs, registry);
  const rewritten = table.size === 0 ? { objects: working, changed: [] } : rewriteStrings(working, replacer(table));
  const changed = new Set(rewritten.changed);
  for (const index of bareByObject.keys()) changed.add(index);
  const relocatedObjects = setCompiledInOverrides(rewritten.objects, findings, registry, changed);
  return { objects: relocatedObjects, changed: [...changed].sort((a, b) => a - b) };
}

/**
 * A compiled-in default is in no manifest text, so no rewrite can move it: the controller is told where it went by
 * setting the override (the env var, or the flag appended to its args), as a platform team would by hand.
 */
function setCompiledInOverrides(objects: readonly KubernetesObject[], findings: readonly ImageFinding[], registry: string, changed: Set<number>): KubernetesObject[] {
  const result = [...objects];
  for (const finding of findings) {
    if (finding.setBy === undefined) continue;
    const index = finding.objectIndex;
    const copy = changed.has(index) ? result[index]! : (structuredClone(result[index]!) as KubernetesObject);
    const container = valueAt(copy, pathSegments(finding.setBy.container));
    if (!isRecord(container)) continue;
    const image = relocatedRef(finding.raw, registry);
    const override = finding.setBy.override;
    if ('env' in override) {
      const env = Array.isArray(container['env']) ? (container['env'] as unknown[]) : [];
      container['env'] = [...env, { name: override.env, value: image }];
    } else {
      const args = Array.isArray(container['args']) ? (container['args'] as unknown[]) : [];
      container['args'] = [...args, `--${override.flag.replace(/^--?/, '')}=${image}`];
    }
    result[index] = copy;
    changed.add(index);
  }
  return result;
}

function replacer(table: ReadonlyMap<string, string>): (text: string) => string {
  const pattern = tokenPattern([...table.keys()]);
  return (text) => {
    // Most strings in a release hold no reference; skip the pattern for them.
    if (!text.includes('/') && !text.includes(':')) return text;
    return text.replace(pattern, (match) => table.get(match) ?? match);
  };
}

function replaceAtHolder(object: KubernetesObject, finding: ImageFinding, replacement: string): void {
  let parent: unknown = object;
  for (const segment of finding.holder.slice(0, -1)) parent = (parent as Record<string | number, unknown> | undefined)?.[segment];
  const last = finding.holder.at(-1);
  if (parent === undefined || parent === null || last === undefined) return;
  const container = parent as Record<string | number, unknown>;
  const current = container[last];
  if (typeof current !== 'string') return;
  container[last] = current.replace(tokenPattern([finding.raw.trim()]), () => replacement);
}

/** Images still found outside `registry` after relocation: each one a pull that would leave the isolated network. */
export function unrelocatedImages(objects: readonly KubernetesObject[], registry: string): DiscoveredImage[] {
  return discoverImages(objects).images.filter((image) => !formatImageRef(image.parsed).startsWith(`${registry}/`));
}
