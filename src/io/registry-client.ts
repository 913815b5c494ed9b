// Fetches images straight from registries over the HTTP API v2: resolves a reference to the manifest for one
// platform (kept as the exact bytes served, their digest checked) and streams its blobs, each checked against its
// digest as it flows, through a blob cache when one is given. Mirror chains stay the caller's: this fetches a given
// reference from the registry it names, and reports the digests served so the caller can compare them.

import pLimit, { type LimitFunction } from 'p-limit';
import type { Readable } from 'node:stream';
import { formatImageRef, imageName, parseImageRef, type ImageRef } from '../core/image-ref.js';
import { isRegistryError, RegistryError } from '../core/registry-error.js';
import type { BlobSource, Platform, RegistryImage } from '../core/registry-image.js';
import {
  configPlatform,
  DEFAULT_PLATFORM,
  formatPlatform,
  isSupportedDigest,
  ManifestFormatError,
  offeredPlatforms,
  parseManifest,
  selectPlatform,
  type ParsedManifest,
} from '../core/registry-manifest.js';
import { MANIFEST_ACCEPT, manifestPath } from '../core/registry-paths.js';
import type { BlobCache } from './blob-cache.js';
import { openBlob, readBlob } from './blob-download.js';
import { digestOf } from './digest-verifying-stream.js';
import { readBody } from './http-connector.js';
import { pushImage, type PushOptions, type PushResult } from './registry-push.js';
import { RegistryTransport, type RegistryTarget, type TransportOptions } from './registry-transport.js';

export interface RegistryClientOptions extends TransportOptions {
  /** Blobs and manifests are read from and kept in it; without one every blob streams from the registry. */
  cache?: BlobCache;
  /** Blob downloads at once (and, separately, uploads at once). */
  concurrency?: number;
}

// containerd's limit for a manifest; configs get the same room.
const MANIFEST_LIMIT = 4 * 1024 * 1024;
const CONFIG_LIMIT = 8 * 1024 * 1024;

interface ServedManifest {
  bytes: Buffer;
  digest: string;
  parsed: ParsedManifest;
}

/** `docker.io/library/busybox` -> the target its blobs are fetched from. */
function targetOfRepository(repository: string): RegistryTarget {
  const slash = repository.indexOf('/');
  if (slash <= 0) throw new Error(`repository "${repository}" lacks its registry (expected registry/path)`);
  return { registry: repository.slice(0, slash), repository: repository.slice(slash + 1), actions: ['pull'] };
}

export class RegistryClient implements BlobSource {
  private readonly transport: RegistryTransport;
  private readonly cache: BlobCache | undefined;
  private readonly downloads: LimitFunction;
  private readonly uploads: LimitFunction;
  /** Downloads into the cache under way, so two images sharing a layer fetch it once. */
  private readonly fetching = new Map<string, { from: string; download: Promise<void> }>();

  constructor(options: RegistryClientOptions = {}) {
    this.transport = new RegistryTransport(options);
    this.cache = options.cache;
    this.downloads = pLimit(options.concurrency ?? 4);
    this.uploads = pLimit(options.concurrency ?? 4);
  }

  close(): void {
    this.transport.close();
  }

