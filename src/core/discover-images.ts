// Finds every image a rendered release needs, not just the ones in pod templates: controllers pull images named in
// ConfigMaps, env vars, args and custom resources, and some references are composed from a hub, a name and a tag, or
// from variables. Each finding keeps where it was found and why it counts, so `kfbundle images --why` can explain it.

import { formatImageRef, parseImageRef, type ImageRef } from './image-ref.js';
import { describeObject, isRecord, type KubernetesObject } from './k8s-object.js';
import { readYamlStream } from './kube-yaml.js';
import type { DefaultOverride } from './component-defaults.js';
import { findPodTemplateContainers } from './pod-images.js';
import { isGoTemplate, templateImageFields, type TemplateField } from './template-images.js';

export type ImageTier = 'install' | 'runtime' | 'catalog' | 'conditional' | 'example';

/** `spec.containers[0].image` → ['spec', 'containers', 0, 'image'], for plain field paths (not `data[key]`). */
export function pathSegments(path: string): PathSegment[] {
  return path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/** Strongest first: an image found in several places takes the strongest tier among them. */
export const IMAGE_TIERS: readonly ImageTier[] = ['install', 'runtime', 'catalog', 'conditional', 'example'];

export type FoundVia = 'pod-template' | 'image-field' | 'env' | 'arg' | 'composed' | 'variable' | 'value' | 'template' | 'compiled-in' | 'spec' | 'added';

export type PathSegment = string | number;

export interface ImageFinding {
  /** Index of the object in the list given. */
  objectIndex: number;
  object: string;
  /** Path to the string that holds the reference in the object (for an embedded document, the ConfigMap value). */
  holder: PathSegment[];
  /** Field path; `data[key]` enters a structured string held in a ConfigMap. */
  path: string;
  /** The text found there, before normalisation. */
  raw: string;
  /** For a reference composed from a hub, a name and a tag: the hub, as written, that it was composed with. */
  hub?: string;
  /** For an untagged name a controller appends a sibling tag to: the name as written, which relocation replaces. */
  written?: string;
  /**
   * For a compiled-in default: the controller container (its field path) and the override that replaces the default,
   * which relocation sets, since no manifest text holds the reference.
   */
  setBy?: { container: string; override: DefaultOverride };
  /** For a compiled-in default (or the override that replaced it): where upstream keeps it, from the component table. */
  upstream?: string;
  via: FoundVia;
  tier: ImageTier;
}

export interface DiscoveredImage {
  ref: string;
  parsed: ImageRef;
  tier: ImageTier;
  locations: ImageFinding[];
}

export interface DiscoveryWarning {
  object: string;
  path: string;
  value: string;
  message: string;
}

export interface Discovery {
  images: DiscoveredImage[];
  warnings: DiscoveryWarning[];
}

interface TierRule {
  tier: ImageTier;
  kind?: RegExp;
  name?: RegExp;
  path?: RegExp;
  /** Tested against the text found. */
  value?: RegExp;
  /** Shown by `kfbundle images --why` and in docs/image-discovery.md. */
  why: string;
}

/** First match wins; no match means `runtime` (a controller pulls it when it runs). Pod templates are `install`. */
export const TIER_RULES: readonly TierRule[] = [
  { tier: 'example', kind: /^ConfigMap$/, name: /trial-templates/, why: 'Katib trial templates: examples users start experiments from' },
  { tier: 'catalog', kind: /^(Cluster)?ServingRuntime$/, why: 'KServe serving runtimes offered to users' },
  { tier: 'catalog', kind: /^(Cluster)?TrainingRuntime$/, why: 'Trainer runtimes offered to users' },
  { tier: 'catalog', kind: /^ConfigMap$/, name: /^jupyter-web-app-config/, why: 'notebook images offered in the spawner' },
  { tier: 'conditional', value: /acme-http01-solver-image/, why: 'cert-manager ACME HTTP-01 solver: ACME needs the internet' },
  { tier: 'conditional', kind: /^ConfigMap$/, name: /^inferenceservice-config$/, path: /localModel/, why: 'KServe local model cache, off by default' },
  { tier: 'conditional', kind: /^ConfigMap$/, name: /^inferenceservice-config$/, path: /explainers/, why: 'KServe explainers, pulled only for an InferenceService that asks for one' },
];

const IMAGE_LIST_CHILD = new Set(['value', 'options', 'default']);
/** Words that make a key about an image, not an image: `imagePullPolicy`, `defaultImageVersion`, `hideImageTag`. */
const NOT_IMAGE_WORDS = new Set(['pull', 'policy', 'secret', 'secrets', 'tag', 'version', 'digest', 'registry', 'hub', 'allow', 'hide']);
/** Values of feature switches whose key ends in `image` (Knative's `kubernetes.podspec-volumes-image: disabled`). */
const SETTING_WORD = /^(?:true|false|yes|no|on|off|enabled|disabled|allowed|none)$/i;
const FLAG_WITH_VALUE = /^--?([\w.-]+)=(.+)$/;
const FLAG = /^--?([\w.-]+)$/;
const QUALIFIED_REF = /^(?:(?:[a-z0-9-]+\.)+[a-z]{2,}|\d{1,3}(?:\.\d{1,3}){3}|localhost)(?::\d+)?\/[a-z0-9._/-]+(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const VARIABLE = /\$\{(\w+)\}|\$\((\w+)\)|\$(\w+)/g;
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

export function tierFor(object: KubernetesObject, path: string, text: string): ImageTier {
  for (const rule of TIER_RULES) {
    if (rule.value !== undefined && !rule.value.test(text)) continue;
    if (rule.kind !== undefined && !rule.kind.test(object.kind ?? '')) continue;
    if (rule.name !== undefined && !rule.name.test(object.metadata?.name ?? '')) continue;
    if (rule.path !== undefined && !rule.path.test(path)) continue;
    return rule.tier;
  }
  return 'runtime';
}

/** `imageGroupOne` → image, group, one; `queue-sidecar-image` → queue, sidecar, image; `TENSORBOARD_IMAGE` too. */
function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== '');
}

