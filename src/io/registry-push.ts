// Pushes a resolved image to a registry: each blob the target lacks is mounted from a repository on the same registry
// or uploaded (one PUT, or PATCH chunks then a PUT) with `?digest=`, and then the manifest bytes are PUT exactly as
// they were served, with their media type, so the target serves the image under its upstream digest.

import type { LimitFunction } from 'p-limit';
import type { Readable } from 'node:stream';
import { repositoryScope } from '../core/registry-auth-challenge.js';
import { formatImageRef, imageName, parseImageRef, type ImageRef } from '../core/image-ref.js';
import { RegistryError } from '../core/registry-error.js';
import type { BlobDescriptor, BlobSource, RegistryImage } from '../core/registry-image.js';
import { blobPath, manifestPath, mountPath, uploadCompleteUrl, uploadStartPath } from '../core/registry-paths.js';
import { discardBody, type HttpResponse } from './http-connector.js';
import type { RegistryTarget, RegistryTransport } from './registry-transport.js';

export interface PushOptions {
  /** Where the blobs' bytes come from: the pushing client (through its cache) unless another source is given. */
  source?: BlobSource;
  /** A repository (`registry/path`) on the target's registry to mount blobs from instead of uploading them. */
  mountFrom?: string;
  /** Upload in PATCH chunks of this many bytes (bounded memory per upload); one streamed PUT when absent. */
  chunkSize?: number;
  signal?: AbortSignal;
}

export type BlobOutcome = 'existing' | 'mounted' | 'uploaded';

export interface PushResult {
  /** The reference pushed, normalised. */
  ref: string;
  /** The digest the target registry reports for the manifest: `image.manifestDigest`. */
  manifestDigest: string;
  /** What happened to each blob (config and layers), by digest. */
  blobs: Record<string, BlobOutcome>;
}

export async function pushImage(
  transport: RegistryTransport,
  limit: LimitFunction,
  image: RegistryImage,
  target: ImageRef,
  source: BlobSource,
  options: PushOptions,
): Promise<PushResult> {
  const name = imageName(target);
  if (target.digest !== undefined && target.digest !== image.manifestDigest) {
    throw new RegistryError('invalid', `cannot push ${image.ref} as ${formatImageRef(target)}: its manifest digest is ${image.manifestDigest}`);
  }
  const mountFrom = options.mountFrom === undefined ? undefined : parseImageRef(`${options.mountFrom}:x`);
  const mount = mountFrom !== undefined && mountFrom.registry === target.registry && mountFrom.repository !== target.repository ? mountFrom.repository : undefined;
  const registryTarget: RegistryTarget = {
    registry: target.registry,
    repository: target.repository,
    actions: ['pull', 'push'],
    ...(mount === undefined ? {} : { extraScopes: [repositoryScope(mount, ['pull'])] }),
  };

  const unique = new Map<string, BlobDescriptor>();
  for (const blob of [image.config, ...image.layers]) unique.set(blob.digest, blob);
  const outcomes = await Promise.all(
    [...unique.values()].map((blob) =>
      limit(async () => [blob.digest, await pushBlob(transport, registryTarget, image, blob, source, mount, options)] as const),
    ),
  );

  const reference = target.digest ?? target.tag ?? 'latest';
  const response = await transport.request(registryTarget, {
    method: 'PUT',
    path: manifestPath(target.repository, reference),
    headers: { 'content-type': image.manifestMediaType },
    body: () => image.manifestBytes,
    accept: [201],
    what: `manifest ${name}:${reference}`,
    signal: options.signal,
  });
  await discardBody(response);
  const stored = response.headers['docker-content-digest'];
  if (typeof stored === 'string' && stored !== image.manifestDigest) {
    throw new RegistryError('digest-mismatch', `${name}:${reference}: the registry stored the manifest as ${stored}, not ${image.manifestDigest}`, {
      hint: 'the registry rewrote the manifest; digest-pinned references will not resolve there',
    });
  }
  return { ref: formatImageRef(target), manifestDigest: image.manifestDigest, blobs: Object.fromEntries(outcomes) };
}

