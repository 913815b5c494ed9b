// `--platform` of build and images: the platform of the nodes a bundle is for.

import { KfbundleError } from '../core/errors.js';
import type { Platform } from '../core/registry-image.js';
import { formatPlatform, parsePlatform, platformOfMachine, samePlatform } from '../core/registry-manifest.js';

function parseOne(text: string): Platform {
  try {
    return parsePlatform(text);
  } catch (error) {
    throw new KfbundleError('USAGE', (error as Error).message, { hint: 'e.g. --platform linux/arm64' });
  }
}

/**
 * `--platform` of `build` and `images`: one platform or a comma-separated list of them (a bundle for a mixed
 * cluster), by default this machine's. A node loads the images of its own architecture, so two platforms of one
 * architecture (arm/v6 and arm/v7) could not be told apart there and are refused.
 */
export function platformsOption(text: string | undefined, machineArch: string): Platform[] {
  if (text === undefined) return [platformOfMachine(machineArch)];
  const platforms = text.split(',').map((part) => parseOne(part));
  for (const [index, platform] of platforms.entries()) {
    const before = platforms.slice(0, index);
    if (before.some((other) => samePlatform(other, platform))) throw new KfbundleError('USAGE', `--platform ${text} names ${formatPlatform(platform)} twice`, { hint: 'name each platform once' });
    const sameArch = before.find((other) => other.os === platform.os && other.architecture === platform.architecture);
    if (sameArch !== undefined) {
      throw new KfbundleError('USAGE', `--platform ${text}: ${formatPlatform(sameArch)} and ${formatPlatform(platform)} are one architecture, which a node cannot tell apart when it picks its images`, {
        hint: 'build a bundle for each of them',
      });
    }
  }
  return platforms;
}