/**
 * Whether a key names an image (`'image'`) or several (`'images'`): one of its words is image or images and none says
 * it is about an image rather than one. Spelling-independent, so `imageGroupOne`, `cacheImage`, `defaultJobImage`,
 * `queue-sidecar-image` and `TENSORBOARD_IMAGE` all count, and `imagePullPolicy` does not.
 */
function imageKeyKind(key: string | undefined): ImagePosition {
  if (key === undefined) return undefined;
  const words = keyWords(key);
  if (words.some((word) => NOT_IMAGE_WORDS.has(word))) return undefined;
  if (words.includes('images')) return 'images';
  return words.includes('image') ? 'image' : undefined;
}

/**
 * Where a node stands: `image`, a string there names an image (and a mapping there offers its `value`, `options` and
 * `default`: the spawner's image pickers); `images`, everything below names images (lists, name → image mappings).
 */
type ImagePosition = 'image' | 'images' | undefined;

function childPosition(parent: ImagePosition, key: string): ImagePosition {
  const own = imageKeyKind(key);
  if (own !== undefined) return own;
  if (parent === 'images') return 'image';
  if (parent === 'image' && IMAGE_LIST_CHILD.has(key)) return 'image';
  return undefined;
}

/** The tag a controller appends to an untagged image: a sibling `tag`, `imageTag` or `defaultImageVersion`. */
function siblingTag(holder: Record<string, unknown> | undefined): string | undefined {
  if (holder === undefined) return undefined;
  for (const [key, value] of Object.entries(holder)) {
    const words = keyWords(key);
    const namesTag = (words.length === 1 && words[0] === 'tag') || (words.includes('image') && (words.includes('tag') || words.includes('version')));
    if (namesTag && ((typeof value === 'string' && /^[\w][\w.-]{0,127}$/.test(value)) || typeof value === 'number')) return String(value);
  }
  return undefined;
}

