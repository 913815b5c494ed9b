// The build's image store without an engine: a "pull" resolves the manifest on the registry and downloads the blobs
// the cache lacks; the "save" writes `docker save` archives from the cache with every layer as the registry served it
// (core/save-archive-layout.ts), as several as the images allow for loading them at once (core/archive-groups.ts),
// and says where each blob is in them for a push over HTTP (core/registry-push-plan.ts). The use case sees the same
// port as with the Docker engine, so mirror chains, digest checks, retries, progress and failure reports are the same
// for both sources.

import type { EngineImage, ImageArchiveStream, ImageStore, PullOptions, SaveArchivesOptions } from '../app/ports.js';
import { archiveGroups } from '../core/archive-groups.js';
import { KfbundleError } from '../core/errors.js';
import { isRegistryError } from '../core/registry-error.js';
import { formatImageRef, imageName, parseImageRef } from '../core/image-ref.js';
import { servedDigest, type BlobDescriptor, type Platform, type RegistryImage } from '../core/registry-image.js';
import type { ServedIndex } from '../core/platform-images.js';
import { heldLayers, type BaseContent } from '../core/delta-base.js';
import { formatPlatform } from '../core/registry-manifest.js';
import { holdsWholeIndex, registryPushPlan } from '../core/registry-push-plan.js';
import { saveArchiveLayout, type ImageToSave } from '../core/save-archive-layout.js';
import { registryArchive } from './registry-archive-writer.js';
import type { RegistryClient } from './registry-client.js';

export interface RegistryImageStoreOptions {
  client: RegistryClient;
  /** The platform picked from multi-platform images (linux/amd64 unless told otherwise). */
  platform?: Platform | undefined;
  /**
   * A delta bundle's base (`build --since`): the layers the target holds already, which are neither fetched nor
   * saved (core/delta-base.ts).
   */
  base?: BaseContent | undefined;
}

const normalised = (ref: string) => formatImageRef(parseImageRef(ref));

/** `work`, or its caller's abort reason as soon as the signal fires (the work itself goes on for other callers). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/** Bytes of an image as the archive holds it: config and layers as served. */
function servedSize(image: RegistryImage): number {
  return image.config.size + image.layers.reduce((sum, layer) => sum + layer.size, 0);
}

export class RegistryImageStore implements ImageStore {
  private readonly client: RegistryClient;
  private readonly platform: Platform | undefined;
  private readonly base: BaseContent | undefined;
  /** Normalised reference (as pulled, and as tagged) -> the image it names. */
  private readonly images = new Map<string, RegistryImage>();
  /** Registries whose digest question failed as unreachable, with that answer. */
  private readonly unreachable = new Map<string, Error>();
  /**
   * Resolutions under way or done, by normalised reference: an estimate's, a digest question's and the pull's are one
   * request (Docker Hub counts every manifest request against its pull limit). A failed one is forgotten, so a retry
   * asks again.
   */
  private readonly resolving = new Map<string, Promise<RegistryImage>>();

  constructor(options: RegistryImageStoreOptions) {
    this.client = options.client;
    this.platform = options.platform;
    this.base = options.base;
  }

  /** The layers of `image` the target holds from the base, never fetched or saved. */
  private held(image: RegistryImage): ReadonlySet<string> {
    return this.base === undefined ? new Set() : new Set(heldLayers(image, this.base));
  }

  /** Nothing to reach before the first image: each registry is asked when its first image is. */
  async ping(): Promise<void> {}

  /**
   * The shared request runs with no caller's signal (one caller's abort must not fail the others), and each caller
   * stops waiting at its own.
   */
  private resolve(ref: string, signal?: AbortSignal): Promise<RegistryImage> {
    const key = normalised(ref);
    let resolution = this.resolving.get(key);
    if (resolution === undefined) {
      resolution = this.client.resolve(ref, this.platform);
      this.resolving.set(key, resolution);
      resolution.catch(() => this.resolving.delete(key));
    }
    return untilAborted(resolution, signal);
  }

  async pull(ref: string, options: PullOptions = {}): Promise<void> {
    const image = await this.resolve(ref, options.signal);
    const held = this.held(image);
    const fetched = { ...image, layers: image.layers.filter((layer) => !held.has(layer.digest)) };
    const blobs = [fetched.config, ...fetched.layers];
    const layers = new Map<string, readonly [number, number]>(blobs.map((blob) => [blob.digest, [0, blob.size]] as const));
    const report = (status: string) => options.onProgress?.({ ref, layers, status });
    report('downloading');
    try {
      await this.client.fetchBlobs(fetched, options.signal, (blob) => {
        layers.set(blob.digest, [blob.size, blob.size]);
        report('downloading');
      });
    } catch (error) {
      // A retry asks for the manifest again: the one resolved may be why the blobs failed.
      this.resolving.delete(normalised(ref));
      throw error;
    }
    this.images.set(normalised(ref), image);
  }

