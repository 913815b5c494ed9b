// Turns --manifests / --release / --spec into a manifest source and the spec that goes with it.

import type { ManifestSource } from '../app/ports.js';
import type { BundleSpec } from '../core/bundle-spec.js';
import { isKfbundleError, KfbundleError } from '../core/errors.js';
import { uncuratedSpec } from '../core/bundle-spec.js';
import { newestRelease } from '../core/releases.js';
import { listShippedReleases, readBundleSpec, readShippedSpec } from '../io/bundle-spec-file.js';
import { LocalManifestSource } from '../io/manifest-source.js';
import { DEFAULT_RELEASE_URL, ReleaseManifestSource } from '../io/release-source.js';

export interface ManifestInputOptions {
  manifests?: string | undefined;
  release?: string | undefined;
  releaseUrl?: string | undefined;
  spec?: string | undefined;
}

export interface ManifestInput {
  source: ManifestSource;
  /** What to pass to source.render. */
  input: string;
  /** The curated spec applied; undefined for `--manifests` without `--spec`, and for a release without one. */
  spec: BundleSpec | undefined;
  /** Said once to the user when a release has no curated spec and is built with the defaults. */
  notice?: string | undefined;
}

/** Where release archives come from when --release-url is not given: a team's own mirror of GitHub, or GitHub. */
export const RELEASE_URL_ENV = 'KFBUNDLE_RELEASE_URL';

/**
 * @param defaultToNewest with neither --manifests nor --release, use the newest supported release (build does).
 */
export async function resolveManifestInput(
  options: ManifestInputOptions,
  signal: AbortSignal,
  defaultToNewest: boolean,
  env: NodeJS.ProcessEnv = {},
): Promise<ManifestInput> {
  if (options.manifests !== undefined && options.release !== undefined) {
    throw new KfbundleError('USAGE', 'give either --manifests or --release, not both');
  }
  if (options.manifests !== undefined) {
    const spec = options.spec === undefined ? undefined : await readBundleSpec(options.spec);
    return { source: new LocalManifestSource({ signal }), input: options.manifests, spec };
  }
  let release = options.release;
  if (release === undefined) {
    if (!defaultToNewest) throw new KfbundleError('USAGE', 'give --manifests FILE|DIR or --release TAG');
    release = newestRelease(await listShippedReleases());
    if (release === undefined) throw new KfbundleError('USAGE', 'no bundle spec is shipped; give --manifests');
  }
  const urlTemplate = options.releaseUrl ?? env[RELEASE_URL_ENV] ?? DEFAULT_RELEASE_URL;
  const spec = options.spec === undefined ? await shippedSpecOrNone(release) : await readBundleSpec(options.spec);
  if (spec === undefined) {
    // A release nobody curated (older, newer, or a branch): its manifests and the component table, said once.
    const source = new ReleaseManifestSource({ spec: uncuratedSpec(release), urlTemplate, signal });
    const supported = (await listShippedReleases()).join(', ');
    const notice = `no curated bundle spec for release ${release} (curated: ${supported}): bundling tiers install and runtime: the images its manifests name, and those the component table knows its controllers pull by default; pass --spec FILE to add or replace images`;
    return { source, input: release, spec: undefined, notice };
  }
  const source = new ReleaseManifestSource({ spec, urlTemplate, signal });
  return { source, input: release, spec };
}

/** The shipped spec of the release, or undefined when none is shipped. */
async function shippedSpecOrNone(release: string): Promise<BundleSpec | undefined> {
  try {
    return await readShippedSpec(release);
  } catch (error) {
    if (isKfbundleError(error) && error.code === 'INPUT_NOT_FOUND') return undefined;
    throw error;
  }
}