/** Name → values of env vars and UPPER_CASE ConfigMap keys, for `$VAR` references elsewhere in the release. */
function collectVariables(objects: readonly KubernetesObject[]): Map<string, Set<string>> {
  const variables = new Map<string, Set<string>>();
  const add = (name: string, value: unknown) => {
    if (typeof value !== 'string' || value.includes('$') || value === '') return;
    const values = variables.get(name) ?? new Set<string>();
    values.add(value);
    variables.set(name, values);
  };
  const visit = (node: unknown, key: string | undefined): void => {
    if (Array.isArray(node)) {
      for (const item of node) {
        if (key === 'env' && isRecord(item) && typeof item['name'] === 'string') add(item['name'], item['value']);
        visit(item, undefined);
      }
    } else if (isRecord(node)) {
      for (const [childKey, child] of Object.entries(node)) visit(child, childKey);
    }
  };
  for (const object of objects) {
    if (object.kind === 'CustomResourceDefinition') continue;
    visit(object['spec'], 'spec');
    if (object.kind === 'ConfigMap' && isRecord(object['data'])) {
      for (const [name, value] of Object.entries(object['data'])) if (ENV_NAME.test(name)) add(name, value);
    }
  }
  return variables;
}

/** Parses a string held in ConfigMap data when it is a JSON or YAML document (or several); otherwise undefined. */
function parseEmbedded(text: string): unknown[] | undefined {
  const trimmed = text.trimStart();
  if (!text.includes('\n') && !trimmed.startsWith('{') && !trimmed.startsWith('[')) return undefined;
  try {
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) return [JSON.parse(text)];
  } catch {
    // Not JSON; YAML is a superset worth trying.
  }
  try {
    const documents = readYamlStream(text).filter((d) => isRecord(d) || Array.isArray(d));
    return documents.length > 0 ? documents : undefined;
  } catch {
    return undefined;
  }
}

interface WalkState {
  object: KubernetesObject;
  objectIndex: number;
  /** Set while walking a document embedded in a ConfigMap value: the path of that value. */
  embeddedIn: PathSegment[] | undefined;
  name: string;
  variables: Map<string, Set<string>>;
  podTemplatePaths: Set<string>;
  findings: ImageFinding[];
  warnings: DiscoveryWarning[];
  /** Image fields of templates built from actions, settled once the whole object is walked (its values come later). */
  templateFields: PendingTemplateField[];
}

interface PendingTemplateField {
  field: TemplateField;
  path: string;
  /** Fields sharing a group are one image position: the branches of an if/else. */
  group: string;
  optIn: boolean;
}

/**
 * Resolves one string found in an image position into references, or a warning.
 * `ancestors` are the enclosing mappings, innermost last, for hub + name + tag composition.
 */