/** One blob; a transient failure starts its upload over from the POST, since a broken upload session cannot resume. */
function pushBlob(
  transport: RegistryTransport,
  target: RegistryTarget,
  image: RegistryImage,
  blob: BlobDescriptor,
  source: BlobSource,
  mount: string | undefined,
  options: PushOptions,
): Promise<BlobOutcome> {
  const name = `${target.registry}/${target.repository}@${blob.digest}`;
  const what = `upload of blob ${name}`;
  const { signal } = options;
  return transport.withRetries(
    what,
    async () => {
      const head = await transport.request(target, { method: 'HEAD', path: blobPath(target.repository, blob.digest), accept: [200, 404], what: `blob ${name}`, signal, retry: false });
      await discardBody(head);
      if (head.status === 200) return 'existing';

      const start = await transport.request(target, {
        method: 'POST',
        path: mount === undefined ? uploadStartPath(target.repository) : mountPath(target.repository, blob.digest, mount),
        headers: { 'content-length': '0' },
        accept: mount === undefined ? [202] : [201, 202],
        what,
        signal,
        retry: false,
      });
      await discardBody(start);
      if (start.status === 201) return 'mounted';
      const origin = new URL(await transport.origin(target.registry, signal));
      let location = uploadLocation(start, origin, what);

      if (options.chunkSize !== undefined && blob.size > options.chunkSize) {
        const bytes = await source.blob(image, blob.digest, blob.size, signal);
        let offset = 0;
        for await (const piece of chunksOf(bytes, options.chunkSize)) {
          const patched = await transport.request(target, {
            method: 'PATCH',
            url: location,
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + piece.length - 1}` },
            body: () => piece,
            accept: [202],
            what,
            signal,
            retry: false,
          });
          await discardBody(patched);
          location = uploadLocation(patched, origin, what);
          offset += piece.length;
        }
        return finish(transport, target, location, blob.digest, undefined, what, signal);
      }
      const body = () => source.blob(image, blob.digest, blob.size, signal);
      return finish(transport, target, location, blob.digest, { body, size: blob.size }, what, signal);
    },
    signal,
  );
}

async function finish(
  transport: RegistryTransport,
  target: RegistryTarget,
  location: URL,
  digest: string,
  content: { body: () => Promise<Readable>; size: number } | undefined,
  what: string,
  signal: AbortSignal | undefined,
): Promise<BlobOutcome> {
  const done = await transport.request(target, {
    method: 'PUT',
    url: uploadCompleteUrl(location.toString(), location, digest),
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(content?.size ?? 0) },
    body: content === undefined ? () => Buffer.alloc(0) : content.body,
    accept: [201],
    what,
    signal,
    retry: false,
  });
  await discardBody(done);
  const stored = done.headers['docker-content-digest'];
  if (typeof stored === 'string' && stored !== digest) throw new RegistryError('digest-mismatch', `${what}: the registry stored ${stored}`);
  return 'uploaded';
}

function uploadLocation(response: HttpResponse, origin: URL, what: string): URL {
  const location = response.headers['location'];
  if (typeof location !== 'string' || location === '') throw new RegistryError('invalid', `${what}: the registry answered ${response.status} without an upload Location`);
  return new URL(location, origin);
}

/** The stream cut into pieces of exactly `size` bytes (the last may be shorter), each held in memory once. */
async function* chunksOf(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const received of stream as AsyncIterable<Buffer>) {
    let chunk = received;
    while (pendingBytes + chunk.length >= size) {
      const take = size - pendingBytes;
      pending.push(chunk.subarray(0, take));
      yield Buffer.concat(pending);
      chunk = chunk.subarray(take);
      pending = [];
      pendingBytes = 0;
    }
    if (chunk.length > 0) {
      pending.push(chunk);
      pendingBytes += chunk.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending);
}
