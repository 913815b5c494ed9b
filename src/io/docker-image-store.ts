// The only module that talks to the Docker engine (through dockerode). Every failure leaves it classified
// (engine-errors.ts): the engine's own as DOCKER_*, a registry's refusal of a pull as PULL_FAILED with its FaultKind.

import Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Platform } from '../core/registry-image.js';
import { formatPlatform } from '../core/registry-manifest.js';
import { TarNormalizer } from './tar-normalizer.js';
import { mergeSaves } from './archive-merger.js';
import { engineGetStream, type EngineAddress } from './engine-raw-get.js';
import { ENGINE_LOST_HINT, ENGINE_UNREACHABLE_HINT, engineAnswerOf, engineConnectionFault, pullFailure } from './engine-errors.js';
import { KfbundleError, type ErrorCode } from '../core/errors.js';
import { imageName, parseImageRef } from '../core/image-ref.js';
import type { EngineImage, ImageArchiveStream, ImageStore, PullOptions, SaveArchivesOptions } from '../app/ports.js';
import { PullStatusSink } from './pull-progress-parser.js';

export interface DockerImageStoreOptions {
  /** `unix:///path/docker.sock`, `tcp://host:port`, or undefined for DOCKER_HOST / the default socket. */
  host?: string | undefined;
  /** The platform pulled from multi-platform images (`docker pull --platform`); the engine's own unless given. */
  platform?: Platform | undefined;
}

/**
 * The oldest engine API kfbundle works with: GET /distribution (API 1.30, Docker 17.06) is how a mirror's image is
 * checked against the origin's digest; an engine without it would let a mirror's image through unchecked.
 */
export const MIN_ENGINE_API = '1.30';

const HOST_HINT = 'write it as unix:///path/to/docker.sock or tcp://HOST:PORT (for an engine over ssh, forward its socket: ssh -NL $HOME/docker.sock:/var/run/docker.sock HOST, then unix://$HOME/docker.sock)';

