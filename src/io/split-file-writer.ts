// Writes one stream as numbered files of at most `partSize` bytes (`images.tar.0000`, `images.tar.0001`, …), hashing
// each as it is written, for FAT32 disks (files under 4 GiB) and DVDs. `cat` of the parts in name order is the stream.

import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

export interface WrittenPart {
  /** Index from 0; the file is `pathFor(index)`. */
  index: number;
  size: number;
  sha256: string;
}

/** `images/images.tar.0000`: four digits, so that name order is part order for up to 10,000 parts. */
export function partPath(path: string, index: number): string {
  return `${path}.${String(index).padStart(4, '0')}`;
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
    if (index > 9999) throw new Error(`more than 10,000 parts of ${this.partSize} bytes: choose a larger part size`);
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
