// SHA256SUMS in the format `sha256sum -c` reads, and the strict checks the verifier applies to it.

import { KfbundleError } from './errors.js';

export interface ChecksumEntry {
  path: string;
  sha256: string;
}

const LINE = /^([a-f0-9]{64}) [ *](.+)$/;

/** Refuses paths that could name a file outside the bundle, or that `sha256sum` would read differently. */
export function checkBundlePath(path: string): string | undefined {
  if (path === '') return 'empty path';
  if (path.startsWith('/')) return 'absolute path';
  if (path.includes('\\')) return 'backslash in path';
  if (path.split('/').some((part) => part === '..' || part === '.' || part === '')) return 'path escapes or is not canonical';
  return undefined;
}

/** One line per file, sorted by path, so two builds of the same content write the same bytes. */
export function formatChecksums(entries: readonly ChecksumEntry[]): string {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return sorted.map((entry) => `${entry.sha256}  ${entry.path}\n`).join('');
}

/**
 * @throws KfbundleError BUNDLE_FORMAT naming the line that is malformed, unsafe or repeated.
 */
export function parseChecksums(text: string): ChecksumEntry[] {
  const entries: ChecksumEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, index) => {
    const match = LINE.exec(line);
    if (match === null) {
      throw new KfbundleError('BUNDLE_FORMAT', `SHA256SUMS line ${index + 1} is malformed: "${line.slice(0, 120)}"`);
    }
    const path = match[2]!;
    const unsafe = checkBundlePath(path);
    if (unsafe !== undefined) {
      throw new KfbundleError('BUNDLE_FORMAT', `SHA256SUMS line ${index + 1} names "${path}": ${unsafe}`);
    }
    if (seen.has(path)) throw new KfbundleError('BUNDLE_FORMAT', `SHA256SUMS line ${index + 1} repeats "${path}"`);
    seen.add(path);
    entries.push({ path, sha256: match[1]! });
  });
  return entries;
}
