// Fetches a Kubeflow release's manifests archive, unpacks it safely, and renders the spec's kustomization.

import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, list, type ReadEntry } from 'tar';
import type { ManifestSource, RenderedManifests } from '../app/ports.js';
import type { BundleSpec } from '../core/bundle-spec.js';
import { KfbundleError } from '../core/errors.js';
import { LocalManifestSource } from './manifest-source.js';

/** GitHub's tag archive; `{repository}` and `{ref}` are filled from the bundle spec. */
export const DEFAULT_RELEASE_URL = 'https://github.com/{repository}/archive/refs/tags/{ref}.tar.gz';

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

/**
 * Unpacks `archive` into `dir` only if every entry stays inside it; checks all entries before writing any.
 * @throws KfbundleError BUNDLE_FORMAT naming the first unsafe entry.
 */
export async function extractArchiveSafely(archive: string, dir: string): Promise<void> {
  let unsafe: string | undefined;
  await list({
    file: archive,
    onReadEntry: (entry: ReadEntry) => {
      const reason = unsafeEntryReason(entry.path, entry.type, entry.linkpath);
      if (reason !== undefined) unsafe ??= `"${entry.path}": ${reason}`;
      entry.resume();
    },
  });
  if (unsafe !== undefined) throw new KfbundleError('RELEASE_INVALID', `refusing to unpack ${archive}: entry ${unsafe}`);
  // node-tar's own guards (no absolute paths, no `..`, no writing through links) stay on as a second line.
  await extract({ file: archive, cwd: dir, strict: true, preservePaths: false });
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
    const work = await mkdtemp(join(tmpdir(), 'kfbundle-release-'));
    try {
      const archive = join(work, 'release.tar.gz');
      await download(url, archive, this.options.fetch ?? globalThis.fetch, signal);
      const tree = join(work, 'tree');
      await mkdir(tree);
      await extractArchiveSafely(archive, tree);
      const top = await readdir(tree);
      const root = top.length === 1 ? join(tree, top[0]!) : tree;
      const rendered = await new LocalManifestSource({ signal }).render(join(root, spec.source.entry));
      return { ...rendered, kind: 'release', description: `${spec.source.repository} ${spec.source.ref}: kustomize build ${spec.source.entry}` };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}

async function download(url: string, path: string, fetchImpl: typeof globalThis.fetch, signal: AbortSignal | undefined): Promise<void> {
  let response: Response;
  try {
    response = await fetchImpl(url, { signal: signal ?? null, redirect: 'follow' });
  } catch (error) {
    throw new KfbundleError('RELEASE_INVALID', `cannot download ${url}: ${(error as Error).message}`, {
      hint: 'check the network, or point --release-url at a mirror of the release archives',
      cause: error,
    });
  }
  if (!response.ok || response.body === null) {
    throw new KfbundleError('RELEASE_INVALID', `download of ${url} failed: HTTP ${response.status}`, {
      hint: response.status === 404 ? 'check the release tag' : 'try again, or use --release-url with a mirror',
    });
  }
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), createWriteStream(path), { signal });
}