  async inspect(ref: string): Promise<EngineImage | undefined> {
    const key = normalised(ref);
    const image = this.images.get(key);
    if (image === undefined) return undefined;
    return {
      id: image.config.digest,
      repoTags: [key],
      // The digest a pull reports: the list's, when the reference named one.
      repoDigests: [`${imageName(parseImageRef(key))}@${servedDigest(image)}`],
      size: servedSize(image),
      manifest: {
        digest: image.manifestDigest,
        mediaType: image.manifestMediaType,
        platform: formatPlatform(image.platform),
        ...(image.indexBytes === undefined ? {} : { indexComplete: holdsWholeIndex(image) }),
        layers: image.layers.map((layer) => layer.digest),
      },
    };
  }

  /**
   * The origin's digest, asked when a mirror may serve the image instead. An origin found unreachable (a blocked
   * registry whose name does not even resolve) is not asked again in this build: each try can cost a resolver's
   * timeout, and every pull would wait for it.
   */
  async remoteDigest(ref: string): Promise<string> {
    const registry = parseImageRef(ref).registry;
    const known = this.unreachable.get(registry);
    if (known !== undefined) throw known;
    try {
      return servedDigest(await this.resolve(ref));
    } catch (error) {
      if (isRegistryError(error) && error.kind === 'unreachable') this.unreachable.set(registry, error);
      throw error;
    }
  }

  /** The blobs a pull of `ref` would fetch, from its manifest alone (a delta's held layers are not fetched). */
  async describe(ref: string, options: { signal?: AbortSignal | undefined } = {}): Promise<BlobDescriptor[]> {
    const image = await this.resolve(ref, options.signal);
    const held = this.held(image);
    return [image.config, ...image.layers.filter((layer) => !held.has(layer.digest))];
  }

  /** The index `ref` named upstream, byte for byte, once pulled; undefined for a manifest of one platform. */
  servedIndex(ref: string): ServedIndex | undefined {
    const image = this.images.get(normalised(ref));
    if (image?.indexDigest === undefined || image.indexBytes === undefined || image.indexMediaType === undefined) return undefined;
    return { digest: image.indexDigest, mediaType: image.indexMediaType, bytes: image.indexBytes };
  }

  async tag(source: string, target: string): Promise<void> {
    const image = this.images.get(normalised(source));
    if (image === undefined) throw new KfbundleError('SAVE_FAILED', `cannot name ${target}: ${source} was not fetched`);
    this.images.set(normalised(target), image);
  }

  /** Exact, unlike an engine's accounting: a blob shared with another image counts as shared. */
  async usage(imageIds: readonly string[]): Promise<{ id: string; size: number; sharedSize: number }[]> {
    const wanted = new Set(imageIds);
    const byId = new Map<string, RegistryImage>();
    for (const image of this.images.values()) if (wanted.has(image.config.digest)) byId.set(image.config.digest, image);
    const users = new Map<string, number>();
    for (const image of byId.values()) for (const layer of image.layers) users.set(layer.digest, (users.get(layer.digest) ?? 0) + 1);
    return [...byId.entries()].map(([id, image]) => ({
      id,
      size: servedSize(image),
      sharedSize: image.layers.filter((layer) => (users.get(layer.digest) ?? 0) > 1).reduce((sum, layer) => sum + layer.size, 0),
    }));
  }

  /**
   * The archives of every reference of every batch, in stages (core/archive-groups.ts). Each
   * layout lists blobs in digest order, so the archives are laid out once all batches are known; the blobs are in the
   * cache by then, and each write is a local copy.
   */
  async saveArchives(batches: AsyncIterable<readonly string[]>, options: SaveArchivesOptions): Promise<ImageArchiveStream[]> {
    const tags = new Map<RegistryImage, string[]>();
    for await (const batch of batches) {
      for (const ref of batch) {
        const image = this.images.get(normalised(ref));
        if (image === undefined) throw new KfbundleError('SAVE_FAILED', `${ref} is to be saved but was never fetched`);
        tags.set(image, [...(tags.get(image) ?? []), ref]);
      }
    }
    const toSave: ImageToSave[] = [...tags.entries()].map(([image, refs]) => ({ image, tags: refs }));
    // Laid out whole once: a tag two images claim is refused even when they would go to different archives.
    saveArchiveLayout(toSave);
    // Each archive is laid out once: the push plan reads its offsets, the stream writes it. A delta's held layers are
    // in none of them, as a stage 2 archive leaves out what stage 1 holds.
    const held = new Map(toSave.flatMap(({ image }) => [...this.held(image)].map((digest) => [digest, this.base?.repositories.get(digest) ?? []] as const)));
    const archives = archiveGroups(toSave, { maxArchives: options.maxArchives }).map((group) => ({
      ...group,
      layout: saveArchiveLayout(group.images, held.size === 0 ? group.heldEarlier : new Set([...group.heldEarlier, ...held.keys()])),
    }));
    const push = registryPushPlan(archives, held);
    return archives.map((archive, index) => ({
      stage: archive.stage,
      refs: archive.images.flatMap((item) => item.tags),
      // Read from the cache only when the archive's turn comes.
      stream: registryArchive(archive.layout, this.client, { signal: options.signal }),
      push: push[index],
    }));
  }
}
