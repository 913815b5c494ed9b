// Sizes as people write them for disks: `4G` is 4,000,000,000 bytes (fits FAT32's 4 GiB - 1 limit), `4Gi` is 4 GiB.

import { KfbundleError } from './errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  ki: 2 ** 10,
  mi: 2 ** 20,
  gi: 2 ** 30,
  ti: 2 ** 40,
};

/** The smallest part worth writing; anything less is almost certainly a typo. */
export const MIN_PART_SIZE = 1024;

/**
 * `4G`, `700M`, `4.7G`, `512Mi`, `1048576` (a trailing `B` is allowed) → whole bytes.
 * @throws KfbundleError USAGE naming the value and the accepted forms.
 */
export function parseByteSize(text: string, option = '--split-size'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*$/i.exec(text);
  const unit = match?.[2]?.toLowerCase() ?? '';
  const bytes = match === null ? Number.NaN : Math.floor(Number(match[1]) * UNITS[unit]!);
  if (!Number.isSafeInteger(bytes) || bytes < MIN_PART_SIZE) {
    throw new KfbundleError('USAGE', `${option} "${text}" is not a size of at least ${MIN_PART_SIZE} bytes`, {
      hint: 'write it like 4G (4,000,000,000 bytes, for FAT32), 4.7G (a DVD), 700M, or 512Mi (binary units)',
    });
  }
  return bytes;
}