function resolveImageText(
  text: string,
  at: { path: string; segments: PathSegment[] },
  ancestors: readonly Record<string, unknown>[],
  via: FoundVia,
  state: WalkState,
  context = text,
  /** The strongest tier the place allows: an opt-in template's images are conditional. */
  cap?: ImageTier,
): void {
  const path = at.path;
  const holder = state.embeddedIn ?? at.segments;
  const warn = (message: string): void => void state.warnings.push({ object: state.name, path, value: text, message });
  const add = (raw: string, how: FoundVia, hub?: string, written?: string): void =>
    void state.findings.push({
      objectIndex: state.objectIndex,
      object: state.name,
      holder,
      path,
      raw,
      ...(hub === undefined ? {} : { hub }),
      ...(written === undefined ? {} : { written }),
      via: how,
      tier: weaker(tierFor(state.object, path, context), cap),
    });
  const value = text.trim();
  if (value === '' || SETTING_WORD.test(value)) return;
  if (value.includes('{{')) {
    warn('template placeholder, filled in at run time; not resolvable from the manifests');
    return;
  }
  if (value.includes('$')) {
    const unresolved: string[] = [];
    let ambiguous = false;
    const substituted = value.replace(VARIABLE, (match, a?: string, b?: string, c?: string) => {
      const name = a ?? b ?? c ?? '';
      const values = state.variables.get(name);
      if (values === undefined) {
        unresolved.push(name);
        return match;
      }
      if (values.size > 1) ambiguous = true;
      return [...values][0]!;
    });
    if (unresolved.length > 0) return warn(`refers to ${unresolved.map((n) => `$${n}`).join(', ')}, which no env var or ConfigMap key in the release defines`);
    if (ambiguous) return warn('refers to a variable defined with different values in the release');
    return tryAdd(substituted, 'variable');
  }
  if (!value.includes('/') && !value.includes(':') && !value.includes('@')) {
    // A bare name is only an image together with a hub and a tag around it. Istio's charts read the nearest non-empty
    // `hub` and `tag`, falling back to `global.hub` and `global.tag`.
    const hub = nearestSetting(ancestors, 'hub');
    const tag = nearestSetting(ancestors, 'tag');
    if (hub !== undefined && tag !== undefined) return tryAdd(`${hub}/${value}:${tag}`, 'composed', hub);
    return warn('bare image name with no registry, tag, or hub and tag around it');
  }
  // `kserve/art-explainer` beside `defaultImageVersion: latest`: the controller appends the tag.
  const tag = via === 'image-field' && !/[:@][^/]*$/.test(value) ? siblingTag(ancestors.at(-1)) : undefined;
  if (tag !== undefined) return tryAdd(`${value}:${tag}`, 'composed', undefined, value);
  tryAdd(value, via);

  function tryAdd(ref: string, how: FoundVia, hub?: string, written?: string): void {
    try {
      parseImageRef(ref);
      add(ref, how, hub, written);
    } catch (error) {
      warn((error as Error).message);
    }
  }
}

function weaker(tier: ImageTier, cap: ImageTier | undefined): ImageTier {
  return cap !== undefined && IMAGE_TIERS.indexOf(cap) > IMAGE_TIERS.indexOf(tier) ? cap : tier;
}

/** Whether a template is used only on request: a `defaultTemplates` list beside it leaves it out (Istio's injector). */
function isOptInTemplate(ancestors: readonly Record<string, unknown>[], name: string | undefined): boolean {
  if (name === undefined) return false;
  for (let i = ancestors.length - 1; i >= 0; i--) {
    for (const [key, value] of Object.entries(ancestors[i]!)) {
      const words = keyWords(key);
      if (words[0] !== 'default' || !/^templates?$/.test(words[1] ?? '') || words.length !== 2) continue;
      const defaults = Array.isArray(value) ? value : [value];
      return !defaults.includes(name);
    }
  }
  return false;
}

/**
 * Image fields in template text: a literal is an image where it stands (`image: busybox:1.28`); one built from actions
 * waits for the object's values to be walked (settleTemplateFields).
 */
function walkTemplate(text: string, at: { path: string; segments: PathSegment[] }, key: string | undefined, ancestors: readonly Record<string, unknown>[], state: WalkState): void {
  const optIn = isOptInTemplate(ancestors, key);
  for (const field of templateImageFields(text, (candidate) => imageKeyKind(candidate) === 'image')) {
    const path = `${at.path} line ${field.line}`;
    const group = field.block === 0 ? path : `${at.path} block ${field.block}`;
    if (!field.value.includes('{{')) resolveImageText(field.value, { path, segments: at.segments }, ancestors, 'template', state, field.value, optIn ? 'conditional' : undefined);
    state.templateFields.push({ field, path, group, optIn });
  }
}

/**
 * A field built from actions is resolved when a branch beside it is a literal, or when a `.Values` path one of them
 * reads is where discovery found an image in the same object (Istio's `.Values.global.proxy.image`). The rest are
 * warnings, one per position: filled in at run time from something the manifests do not hold.
 */