  /**
   * The image a reference names on the registry it names, for `platform` when it names a list (linux/amd64 unless
   * told otherwise). A digest-pinned reference is checked against the bytes served.
   * @throws RegistryError: not-found (no such image or no image for the platform), denied, transient (after retries),
   * unreachable, invalid (a manifest kfbundle cannot read), digest-mismatch.
   */
  async resolve(reference: string | ImageRef, platform: Platform = DEFAULT_PLATFORM, signal?: AbortSignal): Promise<RegistryImage> {
    const ref = typeof reference === 'string' ? parseImageRef(reference) : reference;
    const name = imageName(ref);
    const target: RegistryTarget = { registry: ref.registry, repository: ref.repository, actions: ['pull'] };
    const top = await this.manifest(target, ref, signal);
    let image = top;
    let chosen: Platform | undefined;
    let index: { digest: string; bytes: Buffer; mediaType: string } | undefined;
    if (top.parsed.kind === 'index') {
      const entry = selectPlatform(top.parsed.manifests, platform);
      if (entry === undefined) {
        const offered = offeredPlatforms(top.parsed.manifests);
        throw new RegistryError('not-found', `${formatImageRef(ref)} has no ${formatPlatform(platform)} image (it offers ${offered.join(', ') || 'none'})`, {
          hint: 'pick one of the platforms it offers',
        });
      }
      image = await this.manifest(target, { ...ref, tag: undefined, digest: entry.digest }, signal);
      if (image.bytes.length !== entry.size) {
        throw new RegistryError('digest-mismatch', `manifest ${name}@${entry.digest} is ${image.bytes.length} bytes where its list gives ${entry.size}`);
      }
      chosen = entry.platform;
      index = { digest: top.digest, bytes: top.bytes, mediaType: top.parsed.mediaType };
    }
    if (image.parsed.kind !== 'image') {
      throw new RegistryError('invalid', `manifest ${name}@${image.digest} is a list inside a list, which kfbundle does not read`);
    }
    const { config, layers } = image.parsed;
    if (chosen === undefined) {
      const configBytes = await readBlob(await this.blobFrom(target, config.digest, config.size, signal), CONFIG_LIMIT, `config ${name}@${config.digest}`);
      chosen = configPlatform(configBytes) ?? platform;
    }
    const resolved: RegistryImage = {
      ref: formatImageRef(ref),
      repository: name,
      manifestDigest: image.digest,
      manifestMediaType: image.parsed.mediaType,
      manifestBytes: image.bytes,
      platform: chosen,
      config,
      layers,
    };
    if (index !== undefined) {
      resolved.indexDigest = index.digest;
      resolved.indexBytes = index.bytes;
      resolved.indexMediaType = index.mediaType;
    }
    return resolved;
  }

  /** A blob of the image's repository, checked as it streams; from the cache when it holds it (then fetched once). */
  blob(image: RegistryImage, digest: string, size: number, signal?: AbortSignal): Promise<Readable> {
    return this.blobFrom(targetOfRepository(image.repository), digest, size, signal);
  }

  /**
   * Downloads every blob of the image that the cache lacks (at most `concurrency` at once across all images), so the
   * archive is later written from local files; `onBlob` is told as each one is in. Without a cache there is nowhere to
   * keep them, and the archive streams them from the registry instead.
   */
  async fetchBlobs(image: RegistryImage, signal?: AbortSignal, onBlob?: (blob: { digest: string; size: number }) => void): Promise<void> {
    const cache = this.cache;
    if (cache === undefined) return;
    const target = targetOfRepository(image.repository);
    await Promise.all(
      [image.config, ...image.layers].map(async (blob) => {
        if (!(await cache.has(blob.digest))) await this.fetchIntoCache(cache, target, blob.digest, blob.size, signal);
        onBlob?.(blob);
      }),
    );
  }

  /**
   * Uploads the image's blobs to `target` (skipping those there, mounting from `mountFrom` when asked) and PUTs its
   * manifest bytes exactly as served, so the pushed image keeps `image.manifestDigest`.
   */
  push(image: RegistryImage, target: string | ImageRef, options: PushOptions = {}): Promise<PushResult> {
    const ref = typeof target === 'string' ? parseImageRef(target) : target;
    return pushImage(this.transport, this.uploads, image, ref, options.source ?? this, options);
  }

  private async blobFrom(target: RegistryTarget, digest: string, size: number, signal?: AbortSignal): Promise<Readable> {
    if (!isSupportedDigest(digest)) throw new RegistryError('invalid', `blob ${target.registry}/${target.repository}@${digest}: not a digest kfbundle can check`);
    const cache = this.cache;
    if (cache === undefined) return this.streamUncached(target, digest, size, signal);
    // Twice at most: an entry found corrupt on the read after our own download means something else is wrong.
    for (let round = 0; round < 2; round++) {
      const cached = await cache.read(digest, size, signal);
      if (cached !== undefined) return cached;
      await this.fetchIntoCache(cache, target, digest, size, signal);
    }
    throw new RegistryError('transient', `blob ${target.registry}/${target.repository}@${digest} vanished from the cache ${cache.dir} right after it was written`);
  }

