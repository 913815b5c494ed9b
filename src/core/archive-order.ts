// `docker save` lists images in manifest.json (and, in OCI layouts, index.json) in the order of a Go map: different
// from one save to the next. Sorting those lists is the only reordering a byte-stable archive needs, since the engine
// writes the files themselves in lexical order.

/** Top-level entries whose JSON holds a list of images; small, so they can be held and rewritten. */
export const ORDERED_ENTRIES = new Set(['manifest.json', 'index.json']);

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

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
    parsed = [...parsed].sort((a, b) => compare(keyOf(a), keyOf(b)));
  } else if (name === 'index.json' && typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as Record<string, unknown>)['manifests'])) {
    const index = parsed as Record<string, unknown[]>;
    parsed = { ...index, manifests: [...index['manifests']!].sort((a, b) => compare(keyOf(a), keyOf(b))) };
  } else {
    return undefined;
  }
  const text = JSON.stringify(parsed);
  // Keep a trailing newline if the engine wrote one.
  return Buffer.from(Buffer.from(data).at(-1) === 0x0a ? `${text}\n` : text, 'utf8');
}
