// Fetches a Kubeflow release's manifests archive, unpacks it safely, and renders the spec's kustomization.

import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, list, type ReadEntry } from 'tar';
import type { ManifestSource, RenderedManifests } from '../app/ports.js';
import type { BundleSpec } from '../core/bundle-spec.js';
import { KfbundleError } from '../core/errors.js';
import { LocalManifestSource } from './manifest-source.js';
import { errnoOf, fileFault } from './system-errors.js';

/** GitHub's archive of a tag or branch (GitHub resolves `archive/REF` for either); `{repository}` and `{ref}` are filled from the bundle spec. */
export const DEFAULT_RELEASE_URL = 'https://github.com/{repository}/archive/{ref}.tar.gz';

export function releaseUrl(template: string, spec: BundleSpec): string {
  return template.replaceAll('{repository}', spec.source.repository).replaceAll('{ref}', encodeURIComponent(spec.source.ref));
}

/** Why an archive entry may not be unpacked, or undefined when it is safe. */
export function unsafeEntryReason(path: string, type: string, linkpath: string | undefined): string | undefined {
  const normalised = posix.normalize(path.replace(/\\/g, '/'));
  if (path.startsWith('/') || /^[a-zA-Z]:/.test(path)) return 'absolute path';
  if (normalised === '..' || normalised.startsWith('../')) return 'path leaves the archive';
  if (type === 'SymbolicLink' || type === 'Link') {
    if (linkpath === undefined || linkpath.startsWith('/')) return 'link to an absolute path';
    const target = type === 'Link' ? posix.normalize(linkpath) : posix.normalize(posix.join(posix.dirname(normalised), linkpath));
    if (target === '..' || target.startsWith('../')) return 'link that points outside the archive';
  }
  if (!['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link', 'GlobalExtendedHeader', 'ExtendedHeader', 'NextFileHasLongPath', 'NextFileHasLongLinkpath'].includes(type)) {
    return `entry type ${type}`;
  }
  return undefined;
}

/** Whether node-tar or zlib refused the bytes: a body that is not a whole .tar.gz, rather than a file that failed. */
function isArchiveFormatError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(TAR_|Z_|ERR_ZLIB)/.test(code);
}

/**
 * Unpacks `archive` into `dir` only if every entry stays inside it; checks all entries before writing any.
 * @param name how messages name the archive (the URL it came from)
 * @throws KfbundleError RELEASE_INVALID naming the first unsafe entry, or when the file is not a whole .tar.gz.
 */
export async function extractArchiveSafely(archive: string, dir: string, name = archive): Promise<void> {
  let unsafe: string | undefined;
  const refuse = (error: unknown, path: string, action: 'read' | 'write'): unknown =>
    isArchiveFormatError(error)
      ? new KfbundleError('RELEASE_INVALID', `${name} is not a whole .tar.gz archive: ${(error as Error).message}`, {
          hint: 'the download was cut short or is not the release archive (an error page?): try again, or check --release-url',
          cause: error,
        })
      : fileFault(error, { what: action === 'read' ? 'the downloaded release archive' : 'the unpacked release', path, action });
  try {
    // Strict: without it node-tar takes a body that is no archive at all for an empty one, with a warning.
    await list({
      file: archive,
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const reason = unsafeEntryReason(entry.path, entry.type, entry.linkpath);
        if (reason !== undefined) unsafe ??= `"${entry.path}": ${reason}`;
        entry.resume();
      },
    });
  } catch (error) {
    throw refuse(error, archive, 'read');
  }
  if (unsafe !== undefined) throw new KfbundleError('RELEASE_INVALID', `refusing to unpack ${name}: entry ${unsafe}`);
  // node-tar's own guards (no absolute paths, no `..`, no writing through links) stay on as a second line.
  try {
    await extract({ file: archive, cwd: dir, strict: true, preservePaths: false });
  } catch (error) {
    throw refuse(error, dir, 'write');
  }
}

export interface ReleaseManifestSourceOptions {
  spec: BundleSpec;
  /** URL template with {repository} and {ref}; overridable for mirrors and tests. */
  urlTemplate: string;
  signal?: AbortSignal | undefined;
  fetch?: typeof globalThis.fetch;
}

/** Renders a release from its archive; `render` takes the tag only to name it in messages. */
export class ReleaseManifestSource implements ManifestSource {
  private readonly options: ReleaseManifestSourceOptions;

  constructor(options: ReleaseManifestSourceOptions) {
    this.options = options;
  }

  async render(): Promise<RenderedManifests> {
    const { spec, signal } = this.options;
    const url = releaseUrl(this.options.urlTemplate, spec);
    let work: string;
    try {
      work = await mkdtemp(join(tmpdir(), 'kfbundle-release-'));
    } catch (error) {
      throw fileFault(error, { what: 'in the temporary directory (TMPDIR)', path: tmpdir(), action: 'write' });
    }
    try {
      const archive = join(work, 'release.tar.gz');
      await download(url, archive, this.options.fetch ?? globalThis.fetch, signal);
      const tree = join(work, 'tree');
      await mkdir(tree);
      await extractArchiveSafely(archive, tree, url);
      const top = await readdir(tree);
      const root = top.length === 1 ? join(tree, top[0]!) : tree;
      const entry = join(root, spec.source.entry);
      if (!(await stat(entry).then((info) => info.isDirectory() || info.isFile(), () => false))) {
        throw new KfbundleError('RELEASE_INVALID', `the archive ${url} has no "${spec.source.entry}" to render (source.entry of the bundle spec)`, {
          hint: 'check --release-url and the spec: the archive should be the release of kubeflow/manifests it names',
        });
      }
      const rendered = await new LocalManifestSource({ signal }).render(entry);
      return { ...rendered, kind: 'release', description: `${spec.source.repository} ${spec.source.ref}: kustomize build ${spec.source.entry}` };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}

/** `fetch failed: connect ECONNREFUSED 127.0.0.1:9`: undici's own words say little without their cause. */
function describeFetchError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause instanceof Error && cause.message !== message ? `${message}: ${cause.message}` : message;
}

const MIRROR_HINT = 'try again, or point --release-url (or KFBUNDLE_RELEASE_URL) at a mirror of the release archives';

async function download(url: string, path: string, fetchImpl: typeof globalThis.fetch, signal: AbortSignal | undefined): Promise<void> {
  let response: Response;
  try {
    response = await fetchImpl(url, { signal: signal ?? null, redirect: 'follow' });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new KfbundleError('RELEASE_DOWNLOAD_FAILED', `cannot download ${url}: ${describeFetchError(error)}`, {
      hint: `check the network; ${MIRROR_HINT}`,
      cause: error,
    });
  }
  if (!response.ok || response.body === null) {
    throw new KfbundleError('RELEASE_DOWNLOAD_FAILED', `download of ${url} failed: HTTP ${response.status}`, {
      hint: response.status === 404 ? 'check the release tag, and that --release-url names an archive that exists' : MIRROR_HINT,
    });
  }
  const file = createWriteStream(path);
  try {
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), file, { signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    // undici wraps what the network did (TypeError "terminated", the socket's error as its cause); an error with a
    // system code of its own is the file's.
    if (errnoOf(error) !== undefined) throw fileFault(error, { what: 'the downloaded release archive', path, action: 'write' });
    throw new KfbundleError('RELEASE_DOWNLOAD_FAILED', `download of ${url} broke off after ${file.bytesWritten} bytes: ${describeFetchError(error)}`, {
      hint: MIRROR_HINT,
      cause: error,
    });
  }
}
