// The bundle spec: per release, where its manifests come from and what the manifests alone cannot say about images
// (compiled-in defaults, images to leave out, unpullable references and their released replacements).
// Format: bundle-spec/README.md.

import { readYaml } from './kube-yaml.js';
import { KfbundleError } from './errors.js';
import { IMAGE_TIERS, type ImageTier } from './discover-images.js';
import { formatImageRef, imageName, parseImageRef, type ImageRef } from './image-ref.js';
import { isRecord } from './k8s-object.js';

export const BUNDLE_SPEC_FORMAT_VERSION = 1;

export interface BundleSpec {
  formatVersion: number;
  release: string;
  source: {
    /** `owner/name` of the GitHub repository whose archive holds the manifests. */
    repository: string;
    /** Tag to download. */
    ref: string;
    /** Kustomization inside the archive to render. */
    entry: string;
  };
  /** Tiers bundled when the user names none. */
  tiers: ImageTier[];
  images: {
    extra: { ref: string; tier: ImageTier; why: string }[];
    exclude: { ref: string; why: string }[];
    /**
     * Images pulled from elsewhere, stored under their own name: one reference (`ref`, `pullFrom` a reference), or
     * every tag and digest of a repository (`repository`, `pullFrom` a repository: the same tag or digest there).
     */
    override: ({ ref: string; repository?: undefined; pullFrom: string; why: string } | { ref?: undefined; repository: string; pullFrom: string; why: string })[];
  };
  /** The Kubernetes minor versions the release supports (`MAJOR.MINOR`, both ends included): what preflight checks. */
  kubernetes?: { min: string; max: string; why: string } | undefined;
}

/**
 * What a release without a curated spec is built with: kubeflow/manifests at that tag, its `example` kustomization,
 * tiers install and runtime, and the images as the manifests name them (no compiled-in defaults added).
 */
export function uncuratedSpec(release: string): BundleSpec {
  return {
    formatVersion: BUNDLE_SPEC_FORMAT_VERSION,
    release,
    source: { repository: 'kubeflow/manifests', ref: release, entry: 'example' },
    tiers: ['install', 'runtime'],
    images: { extra: [], exclude: [], override: [] },
  };
}

class SpecReader {
  private readonly source: string;

  constructor(source: string) {
    this.source = source;
  }

  fail(path: string, message: string): never {
    throw new KfbundleError('SPEC_INVALID', `invalid bundle spec ${this.source}: ${path}: ${message}`, {
      hint: 'see bundle-spec/README.md for the format',
    });
  }

  record(value: unknown, path: string): Record<string, unknown> {
    if (!isRecord(value)) this.fail(path, `expected a mapping, got ${describe(value)}`);
    return value;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== 'string' || value.trim() === '') this.fail(path, `expected a non-empty string, got ${describe(value)}`);
    return value;
  }

  list(value: unknown, path: string): unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.fail(path, `expected a list, got ${describe(value)}`);
    return value;
  }

  tier(value: unknown, path: string): ImageTier {
    if (typeof value !== 'string' || !(IMAGE_TIERS as readonly string[]).includes(value)) {
      this.fail(path, `expected one of ${IMAGE_TIERS.join(', ')}, got ${describe(value)}`);
    }
    return value as ImageTier;
  }

  imageRef(value: unknown, path: string): string {
    const text = this.string(value, path);
    try {
      return formatImageRef(parseImageRef(text));
    } catch (error) {
      return this.fail(path, (error as Error).message);
    }
  }

  /** A repository without tag or digest, normalised (`mysql` is `docker.io/library/mysql`). */
  repository(value: unknown, path: string): string {
    const text = this.string(value, path);
    let ref: ImageRef;
    try {
      ref = parseImageRef(text);
    } catch (error) {
      return this.fail(path, (error as Error).message);
    }
    if (ref.digest !== undefined || /:[^/]+$/.test(text)) return this.fail(path, `expected a repository without tag or digest, got ${JSON.stringify(text)}`);
    return imageName(ref);
  }

  noUnknownKeys(value: Record<string, unknown>, path: string, known: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) this.fail(path === '' ? key : `${path}.${key}`, `unknown field (known: ${known.join(', ')})`);
    }
  }
}

const MINOR_VERSION = /^[1-9]\d*\.\d+$/;