  private fetchIntoCache(cache: BlobCache, target: RegistryTarget, digest: string, size: number, signal?: AbortSignal): Promise<void> {
    const from = `${target.registry}/${target.repository}`;
    const running = this.fetching.get(digest);
    if (running !== undefined) {
      // The same bytes from another source (a mirror that lacks them, say): waited for, and fetched from this one if
      // that download fails. Its entry is gone by then (removed by the handlers attached first).
      if (running.from === from) return running.download;
      return running.download.catch(async () => {
        if (!(await cache.has(digest))) await this.fetchIntoCache(cache, target, digest, size, signal);
      });
    }
    const download = this.downloads(async () => {
      const bytes = await openBlob(this.transport, { target, digest, size, signal, verify: false });
      await cache.write(digest, size, bytes, `blob ${from}@${digest}`, signal);
    });
    this.fetching.set(digest, { from, download });
    download.then(
      () => this.fetching.delete(digest),
      () => this.fetching.delete(digest),
    );
    return download;
  }

  /** Holds a download slot until the consumer has finished with (or dropped) the stream. */
  private async streamUncached(target: RegistryTarget, digest: string, size: number, signal?: AbortSignal): Promise<Readable> {
    const release = await new Promise<() => void>((acquired) => {
      void this.downloads(() => new Promise<void>((done) => acquired(done)));
    });
    try {
      const stream = await openBlob(this.transport, { target, digest, size, signal });
      stream.once('close', release);
      return stream;
    } catch (error) {
      release();
      throw error;
    }
  }

  /** The manifest for a tag or digest: from the cache when pinned (or when a HEAD names a digest it holds), else GET. */
  private async manifest(target: RegistryTarget, ref: ImageRef, signal?: AbortSignal): Promise<ServedManifest> {
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const what = `manifest ${formatImageRef(ref)}`;
    const known = ref.digest ?? (this.cache === undefined ? undefined : await this.headDigest(target, reference, what, signal));
    if (known !== undefined && this.cache !== undefined) {
      const bytes = await this.cache.readSmall(known);
      if (bytes !== undefined) return { bytes, digest: known, parsed: parse(bytes, undefined, what) };
    }
    const response = await this.transport.request(target, {
      method: 'GET',
      path: manifestPath(target.repository, reference),
      headers: { accept: MANIFEST_ACCEPT },
      accept: [200],
      what,
      signal,
    });
    const bytes = await readBody(response, MANIFEST_LIMIT);
    const digest = digestOf(bytes, ref.digest ?? 'sha256:');
    if (ref.digest !== undefined && digest !== ref.digest) {
      throw new RegistryError('digest-mismatch', `${what}: the registry served bytes that hash to ${digest}`, {
        hint: 'a mirror serving other content under this name cannot be used for digest-pinned images',
      });
    }
    const served = response.headers['docker-content-digest'];
    if (typeof served === 'string' && isSupportedDigest(served) && served.split(':')[0] === digest.split(':')[0] && served !== digest) {
      throw new RegistryError('digest-mismatch', `${what}: the registry names it ${served} but its bytes hash to ${digest}`);
    }
    const parsed = parse(bytes, String(response.headers['content-type'] ?? ''), what);
    await this.cache?.writeSmall(bytes, digest);
    return { bytes, digest, parsed };
  }

  /** The digest a HEAD reports for a tag, or undefined when the registry does not say (then a GET tells). */
  private async headDigest(target: RegistryTarget, reference: string, what: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      const response = await this.transport.request(target, {
        method: 'HEAD',
        path: manifestPath(target.repository, reference),
        headers: { accept: MANIFEST_ACCEPT },
        accept: [200],
        what,
        signal,
      });
      response.body.resume();
      const digest = response.headers['docker-content-digest'];
      return typeof digest === 'string' && isSupportedDigest(digest) ? digest : undefined;
    } catch (error) {
      // The GET gives the same answer for these; anything else (a registry without HEAD) is for the GET to try.
      if (isRegistryError(error) && (error.kind === 'not-found' || error.kind === 'denied' || signal?.aborted === true)) throw error;
      return undefined;
    }
  }
}

function parse(bytes: Buffer, contentType: string | undefined, what: string): ParsedManifest {
  try {
    return parseManifest(bytes, contentType);
  } catch (error) {
    if (error instanceof ManifestFormatError) throw new RegistryError('invalid', `${what}: ${error.message}`, { cause: error });
    throw error;
  }
}
