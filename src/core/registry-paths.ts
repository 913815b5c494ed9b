// Where a registry's HTTP API v2 lives for a reference: the host to talk to, plain HTTP or TLS, and the paths of
// manifests, blobs and uploads. Pure: the client decides nothing about addresses itself.

import { DOCKER_HUB, type ImageRef } from './image-ref.js';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
} as const;

/** What we accept for a manifest GET: both image manifests and both lists, so the registry converts nothing. */
export const MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest].join(', ');

/** Docker Hub's API is not served at docker.io itself. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/** The `host[:port]` to send API requests to for a reference's registry. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

export type Transport =
  /** TLS with certificate verification: every registry not named below. */
  | 'https'
  /** Plain HTTP only: loopback registries, as Docker treats them. */
  | 'http'
  /** TLS without verification, then plain HTTP if TLS fails: `--insecure-registry` hosts, as Docker treats them. */
  | 'insecure';

function hostWithoutPort(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const colons = hostPort.split(':').length - 1;
  // A bare IPv6 address has several colons and no port.
  if (colons > 1) return hostPort;
  return colons === 1 ? hostPort.slice(0, hostPort.indexOf(':')) : hostPort;
}

/** 127.0.0.0/8, ::1 and localhost: addresses that never leave this machine. */
export function isLoopbackHost(hostPort: string): boolean {
  const host = hostWithoutPort(hostPort).toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * How to reach a registry host. An `insecureRegistries` entry names `HOST` (any port) or `HOST:PORT`, like Docker's
 * `--insecure-registry`; it wins over the loopback rule so a self-signed registry on loopback can be reached too.
 */
export function transportFor(apiHost: string, insecureRegistries: readonly string[]): Transport {
  const host = hostWithoutPort(apiHost).toLowerCase();
  const listed = insecureRegistries.some((entry) => {
    const normalised = entry.trim().replace(/^https?:\/\//, '').replace(/\/+$/, '').toLowerCase();
    return normalised === apiHost.toLowerCase() || normalised === host;
  });
  if (listed) return 'insecure';
  return isLoopbackHost(apiHost) ? 'http' : 'https';
}

/** The path segment for a manifest GET: the digest when pinned (the registry then serves exactly it), else the tag. */
export function manifestReference(ref: ImageRef): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

export function manifestPath(repository: string, reference: string): string {
  return `/v2/${repository}/manifests/${reference}`;
}

export function blobPath(repository: string, digest: string): string {
  return `/v2/${repository}/blobs/${digest}`;
}

export function uploadStartPath(repository: string): string {
  return `/v2/${repository}/blobs/uploads/`;
}

export function mountPath(repository: string, digest: string, fromRepository: string): string {
  return `${uploadStartPath(repository)}?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepository)}`;
}

/** An upload Location (absolute or relative, perhaps with its own query) with `digest=` added, resolved against `base`. */
export function uploadCompleteUrl(location: string, base: URL, digest: string): URL {
  const url = new URL(location, base);
  url.searchParams.set('digest', digest);
  return url;
}

/** Whether a redirect target is another origin, to which the registry's credentials must not be sent. */
export function isCrossOrigin(from: URL, to: URL): boolean {
  return from.origin !== to.origin;
}
