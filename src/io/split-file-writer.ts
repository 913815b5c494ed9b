// Writes one stream as numbered files of at most `partSize` bytes (`images.tar.0000`, `images.tar.0001`, …), hashing
// each as it is written, for FAT32 disks (files under 4 GiB) and DVDs; part names come from the caller
// (core/bundle-layout.ts), whose four digits allow MAX_ARCHIVE_PARTS parts. `cat` of the parts in name order is the stream.

import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { MAX_ARCHIVE_PARTS } from '../core/bundle-layout.js';
import { KfbundleError } from '../core/errors.js';

export interface WrittenPart {
  /** Index from 0; the file is `pathFor(index)`. */
  index: number;
  size: number;
  sha256: string;
}

export class SplitFileWriter extends Writable {
  private readonly partSize: number;
  private readonly fileFor: (index: number) => string;
  private current: { handle: FileHandle; hash: Hash; size: number; index: number } | undefined;
  readonly parts: WrittenPart[] = [];

  constructor(fileFor: (index: number) => string, partSize: number) {
    super();
    if (!Number.isSafeInteger(partSize) || partSize <= 0) throw new Error(`part size must be a positive whole number, got ${partSize}`);
    this.fileFor = fileFor;
    this.partSize = partSize;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeChunk(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    // An empty stream still yields one (empty) part, so a split bundle always has part 0000.
    const finish = async () => {
      if (this.current === undefined && this.parts.length === 0) await this.openPart();
      await this.closePart();
    };
    finish().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.current?.handle;
    this.current = undefined;
    if (handle === undefined) return callback(error);
    handle.close().then(() => callback(error), () => callback(error));
  }

  private async writeChunk(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.current === undefined) await this.openPart();
      const part = this.current!;
      const length = Math.min(this.partSize - part.size, chunk.length - offset);
      const slice = chunk.subarray(offset, offset + length);
      await part.handle.write(slice);
      part.hash.update(slice);
      part.size += length;
      offset += length;
      if (part.size === this.partSize) await this.closePart();
    }
  }

  private async openPart(): Promise<void> {
    const index = this.parts.length;
    if (index >= MAX_ARCHIVE_PARTS) {
      const written = this.parts.reduce((sum, part) => sum + part.size, 0);
      throw new KfbundleError('SPLIT_TOO_MANY_PARTS', `the image archive does not fit in ${MAX_ARCHIVE_PARTS.toLocaleString('en')} parts of ${this.partSize} bytes (--split-size): ${written} bytes are written and more follow`, {
        hint: `choose a --split-size of more than a ${MAX_ARCHIVE_PARTS.toLocaleString('en')}th of the archive, e.g. 4G for FAT32 disks or 4.7G for DVDs`,
      });
    }
    this.current = { handle: await open(this.fileFor(index), 'w'), hash: createHash('sha256'), size: 0, index };
  }

  private async closePart(): Promise<void> {
    const part = this.current;
    if (part === undefined) return;
    this.current = undefined;
    await part.handle.close();
    this.parts.push({ index: part.index, size: part.size, sha256: part.hash.digest('hex') });
  }
}