function kubernetesRange(read: SpecReader, value: unknown): { min: string; max: string; why: string } {
  const range = read.record(value, 'kubernetes');
  read.noUnknownKeys(range, 'kubernetes', ['min', 'max', 'why']);
  // Quoted in YAML or not: 1.30 unquoted is the number 1.3, so numbers are refused rather than misread.
  const version = (key: 'min' | 'max') => {
    if (typeof range[key] === 'number') read.fail(`kubernetes.${key}`, `expected a quoted MAJOR.MINOR such as "1.32", got the number ${range[key]} (YAML reads 1.30 unquoted as 1.3)`);
    const text = read.string(range[key], `kubernetes.${key}`);
    if (!MINOR_VERSION.test(text)) read.fail(`kubernetes.${key}`, `expected a quoted MAJOR.MINOR such as "1.32", got ${describe(text)}`);
    return text;
  };
  const min = version('min');
  const max = version('max');
  const [minMajor, minMinor] = min.split('.').map(Number) as [number, number];
  const [maxMajor, maxMinor] = max.split('.').map(Number) as [number, number];
  if (minMajor > maxMajor || (minMajor === maxMajor && minMinor > maxMinor)) read.fail('kubernetes', `min ${min} is newer than max ${max}`);
  return { min, max, why: read.string(range['why'], 'kubernetes.why') };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

/**
 * Parses and validates a spec.
 * @param source names the spec in error messages.
 * @throws KfbundleError SPEC_INVALID naming the field path and what was expected.
 */
export function parseBundleSpec(text: string, source: string): BundleSpec {
  const read = new SpecReader(source);
  let document: unknown;
  try {
    // Read like the manifests, so a spec's scalars mean what they would in a manifest; a key named twice is a typo.
    document = readYaml(text, { uniqueKeys: true });
  } catch (error) {
    read.fail('(document)', `not valid YAML: ${(error as Error).message}`);
  }
  const root = read.record(document, '(document)');
  read.noUnknownKeys(root, '', ['formatVersion', 'release', 'source', 'tiers', 'images', 'kubernetes']);
  if (root['formatVersion'] !== BUNDLE_SPEC_FORMAT_VERSION) {
    read.fail('formatVersion', `expected ${BUNDLE_SPEC_FORMAT_VERSION}, got ${describe(root['formatVersion'])}`);
  }
  const source_ = read.record(root['source'], 'source');
  read.noUnknownKeys(source_, 'source', ['repository', 'ref', 'entry']);
  const repository = read.string(source_['repository'], 'source.repository');
  if (!/^[\w.-]+\/[\w.-]+$/.test(repository)) read.fail('source.repository', `expected owner/name, got ${describe(repository)}`);
  const entry = source_['entry'] === undefined ? 'example' : read.string(source_['entry'], 'source.entry');
  if (entry.startsWith('/') || entry.split('/').includes('..')) read.fail('source.entry', 'must be a relative path inside the archive');

  const tiers = read.list(root['tiers'] ?? ['install', 'runtime'], 'tiers').map((tier, i) => read.tier(tier, `tiers[${i}]`));
  const images = root['images'] === undefined ? {} : read.record(root['images'], 'images');
  read.noUnknownKeys(images, 'images', ['extra', 'exclude', 'override']);

  const entryOf = (value: unknown, path: string, known: readonly string[]) => {
    const item = read.record(value, path);
    read.noUnknownKeys(item, path, known);
    return item;
  };
  return {
    formatVersion: BUNDLE_SPEC_FORMAT_VERSION,
    ...(root['kubernetes'] === undefined ? {} : { kubernetes: kubernetesRange(read, root['kubernetes']) }),
    release: read.string(root['release'], 'release'),
    source: { repository, ref: read.string(source_['ref'], 'source.ref'), entry },
    tiers,
    images: {
      extra: read.list(images['extra'], 'images.extra').map((value, i) => {
        const item = entryOf(value, `images.extra[${i}]`, ['ref', 'tier', 'why']);
        return {
          ref: read.imageRef(item['ref'], `images.extra[${i}].ref`),
          tier: read.tier(item['tier'], `images.extra[${i}].tier`),
          why: read.string(item['why'], `images.extra[${i}].why`),
        };
      }),
      exclude: read.list(images['exclude'], 'images.exclude').map((value, i) => {
        const item = entryOf(value, `images.exclude[${i}]`, ['ref', 'why']);
        return { ref: read.imageRef(item['ref'], `images.exclude[${i}].ref`), why: read.string(item['why'], `images.exclude[${i}].why`) };
      }),
      override: read.list(images['override'], 'images.override').map((value, i) => {
        const path = `images.override[${i}]`;
        const item = entryOf(value, path, ['ref', 'repository', 'pullFrom', 'why']);
        const why = read.string(item['why'], `${path}.why`);
        if ((item['ref'] === undefined) === (item['repository'] === undefined)) read.fail(path, 'give either ref (one image) or repository (every tag of it)');
        if (item['ref'] !== undefined) return { ref: read.imageRef(item['ref'], `${path}.ref`), pullFrom: read.imageRef(item['pullFrom'], `${path}.pullFrom`), why };
        return { repository: read.repository(item['repository'], `${path}.repository`), pullFrom: read.repository(item['pullFrom'], `${path}.pullFrom`), why };
      }),
    },
  };
}
