// Joins several `docker save` archives into one, as they arrive, so the save of the first images can run while the
// last ones are still being pulled. Entries another archive already gave (the layers of shared base images, the
// `oci-layout` file) are dropped: their names are content addresses, so the same name is the same bytes. The image
// lists (manifest.json, index.json, repositories) are merged and written last, then the end-of-archive blocks.
// Like tar-normalizer.ts it reads headers only; entry data passes through as slices of the chunks it arrived in.

import { Readable } from 'node:stream';
import { MERGED_ENTRIES, mergeEntries } from '../core/archive-order.js';
import { TarScanner, type TarScanHandler } from './tar-scanner.js';
import { KfbundleError } from '../core/errors.js';
import { BLOCK, entryName, entrySize, isZeroBlock, normaliseHeader, paddedSize, paxPath, setEntrySize, typeFlag } from '../core/tar-header.js';

/** An image list is small; a larger one is not an engine's and is refused rather than held. */
const MAX_HELD_BYTES = 16 * 1024 * 1024;

const BROKEN_SAVE_HINT = "the engine sent a save that is not a whole image archive: check the engine's log and free space, then build again";

/** An archive that no engine writes: the save is at fault, not kfbundle. */
function brokenSave(message: string): KfbundleError {
  return new KfbundleError('SAVE_FAILED', message, { hint: BROKEN_SAVE_HINT });
}

/** What happens to the data of the entry being read. */
type DataMode = 'pass' | 'skip' | 'hold-list' | 'hold-pax';

class MergeState implements TarScanHandler {
  private readonly scanner = new TarScanner(this);
  private out: Buffer[] = [];
  private mode: DataMode = 'pass';
  private heldParts: Buffer[] = [];
  private heldSize = 0;
  private heldName = '';
  /** A PAX header (or GNU long name) waiting for the entry it describes: written with it, or dropped with it. */
  private pendingPax: { header: Buffer; data: Buffer; longName: boolean } | undefined;
  private readonly written = new Set<string>();
  private readonly lists = new Map<string, { header: Buffer; parts: Buffer[] }>();

  /** Feeds one chunk of the current archive; returns what to write. */
  take(chunk: Buffer): Buffer[] {
    this.out = [];
    this.scanner.feed(chunk);
    return this.out;
  }

  /** Called when one archive ends; it must end between entries. */
  endArchive(index: number): void {
    if (!this.scanner.atBoundary || this.pendingPax !== undefined) {
      throw brokenSave(`image archive ${index + 1} ended in the middle of an entry`);
    }
  }

  /** The merged image lists and the end-of-archive blocks. */
  finish(): Buffer[] {
    const out: Buffer[] = [];
    for (const name of [...this.lists.keys()].sort()) {
      const list = this.lists.get(name)!;
      const data = mergeEntries(name, list.parts);
      if (data === undefined) throw brokenSave(`the image archives' ${name} files are not the JSON an engine writes`);
      const header = Buffer.from(list.header);
      setEntrySize(header, data.length);
      normaliseHeader(header);
      out.push(header, data, Buffer.alloc(paddedSize(data.length) - data.length));
    }
    out.push(Buffer.alloc(2 * BLOCK));
    return out;
  }