function connectionOptions(host: string | undefined): Docker.DockerOptions | undefined {
  if (host === undefined || host === '') return undefined;
  const unsupported = () => new KfbundleError('USAGE', `not a Docker engine address kfbundle can use: "${host}" (--docker-host or DOCKER_HOST)`, { hint: HOST_HINT });
  if (host.startsWith('unix://')) {
    if (host.length === 'unix://'.length) throw unsupported();
    return { socketPath: host.slice('unix://'.length) };
  }
  if (!/^(tcp|http):\/\//.test(host)) throw unsupported();
  let url: URL;
  try {
    url = new URL(host.replace(/^tcp:/, 'http:'));
  } catch {
    throw unsupported();
  }
  if (url.hostname === '') throw unsupported();
  return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' };
}

/** Whether API version `version` (`1.41`) is at least `minimum`. */
export function apiVersionAtLeast(version: string, minimum: string): boolean {
  const parts = (text: string) => text.split('.').map(Number);
  const [have, need] = [parts(version), parts(minimum)];
  for (let i = 0; i < Math.max(have.length, need.length); i++) {
    const difference = (have[i] ?? 0) - (need[i] ?? 0);
    if (Number.isNaN(difference)) return false;
    if (difference !== 0) return difference > 0;
  }
  return true;
}

const SAVE_HINT = "check the engine's free space (docker system df) and its log, then build again";

/** `3 images (a, b, c)`, at most three named. */
function describeRefs(refs: readonly string[]): string {
  const named = refs.slice(0, 3).join(', ');
  const more = refs.length > 3 ? `, and ${refs.length - 3} more` : '';
  return `${refs.length} image${refs.length === 1 ? '' : 's'} (${named}${more})`;
}

interface MultiImageExport {
  getImages(options: { names: string[]; abortSignal?: AbortSignal | undefined }): Promise<Readable>;
}

function statusCodeOf(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

function messageOf(error: unknown): string {
  return engineAnswerOf(error)?.message ?? (error instanceof Error ? error.message : String(error)).trim();
}

export class DockerImageStore implements ImageStore {
  private readonly docker: Docker;
  private readonly platform: Platform | undefined;
  private readonly where: string;

  constructor(options: DockerImageStoreOptions = {}) {
    // dockerode reads DOCKER_HOST itself when given no options; the caller decides which environment applies.
    this.docker = new Docker(connectionOptions(options.host));
    this.platform = options.platform;
    this.where = options.host ?? this.describeDefault();
  }

  private describeDefault(): string {
    const address = this.plainAddress();
    if (address === undefined) return 'the default Docker engine';
    return 'socketPath' in address ? `unix://${address.socketPath}` : `tcp://${address.host}:${address.port}`;
  }

  /**
   * A failed request to the engine: the connection's fault when it is one (DOCKER_*), else `code` with the engine's
   * answer. Aborted requests are the user's interrupt and pass as they are.
   */
  private fault(error: unknown, doing: string, code: ErrorCode, signal?: AbortSignal, hint?: string): unknown {
    if (signal?.aborted) return error;
    return (
      engineConnectionFault(error, { engine: this.where, doing }) ??
      new KfbundleError(code, `the Docker engine at ${this.where} failed ${doing}: ${messageOf(error)}`, { cause: error, ...(hint === undefined ? {} : { hint }) })
    );
  }

  async ping(): Promise<void> {
    let version: { ApiVersion?: unknown; Version?: unknown };
    try {
      await this.docker.ping();
      version = (await this.docker.version()) as { ApiVersion?: unknown; Version?: unknown };
    } catch (error) {
      throw (
        engineConnectionFault(error, { engine: this.where, doing: '' }) ??
        new KfbundleError('DOCKER_UNREACHABLE', `cannot reach the Docker engine at ${this.where}: ${messageOf(error)}`, { hint: ENGINE_UNREACHABLE_HINT, cause: error })
      );
    }
    const api = typeof version.ApiVersion === 'string' ? version.ApiVersion : undefined;
    if (api === undefined || !apiVersionAtLeast(api, MIN_ENGINE_API)) {
      const engine = typeof version.Version === 'string' ? `Docker ${version.Version}, ` : '';
      throw new KfbundleError(
        'DOCKER_API_TOO_OLD',
        `the Docker engine at ${this.where} speaks API ${api ?? 'of unknown version'} (${engine}kfbundle needs ${MIN_ENGINE_API} or later)`,
        { hint: 'upgrade the engine to Docker 17.06 or later, or point --docker-host at a newer one' },
      );
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
        ...(this.platform === undefined ? {} : { platform: formatPlatform(this.platform) }),
        abortSignal: options.signal,
      })) as Readable;
      await pipeline(stream, sink, { signal: options.signal });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw engineConnectionFault(error, { engine: this.where, doing: `while pulling ${ref}` }) ?? pullFailure(ref, { status: statusCodeOf(error), message: messageOf(error) }, error);
    }
    // dockerd reports what the registry refused in-band, after a 200: classified here, once, like an HTTP answer.
    if (sink.error !== undefined) throw pullFailure(ref, { message: sink.error });
  }

  async inspect(ref: string): Promise<EngineImage | undefined> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      const { Os: os, Architecture: architecture, Variant: variant } = info as { Os?: string; Architecture?: string; Variant?: string };
      const platform = os === undefined || architecture === undefined ? undefined : formatPlatform({ os, architecture, ...(variant ? { variant } : {}) });
      return { id: info.Id, repoTags: info.RepoTags ?? [], repoDigests: info.RepoDigests ?? [], size: info.Size, ...(platform === undefined ? {} : { platform }) };
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw this.fault(error, `to inspect ${ref}`, 'PULL_FAILED');
    }
  }

  async usage(imageIds: readonly string[]): Promise<{ id: string; size: number; sharedSize: number }[]> {
    const wanted = new Set(imageIds);
    let df: { Images?: { Id: string; Size: number; SharedSize: number }[] };
    try {
      df = (await this.docker.df()) as typeof df;
    } catch (error) {
      throw this.fault(error, 'to report the sizes of its images (docker system df)', 'SAVE_FAILED');
    }
    return (df.Images ?? []).filter((image) => wanted.has(image.Id)).map((image) => ({ id: image.Id, size: image.Size, sharedSize: image.SharedSize }));
  }

  async remoteDigest(ref: string, auth?: PullOptions['auth']): Promise<string> {
    // GET /distribution/{name}/json: the engine asks the registry for the manifest's descriptor; no layer moves.
    let info: { Descriptor?: { digest?: string } };
    try {
      info = (await this.docker.getImage(ref).distribution({ authconfig: auth } as never)) as unknown as typeof info;
    } catch (error) {
      throw engineConnectionFault(error, { engine: this.where, doing: `while asking for the digest of ${ref}` }) ?? pullFailure(ref, { status: statusCodeOf(error), message: messageOf(error) }, error);
    }
    const digest = info.Descriptor?.digest;
    if (digest === undefined) throw new KfbundleError('PULL_FAILED', `the Docker engine at ${this.where} returned no digest for ${ref}`, { fault: 'transient' });
    return digest;
  }

  async tag(source: string, target: string): Promise<void> {
    const parsed = parseImageRef(target);
    if (parsed.tag === undefined || parsed.digest !== undefined) throw new Error(`cannot tag as "${target}": a tag is required`);
    try {
      await this.docker.getImage(source).tag({ repo: imageName(parsed), tag: parsed.tag });
    } catch (error) {
      throw this.fault(error, `to tag ${source} as ${target}`, 'PULL_FAILED');
    }
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
    const what = describeRefs(refs);
    let archive: Readable;
    try {
      const address = this.plainAddress();
      const query = refs.map((ref) => `names=${encodeURIComponent(ref)}`).join('&');
      // NOTE: @types/dockerode omits getImages (GET /images/get?names=…), which dockerode itself provides; it is the
      // way in over TLS. Otherwise the archive is read straight off the socket, about 1.5x faster (engine-raw-get.ts).
      archive =
        address === undefined
          ? await (this.docker as unknown as MultiImageExport).getImages({ names: [...refs], abortSignal: signal })
          : await engineGetStream(address, `/images/get?${query}`, signal);
    } catch (error) {
      throw this.fault(error, `to save ${what}`, 'SAVE_FAILED', signal, SAVE_HINT);
    }
    // Entry times differ between engines and versions; normalised, the same images give the same bytes. A save that
    // ends early (the engine stopped, restarted, or failed the save after its answer began) is no shorter archive.
    const normalizer = new TarNormalizer({
      incomplete: (detail, bytes) =>
        new KfbundleError('DOCKER_CONNECTION_LOST', `the Docker engine at ${this.where} broke off the save of ${what} after ${bytes} bytes: the archive ${detail}`, {
          hint: `${ENGINE_LOST_HINT}; if the engine kept running, its log says why the save failed`,
        }),
    });
    archive.on('error', (error: Error) => normalizer.destroy(this.fault(error, `while sending the save of ${what}`, 'SAVE_FAILED', signal, SAVE_HINT) as Error));
    // A reader that gives up (an error elsewhere, an interrupt) must not leave the engine's connection open.
    normalizer.on('close', () => archive.destroy());
    return archive.pipe(normalizer);
  }

  /**
   * One archive of every reference, from one save per batch, each started when `batches` yields it (so a save can
   * wait for its pulls); entries an earlier save gave are not repeated, the image lists are merged, and entry times
   * and owners are normalised, so the same images always give the same bytes.
   */
  saveBatches(batches: AsyncIterable<readonly string[]>, signal?: AbortSignal): Readable {
    return mergeSaves(batches, (refs) => this.save(refs, signal));
  }

  /** One archive: the engine's layers are uncompressed, and `docker load` of them is bound by the disk, not a core. */
  async saveArchives(batches: AsyncIterable<readonly string[]>, options: SaveArchivesOptions): Promise<ImageArchiveStream[]> {
    return [{ stage: 1, refs: undefined, stream: this.saveBatches(batches, options.signal) }];
  }
}
