// A minimal client of the local registry's HTTP API (anonymous, plain HTTP), written for tests independently of the
// product's registry client: resolves a reference to a RegistryImage, serves blobs as a BlobSource, and pushes the
// hand-made manifests and indexes some tests need (an OCI-typed manifest, a two-platform index).

import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { parseImageRef } from '../../src/core/image-ref.js';
import type { BlobSource, Platform, RegistryImage } from '../../src/core/registry-image.js';

const REQUEST_TIMEOUT_MS = 60_000;

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

const ACCEPT = [MEDIA.dockerManifest, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.ociIndex].join(', ');
const INDEX_TYPES = new Set<string>([MEDIA.dockerList, MEDIA.ociIndex]);

export const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

export interface ManifestJson {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** `http://host:port/v2/<path>` for a repository named `host:port/path`. */
function apiBase(repository: string): string {
  const ref = parseImageRef(`${repository}:x`);
  return `http://${ref.registry}/v2/${ref.repository}`;
}

function timeout(signal?: AbortSignal): AbortSignal {
  const limit = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  return signal === undefined ? limit : AbortSignal.any([signal, limit]);
}

async function expectOk(response: Response, what: string): Promise<Response> {
  if (!response.ok) throw new Error(`${what}: registry answered ${response.status} ${await response.text()}`);
  return response;
}

async function getManifest(repository: string, reference: string): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
  const response = await expectOk(
    await fetch(`${apiBase(repository)}/manifests/${reference}`, { headers: { accept: ACCEPT }, signal: timeout() }),
    `manifest ${repository}:${reference}`,
  );
  const bytes = Buffer.from(await response.arrayBuffer());
  const digest = sha256(bytes);
  const served = response.headers.get('docker-content-digest');
  if (served !== null && served !== digest) throw new Error(`${repository}:${reference} served ${digest} as ${served}`);
  return { bytes, mediaType: response.headers.get('content-type')!, digest };
}

/** What the registry serves for `ref` (`host:port/path:tag` or `@digest`), resolved to `platform` through an index. */
export async function fetchRegistryImage(ref: string, platform: Platform = { os: 'linux', architecture: 'amd64' }): Promise<RegistryImage> {
  const parsed = parseImageRef(ref);
  const repository = `${parsed.registry}/${parsed.repository}`;
  let top = await getManifest(repository, parsed.digest ?? parsed.tag!);
  let index: typeof top | undefined;
  if (INDEX_TYPES.has(top.mediaType)) {
    index = top;
    const list = JSON.parse(top.bytes.toString('utf8')) as { manifests: Descriptor[] };
    const chosen = list.manifests.find((entry) => entry.platform?.os === platform.os && entry.platform.architecture === platform.architecture);
    if (chosen === undefined) throw new Error(`${ref} has no ${platform.os}/${platform.architecture} manifest`);
    top = await getManifest(repository, chosen.digest);
  }
  const manifest = JSON.parse(top.bytes.toString('utf8')) as ManifestJson;
  const strip = ({ digest, size, mediaType }: Descriptor) => ({ digest, size, mediaType });
  return {
    ref,
    repository,
    manifestDigest: top.digest,
    manifestMediaType: top.mediaType,
    manifestBytes: top.bytes,
    ...(index === undefined ? {} : { indexDigest: index.digest, indexBytes: index.bytes, indexMediaType: index.mediaType }),
    platform,
    config: strip(manifest.config),
    layers: manifest.layers.map(strip),
  };
}

/** Checks size and digest as the bytes pass; errors instead of ending when they do not match. */
class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;
  private readonly digest: string;
  private readonly size: number;
  private readonly verify: boolean;
  private readonly onBytes: (bytes: number) => void;

  constructor(digest: string, size: number, verify: boolean, onBytes: (bytes: number) => void) {
    super();
    this.digest = digest;
    this.size = size;
    this.verify = verify;
    this.onBytes = onBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    this.onBytes(chunk.length);
    if (!this.verify) return callback(null, chunk);
    this.hash.update(chunk);
    callback(this.seen > this.size ? new Error(`blob ${this.digest} is longer than ${this.size} bytes`) : null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (this.verify && (this.seen !== this.size || actual !== this.digest)) {
      callback(new Error(`blob ${this.digest}: got ${this.seen} bytes with digest ${actual}`));
    } else {
      callback();
    }
  }
}

export interface CountingBlobSource extends BlobSource {
  /** Bytes the source has handed on so far, all blobs together: how far it ran ahead of its consumer. */
  readonly delivered: number;
  /** Blob requests made so far, in order. */
  readonly requested: string[];
}

