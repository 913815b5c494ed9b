// Asks the local registry over its HTTP API whether it holds a reference: what a node pulling from it would find.

import { parseImageRef } from '../../src/core/image-ref.js';

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

/** The config digest (the engine's image ID) of the manifest the registry serves for `ref`: which image it really is. */
export async function registryImageId(ref: string): Promise<string | undefined> {
  const parsed = parseImageRef(ref);
  const response = await fetch(`http://${parsed.registry}/v2/${parsed.repository}/manifests/${parsed.digest ?? parsed.tag ?? 'latest'}`, {
    headers: { accept: MANIFEST_TYPES },
  });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`registry answered ${response.status} for ${ref}`);
  const manifest = (await response.json()) as { config?: { digest?: string } };
  return manifest.config?.digest;
}

/** The manifest digest the registry serves for `ref` (`host:port/repo:tag`), or undefined when it has none. */
export async function registryDigest(ref: string): Promise<string | undefined> {
  const parsed = parseImageRef(ref);
  const reference = parsed.digest ?? parsed.tag ?? 'latest';
  const response = await fetch(`http://${parsed.registry}/v2/${parsed.repository}/manifests/${reference}`, {
    method: 'HEAD',
    headers: { accept: MANIFEST_TYPES },
  });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`registry answered ${response.status} for ${ref}`);
  return response.headers.get('docker-content-digest') ?? undefined;
}
