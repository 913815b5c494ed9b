// Streams the `docker save` archive that core/save-archive-layout.ts lays out: tar headers written ahead of blobs whose
// sizes the manifests give, each blob's bytes passed through as its source delivers them (compressed layers stay as
// served), nothing held but the chunk in flight. The consumer's pace sets the source's pace; the next blob's stream is
// opened while the current one is written, so one blob's start-up latency overlaps the previous one's transfer.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Header } from 'tar';
import { KfbundleError } from '../core/errors.js';
import type { BlobSource } from '../core/registry-image.js';
import { END_OF_ARCHIVE_BYTES, entrySizeOf, type ArchiveEntry, type BlobEntry, type SaveArchiveLayout } from '../core/save-archive-layout.js';
import { BLOCK, normaliseHeader, paddedSize, setEntrySize } from '../core/tar-header.js';

export interface ArchiveProgress {
  /** Archive bytes produced so far, out of `totalBytes` (the layout's size, known before the first byte). */
  bytes: number;
  totalBytes: number;
  /** The entry being written. */
  entry: string;
}

export interface RegistryArchiveOptions {
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: ArchiveProgress) => void) | undefined;
}

const FILE_MODE = 0o644;
/** The largest size the ustar field holds in octal; node-tar writes larger ones in base-256, which Go's tar reads. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

/**
 * A ustar header with fixed time, owner and mode, byte for byte what tar-normalizer.ts makes of it, so normalising
 * this archive changes nothing.
 */
export function archiveHeader(name: string, size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  new Header({ path: name, mode: FILE_MODE, size, mtime: new Date(0), uid: 0, gid: 0, type: 'File' }).encode(block);
  // The normaliser's octal (NUL-terminated), where node-tar's ends in a space.
  if (size <= MAX_OCTAL_SIZE) setEntrySize(block, size);
  normaliseHeader(block);
  return block;
}

function padding(size: number): Buffer | undefined {
  const bytes = paddedSize(size) - size;
  return bytes === 0 ? undefined : Buffer.alloc(bytes);
}

function checkInline(entries: readonly ArchiveEntry[]): void {
  for (const entry of entries) {
    if (entry.kind !== 'inline' || entry.digest === undefined) continue;
    const actual = `sha256:${createHash('sha256').update(entry.data).digest('hex')}`;
    if (actual !== entry.digest) {
      throw new KfbundleError('DIGEST_MISMATCH', `the manifest of ${entry.ref ?? entry.name} held as ${entry.digest} has digest ${actual}`, {
        hint: 'the registry client kept bytes other than those served; build again',
      });
    }
  }
}

function wrongLength(entry: BlobEntry, delivered: number, complete: boolean): KfbundleError {
  const got = complete ? `${delivered} bytes` : `more than ${entry.size} bytes`;
  return new KfbundleError('DIGEST_MISMATCH', `blob ${entry.digest} of ${entry.image.ref} gave ${got}; its manifest says ${entry.size}`, {
    hint: 'the registry (or a mirror in front of it) serves other bytes than its manifest describes; build again or use another mirror',
  });
}

async function* archiveChunks(layout: SaveArchiveLayout, source: BlobSource, options: RegistryArchiveOptions): AsyncGenerator<Buffer> {
  const { signal, onProgress } = options;
  checkInline(layout.entries);
  const blobEntries = layout.entries.filter((entry): entry is BlobEntry => entry.kind === 'blob');
  const opened = new Map<BlobEntry, Promise<Readable>>();
  const open = (entry: BlobEntry) => {
    const stream = source.blob(entry.image, entry.digest, entry.size, signal);
    // A stream opened ahead can fail (or be aborted) before it is read: that must not surface as an unhandled
    // rejection or error event. Reading it later still sees the error, and the length check catches a short one.
    stream.then(
      (ahead) => ahead.on('error', () => undefined),
      () => undefined,
    );
    opened.set(entry, stream);
    return stream;
  };
  let bytes = 0;
  const emitted = (chunk: Buffer, entry: string) => {
    bytes += chunk.length;
    onProgress?.({ bytes, totalBytes: layout.size, entry });
    return chunk;
  };
  let current: Readable | undefined;
  const destroyCurrent = () => current?.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal?.addEventListener('abort', destroyCurrent, { once: true });
  try {
    let blobIndex = 0;
    for (const entry of layout.entries) {
      signal?.throwIfAborted();
      yield emitted(archiveHeader(entry.name, entrySizeOf(entry)), entry.name);
      if (entry.kind === 'inline') {
        if (entry.data.length > 0) yield emitted(entry.data, entry.name);
      } else {
        const pending = opened.get(entry) ?? open(entry);
        opened.delete(entry);
        const next = blobEntries[++blobIndex];
        if (next !== undefined) open(next);
        current = await pending;
        let delivered = 0;
        for await (const chunk of current as AsyncIterable<Buffer>) {
          delivered += chunk.length;
          if (delivered > entry.size) throw wrongLength(entry, delivered, false);
          yield emitted(chunk, entry.name);
        }
        current = undefined;
        signal?.throwIfAborted();
        if (delivered !== entry.size) throw wrongLength(entry, delivered, true);
      }
      const pad = padding(entrySizeOf(entry));
      if (pad !== undefined) yield emitted(pad, entry.name);
    }
    yield emitted(Buffer.alloc(END_OF_ARCHIVE_BYTES), 'end of archive');
  } finally {
    signal?.removeEventListener('abort', destroyCurrent);
    current?.destroy();
    for (const stream of opened.values()) void stream.then((ahead) => ahead.destroy(), () => undefined);
  }
}

/**
 * The archive's bytes as a stream, for `StagedBundle.writeStream` (which hashes and splits it). It errors, and stops
 * reading its sources, on an abort, a source error, a blob whose length differs from its manifest's size, or a held
 * manifest whose bytes do not match its digest (KfbundleError DIGEST_MISMATCH for the last two).
 */
export function registryArchive(layout: SaveArchiveLayout, source: BlobSource, options: RegistryArchiveOptions = {}): Readable {
  // The signal is the generator's own (checked per entry, and it ends the blob being read). Given to Readable.from
  // too, a signal aborted before the archive is made (a pull failed before the save began) destroys it at once, and
  // its 'error' event, with no reader yet, ends the process where the build must end with the pull's own message.
  return Readable.from(archiveChunks(layout, source, options), { objectMode: false });
}
