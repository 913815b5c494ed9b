// Image references are compared, mirrored and rewritten in normalised form, the way the Docker engine and kubelet
// read them, so that `busybox`, `docker.io/library/busybox:latest` and `index.docker.io/library/busybox` are one image.

import { KfbundleError } from './errors.js';

export interface ImageRef {
  /** Registry host with optional port, e.g. `gcr.io`, `127.0.0.1:5000`, `docker.io`. */
  registry: string;
  /** Path below the registry, e.g. `library/busybox`, `kubeflow/katib/katib-ui`. */
  repository: string;
  /** Present unless the reference is pinned by digest alone. */
  tag: string | undefined;
  /** `sha256:<64 hex>` when pinned. */
  digest: string | undefined;
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

// Grammar from the distribution reference spec: lowercase path components joined by separators.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$/;

function invalid(raw: string, why: string): KfbundleError {
  return new KfbundleError('IMAGE_REF_INVALID', `invalid image reference "${raw}": ${why}`);
}

/** A first path component names a registry only when it looks like a host; otherwise it is a Docker Hub namespace. */
function looksLikeRegistry(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/**
 * Parses and normalises a reference: Docker Hub short names gain `docker.io/` and `library/`, a reference with
 * neither tag nor digest gains `:latest`, and a reference with both keeps both.
 * @throws KfbundleError IMAGE_REF_INVALID naming the reference and what is wrong with it.
 */
export function parseImageRef(raw: string): ImageRef {
  const input = raw.trim();
  if (input === '') throw invalid(raw, 'empty');
  if (/\s/.test(input)) throw invalid(raw, 'contains white space');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(raw, `bad digest "${digest}"`);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw invalid(raw, `bad tag "${tag}"`);
  }

  const components = rest.split('/');
  let registry = DOCKER_HUB;
  if (components.length > 1 && looksLikeRegistry(components[0]!)) {
    registry = components.shift()!;
    if (!HOST.test(registry)) throw invalid(raw, `bad registry host "${registry}"`);
    if (DOCKER_HUB_ALIASES.has(registry.toLowerCase())) registry = DOCKER_HUB;
  }
  for (const component of components) {
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(raw, `bad repository path component "${component}" (lowercase letters, digits and . _ - only)`);
    }
  }
  if (registry === DOCKER_HUB && components.length === 1) components.unshift('library');

  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository: components.join('/'), tag, digest };
}

/** `registry/repository`, without tag or digest. */
export function imageName(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}`;
}

export function formatImageRef(ref: ImageRef): string {
  return imageName(ref) + (ref.tag === undefined ? '' : `:${ref.tag}`) + (ref.digest === undefined ? '' : `@${ref.digest}`);
}

/**
 * kubelet defaults imagePullPolicy to Always for `:latest` and untagged references without a digest; on an
 * isolated cluster that default guarantees ImagePullBackOff, so the bundle patches those containers.
 */
export function defaultsToAlwaysPull(raw: string): boolean {
  const ref = parseImageRef(raw);
  return ref.digest === undefined && ref.tag === 'latest';
}

/**
 * The reference under which the bundle stores an image and its manifests name it.
 *
 * NOTE: `docker save`/`docker load` keep tags but drop repository digests, so a digest-pinned reference would not
 * resolve on the target after loading. Such images are stored under a tag derived from the digest
 * (`repo:sha256-<hex>`): deterministic, unique per digest, and within Docker's 128-character tag limit.
 */
export function bundleRefFor(ref: ImageRef): string {
  if (ref.digest === undefined) return formatImageRef(ref);
  return `${imageName(ref)}:${ref.digest.replace(':', '-')}`;
}

/** The reference to pull: digest-pinned images are pulled by digest alone, so the registry verifies the content. */
export function pullRefFor(ref: ImageRef): string {
  return ref.digest === undefined ? formatImageRef(ref) : `${imageName(ref)}@${ref.digest}`;
}