function settleTemplateFields(state: WalkState): void {
  const groups = new Map<string, PendingTemplateField[]>();
  for (const pending of state.templateFields) groups.set(pending.group, [...(groups.get(pending.group) ?? []), pending]);
  const foundPaths = state.findings.filter((finding) => finding.objectIndex === state.objectIndex).map((finding) => finding.path);
  for (const fields of groups.values()) {
    const resolved = fields.some(
      ({ field }) => !field.value.includes('{{') || field.valuesPaths.some((valuesPath) => foundPaths.some((path) => path.endsWith(`.${valuesPath}`))),
    );
    if (resolved) continue;
    const first = fields[0]!;
    const reads = [...new Set(fields.flatMap(({ field }) => field.valuesPaths))].map((valuesPath) => `.Values.${valuesPath}`);
    state.warnings.push({
      object: state.name,
      path: first.path,
      value: first.field.value,
      message:
        `image built from template actions${reads.length === 0 ? '' : ` reading ${reads.join(', ')}, which the release's values do not set`}: ` +
        `filled in at run time, so the manifests do not say which image${first.optIn ? ' (an opt-in template, not among the default ones)' : ''}; ` +
        `if it is used, name the image with --image or a spec's images.extra`,
    });
  }
}

function nearestSetting(ancestors: readonly Record<string, unknown>[], key: 'hub' | 'tag'): string | undefined {
  for (let i = ancestors.length - 1; i >= 0; i--) {
    const ancestor = ancestors[i]!;
    const global = ancestor['global'];
    for (const candidate of [ancestor[key], isRecord(global) ? global[key] : undefined]) {
      if ((typeof candidate === 'string' && candidate !== '') || typeof candidate === 'number') return String(candidate);
    }
  }
  return undefined;
}

function walk(
  node: unknown,
  at: { path: string; segments: PathSegment[] },
  key: string | undefined,
  position: ImagePosition,
  ancestors: Record<string, unknown>[],
  state: WalkState,
): void {
  const path = at.path;
  if (typeof node === 'string') {
    if (state.podTemplatePaths.has(path)) return;
    if (position !== undefined) return resolveImageText(node, at, ancestors, 'image-field', state);
    if (isGoTemplate(node)) return walkTemplate(node, at, key, ancestors, state);
    // A tag or digest in the last segment tells a reference from a hub or a path: `10.0.0.5:5000/istio` is a hub.
    if (QUALIFIED_REF.test(node) && /[:@][^/]*$/.test(node)) return resolveImageText(node, at, ancestors, 'value', state);
    return;
  }
  if (Array.isArray(node)) {
    const isArgs = key === 'args' || key === 'command';
    node.forEach((item, index) => {
      const itemAt = { path: `${path}[${index}]`, segments: [...at.segments, index] };
      if (isArgs && typeof item === 'string') {
        const inline = FLAG_WITH_VALUE.exec(item);
        if (inline !== null && imageKeyKind(inline[1]) !== undefined) return resolveImageText(inline[2]!, itemAt, ancestors, 'arg', state, item);
        const previous = node[index - 1];
        const flag = typeof previous === 'string' ? FLAG.exec(previous) : null;
        if (flag !== null && !item.startsWith('-') && imageKeyKind(flag[1]) !== undefined) return resolveImageText(item, itemAt, ancestors, 'arg', state, `${previous} ${item}`);
      }
      if (key === 'env' && isRecord(item) && typeof item['name'] === 'string' && imageKeyKind(item['name']) !== undefined && typeof item['value'] === 'string') {
        return resolveImageText(item['value'], { path: `${itemAt.path}.value`, segments: [...itemAt.segments, 'value'] }, ancestors, 'env', state);
      }
      walk(item, itemAt, undefined, position === 'images' ? 'image' : position, ancestors, state);
    });
    return;
  }
  if (!isRecord(node)) return;
  const inner = [...ancestors, node];
  for (const [childKey, child] of Object.entries(node)) {
    const childAt = { path: path === '' ? childKey : `${path}.${childKey}`, segments: [...at.segments, childKey] };
    walk(child, childAt, childKey, childPosition(position, childKey), inner, state);
  }
}

