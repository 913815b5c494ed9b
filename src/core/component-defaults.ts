// Images a controller pulls that no manifest names: defaults compiled into the controller, replaced only when its
// container sets the override (an env var or a flag). They are known per component and version (the table in
// core/component-table.ts), read from the deployed controller's image tag, so they do not depend on a bundle spec.

import { pathSegments, type DiscoveryWarning, type ImageFinding, type ImageTier } from './discover-images.js';
import { imageName, parseImageRef, type ImageRef } from './image-ref.js';
import { isRecord, type KubernetesObject } from './k8s-object.js';
import { findPodTemplateContainers } from './pod-images.js';

/** What replaces a compiled-in default on the controller's container. */
export type DefaultOverride = { env: string } | { flag: string };

export interface CompiledDefault {
  /** The controller (one of its component's repositories) that pulls the image. */
  controller: string;
  /** The image used when the override is not set; `{version}` stands for the controller's tag. */
  image: string;
  /** Absent when nothing replaces it (KServe's local model agent ignores the ConfigMap key that claims to). */
  override?: DefaultOverride;
  tier: ImageTier;
  /** Where upstream keeps the default: repository@tag, file and symbol. */
  why: string;
}

export interface ComponentVersion {
  /** Controller image tags (or `app.kubernetes.io/version` labels, for images pinned by digest) this entry holds for. */
  tags: readonly string[];
  defaults: readonly CompiledDefault[];
}

export interface Component {
  name: string;
  /** Every image repository of the component's workloads, normalised, across the registries it has moved between. */
  repositories: readonly string[];
  /**
   * `any`: no version of it pulls an image its manifests do not name (`why` says where they are named). Otherwise the
   * versions checked, each with its compiled-in defaults (possibly none).
   */
  versions: 'any' | readonly ComponentVersion[];
  why: string;
}

export interface RecognisedComponent {
  name: string;
  /** The versions of its controllers deployed (their image tags), sorted; empty for a component without versions. */
  versions: string[];
  /** Whether the table knows every one of them. */
  known: boolean;
}

export interface ComponentDefaults {
  /** Compiled-in defaults in use, and the overrides' values where the controller sets them. */
  findings: ImageFinding[];
  /** A known component at a version the table does not have: its compiled-in images are unknown. */
  warnings: DiscoveryWarning[];
  recognised: RecognisedComponent[];
  /** Workload images of no component in the table, normalised and sorted. */
  unrecognised: string[];
}

/** The image's tag (`latest` when it has none), or for an image pinned by digest alone its workload's version label. */
function versionOf(object: KubernetesObject, ref: ImageRef): string | undefined {
  if (ref.tag !== undefined) return ref.tag;
  // The recommended label says which release it is (Knative sets it on every workload).
  for (const set of [object.metadata?.labels, templateLabels(object)]) {
    const version = isRecord(set) ? set['app.kubernetes.io/version'] : undefined;
    if (typeof version === 'string' && version !== '') return version;
  }
  return undefined;
}

function templateLabels(object: KubernetesObject): unknown {
  const spec = object['spec'];
  const template = isRecord(spec) ? spec['template'] : undefined;
  const metadata = isRecord(template) ? template['metadata'] : undefined;
  return isRecord(metadata) ? metadata['labels'] : undefined;
}

/** Where the container sets the override, and to what: the path of the value and the value. */
function overrideValue(container: Record<string, unknown>, containerPath: string, override: DefaultOverride): { path: string; value: string } | undefined {
  if ('env' in override) {
    const env = container['env'];
    if (!Array.isArray(env)) return undefined;
    const index = env.findIndex((item) => isRecord(item) && item['name'] === override.env);
    if (index === -1) return undefined;
    const value = (env[index] as Record<string, unknown>)['value'];
    // Set from a ConfigMap or Secret (valueFrom): overridden, though not to a value the manifests show.
    return { path: `${containerPath}.env[${index}].value`, value: typeof value === 'string' ? value : '' };
  }
  for (const list of ['command', 'args'] as const) {
    const items = container[list];
    if (!Array.isArray(items)) continue;
    for (let index = 0; index < items.length; index++) {
      const item = items[index];
      if (typeof item !== 'string') continue;
      const flag = /^--?([\w.-]+)(?:=(.*))?$/.exec(item);
      if (flag === null || flag[1] !== override.flag.replace(/^--?/, '')) continue;
      if (flag[2] !== undefined) return { path: `${containerPath}.${list}[${index}]`, value: flag[2] };
      const next = items[index + 1];
      return { path: `${containerPath}.${list}[${index + 1}]`, value: typeof next === 'string' ? next : '' };
    }
  }
  return undefined;
}

