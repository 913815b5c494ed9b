// `--platform` of build and images: the platform of the nodes a bundle is for.

import { KfbundleError } from '../core/errors.js';
import type { Platform } from '../core/registry-image.js';
import { parsePlatform, platformOfMachine } from '../core/registry-manifest.js';

/**
 * `--platform`: one `os/arch[/variant]`, by default this machine's. One bundle holds one platform; a mixed cluster
 * takes one bundle per platform for now.
 */
export function platformOption(text: string | undefined, machineArch: string): Platform {
  if (text === undefined) return platformOfMachine(machineArch);
  if (text.includes(',')) {
    throw new KfbundleError('USAGE', `--platform ${text}: a bundle holds the images of one platform`, { hint: 'build one bundle per platform, e.g. --platform linux/amd64 and --platform linux/arm64' });
  }
  try {
    return parsePlatform(text);
  } catch (error) {
    throw new KfbundleError('USAGE', (error as Error).message, { hint: 'e.g. --platform linux/arm64' });
  }
}