  onHeader(block: Buffer): number {
    // Each archive's end-of-archive blocks; the merged archive gets its own at the end.
    if (isZeroBlock(block)) {
      this.mode = 'skip';
      return 0;
    }
    const out = this.out;
    const type = typeFlag(block);
    const size = entrySize(block);
    this.heldParts = [];
    this.heldSize = size;
    if (type === 'x' || type === 'L') {
      // GNU tar's long name ('L') precedes its entry just as a PAX header does.
      this.mode = 'hold-pax';
      this.pendingPax = { header: block, data: Buffer.alloc(0), longName: type === 'L' };
    } else {
      const name = this.pendingName() ?? entryName(block);
      const pax = this.pendingPax;
      this.pendingPax = undefined;
      const isFile = type === '0' || type === '\0';
      if (isFile && MERGED_ENTRIES.has(name.replace(/^\.\//, ''))) {
        if (size > MAX_HELD_BYTES) throw brokenSave(`the image archive's ${name} is ${size} bytes, too large to be an engine's image list`);
        this.mode = 'hold-list';
        this.heldName = name.replace(/^\.\//, '');
        if (!this.lists.has(this.heldName)) this.lists.set(this.heldName, { header: block, parts: [] });
      } else if (this.written.has(name)) {
        this.mode = 'skip';
      } else {
        this.written.add(name);
        this.mode = 'pass';
        if (pax !== undefined) out.push(pax.header, pax.data, Buffer.alloc(paddedSize(pax.data.length) - pax.data.length));
        out.push(block);
      }
    }
    return paddedSize(size);
  }

  onData(slice: Buffer): void {
    if (this.mode === 'pass') this.out.push(slice);
    else if (this.mode !== 'skip') this.heldParts.push(slice);
  }

  private pendingName(): string | undefined {
    const pending = this.pendingPax;
    if (pending === undefined) return undefined;
    if (!pending.longName) return paxPath(pending.data);
    const end = pending.data.indexOf(0);
    return pending.data.subarray(0, end === -1 ? pending.data.length : end).toString('utf8');
  }

  onEntryEnd(): void {
    if (this.mode === 'hold-pax') {
      this.pendingPax!.data = Buffer.concat(this.heldParts).subarray(0, this.heldSize);
    } else if (this.mode === 'hold-list') {
      this.lists.get(this.heldName)!.parts.push(Buffer.concat(this.heldParts).subarray(0, this.heldSize));
    }
    this.heldParts = [];
    this.mode = 'pass';
  }
}

/**
 * One tar stream from the archives `archives` yields, read one after another; the next archive is asked for only
 * when the previous one has been read, so its save can wait for its images.
 */
export function mergeArchives(archives: AsyncIterable<Readable>): Readable {
  async function* merged(): AsyncGenerator<Buffer> {
    const state = new MergeState();
    let index = 0;
    for await (const archive of archives) {
      for await (const chunk of archive) yield* state.take(chunk as Buffer);
      state.endArchive(index++);
    }
    yield* state.finish();
  }
  return Readable.from(merged(), { objectMode: false });
}

/** How many saves may be under way at once: the one being read, and the next one copying its layers meanwhile. */
export const SAVES_IN_FLIGHT = 2;

/**
 * One archive from a save per batch of references. The engine sends nothing of a save until it has copied the batch's
 * layers to its scratch directory, on one core; so the next batch's save is asked for as soon as its images are there,
 * not when the one before it starts to stream, and the two copies run side by side. Measured on 2 cores, 20 images:
 * one save 12 s, two halves at once 7 s. At most SAVES_IN_FLIGHT, so no more than two saves hold scratch space.
 */
export function mergeSaves(batches: AsyncIterable<readonly string[]>, save: (refs: readonly string[]) => Promise<Readable>): Readable {
  return mergeArchives(savesInFlight(batches, save, SAVES_IN_FLIGHT));
}

async function* savesInFlight(batches: AsyncIterable<readonly string[]>, save: (refs: readonly string[]) => Promise<Readable>, inFlight: number): AsyncGenerator<Readable> {
  const iterator = batches[Symbol.asyncIterator]();
  // Batches are taken from the source one at a time and in order; only the saves run side by side.
  let taken: Promise<unknown> = Promise.resolve();
  const takeBatch = (): Promise<IteratorResult<readonly string[]>> => {
    const step = taken.then(() => iterator.next());
    taken = step.catch(() => undefined);
    return step;
  };
  const startInOrder = (): Promise<Readable | undefined> => {
    const next = takeBatch().then(async (step) => {
      if (step.done === true) return undefined;
      const archive = await save(step.value);
      // Until its turn comes nothing reads it; an engine connection that breaks meanwhile must not be an unhandled
      // 'error' event. The stream keeps the error, and reading it in turn throws it.
      archive.on('error', () => undefined);
      return archive;
    });
    // Awaited in turn below; until then a failure must not count as unhandled.
    next.catch(() => undefined);
    return next;
  };
  const pending: Promise<Readable | undefined>[] = Array.from({ length: inFlight }, startInOrder);
  try {
    for (let archive = await pending.shift()!; archive !== undefined; archive = await pending.shift()!) {
      yield archive;
      // The archive has been read whole: its save is over, so another may start.
      pending.push(startInOrder());
    }
  } finally {
    // Stopped early (an error, or the reader gave up): the saves already asked for must not keep their connections open.
    for (const waiting of pending) void waiting.then((archive) => archive?.destroy(), () => undefined);
    void iterator.return?.()?.catch(() => undefined);
  }
}
