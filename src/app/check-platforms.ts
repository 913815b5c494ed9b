// `kfbundle images --platform`: whether every image a bundle would hold offers the nodes' platform, asked of the
// registries before anything is downloaded (a manifest, and for a single-platform image its small config). Answers
// the question an arm64 team has before a 10 GB build: which images have no arm64 variant at all.

import pLimit from 'p-limit';
import { isRegistryError } from '../core/registry-error.js';
import { formatImageRef, type ImageRef } from '../core/image-ref.js';
import { mirrorCandidates, type Mirror } from '../core/mirrors.js';
import type { Platform } from '../core/registry-image.js';
import { formatPlatform, samePlatform } from '../core/registry-manifest.js';

export type PlatformStatus = 'offered' | 'other-platform' | 'not-offered' | 'unknown';

export interface PlatformCheck {
  ref: string;
  status: PlatformStatus;
  /** What the registry gave: the platform's manifest (`offered`), or the only platform a single-platform image has. */
  platform?: string;
  /** Why `not-offered` or `unknown`: the registry's answer, naming the platforms the image offers. */
  message?: string;
}

export interface CheckPlatformsDeps {
  /** The image's manifest for the platform on one registry (the registry client's resolve). */
  resolve(ref: ImageRef, platform: Platform): Promise<{ platform: Platform }>;
}

async function checkOne(ref: ImageRef, platform: Platform, mirrors: readonly Mirror[], deps: CheckPlatformsDeps): Promise<PlatformCheck> {
  const name = formatImageRef(ref);
  let last: PlatformCheck = { ref: name, status: 'unknown', message: 'no source answered' };
  // Like a pull: each mirror in turn, then the origin; the first that has the image answers.
  for (const candidate of mirrorCandidates(ref, mirrors)) {
    try {
      const image = await deps.resolve(candidate, platform);
      const got = formatPlatform(image.platform);
      return samePlatform(image.platform, platform) ? { ref: name, status: 'offered', platform: got } : { ref: name, status: 'other-platform', platform: got };
    } catch (error) {
      const message = (error as Error).message;
      // An index without the platform is the answer; a missing image on a mirror is not, the origin may have it.
      if (isRegistryError(error) && error.kind === 'not-found' && /has no .* image \(it offers/.test(message)) return { ref: name, status: 'not-offered', message };
      last = { ref: name, status: 'unknown', message };
    }
  }
  return last;
}

/** Every image's answer, in the order given, `concurrency` registries asked at once. */
export async function checkPlatforms(
  refs: readonly ImageRef[],
  platform: Platform,
  options: { mirrors: readonly Mirror[]; concurrency: number },
  deps: CheckPlatformsDeps,
): Promise<PlatformCheck[]> {
  const limit = pLimit(options.concurrency);
  return Promise.all(refs.map((ref) => limit(() => checkOne(ref, platform, options.mirrors, deps))));
}