function describeOverride(override: DefaultOverride): string {
  return 'env' in override ? `env ${override.env}` : `flag --${override.flag.replace(/^--?/, '')}`;
}

/**
 * Applies the component table to a release's workloads.
 * @param table the components known (core/component-table.ts in the product; smaller ones in tests).
 */
export function findCompiledDefaults(objects: readonly KubernetesObject[], table: readonly Component[]): ComponentDefaults {
  const byRepository = new Map<string, Component>();
  for (const component of table) for (const repository of component.repositories) byRepository.set(repository, component);

  const findings: ImageFinding[] = [];
  const warnings: DiscoveryWarning[] = [];
  const deployed = new Map<Component, Set<string>>();
  const unknownVersions = new Set<Component>();
  const unrecognised = new Set<string>();

  for (const container of findPodTemplateContainers(objects)) {
    let ref: ImageRef;
    try {
      ref = parseImageRef(container.image);
    } catch {
      continue; // Discovery reports it; a reference that does not parse names no version.
    }
    const repository = imageName(ref);
    const component = byRepository.get(repository);
    if (component === undefined) {
      unrecognised.add(repository);
      continue;
    }
    const versions = deployed.get(component) ?? new Set<string>();
    deployed.set(component, versions);
    if (component.versions === 'any') continue;
    // Only the component's controllers can pull a default; its other images (a database beside them) say nothing.
    if (!component.versions.some((candidate) => candidate.defaults.some((d) => d.controller === repository))) continue;

    const version = versionOf(objects[container.objectIndex]!, ref);
    versions.add(version ?? 'unknown');
    const entry = version === undefined ? undefined : component.versions.find((candidate) => candidate.tags.includes(version));
    if (entry === undefined) {
      unknownVersions.add(component);
      const known = component.versions.flatMap((candidate) => candidate.tags).join(', ');
      warnings.push({
        object: container.object,
        path: container.path,
        value: container.image,
        message:
          `${component.name} at ${version ?? 'an unknown version (pinned by digest, no app.kubernetes.io/version label)'} is not in the component table ` +
          `(known: ${known}): images it pulls from compiled-in defaults may be missing; ` +
          `name them with --image or a spec's images.extra, and add the version to the table (docs/image-discovery.md)`,
      });
      continue;
    }
    const containerPath = container.path.replace(/\.image$/, '');
    for (const compiled of entry.defaults) {
      if (compiled.controller !== repository) continue;
      const set = compiled.override === undefined ? undefined : overrideValue(container.container, containerPath, compiled.override);
      const base = { objectIndex: container.objectIndex, object: container.object, tier: compiled.tier, upstream: compiled.why };
      if (set === undefined) {
        const raw = compiled.image.replaceAll('{version}', version!);
        const path = compiled.override === undefined ? 'compiled-in default (no override)' : `compiled-in default (${describeOverride(compiled.override)} not set)`;
        const setBy = compiled.override === undefined ? {} : { setBy: { container: containerPath, override: compiled.override } };
        findings.push({ ...base, holder: [], path, raw, via: 'compiled-in', ...setBy });
      } else if (set.value !== '' && !set.value.includes('$')) {
        try {
          parseImageRef(set.value);
          findings.push({ ...base, holder: pathSegments(set.path), path: set.path, raw: set.value, via: compiled.override !== undefined && 'flag' in compiled.override ? 'arg' : 'env' });
        } catch {
          // Discovery warns about an override whose value is no reference, where it finds it.
        }
      }
    }
  }

  const recognised = [...deployed]
    .map(([component, versions]) => ({ name: component.name, versions: [...versions].sort(), known: !unknownVersions.has(component) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { findings, warnings, recognised, unrecognised: [...unrecognised].sort() };
}