/**
 * Blobs straight from the registry. `verify: false` gives a source that passes whatever the registry sends, to test
 * what a consumer does about a blob whose length differs from its descriptor.
 */
export function registryBlobSource(options: { verify?: boolean } = {}): CountingBlobSource {
  let delivered = 0;
  const requested: string[] = [];
  return {
    get delivered() {
      return delivered;
    },
    requested,
    async blob(image, digest, size, signal) {
      requested.push(digest);
      const response = await expectOk(await fetch(`${apiBase(image.repository)}/blobs/${digest}`, { signal: timeout(signal) }), `blob ${digest}`);
      const body = Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
      const counted = new VerifyingStream(digest, size, options.verify !== false, (bytes) => (delivered += bytes));
      body.on('error', (error) => counted.destroy(error));
      counted.on('close', () => body.destroy());
      return body.pipe(counted);
    },
  };
}

/** The blob's bytes as the registry serves them. */
export async function getBlob(repository: string, digest: string): Promise<Buffer> {
  const response = await expectOk(await fetch(`${apiBase(repository)}/blobs/${digest}`, { signal: timeout() }), `blob ${digest}`);
  return Buffer.from(await response.arrayBuffer());
}

/** Uploads `bytes` as one blob (monolithic upload); returns its digest. */
export async function pushBlob(repository: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const started = await expectOk(await fetch(`${apiBase(repository)}/blobs/uploads/`, { method: 'POST', signal: timeout() }), 'blob upload');
  const location = new URL(started.headers.get('location')!, `${apiBase(repository)}/`);
  location.searchParams.set('digest', digest);
  await expectOk(
    await fetch(location, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' }, signal: timeout() }),
    `blob ${digest}`,
  );
  return digest;
}

/** Makes a blob of `from` available in `repository` too (cross-repository mount). */
export async function mountBlob(repository: string, digest: string, from: string): Promise<void> {
  const fromPath = parseImageRef(`${from}:x`).repository;
  const response = await fetch(`${apiBase(repository)}/blobs/uploads/?mount=${digest}&from=${fromPath}`, { method: 'POST', signal: timeout() });
  if (response.status !== 201) throw new Error(`mount of ${digest} from ${from} answered ${response.status}`);
}

/** Stores `bytes` as a manifest under `reference` (a tag or its digest); returns the digest the registry reports. */
export async function putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
  const response = await expectOk(
    await fetch(`${apiBase(repository)}/manifests/${reference}`, { method: 'PUT', body: bytes, headers: { 'content-type': mediaType }, signal: timeout() }),
    `manifest ${repository}:${reference}`,
  );
  return response.headers.get('docker-content-digest')!;
}

/**
 * `repository:tag` as a two-platform list: the linux/amd64 manifest given (already in `repository`, with its blobs),
 * and one for linux/arm64 with the same layers and a config saying arm64, which no amd64 bundle holds. Written
 * indented, as no client would re-serialise them: a digest kept downstream shows the bytes were kept. With `more`,
 * a manifest each for those architectures too, listed after arm64 (a list of more platforms than a bundle holds).
 */
export async function pushTwoPlatformList(
  repository: string,
  tag: string,
  amd64: { bytes: Buffer; digest: string; mediaType: string; configDigest: string },
  more: readonly string[] = [],
): Promise<void> {
  const config = JSON.parse((await getBlob(repository, amd64.configDigest)).toString('utf8')) as Record<string, unknown>;
  const manifest = JSON.parse(amd64.bytes.toString('utf8')) as ManifestJson;
  const others = [];
  for (const architecture of ['arm64', ...more]) {
    const otherConfig = Buffer.from(JSON.stringify({ ...config, architecture }));
    const otherConfigDigest = await pushBlob(repository, otherConfig);
    const otherManifest = Buffer.from(JSON.stringify({ ...manifest, config: { ...manifest.config, digest: otherConfigDigest, size: otherConfig.length } }, null, 3));
    await putManifest(repository, sha256(otherManifest), otherManifest, amd64.mediaType);
    others.push({ mediaType: amd64.mediaType, size: otherManifest.length, digest: sha256(otherManifest), platform: { architecture, os: 'linux' } });
  }
  const list = {
    schemaVersion: 2,
    mediaType: MEDIA.dockerList,
    manifests: [
      others[0]!,
      { mediaType: amd64.mediaType, size: amd64.bytes.length, digest: amd64.digest, platform: { architecture: 'amd64', os: 'linux' } },
      ...others.slice(1),
    ],
  };
  await putManifest(repository, tag, Buffer.from(JSON.stringify(list, null, 3)), MEDIA.dockerList);
}
