// `kfbundle verify`: every file listed in SHA256SUMS has its recorded digest, and nothing is missing or added.

import { BUNDLE_FILES } from '../core/bundle-layout.js';
import { parseChecksums } from '../core/checksums.js';
import { KfbundleError } from '../core/errors.js';
import type { BundleReader } from './ports.js';

export type VerifyProblemKind = 'changed' | 'missing' | 'extra';

export interface VerifyProblem {
  path: string;
  problem: VerifyProblemKind;
}

export interface VerifyResult {
  ok: boolean;
  files: number;
  bytes: number;
  problems: VerifyProblem[];
}

export type VerifyEvent = { type: 'verify-file'; path: string; index: number; count: number };

export interface VerifyDeps {
  reader: BundleReader;
  report?: (event: VerifyEvent) => void;
  signal?: AbortSignal;
}

/**
 * Checks every file; collects all problems rather than stopping at the first, so one run names everything wrong.
 * @throws KfbundleError BUNDLE_FORMAT when SHA256SUMS is absent or malformed (nothing can be checked then).
 */
export async function verifyBundle(deps: VerifyDeps): Promise<VerifyResult> {
  const text = await deps.reader.readText(BUNDLE_FILES.checksums);
  if (text === undefined) {
    throw new KfbundleError('BUNDLE_FORMAT', `${BUNDLE_FILES.checksums} is missing: not a kfbundle bundle, or an incomplete copy`, {
      hint: 'copy the whole bundle directory again',
    });
  }
  const entries = parseChecksums(text);
  const problems: VerifyProblem[] = [];
  let bytes = 0;
  for (const [index, entry] of entries.entries()) {
    deps.report?.({ type: 'verify-file', path: entry.path, index, count: entries.length });
    const actual = await deps.reader.hashFile(entry.path, deps.signal);
    if (actual === undefined) {
      problems.push({ path: entry.path, problem: 'missing' });
      continue;
    }
    bytes += actual.size;
    if (actual.sha256 !== entry.sha256) problems.push({ path: entry.path, problem: 'changed' });
  }
  const listed = new Set(entries.map((entry) => entry.path));
  for (const path of await deps.reader.listFiles()) {
    if (path !== BUNDLE_FILES.checksums && !listed.has(path)) problems.push({ path, problem: 'extra' });
  }
  problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { ok: problems.length === 0, files: entries.length, bytes, problems };
}
