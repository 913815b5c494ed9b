// The only module that talks to the Docker engine (through dockerode).

import Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TarNormalizer } from './tar-normalizer.js';
import { mergeSaves } from './archive-merger.js';
import { engineGetStream, type EngineAddress } from './engine-raw-get.js';
import { KfbundleError } from '../core/errors.js';
import { imageName, parseImageRef } from '../core/image-ref.js';
import type { EngineImage, ImageStore, PullOptions } from '../app/ports.js';
import { PullStatusSink } from './pull-progress-parser.js';

export interface DockerImageStoreOptions {
  /** `unix:///path/docker.sock`, `tcp://host:port`, or undefined for DOCKER_HOST / the default socket. */
  host?: string | undefined;
}

function connectionOptions(host: string | undefined): Docker.DockerOptions | undefined {
  if (host === undefined || host === '') return undefined;
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' };
}

interface MultiImageExport {
  getImages(options: { names: string[]; abortSignal?: AbortSignal | undefined }): Promise<Readable>;
}

function statusCodeOf(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export class DockerImageStore implements ImageStore {
  private readonly docker: Docker;
  private readonly where: string;

  constructor(options: DockerImageStoreOptions = {}) {
    // dockerode reads DOCKER_HOST itself when given no options; the caller decides which environment applies.
    this.docker = new Docker(connectionOptions(options.host));
    this.where = options.host ?? 'the default Docker socket';
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (error) {
      throw new KfbundleError('DOCKER_UNREACHABLE', `cannot reach the Docker engine at ${this.where}: ${(error as Error).message}`, {
        hint: 'start Docker, or point --docker-host / DOCKER_HOST at a running engine',
        cause: error,
      });
    }
  }

  async pull(ref: string, options: PullOptions = {}): Promise<void> {
    const parsed = parseImageRef(ref);
    const layers = new Map<string, readonly [number, number]>();
    const sink = new PullStatusSink((line) => {
      if (line.id !== undefined && line.progressDetail?.total !== undefined) {
        layers.set(line.id, [line.progressDetail.current ?? 0, line.progressDetail.total]);
      }
      options.onProgress?.({ ref, layers, status: line.status ?? '' });
    });
    try {
      const stream = (await this.docker.createImage(options.auth as Docker.AuthConfig, {
        fromImage: imageName(parsed),
        tag: parsed.digest ?? parsed.tag,
        abortSignal: options.signal,
      })) as Readable;
      await pipeline(stream, sink, { signal: options.signal });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new KfbundleError('PULL_FAILED', `pull of ${ref} failed: ${(error as Error).message.trim()}`, {
        cause: error,
        hint: statusCodeOf(error) === 404 ? 'check the image name and tag, or add a --mirror that has it' : undefined,
      });
    }
    if (sink.error !== undefined) {
      throw new KfbundleError('PULL_FAILED', `pull of ${ref} failed: ${sink.error}`);
    }
  }

  async inspect(ref: string): Promise<EngineImage | undefined> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      return { id: info.Id, repoTags: info.RepoTags ?? [], repoDigests: info.RepoDigests ?? [], size: info.Size };
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw error;
    }
  }

  async usage(imageIds: readonly string[]): Promise<{ id: string; size: number; sharedSize: number }[]> {
    const wanted = new Set(imageIds);
    const df = (await this.docker.df()) as { Images?: { Id: string; Size: number; SharedSize: number }[] };
    return (df.Images ?? []).filter((image) => wanted.has(image.Id)).map((image) => ({ id: image.Id, size: image.Size, sharedSize: image.SharedSize }));
  }

  async remoteDigest(ref: string, auth?: PullOptions['auth']): Promise<string> {
    // GET /distribution/{name}/json: the engine asks the registry for the manifest's descriptor; no layer moves.
    const info = (await this.docker.getImage(ref).distribution({ authconfig: auth } as never)) as unknown as { Descriptor?: { digest?: string } };
    const digest = info.Descriptor?.digest;
    if (digest === undefined) throw new Error(`the engine returned no digest for ${ref}`);
    return digest;
  }

  async tag(source: string, target: string): Promise<void> {
    const parsed = parseImageRef(target);
    if (parsed.tag === undefined || parsed.digest !== undefined) throw new Error(`cannot tag as "${target}": a tag is required`);
    await this.docker.getImage(source).tag({ repo: imageName(parsed), tag: parsed.tag });
  }

  /** The engine's address as dockerode resolved it, when it speaks plain HTTP (a unix socket, or tcp without TLS). */
  private plainAddress(): EngineAddress | undefined {
    const modem = (this.docker as unknown as { modem: { socketPath?: string; host?: string; port?: number | string; protocol?: string } }).modem;
    if (typeof modem.socketPath === 'string' && modem.socketPath !== '') return { socketPath: modem.socketPath };
    if (modem.protocol === 'http' && modem.host !== undefined) return { host: modem.host, port: Number(modem.port ?? 2375) };
    return undefined;
  }

  /** One `docker save` of `refs`, normalised (entry times, owners, sorted image lists); saveBatches joins several. */
  async save(refs: readonly string[], signal?: AbortSignal): Promise<Readable> {
    try {
      const address = this.plainAddress();
      const query = refs.map((ref) => `names=${encodeURIComponent(ref)}`).join('&');
      // NOTE: @types/dockerode omits getImages (GET /images/get?names=…), which dockerode itself provides; it is the
      // way in over TLS. Otherwise the archive is read straight off the socket, about 1.5x faster (engine-raw-get.ts).
      const archive =
        address === undefined
          ? await (this.docker as unknown as MultiImageExport).getImages({ names: [...refs], abortSignal: signal })
          : await engineGetStream(address, `/images/get?${query}`, signal);
      // Entry times differ between engines and versions; normalised, the same images give the same bytes.
      const normalizer = new TarNormalizer();
      archive.on('error', (error: Error) => normalizer.destroy(error));
      return archive.pipe(normalizer);
    } catch (error) {
      throw new KfbundleError('SAVE_FAILED', `docker save of ${refs.length} images failed: ${(error as Error).message}`, { cause: error });
    }
  }

  saveBatches(batches: AsyncIterable<readonly string[]>, signal?: AbortSignal): Readable {
    return mergeSaves(batches, (refs) => this.save(refs, signal));
  }
}
