// `kfbundle verify`: every file listed in SHA256SUMS has its recorded digest, and nothing is missing or added.

import { BUNDLE_FILES, contentDigestInput, unreadableFormat } from '../core/bundle-layout.js';
import { createHash } from 'node:crypto';
import { parseChecksums } from '../core/checksums.js';
import { KfbundleError } from '../core/errors.js';
import type { BundleReader } from './ports.js';

/** `inconsistent`: bundle.json's contentDigest does not describe this SHA256SUMS. */
export type VerifyProblemKind = 'changed' | 'missing' | 'extra' | 'inconsistent';

export interface VerifyProblem {
  path: string;
  problem: VerifyProblemKind;
}

export interface VerifyResult {
  ok: boolean;
  /** `verified` with --key; `unsigned` or `not-checked` (signed, but no key given) otherwise. */
  signature: 'verified' | 'unsigned' | 'not-checked';
  files: number;
  bytes: number;
  problems: VerifyProblem[];
}

export interface VerifyDeps {
  reader: BundleReader;
  /** Checks SHA256SUMS.sig with this Ed25519 public key before anything else. */
  publicKey?: { pem: string; name: string; verify: (data: Buffer, signature: Buffer, pem: string, name: string) => boolean } | undefined;
  signal?: AbortSignal;
}

/**
 * Checks every file; collects all problems rather than stopping at the first, so one run names everything wrong.
 * @throws KfbundleError BUNDLE_FORMAT when SHA256SUMS is absent or malformed (nothing can be checked then), or the
 *   bundle is of a newer format than this kfbundle reads (its files may have other names or meanings).
 */
export async function verifyBundle(deps: VerifyDeps): Promise<VerifyResult> {
  const metadataRead = await deps.reader.readText(BUNDLE_FILES.metadata);
  const newer = metadataRead === undefined ? undefined : newerFormat(metadataRead);
  if (newer !== undefined) {
    throw new KfbundleError('BUNDLE_FORMAT', newer, { hint: 'verify it with the kfbundle version named above, or a newer one' });
  }
  const text = await deps.reader.readText(BUNDLE_FILES.checksums);
  if (text === undefined) {
    throw new KfbundleError('BUNDLE_FORMAT', `${BUNDLE_FILES.checksums} is missing: not a kfbundle bundle, or an incomplete copy`, {
      hint: 'copy the whole bundle directory again',
    });
  }
  const signatureBytes = await deps.reader.readBytes(BUNDLE_FILES.signature);
  let signature: VerifyResult['signature'] = signatureBytes === undefined ? 'unsigned' : 'not-checked';
  if (deps.publicKey !== undefined) {
    if (signatureBytes === undefined) {
      throw new KfbundleError('SIGNATURE_INVALID', `the bundle is not signed (no ${BUNDLE_FILES.signature}) but ${deps.publicKey.name} was given`, {
        hint: 'refuse it, or sign it where it was built: kfbundle sign BUNDLE --key PRIVATE_KEY',
      });
    }
    const checksumBytes = (await deps.reader.readBytes(BUNDLE_FILES.checksums))!;
    if (!deps.publicKey.verify(checksumBytes, signatureBytes, deps.publicKey.pem, deps.publicKey.name)) {
      throw new KfbundleError('SIGNATURE_INVALID', `${BUNDLE_FILES.signature} does not verify with ${deps.publicKey.name}: signed by another key, or ${BUNDLE_FILES.checksums} was changed`, {
        hint: 'do not install it; get the bundle again from its builders',
      });
    }
    signature = 'verified';
  }
  const entries = parseChecksums(text);
  const problems: VerifyProblem[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const actual = await deps.reader.hashFile(entry.path, deps.signal);
    if (actual === undefined) {
      problems.push({ path: entry.path, problem: 'missing' });
      continue;
    }
    bytes += actual.size;
    if (actual.sha256 !== entry.sha256) problems.push({ path: entry.path, problem: 'changed' });
  }
  const metadataText = entries.some((e) => e.path === BUNDLE_FILES.metadata) ? metadataRead : undefined;
  if (metadataText !== undefined) {
    const recorded = recordedContentDigest(metadataText);
    const actual = createHash('sha256').update(contentDigestInput(text)).digest('hex');
    if (recorded !== actual) problems.push({ path: BUNDLE_FILES.metadata, problem: 'inconsistent' });
  }
  const listed = new Set(entries.map((entry) => entry.path));
  for (const path of await deps.reader.listFiles()) {
    if (path !== BUNDLE_FILES.checksums && path !== BUNDLE_FILES.signature && !listed.has(path)) problems.push({ path, problem: 'extra' });
  }
  problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { ok: problems.length === 0, signature, files: entries.length, bytes, problems };
}

function recordedContentDigest(metadataText: string): string | undefined {
  try {
    const value = (JSON.parse(metadataText) as { contentDigest?: unknown }).contentDigest;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why a bundle.json is of a format too new for this verifier, or undefined. A bundle.json that does not parse, or
 * lacks a version, is left to the checksums: it is damaged, not newer.
 */
function newerFormat(metadataText: string): string | undefined {
  let value: { formatVersion?: unknown; tool?: { version?: unknown } };
  try {
    value = JSON.parse(metadataText) as typeof value;
  } catch {
    return undefined;
  }
  if (typeof value.formatVersion !== 'number') return undefined;
  return unreadableFormat(value.formatVersion, value.tool?.version);
}