function walkConfigMapData(data: Record<string, unknown>, state: WalkState): void {
  for (const [key, value] of Object.entries(data)) {
    if (key === '_example' || typeof value !== 'string') continue;
    const at = { path: `data[${key}]`, segments: ['data', key] };
    const position = imageKeyKind(key);
    if (position !== undefined) {
      resolveImageText(value, at, [], 'image-field', state);
      continue;
    }
    const documents = parseEmbedded(value);
    if (documents === undefined) {
      walk(value, at, key, undefined, [], state);
      continue;
    }
    const embedded = { ...state, embeddedIn: at.segments };
    documents.forEach((document, index) =>
      walk(document, { path: index === 0 ? at.path : `${at.path}{doc ${index + 1}}`, segments: at.segments }, undefined, undefined, [], embedded),
    );
  }
}

/**
 * Every image in the objects, strongest tier first, then by reference. Unresolvable references become warnings with
 * their location; nothing is dropped silently.
 */
export function discoverImages(objects: readonly KubernetesObject[], extraFindings: readonly ImageFinding[] = []): Discovery {
  const variables = collectVariables(objects);
  const findings: ImageFinding[] = [];
  const warnings: DiscoveryWarning[] = [];
  const podTemplatePaths = new Map<number, Set<string>>();

  for (const container of findPodTemplateContainers(objects)) {
    const paths = podTemplatePaths.get(container.objectIndex) ?? new Set<string>();
    paths.add(container.path);
    podTemplatePaths.set(container.objectIndex, paths);
    try {
      parseImageRef(container.image);
      const holder = pathSegments(container.path);
      findings.push({ objectIndex: container.objectIndex, object: container.object, holder, path: container.path, raw: container.image, via: 'pod-template', tier: 'install' });
    } catch (error) {
      warnings.push({ object: container.object, path: container.path, value: container.image, message: (error as Error).message });
    }
  }

  objects.forEach((object, index) => {
    if (object.kind === 'CustomResourceDefinition') return;
    const state: WalkState = {
      object,
      objectIndex: index,
      embeddedIn: undefined,
      name: describeObject(object),
      variables,
      podTemplatePaths: podTemplatePaths.get(index) ?? new Set(),
      findings,
      warnings,
      templateFields: [],
    };
    for (const [key, value] of Object.entries(object)) {
      if (key === 'metadata' || key === 'apiVersion' || key === 'kind') continue;
      if (key === 'data' && object.kind === 'ConfigMap' && isRecord(value)) walkConfigMapData(value, state);
      else walk(value, { path: key, segments: [key] }, key, imageKeyKind(key), [object], state);
    }
    settleTemplateFields(state);
  });

  return { images: groupFindings([...findings, ...extraFindings]), warnings };
}

/**
 * Groups findings by normalised reference; the image's tier is the strongest among its locations. A place found twice
 * (by discovery and by the component table) is one location.
 */
export function groupFindings(findings: readonly ImageFinding[]): DiscoveredImage[] {
  const byRef = new Map<string, DiscoveredImage>();
  for (const finding of findings) {
    const parsed = parseImageRef(finding.raw);
    const ref = formatImageRef(parsed);
    const image = byRef.get(ref) ?? { ref, parsed, tier: finding.tier, locations: [] };
    const same = image.locations.findIndex((seen) => seen.objectIndex === finding.objectIndex && seen.path === finding.path);
    if (same === -1) image.locations.push(finding);
    // The component table knows why an override found by discovery matters: keep its citation.
    else if (finding.upstream !== undefined && image.locations[same]!.upstream === undefined) image.locations[same] = { ...image.locations[same]!, upstream: finding.upstream };
    if (IMAGE_TIERS.indexOf(finding.tier) < IMAGE_TIERS.indexOf(image.tier)) image.tier = finding.tier;
    byRef.set(ref, image);
  }
  return [...byRef.values()].sort(
    (a, b) => IMAGE_TIERS.indexOf(a.tier) - IMAGE_TIERS.indexOf(b.tier) || (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0),
  );
}
