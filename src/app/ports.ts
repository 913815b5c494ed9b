// The capabilities the use cases need from the outside world. Implementations live in src/io; tests may pass others.

import type { Readable } from 'node:stream';
import type { BundleFile } from '../core/bundle-layout.js';
import type { RegistryCredentials } from '../core/docker-auth.js';
import type { PushAction } from '../core/registry-push-plan.js';
import type { ServedIndex } from '../core/platform-images.js';
import type { BlobDescriptor } from '../core/registry-image.js';

/** Credentials sent with a pull, as the engine's X-Registry-Auth header expects them. */
export type RegistryAuth = RegistryCredentials;

export interface PullProgress {
  ref: string;
  /** Layer id -> [current, total] bytes as the engine reports them. */
  layers: ReadonlyMap<string, readonly [number, number]>;
  status: string;
}

export interface PullOptions {
  auth?: RegistryAuth | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: PullProgress) => void) | undefined;
}

export interface EngineImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
  /**
   * The single-platform manifest the archive will hold exactly as the registry served it. Undefined from an engine,
   * whose save writes manifests of its own.
   */
  manifest?: ServedManifest | undefined;
  /** `os/arch[/variant]` of the image as the engine records it; from registries, `manifest.platform` says it. */
  platform?: string | undefined;
}

export interface ServedManifest {
  digest: string;
  mediaType: string;
  /** `os/arch[/variant]`: the platform picked from the index, or the one the config declares. */
  platform: string;
  /** Present when the reference names an index: whether the archive holds every manifest it lists. */
  indexComplete?: boolean | undefined;
  /** The layers' digests as served, base layer first: what a later delta bundle compares with (core/delta-base.ts). */
  layers?: readonly string[] | undefined;
}

/**
 * Where a build's images come from, and how they become one archive: the registries themselves
 * (io/registry-image-store.ts, the default) or a Docker engine (io/docker-image-store.ts).
 */
export interface ImageStore {
  /** @throws KfbundleError DOCKER_UNREACHABLE, DOCKER_PERMISSION_DENIED, DOCKER_API_TOO_OLD */
  ping(): Promise<void>;
  /**
   * Pulls by reference; fails on any error the source reports, in-band or not.
   * @throws KfbundleError PULL_FAILED (with its `fault` kind, which decides whether a retry can help),
   *   DIGEST_MISMATCH, DOCKER_CONNECTION_LOST
   */
  pull(ref: string, options?: PullOptions): Promise<void>;
  inspect(ref: string): Promise<EngineImage | undefined>;
  /** The manifest digest the registry serves for `ref` now, asked without pulling. @throws when it cannot be asked */
  remoteDigest(ref: string, auth?: RegistryAuth): Promise<string>;
  tag(source: string, target: string): Promise<void>;
  /**
   * The blobs (config and layers, sizes as served) a pull of `ref` would fetch, asked before pulling from the
   * manifest alone. Only a store that fetches blobs itself (from registries) can tell.
   */
  describe?(ref: string, options?: { signal?: AbortSignal | undefined }): Promise<BlobDescriptor[]>;
  /** The index `ref` named upstream, byte for byte, once pulled (from registries); undefined for one manifest. */
  servedIndex?(ref: string): ServedIndex | undefined;
  /** Size and shared size of the images with these IDs, as the engine accounts them (`docker system df -v`). */
  usage(imageIds: readonly string[]): Promise<{ id: string; size: number; sharedSize: number }[]>;
  /**
   * The `docker save` archives of every reference `batches` yields (a batch as soon as its images are pulled); the
   * archives of a stage load at once, after those of the stages before: one archive from an engine (one save per
   * batch, merged), up to `maxArchives` per stage from registries (core/archive-groups.ts). Each stream is read
   * once, in order; the same images always give the same bytes.
   */
  saveArchives(batches: AsyncIterable<readonly string[]>, options: SaveArchivesOptions): Promise<ImageArchiveStream[]>;
}

export interface SaveArchivesOptions {
  /** Up to this many archives (`--archives`); a store that writes one archive ignores it. */
  maxArchives?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** One archive's bytes, started only when read. */
export interface ImageArchiveStream {
  /** Archives of stage 1 are loaded before those of stage 2, which use layers they hold. */
  stage: number;
  /** The references it holds; undefined: every one saved. */
  refs: readonly string[] | undefined;
  stream: Readable;
  /**
   * From registries: what pushing its images over the registry HTTP API reads from this archive (offsets in the
   * stream). Absent from an engine's save, whose layers the engine re-wrote.
   */
  push?: readonly PushAction[] | undefined;
}

export interface RenderedManifests {
  text: string;
  kind: 'file' | 'kustomize' | 'release' | 'images';
  /** How messages name the input, e.g. `rendered.yaml` or `kustomize build example`. */
  description: string;
}

/** Turns the user's `--manifests` input into rendered YAML text. */
export interface ManifestSource {
  render(input: string): Promise<RenderedManifests>;
}

export interface Sleeper {
  (ms: number, signal?: AbortSignal): Promise<void>;
}

/** A bundle being written: invisible under its final name until committed. */
export interface WrittenStream {
  files: BundleFile[];
  size: number;
  sha256: string;
  /** Milliseconds spent hashing, inside the stream (so also inside the time the write took). */
  hashMs: number;
}

export interface StagedBundle {
  writeText(path: string, content: string, options?: { executable?: boolean }): Promise<BundleFile>;
  writeBytes(path: string, content: Buffer): Promise<BundleFile>;
  /**
   * Writes the stream to `path`, or with `partSize` to `path.0000`, `path.0001`, … of at most that many bytes each.
   * Returns every file written, and the size and SHA-256 of the whole stream.
   */
  writeStream(
    path: string,
    source: Readable,
    options?: { signal?: AbortSignal | undefined; onBytes?: ((bytes: number) => void) | undefined; partSize?: number | undefined },
  ): Promise<WrittenStream>;
  /** Moves the finished bundle to its final name. */
  commit(): Promise<void>;
  /** Removes everything written so far. Safe to call more than once. */
  discard(): Promise<void>;
}

export interface BundleOutput {
  /** @throws KfbundleError OUTPUT_EXISTS unless `force` */
  stage(outDir: string, options: { force: boolean }): Promise<StagedBundle>;
  /** Bytes free for an unprivileged writer on the file system that will hold `outDir`. */
  freeBytes(outDir: string): Promise<number>;
}

/** Read access to a bundle's files by their path inside the bundle. */
export interface BundleReader {
  /** Every regular file below the bundle root, as bundle paths (`images/images.tar`). */
  listFiles(): Promise<string[]>;
  readText(path: string): Promise<string | undefined>;
  readBytes(path: string): Promise<Buffer | undefined>;
  /** undefined when the file does not exist. */
  hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; size: number } | undefined>;
}
