// What a registry serves for one image on one platform, as the registry client resolves it. The archive writer and
// the push path consume this shape; they never parse manifests themselves. (Node's stream type is named inline: core
// imports no I/O module.)

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface BlobDescriptor {
  /** `sha256:<64 hex>`. */
  digest: string;
  /** Bytes as the registry serves them (compressed for layers). */
  size: number;
  mediaType: string;
}

export interface RegistryImage {
  /** The reference as requested, normalised (`docker.io/library/busybox:1.36`, `host:port/repo@sha256:...`). */
  ref: string;
  /** `registry/path` without tag or digest, e.g. `docker.io/library/busybox`; the repository blobs are fetched from. */
  repository: string;
  /** Digest of `manifestBytes`: the single-platform image manifest as served (never re-serialised). */
  manifestDigest: string;
  /** Media type of `manifestBytes` (Docker schema 2 or OCI image manifest). */
  manifestMediaType: string;
  /** The exact bytes the registry served; pushing them unchanged keeps `manifestDigest`. */
  manifestBytes: Buffer;
  /** Present when the reference named a manifest list / OCI index: its digest (the one `docker pull` reports). */
  indexDigest?: string;
  /** Present with `indexDigest`: the exact bytes of the list / index as served. */
  indexBytes?: Buffer;
  /** Present with `indexDigest`: media type of `indexBytes`. */
  indexMediaType?: string;
  /** The platform picked from the index, or the one the config declares for a single-platform manifest. */
  platform: Platform;
  config: BlobDescriptor;
  /** In manifest order (base layer first). */
  layers: BlobDescriptor[];
}

/**
 * The digest `docker pull` reports for the reference (the list's when it named one): what a mirror's answer is compared
 * with against the origin's or a pinned digest.
 */
export function servedDigest(image: RegistryImage): string {
  return image.indexDigest ?? image.manifestDigest;
}

export interface BlobSource {
  /**
   * A stream of the blob's bytes as served, checked against `digest` and `size`: as they flow from the registry (the
   * stream errors with DIGEST_MISMATCH instead of ending when they do not match, so a consumer never sees a clean end
   * of bad bytes), or, from a cache, before the first byte is handed out. Rejects when the registry refuses the blob.
   */
  blob(image: RegistryImage, digest: string, size: number, signal?: AbortSignal): Promise<import('node:stream').Readable>;
}
