// `docker save` lists images in manifest.json (and, in OCI layouts, index.json) in the order of a Go map: different
// from one save to the next. Sorting those lists is the only reordering a byte-stable archive needs, since the engine
// writes the files themselves in lexical order.

import { byteOrder } from './byte-order.js';

/** Top-level entries whose JSON holds a list of images; small, so they can be held and rewritten. */
export const ORDERED_ENTRIES = new Set(['manifest.json', 'index.json']);

function keyOf(entry: unknown): string {
  if (typeof entry !== 'object' || entry === null) return JSON.stringify(entry);
  const record = entry as Record<string, unknown>;
  const tags = Array.isArray(record['RepoTags']) ? (record['RepoTags'] as unknown[]).join(',') : '';
  const annotations = record['annotations'] as Record<string, unknown> | undefined;
  return [tags, record['Config'], annotations?.['io.containerd.image.name'], annotations?.['org.opencontainers.image.ref.name'], record['digest']].map(String).join('|');
}

/**
 * The entry's data with its image list sorted, serialised compactly like Go's encoder; undefined to leave it as it is
 * (not one of ours, or not the JSON we expect).
 */
export function canonicalEntry(name: string, data: Uint8Array): Buffer | undefined {
  if (!ORDERED_ENTRIES.has(name)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return undefined;
  }
  if (name === 'manifest.json' && Array.isArray(parsed)) {
    parsed = [...parsed].sort((a, b) => byteOrder(keyOf(a), keyOf(b)));
  } else if (name === 'index.json' && typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as Record<string, unknown>)['manifests'])) {
    const index = parsed as Record<string, unknown[]>;
    parsed = { ...index, manifests: [...index['manifests']!].sort((a, b) => byteOrder(keyOf(a), keyOf(b))) };
  } else {
    return undefined;
  }
  const text = JSON.stringify(parsed);
  // Keep a trailing newline if the engine wrote one.
  return Buffer.from(Buffer.from(data).at(-1) === 0x0a ? `${text}\n` : text, 'utf8');
}

/**
 * Entries that list images, which each of several `docker save` archives holds for its own images; an archive merged
 * from several saves holds one of each, listing them all.
 */
export const MERGED_ENTRIES = new Set(['manifest.json', 'index.json', 'repositories']);

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value) || typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort(byteOrder)
      .map((key) => [key, sortedKeys((value as Record<string, unknown>)[key])]),
  );
}

/**
 * One entry listing the images of all `parts` (the same entry from each archive, in archive order), canonical as
 * `canonicalEntry` makes it; undefined when a part is not the JSON an engine writes, so the caller can refuse.
 */
export function mergeEntries(name: string, parts: readonly Uint8Array[]): Buffer | undefined {
  if (parts.length === 0 || !MERGED_ENTRIES.has(name)) return undefined;
  let parsed: unknown[];
  try {
    parsed = parts.map((part) => JSON.parse(Buffer.from(part).toString('utf8')) as unknown);
  } catch {
    return undefined;
  }
  const newline = Buffer.from(parts[0]!).at(-1) === 0x0a ? '\n' : '';
  let merged: unknown;
  if (name === 'manifest.json') {
    if (!parsed.every(Array.isArray)) return undefined;
    merged = (parsed as unknown[][]).flat();
  } else if (name === 'index.json') {
    const indexes = parsed as Record<string, unknown>[];
    if (!indexes.every((index) => typeof index === 'object' && index !== null && Array.isArray(index['manifests']))) return undefined;
    merged = { ...indexes[0], manifests: indexes.flatMap((index) => index['manifests'] as unknown[]) };
  } else {
    // repositories: {"name": {"tag": "id"}}; Go's encoder writes map keys sorted, and so does this.
    if (!parsed.every((part) => typeof part === 'object' && part !== null && !Array.isArray(part))) return undefined;
    const repositories: Record<string, Record<string, unknown>> = {};
    for (const part of parsed as Record<string, Record<string, unknown>>[]) {
      for (const [repository, tags] of Object.entries(part)) repositories[repository] = { ...repositories[repository], ...tags };
    }
    return Buffer.from(`${JSON.stringify(sortedKeys(repositories))}${newline}`, 'utf8');
  }
  return canonicalEntry(name, Buffer.from(`${JSON.stringify(merged)}${newline}`, 'utf8'));
}
